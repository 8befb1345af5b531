"""CLIENT PAUSE / UNPAUSE as valkey 8.1.8: writes wait out the pause, reads go on."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest

from tests.differential import RawClient, encode_argv
from tests.integration.support import connect, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


@pytest.fixture(scope="module", params=["valsync", "valkey"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    start = (
        (lambda: start_valsync("--enable-debug-command", "yes"))
        if request.param == "valsync"
        else (lambda: start_valkey("8.1.8"))
    )
    with start() as s:
        yield s


def _pending(port: int, *argv: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(encode_argv(argv))
    return sock


def _answered(sock: socket.socket, wait: float) -> bool:
    return bool(select.select([sock], [], [], wait)[0])


def test_errors_like_valkey() -> None:
    cases = [
        ("CLIENT", "PAUSE"),
        ("CLIENT", "PAUSE", "abc"),
        ("CLIENT", "PAUSE", "-1"),
        ("CLIENT", "PAUSE", "10", "foo"),
        ("CLIENT", "PAUSE", "10", "WRITE", "extra"),
        ("CLIENT", "UNPAUSE", "x"),
        ("CLIENT", "UNPAUSE"),
    ]
    replies = []
    for start in (start_valsync, lambda: start_valkey("8.1.8")):
        with start() as s, RawClient(s.port) as client:
            replies.append([client.call(*c) for c in cases])
    assert replies[0] == replies[1]


def test_write_pause_holds_writes_not_reads(server: ServerProcess) -> None:
    admin = connect(server, decode_responses=True)
    admin.flushall()
    admin.set("k", "old")
    admin.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
    try:
        info = admin.info("clients")
        assert (info["paused_reason"], info["paused_actions"]) == ("client_pause", "write")
        writer = _pending(server.port, "SET", "k", "new")
        multi = _pending(server.port, "MULTI")
        multi.recv(100)
        multi.sendall(encode_argv(["INCR", "n"]))  # a write inside MULTI is held too
        assert not _answered(writer, 0.3)
        assert not _answered(multi, 0.1)
        assert admin.get("k") == "old"  # reads are served meanwhile
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    assert _answered(writer, 5) and writer.recv(100) == b"+OK\r\n"
    assert _answered(multi, 5) and multi.recv(100) == b"+QUEUED\r\n"
    assert admin.get("k") == "new"
    assert admin.info("clients")["paused_actions"] == "none"
    writer.close()
    multi.close()


def test_all_pause_holds_reads_and_ends_by_itself(server: ServerProcess) -> None:
    admin = connect(server, decode_responses=True)
    admin.execute_command("CLIENT", "PAUSE", "400", "ALL")
    reader = _pending(server.port, "PING")
    assert not _answered(reader, 0.1)
    assert _answered(reader, 10) and reader.recv(100) == b"+PONG\r\n"
    reader.close()


def test_expired_keys_stay_while_writes_are_paused(server: ServerProcess) -> None:
    admin = connect(server, decode_responses=True)
    admin.flushall()
    admin.set("short", "v", px=100)
    admin.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
    try:
        wait_until(lambda: admin.get("short") is None, 5, "the key reads as expired")
        admin.execute_command("DEBUG", "SLEEP", "0.3")
        assert admin.dbsize() == 1  # not deleted (nor propagated) during the pause
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    wait_until(lambda: admin.dbsize() == 0, 5, "deleted once the pause ends")
