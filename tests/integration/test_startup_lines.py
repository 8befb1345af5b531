"""The startup lines tools wait for, as Valkey's test harness reads them from the log."""

from __future__ import annotations

import re

import pytest

from tests.integration.support import wait_until
from tests.realvalkey import start_valkey, start_valsync


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
