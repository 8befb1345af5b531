"""valsync as a replica of real valkey-server 8.1.8 / 9.1.2, and as a relay for real replicas."""

from __future__ import annotations

import time

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


def _primary(servers: list[ServerProcess], version: str, *args: str) -> ServerProcess:
    server = start_valkey(version, "--repl-diskless-sync-delay", "0", *args)
    servers.append(server)
    return server


def _valsync_replica(
    servers: list[ServerProcess], primary: ServerProcess, *args: str, dir: object = None
) -> ServerProcess:
    server = start_valsync(
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        str(primary.port),
        *args,
        dir=dir,
    )  # type: ignore[arg-type]
    servers.append(server)
    return server


def _write_load(p: object) -> None:
    import valkey

    assert isinstance(p, valkey.Valkey)
    p.set("exp:soon", "x", px=300)
    for i in range(300):
        p.set(f"live:{i}", i)
    p.expire("live:1", 1000)
    pipe = p.pipeline(transaction=True)
    pipe.set("tx:a", 1).incrby("tx:b", 5).hset("tx:h", "f", "v")
    pipe.execute()
    p.execute_command("SELECT", 7)
    p.set("db7", "seven")
    p.execute_command("SELECT", 0)
    p.lpush("live:list", *range(50))
    p.zincrby("live:z", 2.5, "m")
    p.spop("t:set")
    # Until the primary deletes exp:soon (and streams the DEL), a digest taken on each side a
    # moment apart can differ by that key; EXISTS past its expiry makes the primary delete it.
    wait_until(lambda: p.exists("exp:soon") == 0, 10, "exp:soon expired on the primary")


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_sync_from_real_primary(servers: list[ServerProcess], version: str, diskless: str) -> None:
    primary = _primary(servers, version, "--repl-diskless-sync", diskless)
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 5000)
    populate_all_types(p)
    if version.startswith("9"):
        p.execute_command("HSETEX", "fttl", "PX", 100000000, "FIELDS", 2, "a", "1", "b", "2")
    replica = _valsync_replica(servers, primary)
    r = connect(replica)
    wait_synced(p, r)
    _write_load(p)
    wait_until(lambda: p.dbsize() and p.get("exp:soon") is None, what="expiry on primary")
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert info(r)["slave_repl_offset"] == info(p)["master_repl_offset"]
    p.flushall()
    wait_synced(p, r)
    assert r.dbsize() == 0


def test_resume_with_continue_after_link_kill(servers: list[ServerProcess]) -> None:
    primary = _primary(servers, "8.1.8")
    p = connect(primary)
    populate_all_types(p, big=False)
    replica = _valsync_replica(servers, primary)
    r = connect(replica)
    wait_synced(p, r)
    before = info(p, "stats")["sync_partial_ok"]
    p.execute_command("CLIENT", "KILL", "TYPE", "replica")
    for i in range(100):
        p.set(f"gap:{i}", i)
    wait_synced(p, r)
    assert info(p, "stats")["sync_partial_ok"] == before + 1
    assert digest(r) == digest(p)


def test_replica_is_read_only_and_rejects_wait(servers: list[ServerProcess]) -> None:
    primary = _primary(servers, "8.1.8")
    replica = _valsync_replica(servers, primary)
    r = connect(replica)
    wait_until(lambda: info(r)["master_link_status"] == "up", what="link up")
    assert (
        raw_exchange(replica.port, b"SET x 1\r\n", 0.3)
        == b"-READONLY You can't write against a read only replica.\r\n"
    )
    assert raw_exchange(replica.port, b"WAIT 1 10\r\n", 0.3).startswith(
        b"-ERR WAIT cannot be used with replica instances."
    )
    role = r.execute_command("ROLE")
    assert role[0] == b"slave" and role[3] == b"connected"


def test_chain_valkey_to_valsync_to_valkey(servers: list[ServerProcess]) -> None:
    top = _primary(servers, "9.1.2")
    t = connect(top)
    populate_all_types(t)
    middle = _valsync_replica(servers, top)
    m = connect(middle)
    wait_synced(t, m)
    bottom = start_valkey("9.1.2", "--replicaof", "127.0.0.1", str(middle.port))
    servers.append(bottom)
    b = connect(bottom)
    wait_synced(m, b)
    _write_load(t)
    wait_synced(t, m)
    wait_synced(m, b)
    assert digest(b) == digest(m) == digest(t)
    assert info(b)["slave_repl_offset"] == info(t)["master_repl_offset"]


def test_version_bridge_9_to_valsync_to_8(servers: list[ServerProcess]) -> None:
    top = _primary(servers, "9.1.2")
    t = connect(top)
    populate_all_types(t)
    middle = _valsync_replica(servers, top)
    m = connect(middle)
    wait_synced(t, m)
    bottom = start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(middle.port))
    servers.append(bottom)
    b = connect(bottom)
    wait_synced(m, b)
    assert digest(b) == digest(t)


