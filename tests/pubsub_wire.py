"""Reading pub/sub traffic off raw connections, for the differential pub/sub tests.

A subscribed connection receives frames nobody asked for, so "the reply to my command" is not
one frame. :func:`exchange` sends a command, then ``PING <marker>``, and returns every frame
that arrived before the marker's answer: the command's own replies plus any pushes. The same
works on a RESP2 subscriber (PING answers ``pong <marker>`` as an array there) and in RESP3.
"""

from __future__ import annotations

import hiredis

from tests.differential import Arg, RawClient

MARKER = b"--end-of-step--"


def _is_marker(frame: bytes) -> bool:
    return frame == b"$%d\r\n%s\r\n" % (len(MARKER), MARKER) or frame == (
        b"*2\r\n$4\r\npong\r\n$%d\r\n%s\r\n" % (len(MARKER), MARKER)
    )


def drain(client: RawClient) -> list[bytes]:
    """Frames that arrive before the answer to a ``PING <marker>`` sent now."""
    client.send("PING", MARKER)
    frames: list[bytes] = []
    while True:
        frame = client.read_reply()
        if _is_marker(frame):
            return frames
        frames.append(frame)
        assert len(frames) < 10_000, "runaway stream"


def exchange(client: RawClient, *args: Arg) -> list[bytes]:
    """Send one command; its reply frames and any pushes received meanwhile."""
    client.send(*args)
    return drain(client)


def transaction(client: RawClient, *commands: list[str]) -> list[bytes]:
    """MULTI, the commands, EXEC in one go (a marker PING inside MULTI would be queued)."""
    for args in (["MULTI"], *commands, ["EXEC"]):
        client.send(*args)
    return drain(client)


def decode(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


__all__ = ["MARKER", "decode", "drain", "exchange", "transaction"]
