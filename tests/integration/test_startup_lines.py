"""The startup lines tools wait for, as Valkey's test harness reads them from the log."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.support import wait_until
from tests.realvalkey import free_port, start_valkey, start_valsync, valkey_server_bin


@pytest.mark.parametrize("start", [start_valsync, lambda *a: start_valkey("8.1.8", *a)])
def test_harness_sees_pid_then_server_initialized(start: object) -> None:
    assert callable(start)
    server = start("--always-show-logo", "yes")
    try:
        wait_until(lambda: "Ready to accept connections tcp" in server.log(), 10, "ready line")
        log = server.log()
        # the regexp of tests/support/server.tcl, where "." also matches newlines
        assert re.search(rf" PID: {server.pid}.*Server initialized", log, re.S)
        assert log.index("Server initialized") < log.index("Ready to accept connections")
    finally:
        server.stop()


def test_without_logo_the_running_mode_line() -> None:
    server = start_valsync()
    try:
        wait_until(lambda: "Ready to accept" in server.log(), 10, "ready line")
        log = server.log()
        assert f"Running mode=standalone, port={server.port}." in log
        assert " PID: " not in log
    finally:
        server.stop()


@pytest.mark.parametrize("binary", ["valsync", "8.1.8"])
def test_port_is_bound_once_server_initialized_is_logged(tmp_path: Path, binary: str) -> None:
    """The harness connects right after "Server initialized" (restart_server without waiting
    for readiness): the port must already be bound then, even while a dump loads."""
    port = free_port()
    log = tmp_path / "server.log"
    if binary == "valsync":
        argv = [sys.executable, "-m", "valsync", "serve"]
    else:
        argv = [valkey_server_bin("8.1.8")]
    argv += ["--port", str(port), "--dir", str(tmp_path), "--save", "", "--logfile", str(log)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(
            lambda: log.exists() and "Server initialized" in log.read_text(), 20, "initialized"
        )
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        proc.kill()
        proc.wait()
