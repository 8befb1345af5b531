"""The replication backlog: the most recent stream bytes, to answer PSYNC.

Theory of operation: stream bytes are appended as they are propagated; the backlog keeps
them in blocks of :data:`BLOCK_SIZE` bytes (Valkey's replication buffer blocks) and trims
whole blocks from the front, lazily, like Valkey's ``incrementalTrimReplicationBacklog``: a
block is dropped only if what remains still holds at least ``size`` bytes, and the last
block is never dropped. So ``histlen`` may exceed ``size`` by up to one block, as in Valkey.

Offsets are Valkey's: ``end_offset`` is ``master_repl_offset`` (bytes ever appended under
this history, counting from the offset the backlog was created at) and the first byte held
has offset ``end_offset - histlen + 1``, 1-based. A PSYNC for offset ``o`` can be served
iff ``first_byte_offset <= o <= end_offset + 1`` (section 3.3).

Like Valkey's shared replication buffer, the backlog is also what every replica is sent from:
a replica *pins* the offset of the next byte it still needs (its unsent stream, or the stream
held while its snapshot is produced) and no block holding a pinned byte is trimmed. So a slow
replica makes ``histlen`` outgrow ``size``, and a replica that reconnects can resume from
anything still held; unpinning trims at once.

A server with no backlog holds ``None`` instead of an instance; :func:`backlog_info_fields`
renders INFO for both cases (``0``/``0`` when there is none).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

BLOCK_SIZE = 16 * 1024
MIN_BACKLOG_SIZE = 16 * 1024
DEFAULT_BACKLOG_SIZE = 10 * 1024 * 1024


class ReplicationBacklog:
    """Recent stream bytes in 16 KiB blocks, trimmed from the front in whole blocks.

    Each block is allocated whole and filled in place (``_tail_fill`` bytes of the last one
    are used; every other block is full): growing a bytearray a command at a time would
    reallocate, and copy, the block on most appends. Bytes once written never change, so a
    view of any block, the last one included, stays valid.
    """

    def __init__(self, size: int = DEFAULT_BACKLOG_SIZE, start_offset: int = 0) -> None:
        """Create an empty backlog whose next byte will have offset ``start_offset + 1``."""
        self.size = max(size, MIN_BACKLOG_SIZE)
        self._blocks: deque[bytearray] = deque()
        self._tail_fill = 0
        self._histlen = 0
        self._end_offset = start_offset
        self._pins: dict[int, int] = {}
        self._trim_held = False  # the last trim stopped at a pin that has not moved since

    @property
    def end_offset(self) -> int:
        """Offset of the last byte appended (``master_repl_offset``)."""
        return self._end_offset

    @property
    def histlen(self) -> int:
        return self._histlen

    @property
    def first_byte_offset(self) -> int:
        """Offset of the oldest byte held; ``end_offset + 1`` when empty."""
        return self._end_offset - self._histlen + 1

    @property
    def allocated(self) -> int:
        """Bytes held in blocks as allocated (INFO ``mem_total_replication_buffers``)."""
        return len(self._blocks) * BLOCK_SIZE

    def pin(self, owner: int, offset: int) -> None:
        """Keep every byte from ``offset`` on until ``owner`` moves its pin or unpins."""
        before = self._pins.get(owner)
        self._pins[owner] = offset
        self._trim_held = False
        if before is not None and before < offset and len(self._blocks) > 1:
            self._trim()  # the owner moved on: what only it held may go

    def unpin(self, owner: int) -> None:
        if self._pins.pop(owner, None) is not None:
            self._trim_held = False
            self._trim()

    @property
    def active(self) -> bool:
        """Always True: an existing backlog is active (INFO ``repl_backlog_active:1``)."""
        return True

    def append(self, data: bytes | bytearray | memoryview) -> int:
        """Add stream bytes; returns the new ``end_offset``."""
        n = len(data)
        if not n:
            return self._end_offset
        blocks = self._blocks
        fill = self._tail_fill
        if blocks and fill + n <= BLOCK_SIZE:
            # the usual case, a write batch that fits in the current block
            blocks[-1][fill : fill + n] = data
            self._tail_fill = fill + n
            self._histlen += n
            self._end_offset += n
            if not self._trim_held and len(blocks) > 1 and self._histlen - BLOCK_SIZE > self.size:
                self._trim()
            return self._end_offset
        view = memoryview(data)
        pos = 0
        if blocks:
            pos = BLOCK_SIZE - fill
            blocks[-1][fill:] = view[:pos]
        while pos < n:
            piece = view[pos : pos + BLOCK_SIZE]
            block = bytearray(BLOCK_SIZE)
            block[: len(piece)] = piece
            blocks.append(block)
            fill = len(piece)
            pos += BLOCK_SIZE
        self._tail_fill = fill
        self._histlen += n
        self._end_offset += n
        self._trim()
        return self._end_offset

    def _trim(self) -> None:
        # Like Valkey: never below one block, never below ``size`` bytes. Only the last
        # block is partly filled, so a first block with others after it is full.
        blocks = self._blocks
        while len(blocks) > 1 and self._histlen - BLOCK_SIZE > self.size:
            if self._pins and min(self._pins.values()) < self.first_byte_offset + BLOCK_SIZE:
                self._trim_held = True
                break
            self._histlen -= BLOCK_SIZE
            blocks.popleft()

    def _used(self, index: int) -> int:
        """Bytes used in block ``index``: all of them but in the last."""
        return self._tail_fill if index == len(self._blocks) - 1 else BLOCK_SIZE

    def can_serve(self, offset: int) -> bool:
        """PSYNC range check: ``first_byte_offset <= offset <= end_offset + 1``."""
        return self.first_byte_offset <= offset <= self._end_offset + 1

    def _check_range(self, offset: int) -> None:
        if not self.can_serve(offset):
            raise ValueError(
                f"offset {offset} outside backlog [{self.first_byte_offset}, {self._end_offset + 1}]"
            )

    def iter_from(self, offset: int) -> Iterator[memoryview]:
        """Chunks of the bytes from ``offset`` (1-based, inclusive) to the end, zero-copy."""
        self._check_range(offset)
        index, skip = divmod(offset - self.first_byte_offset, BLOCK_SIZE)
        for i in range(index, len(self._blocks)):
            used = self._used(i)
            if skip < used:
                yield memoryview(self._blocks[i])[skip:used]
            skip = 0

    def chunk_from(self, offset: int, limit: int = BLOCK_SIZE) -> memoryview:
        """The bytes from ``offset`` to the end of the block holding it (empty at the end),
        then whole following blocks while the total stays within ``limit``: a replica that
        fell behind takes what it missed in one send, not a block per turn.

        The block is found by arithmetic (every block but the last is full). One block is
        a view; several are copied into one buffer.
        """
        self._check_range(offset)
        if offset > self._end_offset:
            return memoryview(b"")
        blocks = self._blocks
        index, skip = divmod(offset - self.first_byte_offset, BLOCK_SIZE)
        last = index
        size = self._used(index) - skip
        while last + 1 < len(blocks) and size + self._used(last + 1) <= limit:
            last += 1
            size += self._used(last)
        if last == index:
            return memoryview(blocks[index])[skip : skip + size]
        parts = [memoryview(blocks[index])[skip:]]
        parts.extend(memoryview(blocks[i])[: self._used(i)] for i in range(index + 1, last + 1))
        return memoryview(b"".join(parts))

    def read_from(self, offset: int) -> bytes:
        """The bytes from ``offset`` to the end as one ``bytes`` (what follows ``+CONTINUE``)."""
        return b"".join(self.iter_from(offset))

    def resize(self, size: int) -> None:
        """``CONFIG SET repl-backlog-size``: minimum 16 KiB, trim at once if smaller."""
        self.size = max(size, MIN_BACKLOG_SIZE)
        self._trim()

    def clear(self) -> None:
        """Drop every byte but keep the offset (the next byte is ``end_offset + 1``)."""
        self._blocks.clear()
        self._tail_fill = 0
        self._histlen = 0
        self._trim_held = False

    def reset(self, end_offset: int) -> None:
        """Empty the backlog and continue from ``end_offset`` (restart, full sync on a replica)."""
        self.clear()
        self._end_offset = end_offset


def backlog_info_fields(backlog: ReplicationBacklog | None, size: int) -> list[tuple[str, str]]:
    """The four INFO replication backlog fields, in Valkey's order.

    ``size`` is the configured ``repl-backlog-size`` (shown even when there is no backlog).
    """
    if backlog is None:
        return [
            ("repl_backlog_active", "0"),
            ("repl_backlog_size", str(size)),
            ("repl_backlog_first_byte_offset", "0"),
            ("repl_backlog_histlen", "0"),
        ]
    return [
        ("repl_backlog_active", "1"),
        ("repl_backlog_size", str(size)),
        ("repl_backlog_first_byte_offset", str(backlog.first_byte_offset)),
        ("repl_backlog_histlen", str(backlog.histlen)),
    ]