def test_restarted_valsync_resumes_from_its_dump(
    servers: list[ServerProcess], tmp_path: object
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    primary = _primary(servers, "8.1.8")
    p = connect(primary)
    populate_all_types(p, big=False)
    replica = _valsync_replica(servers, primary, dir=tmp_path)
    r = connect(replica)
    wait_synced(p, r)
    try:
        r.execute_command("SAVE")
    finally:
        replica.stop()
    servers.remove(replica)
    for i in range(20):
        p.set(f"while-down:{i}", i)
    before = info(p, "stats")["sync_partial_ok"]
    again = _valsync_replica(servers, primary, dir=tmp_path)
    r2 = connect(again)
    wait_synced(p, r2)
    assert info(p, "stats")["sync_partial_ok"] == before + 1
    assert digest(r2) == digest(p)


def test_client_kill_type_master_resumes_with_psync(servers: list[ServerProcess]) -> None:
    primary = _primary(servers, "9.1.2")
    p = connect(primary)
    populate_all_types(p, big=False)
    replica = _valsync_replica(servers, primary)
    r = connect(replica)
    wait_synced(p, r)
    before = info(p, "stats")
    assert r.execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    p.set("after-kill", 1)
    wait_synced(p, r)
    after = info(p, "stats")
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert after["sync_full"] == before["sync_full"]
    assert r.get("after-kill") == b"1"


def test_key_load_delay_keeps_info_answering_while_loading(servers: list[ServerProcess]) -> None:
    primary = _primary(servers, "8.1.8")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 20000)
    replica = _valsync_replica(servers, primary, "--key-load-delay", "150")
    r = connect(replica)
    wait_until(lambda: info(r, "persistence")["loading"] == 1, 20, "loading under way")
    assert info(r)["master_sync_in_progress"] == 1
    assert (
        raw_exchange(replica.port, b"GET key:1\r\n", 0.3)
        == b"-LOADING Valkey is loading the dataset in memory\r\n"
    )
    wait_synced(p, r, timeout=60)
    assert digest(r) == digest(p)


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_dual_channel_sync_from_real_primary(servers: list[ServerProcess], version: str) -> None:
    primary = _primary(servers, version, "--dual-channel-replication-enabled", "yes")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 5000)
    populate_all_types(p)
    before = info(p, "stats")
    replica = _valsync_replica(servers, primary, "--dual-channel-replication-enabled", "yes")
    r = connect(replica)
    for i in range(300):
        p.set(f"during:{i}", i)
    wait_synced(p, r)
    _write_load(p)
    wait_synced(p, r)
    after = info(p, "stats")
    assert after["sync_full"] == before["sync_full"] + 1
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 1
    assert digest(r) == digest(p)
    assert info(r)["slave_repl_offset"] == info(p)["master_repl_offset"]


def test_dual_channel_between_two_valsyncs(servers: list[ServerProcess]) -> None:
    top = start_valsync(
        "--enable-debug-command",
        "yes",
        "--dual-channel-replication-enabled",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    )
    servers.append(top)
    t = connect(top)
    populate_all_types(t)
    below = _valsync_replica(servers, top, "--dual-channel-replication-enabled", "yes")
    b = connect(below)
    wait_synced(t, b)
    _write_load(t)
    wait_synced(t, b)
    assert info(t, "stats")["sync_partial_ok"] == 1
    assert digest(b) == digest(t)


def test_dual_channel_buffers_the_main_stream_during_a_slow_load(
    servers: list[ServerProcess],
) -> None:
    primary = _primary(
        servers, "9.1.2", "--dual-channel-replication-enabled", "yes", "--rdb-key-save-delay", "500"
    )
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 3000)
    replica = _valsync_replica(servers, primary, "--dual-channel-replication-enabled", "yes")
    r = connect(replica)
    wait_until(lambda: info(r)["master_sync_in_progress"] == 1, 20, "sync under way")
    for i in range(200):
        p.set(f"while-loading:{i}", i)
    p.config_set("rdb-key-save-delay", 0)
    wait_synced(p, r, timeout=60)
    assert info(r)["replicas_repl_buffer_peak"] > 0
    assert info(r)["replicas_repl_buffer_size"] == 0
    assert digest(r) == digest(p)


def test_dual_channel_buffer_stops_at_the_output_buffer_limit(servers: list[ServerProcess]) -> None:
    primary = _primary(
        servers,
        "9.1.2",
        "--dual-channel-replication-enabled",
        "yes",
        "--rdb-key-save-delay",
        "1000",
    )
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 2000)
    replica = _valsync_replica(
        servers,
        primary,
        "--dual-channel-replication-enabled",
        "yes",
        "--client-output-buffer-limit",
        "replica 64kb 0 0",
    )
    r = connect(replica)
    wait_until(lambda: info(r)["master_sync_in_progress"] == 1, 20, "sync under way")
    for i in range(300):
        p.set(f"bulk:{i}", "v" * 4000)
    time.sleep(0.5)
    peak = info(r)["replicas_repl_buffer_peak"]
    assert 0 < peak < 64 * 1024 + 256 * 1024
    p.config_set("rdb-key-save-delay", 0)
    wait_synced(p, r, timeout=60)
    assert digest(r) == digest(p)


def test_dual_channel_restarts_when_the_rdb_channel_is_killed(servers: list[ServerProcess]) -> None:
    primary = _primary(
        servers,
        "9.1.2",
        "--dual-channel-replication-enabled",
        "yes",
        "--rdb-key-save-delay",
        "1000",
    )
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 3000)
    replica = _valsync_replica(servers, primary, "--dual-channel-replication-enabled", "yes")
    r = connect(replica)

    def rdb_channel_id() -> int | None:
        for line in p.execute_command("CLIENT", "LIST").decode().splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("cmd") == "sync" and "S" in fields.get("flags", ""):
                return int(fields["id"])
        return None

    victim = wait_until(rdb_channel_id, 20, "the RDB channel")
    assert p.execute_command("CLIENT", "KILL", "ID", victim) == 1
    p.config_set("rdb-key-save-delay", 0)
    p.set("after-kill", 1)
    wait_synced(p, r, timeout=60)
    assert digest(r) == digest(p)
    assert info(p, "stats")["sync_full"] >= 2
