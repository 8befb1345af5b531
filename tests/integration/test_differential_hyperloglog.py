"""HyperLogLog commands, byte for byte against a real valkey-server 8.1.8, and what each
propagates.

Hypothesis draws PFADD/PFCOUNT/PFMERGE/PFDEBUG sequences over HLL keys that start sparse,
dense, hand-crafted (non-canonical opcodes, a stale or a valid cached cardinality, registers
above the sparse maximum) or corrupt, plus a plain string, a list and a missing key. Each runs
through the Harness and on the real server, in RESP2 and RESP3; the HLL strings themselves are
then read with GET (so every sparse edit, merge and promotion must produce Valkey's bytes),
DEBUG DIGEST must agree, and the propagated commands must be the same.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import (
    Arg,
    Differ,
    RawClient,
    ReplicaStream,
    argv_strategy,
    example_settings,
    run_and_compare,
)
from tests.realvalkey import ServerProcess, start_valsync

SPARSE_HEADER = b"HYLL\x01" + bytes(11)
DENSE_HEADER = b"HYLL\x00" + bytes(11)


def _sparse(ops: bytes, card: bytes = bytes(8)) -> bytes:
    return SPARSE_HEADER[:8] + card + ops


def _dense_registers(seed: int, top: int) -> bytes:
    rng = random.Random(seed)
    regs = [rng.choice([0, 0, 0, rng.randrange(1, top + 1)]) for _ in range(16384)]
    bits = sum(r << (6 * i) for i, r in enumerate(regs))
    return DENSE_HEADER[:8] + bytes(7) + b"\x80" + bits.to_bytes(12288, "little")


# Crafted strings, stored with SET. Register totals: 16384 unless the name says otherwise.
CRAFTED = {
    # VAL 3 x4, two VAL 3 x1 left unmerged, then zeros
    "unmerged": _sparse(b"\x8b\x88\x88" + b"\x7f\xf9"),
    "cached": _sparse(b"\x7f\xff", (12345).to_bytes(8, "little")),
    "stale": _sparse(b"\x84\x7f\xfe", (7).to_bytes(7, "little") + b"\x80"),
    "short": _sparse(b"\x7f\xfe"),  # 16383 registers
    "long": _sparse(b"\x7f\xff\x00"),  # 16385 registers
    "zeros": _sparse(b"\x00" * 200 + bytes([0x40 | (16184 - 1) >> 8, (16184 - 1) & 0xFF])),
    "dense_hi": _dense_registers(1, 63),
    "dense_lo": _dense_registers(2, 20),
    "badmagic": b"HYLX\x01" + bytes(11) + b"\x7f\xff",
    "badenc": b"HYLL\x02" + bytes(11) + b"\x7f\xff",
    "badlen": DENSE_HEADER + bytes(100),
    "tiny": b"HYLL",
}

HLLS = ["h1", "h2", "h3", "dense"]
OTHER = ["str", "lst", "nokey"]
KEYS = HLLS + OTHER + ["crafted"]
ELEMENTS = ["a", "b", "c", "", "1", "foo", "bar", "x" * 40, "\x00\xff"]

hll_key = st.sampled_from(HLLS + ["h1", "crafted"])
any_key = st.sampled_from(KEYS)
element_lists = st.one_of(
    st.lists(st.sampled_from(ELEMENTS), max_size=5),
    st.tuples(st.sampled_from([30, 300, 1200, 2500]), st.integers(0, 3)).map(
        lambda nt: [f"{chr(97 + nt[1])}{i}" for i in range(nt[0])]
    ),
)


HLL_COMMANDS = st.one_of(
    argv_strategy("PFADD", hll_key, element_lists),
    argv_strategy("PFADD", hll_key, element_lists),
    argv_strategy("PFADD", any_key, st.lists(st.sampled_from(ELEMENTS), max_size=2)),
    argv_strategy("PFCOUNT", hll_key),
    argv_strategy("PFCOUNT", st.lists(any_key, min_size=1, max_size=3)),
    argv_strategy("PFMERGE", st.lists(any_key, min_size=1, max_size=4)),
    argv_strategy("PFMERGE", hll_key, st.lists(hll_key, min_size=1, max_size=3)),
    argv_strategy(
        "PFDEBUG",
        st.sampled_from(["ENCODING", "DECODE", "TODENSE", "todense", "GETREG", "nope"]),
        any_key,
    ),
    argv_strategy("SET", "crafted", st.sampled_from(list(CRAFTED.values()))),
    argv_strategy("GET", hll_key),
    argv_strategy("APPEND", hll_key, "x"),
    argv_strategy("SETBIT", hll_key, st.sampled_from(["3", "40", "200"]), "1"),
    argv_strategy("PEXPIREAT", hll_key, "99999999999000"),
)

SETUP: list[list[Arg]] = [
    ["SET", "str", "not an hll but long enough"],
    ["RPUSH", "lst", "a"],
    ["PFADD", "h1", "a", "b", "c"],
    ["PFADD", "h2", *[f"m{i}" for i in range(150)]],
    ["PFADD", "dense", *[f"d{i}" for i in range(60)]],
    ["PFDEBUG", "TODENSE", "dense"],
    ["SET", "crafted", CRAFTED["unmerged"]],
]
STATE: list[list[Arg]] = [
    c for k in KEYS for c in (["GET", k], ["OBJECT", "ENCODING", k], ["PEXPIRETIME", k])
]


SETTINGS = example_settings("HLL_EXAMPLES", 60)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(HLL_COMMANDS, min_size=1, max_size=10))
def test_hll_commands_match_valkey(
    valkey8_streamed: tuple[ServerProcess, ReplicaStream], resp: int, commands: list[list[Arg]]
) -> None:
    run_and_compare(*valkey8_streamed, resp, SETUP + commands, STATE)


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_every_crafted_hll_matches_valkey(
    valkey8_streamed: tuple[ServerProcess, ReplicaStream], name: str
) -> None:
    """Each crafted string through every command: corruption errors, cached counts, merges
    into sparse and dense targets, and edits of non-canonical opcodes."""
    value = CRAFTED[name]
    commands: list[list[Arg]] = [
        ["SET", "c", value],
        ["PFCOUNT", "c"],
        ["GET", "c"],
        ["PFCOUNT", "c", "h1"],
        ["PFDEBUG", "DECODE", "c"],
        ["PFDEBUG", "ENCODING", "c"],
        ["PFMERGE", "m1", "h1", "c"],
        ["PFMERGE", "h2", "c"],
        ["PFADD", "c", "a", "b", "c", "d", "e", "f"],
        ["GET", "c"],
        ["PFADD", "c", *[f"p{i}" for i in range(2000)]],
        ["PFCOUNT", "c"],
        ["SET", "c", value],
        ["PFDEBUG", "GETREG", "c"],
        ["SET", "c", value],
        ["PFDEBUG", "TODENSE", "c"],
        ["PFDEBUG", "TODENSE", "c"],
        ["GET", "m1"],
        ["GET", "h2"],
        ["PFCOUNT", "m1"],
    ]
    for resp in (2, 3):
        run_and_compare(*valkey8_streamed, resp, SETUP + commands, STATE)


def test_promotion_and_fixed_edges_match_valkey(
    valkey8_streamed: tuple[ServerProcess, ReplicaStream],
) -> None:
    """Growth one element at a time through sparse -> dense (the step where the sparse string
    would pass hll-sparse-max-bytes), the empty PFADD, and the errors of PFDEBUG."""
    commands: list[list[Arg]] = [["PFADD", "new"], ["GET", "new"], ["PFADD", "new"]]
    for i in range(0, 1600, 40):
        commands.append(["PFADD", "g", *[f"g{j}" for j in range(i, i + 40)]])
        commands.append(["PFDEBUG", "ENCODING", "g"])
    commands += [
        ["GET", "g"],
        ["PFCOUNT", "g"],
        ["PFCOUNT", "g", "new", "nokey"],
        ["PFDEBUG", "GETREG", "nokey"],
        ["PFDEBUG", "DECODE", "str"],
        ["PFDEBUG", "DECODE", "lst"],
        ["PFMERGE", "g2", "h2", "h1"],
        ["PFDEBUG", "DECODE", "g2"],
        ["PFMERGE", "lst", "h1"],
        ["PFMERGE", "h1", "lst"],
        ["PFCOUNT", "h1", "str"],
        # a string made corrupt by APPEND: the sparse edits go on until the promotion finds
        # the damage, and the cardinality each edit marked stale stays marked
        ["PFCOUNT", "h1"],
        ["APPEND", "h1", "x"],
        ["PFADD", "h1", *[f"a{i}" for i in range(1700)]],
        ["GET", "h1"],
        ["PFSELFTEST"],
    ]
    run_and_compare(*valkey8_streamed, 2, SETUP + commands, STATE)


def test_one_key_pfcount_rewrites_the_cache_and_is_propagated(
    valkey8_streamed: tuple[ServerProcess, ReplicaStream],
) -> None:
    """PFCOUNT of one key stores the cardinality in the header and bumps dirty, so a real
    primary streams it to its replicas; a second PFCOUNT (cache valid) streams nothing."""
    differ = Differ(valkey8_streamed[0])
    try:
        differ.check("PFADD", "k", "a", "b")
        before = differ.check("GET", "k")
        differ.check("PFCOUNT", "k")
        after = differ.check("GET", "k")
        assert before != after  # the stale bit cleared, the count written
        differ.check("PFCOUNT", "k")
        assert [argv[0] for _, argv in differ.harness.propagated] == [b"PFADD", b"PFCOUNT"]
    finally:
        differ.close()


def test_lowered_sparse_limit_matches_valkey(
    valkey8_streamed: tuple[ServerProcess, ReplicaStream],
) -> None:
    """CONFIG SET hll-sparse-max-bytes on a running valsync: promotion happens at the same
    PFADD as on the real server, and the strings stay identical."""
    with start_valsync() as ours:
        mine, theirs = RawClient(ours.port), RawClient(valkey8_streamed[0].port)
        try:
            for client in (mine, theirs):
                client.call("FLUSHALL")
                assert client.call("CONFIG", "SET", "hll-sparse-max-bytes", "120") == b"+OK\r\n"
            for i in range(60):
                argv = ["PFADD", "low", f"e{i}", f"f{i}"]
                assert mine.call(*argv) == theirs.call(*argv), argv
                assert mine.call("GET", "low") == theirs.call("GET", "low"), argv
            assert mine.call("PFDEBUG", "ENCODING", "low") == b"+dense\r\n"
            assert mine.call("CONFIG", "GET", "hll*") == theirs.call("CONFIG", "GET", "hll*")
        finally:
            theirs.call("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
            mine.close()
            theirs.close()


def test_corrupted_strings_are_edited_as_valkey_edits_them(
    valkey8_streamed: tuple[ServerProcess, ReplicaStream],
) -> None:
    """Like Valkey's own fuzz test, bytes of HLL strings are overwritten or appended at random
    between PFADDs and PFCOUNTs: every reply and every resulting string must be Valkey's,
    whether it reports the corruption, counts, or (as Valkey does when the damaged opcodes
    still cover the register) edits the damaged string in place."""
    rng = random.Random(11)
    differ = Differ(valkey8_streamed[0])
    try:
        for trial in range(30):
            differ.reset()
            differ.check("PFADD", "h", *[f"x{trial}-{i}" for i in range(rng.choice([3, 30, 300]))])
            for step in range(25):
                roll = rng.random()
                length = int(differ.check("STRLEN", "h")[1:-2])
                argv: list[Arg]
                if roll < 0.1:
                    argv = [
                        "SETRANGE",
                        "h",
                        rng.randrange(16, max(17, length)),
                        bytes([rng.randrange(256)]),
                    ]
                elif roll < 0.15:
                    argv = ["APPEND", "h", bytes([rng.randrange(256)])]
                elif roll < 0.25:
                    argv = ["PFCOUNT", "h"]
                else:
                    elements = [f"y{trial}-{step}-{i}" for i in range(rng.choice([1, 1, 5, 50]))]
                    argv = ["PFADD", "h", *elements]
                differ.check(*argv)
                differ.check("GET", "h")
            differ.check_digest()
    finally:
        differ.close()
