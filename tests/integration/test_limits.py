"""Limits of one valsync primary: many clients and replicas, a replica that never reads, a
512 MB value (``slow``). The backlog's own limit is tests/unit/test_backlog_wrap.py."""

from __future__ import annotations

import socket
import time

import pytest

from tests.integration.support import (
    connect,
    digest,
    info,
    populate_all_types,
    wait_synced,
    wait_until,
)
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _valsync(servers: list[ServerProcess], *args: str) -> ServerProcess:
    server = start_valsync(*args, "--enable-debug-command", "yes")
    servers.append(server)
    return server


def _valkey(servers: list[ServerProcess], *args: str) -> ServerProcess:
    server = start_valkey("8.1.8", *args)
    servers.append(server)
    return server


def _replica_of(servers: list[ServerProcess], primary: ServerProcess, kind: str) -> ServerProcess:
    start = _valsync if kind == "valsync" else _valkey
    return start(servers, "--replicaof", "127.0.0.1", str(primary.port))


def _same_digest(primary: ServerProcess, replicas: list[ServerProcess]) -> None:
    p = connect(primary)
    for replica in replicas:
        wait_synced(p, connect(replica), timeout=120)
    want = digest(p)
    wait_until(
        lambda: all(digest(connect(r)) == want for r in replicas), 30, "digests equal everywhere"
    )


def test_thousand_idle_clients_and_ten_replicas(servers: list[ServerProcess]) -> None:
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    populate_all_types(p)
    idle: list[socket.socket] = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", primary.port), timeout=10))
        for s in idle[::50]:
            s.sendall(b"PING\r\n")
            assert s.recv(16) == b"+PONG\r\n"
        kinds = ["valsync"] * 2 + ["valkey"] * 8
        replicas = [_replica_of(servers, primary, kind) for kind in kinds]
        pipe = p.pipeline(transaction=False)
        for i in range(3000):
            pipe.set(f"k{i}", i)
            pipe.rpush(f"l{i % 10}", i)
            pipe.zadd("z", {f"m{i}": i})
        pipe.execute()
        _same_digest(primary, replicas)
        replication = info(p)
        assert replication["connected_slaves"] == 10
        assert all(replication[f"slave{i}"]["state"] == "online" for i in range(10)), replication
        with_idle = int(info(p, "clients")["connected_clients"])
        assert with_idle >= 1000 + 1
        for s in idle[::100]:  # the idle ones were never dropped
            s.sendall(b"PING\r\n")
            assert s.recv(16) == b"+PONG\r\n"
    finally:
        for s in idle:
            s.close()
    wait_until(
        lambda: info(p, "clients")["connected_clients"] == with_idle - 1000, 20, "idle ones gone"
    )


def test_replica_that_never_reads_is_cut_by_output_buffer_limit(
    servers: list[ServerProcess],
) -> None:
    primary = _valsync(
        servers,
        "--repl-diskless-sync-delay",
        "0",
        "--client-output-buffer-limit",
        "replica 2mb 0 0",
    )
    p = connect(primary)
    populate_all_types(p)
    good = [_replica_of(servers, primary, "valkey"), _replica_of(servers, primary, "valsync")]
    _same_digest(primary, good)
    syncs_before = int(info(p, "stats")["sync_full"])
    partial_before = int(info(p, "stats")["sync_partial_ok"])
    mute = socket.socket()
    mute.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mute.connect(("127.0.0.1", primary.port))
    try:
        mute.sendall(b"REPLCONF listening-port 1\r\nREPLCONF capa eof\r\n")
        got = b""
        while got.count(b"+OK\r\n") < 2:  # PSYNC with replies pending is refused
            got += mute.recv(64)
        mute.sendall(b"PSYNC ? -1\r\n")  # and from now on, never read
        wait_until(lambda: info(p)["connected_slaves"] == 3, 20, "the mute replica attached")
        value = b"v" * 100_000
        for round in range(60):  # 60 MB of stream, far past the 2 MB hard limit
            pipe = p.pipeline(transaction=False)
            for i in range(10):
                pipe.set(f"big{i}", value + b"%d" % round)
            pipe.execute()
            # the good replicas keep up (1 MB at a time); the mute one never acks
            assert p.execute_command("WAIT", 2, 10_000) >= 2
        wait_until(lambda: info(p)["connected_slaves"] == 2, 30, "the mute replica cut")
        stats = info(p, "stats")
        assert stats["client_output_buffer_limit_disconnections"] >= 1, stats
        _same_digest(primary, good)
        # the good replicas were never resynced: the only full sync was the mute one's
        stats = info(p, "stats")
        assert int(stats["sync_full"]) == syncs_before + 1, stats
        assert int(stats["sync_partial_ok"]) == partial_before, stats
        assert all(info(connect(r))["master_link_status"] == "up" for r in good)
        # what the mute replica's socket still holds drains, then the primary's close shows
        mute.settimeout(10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if not mute.recv(1 << 20):
                    break
            except ConnectionResetError:
                break
        else:
            raise AssertionError("the mute replica's connection was not closed")
    finally:
        mute.close()


@pytest.mark.slow
def test_512mb_value_replicates_by_stream_and_by_full_sync(servers: list[ServerProcess]) -> None:
    mb = 1 << 20
    primary = _valsync(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    p.connection_pool.connection_kwargs["socket_timeout"] = 300
    streamed = [_replica_of(servers, primary, "valsync"), _replica_of(servers, primary, "valkey")]
    _same_digest(primary, streamed)
    chunk = bytes(range(256)) * (256 * 1024)  # 64 MB
    assert p.setrange("big", 0, chunk) == 64 * mb
    for _ in range(7):
        p.append("big", chunk)
    assert p.strlen("big") == 512 * mb
    assert p.setrange("big", 512 * mb - 1, b"!") == 512 * mb
    with pytest.raises(Exception, match="string exceeds maximum allowed size"):
        p.setrange("big", 512 * mb, b"!")
    with pytest.raises(Exception, match="string exceeds maximum allowed size"):
        p.append("big", b"!")
    late = [_replica_of(servers, primary, "valsync"), _replica_of(servers, primary, "valkey")]
    replicas = streamed + late
    _same_digest(primary, replicas)
    for replica in replicas:
        r = connect(replica)
        assert r.strlen("big") == 512 * mb
        assert r.getrange("big", 512 * mb - 2, -1) == bytes([254]) + b"!"  # (512 MB - 2) % 256
        assert r.getrange("big", 0, 3) == bytes(range(4))
