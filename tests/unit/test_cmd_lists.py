"""List commands through the in-process Harness: replies, deletion of emptied lists, blocking
requests and their re-run, and what goes down the replication stream (checked against
valkey-server 8.1.8's SYNC stream; see tests/integration/test_differential_lists_hashes.py)."""

from __future__ import annotations

from collections import deque

import pytest

from tests.unit.cmdutil import Harness
from valsync.commands import BlockRequest, CommandContext, execute
from valsync.resp.reply import NULL_ARRAY, OK, ErrorReply, Reply


def err(text: str) -> ErrorReply:
    return ErrorReply(text)


@pytest.fixture
def h() -> Harness:
    return Harness()


def run_ctx(
    h: Harness, *args: str, in_exec: bool = False, rerun: bool = False
) -> Reply | BlockRequest:
    """Run with a context the Harness does not expose (EXEC, a re-run after a wake-up)."""
    ctx = CommandContext(h.keyspace, h.client, h.now_ms, rng=h.rng)
    ctx.in_multi_exec = in_exec
    if rerun:
        h.client.extra["unblocked_rerun"] = True
    try:
        reply = execute(ctx, [a.encode() for a in args])
    finally:
        h.client.extra.pop("unblocked_rerun", None)
    h.propagated.extend((p.dbid, p.argv) for p in ctx.take_propagated())
    return reply


def test_push_pop_and_empty_list_is_deleted(h: Harness) -> None:
    assert h.run("RPUSH", "l", "a", "b") == 2
    assert h.run("LPUSH", "l", "x", "y") == 4
    assert h.run("LRANGE", "l", "0", "-1") == [b"y", b"x", b"a", b"b"]
    assert h.run("LPUSHX", "nokey", "a") == 0
    assert h.run("RPUSHX", "l", "z") == 5
    assert h.run("LPOP", "l") == b"y"
    assert h.run("RPOP", "l", "2") == [b"z", b"b"]
    assert h.run("LPOP", "l", "0") == []
    assert h.run("LPOP", "l", "5") == [b"x", b"a"]
    assert b"l" not in h.keyspace[0].data
    assert h.run("LPOP", "l") is None
    assert h.run("LPOP", "l", "3") == NULL_ARRAY
    assert h.run("LPOP", "l", "-1") == err("ERR value is out of range, must be positive")
    assert h.run("LPOP", "l", "1", "2") == err("ERR wrong number of arguments for 'lpop' command")


def test_wrongtype(h: Harness) -> None:
    h.keyspace[0].set(b"s", b"x")
    wrong = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    for argv in (("LPUSH", "s", "a"), ("LLEN", "s"), ("LRANGE", "s", "0", "1"), ("LPOS", "s", "a")):
        assert h.run(*argv) == wrong
    h.run("RPUSH", "l", "a")
    assert h.run("RPOPLPUSH", "l", "s") == wrong
    assert h.run("LRANGE", "l", "0", "-1") == [b"a"]
    # the destination's type only matters once there is something to move
    assert h.run("RPOPLPUSH", "nokey", "s") is None


def test_ranges_and_trim(h: Harness) -> None:
    h.run("RPUSH", "l", *"abcdef")
    assert h.run("LRANGE", "l", "-2", "100") == [b"e", b"f"]
    assert h.run("LRANGE", "l", "4", "2") == []
    assert h.run("LINDEX", "l", "-1") == b"f"
    assert h.run("LINDEX", "l", "6") is None
    assert h.run("LINDEX", "nokey", "x") is None
    assert h.run("LTRIM", "l", "1", "-2") == OK
    assert h.run("LRANGE", "l", "0", "-1") == [b"b", b"c", b"d", b"e"]
    assert h.run("LTRIM", "l", "5", "1") == OK
    assert b"l" not in h.keyspace[0].data


def test_lset_linsert_lrem(h: Harness) -> None:
    assert h.run("LSET", "nokey", "x", "a") == err("ERR no such key")
    h.run("RPUSH", "l", "a", "b", "a", "c", "a")
    assert h.run("LSET", "l", "9", "z") == err("ERR index out of range")
    # like Valkey, the index is truncated to a C int
    assert h.run("LSET", "l", "4294967296", "A") == OK
    assert h.run("LINSERT", "l", "middle", "a", "x") == err("ERR syntax error")
    assert h.run("LINSERT", "l", "AFTER", "b", "q") == 6
    assert h.run("LINSERT", "l", "before", "zz", "q") == -1
    assert h.run("LREM", "l", "-1", "a") == 1
    assert h.run("LRANGE", "l", "0", "-1") == [b"A", b"b", b"q", b"a", b"c"]
    assert h.run("LREM", "l", "0", "q") == 1


