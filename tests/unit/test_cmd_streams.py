"""Stream handlers without a server: blocking requests and their re-run, node layout, the
value-level RDB codec, and what consumer-group reads put on the replication stream (checked
against valkey 8.1.8 in tests/integration/test_differential_streams.py)."""

from __future__ import annotations

import pytest

from tests.unit.cmdutil import Harness
from valsync.commands import BlockRequest
from valsync.keyspace import StreamValue
from valsync.keyspace.stream import NODE_MAX_ENTRIES, StreamError
from valsync.rdb.dump_payload import create_dump_payload, load_dump_payload
from valsync.rdb.format import RdbError
from valsync.rdb.stream import decode_stream_payload, encode_stream_payload
from valsync.resp import NullArray


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_xread_blocks_with_dollar_resolved_to_the_last_id(h: Harness) -> None:
    h.run("XADD", "s", "5-1", "f", "v")
    argv = [b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"nokey", b"$", b"$"]
    from valsync.commands import CommandContext, execute

    ctx = CommandContext(h.keyspace, h.client, h.now_ms)
    block = execute(ctx, argv)
    assert isinstance(block, BlockRequest)
    assert block.keys == (b"s", b"nokey") and block.deadline_ms is None
    assert isinstance(block.timeout_reply, NullArray)
    assert argv[-2:] == [b"5-1", b"0-0"]
    h.run("XADD", "s", "6-0", "g", "w")
    h.client.extra["unblocked_rerun"] = True
    again = execute(CommandContext(h.keyspace, h.client, h.now_ms), argv)
    assert again == [[b"s", [[b"6-0", [b"g", b"w"]]]]]


def test_xread_rerun_stays_blocked_until_a_key_holds_a_stream(h: Harness) -> None:
    assert isinstance(h.run("XREAD", "BLOCK", "100", "STREAMS", "s", "0"), BlockRequest)
    deadline = h.client.extra["stream_block_deadline"]
    h.keyspace[0].set(b"s", b"a string now")
    h.client.extra["unblocked_rerun"] = True
    h.now_ms += 50
    again = h.run("XREAD", "BLOCK", "100", "STREAMS", "s", "0")
    assert isinstance(again, BlockRequest) and again.deadline_ms == deadline


def test_xreadgroup_in_multi_does_not_block(h: Harness) -> None:
    h.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    h.client.in_multi = True
    reply = h.run("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    assert isinstance(reply, NullArray)


def test_xreadgroup_rerun_after_destroy_answers_nogroup(h: Harness) -> None:
    h.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    argv = ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    assert isinstance(h.run(*argv), BlockRequest)
    h.run("XGROUP", "DESTROY", "s", "g")
    h.client.extra["unblocked_rerun"] = True
    assert h.wire(*argv).startswith(b"-NOGROUP No such key 's' or consumer group 'g'")


def test_noack_read_propagates_consumer_creation_and_group_position(h: Harness) -> None:
    h.run("XADD", "s", "1-1", "f", "v")
    h.run("XGROUP", "CREATE", "s", "g", "0")
    h.propagated.clear()
    h.run("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">")
    assert h.propagated == [
        (0, [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"]),
        (0, [b"XGROUP", b"SETID", b"s", b"g", b"1-1", b"ENTRIESREAD", b"1"]),
    ]


def test_replica_applies_limit_without_tilde(h: Harness) -> None:
    """A primary's XADD ... MAXLEN = n LIMIT m (an approximate trim made exact) must apply."""
    h.client.is_primary_link = True
    for i in range(1, 6):
        h.run("XADD", "s", f"{i}-0", "f", "v")
    assert h.wire("XADD", "s", "MAXLEN", "=", "2", "LIMIT", "1", "6-0", "f", "v") == (
        b"$3\r\n6-0\r\n"
    )
    assert h.run("XLEN", "s") == 2
    h.client.is_primary_link = False
    assert h.wire("XTRIM", "s", "MAXLEN", "1", "LIMIT", "1").startswith(
        b"-ERR syntax error, LIMIT cannot be used without the special ~ option"
    )


def test_nodes_split_at_the_entry_limit_and_approx_trim_drops_whole_nodes() -> None:
    s = StreamValue()
    for i in range(1, 2 * NODE_MAX_ENTRIES + 11):
        s.append((i, 0), [b"f", b"%d" % i])
    assert [n.live for n in s.nodes.values()] == [100, 100, 10]
    assert s.trim(150, None, True, 0) == 0
    assert s.trim(110, None, True, 0) == 100
    assert s.length == 110 and s.first_id == (101, 0)
    assert s.trim(None, (205, 0), False, 0) == 104
    assert s.first_id == (205, 0) and s.length == 6


def test_explicit_ids_must_grow() -> None:
    s = StreamValue()
    s.append(s.next_id((5, 5), True, 0), [b"f", b"v"])
    with pytest.raises(StreamError):
        s.next_id((5, 5), True, 0)
    assert s.next_id((5, 0), False, 0) == (5, 6)
    assert s.next_id((6, 0), False, 0) == (6, 0)


def test_value_codec_round_trips_groups_and_tombstones(h: Harness) -> None:
    for argv in (
        ("XADD", "s", "1-1", "a", "1"),
        ("XADD", "s", "1-2", "b", "2", "c", "3"),
        ("XADD", "s", "2-0", "a", "4"),
        ("XDEL", "s", "1-2"),
        ("XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "0"),
        ("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "bob"),
    ):
        h.run(*argv)
    s = h.keyspace[0].data[b"s"]
    assert isinstance(s, StreamValue)
    payload = encode_stream_payload(s)
    back = decode_stream_payload(payload)
    assert encode_stream_payload(back) == payload
    assert back == s and back.max_deleted_id == (1, 2)
    assert list(back.groups[b"g"].consumers) == [b"alice", b"bob"]
    with pytest.raises(RdbError):
        decode_stream_payload(payload[:-3])
    with pytest.raises(RdbError):
        decode_stream_payload(payload + b"\x00")


def test_an_empty_stream_dumps_and_restores(h: Harness) -> None:
    h.run("XADD", "s", "1-1", "a", "1")
    h.run("XDEL", "s", "1-1")
    value = h.keyspace[0].data[b"s"]
    assert isinstance(value, StreamValue) and value.length == 0
    restored = load_dump_payload(create_dump_payload(value))
    assert isinstance(restored, StreamValue) and restored.last_id == (1, 1)


def test_copy_is_deep(h: Harness) -> None:
    h.run("XADD", "s", "1-1", "a", "1")
    h.run("XGROUP", "CREATE", "s", "g", "0")
    h.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    s = h.keyspace[0].data[b"s"]
    assert isinstance(s, StreamValue)
    twin = s.copy()
    twin.groups[b"g"].ack((1, 1))
    assert len(s.groups[b"g"].pel) == 1 and len(twin.groups[b"g"].consumers[b"c"].pel) == 0
