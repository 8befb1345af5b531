"""Before AUTH, Valkey limits a request's multibulk and bulk lengths with its own words."""

from __future__ import annotations

import socket

import pytest

from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _first_reply(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.parametrize(
    "payload",
    [
        b"*100\r\n",
        b"*1\r\n$100000000\r\n",
        b"*11\r\n",
        b"*1\r\n$16385\r\n",
        b"*1\r\n$4\r\nPING\r\n",
    ],
)
def test_unauthenticated_lengths_like_valkey(payload: bytes) -> None:
    servers: list[ServerProcess] = []
    try:
        servers.append(start_valsync("--requirepass", "foobar"))
        servers.append(start_valkey("8.1.8", "--requirepass", "foobar"))
        ours, theirs = (_first_reply(s.port, payload) for s in servers)
        assert ours == theirs
    finally:
        for server in servers:
            server.stop()
