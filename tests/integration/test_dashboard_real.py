"""The dashboard against real valkey-server 8.1.8 / 9.1.2: ``--once`` frames and a live tmux run.

The two-states setup is made deterministic by ordering, not timing: the 8.1.8 replica syncs
first (online), then the primary's fork is slowed with ``rdb-key-save-delay`` (100 ms per key,
disk-based sync) and the 9.1.2 replica attaches, so it sits in ``wait_bgsave`` for ~10 s while
the dashboard is polled.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.integration.support import connect, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey

ROOT = Path(__file__).resolve().parent.parent.parent
SLOW_KEYS = 100  # x 100 ms per key = a 10 s BGSAVE child


@pytest.fixture
def primary_with_two_states() -> Iterator[tuple[ServerProcess, ServerProcess, ServerProcess]]:
    with start_valkey("8.1.8", "--repl-diskless-sync", "no") as primary:
        pc = connect(primary)
        for i in range(SLOW_KEYS):
            pc.set(f"k{i}", "v" * 64)
        with start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)) as online:
            wait_synced(pc, connect(online))
            pc.config_set("rdb-key-save-delay", 100000)
            with start_valkey("9.1.2", "--replicaof", "127.0.0.1", str(primary.port)) as waiting:
                wait_until(
                    lambda: "wait_bgsave" in str(info(pc).get("slave1", {})),
                    10,
                    "second replica in wait_bgsave",
                )
                try:
                    yield primary, online, waiting
                finally:
                    # The slow child would outlive the test by seconds; end it with the server.
                    pc.config_set("rdb-key-save-delay", 0)
                    pc.execute_command("BGSAVE", "CANCEL")


def _replica_rows(frame: str) -> dict[str, str]:
    """``address -> state`` from the replica table of the frame."""
    rows = re.findall(
        r"│ (\d+\.\d+\.\d+\.\d+:\d+)\s+(replica|rdb-channel|main-channel)\s+(\w+)\s+\d+", frame
    )
    return {addr: state for addr, _type, state in rows}


async def test_once_shows_online_and_wait_bgsave(
    primary_with_two_states: tuple[ServerProcess, ServerProcess, ServerProcess],
) -> None:
    primary, online, waiting = primary_with_two_states
    targets = [f"127.0.0.1:{s.port}" for s in (primary, online, waiting)]
    with trio.fail_after(20):
        result = await trio.run_process(
            [sys.executable, "-m", "valsync.dashboard", *targets, "--once"],
            capture_stdout=True,
            capture_stderr=True,
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
        )
    frame = result.stdout.decode()
    assert result.stderr == b"", result.stderr
    assert "\x1b[" not in frame  # not a TTY: plain text
    rows = _replica_rows(frame)
    assert rows[f"127.0.0.1:{online.port}"] == "online", frame
    assert rows[f"127.0.0.1:{waiting.port}"] == "wait_bgsave", frame
    assert "fork: rdb child" in frame and f"/{SLOW_KEYS} keys" in frame, frame
    assert f"127.0.0.1:{online.port}  replica  valkey 8.1.8" in frame
    assert f"127.0.0.1:{waiting.port}  replica  valkey 9.1.2" in frame
    assert "up (connected)" in frame and "down (sync)" in frame, frame


async def test_once_with_a_dead_target_exits_zero() -> None:
    from tests.realvalkey import free_port

    with trio.fail_after(20):
        result = await trio.run_process(
            [sys.executable, "-m", "valsync.dashboard", f"127.0.0.1:{free_port()}", "--once"],
            capture_stdout=True,
            capture_stderr=True,
            cwd=ROOT,
        )
    assert b"DOWN" in result.stdout and b"Connection refused" in result.stdout
    assert result.stderr == b""


def _tmux(sock: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", sock, *args], check=True, capture_output=True, text=True
    ).stdout


def _primary_offset(pane: str) -> int | None:
    m = re.search(r"primary.*\n.*replid\s+\w+\s+offset\s+(\d+)", pane)
    return int(m.group(1)) if m else None


def _pane_until(sock: str, pattern: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    pane = ""
    while time.monotonic() < deadline:
        pane = _tmux(sock, "capture-pane", "-p", "-t", "dash")
        if re.search(pattern, pane):
            return pane
        time.sleep(0.1)
    raise AssertionError(f"pane never matched {pattern!r}:\n{pane}")


@pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux not installed (make test installs it)"
)
def test_live_in_tmux_updates_and_quits_cleanly() -> None:
    """The real full-screen view in a 140x40 terminal: renders, follows writes, exits on C-c.

    A plain (sync) test: it only drives external processes, on a private tmux socket (``-L``)
    so it never touches a developer's own tmux server.
    """
    sock = f"valsync-dash-{os.getpid()}"
    with (
        start_valkey("8.1.8") as primary,
        start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)) as replica,
    ):
        pc = connect(primary)
        wait_synced(pc, connect(replica))
        cmd = (
            # pytest exports COLUMNS=80/LINES=24, which rich would obey over the real pane size.
            f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m valsync.dashboard 127.0.0.1:{primary.port} "
            f"127.0.0.1:{replica.port} --hz 8; echo EXITED rc=$?; sleep 60"
        )
        _tmux(sock, "new-session", "-d", "-s", "dash", "-x", "140", "-y", "40", cmd)
        try:
            first = _pane_until(sock, r"replica\s+online")
            size = _tmux(sock, "display", "-p", "-t", "dash", "#{window_width}x#{window_height}")
            assert size.strip() == "140x40", (size, first)
            before = _primary_offset(first)
            assert before is not None, first
            for i in range(50):
                pc.set(f"key{i}", "x" * 100)
            after_offset = int(info(pc)["master_repl_offset"])
            assert after_offset > before
            second = _pane_until(sock, rf"offset\s+{after_offset}\b")
            assert _primary_offset(second) == after_offset, second
            assert "up (connected)" in second and "writes" in second
            out = os.environ.get("DASHBOARD_FRAME_OUT")
            if out:
                Path(out).write_text(second)
            # A server that goes away is shown as down (and retried), never a traceback.
            replica.stop()
            gone = _pane_until(sock, rf"127\.0\.0\.1:{replica.port}\s+DOWN")
            assert "Connection refused" in gone or "connection" in gone, gone
            assert "Traceback" not in gone
            _tmux(sock, "send-keys", "-t", "dash", "C-c")
            last = _pane_until(sock, r"EXITED rc=\d+")
            assert "EXITED rc=0" in last, last
            assert "Traceback" not in last and "KeyboardInterrupt" not in last, last
            assert "valsync dashboard" not in last  # alternate screen left, terminal restored
        finally:
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


async def test_once_against_valsync_with_a_real_replica() -> None:
    """The same frame from valsync itself: it is recognised and its replica is listed."""
    from tests.realvalkey import start_valsync

    with (
        start_valsync() as primary,
        start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)) as replica,
    ):
        pc = connect(primary)
        wait_until(lambda: int(info(pc).get("connected_slaves", 0)) >= 1, 10, "replica registered")
        with trio.fail_after(20):
            result = await trio.run_process(
                [
                    sys.executable,
                    "-m",
                    "valsync.dashboard",
                    f"127.0.0.1:{primary.port}",
                    f"127.0.0.1:{replica.port}",
                    "--once",
                ],
                capture_stdout=True,
                capture_stderr=True,
                cwd=ROOT,
                env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
            )
    frame = result.stdout.decode()
    assert result.stderr == b"", result.stderr
    assert f"127.0.0.1:{primary.port}  primary  valsync" in frame, frame
    assert f"127.0.0.1:{replica.port}  replica  valkey 8.1.8" in frame, frame
    assert f"127.0.0.1:{replica.port}" in _replica_rows(frame), frame
    assert "DOWN" not in frame


@pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux not installed (make test installs it)"
)
def test_serve_with_dashboard_in_tmux(tmp_path: Path) -> None:
    """``valsync serve --dashboard``: the server's own view in its terminal, logs to a file,
    a real replica shown online, and Ctrl-C shuts the server down cleanly."""
    from tests.realvalkey import free_port

    sock = f"valsync-serve-{os.getpid()}"
    port = free_port()
    cmd = (
        f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m valsync serve --port {port} "
        f"--bind 127.0.0.1 --save '' --dir {tmp_path} --repl-diskless-sync-delay 0 --dashboard; "
        "echo EXITED rc=$?; sleep 60"
    )
    _tmux(sock, "new-session", "-d", "-s", "dash", "-x", "140", "-y", "40", cmd)
    try:
        _pane_until(sock, r"127\.0\.0\.1:\d+\s+primary\s+valsync")
        with start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(port)):
            frame = _pane_until(sock, r"replica\s+online")
            assert "valsync dashboard" in frame
        _tmux(sock, "send-keys", "-t", "dash", "C-c")
        last = _pane_until(sock, r"EXITED rc=\d+")
        assert "EXITED rc=0" in last and "Traceback" not in last, last
        log = (tmp_path / "valsync.log").read_text()
        assert "Ready to accept connections" in log and "ready to exit" in log
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
