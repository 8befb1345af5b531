"""SORT and SORT_RO, byte for byte against a real valkey-server 8.1.8 (RESP2 and RESP3).

Hypothesis draws SORT commands with every option (BY patterns on strings and hash fields,
BY nosort, GET with ``#`` and hash fields, LIMIT windows, ASC/DESC, ALPHA, STORE) over lists,
sets and sorted sets whose weights tie, are missing, or are not numbers, interleaved with
writes that change elements and weights. Replies and ``DEBUG DIGEST`` must be identical.

One allowance, where Valkey's answer follows its hash tables (see ``valsync/commands/sort.py``):
sorting a set of strings or a sorted set BY ALPHA weights, which may tie, and BY nosort on
such a set, are compared as multisets of reply items (with LIMIT, by their number only), and
are not STOREd.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Differ
from tests.realvalkey import ServerProcess, start_valkey
from valsync.keyspace.values import ZSetValue

ELEMENTS = ["1", "2", "3", "10", "-1", "1.5", "a", "b", "B", "\xe9", "x\x00y", ""]
SOURCES = ["l1", "l2", "si", "ss", "z1", "str", "nokey"]
DESTS = ["dst", "dst2", "l2", "str"]
PATTERNS = ["w_*", "h_*->f", "h_*->g", "w_*->f", "nosort", "#", "w_*x", "*", "h_*->"]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    proc = start_valkey("8.1.8")
    yield proc
    proc.stop()


@st.composite
def sort_command(draw: st.DrawFn) -> list[str]:
    name = draw(st.sampled_from(["SORT", "SORT", "SORT", "SORT_RO"]))
    out = [name, draw(st.sampled_from(SOURCES))]
    for _ in range(draw(st.integers(0, 5))):
        opt = draw(st.sampled_from(["BY", "GET", "GET", "LIMIT", "ASC", "DESC", "ALPHA", "STORE"]))
        if opt in ("BY", "GET"):
            out += [opt, draw(st.sampled_from(PATTERNS))]
        elif opt == "LIMIT":
            nums = st.sampled_from(["0", "1", "2", "3", "-1", "100", "x"])
            out += [opt, draw(nums), draw(nums)]
        elif opt == "STORE":
            out += [opt, draw(st.sampled_from(DESTS))]
        else:
            out.append(opt)
    return out


element = st.sampled_from(ELEMENTS)
weight = st.sampled_from(["1", "2", "2", "-5", "0.5", "abc", "", " 3", "1e400", "inf", "b", "A"])

WRITES = st.one_of(
    st.tuples(st.sampled_from(["l1", "l2"]), st.lists(element, min_size=1, max_size=3)).map(
        lambda t: ["RPUSH", t[0], *t[1]]
    ),
    st.lists(element, min_size=1, max_size=3).map(lambda ms: ["SADD", "ss", *ms]),
    st.lists(st.sampled_from(["4", "-7", "100"]), min_size=1, max_size=2).map(
        lambda ms: ["SADD", "si", *ms]
    ),
    st.tuples(weight, element).map(lambda t: ["ZADD", "z1", t[0], t[1]]),
    st.tuples(element, weight).map(lambda t: ["SET", f"w_{t[0]}", t[1]]),
    st.tuples(element, st.sampled_from(["f", "g"]), weight).map(
        lambda t: ["HSET", f"h_{t[0]}", t[1], t[2]]
    ),
    element.map(lambda e: ["DEL", f"w_{e}"]),
)

COMMANDS = st.one_of(sort_command(), sort_command(), sort_command(), WRITES)

SETUP = [
    ["SET", "str", "x"],
    ["RPUSH", "l1", "3", "1", "2", "10", "-1", "1.5", "1", "3", "0x10"],
    ["RPUSH", "l2", "b", "a", "B", "\xe9", "x\x00y", "", "a", "10", "2"],
    ["SADD", "si", "5", "3", "1", "10", "2", "-3"],
    ["SADD", "ss", "b", "a", "B", "\xe9", "c"],
    ["ZADD", "z1", "1", "a", "2", "b", "3", "c", "0", "d", "2", "e"],
    *[["SET", f"w_{e}", w] for e, w in zip(ELEMENTS[:7], "9 8 8 -1 7 0.5 3".split(), strict=True)],
    *[
        ["HSET", f"h_{e}", "f", w]
        for e, w in zip(ELEMENTS[::2], ["b", "a", "b", "", "c", "A"], strict=True)
    ],
]
STATE = [["LRANGE", k, "0", "-1"] for k in ("dst", "dst2", "l2")]


def _order_follows_hash_table(differ: Differ, argv: list[str]) -> bool:
    """Whether Valkey's reply order for this SORT depends on a hash table's order."""
    if not argv[0].upper().startswith("SORT"):
        return False
    value = differ.harness.keyspace[0].data.get(argv[1].encode())
    upper = [a.upper() for a in argv]
    by = [argv[i + 1] for i in range(2, len(argv) - 1) if upper[i] == "BY"]
    nosort = any("*" not in b for b in by)
    if isinstance(value, set):
        if all(m.lstrip(b"-").isdigit() for m in value):
            return False
        return nosort or (bool(by) and "ALPHA" in upper)
    if isinstance(value, ZSetValue):
        return bool(by) and not nosort and "ALPHA" in upper
    return False


def _items(raw: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(raw)
    value = reader.gets()
    return sorted(map(repr, value)) if isinstance(value, list) else value


def _run(server: ServerProcess, resp: int, commands: list[list[str]]) -> None:
    differ = Differ(server, resp=resp)
    try:
        differ.reset()
        for argv in SETUP + commands + STATE:
            if not _order_follows_hash_table(differ, argv):
                differ.check(*argv)
                continue
            if "STORE" in (a.upper() for a in argv):
                continue
            mine, theirs = differ.both(*argv)
            if "LIMIT" in (a.upper() for a in argv):  # which elements fall in the window
                assert mine.split(b"\r\n", 1)[0] == theirs.split(b"\r\n", 1)[0], (argv, mine)
            else:
                assert _items(mine) == _items(theirs), (argv, mine, theirs)
        differ.check_digest()
    finally:
        differ.close()


SETTINGS = settings(
    max_examples=int(os.environ.get("SORT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="SORT_EXAMPLES" not in os.environ,
)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(COMMANDS, min_size=1, max_size=12))
def test_sort_matches_valkey(server: ServerProcess, resp: int, commands: list[list[str]]) -> None:
    _run(server, resp, commands)


def test_partial_sort_ties_match_valkey(server: ServerProcess) -> None:
    """A long list sorted BY ALPHA weights that mostly tie, through LIMIT windows: the partial
    quicksort must leave equal elements where Valkey's does."""
    import random

    rng = random.Random(13)
    differ = Differ(server, resp=2)
    try:
        differ.reset()
        differ.check("RPUSH", "big", *[f"e{i}" for i in range(120)])
        for i in range(120):
            if rng.random() < 0.7:
                differ.check("SET", f"wt_e{i}", rng.choice("abc"))
        for start, count in ((0, 10), (5, 30), (50, 1), (100, 50), (0, 119), (7, 41)):
            for extra in ([], ["DESC"], ["STORE", "out"]):
                differ.check(
                    "SORT", "big", "BY", "wt_*", "ALPHA", "LIMIT", str(start), str(count), *extra
                )
            differ.check("SORT", "big", "BY", "wt_*", "LIMIT", str(start), str(count))
            differ.check("LRANGE", "out", "0", "-1")
        differ.check_digest()
    finally:
        differ.close()


