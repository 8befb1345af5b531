"""The network layer against real clients: exact protocol errors, limits, hostile peers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import connect, raw_exchange, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync, valkey_cli_bin

MALFORMED = [
    b"*abc\r\n",
    b"*2\r\n:1\r\n",
    b"*1\r\n$-3\r\n",
    b"*1\r\n$abc\r\n",
    b'"unbalanced\r\n',
    b"*3000000000\r\n",
    b"*1\r\n$600000000\r\n",
    b"*0\r\nPING\r\n",
    b"*-1\r\nPING\r\n",
    b"\r\nPING\r\n",
    b"ECHO 'a b'\r\n",
    b'ECHO "\\x41\\n"\r\n',
    b"*1\r\n$+4\r\n",
    b"*+1\r\n",
    b"*1\r\n$04\r\nPING\r\n",
    b"*1\r\n$4\r\nPINGxx",
    b"PING a b\r\n",
    b"FOO bar baz\r\n",
    b"SELECT 99\r\n",
    b"SELECT x\r\n",
    b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    real = start_valkey("8.1.8")
    mine = start_valsync()
    try:
        yield real, mine
    finally:
        mine.stop()
        real.stop()


def _probe(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(data)
        s.settimeout(0.3)
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                return out
            if not chunk:
                return out + b"<closed>"
            out += chunk


@pytest.mark.parametrize("data", MALFORMED)
def test_replies_and_closes_like_valkey(
    pair: tuple[ServerProcess, ServerProcess], data: bytes
) -> None:
    real, mine = pair
    assert _probe(mine.port, data) == _probe(real.port, data)


def test_bad_client_does_not_disturb_others(pair: tuple[ServerProcess, ServerProcess]) -> None:
    _, mine = pair
    c = connect(mine)
    c.execute_command("SELECT", 2)
    assert c.execute_command("ECHO", "still here") == b"still here"
    for data in MALFORMED:
        _probe(mine.port, data)
    assert c.execute_command("ECHO", "still here") == b"still here"
    assert c.ping()


def test_many_connections_and_a_client_that_never_reads(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    _, mine = pair
    socks = []
    try:
        for _ in range(2000):
            socks.append(socket.create_connection(("127.0.0.1", mine.port), timeout=5))
        hog = socket.create_connection(("127.0.0.1", mine.port), timeout=5)
        socks.append(hog)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        payload = b"*2\r\n$4\r\nECHO\r\n$65536\r\n" + b"x" * 65536 + b"\r\n"
        hog.setblocking(False)
        sent = 0
        for _ in range(500):
            try:
                sent += hog.send(payload)
            except BlockingIOError:
                break
        c = connect(mine)
        assert c.ping()
        assert int(c.info("clients")["connected_clients"]) >= 2000
    finally:
        for s in socks:
            s.close()


def test_maxclients_and_requirepass() -> None:
    server = start_valsync("--maxclients", "3", "--requirepass", "s3cret")
    try:
        assert (
            raw_exchange(server.port, b"PING\r\n", 0.3) == b"-NOAUTH Authentication required.\r\n"
        )
        assert raw_exchange(server.port, b"AUTH s3cret\r\nPING\r\n", 0.3) == b"+OK\r\n+PONG\r\n"
        assert raw_exchange(server.port, b"AUTH nope\r\n", 0.3).startswith(b"-WRONGPASS")
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        time.sleep(0.2)
        try:
            assert raw_exchange(server.port, b"", 0.5) == b"-ERR max number of clients reached\r\n"
        finally:
            for s in held:
                s.close()
    finally:
        server.stop()


def test_unknown_directive_refuses_to_start() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "valsync", "serve", "--port", "0", "--no-such-directive", "1"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert res.returncode != 0
    assert "FATAL CONFIG FILE ERROR" in res.stderr
    assert "Bad directive or wrong number of arguments" in res.stderr


def test_valkey_cli_argv_and_pipe(pair: tuple[ServerProcess, ServerProcess]) -> None:
    _, mine = pair
    cli = valkey_cli_bin()
    out = subprocess.run(
        [cli, "-p", str(mine.port), "ECHO", "hello world"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert out.stdout.strip() == "hello world"
    commands = "".join(f"ECHO {i}\r\n" for i in range(100)) + "PING\r\n"
    res = subprocess.run(
        [cli, "-p", str(mine.port), "--pipe"],
        input=commands,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "errors: 0, replies: 101" in res.stdout


def test_sigterm_shuts_down_cleanly(tmp_path: Path) -> None:
    server = start_valsync(dir=tmp_path)
    server.stop(15)
    assert server.proc.returncode == 0
    assert "ready to exit" in server.log()


def test_client_list_and_kill(pair: tuple[ServerProcess, ServerProcess]) -> None:
    _, mine = pair
    a = connect(mine)
    b = connect(mine)
    b.client_setname("victim")
    listing = a.execute_command("CLIENT", "LIST")
    assert b"name=victim" in listing
    victim_id = b.client_id()
    assert a.execute_command("CLIENT", "KILL", "ID", victim_id) == 1
    wait_until(
        lambda: b"name=victim" not in a.execute_command("CLIENT", "LIST"), what="victim gone"
    )


def test_big_pipeline_whose_replies_are_read_at_the_end(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """The client writes 30 MB before reading a reply: replies must not block our reading."""
    _, mine = pair
    c = connect(mine)
    for _ in range(3):
        pipe = c.pipeline(transaction=False)
        for i in range(30000):
            pipe.set(f"pipe:{i}", b"x" * 1000)
        assert all(pipe.execute())
    assert c.dbsize() >= 30000
