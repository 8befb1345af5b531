"""ReplicationBacklog ranges, wraparound, trimming and resizing; ReplicationIds shift rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valsync.replication import (
    BLOCK_SIZE,
    MIN_BACKLOG_SIZE,
    ZERO_REPLID,
    ReplicationBacklog,
    ReplicationIds,
    backlog_info_fields,
    is_replid,
    replid_from_bytes,
)

A = "a" * 40
B = "b" * 40
C = "c" * 40


def test_empty_backlog_invariants() -> None:
    bl = ReplicationBacklog(1 << 20, start_offset=0)
    assert bl.histlen == 0
    assert bl.first_byte_offset == 1
    assert bl.can_serve(1)
    assert not bl.can_serve(2)
    assert not bl.can_serve(0)
    assert bl.read_from(1) == b""
    assert backlog_info_fields(bl, 10485760) == [
        ("repl_backlog_active", "1"),
        ("repl_backlog_size", "10485760"),
        ("repl_backlog_first_byte_offset", "1"),
        ("repl_backlog_histlen", "0"),
    ]


def test_no_backlog_info_is_zero() -> None:
    assert backlog_info_fields(None, 10485760) == [
        ("repl_backlog_active", "0"),
        ("repl_backlog_size", "10485760"),
        ("repl_backlog_first_byte_offset", "0"),
        ("repl_backlog_histlen", "0"),
    ]


def test_created_at_offset_continues_from_it() -> None:
    bl = ReplicationBacklog(1 << 20, start_offset=927)
    assert bl.first_byte_offset == 928
    bl.append(b"*1\r\n$4\r\nping\r\n")
    assert bl.end_offset == 941
    assert bl.first_byte_offset == 928
    assert bl.read_from(928) == b"*1\r\n$4\r\nping\r\n"
    assert bl.read_from(942) == b""


def test_range_and_read_from_every_offset() -> None:
    bl = ReplicationBacklog(MIN_BACKLOG_SIZE)
    data = bytes(range(256)) * 10
    for i in range(0, len(data), 37):
        bl.append(data[i : i + 37])
    assert bl.end_offset == len(data)
    assert bl.first_byte_offset == 1
    for off in range(1, len(data) + 2):
        assert bl.read_from(off) == data[off - 1 :]
    with pytest.raises(ValueError):
        bl.read_from(len(data) + 2)


def test_trims_whole_blocks_histlen_may_exceed_size() -> None:
    bl = ReplicationBacklog(MIN_BACKLOG_SIZE)
    data = bytes((i * 7) % 251 for i in range(5 * BLOCK_SIZE + 123))
    for i in range(0, len(data), 1000):
        bl.append(data[i : i + 1000])
    assert bl.histlen >= bl.size
    assert bl.histlen - bl.size <= BLOCK_SIZE
    assert bl.first_byte_offset == bl.end_offset - bl.histlen + 1
    first = bl.first_byte_offset
    assert bl.read_from(first) == data[first - 1 :]
    assert not bl.can_serve(first - 1)
    assert bl.can_serve(bl.end_offset + 1)


def test_large_single_append_and_wraparound_many_times() -> None:
    bl = ReplicationBacklog(MIN_BACKLOG_SIZE * 2)
    total = bytearray()
    for n in range(200):
        chunk = bytes([n % 256]) * (n * 53 % 7000 + 1)
        bl.append(chunk)
        total += chunk
        assert bl.first_byte_offset == bl.end_offset - bl.histlen + 1
        assert bl.histlen >= min(len(total), bl.size)
    assert bl.read_from(bl.first_byte_offset) == bytes(total[-bl.histlen :])
    big = b"x" * (10 * BLOCK_SIZE)
    bl.append(big)
    assert bl.read_from(bl.first_byte_offset) == big[-bl.histlen :]


def test_a_pin_keeps_bytes_past_size_until_moved_or_removed() -> None:
    bl = ReplicationBacklog(MIN_BACKLOG_SIZE)
    bl.append(b"a" * 100)
    bl.pin(7, 50)  # a replica still needs the bytes from offset 50 on
    data = bytes(i % 251 for i in range(10 * BLOCK_SIZE))
    for i in range(0, len(data), 3000):
        bl.append(data[i : i + 3000])
    assert bl.first_byte_offset == 1 and bl.histlen == 100 + len(data)
    assert bl.allocated == -(-bl.histlen // BLOCK_SIZE) * BLOCK_SIZE
    bl.pin(7, 4 * BLOCK_SIZE + 1)  # it sent four blocks: those may go
    assert bl.first_byte_offset == 4 * BLOCK_SIZE + 1
    bl.unpin(7)
    assert bl.histlen - bl.size <= BLOCK_SIZE
    assert bl.read_from(bl.first_byte_offset) == (b"a" * 100 + data)[-bl.histlen :]


def test_chunk_from_walks_the_whole_history_block_by_block() -> None:
    bl = ReplicationBacklog(MIN_BACKLOG_SIZE)
    data = bytes(i % 253 for i in range(3 * BLOCK_SIZE + 77))
    bl.append(data[:1000])
    bl.append(data[1000:])
    for start in (1, 2, BLOCK_SIZE, BLOCK_SIZE + 1, len(data)):
        got = bytearray()
        offset = max(start, bl.first_byte_offset)
        while chunk := bl.chunk_from(offset):
            assert len(chunk) <= BLOCK_SIZE
            got += chunk
            offset += len(chunk)
        assert got == data[offset - len(got) - 1 :] and offset == bl.end_offset + 1
    with pytest.raises(ValueError):
        bl.chunk_from(bl.end_offset + 2)


def test_chunk_from_takes_whole_blocks_up_to_a_limit() -> None:
    bl = ReplicationBacklog(1 << 20)
    data = bytes(i % 241 for i in range(5 * BLOCK_SIZE + 300))
    for i in range(0, len(data), 700):
        bl.append(data[i : i + 700])
    limit = 3 * BLOCK_SIZE
    for start in (1, 10, BLOCK_SIZE + 1, 4 * BLOCK_SIZE + 5, len(data)):
        chunk = bl.chunk_from(start, limit)
        in_first = BLOCK_SIZE - (start - 1) % BLOCK_SIZE
        # the rest of its block, then whole blocks while within the limit
        whole = (limit - in_first) // BLOCK_SIZE
        assert bytes(chunk) == data[start - 1 : start - 1 + in_first + whole * BLOCK_SIZE]
        assert len(chunk) <= limit
    assert bytes(bl.chunk_from(len(data) - 5, limit)) == data[-6:]


def test_small_appends_past_a_pin_trim_once_it_moves() -> None:
    bl = ReplicationBacklog(MIN_BACKLOG_SIZE)
    command = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    bl.append(command)
    bl.pin(1, 1)
    for _ in range(4 * BLOCK_SIZE // len(command)):
        bl.append(command)
    assert bl.first_byte_offset == 1  # held by the pin
    bl.pin(1, bl.end_offset + 1)  # all sent
    assert bl.histlen - bl.size <= BLOCK_SIZE
    before = bl.first_byte_offset
    for _ in range(4 * BLOCK_SIZE // len(command)):
        bl.append(command)
        assert bl.histlen - bl.size <= BLOCK_SIZE
        bl.pin(1, bl.end_offset + 1)
    assert bl.first_byte_offset > before
    assert (
        bl.read_from(bl.first_byte_offset)
        == (command * (bl.histlen // len(command) + 1))[-bl.histlen :]
    )


def test_views_survive_later_appends() -> None:
    bl = ReplicationBacklog()
    bl.append(b"a" * (BLOCK_SIZE + 5))
    views = list(bl.iter_from(1))
    bl.append(b"b" * 100)
    assert b"".join(views) == b"a" * (BLOCK_SIZE + 5)


def test_resize_minimum_and_trim() -> None:
    bl = ReplicationBacklog(1 << 20)
    bl.append(b"y" * (200 * 1024))
    assert bl.histlen == 200 * 1024
    bl.resize(1)
    assert bl.size == MIN_BACKLOG_SIZE
    assert bl.histlen <= MIN_BACKLOG_SIZE + BLOCK_SIZE
    assert bl.first_byte_offset == bl.end_offset - bl.histlen + 1
    assert bl.read_from(bl.first_byte_offset) == b"y" * bl.histlen
    assert ReplicationBacklog(5).size == MIN_BACKLOG_SIZE


def test_clear_and_reset() -> None:
    bl = ReplicationBacklog()
    bl.append(b"abc")
    bl.clear()
    assert (bl.histlen, bl.first_byte_offset, bl.end_offset) == (0, 4, 3)
    bl.reset(100)
    assert (bl.histlen, bl.first_byte_offset) == (0, 101)


def test_iter_from_is_zero_copy_chunks() -> None:
    bl = ReplicationBacklog()
    bl.append(b"z" * (BLOCK_SIZE + 10))
    chunks = list(bl.iter_from(5))
    assert all(isinstance(c, memoryview) for c in chunks)
    assert b"".join(chunks) == b"z" * (BLOCK_SIZE + 6)


def test_ids_new_history_and_shift() -> None:
    ids = ReplicationIds(A, master_repl_offset=163)
    assert ids.replid2 == ZERO_REPLID and ids.second_repl_offset == -1
    ids.shift_replication_id(B)
    assert (ids.replid, ids.replid2, ids.second_repl_offset) == (B, A, 164)
    assert ids.accepts(A, 164) and not ids.accepts(A, 165)
    assert ids.accepts(B.upper(), 10_000)
    ids.new_history(C)
    assert (ids.replid, ids.replid2, ids.second_repl_offset) == (C, ZERO_REPLID, -1)


def test_ids_adopt_continue_and_full_sync() -> None:
    ids = ReplicationIds(A, master_repl_offset=1108)
    assert not ids.adopt_continue(None)
    assert not ids.adopt_continue(A)
    assert ids.adopt_continue(B)
    # replica-8.1.8-classic-eof: after +CONTINUE feedface..., replid2 = 5ca1ab1e..., second 1109
    assert (ids.replid, ids.replid2, ids.second_repl_offset) == (B, A, 1109)
    ids.adopt_full_sync(C, 1000)
    assert (ids.replid, ids.replid2, ids.master_repl_offset) == (C, ZERO_REPLID, 1000)


def test_ids_restore_from_rdb() -> None:
    ids = ReplicationIds(ZERO_REPLID)
    ids.restore_from_rdb(new_replid=B, rdb_replid=A, rdb_offset=50)
    assert (ids.replid, ids.replid2, ids.second_repl_offset, ids.master_repl_offset) == (
        B,
        A,
        51,
        50,
    )


def test_replid_helpers() -> None:
    rid = replid_from_bytes(bytes(range(20)))
    assert is_replid(rid)
    assert not is_replid(rid.upper())
    with pytest.raises(ValueError):
        replid_from_bytes(b"short")


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=5 * BLOCK_SIZE),
    start=st.integers(min_value=0, max_value=10**12),
    appends=st.lists(st.integers(min_value=0, max_value=3 * BLOCK_SIZE), max_size=30),
)
def test_backlog_matches_reference_model(size: int, start: int, appends: list[int]) -> None:
    """Whatever is kept is exactly the tail of everything appended, and never too little."""
    bl = ReplicationBacklog(size, start_offset=start)
    everything = bytearray()
    for i, n in enumerate(appends):
        chunk = bytes([i % 251]) * n
        bl.append(chunk)
        everything += chunk
        assert bl.end_offset == start + len(everything)
        assert bl.first_byte_offset == bl.end_offset - bl.histlen + 1
        assert bl.histlen >= min(len(everything), bl.size)
        assert bl.histlen <= max(bl.size + BLOCK_SIZE, BLOCK_SIZE) + n
        tail = bytes(everything[len(everything) - bl.histlen :])
        assert bl.read_from(bl.first_byte_offset) == tail
        assert not bl.can_serve(bl.first_byte_offset - 1)
        assert bl.can_serve(bl.end_offset + 1) and not bl.can_serve(bl.end_offset + 2)
