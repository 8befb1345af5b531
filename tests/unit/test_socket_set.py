"""SocketSetWriter: the RDB child's direct output to several RDB channels."""

from __future__ import annotations

import socket

import pytest

from valsync.rdb.socket_set import AllSocketsFailed, SocketSetWriter


def _pair() -> tuple[socket.socket, socket.socket]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)  # as the parent's trio sockets are
    return ours, peer


def _drain(sock: socket.socket) -> bytes:
    sock.settimeout(0.5)
    out = bytearray()
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except TimeoutError:
        pass
    return bytes(out)


def test_each_socket_gets_its_preamble_then_the_same_payload() -> None:
    (a, pa), (b, pb) = _pair(), _pair()
    with a, pa, b, pb:
        writer = SocketSetWriter([a.fileno(), b.fileno()], timeout=5, buffer_size=8)
        writer.send_each({a.fileno(): b"A:", b.fileno(): b"B:"})
        for part in (b"hello ", b"world", b"!"):
            writer.write(part)
        writer.flush()
        assert _drain(pa) == b"A:hello world!"
        assert _drain(pb) == b"B:hello world!"
        assert not a.getblocking()  # the shared socket's flags are left as they were
        assert writer.written == len(b"hello world!")


def test_a_lost_socket_is_dropped_and_the_others_go_on() -> None:
    (a, pa), (b, pb) = _pair(), _pair()
    with a, b, pb:
        pa.close()
        writer = SocketSetWriter([a.fileno(), b.fileno()], timeout=5, buffer_size=4)
        writer.write(b"data-1")
        writer.write(b"data-2")
        writer.flush()
        assert a.fileno() in writer.errors and writer.live == [b.fileno()]
        assert _drain(pb) == b"data-1data-2"


def test_every_socket_lost_fails_the_transfer() -> None:
    a, pa = _pair()
    with a:
        pa.close()
        writer = SocketSetWriter([a.fileno()], timeout=5, buffer_size=4)
        with pytest.raises(AllSocketsFailed):
            writer.write(b"payload")


def test_a_peer_that_takes_nothing_times_out() -> None:
    a, pa = _pair()
    with a, pa:
        writer = SocketSetWriter([a.fileno()], timeout=0.2, buffer_size=1)
        with pytest.raises(AllSocketsFailed):
            for _ in range(10_000):
                writer.write(b"x" * 65536)
