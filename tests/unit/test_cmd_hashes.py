"""Hash commands through the in-process Harness, including Valkey 9's per-field expiry and
what each command puts on the replication stream (the table was read off valkey-server 8.1.8
and 9.1.2 SYNC streams; tests/integration/test_differential_lists_hashes.py re-checks it)."""

from __future__ import annotations

import pytest

from tests.unit.cmdutil import Harness
from valsync.commands import ExpireMode
from valsync.commands.hashes import reclaim_expired_fields
from valsync.resp.reply import OK, ErrorReply, MapReply

NOW = 1_700_000_000_000
NUMFIELDS = ErrorReply(
    "ERR numfields should be greater than 0 and match the provided number of fields"
)


@pytest.fixture
def h() -> Harness:
    return Harness(now_ms=NOW)


def test_classic_commands(h: Harness) -> None:
    assert h.run("HSET", "h", "a", "1", "b", "2") == 2
    assert h.run("HSET", "h", "a", "3", "c", "4") == 1
    assert h.run("HSET", "h", "a") == ErrorReply("ERR wrong number of arguments for 'hset' command")
    assert h.run("HMSET", "h", "d", "5") == OK
    assert h.run("HSETNX", "h", "a", "x") == 0
    assert h.run("HGET", "h", "a") == b"3"
    assert h.run("HMGET", "h", "a", "zz") == [b"3", None]
    assert h.run("HGETALL", "h") == MapReply(
        [(b"a", b"3"), (b"b", b"2"), (b"c", b"4"), (b"d", b"5")]
    )
    assert h.run("HKEYS", "h") == [b"a", b"b", b"c", b"d"]
    assert h.run("HVALS", "nokey") == []
    assert h.run("HSTRLEN", "h", "a") == 1
    assert h.run("HEXISTS", "h", "zz") == 0
    assert h.run("HDEL", "h", "a", "b", "c", "zz") == 3
    assert h.run("HLEN", "h") == 1
    assert h.run("HDEL", "h", "d") == 1
    assert b"h" not in h.keyspace[0].data


