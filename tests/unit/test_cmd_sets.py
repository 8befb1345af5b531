"""Set commands through the Harness; expected bytes were taken from valkey-server 8.1.8.

Set replies carry members in Python set order, so multi-member replies are checked as sorted
member lists (the RESP type header is still checked exactly).
"""

from __future__ import annotations

import pytest

from tests.unit.cmdutil import Harness
from valsync.resp import SetReply


@pytest.fixture
def h() -> Harness:
    return Harness()


def members(reply: object) -> list[bytes]:
    assert isinstance(reply, SetReply | list)
    items = reply.items if isinstance(reply, SetReply) else reply
    assert all(isinstance(m, bytes) for m in items)
    return sorted(items)  # type: ignore[type-var]


def test_sadd_srem_scard(h: Harness) -> None:
    assert h.run("SADD", "s", "a", "b", "a") == 2
    assert h.run("SADD", "s", "a") == 0
    assert h.run("SCARD", "s") == 2
    assert h.run("SREM", "s", "a", "x") == 1
    assert h.run("SREM", "s", "b") == 1
    assert b"s" not in h.keyspace[0].data
    assert h.run("SREM", "s", "b") == 0
    assert h.run("SCARD", "s") == 0


def test_wrongtype(h: Harness) -> None:
    h.run("ZADD", "z", "1", "a")
    wrong = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    for argv in (
        ["SADD", "z", "a"],
        ["SMEMBERS", "z"],
        ["SINTER", "nokey", "z"],
        ["SMOVE", "z", "x", "a"],
    ):
        assert h.wire(*argv) == wrong
    h.run("SADD", "s", "a")
    assert h.wire("SMOVE", "s", "z", "a") == wrong
    assert h.wire("SMOVE", "nokey", "z", "a") == b":0\r\n"


def test_smembers_shapes(h: Harness) -> None:
    assert h.wire("SMEMBERS", "nokey") == b"*0\r\n"
    assert h.wire("SMEMBERS", "nokey", resp=3) == b"~0\r\n"
    h.run("SADD", "s", "x")
    assert h.wire("SMEMBERS", "s", resp=3) == b"~1\r\n$1\r\nx\r\n"
    assert h.wire("SISMEMBER", "s", "x") == b":1\r\n"
    assert h.wire("SMISMEMBER", "s", "x", "y") == b"*2\r\n:1\r\n:0\r\n"
    assert h.wire("SMISMEMBER", "nokey", "x") == b"*1\r\n:0\r\n"


def test_set_algebra(h: Harness) -> None:
    h.run("SADD", "a", "1", "2", "3")
    h.run("SADD", "b", "2", "3", "4")
    assert members(h.run("SINTER", "a", "b")) == [b"2", b"3"]
    assert h.wire("SINTER", "a", "nokey", resp=3) == b"~0\r\n"
    assert members(h.run("SUNION", "a", "b", "nokey")) == [b"1", b"2", b"3", b"4"]
    assert members(h.run("SDIFF", "a", "b")) == [b"1"]
    assert h.wire("SDIFF", "a", "a") == b"*0\r\n"
    assert h.run("SINTERCARD", "2", "a", "b") == 2
    assert h.run("SINTERCARD", "2", "a", "b", "LIMIT", "1") == 1
    assert h.run("SINTERSTORE", "d", "a", "b") == 2
    assert h.run("SDIFFSTORE", "d", "a", "a") == 0
    assert b"d" not in h.keyspace[0].data
    assert h.run("SUNIONSTORE", "d", "a", "b") == 4


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["SINTERCARD", "0", "a"], "ERR numkeys should be greater than 0"),
        (["SINTERCARD", "x", "a"], "ERR numkeys should be greater than 0"),
        (["SINTERCARD", "3", "a", "b"], "ERR Number of keys can't be greater than number of args"),
        (["SINTERCARD", "1", "a", "LIMIT", "-1"], "ERR LIMIT can't be negative"),
        (["SINTERCARD", "1", "a", "LIMIT"], "ERR syntax error"),
        (["SPOP", "s", "-1"], "ERR value is out of range, must be positive"),
        (["SPOP", "s", "x"], "ERR value is out of range, must be positive"),
        (["SPOP", "s", "1", "2"], "ERR syntax error"),
        (["SRANDMEMBER", "s", "x"], "ERR value is not an integer or out of range"),
        (
            ["SRANDMEMBER", "s", "-9223372036854775808"],
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ),
        (["SSCAN", "s", "x"], "ERR invalid cursor"),
        (["SSCAN", "s", "0", "COUNT", "0"], "ERR syntax error"),
        (["SSCAN", "s", "0", "NOSCORES"], "ERR NOSCORES option can only be used in ZSCAN"),
    ],
)
def test_errors(h: Harness, argv: list[str], error: str) -> None:
    h.run("SADD", "s", "a")
    assert h.wire(*argv) == b"-" + error.encode() + b"\r\n"


