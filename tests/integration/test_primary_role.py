"""valsync as a primary: real valkey-server 8.1.8 / 9.1.2 replicas and valkey-cli sync from it."""

from __future__ import annotations

import socket
import subprocess
import sys
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
from tests.realvalkey import ServerProcess, start_valkey, start_valsync, valkey_cli_bin


def _valsync(started: list[ServerProcess], *args: str) -> ServerProcess:
    server = start_valsync("--enable-debug-command", "yes", *args)
    started.append(server)
    return server


def _replica(
    started: list[ServerProcess], version: str, primary: ServerProcess, *args: str
) -> ServerProcess:
    server = start_valkey(version, "--replicaof", "127.0.0.1", str(primary.port), *args)
    started.append(server)
    return server


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_full_sync_then_stream(servers: list[ServerProcess], version: str, diskless: str) -> None:
    primary = _valsync(servers, "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 5000)
    populate_all_types(p)
    replica = _replica(servers, version, primary)
    r = connect(replica)
    wait_synced(p, r)
    # live writes after the sync, across DBs, in a transaction, with expiry rewrites
    for i in range(200):
        p.set(f"after:{i}", i)
    p.expire("after:1", 1000)
    p.incrbyfloat("after:2", 0.5)
    pipe = p.pipeline(transaction=True)
    pipe.set("tx:a", 1).incrby("tx:b", 5).lpush("tx:l", "x")
    pipe.execute()
    p.execute_command("SELECT", 5)
    p.delete("t:str")
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert info(r)["slave_repl_offset"] == info(p)["master_repl_offset"]
    assert r.ttl("after:1") > 900
    assert r.get("after:2") == b"2.5"
    assert info(p)["slave0"]["state"] == "online"


def test_partial_resync_after_client_kill(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    populate_all_types(p, big=False)
    replica = _replica(servers, "8.1.8", primary)
    r = connect(replica)
    wait_synced(p, r)
    before = info(p, "stats")
    assert p.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    for i in range(100):
        p.set(f"gap:{i}", i)
    wait_synced(p, r)
    after = info(p, "stats")
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    assert digest(r) == digest(p)
    assert r.get("gap:99") == b"99"


def test_small_backlog_forces_full_sync(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0", "--repl-backlog-size", "16384")
    p = connect(primary)
    replica = _replica(servers, "8.1.8", primary)
    r = connect(replica)
    wait_synced(p, r)
    replica.proc.send_signal(19)  # SIGSTOP: the replica falls behind
    try:
        p.execute_command("CLIENT", "KILL", "TYPE", "replica")
        for i in range(400):
            p.set(f"big:{i}", "v" * 1000)
    finally:
        replica.proc.send_signal(18)  # SIGCONT
    full_before = info(p, "stats")["sync_full"]
    wait_synced(p, r)
    assert info(p, "stats")["sync_full"] == full_before + 1
    assert digest(r) == digest(p)


def test_three_replicas_share_one_fork(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "3")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 20000)
    forks_before = info(p, "stats")["total_forks"]
    replicas = [_replica(servers, v, primary) for v in ("8.1.8", "8.1.8", "8.1.8")]
    clients = [connect(r) for r in replicas]
    for r in clients:
        wait_synced(p, r)
    assert info(p, "stats")["total_forks"] == forks_before + 1
    assert all(digest(r) == digest(p) for r in clients)


def test_replica_attaches_to_running_disk_bgsave(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync", "no", "--rdb-key-save-delay", "200")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 5000)
    first = _replica(servers, "8.1.8", primary)
    wait_until(
        lambda: info(p, "persistence")["rdb_bgsave_in_progress"] == 1 or "slave0" in info(p),
        what="bgsave",
    )
    second = _replica(servers, "8.1.8", primary)
    r1, r2 = connect(first), connect(second)
    wait_until(lambda: sum(1 for k in info(p) if k.startswith("slave")) == 2, what="two replicas")
    p.config_set("rdb-key-save-delay", 0)
    wait_synced(p, r1, timeout=60)
    wait_synced(p, r2, timeout=60)
    assert info(p, "stats")["total_forks"] == 1
    assert digest(r1) == digest(p) == digest(r2)


def test_valkey_cli_rdb_loads_in_real_valkey(servers: list[ServerProcess], tmp_path: Path) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    populate_all_types(p)
    out = tmp_path / "dump.rdb"
    res = subprocess.run(
        [valkey_cli_bin(), "-p", str(primary.port), "--rdb", str(out)],
        capture_output=True,
        timeout=30,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "Transfer finished with success" in res.stdout + res.stderr
    loaded = start_valkey("8.1.8", "--dbfilename", "dump.rdb", dir=tmp_path)
    servers.append(loaded)
    assert digest(connect(loaded)) == digest(p)


def test_valkey_cli_replica_prints_writes(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    cli = subprocess.Popen(
        [valkey_cli_bin(), "-p", str(primary.port), "--replica"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: any(
                v.get("state") == "online" for k, v in info(p).items() if k.startswith("slave")
            ),
            what="cli online",
        )
        time.sleep(1.5)
        p.set("seen-by-cli", "yes")
        p.execute_command("SELECT", 3)
        time.sleep(1.0)
    finally:
        cli.terminate()
        output, _ = cli.communicate(timeout=10)
    assert '"set","seen-by-cli","yes"' in output.replace("SET", "set")


def test_legacy_sync_gets_payload_then_stream(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers)
    p = connect(primary)
    p.set("k", "v")
    data = raw_exchange(primary.port, b"SYNC\r\n", read_for=1.0, until=b"REDIS0011")
    assert data.lstrip(b"\n").startswith(b"$")
    assert b"REDIS0011" in data
    assert b"+FULLRESYNC" not in data


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"PSYNC abc 1 FAILOVER\r\n", b"-ERR PSYNC FAILOVER can't be sent to a master.\r\n"),
        (
            b"PSYNC replicationid offset_str\r\n",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (b"PING\r\nSYNC\r\n", b"+PONG\r\n-ERR SYNC and PSYNC are invalid with pending output\r\n"),
        (
            b"REPLCONF rdb-filter-only functions\r\nSYNC\r\n",
            b"+OK\r\n-ERR Filtered replica requires EOF capability\r\n",
        ),
        (b"REPLCONF listening-port\r\n", b"-ERR syntax error\r\n"),
        (b"REPLCONF foo bar\r\n", b"-ERR Unrecognized REPLCONF option: foo\r\n"),
        (
            b"REPLCONF rdb-filter-only keys\r\n",
            b"-ERR Unsupported rdb-filter-only option: keys\r\n",
        ),
        (b"REPLCONF version abc\r\n", b"-ERR Unrecognized version format: abc\r\n"),
        (b"REPLCONF capa foo\r\n", b"+OK\r\n"),
        (b"REPLCONF ACK 5\r\nPING\r\n", b"+PONG\r\n"),
        (b"PSYNC x\r\n", b"-ERR wrong number of arguments for 'psync' command\r\n"),
    ],
)
def test_seed_error_replies_from_a_socket(
    servers: list[ServerProcess], request_bytes: bytes, expected: bytes
) -> None:
    primary = _valsync(servers)
    if request_bytes.startswith(b"REPLCONF rdb-filter-only functions"):
        # as in the capture: SYNC only after the +OK arrived (else it is "pending output")
        with socket.create_connection(("127.0.0.1", primary.port), timeout=5) as s:
            s.sendall(b"REPLCONF rdb-filter-only functions\r\n")
            got = s.recv(100)
            s.sendall(b"SYNC\r\n")
            got += s.recv(100)
        assert got == expected
        return
    assert raw_exchange(primary.port, request_bytes, read_for=0.3) == expected


def test_nomasterlink_while_link_down(servers: list[ServerProcess]) -> None:
    from tests.realvalkey import free_port

    replica = _valsync(servers, "--replicaof", "127.0.0.1", str(free_port()))
    expected = b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n"
    assert raw_exchange(replica.port, b"PSYNC ? -1\r\n", read_for=0.3) == expected
    assert raw_exchange(replica.port, b"SYNC\r\n", read_for=0.3) == expected


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_valkey_cli_rdb_both_framings(
    servers: list[ServerProcess], tmp_path: Path, diskless: str
) -> None:
    primary = _valsync(servers, "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 1000)
    out = tmp_path / "dump.rdb"
    res = subprocess.run(
        [valkey_cli_bin(), "-p", str(primary.port), "--rdb", str(out)],
        capture_output=True,
        timeout=30,
        text=True,
    )
    text = res.stdout + res.stderr
    assert res.returncode == 0, text
    assert ("until EOF marker" in text) == (diskless == "yes"), text
    check = subprocess.run(
        [sys.executable, "-m", "valsync", "rdb", "check", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    assert all(not k.startswith("slave") for k in info(p)), (
        "an rdb-only client is not listed once done"
    )


def test_valkey_cli_functions_rdb_has_no_keys(servers: list[ServerProcess], tmp_path: Path) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    p.set("k", "v")
    out = tmp_path / "functions.rdb"
    res = subprocess.run(
        [valkey_cli_bin(), "-p", str(primary.port), "--functions-rdb", str(out)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    dump = subprocess.run(
        [sys.executable, "-m", "valsync", "rdb", "dump", str(out)], capture_output=True, text=True
    )
    assert dump.returncode == 0 and dump.stdout.strip() == ""


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_dual_channel_sync_to_real_replica(servers: list[ServerProcess], version: str) -> None:
    primary = _valsync(
        servers,
        "--dual-channel-replication-enabled",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    )
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 5000)
    populate_all_types(p)
    before = info(p, "stats")
    replica = _replica(servers, version, primary, "--dual-channel-replication-enabled", "yes")
    r = connect(replica)
    for i in range(200):
        p.set(f"during:{i}", i)
    wait_synced(p, r)
    p.set("after", 1)
    wait_synced(p, r)
    after = info(p, "stats")
    assert after["sync_full"] == before["sync_full"] + 1
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert digest(r) == digest(p)
    lines = [v for k, v in info(p).items() if k.startswith("slave")]
    assert len(lines) == 1 and lines[0]["type"] == "replica" and lines[0]["state"] == "online"


def test_dual_channel_states_during_a_slow_transfer(servers: list[ServerProcess]) -> None:
    primary = _valsync(
        servers,
        "--dual-channel-replication-enabled",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--rdb-key-save-delay",
        "500",
    )
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 3000)
    replica = _replica(servers, "9.1.2", primary, "--dual-channel-replication-enabled", "yes")

    def both_channels() -> bool:
        types = {(v["type"], v["state"]) for k, v in info(p).items() if k.startswith("slave")}
        return {("rdb-channel", "wait_bgsave"), ("main-channel", "bg_transfer")} <= types

    wait_until(both_channels, 20, "rdb-channel and main-channel listed")
    p.set("while-loading", 1)
    p.config_set("rdb-key-save-delay", 0)
    r = connect(replica)
    wait_synced(p, r, timeout=60)
    assert r.get("while-loading") == b"1"
    assert digest(r) == digest(p)