@pytest.mark.parametrize("resp", [2, 3])
def test_sort_nosort_on_a_set_in_a_script_sorts(server: ServerProcess, resp: int) -> None:
    """Inside a script Valkey sorts a set ALPHA even when asked not to sort (its hash order
    must not leak into a script's result)."""
    differ = Differ(server, resp=resp)
    try:
        differ.reset()
        differ.check("SADD", "s", "b", "c", "a", "x", "10", "\xe9")
        for args in (
            ["by", "nosort"],
            ["by", "nosort", "desc", "limit", "1", "2"],
            ["by", "nosort", "get", "#", "get", "w_*"],
        ):
            call = ", ".join(f"'{a}'" for a in args)
            for name in ("sort", "sort_ro"):
                differ.check("EVAL", f"return redis.call('{name}', KEYS[1], {call})", "1", "s")
    finally:
        differ.close()


KEY_CASES = [
    ["SORT", "l", "LIMIT", "0", "1", "STORE", "d"],
    ["SORT", "l", "STORE", "d", "BY", "store", "STORE", "e"],
    ["SORT", "l", "GET", "store", "STORE", "d"],
    ["SORT_RO", "l", "BY", "x"],
    ["GEORADIUS", "g", "0", "0", "1", "km", "STORE", "d", "STOREDIST", "e"],
    ["GEORADIUSBYMEMBER", "g", "m", "1", "km", "STOREDIST", "d"],
    ["GEORADIUS_RO", "g", "0", "0", "1", "km"],
    ["GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
    ["GEOADD", "g", "0", "0", "m"],
    ["LCS", "a", "b"],
]


def test_command_keys_match_valkey(server: ServerProcess) -> None:
    """The keys SORT, the geo commands and LCS declare (STORE destinations included), and
    their COMMAND INFO entries."""
    differ = Differ(server, resp=3)
    try:
        for argv in KEY_CASES:
            differ.check("COMMAND", "GETKEYS", *argv)
            differ.check("COMMAND", "GETKEYSANDFLAGS", *argv)
        names = ["sort", "sort_ro", "geoadd", "georadius", "geosearchstore", "lcs", "lolwut"]
        differ.check("COMMAND", "INFO", *names)
    finally:
        differ.close()