def test_spop_and_propagation(h: Harness) -> None:
    h.run("SADD", "s", "a", "b", "c")
    h.propagated.clear()
    popped = h.run("SPOP", "s")
    assert isinstance(popped, bytes)
    assert h.propagated == [(0, [b"SREM", b"s", popped])]
    h.propagated.clear()
    some = members(h.run("SPOP", "s", "1"))
    assert h.propagated == [(0, [b"SREM", b"s", *some])]
    h.propagated.clear()
    rest = h.run("SPOP", "s", "10")
    assert isinstance(rest, SetReply) and len(rest.items) == 1
    assert h.propagated == [(0, [b"UNLINK", b"s"])]
    assert h.wire("SPOP", "s", "3", resp=3) == b"~0\r\n"
    assert h.wire("SPOP", "s") == b"$-1\r\n"


def test_spop_batches_srem_by_1024(h: Harness) -> None:
    h.run("SADD", "big", *[str(i) for i in range(3000)])
    h.propagated.clear()
    h.run("SPOP", "big", "2500")
    assert [len(argv) - 2 for _, argv in h.propagated] == [1024, 1024, 452]
    assert h.run("SCARD", "big") == 500


def test_srandmember_counts(h: Harness) -> None:
    h.run("SADD", "s", "a", "b", "c")
    assert len(members(h.run("SRANDMEMBER", "s", "2"))) == 2
    assert members(h.run("SRANDMEMBER", "s", "10")) == [b"a", b"b", b"c"]
    many = h.run("SRANDMEMBER", "s", "-7")
    assert isinstance(many, list) and len(many) == 7
    assert h.wire("SRANDMEMBER", "nokey", "3") == b"*0\r\n"
    assert h.wire("SRANDMEMBER", "nokey") == b"$-1\r\n"
    assert h.run("SCARD", "s") == 3


def test_smove(h: Harness) -> None:
    h.run("SADD", "a", "x", "y")
    assert h.run("SMOVE", "a", "b", "x") == 1
    assert h.run("SMOVE", "a", "b", "nope") == 0
    assert h.run("SMOVE", "a", "a", "y") == 1
    assert h.run("SMOVE", "a", "b", "y") == 1
    assert b"a" not in h.keyspace[0].data
    assert members(h.run("SMEMBERS", "b")) == [b"x", b"y"]


def test_sscan(h: Harness) -> None:
    assert h.wire("SSCAN", "nokey", "0", "BOGUS") == b"*2\r\n$1\r\n0\r\n*0\r\n"
    h.run("SADD", "s", "a1", "a2", "b1")
    reply = h.run("SSCAN", "s", "0", "MATCH", "a*")
    assert isinstance(reply, list) and reply[0] == b"0"
    assert members(reply[1]) == [b"a1", b"a2"]


def test_sscan_large_set_visits_every_member_once(h: Harness) -> None:
    h.run("SADD", "s", *[f"m{i}" for i in range(1000)])
    seen: list[bytes] = []
    cursor = b"0"
    while True:
        reply = h.run("SSCAN", "s", cursor, "COUNT", "37")
        assert isinstance(reply, list)
        cursor = reply[0]  # type: ignore[assignment]
        seen += members(reply[1])
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(f"m{i}".encode() for i in range(1000))


def test_sscan_of_a_changing_big_set_sees_every_lasting_member(h: Harness) -> None:
    """The cached scan order is dropped on every change: members added or removed mid-scan
    never hide a member that was there throughout, and none is returned twice per pass."""
    h.run("SADD", "big", *[f"m{i}" for i in range(1000)])
    seen: list[bytes] = []
    cursor = b"0"
    for step in range(10_000):
        reply = h.run("SSCAN", "big", cursor, "COUNT", "7")
        assert isinstance(reply, list)
        cursor, batch = reply[0], reply[1]
        seen.extend(batch)
        h.run("SADD", "big", f"new{step}")
        h.run("SREM", "big", f"m{999 - step}")
        if cursor == b"0":
            break
    assert cursor == b"0"
    lasting = {f"m{i}".encode() for i in range(1000 - step - 1)}
    assert lasting <= set(seen)
    assert len(seen) == len(set(seen))
