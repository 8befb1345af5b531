"""Random string/key command sequences run on valsync and on valkey-server 8.1.8, reply for reply.

Replies are compared byte for byte in RESP2 and RESP3, except where the real answer depends
on hash-table order (KEYS, SCAN: compared as sets) or the clock (PTTL: within a tolerance).
Expiries are far-future absolutes, whole-second relatives, or in the past, so no key expires
in the middle of a sequence. Relative expiries set by different commands differ (100 s for
SET/SETEX/GETEX, 200/50 s for EXPIRE, 300/25 s for PEXPIRE) so that GT/LT never compare two
deadlines that only the clocks' millisecond skew tells apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Differ
from tests.realvalkey import ServerProcess, start_valkey
from valsync.commands import COMMANDS

KEYS = ["a", "b", "c", "n"]
VALUES = ["", "0", "1", "-5", "abc", "3.5", "10", "12345678901234567890", "x" * 50, "x" * 35]
FAR_S = "99999999999"
FAR_MS = "99999999999000"
# The two clocks differ by a few ms, so relative expiries may land across a unit boundary.
CLOCK_TOLERANCE = {"PTTL": 200, "PEXPIRETIME": 200, "TTL": 1, "EXPIRETIME": 1}

key = st.sampled_from(KEYS)
value = st.sampled_from(VALUES)
small_int = st.sampled_from(["0", "1", "-1", "7", "100", "abc", "9223372036854775807"])
float_arg = st.sampled_from(["0.1", "-0.1", "1", "2.5e3", "1e-20", "abc", "inf", "1e308"])
expire_opt = st.sampled_from(
    [
        [],
        ["EX", "100"],
        ["PX", "100000"],
        ["EXAT", FAR_S],
        ["PXAT", FAR_MS],
        ["EXAT", "1"],
        ["PXAT", "1"],
        ["KEEPTTL"],
        ["EX", "0"],
    ]
)
cond_opt = st.sampled_from([[], ["NX"], ["XX"], ["GET"], ["NX", "GET"], ["XX", "GET"]])
expire_flag = st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["LT"], ["NX", "GT"]])
db = st.sampled_from(["0", "1", "2"])
pattern = st.sampled_from(["*", "a*", "?", "[ab]", "[^a]", "*n*", "\\a", "[a-c]"])


def _cmd(*parts: st.SearchStrategy[object] | str) -> st.SearchStrategy[list[str]]:
    """A command strategy: string parts are literal, list-valued strategies are spliced."""

    def flatten(values: tuple[object, ...]) -> list[str]:
        out: list[str] = []
        for v in values:
            if isinstance(v, list):
                out.extend(v)
            else:
                out.append(str(v))
        return out

    strategies = [st.just(p) if isinstance(p, str) else p for p in parts]
    return st.tuples(*strategies).map(flatten)


COMMAND = st.one_of(
    _cmd("SET", key, value, cond_opt, expire_opt),
    _cmd("SET", key, value, "IFEQ", value),
    _cmd("GET", key),
    _cmd("SETNX", key, value),
    _cmd("SETEX", key, st.sampled_from(["100", "0", "x"]), value),
    _cmd("PSETEX", key, st.sampled_from(["100000", "-1"]), value),
    _cmd("MGET", key, key, key),
    _cmd("MSET", key, value, key, value),
    _cmd("MSETNX", key, value, key, value),
    _cmd(st.sampled_from(["INCR", "DECR"]), key),
    _cmd(st.sampled_from(["INCRBY", "DECRBY"]), key, small_int),
    _cmd("INCRBYFLOAT", key, float_arg),
    _cmd("APPEND", key, value),
    _cmd("STRLEN", key),
    _cmd(st.sampled_from(["GETRANGE", "SUBSTR"]), key, small_int, small_int),
    _cmd("SETRANGE", key, st.sampled_from(["0", "3", "-1"]), value),
    _cmd("GETDEL", key),
    _cmd(
        "GETEX",
        key,
        st.sampled_from([[], ["PERSIST"], ["EX", "100"], ["PXAT", "1"], ["EXAT", FAR_S]]),
    ),
    _cmd("GETSET", key, value),
    _cmd(st.sampled_from(["DEL", "UNLINK", "EXISTS", "TOUCH"]), key, key),
    _cmd("TYPE", key),
    _cmd("EXPIRE", key, st.sampled_from(["200", "50", "-1", "0", "x"]), expire_flag),
    _cmd("PEXPIRE", key, st.sampled_from(["300000", "25000", "-5"]), expire_flag),
    _cmd("EXPIREAT", key, st.sampled_from([FAR_S, "1", "99999999998"]), expire_flag),
    _cmd("PEXPIREAT", key, st.sampled_from([FAR_MS, "1"]), expire_flag),
    _cmd(st.sampled_from(["TTL", "EXPIRETIME", "PEXPIRETIME", "PTTL"]), key),
    _cmd("PERSIST", key),
    _cmd(st.sampled_from(["RENAME", "RENAMENX"]), key, key),
    _cmd("MOVE", key, db),
    _cmd("COPY", key, key, st.sampled_from([[], ["REPLACE"], ["DB", "1"], ["DB", "1", "REPLACE"]])),
    _cmd("SELECT", db),
    _cmd("OBJECT", st.sampled_from(["ENCODING", "REFCOUNT"]), key),
    _cmd("KEYS", pattern),
    _cmd("SCAN", pattern),
    _cmd("RANDOMKEY"),
)
# Other types, so WRONGTYPE, TYPE, COPY and OBJECT ENCODING meet them (if their modules exist).
OTHER_TYPES = [
    _cmd(name, key, *extra, value)
    for name, extra in (("RPUSH", ()), ("SADD", ()), ("HSET", ("f",)), ("ZADD", ("1",)))
    if name.lower() in COMMANDS
]
COMMAND = st.one_of(COMMAND, *OTHER_TYPES)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    proc = start_valkey("8.1.8")
    try:
        yield proc
    finally:
        proc.stop()


def _scan_all(call: Callable[..., bytes], match: str) -> set[bytes]:
    """Every key a complete SCAN returns, following cursors until 0."""
    found: set[bytes] = set()
    cursor = "0"
    while True:
        reader = hiredis.Reader()
        reader.feed(call("SCAN", cursor, "MATCH", match))
        reply = reader.gets()
        cursor = reply[0].decode()
        found.update(reply[1])
        if cursor == "0":
            return found


def run_sequence(d: Differ, commands: list[list[str]]) -> None:
    d.reset()
    for argv in commands:
        name = argv[0].upper()
        if name == "KEYS":
            d.check_unordered(*argv)
        elif name == "SCAN":
            match = argv[1]
            mine_set = _scan_all(d.harness.wire, match)
            real_set = _scan_all(d.real.call, match)
            assert mine_set == real_set, argv
        elif name == "RANDOMKEY":
            mine, theirs = d.both(*argv)
            assert (mine in (b"$-1\r\n", b"_\r\n")) == (theirs in (b"$-1\r\n", b"_\r\n")), argv
        elif name in CLOCK_TOLERANCE:
            mine, theirs = d.both(*argv)
            if mine.startswith(b":") and theirs.startswith(b":"):
                diff = abs(int(mine[1:-2]) - int(theirs[1:-2]))
                assert diff <= CLOCK_TOLERANCE[name], (argv, mine, theirs)
            else:
                assert mine == theirs, argv
        else:
            if name in ("EXPIRE", "PEXPIRE") and {"GT", "LT"} & set(argv):
                time.sleep(0.002)  # both clocks move past the deadline set by a previous one
            d.check(*argv)


@pytest.mark.parametrize("resp", [2, 3])
@settings(
    max_examples=int(os.environ.get("DIFF_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(commands=st.lists(COMMAND, min_size=1, max_size=25))
def test_differential(server: ServerProcess, resp: int, commands: list[list[str]]) -> None:
    d = Differ(server, resp)
    try:
        run_sequence(d, commands)
        d.check_digest()
    finally:
        d.close()


def test_known_sequence(server: ServerProcess) -> None:
    """A fixed walk through every command family, as a readable smoke test."""
    d = Differ(server, 2)
    try:
        run_sequence(
            d,
            [
                ["SET", "a", "1", "EXAT", FAR_S],
                ["INCRBYFLOAT", "a", "0.1"],
                ["OBJECT", "ENCODING", "a"],
                ["RENAME", "a", "b"],
                ["EXPIRETIME", "b"],
                ["MOVE", "b", "1"],
                ["SELECT", "1"],
                ["COPY", "b", "c", "DB", "0"],
                ["SELECT", "0"],
                ["GET", "c"],
                ["KEYS", "*"],
                ["SCAN", "*"],
                ["EXPIRE", "c", "-1"],
                ["EXISTS", "c"],
            ],
        )
    finally:
        d.close()


GLOB_ALPHABET = st.sampled_from(["a", "b", "-", "^", "[", "]", "\\", "*", "?", "A"])


@settings(max_examples=int(os.environ.get("DIFF_EXAMPLES", "150")) * 2, deadline=None)
@given(
    patterns=st.lists(st.lists(GLOB_ALPHABET, max_size=7).map("".join), min_size=1, max_size=5),
    keys=st.lists(st.lists(GLOB_ALPHABET, max_size=5).map("".join), min_size=1, max_size=8),
)
def test_glob_matches_valkey(server: ServerProcess, patterns: list[str], keys: list[str]) -> None:
    """KEYS with odd patterns ([, ^, ranges, escapes) selects the same keys as Valkey."""
    d = Differ(server, 2)
    try:
        d.reset()
        for k in keys:
            d.check("SET", k, "v")
        for p in patterns:
            d.check_unordered("KEYS", p)
    finally:
        d.close()
