"""The request framer fuzzed against a real valkey-server 8.1.8: random mixes of multibulk
requests, inline lines, odd headers and binary bytes go to both servers on fresh
connections, a PING after them; everything sent back (up to the PONG, or the close after a
protocol error) must match byte for byte. The random part is marked slow: many random
inputs leave a request incomplete, and each of those waits two seconds.

What this caught (now as Valkey does it): the raw bytes of an unknown command in its error
(not U+FFFD), the 128-byte limits of that error, a NUL before the line end (the line then
waits for more bytes), a literal 0xFF dropped from inline words, VT/FF not ending an inline
word, ``*-0`` refused, a blanks-only inline line keeping the next request inline, CR/LF
shown as spaces in ``expected '$', got ' '``, a header's CR not followed by LF.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import given

from tests.differential import example_settings
from tests.realvalkey import start_valkey, start_valsync
from tests.unit.fuzz.inputs import streams

PING = b"*1\r\n$4\r\nPING\r\n"
FOUND = [
    b"\xfe\x12 a\xff\xffb\r\n",
    b"FOO " + b"x" * 50 + b" " + b"y" * 50 + b" " + b"z" * 50 + b"\r\n",
    b"*2\r\n$1\r\nF\r\n$3\r\na\x00b\r\n",
    b"\x80\x00\xde\x0bT\x1cseta\r\n",
    b"a\\\x0bb c\x0cd\r\n",
    b"*-0\r\n",
    b"\t\r\n" + PING,
    b"\t\r\n\r\n" + PING,
    b"*23\r\n\n*1\r\n",
    b"*1\rX$4\r\nPING\r\n",
    b"*1\r\n$4\x00\r\nPING\r\n",
    b"*1\r\nX\rY" + PING,
    b"*1\r\n$4\rXPING\r\n",
    b"*1\r\n$4\r\nPINGxx",
    b"*1\r\nX" + b"y" * 70000,
    b"\"a\xffb\" 'c'd\r\n",
]


def exchange(port: int, data: bytes, wait: float = 2.0) -> bytes:
    """What the server sends back for ``data`` and a PING sent with it: up to the PONG, or up
    to the close. A request left incomplete makes the server wait for more: after ``wait``
    seconds of silence that is what is recorded (no reply ever comes then, so a slow machine
    changes nothing but the time it takes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data + PING)
        s.settimeout(wait)
        out = b""
        try:
            while not out.endswith(b"+PONG\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    return out + b"<closed>"
                out += chunk
        except TimeoutError:
            return out + b"<waiting>"
        except OSError:
            return out + b"<closed>"
        return out


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    with start_valkey("8.1.8") as real, start_valsync() as ours:
        yield real.port, ours.port


@pytest.mark.parametrize("data", FOUND)
def test_found_inputs_answer_as_valkey(ports: tuple[int, int], data: bytes) -> None:
    real, ours = ports
    assert exchange(ours, data) == exchange(real, data)


@pytest.mark.slow
@example_settings("VALSYNC_FRAMING_FUZZ_EXAMPLES", 100)
@given(streams)
def test_random_requests_answer_as_valkey(ports: tuple[int, int], data: bytes) -> None:
    real, ours = ports
    assert exchange(ours, data) == exchange(real, data)
