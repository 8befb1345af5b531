"""FAILOVER between valsync and real Valkey, both ways: roles swap, the old primary resumes
by partial resync, acknowledged writes survive; the timeout, FORCE and ABORT paths."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.differential import RawClient
from tests.integration.support import connect, digest, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

Starter = Callable[[], ServerProcess]
VALSYNC: Starter = lambda: start_valsync("--enable-debug-command", "yes")  # noqa: E731
VALKEY_8: Starter = lambda: start_valkey("8.1.8")  # noqa: E731
VALKEY_9: Starter = lambda: start_valkey("9.1.2")  # noqa: E731


def _pair(servers: list[ServerProcess], first: Starter, second: Starter) -> tuple:  # type: ignore[type-arg]
    a, b = first(), second()
    servers += [a, b]
    ca, cb = connect(a, decode_responses=True), connect(b, decode_responses=True)
    cb.replicaof("127.0.0.1", a.port)
    wait_synced(ca, cb)
    return a, b, ca, cb


@pytest.mark.parametrize(
    ("first", "second"),
    [(VALSYNC, VALKEY_8), (VALKEY_8, VALSYNC), (VALSYNC, VALKEY_9), (VALSYNC, VALSYNC)],
    ids=["valsync-to-8.1.8", "8.1.8-to-valsync", "valsync-to-9.1.2", "valsync-to-valsync"],
)
def test_failover_swaps_roles_by_partial_resync(
    servers: list[ServerProcess], first: Starter, second: Starter
) -> None:
    a, b, ca, cb = _pair(servers, first, second)
    for i in range(200):
        ca.set(f"k{i}", i)
    ca.incr("counter")
    assert ca.wait(1, 5000) == 1
    before = info(cb, "stats")
    assert ca.execute_command("FAILOVER", "TO", "127.0.0.1", str(b.port), "TIMEOUT", "10000")
    wait_until(lambda: info(ca)["role"] == "slave" and info(ca)["master_link_status"] == "up")
    assert info(cb)["role"] == "master"
    assert info(ca)["master_port"] == b.port
    wait_until(lambda: info(ca)["master_failover_state"] == "no-failover")
    after = info(cb, "stats")
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    cb.incr("counter")  # writes flow on the new primary and reach the old one
    assert cb.wait(1, 5000) == 1
    wait_synced(cb, ca)
    assert ca.get("counter") == "2" and ca.dbsize() == 201
    assert digest(ca) == digest(cb)


def test_timeout_aborts_and_force_switches(servers: list[ServerProcess]) -> None:
    a, b, ca, cb = _pair(servers, VALSYNC, VALKEY_8)
    b.proc.send_signal(signal.SIGSTOP)
    try:
        ca.set("unacked", "1")  # the stopped replica cannot acknowledge this
        assert ca.execute_command("FAILOVER", "TO", "127.0.0.1", str(b.port), "TIMEOUT", "300")
        assert info(ca)["master_failover_state"] == "waiting-for-sync"
        wait_until(lambda: info(ca)["master_failover_state"] == "no-failover")
        assert info(ca)["role"] == "master"
        assert "aborted: Replica never caught up before timeout" in a.log()
        ca.set("writable", "again")  # the write pause was lifted
        assert ca.execute_command(
            "FAILOVER", "TO", "127.0.0.1", str(b.port), "TIMEOUT", "300", "FORCE"
        )
    finally:
        b.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: info(cb)["role"] == "master" and info(ca)["master_link_status"] == "up")
    assert "time out exceeded, failing over." in a.log()
    wait_synced(cb, ca)
    assert digest(ca) == digest(cb)


def test_abort_while_waiting(servers: list[ServerProcess]) -> None:
    a, b, ca, cb = _pair(servers, VALSYNC, VALKEY_8)
    b.proc.send_signal(signal.SIGSTOP)
    try:
        ca.set("unacked", "1")
        assert ca.execute_command("FAILOVER", "TO", "127.0.0.1", str(b.port))
        assert f"127.0.0.1:{a.port}  primary  valsync" in _frame(a)
        assert "FAILOVER waiting-for-sync" in _frame(a)  # the operator's view shows it
        with RawClient(a.port) as raw:
            # other replicas may not sync meanwhile
            assert (
                raw.call("PSYNC", "?", "-1") == b"-NOMASTERLINK Can't SYNC while failing over\r\n"
            )
        assert ca.execute_command("FAILOVER", "ABORT")
        assert f"FAILOVER to 127.0.0.1:{b.port} aborted: Failover manually aborted" in a.log()
        assert info(ca)["master_failover_state"] == "no-failover"
        assert "FAILOVER" not in _frame(a)
        assert ca.set("k", "v")
    finally:
        b.proc.send_signal(signal.SIGCONT)


def test_target_rejecting_psync_aborts_and_replicas_resume(
    servers: list[ServerProcess],
) -> None:
    """Valkey's "failover aborts if target rejects sync request", after a round trip of roles
    (the old replica era's offsets must not rewind ours when the abort makes us primary)."""
    a, b, ca, cb = _pair(servers, VALSYNC, VALKEY_8)
    assert ca.execute_command("FAILOVER", "TO", "127.0.0.1", str(b.port))
    wait_until(lambda: info(ca)["role"] == "slave" and info(ca)["master_link_status"] == "up")
    assert cb.execute_command("FAILOVER", "TO", "127.0.0.1", str(a.port))
    wait_until(lambda: info(cb)["role"] == "slave" and info(cb)["master_link_status"] == "up")
    for i in range(50):
        ca.set(f"k{i}", i)
    wait_synced(ca, cb)
    before = info(ca, "stats")
    cb.execute_command("ACL", "SETUSER", "default", "-psync")
    assert ca.execute_command("FAILOVER", "TO", "127.0.0.1", str(b.port))
    wait_until(lambda: info(ca)["master_failover_state"] == "no-failover")
    assert info(ca)["role"] == "master"
    assert "aborted: Failover target rejected psync request" in a.log()
    assert "falling back to SYNC" not in a.log()
    cb.execute_command("ACL", "SETUSER", "default", "+psync")
    ca.set("after", "abort")
    wait_synced(ca, cb)
    after = info(ca, "stats")
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    assert digest(ca) == digest(cb)


def _frame(server: ServerProcess) -> str:
    """One dashboard frame of ``server`` (``valsync dashboard --once``, plain text)."""
    result = subprocess.run(
        [sys.executable, "-m", "valsync.dashboard", f"127.0.0.1:{server.port}", "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


ERROR_CASES = [
    ("FAILOVER", "ABORT"),
    ("FAILOVER",),
    ("FAILOVER", "TO", "127.0.0.1", "1"),
    ("FAILOVER", "TO", "127.0.0.1", "x"),
    ("FAILOVER", "TIMEOUT", "0"),
    ("FAILOVER", "TIMEOUT", "-5"),
    ("FAILOVER", "FORCE"),
    ("FAILOVER", "FORCE", "FORCE"),
    ("FAILOVER", "bogus"),
    ("FAILOVER", "TO", "127.0.0.1"),
]


def test_errors_like_valkey(servers: list[ServerProcess]) -> None:
    replies = []
    for start in (VALSYNC, VALKEY_8):
        server = start()
        servers.append(server)
        with RawClient(server.port) as raw:
            replies.append([raw.call(*case) for case in ERROR_CASES])
    assert replies[0] == replies[1]


def test_errors_with_a_replica_like_valkey(servers: list[ServerProcess]) -> None:
    replies = []
    for first in (VALSYNC, VALKEY_8):
        a, b, ca, cb = _pair(servers, first, VALKEY_8)
        with RawClient(a.port) as raw:
            replies.append(
                [
                    raw.call("FAILOVER", "TO", "127.0.0.1", "1"),
                    raw.call("FAILOVER", "TO", "127.0.0.1", str(b.port), "FORCE"),
                ]
            )
        with RawClient(b.port) as raw:
            replies.append([raw.call("FAILOVER")])
    assert replies[0] == replies[2] and replies[1] == replies[3]
