"""Incremental fsync of a dump being written (``rdb-save-incremental-fsync``, Valkey's rio
autosync): the kernel is told to write back every 4 MB as soon as it is written, and the
writer waits for the block before the previous one, so the disk works while the next keys
are encoded and the final fsync finds little left to do, instead of a whole dump at once.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import BinaryIO

AUTOSYNC_BYTES = 4 * 1024 * 1024
"""Valkey's ``REDIS_AUTOSYNC_BYTES``."""

_WAIT_BEFORE = 1
_WRITE = 2
_WAIT_AFTER = 4


@functools.cache
def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    func.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    func.restype = ctypes.c_int
    sync: Callable[[int, int, int, int], int] = func
    return sync


class AutosyncWriter:
    """``write`` for a dump file: writes each chunk and syncs every ``every`` bytes."""

    def __init__(self, file: BinaryIO, every: int = AUTOSYNC_BYTES) -> None:
        self.file = file
        self.fd = file.fileno()
        self.every = every
        self.written = 0
        self.synced = 0
        """Bytes written back so far (a multiple of ``every``)."""

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.written += len(chunk)
        if self.written - self.synced >= self.every:
            self._sync()

    def _sync(self) -> None:
        self.file.flush()
        every = self.every
        end = self.written - self.written % every
        func = _load_sync_file_range()
        if func is None:
            os.fdatasync(self.fd)
            self.synced = end
            return
        while self.synced < end:
            start = self.synced
            # start writing this block back, then wait until the one before it is on disk
            func(self.fd, start, every, _WRITE)
            if start >= every:
                func(self.fd, start - every, every, _WAIT_BEFORE | _WRITE | _WAIT_AFTER)
            self.synced = start + every
