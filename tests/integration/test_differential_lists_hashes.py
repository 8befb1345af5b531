"""List and hash commands, byte for byte against real valkey-server 8.1.8 and 9.1.2.

Hypothesis draws command sequences over a few keys (and a string key for WRONGTYPE, and
deliberately bad arguments); each runs in-process through the Harness and on the real server,
in RESP2 and RESP3, and every reply must be identical. Lists and classic hashes are checked
against 8.1.8; per-field expiry against 9.1.2, with TTLs far enough out (or already past) that
the two clocks cannot disagree (so absolute expiry times are read back only where they were
set absolutely). Blocking commands are drawn only where they are served at once.
The propagated stream of a fixed script is compared with what the real server sends a replica.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Differ, RawClient, ReplicaStream
from tests.realvalkey import ServerProcess, start_valkey, start_valsync
from tests.unit.cmdutil import Harness

LISTS = ["l1", "l2"]
HASHES = ["h1", "h2"]
OTHER = ["str", "nokey"]
VALUES = ["a", "b", "c", "1", "-1", "10", "", "1.5", "x"]
INTS = ["0", "1", "2", "-1", "-2", "3", "5", "-100", "100", "x", "9223372036854775807"]
FLOATS = ["0", "1.5", "-2", "1e3", "0.1", "inf", "x", "10.5", "-0.0"]


@pytest.fixture(scope="module")
def server8() -> Iterator[ServerProcess]:
    with start_valkey("8.1.8", "--repl-diskless-sync", "no") as server:
        yield server


@pytest.fixture(scope="module")
def stream8(server8: ServerProcess) -> Iterator[ReplicaStream]:
    stream = ReplicaStream(server8.port)
    yield stream
    stream.close()


@pytest.fixture(scope="module")
def stream9(server9: ServerProcess) -> Iterator[ReplicaStream]:
    stream = ReplicaStream(server9.port)
    yield stream
    stream.close()


@pytest.fixture(scope="module")
def server9() -> Iterator[ServerProcess]:
    with start_valkey("9.1.2", "--repl-diskless-sync", "no") as server:
        yield server


def _k(keys: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(keys)


V = st.sampled_from(VALUES)
INT = st.sampled_from(INTS)
SIDE = st.sampled_from(["LEFT", "right", "up"])
LK = _k(LISTS + OTHER)
HK = _k(HASHES + OTHER)


def _cmd(*parts: st.SearchStrategy[str] | str) -> st.SearchStrategy[list[str]]:
    return st.tuples(*(p if not isinstance(p, str) else st.just(p) for p in parts)).map(list)


def _var(
    name: str, key: st.SearchStrategy[str], item: st.SearchStrategy[str]
) -> st.SearchStrategy[list[str]]:
    return st.tuples(key, st.lists(item, min_size=0, max_size=4)).map(lambda t: [name, t[0], *t[1]])


LIST_COMMANDS = st.one_of(
    _var("LPUSH", LK, V),
    _var("RPUSH", LK, V),
    _var("LPUSHX", LK, V),
    _var("RPUSHX", LK, V),
    _cmd("LPOP", LK),
    _cmd("RPOP", LK),
    _cmd("LPOP", LK, INT),
    _cmd("RPOP", LK, INT),
    _cmd("LLEN", LK),
    _cmd("LRANGE", LK, INT, INT),
    _cmd("LINDEX", LK, INT),
    _cmd("LSET", LK, INT, V),
    _cmd("LINSERT", LK, st.sampled_from(["BEFORE", "after", "middle"]), V, V),
    _cmd("LREM", LK, INT, V),
    _cmd("LTRIM", LK, INT, INT),
    _cmd("LMOVE", LK, LK, SIDE, SIDE),
    _cmd("RPOPLPUSH", LK, LK),
    st.tuples(
        LK,
        V,
        st.lists(
            st.sampled_from(["RANK", "COUNT", "MAXLEN", "0", "1", "-1", "2", "-2", "x"]), max_size=4
        ),
    ).map(lambda t: ["LPOS", t[0], t[1], *t[2]]),
    st.tuples(
        st.sampled_from(["1", "2", "0", "x"]),
        st.lists(LK, min_size=1, max_size=2),
        SIDE,
        st.sampled_from([[], ["COUNT", "2"], ["COUNT", "0"], ["count"]]),
    ).map(lambda t: ["LMPOP", t[0], *t[1], t[2], *t[3]]),
)

# Blocking pops are drawn on lists just pushed to, so they are served at once.
BLOCKING_SERVED = st.one_of(
    _cmd("BLPOP", "l1", "0"),
    _cmd("BRPOP", "nokey", "l1", "1.5"),
    _cmd("BLMOVE", "l1", "l2", SIDE, SIDE, "0"),
    _cmd("BRPOPLPUSH", "l1", "l2", "0"),
    _cmd("BLMPOP", "0", "1", "l1", "LEFT", "COUNT", "2"),
    _cmd("BLPOP", "l1", st.sampled_from(["x", "-1", "inf", "nan"])),
)

HASH_COMMANDS = st.one_of(
    st.tuples(HK, st.lists(V, min_size=1, max_size=5)).map(lambda t: ["HSET", t[0], *t[1]]),
    st.tuples(HK, st.lists(V, min_size=1, max_size=5)).map(lambda t: ["HMSET", t[0], *t[1]]),
    _cmd("HSETNX", HK, V, V),
    _cmd("HGET", HK, V),
    _var("HMGET", HK, V),
    _var("HDEL", HK, V),
    _cmd("HEXISTS", HK, V),
    _cmd("HGETALL", HK),
    _cmd("HKEYS", HK),
    _cmd("HVALS", HK),
    _cmd("HLEN", HK),
    _cmd("HINCRBY", HK, V, INT),
    _cmd("HINCRBYFLOAT", HK, V, st.sampled_from(FLOATS)),
    _cmd("HSTRLEN", HK, V),
    _cmd(
        "HRANDFIELD",
        HK,
        st.sampled_from(["0", "x", "10"]),
        st.sampled_from(["WITHVALUES", "withvalues", "x"]),
    ),
    _cmd("HRANDFIELD", st.just("absent")),
    _cmd("HSCAN", HK, st.sampled_from(["0", "x"])),
    _cmd(
        "HSCAN",
        HK,
        "0",
        st.sampled_from(["MATCH", "COUNT", "NOVALUES", "x"]),
        st.sampled_from(["a*", "1", "0", "*"]),
    ),
)

NF = st.lists(V, min_size=1, max_size=3)
FIELDS = NF.map(lambda fs: ["FIELDS", str(len(fs)), *fs])
BAD_FIELDS = st.sampled_from(
    [["FIELDS", "0", "a"], ["FIELDS", "2", "a"], ["FIELDS", "x", "a"], ["a"]]
)
SECS = st.sampled_from(["100", "1000", "0", "-1", "x"])
ABS_MS = st.sampled_from(["1", "4102444800000", "4102444900000"])
COND = st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["lt"], ["NX", "XX"], ["GT", "LT"], ["FOO"]])
SETEX_OPTS = st.lists(
    st.sampled_from(
        [
            ["NX"],
            ["XX"],
            ["FNX"],
            ["FXX"],
            ["EX", "100"],
            ["PXAT", "1"],
            ["KEEPTTL"],
            ["EXAT", "4102444800"],
            ["PX", "100000"],
            ["EX", "0"],
            ["px", "0"],
            ["PXAT", "4102444800000"],
            ["fnx"],
            ["FOO"],
        ]
    ),
    max_size=2,
).map(lambda opts: [x for o in opts for x in o])
PAIRS = st.lists(st.tuples(V, V), min_size=1, max_size=3).map(
    lambda ps: ["FIELDS", str(len(ps)), *[x for p in ps for x in p]]
)

FIELD_EXPIRY_COMMANDS = st.one_of(
    HASH_COMMANDS,
    # Fields that expire (1 ms TTL, then both sides wait 5 ms): logically gone, still stored.
    st.tuples(HK, FIELDS).map(lambda t: ["HPEXPIRE+WAIT", t[0], "1", *t[1]]),
    st.tuples(HK, SETEX_OPTS, PAIRS).map(lambda t: ["HSETEX", t[0], *t[1], *t[2]]),
    st.tuples(
        HK,
        st.sampled_from(
            [
                [],
                ["EX", "100"],
                ["PERSIST"],
                ["PXAT", "1"],
                ["EX", "1", "PX", "1"],
                ["EXAT", "4102444800"],
                ["PX", "0"],
                ["persist", "PERSIST"],
                ["EX", "100", "EX", "200"],
                ["EX", "-1"],
            ]
        ),
        st.one_of(FIELDS, BAD_FIELDS),
    ).map(lambda t: ["HGETEX", t[0], *t[1], *t[2]]),
    st.tuples(HK, st.one_of(FIELDS, BAD_FIELDS)).map(lambda t: ["HGETDEL", t[0], *t[1]]),
    st.tuples(
        st.sampled_from(["HEXPIRE", "HPEXPIRE"]), HK, SECS, COND, st.one_of(FIELDS, BAD_FIELDS)
    ).map(lambda t: [t[0], t[1], t[2], *t[3], *t[4]]),
    st.tuples(st.sampled_from(["HPEXPIREAT"]), HK, ABS_MS, COND, FIELDS).map(
        lambda t: [t[0], t[1], t[2], *t[3], *t[4]]
    ),
    st.tuples(
        st.sampled_from(["HTTL", "HPERSIST"]),
        HK,
        st.one_of(FIELDS, BAD_FIELDS),
    ).map(lambda t: [t[0], t[1], *t[2]]),
)

LIST_STATE = [["LRANGE", k, "0", "-1"] for k in LISTS] + [["EXISTS", *LISTS]]
HASH_STATE = (
    [["HGETALL", k] for k in HASHES] + [["HLEN", k] for k in HASHES] + [["EXISTS", *HASHES]]
)
FE_STATE = (
    [["HMGET", k, *VALUES] for k in HASHES]
    + [["HTTL", k, "FIELDS", str(len(VALUES)), *VALUES] for k in HASHES]
    + [["EXISTS", *HASHES]]
)


def _both(differ: Differ, argv: list[str]) -> tuple[bytes, bytes]:
    if argv[0] == "HPEXPIRE+WAIT":
        replies = differ.both("HPEXPIRE", *argv[1:])
        time.sleep(0.005)
        return replies
    if argv[0] == "EXISTS":
        # EXISTS belongs to another module; answer it from the Harness keyspace.
        n = sum(1 for k in argv[1:] if k.encode() in differ.harness.keyspace[0].data)
        return b":%d\r\n" % n, differ.real.call(*argv)
    return differ.both(*argv)


_SENTINEL = iter(range(1, 1 << 62))


def _close_times(mine: list[list[bytes]], theirs: list[list[bytes]]) -> list[list[bytes]]:
    """``mine`` with each absolute time that differs from valkey's by a clock tick (relative
    TTLs are turned into unix ms on each side's clock) replaced by valkey's."""
    out = []
    for a, b in zip(mine, theirs, strict=False):
        if len(a) == len(b):
            a = [
                y
                if x != y
                and x.isdigit()
                and y.isdigit()
                and len(x) >= 12
                and abs(int(x) - int(y)) <= 5
                else x
                for x, y in zip(a, b, strict=True)
            ]
        out.append(a)
    return out + mine[len(out) :]


def _run(
    server: ServerProcess,
    resp: int,
    commands: list[list[str]],
    state: list[list[str]],
    stream: ReplicaStream | None = None,
) -> None:
    """Run ``commands`` then the ``state`` reads on both sides; with ``stream``, also compare
    what each side propagated."""
    differ = Differ(server, resp=resp)
    # Active expiry would reclaim expired fields on the real server only.
    differ.real.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        assert differ.real.call("SET", "str", "x") == b"+OK\r\n"
        differ.harness.keyspace[0].set(b"str", b"x")
        mark = str(next(_SENTINEL)).encode()
        if stream is not None:
            differ.real.call("SET", "begin", mark)
            differ.harness.keyspace[0].set(b"begin", mark)
            stream.read_commands(lambda argv: argv == [b"SET", b"begin", mark])
        for argv in commands + state:
            mine, theirs = _both(differ, argv)
            assert mine == theirs, f"{argv}: valsync {mine!r} != valkey {theirs!r}"
        differ.check_digest()
        if stream is not None:
            differ.real.call("SET", "end", mark)
            got = stream.read_commands(lambda argv: argv == [b"SET", b"end", mark])[:-1]
            real = [a for a in got if a[0].upper() != b"SELECT"]
            ours = [argv for _, argv in differ.harness.propagated]
            assert _close_times(ours, real) == real, f"{commands}: propagated {ours} != {real}"
    finally:
        differ.close()


SETTINGS = settings(
    max_examples=int(os.environ.get("LH_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="LH_EXAMPLES" not in os.environ,
)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(LIST_COMMANDS, min_size=1, max_size=14))
def test_list_commands_match_valkey(
    server8: ServerProcess, stream8: ReplicaStream, resp: int, commands: list[list[str]]
) -> None:
    _run(server8, resp, commands, LIST_STATE, stream8)


@pytest.mark.parametrize("resp", [2, 3])
@settings(SETTINGS, max_examples=max(SETTINGS.max_examples // 3, 10))
@given(commands=st.lists(BLOCKING_SERVED, min_size=1, max_size=4))
def test_served_blocking_pops_match_valkey(
    server8: ServerProcess, stream8: ReplicaStream, resp: int, commands: list[list[str]]
) -> None:
    fill = [["RPUSH", "l1", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]]
    _run(server8, resp, fill + commands, LIST_STATE, stream8)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(HASH_COMMANDS, min_size=1, max_size=14))
def test_hash_commands_match_valkey(
    server8: ServerProcess, stream8: ReplicaStream, resp: int, commands: list[list[str]]
) -> None:
    _run(server8, resp, commands, HASH_STATE, stream8)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(FIELD_EXPIRY_COMMANDS, min_size=1, max_size=12))
def test_field_expiry_commands_match_valkey9(
    server9: ServerProcess, stream9: ReplicaStream, resp: int, commands: list[list[str]]
) -> None:
    _run(server9, resp, commands, FE_STATE, stream9)


def test_expired_fields_are_hidden_like_valkey9(server9: ServerProcess) -> None:
    """Fields past their TTL (active expiry off): reads hide them, HLEN still counts them,
    writes treat them as missing."""
    differ = Differ(server9)
    try:
        differ.real.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        for argv in (
            ["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"],
            ["HPEXPIRE", "h", "30", "FIELDS", "3", "a", "b", "c"],
        ):
            differ.check(*argv)
        time.sleep(0.08)
        for argv in (
            ["HGET", "h", "a"],
            ["HMGET", "h", "a", "b", "c", "d"],
            ["HLEN", "h"],
            ["HGETALL", "h"],
            ["HEXISTS", "h", "b"],
            ["HSTRLEN", "h", "b"],
            ["HTTL", "h", "FIELDS", "2", "a", "d"],
            ["HDEL", "h", "a"],
            ["HLEN", "h"],
            ["HSET", "h", "a", "9"],
            ["HSETNX", "h", "b", "x"],
            ["HINCRBY", "h", "c", "5"],
            ["HGETALL", "h"],
            ["HLEN", "h"],
        ):
            differ.check(*argv)
    finally:
        differ.real.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        differ.close()


PROPAGATION_8 = [
    ["LPUSH", "l", "a", "b", "c", "d", "e", "f"],
    ["LPOP", "l", "0"],
    ["LPOP", "l", "1"],
    ["LPOP", "nokey"],
    ["LMPOP", "2", "nokey", "l", "RIGHT"],
    ["LMPOP", "1", "l", "left", "COUNT", "2"],
    ["BLPOP", "nokey", "l", "0"],
    ["LPUSH", "l", "x", "y", "z"],
    ["BRPOP", "l", "1"],
    ["BLMPOP", "0", "1", "l", "right", "COUNT", "5"],
    ["RPUSH", "l", "1", "2", "3"],
    ["BLMOVE", "l", "m", "left", "RIGHT", "0"],
    ["BRPOPLPUSH", "l", "m", "0"],
    ["LTRIM", "m", "0", "-1"],
    ["LTRIM", "m", "1", "-1"],
    ["LREM", "m", "0", "zz"],
    ["LINSERT", "m", "BEFORE", "3", "q"],
    ["LSET", "m", "0", "w"],
    ["HSET", "h", "a", "1", "f", "1.5"],
    ["HINCRBYFLOAT", "h", "f", "1"],
    ["HINCRBY", "h", "a", "2"],
    ["HSETNX", "h", "a", "2"],
    ["HDEL", "h", "zz"],
    ["HDEL", "h", "a", "f"],
    ["SET", "end", "1"],
]

PROPAGATION_9 = [
    ["HSET", "h", "a", "1", "b", "2", "c", "3", "n", "5"],
    ["HSETEX", "h", "NX", "FIELDS", "1", "x", "1"],
    ["HSETEX", "h", "XX", "FNX", "EXAT", "4102444800", "FIELDS", "1", "x", "1"],
    ["HSETEX", "h", "KEEPTTL", "FIELDS", "1", "x", "2"],
    ["HSETEX", "h", "PXAT", "1", "FIELDS", "2", "x", "1", "new", "2"],
    ["HEXPIREAT", "h", "4102444800", "NX", "FIELDS", "2", "a", "zz"],
    ["HEXPIREAT", "h", "4102444800", "NX", "FIELDS", "1", "a"],
    ["HINCRBY", "h", "a", "5"],
    ["HINCRBYFLOAT", "h", "a", "0.5"],
    ["HINCRBY", "h", "n", "1"],
    ["HGETEX", "h", "PXAT", "4102444900000", "FIELDS", "2", "b", "zz"],
    ["HGETEX", "h", "PERSIST", "FIELDS", "2", "b", "c"],
    ["HGETEX", "h", "EXAT", "1", "FIELDS", "1", "c"],
    ["HPEXPIREAT", "h", "4102444800000", "FIELDS", "1", "b"],
    ["HPEXPIRETIME", "h", "FIELDS", "3", "a", "b", "zz"],
    ["HEXPIRETIME", "h", "FIELDS", "3", "a", "b", "c"],
    ["HPERSIST", "h", "FIELDS", "2", "b", "zz"],
    ["HPERSIST", "h", "FIELDS", "1", "b"],
    ["HPEXPIREAT", "h", "1", "FIELDS", "1", "b"],
    ["HGETDEL", "h", "FIELDS", "2", "zz", "n"],
    ["HGETDEL", "h", "FIELDS", "1", "zz"],
    ["SET", "end", "1"],
]


def _stream_of(
    server: ServerProcess, script: list[list[str]]
) -> tuple[list[list[bytes]], list[list[bytes]]]:
    """(valsync's propagated commands, the real server's) for ``script``."""
    differ = Differ(server)
    stream = ReplicaStream(server.port)
    try:
        differ.reset()
        stream.read_commands(lambda argv: argv[0].lower() == b"flushall")
        harness = Harness(now_ms=int(time.time() * 1000))
        for argv in script:
            harness.now_ms = int(time.time() * 1000)
            mine = harness.wire(*argv)
            assert mine == differ.real.call(*argv), argv
        theirs = stream.read_commands(lambda argv: argv[0] == b"SET" and argv[1] == b"end")
        ours = [argv for _, argv in harness.propagated]
        return ours, [a for a in theirs if a[0].upper() != b"SELECT"]
    finally:
        stream.close()
        differ.close()


def test_list_and_hash_propagation_matches_valkey8(server8: ServerProcess) -> None:
    ours, theirs = _stream_of(server8, PROPAGATION_8)
    assert ours == theirs


def test_field_expiry_propagation_matches_valkey9(server9: ServerProcess) -> None:
    ours, theirs = _stream_of(server9, PROPAGATION_9)
    assert ours == theirs


def _blocking_scenario(port: int) -> tuple[list[bytes], list[list[bytes]]]:
    """Clients blocked in list pops, woken by pushes: (their replies, the replica stream)."""
    stream = ReplicaStream(port)
    waiter, pusher = RawClient(port), RawClient(port)
    replies: list[bytes] = []
    try:
        pusher.call("FLUSHALL")
        for block, *pushes in (
            (["BLMOVE", "q", "d", "LEFT", "RIGHT", "0"], ["RPUSH", "q", "x", "y"]),
            (["BLPOP", "e", "q2", "0"], ["LPUSH", "q2", "1"]),
            (["BLMPOP", "0", "1", "m", "RIGHT", "COUNT", "5"], ["RPUSH", "m", "1", "2"]),
            (["BRPOPLPUSH", "r", "d", "0"], ["RPUSH", "r", "z"]),
            # a waited-on key turned into a string leaves the client blocked...
            (["BLPOP", "k", "0"], ["SET", "k", "s"], ["DEL", "k"], ["RPUSH", "k", "a"]),
            # ...but once served, the re-run meets the string first
            (["BLPOP", "k2", "k3", "0"], ["SET", "k2", "s"], ["RPUSH", "k3", "a"]),
        ):
            waiter.send(*block)
            for push in pushes:
                time.sleep(0.05)
                pusher.call(*push)
            replies.append(waiter.read_reply())
        replies.append(waiter.call("BLPOP", "none", "0.05"))
        pusher.call("SET", "end", "1")
        got = stream.read_commands(lambda argv: argv[:2] == [b"SET", b"end"])
        return replies, [a for a in got if a[0].upper() not in (b"SELECT", b"FLUSHALL")]
    finally:
        waiter.close()
        pusher.close()
        stream.close()


def test_blocked_pops_wake_and_propagate_like_valkey8(server8: ServerProcess) -> None:
    with start_valsync("--repl-diskless-sync", "no") as valsync:
        ours = _blocking_scenario(valsync.port)
    assert ours == _blocking_scenario(server8.port)
