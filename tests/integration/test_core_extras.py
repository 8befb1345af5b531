"""Save points, active expiry as a replica sees it, the rdb tools, idle timeout, 10k clients."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.support import connect, digest, info, wait_synced, wait_until
from tests.realvalkey import start_valkey, start_valsync


def test_save_points_trigger_bgsave(tmp_path: Path) -> None:
    with start_valsync("--save", "1 1", dir=tmp_path) as mine:
        c = connect(mine)
        c.set("a", 1)
        wait_until(lambda: info(c, "persistence")["rdb_saves"] >= 1, 10, "a save point BGSAVE")
        assert (tmp_path / "dump.rdb").exists()
        assert info(c, "persistence")["rdb_changes_since_last_save"] == 0


def test_active_expiry_propagates_to_a_real_replica() -> None:
    with start_valsync(
        "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"
    ) as primary:
        p = connect(primary)
        with start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)) as replica:
            r = connect(replica)
            wait_synced(p, r)
            for i in range(50):
                p.set(f"short:{i}", i, px=100)
            p.set("long", 1, ex=1000)
            wait_until(lambda: p.dbsize() == 1, 10, "active expiry on the primary")
            wait_synced(p, r)
            assert r.dbsize() == 1
            assert info(p, "stats")["expired_keys"] == 50
            assert digest(r) == digest(p)


def test_rdb_check_and_dump_cli(tmp_path: Path) -> None:
    with start_valkey("9.1.2", dir=tmp_path) as real:
        c = connect(real)
        c.set("s", "v")
        c.rpush("l", "a", "b")
        c.zadd("z", {"m": 1.5})
        c.set("t", "x", ex=1000)
        c.save()
    dump = tmp_path / "dump.rdb"
    ok = subprocess.run(
        [sys.executable, "-m", "valsync", "rdb", "check", str(dump)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    out = subprocess.run(
        [sys.executable, "-m", "valsync", "rdb", "dump", str(dump)], capture_output=True, text=True
    )
    records = {r["key"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert records["s"]["value"] == "v" and records["l"]["value"] == ["a", "b"]
    assert records["z"]["type"] == "zset" and records["t"]["expiry"] is not None
    bad = tmp_path / "bad.rdb"
    bad.write_bytes(dump.read_bytes()[:-20])
    res = subprocess.run(
        [sys.executable, "-m", "valsync", "rdb", "check", str(bad)], capture_output=True, text=True
    )
    assert res.returncode == 1
    assert "byte" in res.stdout


def test_idle_timeout_closes_clients() -> None:
    with start_valsync("--timeout", "1") as mine:
        with socket.create_connection(("127.0.0.1", mine.port), timeout=5) as s:
            s.sendall(b"PING\r\n")
            assert s.recv(100) == b"+PONG\r\n"
            time.sleep(2.5)
            assert s.recv(100) == b""


def test_ten_thousand_connections() -> None:
    with start_valsync() as mine:
        socks = []
        try:
            for _ in range(10_000 - 16):
                socks.append(socket.create_connection(("127.0.0.1", mine.port), timeout=10))
            c = connect(mine)
            wait_until(
                lambda: info(c, "clients")["connected_clients"] >= 9_900, 60, "all connected"
            )
            assert c.ping()
        finally:
            for s in socks:
                s.close()
        wait_until(lambda: info(c, "clients")["connected_clients"] < 10, 60, "all closed")
        assert c.ping()


def test_hash_field_expiry_reclaimed_and_seen_by_a_real_9_replica() -> None:
    with start_valsync(
        "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"
    ) as primary:
        p = connect(primary)
        with start_valkey("9.1.2", "--replicaof", "127.0.0.1", str(primary.port)) as replica:
            r = connect(replica)
            wait_synced(p, r)
            p.hset("h", mapping={"keep": "1", "gone": "2"})
            p.execute_command("HPEXPIRE", "h", 100, "FIELDS", 1, "gone")
            p.hset("all", "f", "v")
            p.execute_command("HPEXPIRE", "all", 100, "FIELDS", 1, "f")
            wait_until(lambda: p.hlen("h") == 1 and not p.exists("all"), 10, "fields reclaimed")
            wait_synced(p, r)
            assert r.hgetall("h") == {b"keep": b"1"} and r.hlen("h") == 1
            assert not r.exists("all")
            assert digest(r) == digest(p)
