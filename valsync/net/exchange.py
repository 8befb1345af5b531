"""The socket side of a command that talks to another server (MIGRATE's RESTOREs).

A connection per target, cached between requests (``valsync.migrate_cache``): send the whole payload, read the expected number of
reply lines, each step under the request's timeout, as Valkey's ``connBlockingConnect`` /
``connSyncWrite`` / ``connSyncReadLine`` do. What the lines mean is decided by the command
(:class:`~valsync.commands.ExchangeRequest`); nothing here interprets them.
"""

from __future__ import annotations

import socket
from typing import Any

import trio

from valsync.commands import ExchangeRequest, ExchangeResult
from valsync.migrate_cache import MigrateSocketCache

READ_SIZE = 64 * 1024


class ReplyLines:
    """Collects the expected number of reply lines (CRLF stripped) from bytes fed in any
    chunking."""

    def __init__(self, want: int) -> None:
        self.want = want
        self.lines: list[bytes] = []
        self._buf = b""

    def feed(self, data: bytes) -> bool:
        """Add bytes; True once every expected line is in."""
        buf = self._buf + data
        while len(self.lines) < self.want:
            end = buf.find(b"\n")
            if end < 0:
                break
            self.lines.append(buf[:end].rstrip(b"\r"))
            buf = buf[end + 1 :]
        self._buf = buf
        return len(self.lines) >= self.want


class _CachedStream:
    """A trio stream as the cache closes it (synchronously, from the cron)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream

    def close(self) -> None:
        self.stream.socket.close()


ExchangeCache = MigrateSocketCache[_CachedStream]


async def run_exchange(
    request: ExchangeRequest, cache: MigrateSocketCache[Any] | None = None
) -> ExchangeResult:
    """Connect (or reuse the cached connection to the target), send, read the replies. A
    failure on a reused connection is retried once on a fresh one, as Valkey's MIGRATE
    does for a cached socket that went stale."""
    cached = cache.take(request.host, request.port) if cache is not None else None
    result, conn = await _exchange_once(request, cached)
    if result.failed and not result.lines and cached is not None:
        result, conn = await _exchange_once(request, None)
    if cache is not None and conn is not None and not result.failed:
        cache.put(request.host, request.port, conn)
    elif conn is not None:
        conn.close()
    return result


async def _exchange_once(
    request: ExchangeRequest, cached: _CachedStream | None
) -> tuple[ExchangeResult, _CachedStream | None]:
    seconds = request.timeout_ms / 1000.0
    if cached is None:
        try:
            with trio.fail_after(seconds):
                cached = _CachedStream(await trio.open_tcp_stream(request.host, request.port))
        except (socket.gaierror, trio.TooSlowError):
            return ExchangeResult([], "connecting"), None
        except OSError:
            # like Valkey's blocking connect, a refused connection is only seen when writing
            return ExchangeResult([], "writing"), None
    stream = cached.stream
    replies = ReplyLines(request.replies)
    try:
        with trio.fail_after(seconds):
            await stream.send_all(request.payload)
    except (OSError, trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError):
        cached.close()
        return ExchangeResult([], "writing"), None
    done = replies.feed(b"")
    while not done:
        try:
            with trio.fail_after(seconds):
                data = await stream.receive_some(READ_SIZE)
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            cached.close()
            return ExchangeResult(replies.lines, "reading"), None
        done = replies.feed(data)
    return ExchangeResult(replies.lines), cached


def run_exchange_blocking(request: ExchangeRequest) -> ExchangeResult:
    """The same exchange with blocking sockets, for where nothing can be awaited (MIGRATE
    inside MULTI/EXEC): the whole server waits, as Valkey's does for every MIGRATE."""
    seconds = request.timeout_ms / 1000.0
    try:
        sock = socket.create_connection((request.host, request.port), timeout=seconds)
    except (socket.gaierror, TimeoutError):
        return ExchangeResult([], "connecting")
    except OSError:
        return ExchangeResult([], "writing")
    replies = ReplyLines(request.replies)
    with sock:
        try:
            sock.sendall(request.payload)
        except OSError:
            return ExchangeResult([], "writing")
        done = replies.feed(b"")
        while not done:
            try:
                data = sock.recv(READ_SIZE)
            except OSError:
                data = b""
            if not data:
                return ExchangeResult(replies.lines, "reading")
            done = replies.feed(data)
    return ExchangeResult(replies.lines)
