"""The socket side of a command that talks to another server (MIGRATE's RESTOREs).

One connection per request: connect, send the whole payload, read the expected number of
reply lines, each step under the request's timeout, as Valkey's ``connBlockingConnect`` /
``connSyncWrite`` / ``connSyncReadLine`` do. What the lines mean is decided by the command
(:class:`~valsync.commands.ExchangeRequest`); nothing here interprets them.
"""

from __future__ import annotations

import socket

import trio

from valsync.commands import ExchangeRequest, ExchangeResult

READ_SIZE = 64 * 1024


async def run_exchange(request: ExchangeRequest) -> ExchangeResult:
    seconds = request.timeout_ms / 1000.0
    try:
        with trio.fail_after(seconds):
            stream = await trio.open_tcp_stream(request.host, request.port)
    except (socket.gaierror, trio.TooSlowError):
        return ExchangeResult([], "connecting")
    except OSError:
        # like Valkey's blocking connect, a refused connection is only seen when writing
        return ExchangeResult([], "writing")
    lines: list[bytes] = []
    async with stream:
        try:
            with trio.fail_after(seconds):
                await stream.send_all(request.payload)
        except (OSError, trio.TooSlowError, trio.BrokenResourceError):
            return ExchangeResult([], "writing")
        buf = b""
        while len(lines) < request.replies:
            end = buf.find(b"\n")
            if end >= 0:
                lines.append(buf[:end].rstrip(b"\r"))
                buf = buf[end + 1 :]
                continue
            try:
                with trio.fail_after(seconds):
                    data = await stream.receive_some(READ_SIZE)
            except (OSError, trio.TooSlowError, trio.BrokenResourceError):
                return ExchangeResult(lines, "reading")
            if not data:
                return ExchangeResult(lines, "reading")
            buf += data
    return ExchangeResult(lines)
