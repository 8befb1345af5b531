"""Bitmap commands, byte for byte against a real valkey-server 8.1.8, and what each propagates.

Hypothesis draws SETBIT/GETBIT/BITCOUNT/BITPOS/BITOP/BITFIELD/BITFIELD_RO sequences over a few
keys (bitmaps, an integer-encoded string, an embstr, a list for WRONGTYPE, a missing key) with
deliberately bad arguments; each runs in-process through the Harness and on the real server, in
RESP2 and RESP3. After the sequence the keys' bytes and OBJECT ENCODING are read on both sides,
DEBUG DIGEST must agree, and the commands valsync would propagate must be exactly those the real
server streamed to a SYNC replica.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import ReplicaStream, argv_strategy, example_settings, run_and_compare
from tests.realvalkey import ServerProcess

BITMAPS = ["b1", "b2", "b3"]
OTHER = ["int", "emb", "lst", "nokey"]
KEYS = BITMAPS + OTHER
OFFSETS = ["0", "1", "7", "8", "15", "63", "100", "257", "1000", "-1", "x", "4294967296", "01"]
INTS = ["0", "1", "2", "-1", "-2", "3", "-8", "100", "-100", "x", "2147483648", "-9999999999"]
BIT_TYPES = ["i1", "u1", "i5", "u8", "i8", "i16", "u31", "i32", "u63", "i64", "u64", "i0", "x8"]
FIELD_OFFSETS = ["0", "3", "7", "#0", "#1", "#3", "13", "100", "-1", "#-1", "x"]
FIELD_VALUES = [
    "0",
    "1",
    "-1",
    "100",
    "-100",
    "255",
    "256",
    "9223372036854775807",
    "-9223372036854775808",
    "-9223372036854775700",
    "4611686018427387904",
    "x",
]

bitmap_key = st.sampled_from(BITMAPS + ["int", "emb", "b1"])
any_key = st.sampled_from(KEYS)
offset = st.sampled_from(OFFSETS)
integer = st.sampled_from(INTS)


unit = st.sampled_from([[], ["BYTE"], ["BIT"], ["bit"], ["bits"]])
rng = st.one_of(
    st.just([]),
    st.tuples(integer).map(list),
    st.tuples(integer, integer).map(list),
    st.tuples(integer, integer, st.sampled_from(["BYTE", "BIT", "bit", "x"])).map(list),
    st.tuples(integer, integer, st.just("BIT"), st.just("x")).map(list),
)
field_op = st.one_of(
    st.tuples(st.just("GET"), st.sampled_from(BIT_TYPES), st.sampled_from(FIELD_OFFSETS)),
    st.tuples(
        st.sampled_from(["SET", "INCRBY", "set", "incrby"]),
        st.sampled_from(BIT_TYPES),
        st.sampled_from(FIELD_OFFSETS),
        st.sampled_from(FIELD_VALUES),
    ),
    st.tuples(st.just("OVERFLOW"), st.sampled_from(["WRAP", "SAT", "FAIL", "fail", "x"])),
    st.tuples(st.sampled_from(["GET", "OVERFLOW", "NOPE"])),
).map(list)
field_ops = st.lists(field_op, max_size=4).map(lambda ops: [a for op in ops for a in op])
sources = st.lists(any_key, min_size=1, max_size=3)

BITMAP_COMMANDS = st.one_of(
    argv_strategy("SETBIT", bitmap_key, offset, st.sampled_from(["0", "1", "1", "2", "-1", "x"])),
    argv_strategy("SETBIT", bitmap_key, offset, "1"),
    argv_strategy("GETBIT", any_key, offset),
    argv_strategy("BITCOUNT", any_key, rng),
    argv_strategy("BITPOS", any_key, st.sampled_from(["0", "1", "1", "2", "x"]), rng),
    argv_strategy(
        "BITOP",
        st.sampled_from(["AND", "OR", "XOR", "NOT", "and", "not", "DIFF", "x"]),
        any_key,
        sources,
    ),
    argv_strategy("BITFIELD", bitmap_key, field_ops),
    argv_strategy("BITFIELD", bitmap_key, field_ops),
    argv_strategy("BITFIELD_RO", any_key, field_ops),
    argv_strategy("GET", bitmap_key),
    argv_strategy("SET", bitmap_key, st.sampled_from(["", "a", "123", "\xff\x00\x0f", "x" * 50])),
    argv_strategy("PEXPIREAT", bitmap_key, "99999999999000"),
)

SETUP = [
    ["SET", "int", "1234"],
    ["SET", "emb", "hello world"],
    ["RPUSH", "lst", "a"],
    ["SETBIT", "b1", "3", "1"],
    ["SETBIT", "b1", "70", "1"],
    ["SET", "b2", "\x00\xff\xf0\x0f\x01\x80"],
]
STATE = [c for k in KEYS for c in (["GET", k], ["OBJECT", "ENCODING", k], ["PEXPIRETIME", k])]


SETTINGS = example_settings("BITS_EXAMPLES", 150)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(BITMAP_COMMANDS, min_size=1, max_size=12))
def test_bitmap_commands_match_valkey(
    valkey8_streamed: tuple[ServerProcess, ReplicaStream], resp: int, commands: list[list[str]]
) -> None:
    run_and_compare(*valkey8_streamed, resp, SETUP + commands, STATE)


def test_bitmap_edges_match_valkey(valkey8_streamed: tuple[ServerProcess, ReplicaStream]) -> None:
    """Fixed cases: the offset limit, BITFIELD's overflow arithmetic at the int64 edges, the
    ``#`` offset multiplication that wraps, long bitmaps (the fast paths), and no-ops that
    change only the encoding."""
    long = "".join(chr((i * 37) % 256) for i in range(300))
    commands = [
        ["SETBIT", "b1", "4294967295", "x"],
        ["SETBIT", "b1", "4294967296", "1"],
        ["GETBIT", "b1", "4294967296"],
        ["BITFIELD", "b1", "SET", "u8", "4294967296", "1"],
        ["BITFIELD", "b1", "GET", "i64", "#288230376151711745"],
        ["BITFIELD", "b1", "SET", "i64", "#288230376151711745", "5"],
        ["SET", "b3", long],
        ["BITCOUNT", "b3"],
        ["BITCOUNT", "b3", "5", "-7", "BIT"],
        ["BITCOUNT", "b3", "-3", "-1"],
        ["BITPOS", "b3", "0", "3", "-3", "BIT"],
        ["BITPOS", "b3", "1", "100", "2000", "BIT"],
        ["BITOP", "AND", "d", "b3", "b2", "b3"],
        ["BITOP", "OR", "d", "b3", "b2"],
        ["BITOP", "XOR", "d", "b3", "b2", "nokey"],
        ["BITOP", "NOT", "d", "b3"],
        ["BITOP", "NOT", "d", "nokey"],
        ["BITOP", "AND", "d", "b3", "lst"],
        ["SETBIT", "emb", "0", "0"],
        ["SETBIT", "int", "2", "1"],
        ["BITFIELD", "new", "OVERFLOW", "FAIL", "SET", "u2", "100", "7"],
        ["BITFIELD", "b2", "OVERFLOW", "FAIL", "INCRBY", "u2", "800", "7"],
        ["BITFIELD", "b2", "SET", "i8", "0", "-9223372036854775808"],
        ["BITFIELD", "b2", "OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775808"],
        ["BITFIELD", "b2", "OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775000"],
        ["BITFIELD", "b2", "OVERFLOW", "SAT", "SET", "u8", "0", "-1"],
        ["BITFIELD", "b2", "SET", "i64", "0", "9223372036854775807"],
        ["BITFIELD", "b2", "INCRBY", "i64", "0", "1", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "1"],
        ["BITFIELD", "b2", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-9223372036854775808"],
        ["BITFIELD", "b2", "INCRBY", "u63", "1", "-9223372036854775808"],
        ["BITFIELD", "b2", "OVERFLOW", "SAT", "INCRBY", "u63", "1", "9223372036854775807"],
        ["BITFIELD_RO", "b2", "GET", "u8", "0", "SET", "u8", "0", "1"],
        ["BITFIELD_RO", "b2", "GET", "u8", "0", "SET", "u8", "0"],
        ["BITFIELD", "b2"],
        ["BITFIELD", "lst", "GET", "u8", "0"],
        ["BITFIELD", "b2", "GET", "u8", "0", "GET", "i3", "#7"],
        ["BITFIELD_RO", "b2", "GET", "u8", "0", "GET", "i3", "#7"],
    ]
    for resp in (2, 3):
        run_and_compare(
            *valkey8_streamed, resp, SETUP + commands, [*STATE, ["GET", "d"], ["GET", "new"]]
        )
