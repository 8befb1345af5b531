"""The trio side of one attached replica (primary role): an ordered queue of what to send.

Everything for a replica goes through one queue, in order: reply lines (``+FULLRESYNC``,
``+CONTINUE``), keepalive newlines, the RDB (relayed chunks, or a dump file sent with its
``$<len>`` header), a "wait for the first ACK" barrier for ``$EOF`` transfers, then the command
stream. While the snapshot is produced, stream bytes are held in :attr:`ReplicaLink.held`
and released behind the RDB. The reader task only consumes REPLCONF ACKs; a replica gets no
replies, as in Valkey.

Bytes pushed behind bytes not yet taken by the writer join them in one buffer, so the stream
of a pipeline of writes leaves in one send, not one per command (Valkey's replication buffer
blocks are shared the same way).
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
from valsync.replication.replicas import ReplicaInfo, ReplicaState, apply_replconf
from valsync.resp import ProtocolError, RequestParser
from valsync.stats import Stats

SEND_FILE_CHUNK = 256 * 1024
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


Segment = bytes | SendRdbFile | WaitFirstAck | CloseLink


class ReplicaLink:
    """One replica connection: its state, queue and buffers."""

    def __init__(
        self,
        client: ClientState,
        info: ReplicaInfo,
        stream: trio.SocketStream,
        stats: Stats | None = None,
    ) -> None:
        self.client = client
        self.stats = stats
        """Where the bytes sent count (``total_net_repl_output_bytes``)."""
        self.info = info
        self.stream = stream
        self._queue: deque[Segment | bytearray] = deque()
        self._queue_wake = trio.Event()
        self.held: bytearray | None = None
        self.queued_bytes = 0
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
        """Bytes queued for the socket, not counting stream bytes held behind the RDB."""
        return self.queued_bytes - (len(self.held) if self.held is not None else 0)

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

    def stream_bytes(self, data: bytes) -> None:
        """Command-stream bytes: held during the snapshot, sent right away once released."""
        if self.held is not None:
            self.held += data
            self.queued_bytes += len(data)
        else:
            self.push(data)

    def release_held(self) -> None:
        held, self.held = self.held, None
        if held:
            self.queued_bytes -= len(held)
            self.push(bytes(held))

    def close(self, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            self.scope.cancel()
            self._wake_drain_waiter()

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
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return

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