def test_increments(h: Harness) -> None:
    assert h.run("HINCRBY", "h", "n", "5") == 5
    assert h.run("HINCRBY", "h", "n", "9223372036854775807") == ErrorReply(
        "ERR increment or decrement would overflow"
    )
    h.run("HSET", "h", "s", "abc")
    assert h.run("HINCRBY", "h", "s", "1") == ErrorReply("ERR hash value is not an integer")
    assert h.run("HINCRBYFLOAT", "h", "s", "1") == ErrorReply("ERR hash value is not a float")
    assert h.run("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert h.run("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    assert h.run("HINCRBYFLOAT", "h", "f", "inf") == ErrorReply("ERR value is NaN or Infinity")
    assert h.run("HINCRBYFLOAT", "h", "f", "x") == ErrorReply("ERR value is not a valid float")
    assert isinstance(h.run("HINCRBYFLOAT", "big", "f", "1e4932"), bytes)
    assert h.run("HINCRBYFLOAT", "big", "f", "1e4932") == ErrorReply(
        "ERR increment would produce NaN or Infinity"
    )


def test_hrandfield_and_hscan(h: Harness) -> None:
    assert h.run("HRANDFIELD", "nokey") is None
    assert h.run("HRANDFIELD", "nokey", "3") == []
    h.run("HSET", "h", "a", "1", "b", "2")
    assert h.run("HRANDFIELD", "h", "5", "WITHVALUES") == [b"a", b"1", b"b", b"2"]
    h.client.resp = 3
    assert h.run("HRANDFIELD", "h", "5", "WITHVALUES") == [[b"a", b"1"], [b"b", b"2"]]
    assert len(h.run("HRANDFIELD", "h", "-5")) == 5  # type: ignore[arg-type]
    assert h.run("HRANDFIELD", "h", "1", "x") == ErrorReply("ERR syntax error")
    assert h.run("HSCAN", "h", "0", "MATCH", "a*") == [b"0", [b"a", b"1"]]
    assert h.run("HSCAN", "h", "0", "NOVALUES") == [b"0", [b"a", b"b"]]
    assert h.run("HSCAN", "h", "x") == ErrorReply("ERR invalid cursor")


# --- field expiry ----------------------------------------------------------------------------


def test_hsetex_and_ttl_replies(h: Harness) -> None:
    assert h.run("HSETEX", "h", "EX", "100", "FIELDS", "2", "a", "1", "b", "2") == 1
    assert h.run("HTTL", "h", "FIELDS", "3", "a", "b", "zz") == [100, 100, -2]
    assert h.run("HPEXPIRETIME", "h", "FIELDS", "1", "a") == [NOW + 100_000]
    assert h.run("HSETEX", "h", "KEEPTTL", "FIELDS", "1", "a", "x") == 1
    assert h.run("HPTTL", "h", "FIELDS", "1", "a") == [100_000]
    assert h.run("HSETEX", "h", "FIELDS", "1", "a", "y") == 1
    assert h.run("HTTL", "h", "FIELDS", "1", "a") == [-1]
    assert h.run("HSETEX", "h", "NX", "FIELDS", "1", "c", "1") == 0
    assert h.run("HSETEX", "h", "FNX", "FIELDS", "1", "a", "1") == 0
    assert h.run("HSETEX", "h", "FXX", "FIELDS", "1", "zz", "1") == 0
    assert h.run("HSETEX", "nokey", "XX", "FIELDS", "1", "a", "1") == 0
    assert h.run("HSETEX", "h", "FIELDS", "2", "a", "1") == NUMFIELDS
    assert h.run("HSETEX", "h", "EX", "1", "PX", "1", "FIELDS", "1", "a", "1") == ErrorReply(
        "ERR syntax error"
    )
    assert h.run("HSETEX", "h", "EX", "-1", "FIELDS", "1", "a", "1") == ErrorReply(
        "ERR invalid expire time in 'hsetex' command"
    )
    assert h.run("HTTL", "h", "FIELDS", "2", "a") == ErrorReply("ERR syntax error")


def test_hexpire_conditions(h: Harness) -> None:
    h.run("HSET", "h", "a", "1", "b", "2")
    assert h.run("HEXPIRE", "h", "100", "NX", "FIELDS", "3", "a", "b", "zz") == [1, 1, -2]
    assert h.run("HEXPIRE", "h", "100", "NX", "FIELDS", "1", "a") == [0]
    assert h.run("HEXPIRE", "h", "50", "GT", "FIELDS", "1", "a") == [0]
    assert h.run("HEXPIRE", "h", "50", "LT", "FIELDS", "1", "a") == [1]
    assert h.run("HPERSIST", "h", "FIELDS", "3", "a", "a", "zz") == [1, -1, -2]
    assert h.run("HEXPIRE", "h", "50", "XX", "FIELDS", "1", "a") == [0]
    assert h.run("HEXPIRE", "h", "10", "FOO", "FIELDS", "1", "a") == ErrorReply(
        "ERR Unsupported option FOO"
    )
    assert h.run("HEXPIRE", "h", "10", "NX", "GT", "FIELDS", "1", "a") == ErrorReply(
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    )
    assert h.run("HEXPIRE", "h", "0", "FIELDS", "2", "a", "b") == [2, 2]
    assert b"h" not in h.keyspace[0].data
    assert h.run("HEXPIRE", "h", "10", "FIELDS", "1", "a") == [-2]


def test_expired_fields_are_hidden_but_counted(h: Harness) -> None:
    h.run("HSET", "h", "a", "1", "b", "2", "c", "3")
    h.run("HPEXPIRE", "h", "10", "FIELDS", "2", "a", "b")
    h.now_ms += 20
    assert h.run("HGET", "h", "a") is None
    assert h.run("HGETALL", "h") == MapReply([(b"c", b"3")])
    assert h.run("HLEN", "h") == 3
    assert h.run("HTTL", "h", "FIELDS", "1", "a") == [-2]
    assert h.run("HDEL", "h", "a") == 0
    assert h.run("HSET", "h", "a", "9") == 1
    assert h.run("HSETNX", "h", "b", "x") == 1
    assert h.run("HTTL", "h", "FIELDS", "2", "a", "b") == [-1, -1]
    assert h.propagated[-2:] == [(0, [b"HSET", b"h", b"a", b"9"]), (0, [b"HSET", b"h", b"b", b"x"])]


def test_replica_stream_keeps_expired_fields(h: Harness) -> None:
    h.mode = ExpireMode.KEEP
    h.run("HSET", "h", "a", "1")
    assert h.run("HPEXPIREAT", "h", "1", "FIELDS", "1", "a") == [1]
    assert h.run("HGET", "h", "a") == b"1"
    assert h.run("HINCRBY", "h", "a", "1") == 2


def test_hgetex_and_hgetdel(h: Harness) -> None:
    h.run("HSET", "h", "a", "1", "b", "2")
    assert h.run("HGETEX", "h", "PX", "1000", "FIELDS", "2", "a", "zz") == [b"1", None]
    assert h.run("HPTTL", "h", "FIELDS", "1", "a") == [1000]
    assert h.run("HGETEX", "h", "PERSIST", "FIELDS", "1", "a") == [b"1"]
    assert h.run("HGETEX", "h", "PERSIST", "EX", "1", "FIELDS", "1", "a") == ErrorReply(
        "ERR syntax error"
    )
    assert h.run("HGETDEL", "h", "FIELDS", "2", "a", "a") == [b"1", None]
    assert h.run("HGETDEL", "h", "FELDS", "1", "a") == ErrorReply("ERR syntax error")
    assert h.run("HGETEX", "h", "EX", "0", "FIELDS", "1", "b") == [b"2"]
    assert b"h" not in h.keyspace[0].data


def test_reclaim_expired_fields_propagates_hdel_then_unlink(h: Harness) -> None:
    h.run("HSET", "h", "a", "1", "b", "2")
    h.run("HPEXPIRE", "h", "10", "FIELDS", "1", "a")
    db = h.keyspace[0]
    assert reclaim_expired_fields(db, b"h", NOW + 5) == []
    assert reclaim_expired_fields(db, b"h", NOW + 20) == [[b"HDEL", b"h", b"a"]]
    assert h.run("HLEN", "h") == 1
    h.run("HPEXPIRE", "h", "10", "FIELDS", "1", "b")
    assert reclaim_expired_fields(db, b"h", NOW + 20) == [[b"HDEL", b"h", b"b"], [b"UNLINK", b"h"]]
    assert b"h" not in db.data


# --- propagation (8.1.8 for classic commands, 9.1.2 for field expiry) ------------------------

PX = str(NOW + 100_000).encode()
FAR = b"4102444800000"
PROPAGATION: list[tuple[list[str], list[list[bytes]]]] = [
    (
        ["hset", "h", "a", "1", "f", "1.5", "n", "1"],
        [[b"hset", b"h", b"a", b"1", b"f", b"1.5", b"n", b"1"]],
    ),
    (["HSETNX", "h", "a", "2"], []),
    (["HSETNX", "h", "x", "2"], [[b"HSETNX", b"h", b"x", b"2"]]),
    (["HINCRBY", "h", "a", "2"], [[b"HINCRBY", b"h", b"a", b"2"]]),
    (["HINCRBYFLOAT", "h", "f", "1"], [[b"HSET", b"h", b"f", b"2.5"]]),
    (["HDEL", "h", "zz"], []),
    (
        ["HSETEX", "h", "XX", "FNX", "EX", "100", "FIELDS", "1", "e", "1"],
        [[b"HSETEX", b"h", b"PXAT", PX, b"FIELDS", b"1", b"e", b"1"]],
    ),
    (
        ["HSETEX", "h", "KEEPTTL", "FIELDS", "1", "e", "2"],
        [[b"HSETEX", b"h", b"KEEPTTL", b"FIELDS", b"1", b"e", b"2"]],
    ),
    (["HSETEX", "h", "PXAT", "1", "FIELDS", "2", "new", "1", "x", "1"], [[b"HDEL", b"h", b"x"]]),
    (
        ["HSETEX", "h", "EX", "50", "XX", "EX", "100", "FIELDS", "1", "e", "1"],
        [[b"HSETEX", b"h", b"EX", b"50", b"PXAT", PX, b"FIELDS", b"1", b"e", b"1"]],
    ),
    (
        ["HSETEX", "h", "KEEPTTL", "FXX", "KEEPTTL", "FIELDS", "1", "e", "2"],
        [[b"HSETEX", b"h", b"KEEPTTL", b"KEEPTTL", b"FIELDS", b"1", b"e", b"2"]],
    ),
    (["HINCRBY", "h", "e", "1"], [[b"HSETEX", b"h", b"PXAT", PX, b"FIELDS", b"1", b"e", b"3"]]),
    (["HINCRBY", "h", "n", "1"], [[b"HSET", b"h", b"n", b"2"]]),
    (["HSETNX", "h", "y", "1"], [[b"HSET", b"h", b"y", b"1"]]),
    (
        ["HEXPIRE", "h", "100", "NX", "FIELDS", "2", "a", "zz"],
        [[b"HPEXPIREAT", b"h", PX, b"NX", b"FIELDS", b"2", b"a", b"zz"]],
    ),
    (["HEXPIRE", "h", "100", "NX", "FIELDS", "1", "a"], []),
    (
        ["HGETEX", "h", "PXAT", "4102444800000", "FIELDS", "2", "n", "zz"],
        [[b"HPEXPIREAT", b"h", FAR, b"FIELDS", b"1", b"n"]],
    ),
    (
        ["HGETEX", "h", "PERSIST", "FIELDS", "2", "n", "y"],
        [[b"HPERSIST", b"h", b"FIELDS", b"1", b"n"]],
    ),
    (
        ["hpersist", "h", "FIELDS", "2", "a", "zz"],
        [[b"hpersist", b"h", b"FIELDS", b"2", b"a", b"zz"]],
    ),
    (["HPEXPIREAT", "h", "1", "FIELDS", "1", "a"], [[b"HDEL", b"h", b"a"]]),
    (["HGETEX", "h", "EX", "0", "FIELDS", "1", "y"], [[b"HDEL", b"h", b"y"]]),
    (["HGETDEL", "h", "FIELDS", "1", "zz"], []),
    (["hgetdel", "h", "FIELDS", "1", "n"], [[b"hgetdel", b"h", b"FIELDS", b"1", b"n"]]),
    (["HTTL", "h", "FIELDS", "1", "e"], []),
]


@pytest.mark.parametrize(
    ("argv", "expected"), PROPAGATION, ids=[" ".join(a) for a, _ in PROPAGATION]
)
def test_propagation_table(argv: list[str], expected: list[list[bytes]]) -> None:
    h = Harness(now_ms=NOW)
    for prev, _ in PROPAGATION:
        if prev is argv:
            break
        h.run(*prev)
    h.propagated.clear()
    h.run(*argv)
    assert [p for _, p in h.propagated] == expected
