"""The trio side of one attached replica (primary role): an ordered queue of what to send.

Everything for a replica goes through one queue, in order: reply lines (``+FULLRESYNC``,
``+CONTINUE``), keepalive newlines, the RDB (relayed chunks, or a dump file sent with its
``$<len>`` header), a "wait for the first ACK" barrier for ``$EOF`` transfers, then
:class:`StartStream`, after which the writer sends the command stream straight from the
backlog. The stream is never copied per replica: as in Valkey's shared replication buffer, the
link pins the backlog at :attr:`ReplicaLink.stream_next`, the first byte it has not sent (from
the snapshot's offset while the RDB is produced). The reader task only consumes REPLCONF
ACKs; a replica gets no replies, as in Valkey.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import trio

from valsync.commands import ClientState
from valsync.replication.backlog import ReplicationBacklog
from valsync.replication.replicas import ReplicaInfo, ReplicaState, apply_replconf
from valsync.resp import ProtocolError, RequestParser
from valsync.stats import Stats

SEND_FILE_CHUNK = 256 * 1024
STREAM_SEND_LIMIT = 256 * 1024
"""At most this much of the backlog in one send to a replica (several blocks are copied)."""
COALESCE_LIMIT = 256 * 1024  # a queued buffer takes more bytes only up to this size


@dataclass
class SendRdbFile:
    """A dump file to send as ``$<size>\\r\\n`` + its bytes (disk-target full sync)."""

    file: BinaryIO
    size: int


@dataclass
class WaitFirstAck:
    """Stream bytes after an ``$EOF`` payload wait for the replica's first ACK (Valkey)."""


@dataclass
class CloseLink:
    """Close after everything before it was sent (``rdb-only`` clients, failed syncs)."""

    reason: str = ""


@dataclass
class StartStream:
    """From here on the writer sends the stream from the backlog at ``stream_next``."""


Segment = bytes | SendRdbFile | WaitFirstAck | CloseLink | StartStream