def test_lpos(h: Harness) -> None:
    h.run("RPUSH", "l", *"abcabc")
    assert h.run("LPOS", "l", "c") == 2
    assert h.run("LPOS", "l", "c", "RANK", "-1") == 5
    assert h.run("LPOS", "l", "c", "COUNT", "0") == [2, 5]
    assert h.run("LPOS", "l", "c", "RANK", "2", "COUNT", "1") == [5]
    assert h.run("LPOS", "l", "c", "MAXLEN", "2") is None
    assert h.run("LPOS", "l", "a", "RANK", "0") == err(
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "
        "negative to start from the end of the list"
    )
    assert h.run("LPOS", "l", "a", "COUNT", "-1") == err("ERR COUNT can't be negative")
    assert h.run("LPOS", "nokey", "a", "COUNT", "1") == []


def test_lmove_and_lmpop(h: Harness) -> None:
    h.run("RPUSH", "l", "a", "b", "c")
    assert h.run("LMOVE", "l", "l", "LEFT", "right") == b"a"
    assert h.run("LRANGE", "l", "0", "-1") == [b"b", b"c", b"a"]
    assert h.run("LMOVE", "l", "m", "up", "left") == err("ERR syntax error")
    assert h.run("LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "5") == [b"l", [b"a", b"c", b"b"]]
    assert h.run("LMPOP", "1", "l", "LEFT") == NULL_ARRAY
    assert h.run("LMPOP", "0", "l", "LEFT") == err("ERR numkeys should be greater than 0")
    assert h.run("LMPOP", "1", "l", "LEFT", "COUNT", "0") == err(
        "ERR count should be greater than 0"
    )
    assert h.run("LMPOP", "2", "l", "LEFT") == err("ERR syntax error")


# --- blocking --------------------------------------------------------------------------------


def test_blocking_pop_returns_block_request(h: Harness) -> None:
    req = run_ctx(h, "BLPOP", "a", "b", "1.5")
    assert req == BlockRequest(
        keys=(b"a", b"b"), deadline_ms=h.now_ms + 1500, timeout_reply=NULL_ARRAY
    )
    forever = run_ctx(h, "BRPOPLPUSH", "a", "b", "0")
    assert isinstance(forever, BlockRequest)
    assert forever.deadline_ms is None and forever.keys == (b"a",)
    assert h.propagated == []


def test_blocking_rerun_pops_once_pushed_and_keeps_deadline(h: Harness) -> None:
    first = run_ctx(h, "BLMPOP", "2", "1", "a", "LEFT", "COUNT", "2")
    assert isinstance(first, BlockRequest)
    h.now_ms += 500
    h.run("RPUSH", "other", "x")
    again = run_ctx(h, "BLMPOP", "2", "1", "a", "LEFT", "COUNT", "2", rerun=True)
    assert isinstance(again, BlockRequest) and again.deadline_ms == first.deadline_ms
    h.run("RPUSH", "a", "1", "2", "3")
    h.propagated.clear()
    assert run_ctx(h, "BLMPOP", "2", "1", "a", "LEFT", "COUNT", "2", rerun=True) == [
        b"a",
        [b"1", b"2"],
    ]
    assert h.propagated == [(0, [b"LPOP", b"a", b"2"])]


def test_blocking_inside_exec_answers_at_once(h: Harness) -> None:
    assert run_ctx(h, "BLPOP", "a", "0", in_exec=True) == NULL_ARRAY
    assert run_ctx(h, "BLMPOP", "0", "1", "a", "LEFT", in_exec=True) == NULL_ARRAY
    assert run_ctx(h, "BRPOPLPUSH", "a", "b", "0", in_exec=True) is None
    assert run_ctx(h, "BLMOVE", "a", "b", "LEFT", "LEFT", "0", in_exec=True) is None


def test_blocking_timeout_errors(h: Harness) -> None:
    assert run_ctx(h, "BLPOP", "a", "x") == err("ERR timeout is not a float or out of range")
    assert run_ctx(h, "BLPOP", "a", "nan") == err("ERR timeout is not a float or out of range")
    assert run_ctx(h, "BLPOP", "a", "-1") == err("ERR timeout is negative")
    assert run_ctx(h, "BLPOP", "a", "inf") == err("ERR timeout is out of range")
    assert run_ctx(h, "BLMOVE", "a", "b", "up", "left", "x") == err("ERR syntax error")


def test_blocking_served_at_once(h: Harness) -> None:
    h.run("RPUSH", "l", "a", "b", "c")
    h.keyspace[0].set(b"s", b"x")
    assert run_ctx(h, "BLPOP", "nokey", "l", "0") == [b"l", b"a"]
    assert run_ctx(h, "BLPOP", "s", "l", "0") == err(
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    assert run_ctx(h, "BLMOVE", "l", "m", "RIGHT", "left", "0") == b"c"
    assert h.keyspace[0].data[b"m"] == deque([b"c"])


# --- propagation (Valkey 8.1.8's stream, verified with SYNC) ---------------------------------

PROPAGATION: list[tuple[list[str], list[list[bytes]]]] = [
    (
        ["rpush", "l", "a", "b", "c", "d", "e", "f", "g"],
        [[b"rpush", b"l", b"a", b"b", b"c", b"d", b"e", b"f", b"g"]],
    ),
    (["LPOP", "l", "0"], []),
    (["LPOP", "nokey"], []),
    (["lpop", "l", "1"], [[b"lpop", b"l", b"1"]]),
    (["LMPOP", "1", "l", "right", "COUNT", "9"], [[b"RPOP", b"l", b"6"]]),
    (["RPUSH", "l", "1", "2", "3", "4"], [[b"RPUSH", b"l", b"1", b"2", b"3", b"4"]]),
    (["BLPOP", "nokey", "l", "0"], [[b"LPOP", b"l"]]),
    (["BRPOP", "l", "1"], [[b"RPOP", b"l"]]),
    (["BLMOVE", "l", "m", "left", "RIGHT", "0"], [[b"LMOVE", b"l", b"m", b"left", b"RIGHT"]]),
    (["RPUSH", "l", "5"], [[b"RPUSH", b"l", b"5"]]),
    (["BRPOPLPUSH", "l", "m", "0"], [[b"RPOPLPUSH", b"l", b"m"]]),
    (["BLMPOP", "0", "1", "m", "LEFT"], [[b"LPOP", b"m", b"1"]]),
    (["LTRIM", "m", "0", "-1"], []),
    (["LREM", "m", "0", "zz"], []),
    (["LINSERT", "m", "BEFORE", "zz", "q"], []),
    (["LSET", "m", "0", "w"], [[b"LSET", b"m", b"0", b"w"]]),
    (["LMOVE", "m", "m", "LEFT", "LEFT"], [[b"LMOVE", b"m", b"m", b"LEFT", b"LEFT"]]),
]


@pytest.mark.parametrize(
    ("argv", "expected"), PROPAGATION, ids=[" ".join(a) for a, _ in PROPAGATION]
)
def test_propagation_table(argv: list[str], expected: list[list[bytes]]) -> None:
    h = Harness()
    for prev, _ in PROPAGATION:
        if prev is argv:
            break
        run_ctx(h, *prev)
    h.propagated.clear()
    run_ctx(h, *argv)
    assert [p for _, p in h.propagated] == expected


def test_rerun_stays_blocked_until_a_key_holds_a_list(h: Harness) -> None:
    first = run_ctx(h, "BLPOP", "s", "k", "0")
    assert isinstance(first, BlockRequest)
    h.keyspace[0].set(b"s", b"x")
    assert isinstance(run_ctx(h, "BLPOP", "s", "k", "0", rerun=True), BlockRequest)
    h.run("RPUSH", "k", "a")
    # served now: the re-run starts over and meets the string key first, as Valkey does
    assert run_ctx(h, "BLPOP", "s", "k", "0", rerun=True) == err(
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    h.keyspace[0].set(b"src", b"x")
    assert isinstance(
        run_ctx(h, "BLMOVE", "src", "d", "LEFT", "LEFT", "0", rerun=True), BlockRequest
    )
