"""The forked child's output straight to replica sockets (dual-channel RDB channels).

As Valkey's connset target: the child writes the RDB to every RDB channel itself, so the
parent's event loop (which may even be stopped) is not on the path. A socket that fails, or
takes nothing for ``timeout`` seconds, is dropped and the others go on; the save fails only
when no socket is left. Plain synchronous code for the child: no trio.

The sockets are shared with the parent (the same open file descriptions), so nothing here
changes their flags: they stay non-blocking and the writes wait with ``poll``.
"""

from __future__ import annotations

import errno
import os
import select
import socket
from collections.abc import Iterable

BUFFER_SIZE = 16 * 1024
"""Bytes gathered before a write to the sockets (Valkey's 16 KB I/O buffer)."""


class AllSocketsFailed(OSError):
    """Every replica socket of the transfer failed."""


class SocketSetWriter:
    """A file-like ``write`` that copies its bytes to several sockets; see the module doc."""

    def __init__(self, fds: Iterable[int], timeout: float, buffer_size: int = BUFFER_SIZE):
        self.fds = list(fds)
        self.timeout_ms = max(int(timeout * 1000), 1)
        self.buffer_size = buffer_size
        self.errors: dict[int, int] = {}
        """errno of each socket dropped so far, by descriptor."""
        self.written = 0
        self._buf = bytearray()

    @property
    def live(self) -> list[int]:
        return [fd for fd in self.fds if fd not in self.errors]

    def send_each(self, first: dict[int, bytes]) -> None:
        """Bytes that differ per socket (each RDB channel's ``$ENDOFF`` line), sent now."""
        self.flush()
        for fd, data in first.items():
            if fd not in self.errors:
                self._send(fd, data)
        self._check()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buf += data
        if len(self._buf) >= self.buffer_size:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if not self._buf:
            return
        data = bytes(self._buf)
        self._buf.clear()
        for fd in self.live:
            self._send(fd, data)
        self.written += len(data)
        self._check()

    def _check(self) -> None:
        if self.fds and not self.live:
            code = next(iter(self.errors.values()), errno.EIO)
            raise AllSocketsFailed(code, f"all replica sockets failed: {os.strerror(code)}")

    def _send(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        try:
            while view:
                try:
                    n = _send_nosignal(fd, view)
                except BlockingIOError:
                    if not poller.poll(self.timeout_ms):
                        raise TimeoutError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT)) from None
                    continue
                view = view[n:]
        except OSError as err:
            self.errors[fd] = err.errno or errno.EIO


def _send_nosignal(fd: int, data: memoryview) -> int:
    """``send`` with MSG_NOSIGNAL: a replica gone is an error for that socket, not SIGPIPE."""
    sock = socket.socket(fileno=fd)
    try:
        return sock.send(data, socket.MSG_NOSIGNAL)
    finally:
        sock.detach()
