"""Client memory accounting and ``maxmemory-clients`` eviction order (sans-IO)."""

from __future__ import annotations

from valsync.client_memory import (
    CLIENT_STRUCT_BYTES,
    WATCHED_KEY_BYTES,
    client_memory,
    clients_to_evict,
)
from valsync.commands.context import ClientState
from valsync.resp.request import RequestParser


def _client(cid: int, no_evict: bool = False) -> ClientState:
    client = ClientState(id=cid)
    client.no_evict = no_evict
    return client


def test_big_argument_is_counted_whole_as_soon_as_its_header_arrives() -> None:
    parser = RequestParser()
    size = 100_000
    parser.feed(b"*2\r\n$3\r\nset\r\n$%d\r\n" % size + b"v" * 10)
    assert parser.next_argv() is None
    qbuf, free, allocated = parser.query_buffer()
    # the bytes before the big argument left the query buffer, as in Valkey
    assert qbuf == 10
    assert allocated == size + 2
    assert free == size + 2 - 10
    parser.feed(b"v" * (size - 10) + b"\r\n")
    assert parser.next_argv() is not None
    assert parser.query_buffer() == (0, 0, 0)


def test_small_incomplete_command_counts_as_received() -> None:
    parser = RequestParser()
    partial = b"*2\r\n$3\r\nget\r\n$5\r\nab"
    parser.feed(partial)
    assert parser.next_argv() is None
    assert parser.query_buffer() == (len(partial), 0, len(partial))


def test_memory_sums_argv_transaction_watches_and_output() -> None:
    client = _client(1)
    client.watched = {(0, b"a"), (0, b"b")}
    client.in_multi = True
    client.multi_queue = [[b"set", b"k", b"vvvv"]]
    mem = client_memory(client, (5, 0, 5), [b"client", b"list"], omem=300)
    assert mem.argv_mem == 10
    queued = len(b"setkvvvv") + 3 * 8 + 24
    assert mem.multi_mem == 2 * WATCHED_KEY_BYTES + queued
    assert mem.total == CLIENT_STRUCT_BYTES + 5 + 1024 + 300 + 10 + 16 + mem.multi_mem


def test_eviction_takes_the_largest_first_and_stops_below_the_limit() -> None:
    small, mid, big, keep = _client(1), _client(2), _client(3), _client(4, no_evict=True)
    sizes = [(small, 40_000), (mid, 1_100_000), (big, 3_200_000), (keep, 5_000_000)]
    assert clients_to_evict(sizes, 0) == []
    assert clients_to_evict(sizes, 10_000_000) == []
    # no-evict counts toward the total but is never chosen
    assert clients_to_evict(sizes, 9_000_000) == [big]
    assert clients_to_evict(sizes, 5_100_000) == [big, mid]
    assert clients_to_evict(sizes, 1_000_000) == [big, mid, small]


def test_within_a_size_bucket_older_clients_go_first() -> None:
    newer, older = _client(9), _client(5)
    sizes = [(newer, 1_000_000), (older, 1_000_100)]
    assert clients_to_evict(sizes, 1_500_000) == [older]
