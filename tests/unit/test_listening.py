"""The listening sockets opened before the heavy imports (``valsync.net.listening``)."""

from __future__ import annotations

import socket

import pytest

from valsync.net.listening import open_tcp_sockets


def test_bound_and_listening_before_any_server_runs() -> None:
    warnings: list[str] = []
    sockets = open_tcp_sockets(0, "127.0.0.1", warnings.append)
    try:
        assert len(sockets) == 1 and warnings == []
        port = sockets[0].getsockname()[1]
        # the kernel completes the handshake: the client waits in the accept queue
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"PING\r\n")
            accepted, _ = sockets[0].accept()
            with accepted:
                assert accepted.recv(6) == b"PING\r\n"
    finally:
        for sock in sockets:
            sock.close()


def test_optional_address_failing_is_a_warning_a_required_one_an_error() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        warnings: list[str] = []
        assert open_tcp_sockets(port, "-127.0.0.1", warnings.append) == []
        assert len(warnings) == 1
        assert warnings[0].startswith(
            f"Could not create server TCP listening socket -127.0.0.1:{port}"
        )
        with pytest.raises(OSError):
            open_tcp_sockets(port, "127.0.0.1", warnings.append)
    finally:
        taken.close()
