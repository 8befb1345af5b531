"""Sorted-set commands through the Harness; expected bytes were taken from valkey-server 8.1.8."""

from __future__ import annotations

import pytest

from tests.unit.cmdutil import Harness
from valsync.commands import BlockRequest
from valsync.resp import NULL_ARRAY


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.run("ZADD", "z", "1", "a", "2", "b", "3", "c", "1.5", "d")
    harness.propagated.clear()
    return harness


def wire3(h: Harness, *argv: str) -> bytes:
    """A reply as a HELLO 3 client gets it (handlers shape replies by the client's protocol)."""
    h.client.resp = 3
    try:
        return h.wire(*argv, resp=3)
    finally:
        h.client.resp = 2


def bulk(*items: bytes) -> bytes:
    return b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)


def test_zadd_flags(h: Harness) -> None:
    assert h.run("ZADD", "z", "NX", "10", "a", "4", "e") == 1
    assert h.wire("ZSCORE", "z", "a") == bulk(b"1")
    assert h.run("ZADD", "z", "XX", "CH", "10", "a", "5", "f") == 1
    assert h.wire("ZSCORE", "z", "f") == b"$-1\r\n"
    assert h.run("ZADD", "z", "GT", "CH", "5", "a", "5", "b") == 1
    assert h.run("ZADD", "z", "LT", "CH", "0", "a", "0", "b") == 2
    assert h.wire("ZADD", "z", "INCR", "2.5", "a") == bulk(b"2.5")
    assert wire3(h, "ZADD", "z", "INCR", "GT", "-1", "a") == b"_\r\n"
    assert h.wire("ZADD", "nokey", "XX", "INCR", "1", "a") == b"$-1\r\n"
    assert b"nokey" not in h.keyspace[0].data


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["ZADD", "z", "NX", "XX", "1", "a"],
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            ["ZADD", "z", "GT", "LT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            ["ZADD", "z", "NX", "GT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            ["ZADD", "z", "INCR", "1", "a", "2", "b"],
            "ERR INCR option supports a single increment-element pair",
        ),
        (["ZADD", "z", "1", "a", "2"], "ERR syntax error"),
        (["ZADD", "z", "nan", "a"], "ERR value is not a valid float"),
        (["ZADD", "z", " 1", "a"], "ERR value is not a valid float"),
        (["ZADD", "z", "1e400", "a"], "ERR value is not a valid float"),
        (["ZADD", "z", "1e-400", "a"], "ERR value is not a valid float"),
        (["ZINCRBY", "z", "abc", "a"], "ERR value is not a valid float"),
        (["ZCOUNT", "z", "1 ", "3"], "ERR min or max is not a float"),
        (["ZLEXCOUNT", "z", "a", "+"], "ERR min or max not valid string range item"),
        (["ZLEXCOUNT", "z", "+x", "+"], "ERR min or max not valid string range item"),
        (
            ["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (
            ["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (["ZRANGEBYSCORE", "z", "1", "2", "WITHSCORES", "LIMIT", "0"], "ERR syntax error"),
        (["ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES"], "ERR syntax error"),
        (["ZRANK", "z", "a", "x", "y"], "ERR wrong number of arguments for 'zrank' command"),
        (["ZRANK", "z", "a", "x"], "ERR syntax error"),
        (["ZUNION", "0", "z"], "ERR at least 1 input key is needed for 'zunion' command"),
        (
            ["ZUNIONSTORE", "d", "0", "z"],
            "ERR at least 1 input key is needed for 'zunionstore' command",
        ),
        (["ZINTERCARD", "0", "z"], "ERR at least 1 input key is needed for 'zintercard' command"),
        (["ZUNION", "3", "z"], "ERR syntax error"),
        (["ZUNION", "1", "z", "WEIGHTS", "x"], "ERR weight value is not a float"),
        (["ZINTERCARD", "1", "z", "LIMIT", "-1"], "ERR LIMIT can't be negative"),
        (["ZDIFF", "1", "z", "WEIGHTS", "1"], "ERR syntax error"),
        (["ZMPOP", "0", "z", "MIN"], "ERR numkeys should be greater than 0"),
        (["ZMPOP", "2", "z", "MIN"], "ERR syntax error"),
        (["ZMPOP", "1", "z", "MIN", "COUNT", "0"], "ERR count should be greater than 0"),
        (["BZPOPMIN", "z", "-1"], "ERR timeout is negative"),
        (["BZPOPMIN", "z", "x"], "ERR timeout is not a float or out of range"),
        (["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"], "ERR syntax error"),
        (["ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"], "ERR value is out of range"),
        (["ZSCAN", "z", "0", "NOVALUES"], "ERR NOVALUES option can only be used in HSCAN"),
        (["ZPOPMIN", "z", "-1"], "ERR value is out of range, must be positive"),
    ],
)
def test_errors(h: Harness, argv: list[str], error: str) -> None:
    assert h.wire(*argv) == b"-" + error.encode() + b"\r\n"


def test_zadd_incr_nan(h: Harness) -> None:
    h.run("ZADD", "z", "inf", "a")
    assert h.wire("ZINCRBY", "z", "-inf", "a") == b"-ERR resulting score is not a number (NaN)\r\n"
    assert h.propagated == [(0, [b"ZADD", b"z", b"inf", b"a"])]


def test_negative_zero_is_stored_as_zero() -> None:
    h = Harness()
    assert h.wire("ZADD", "z", "INCR", "-0.0", "m") == bulk(b"-0")
    assert h.wire("ZSCORE", "z", "m") == bulk(b"0")


def test_ranges_resp2_and_resp3(h: Harness) -> None:
    assert h.wire("ZRANGE", "z", "0", "-1") == b"*4\r\n" + bulk(b"a", b"d", b"b", b"c")
    assert h.wire("ZRANGE", "z", "0", "1", "WITHSCORES") == b"*4\r\n" + bulk(
        b"a", b"1", b"d", b"1.5"
    )
    assert (
        wire3(h, "ZRANGE", "z", "0", "1", "WITHSCORES")
        == b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nd\r\n,1.5\r\n"
    )
    assert h.wire("ZRANGE", "z", "(1", "3", "BYSCORE", "LIMIT", "1", "5") == b"*2\r\n" + bulk(
        b"b", b"c"
    )
    assert h.wire("ZRANGE", "z", "3", "(1", "BYSCORE", "REV") == b"*3\r\n" + bulk(b"c", b"b", b"d")
    assert h.wire("ZREVRANGE", "z", "0", "0") == b"*1\r\n" + bulk(b"c")
    assert h.wire("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2") == b"*0\r\n"
    assert h.wire("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "3", "-5") == b"*1\r\n" + bulk(
        b"c"
    )
    assert h.wire("ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1") == b"*4\r\n" + bulk(
        b"a", b"d", b"b", b"c"
    )
    assert h.wire("ZRANGE", "nokey", "0", "-1") == b"*0\r\n"
    assert h.run("ZCOUNT", "z", "(1", "2") == 2
    assert h.run("ZCOUNT", "z", "", "(") == 0


def test_lex_ranges() -> None:
    h = Harness()
    h.run("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d")
    assert h.wire("ZRANGEBYLEX", "l", "(a", "[c") == b"*2\r\n" + bulk(b"b", b"c")
    assert h.wire("ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "1", "2") == b"*2\r\n" + bulk(
        b"c", b"b"
    )
    assert h.run("ZLEXCOUNT", "l", "-", "+") == 4
    assert h.run("ZLEXCOUNT", "l", "+", "-") == 0
    assert h.run("ZREMRANGEBYLEX", "l", "[b", "(d") == 2
    assert h.wire("ZRANGE", "l", "0", "-1") == b"*2\r\n" + bulk(b"a", b"d")


def test_rank_and_scores(h: Harness) -> None:
    assert h.run("ZRANK", "z", "b") == 2
    assert h.run("ZREVRANK", "z", "b") == 1
    assert wire3(h, "ZRANK", "z", "d", "WITHSCORE") == b"*2\r\n:1\r\n,1.5\r\n"
    assert h.run("ZRANK", "z", "nope", "WITHSCORE") == NULL_ARRAY
    assert h.wire("ZRANK", "z", "nope", "WITHSCORE") == b"*-1\r\n"
    assert wire3(h, "ZMSCORE", "z", "a", "x") == b"*2\r\n,1\r\n_\r\n"
    assert h.wire("ZMSCORE", "nokey", "a") == b"*1\r\n$-1\r\n"
    assert h.run("ZCARD", "z") == 4


def test_pops_shapes_and_propagation(h: Harness) -> None:
    assert h.wire("ZPOPMIN", "z") == b"*2\r\n" + bulk(b"a", b"1")
    assert wire3(h, "ZPOPMAX", "z", "1") == b"*1\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    assert h.wire("ZPOPMIN", "z", "0") == b"*0\r\n"
    assert h.wire("ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "10") == (
        b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n" + bulk(b"b", b"2") + b"*2\r\n" + bulk(b"d", b"1.5")
    )
    assert h.wire("ZMPOP", "1", "z", "MIN") == b"*-1\r\n"
    assert h.propagated == [
        (0, [b"ZPOPMIN", b"z"]),
        (0, [b"ZPOPMAX", b"z", b"1"]),
        (0, [b"ZPOPMAX", b"z", b"2"]),
    ]
    assert b"z" not in h.keyspace[0].data


def test_blocking_pops(h: Harness) -> None:
    assert wire3(h, "BZPOPMIN", "nokey", "z", "0") == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n,1\r\n"
    assert h.propagated == [(0, [b"ZPOPMIN", b"z"])]
    blocked = h.run("BZPOPMAX", "nokey", "other", "1.5")
    assert blocked == BlockRequest((b"nokey", b"other"), h.now_ms + 1500, NULL_ARRAY)
    forever = h.run("BZMPOP", "0", "1", "nokey", "MIN")
    assert isinstance(forever, BlockRequest) and forever.deadline_ms is None
    h.propagated.clear()
    assert h.wire("BZMPOP", "0", "1", "z", "MAX", "COUNT", "9") == (
        b"*2\r\n$1\r\nz\r\n*3\r\n*2\r\n"
        + bulk(b"c", b"3")
        + b"*2\r\n"
        + bulk(b"b", b"2")
        + b"*2\r\n"
        + bulk(b"d", b"1.5")
    )
    assert h.propagated == [(0, [b"ZPOPMAX", b"z", b"3"])]


def test_store_commands(h: Harness) -> None:
    h.run("SADD", "s", "a", "x")
    assert h.run("ZUNIONSTORE", "d", "2", "z", "s", "WEIGHTS", "2", "3") == 5
    assert h.wire("ZRANGE", "d", "0", "-1", "WITHSCORES") == b"*10\r\n" + bulk(
        b"d", b"3", b"x", b"3", b"b", b"4", b"a", b"5", b"c", b"6"
    )
    assert h.run("ZINTERSTORE", "d", "2", "z", "s", "AGGREGATE", "MAX") == 1
    assert h.wire("ZSCORE", "d", "a") == bulk(b"1")
    assert h.run("ZDIFFSTORE", "d", "2", "z", "s") == 3
    assert h.run("ZRANGESTORE", "d", "z", "1", "2", "BYSCORE") == 3
    h.propagated.clear()
    assert h.run("ZINTERSTORE", "d", "1", "nokey") == 0
    assert h.run("ZINTERSTORE", "d", "1", "nokey") == 0
    assert h.propagated == [(0, [b"ZINTERSTORE", b"d", b"1", b"nokey"])]
    assert wire3(h, "ZUNION", "2", "z", "s", "WITHSCORES").startswith(
        b"*5\r\n*2\r\n$1\r\nx\r\n,1\r\n"
    )
    assert h.run("ZINTERCARD", "2", "z", "s") == 1


def test_remrange(h: Harness) -> None:
    assert h.run("ZREMRANGEBYRANK", "z", "-2", "-1") == 2
    assert h.run("ZREMRANGEBYSCORE", "z", "(1", "inf") == 1
    assert h.run("ZREMRANGEBYSCORE", "z", "5", "6") == 0
    assert h.propagated == [
        (0, [b"ZREMRANGEBYRANK", b"z", b"-2", b"-1"]),
        (0, [b"ZREMRANGEBYSCORE", b"z", b"(1", b"inf"]),
    ]


def test_zrandmember(h: Harness) -> None:
    assert h.wire("ZRANDMEMBER", "z", "10") == b"*4\r\n" + bulk(b"c", b"b", b"d", b"a")
    picks = h.run("ZRANDMEMBER", "z", "-6", "WITHSCORES")
    assert isinstance(picks, list) and len(picks) == 12
    assert h.run("ZRANDMEMBER", "z") in (b"a", b"b", b"c", b"d")
    assert h.wire("ZRANDMEMBER", "nokey", "3") == b"*0\r\n"


def test_zscan(h: Harness) -> None:
    assert h.wire("ZSCAN", "z", "0") == b"*2\r\n$1\r\n0\r\n*8\r\n" + bulk(
        b"a", b"1", b"d", b"1.5", b"b", b"2", b"c", b"3"
    )
    assert wire3(
        h, "ZSCAN", "z", "0", "NOSCORES", "MATCH", "[a-b]"
    ) == b"*2\r\n$1\r\n0\r\n*2\r\n" + bulk(b"a", b"b")


PROPAGATION = [
    (["ZADD", "z", "1", "a"], []),
    (["ZADD", "z", "9", "a"], [[b"ZADD", b"z", b"9", b"a"]]),
    (["ZREM", "z", "nope"], []),
    (["ZPOPMIN", "z", "0"], []),
    (["ZMPOP", "1", "z", "MIN", "COUNT", "3"], [[b"ZPOPMIN", b"z", b"3"]]),
    (["BZPOPMAX", "z", "0"], [[b"ZPOPMAX", b"z"]]),
    (["ZRANGESTORE", "nowhere", "nokey", "0", "-1"], []),
    (["ZUNIONSTORE", "z", "1", "nokey"], [[b"ZUNIONSTORE", b"z", b"1", b"nokey"]]),
]


@pytest.mark.parametrize(("argv", "expected"), PROPAGATION)
def test_propagation_table(h: Harness, argv: list[str], expected: list[list[bytes]]) -> None:
    h.run(*argv)
    assert [a for _, a in h.propagated] == expected


def test_negative_zero_survives_only_in_skiplist_sized_sets() -> None:
    h = Harness()
    h.run("ZADD", "small", "1", "x")
    h.run("ZUNIONSTORE", "d", "1", "small", "WEIGHTS", "-0.0")
    assert h.wire("ZSCORE", "d", "x") == bulk(b"0")
    assert h.wire("ZUNION", "1", "small", "WEIGHTS", "-0.0", "WITHSCORES") == b"*2\r\n" + bulk(
        b"x", b"-0"
    )
    h.run("ZADD", "big", *[x for i in range(200) for x in ("1", f"m{i}")])
    h.run("ZADD", "big", "-0.0", "neg")
    assert h.wire("ZSCORE", "big", "neg") == bulk(b"-0")
