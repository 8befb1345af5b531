"""A small trio RESP2 client, for tools that talk to a running server (the dashboard).

Replies are parsed by ``hiredis.Reader`` (C) because a dashboard polling several servers a few
times a second should not spend its frame budget in a Python RESP parser. Server error replies
come back as :class:`RespError` values (never raised by :meth:`RespClient.pipeline`, raised by
:meth:`RespClient.command`); anything that means the connection is unusable (refused, reset,
timed out, garbage on the wire) raises :class:`RespConnectionError`, so a caller can show the
server as down and retry without catching a zoo of OS and trio exceptions.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import TypeAlias

import hiredis
import trio

#: Bytes asked of the socket per receive; INFO and CLIENT LIST replies are a few KiB.
RECEIVE_SIZE = 65536

Arg: TypeAlias = bytes | str | int | float

_NEED_DATA = object()


class RespConnectionError(Exception):
    """The server could not be reached, went away, timed out or spoke something other than RESP."""


class RespError(Exception):
    """An error reply (``-ERR ...``) from the server; ``str()`` is its text without the dash."""


Reply: TypeAlias = bytes | int | float | None | list["Reply"] | RespError


def encode_command(args: tuple[Arg, ...]) -> bytes:
    """RESP array of bulk strings, the only request form every server accepts."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            data = repr(arg).encode() if isinstance(arg, float) else b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _convert(value: object) -> Reply:
    """hiredis types to ours: its ``ReplyError`` becomes :class:`RespError`, nested too."""
    if isinstance(value, hiredis.ReplyError):
        return RespError(str(value))
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if value is None or isinstance(value, bytes | int | float):
        return value
    raise RespConnectionError(f"unexpected reply type {type(value).__name__}")


def _os_reason(exc: OSError) -> str:
    """The shortest true reason: trio hides "Connection refused" in an ExceptionGroup cause."""
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        inner = [e for e in cause.exceptions if isinstance(e, OSError)]
        if inner:
            exc = inner[-1]
    return os.strerror(exc.errno) if exc.errno else str(exc)


class RespClient:
    """One connection; requests are serialised (no concurrent callers on one client)."""

    def __init__(self, stream: trio.abc.Stream, *, timeout: float) -> None:
        self._stream = stream
        self._reader = hiredis.Reader(notEnoughData=_NEED_DATA)
        self.timeout = timeout

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        timeout: float = 2.0,  # noqa: ASYNC109 - also the client's per-command deadline
    ) -> RespClient:
        """Open a TCP connection, converting every failure to :class:`RespConnectionError`."""
        try:
            with trio.fail_after(timeout):
                stream = await trio.open_tcp_stream(host, port)
        except trio.TooSlowError:
            raise RespConnectionError(f"connect to {host}:{port} timed out") from None
        except OSError as exc:
            # trio wraps the per-address errors; the first cause says "Connection refused".
            reason = _os_reason(exc)
            raise RespConnectionError(f"connect to {host}:{port}: {reason}") from None
        return cls(stream, timeout=timeout)

    async def __aenter__(self) -> RespClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def command(self, *args: Arg) -> Reply:
        """Send one command and return its reply; an error reply is raised as RespError."""
        (reply,) = await self.pipeline([args])
        if isinstance(reply, RespError):
            raise reply
        return reply

    async def pipeline(self, commands: list[tuple[Arg, ...]]) -> list[Reply]:
        """Send all commands in one write and read as many replies, errors left in place.

        One round trip per poll keeps the dashboard's view of a server close to one instant.
        """
        payload = b"".join(encode_command(c) for c in commands)
        replies: list[Reply] = []
        try:
            with trio.fail_after(self.timeout):
                await self._stream.send_all(payload)
                while len(replies) < len(commands):
                    item = self._reader.gets()
                    if item is not _NEED_DATA:
                        replies.append(_convert(item))
                        continue
                    data = await self._stream.receive_some(RECEIVE_SIZE)
                    if not data:
                        raise RespConnectionError("connection closed by server")
                    self._reader.feed(bytes(data))
        except trio.TooSlowError:
            raise RespConnectionError(f"no reply within {self.timeout:g}s") from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise RespConnectionError(f"connection lost: {exc}") from None
        except hiredis.ProtocolError as exc:
            raise RespConnectionError(f"protocol error: {exc}") from None
        return replies
