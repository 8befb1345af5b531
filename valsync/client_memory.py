"""What a client connection costs in memory, and which clients ``maxmemory-clients`` evicts.

As Valkey's ``getClientMemoryUsage``: the query buffer, the reply buffer and pending output,
the arguments of the command being run, the queued transaction and watched keys, and the
overheads of subscriptions and tracking prefixes. The sizes of Valkey's structures are
constants here (Python objects cost more; the point is the same order and the same sums).
Eviction follows Valkey's ``evictClients``: while normal and pub/sub clients together take at
least the limit, the largest evictable client goes first (sizes bucketed by powers of two from
32 KiB, older clients first within a bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from valsync.commands.context import ClientState

CLIENT_STRUCT_BYTES = 528
"""Valkey's client structure and its small allocations."""
POINTER_BYTES = 8
WATCHED_KEY_BYTES = 80
"""A list node and a ``watchedKey`` per watched key."""
QUEUED_COMMAND_BYTES = 24
"""A ``multiCmd`` per queued command."""
SUBSCRIPTION_BYTES = 32
"""A dict entry and bucket per channel or pattern."""
TRACKING_PREFIX_BYTES = 64
"""Two radix tree nodes per BCAST prefix."""
BUCKET_MIN_LOG = 15
BUCKET_MAX_LOG = 33


@dataclass(frozen=True, slots=True)
class ClientMemory:
    """CLIENT LIST's memory fields of one client."""

    qbuf: int = 0
    qbuf_free: int = 0
    argv_mem: int = 0
    multi_mem: int = 0
    reply_buffer: int = 1024
    omem: int = 0
    total: int = 0


def client_memory(
    client: ClientState,
    query: tuple[int, int, int],
    argv: Sequence[bytes] | None,
    omem: int,
    reply_buffer: int = 1024,
) -> ClientMemory:
    """``query`` is (qbuf, qbuf-free, allocated) of the query buffer; ``argv`` the command
    being run (its arguments count until it ends)."""
    qbuf, qbuf_free, query_alloc = query
    argv_mem = sum(len(a) for a in argv) if argv else 0
    multi_mem = len(client.watched) * WATCHED_KEY_BYTES
    if client.in_multi:
        for queued in client.multi_queue:
            multi_mem += sum(len(a) for a in queued) + POINTER_BYTES * len(queued)
            multi_mem += QUEUED_COMMAND_BYTES
    subscriptions = len(client.channels) + len(client.patterns) + len(client.shard_channels)
    tracking = client.tracking
    prefixes = len(tracking.prefixes) if tracking is not None else 0
    total = (
        CLIENT_STRUCT_BYTES
        + query_alloc
        + reply_buffer
        + omem
        + argv_mem
        + (POINTER_BYTES * len(argv) if argv else 0)
        + multi_mem
        + subscriptions * SUBSCRIPTION_BYTES
        + prefixes * TRACKING_PREFIX_BYTES
    )
    return ClientMemory(qbuf, qbuf_free, argv_mem, multi_mem, reply_buffer, omem, total)


def counts_for_eviction(client: ClientState) -> bool:
    """Valkey's normal and pub/sub client types (replicas and our primary's link are not)."""
    return not (client.is_replica or client.is_primary_link)


def _bucket(total: int) -> int:
    return min(max(total.bit_length() - 1, BUCKET_MIN_LOG), BUCKET_MAX_LOG)


def clients_to_evict(clients: Sequence[tuple[ClientState, int]], limit: int) -> list[ClientState]:
    """Whom to evict, in order, so that the clients' total (``clients``: each with its
    memory) falls below ``limit``; clients with ``no-evict`` count but stay."""
    if limit <= 0:
        return []
    total = sum(mem for _, mem in clients)
    if total < limit:
        return []
    candidates = sorted(
        ((c, mem) for c, mem in clients if not c.no_evict),
        key=lambda item: (-_bucket(item[1]), item[0].id),
    )
    evicted = []
    for client, mem in candidates:
        if total < limit:
            break
        evicted.append(client)
        total -= mem
    return evicted


NO_CONNECTION_MEMORY = ClientMemory()
"""What CLIENT LIST shows for a client with no connection of its own."""
