"""The shared replication buffer: replicas are sent from the backlog, which they pin.

Each scenario runs with valsync and with real valkey 8.1.8 as the primary (a real 8.1.8 replica
either way) and asserts what both show in INFO, as Valkey's
``tests/integration/replication-buffer.tcl`` does.
"""

from __future__ import annotations

import signal

import pytest
import valkey

from tests.integration.support import connect, digest, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

PRIMARIES = ["valsync", "valkey"]


def _primary(servers: list[ServerProcess], kind: str, *args: str) -> ServerProcess:
    if kind == "valsync":
        server = start_valsync("--enable-debug-command", "yes", *args)
    else:
        server = start_valkey("8.1.8", *args)
    servers.append(server)
    return server


def _replica(servers: list[ServerProcess], primary: ServerProcess) -> ServerProcess:
    server = start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(server)
    return server


def _synced_pair(
    servers: list[ServerProcess], kind: str, *args: str
) -> tuple[valkey.Valkey, ServerProcess, valkey.Valkey]:
    """A primary of ``kind`` with ``args`` and a synced real replica: (p, replica, r)."""
    primary = _primary(servers, kind, *args, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    replica = _replica(servers, primary)
    r = connect(replica)
    wait_synced(p, r)
    return p, replica, r


@pytest.mark.parametrize("kind", PRIMARIES)
def test_a_stuck_replica_keeps_the_backlog_beyond_its_size(
    servers: list[ServerProcess], kind: str
) -> None:
    p, replica, r = _synced_pair(
        servers,
        kind,
        "--repl-backlog-size",
        "16kb",
        "--client-output-buffer-limit",
        "replica 0 0 0",
    )
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        pipe = p.pipeline(transaction=False)
        for i in range(3000):  # 30 MB: far more than the kernel's socket buffers hold
            pipe.set(f"fill:{i}", "x" * 10000)
        pipe.execute()
        # the replica's unsent stream stays in the backlog (Valkey's shared buffer)
        assert info(p)["repl_backlog_histlen"] > 10_000_000
        assert info(p, "memory")["mem_total_replication_buffers"] > 10_000_000
        (line,) = p.execute_command("CLIENT", "LIST", "TYPE", "replica").decode().splitlines()
        assert int(line.split(" omem=")[1].split()[0]) > 10_000_000
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    wait_synced(p, r, timeout=60)
    # once sent, the backlog shrinks back towards its configured size
    wait_until(lambda: info(p)["repl_backlog_histlen"] < 1_000_000, what="backlog trimmed")
    stats = info(p, "stats")
    assert stats["sync_full"] == 1 and stats["client_output_buffer_limit_disconnections"] == 0
    assert digest(r) == digest(p)


@pytest.mark.parametrize("kind", PRIMARIES)
def test_replica_limit_below_backlog_size_is_ignored(
    servers: list[ServerProcess], kind: str
) -> None:
    p, replica, r = _synced_pair(
        servers,
        kind,
        "--repl-backlog-size",
        "100mb",
        "--client-output-buffer-limit",
        "replica 512kb 0 0",
    )
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        big = "A" * (10 * 1024 * 1024)
        p.set("key", big)  # 10 MB pending for the replica: over 512kb, under the backlog
        p.set("key", big)
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    wait_synced(p, r, timeout=60)
    stats = info(p, "stats")
    assert stats["client_output_buffer_limit_disconnections"] == 0
    assert stats["sync_full"] == 1
    assert digest(r) == digest(p)


@pytest.mark.parametrize("kind", PRIMARIES)
def test_a_snapshot_for_replica_sockets_is_a_bgsave_in_progress(
    servers: list[ServerProcess], kind: str
) -> None:
    primary = _primary(
        servers,
        kind,
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--save",
        "",
    )
    p = connect(primary)
    p.mset({f"k{i}": i for i in range(5)})
    p.config_set("rdb-key-save-delay", 200000)  # 1 s for the five keys
    replica = _replica(servers, primary)
    wait_until(
        lambda: info(p, "persistence")["rdb_bgsave_in_progress"] == 1,
        what="bgsave in progress",
    )
    assert info(p, "persistence")["rdb_current_bgsave_time_sec"] >= 0
    p.config_set("rdb-key-save-delay", 0)
    wait_synced(p, connect(replica))
    wait_until(lambda: info(p, "persistence")["rdb_bgsave_in_progress"] == 0, what="bgsave done")


@pytest.mark.parametrize("kind", PRIMARIES)
def test_the_snapshot_child_ends_when_its_last_replica_leaves(
    servers: list[ServerProcess], kind: str
) -> None:
    primary = _primary(
        servers, kind, "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"
    )
    p = connect(primary)
    p.mset({f"k{i}": i for i in range(100)})
    p.config_set("rdb-key-save-delay", 1000000)  # 100 s: only a kill ends it soon
    replica = _replica(servers, primary)
    wait_until(lambda: info(p, "persistence")["rdb_bgsave_in_progress"] == 1, what="sync")
    connect(replica).replicaof("no", "one")
    wait_until(lambda: info(p, "persistence")["rdb_bgsave_in_progress"] == 0, what="child killed")
    assert info(p)["connected_slaves"] == 0


def _stopped(server: ServerProcess) -> bool:
    with open(f"/proc/{server.pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


@pytest.mark.parametrize("kind", PRIMARIES)
def test_an_rdb_channel_keeps_the_stream_until_its_main_channel_psyncs(
    servers: list[ServerProcess], kind: str
) -> None:
    primary = _primary(
        servers,
        kind,
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--dual-channel-replication-enabled",
        "yes",
        "--repl-backlog-size",
        "100kb",
    )
    p = connect(primary)
    p.mset({f"k{i}": "v" * 100 for i in range(100)})
    replica = start_valsync(
        "--enable-debug-command", "yes", "--dual-channel-replication-enabled", "yes"
    )
    servers.append(replica)
    r = connect(replica)
    r.execute_command("DEBUG", "PAUSE-AFTER-FORK", "1")  # stop before the main PSYNC
    r.replicaof("127.0.0.1", primary.port)
    wait_until(lambda: _stopped(replica), what="replica stopped")
    assert info(p)["replicas_waiting_psync"] == 1
    pipe = p.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"w{i}", "x" * 5000)
    pipe.execute()
    # 500 KB written since the snapshot: all kept for the waiting replica
    assert info(p)["repl_backlog_histlen"] > 500_000
    assert info(p, "memory")["mem_total_replication_buffers"] > 500_000
    replica.proc.send_signal(signal.SIGCONT)
    r.execute_command("DEBUG", "PAUSE-AFTER-FORK", "0")
    wait_synced(p, r)
    assert info(p)["replicas_waiting_psync"] == 0
    assert digest(r) == digest(p)


@pytest.mark.parametrize("kind", PRIMARIES)
def test_an_rdb_channel_over_the_replica_limit_is_dropped(
    servers: list[ServerProcess], kind: str
) -> None:
    primary = _primary(
        servers,
        kind,
        "--repl-diskless-sync-delay",
        "0",
        "--dual-channel-replication-enabled",
        "yes",
        "--repl-backlog-size",
        "16kb",
        "--client-output-buffer-limit",
        "replica 256kb 0 0",
    )
    p = connect(primary)
    replica = start_valsync(
        "--enable-debug-command", "yes", "--dual-channel-replication-enabled", "yes"
    )
    servers.append(replica)
    r = connect(replica)
    r.execute_command("DEBUG", "PAUSE-AFTER-FORK", "1")  # stop before the main PSYNC
    r.replicaof("127.0.0.1", primary.port)
    wait_until(lambda: _stopped(replica), what="replica stopped")
    assert info(p)["replicas_waiting_psync"] == 1
    for i in range(100):  # 500 KB kept for the waiting replica: over its 256kb limit
        p.set(f"w{i}", "x" * 5000)
    wait_until(lambda: info(p)["replicas_waiting_psync"] == 0, what="RDB channel dropped")
    assert info(p, "stats")["client_output_buffer_limit_disconnections"] == 1
    wait_until(lambda: info(p)["repl_backlog_histlen"] < 100_000, what="backlog trimmed")
    replica.proc.send_signal(signal.SIGCONT)
    r.execute_command("DEBUG", "PAUSE-AFTER-FORK", "0")
    wait_synced(p, r)  # by a new full sync
    assert digest(r) == digest(p)