class ReplicaLink:
    """One replica connection: its state, queue and buffers."""

    def __init__(
        self,
        client: ClientState,
        info: ReplicaInfo,
        stream: trio.SocketStream,
        stats: Stats | None = None,
        backlog: Callable[[], ReplicationBacklog | None] = lambda: None,
        on_idle: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self._backlog = backlog
        self._on_idle = on_idle
        """Called when it has sent the whole stream and waits for more."""
        self.stream_next: int | None = None
        """Offset of the next stream byte to send; the backlog is pinned there."""
        self._pinned_in: ReplicationBacklog | None = None
        self.waiting_psync = False
        """An RDB channel whose main channel has not sent its PSYNC yet (it pins the stream
        from the snapshot on for it)."""
        self.stats = stats
        """Where the bytes sent count (``total_net_repl_output_bytes``)."""
        self.info = info
        self.stream = stream
        self._queue: deque[Segment | bytearray] = deque()
        self._queue_wake = trio.Event()
        self.queued_bytes = 0
        """Bytes queued other than the stream (replies, RDB chunks, newlines)."""
        self.soft_limit_since: float | None = None
        self.first_ack = trio.Event()
        self.scope = trio.CancelScope()
        self.closed = False
        self.wait_start = time.monotonic()
        self.rdb_target: str | None = None
        self.rdb_version = 11
        self.last_io = time.monotonic()
        self.on_ack: Callable[[ReplicaLink], None] | None = None
        self._drained: trio.Event | None = None

    @property
    def state(self) -> ReplicaState | None:
        return self.info.state

    @property
    def in_flight(self) -> int:
        """Bytes queued for the socket, not counting the stream."""
        return self.queued_bytes

    @property
    def pending_stream_bytes(self) -> int:
        """Stream bytes this replica still needs (Valkey's replica output buffer usage); for
        an RDB channel waiting for its main channel, what it keeps in the backlog."""
        backlog = self._backlog()
        start = self.stream_next
        if start is None and self.waiting_psync:
            start = self.info.psync_initial_offset + 1
        if start is None or backlog is None:
            return 0
        return max(0, backlog.end_offset - start + 1)

    def hold_stream_from(self, offset: int) -> None:
        """Keep the stream from ``offset`` in the backlog for this replica (not sent yet)."""
        self.stream_next = offset
        self._pin()

    def start_stream(self, offset: int | None = None) -> None:
        """Queue the stream (from ``offset``, or from where it was held) behind what is queued."""
        if offset is not None:
            self.hold_stream_from(offset)
        if self.stream_next is not None:
            self.push(StartStream())

    def _pin(self) -> None:
        if self.closed:
            return
        backlog = self._backlog()
        if self._pinned_in is not None and self._pinned_in is not backlog:
            self._pinned_in.unpin(self.client.id)
        self._pinned_in = backlog
        if backlog is not None and self.stream_next is not None:
            backlog.pin(self.client.id, self.stream_next)

    def unpin(self) -> None:
        if self._pinned_in is not None:
            self._pinned_in.unpin(self.client.id)
            self._pinned_in = None

    def wake(self) -> None:
        """New stream bytes are in the backlog."""
        self._queue_wake.set()

    async def wait_in_flight_below(self, limit: int) -> None:
        """Block until the writer sent enough that at most ``limit`` bytes are queued."""
        while self.in_flight > limit and not self.closed:
            self._drained = trio.Event()
            await self._drained.wait()

    def _wake_drain_waiter(self) -> None:
        if self._drained is not None:
            self._drained.set()

    def push(self, seg: Segment) -> None:
        if self.closed:
            return
        queue = self._queue
        if isinstance(seg, bytes):
            n = len(seg)
            self.queued_bytes += n
            tail = queue[-1] if queue else None
            if type(tail) is bytearray and len(tail) + n <= COALESCE_LIMIT:
                tail += seg
            elif n < COALESCE_LIMIT:
                queue.append(bytearray(seg))
            else:
                queue.append(seg)
        else:
            queue.append(seg)
        self._queue_wake.set()

    def discard_queued_bytes(self) -> None:
        """Forget the bytes not sent yet (keepalives): another process writes to the socket
        from here on, and nothing of ours may land in the middle of its bytes."""
        kept = [seg for seg in self._queue if not isinstance(seg, bytes | bytearray)]
        self._queue.clear()
        self._queue.extend(kept)
        self.queued_bytes = 0
        self._wake_drain_waiter()

    def close(self, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            self.scope.cancel()
            self._wake_drain_waiter()
            self.unpin()

    async def run(self, leftover: bytes) -> None:
        """Writer and ACK reader, until either ends or the link is closed."""
        with self.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reader, leftover, nursery.cancel_scope)
                await self._writer()
                nursery.cancel_scope.cancel()

    async def _send(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)
        self.last_io = time.monotonic()
        if self.stats is not None:
            self.stats.total_net_repl_output_bytes += len(data)

    async def _writer(self) -> None:
        queue = self._queue
        try:
            while True:
                if not queue:
                    self._queue_wake = trio.Event()
                    await self._queue_wake.wait()
                    continue
                seg = queue.popleft()
                if isinstance(seg, bytes | bytearray):
                    await self._send(seg)
                    self.queued_bytes -= len(seg)
                    self._wake_drain_waiter()
                elif isinstance(seg, SendRdbFile):
                    await self._send_file(seg)
                elif isinstance(seg, WaitFirstAck):
                    await self.first_ack.wait()
                elif isinstance(seg, CloseLink):
                    return
                elif isinstance(seg, StartStream):
                    await self._stream()
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return

    async def _stream(self) -> None:
        """Send the stream from the backlog as it grows; ends on CloseLink or a lost history."""
        queue = self._queue
        while True:
            while queue:
                seg = queue.popleft()
                if isinstance(seg, CloseLink):
                    return
                if isinstance(seg, bytes | bytearray):
                    await self._send(seg)
                    self.queued_bytes -= len(seg)
            backlog = self._backlog()
            offset = self.stream_next
            if offset is None or backlog is None or not backlog.can_serve(offset):
                return  # the history this replica followed is gone: it must resync
            if offset > backlog.end_offset:
                self._queue_wake = trio.Event()
                self._on_idle()
                await self._queue_wake.wait()
                continue
            chunk = backlog.chunk_from(offset, STREAM_SEND_LIMIT)
            await self._send(chunk)
            self.stream_next = offset + len(chunk)
            self._pin()

    async def _send_file(self, seg: SendRdbFile) -> None:
        self.info.state = ReplicaState.SEND_BULK
        try:
            await self._send(b"$%d\r\n" % seg.size)
            while True:
                chunk = seg.file.read(SEND_FILE_CHUNK)
                if not chunk:
                    break
                await self._send(chunk)
        finally:
            seg.file.close()
        if not self.info.rdb_only:
            self.info.state = ReplicaState.ONLINE
            self.first_ack.set()

    async def _reader(self, leftover: bytes, scope: trio.CancelScope) -> None:
        parser = RequestParser()
        parser.feed(leftover)
        try:
            while True:
                while True:
                    try:
                        req = parser.next()
                    except ProtocolError:
                        scope.cancel()
                        return
                    if req is None:
                        break
                    self._replica_command(req.argv)
                data = await self.stream.receive_some(65536)
                if not data:
                    scope.cancel()
                    return
                if self.stats is not None:
                    self.stats.total_net_input_bytes += len(data)
                parser.feed(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            scope.cancel()

    def _replica_command(self, argv: list[bytes]) -> None:
        """A replica's commands get no reply; only ACKs matter (Valkey ignores the rest here)."""
        if self.stats is not None:
            self.stats.total_commands_processed += 1
        if not argv or argv[0].lower() != b"replconf":
            return
        outcome = apply_replconf(self.info, argv[1:], now=int(time.time()))
        if outcome.ack:
            if not self.first_ack.is_set():
                self.first_ack.set()
            if self.on_ack is not None:
                self.on_ack(self)


def open_dump_for_sending(path: str) -> SendRdbFile:
    f = open(path, "rb")  # noqa: SIM115 - closed by the link writer after sending
    return SendRdbFile(f, os.fstat(f.fileno()).st_size)
