"""``unixsocket``: clients (and valkey-benchmark, as Valkey's tests use it) connect through a
unix socket; CLIENT INFO shows the socket path as Valkey does."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import valkey

from tests.realvalkey import ServerProcess, start_valkey, start_valsync


@pytest.mark.parametrize("kind", ["valsync", "valkey"])
def test_clients_over_a_unix_socket(
    servers: list[ServerProcess], tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "server.sock"
    args = ("--unixsocket", str(path), "--unixsocketperm", "700")
    server = start_valsync(*args) if kind == "valsync" else start_valkey("8.1.8", *args)
    servers.append(server)
    client = valkey.Valkey(unix_socket_path=str(path), decode_responses=True)
    assert client.ping()
    assert client.set("k", "v") and client.get("k") == "v"
    info = client.execute_command("CLIENT", "INFO")
    assert re.search(rf"addr={re.escape(str(path))}:0 laddr={re.escape(str(path))}:0 ", info)
    assert oct(path.stat().st_mode & 0o777) == "0o700"
    bench = shutil.which("redis-benchmark")
    if bench is not None:
        subprocess.run(
            [bench, "-s", str(path), "-n", "200", "-t", "set", "-q"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        assert int(client.info("stats")["total_commands_processed"]) >= 200
