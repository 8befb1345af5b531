"""The replication features around the sync itself, against real Valkey peers."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from tests.integration.support import (
    connect,
    digest,
    info,
    populate_all_types,
    raw_exchange,
    wait_synced,
    wait_until,
)
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _valsync(servers: list[ServerProcess], *args: str, dir: Path | None = None) -> ServerProcess:
    server = start_valsync("--enable-debug-command", "yes", *args, dir=dir)
    servers.append(server)
    return server


def _valkey(
    servers: list[ServerProcess],
    version: str,
    *args: str,
    dir: Path | None = None,
    port: int | None = None,
) -> ServerProcess:
    server = start_valkey(version, *args, dir=dir, port=port)
    servers.append(server)
    return server


def _replica_of(
    servers: list[ServerProcess], primary: ServerProcess, version: str = "8.1.8", *args: str
) -> ServerProcess:
    return _valkey(servers, version, "--replicaof", "127.0.0.1", str(primary.port), *args)


def test_keepalive_newlines_while_waiting_for_the_snapshot(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "3")
    with socket.create_connection(("127.0.0.1", primary.port), timeout=10) as s:
        s.sendall(b"REPLCONF capa eof capa psync2\r\n")
        assert s.recv(100) == b"+OK\r\n"
        s.sendall(b"PSYNC ? -1\r\n")
        data = b""
        while b"+FULLRESYNC" not in data:
            chunk = s.recv(4096)
            assert chunk
            data += chunk
    prefix = data[: data.index(b"+FULLRESYNC")]
    assert prefix and set(prefix) == {ord("\n")}
    assert len(prefix) >= 2


def test_wait_and_acked_offsets(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    replica = _replica_of(servers, primary)
    r = connect(replica)
    wait_synced(p, r)
    p.set("w", 1)
    assert p.execute_command("WAIT", 1, 2000) == 1
    t0 = time.monotonic()
    assert p.execute_command("WAIT", 2, 500) == 1
    assert time.monotonic() - t0 >= 0.45
    wait_until(lambda: info(p)["slave0"]["offset"] == info(p)["master_repl_offset"], what="ack")
    role = p.execute_command("ROLE")
    assert role[0] == b"master" and role[1] == info(p)["master_repl_offset"]
    assert role[2][0][1] == str(replica.port).encode()


def test_min_replicas_to_write(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--min-replicas-to-write", "1", "--min-replicas-max-lag", "10")
    assert (
        raw_exchange(primary.port, b"SET a 1\r\n", 0.3)
        == b"-NOREPLICAS Not enough good replicas to write.\r\n"
    )
    p = connect(primary)
    replica = _replica_of(servers, primary)
    wait_synced(p, connect(replica), timeout=30)
    assert raw_exchange(primary.port, b"SET a 1\r\n", 0.3) == b"+OK\r\n"


def test_output_buffer_limit_drops_a_stuck_replica(servers: list[ServerProcess]) -> None:
    primary = _valsync(
        servers,
        "--repl-diskless-sync-delay",
        "0",
        "--client-output-buffer-limit",
        "replica 256kb 0 0",
        "--repl-backlog-size",
        "16kb",  # a replica limit below the backlog size is ignored, as in Valkey
    )
    p = connect(primary)
    replica = _replica_of(servers, primary)
    r = connect(replica)
    wait_synced(p, r)
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        for i in range(400):
            p.set(f"fill:{i}", "x" * 10000)
        wait_until(
            lambda: info(p, "stats")["client_output_buffer_limit_disconnections"] >= 1,
            what="disconnect",
        )
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    wait_synced(p, r)
    assert digest(r) == digest(p)


def test_repl_timeout_drops_a_silent_replica(servers: list[ServerProcess], tmp_path: Path) -> None:
    primary = _valsync(
        servers,
        "--repl-diskless-sync-delay",
        "0",
        "--repl-timeout",
        "2",
        "--logfile",
        str(tmp_path / "p.log"),
    )
    p = connect(primary)
    replica = _replica_of(servers, primary)
    wait_synced(p, connect(replica))
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: "slave0" not in info(p), timeout=15, what="replica dropped")
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    assert "Disconnecting timedout replica" in (tmp_path / "p.log").read_text()


def test_backlog_ttl_frees_backlog_and_rotates_replid(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0", "--repl-backlog-ttl", "1")
    p = connect(primary)
    replica = _replica_of(servers, primary)
    wait_synced(p, connect(replica))
    replid = info(p)["master_replid"]
    replica.stop()
    servers.remove(replica)
    wait_until(lambda: info(p)["repl_backlog_active"] == 0, timeout=10, what="backlog freed")
    assert info(p)["master_replid"] != replid


def test_resize_backlog_with_config_set(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    replica = _replica_of(servers, primary)
    wait_synced(p, connect(replica))
    p.config_set("repl-backlog-size", "32kb")
    for i in range(100):
        p.set(f"k{i}", "v" * 1000)
    assert info(p)["repl_backlog_size"] == 32768
    assert info(p)["repl_backlog_histlen"] <= 32768 + 16384


def test_stale_data_refused_when_link_down(servers: list[ServerProcess]) -> None:
    from tests.realvalkey import free_port

    replica = _valsync(
        servers, "--replicaof", "127.0.0.1", str(free_port()), "--replica-serve-stale-data", "no"
    )
    expected = (
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    )
    assert raw_exchange(replica.port, b"GET a\r\n", 0.3) == expected
    # PING has no stale flag in 8.1.8 either: a real replica answers MASTERDOWN too
    assert raw_exchange(replica.port, b"PING\r\n", 0.3) == expected


@pytest.mark.parametrize("mode", ["swapdb", "on-empty-db"])
def test_diskless_load_modes(servers: list[ServerProcess], mode: str) -> None:
    primary = _valkey(servers, "8.1.8", "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    populate_all_types(p)
    replica = _valsync(
        servers, "--replicaof", "127.0.0.1", str(primary.port), "--repl-diskless-load", mode
    )
    r = connect(replica)
    wait_synced(p, r)
    assert digest(r) == digest(p)


def test_promoted_valsync_serves_psync_with_replid2(servers: list[ServerProcess]) -> None:
    top = _valkey(servers, "8.1.8", "--repl-diskless-sync-delay", "0")
    t = connect(top)
    populate_all_types(t, big=False)
    middle = _valsync(
        servers, "--replicaof", "127.0.0.1", str(top.port), "--repl-diskless-sync-delay", "0"
    )
    m = connect(middle)
    wait_synced(t, m)
    bottom = _replica_of(servers, middle, "9.1.2")
    b = connect(bottom)
    wait_synced(m, b)
    old_id = info(m)["master_replid"]
    partial_before = info(m, "stats")["sync_partial_ok"]
    assert m.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert info(m)["master_replid2"] == old_id
    m.set("after-promotion", 1)
    wait_synced(m, b)
    assert info(m, "stats")["sync_partial_ok"] == partial_before + 1
    assert info(b)["master_replid"] == info(m)["master_replid"]
    assert digest(b) == digest(m)


def test_valsync_resumes_after_primary_restart(
    servers: list[ServerProcess], tmp_path: Path
) -> None:
    top = _valkey(servers, "8.1.8", "--repl-diskless-sync-delay", "0", dir=tmp_path)
    t = connect(top)
    populate_all_types(t, big=False)
    replica = _valsync(servers, "--replicaof", "127.0.0.1", str(top.port))
    r = connect(replica)
    wait_synced(t, r)
    port = top.port
    wait_until(
        lambda: info(t, "persistence")["rdb_bgsave_in_progress"] == 0,
        what="no child on the primary",
    )
    t.save()
    top.stop()
    servers.remove(top)
    again = _valkey(servers, "8.1.8", "--repl-diskless-sync-delay", "0", dir=tmp_path, port=port)
    t2 = connect(again)
    wait_synced(t2, r, timeout=40)
    assert info(t2, "stats")["sync_partial_ok"] == 1
    assert digest(r) == digest(t2)
