"""Bitmap and HyperLogLog writes streamed both ways between valsync and real valkey-server
8.1.8 / 9.1.2: a real primary feeding a valsync replica, and a valsync primary feeding a real
replica. Both end with equal DEBUG DIGEST and equal replication offsets."""

from __future__ import annotations

import pytest
import valkey

from tests.integration.support import connect, digest, info, wait_synced
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def before_sync(p: valkey.Valkey) -> None:
    """Keys the full sync carries in its RDB: a bitmap, a sparse and a dense HLL (one with a
    stale cached cardinality, one with a fresh one)."""
    p.setbit("before", 100, 1)
    p.pfadd("before:sparse", *[f"s{i}" for i in range(100)])
    p.pfadd("before:dense", *[f"d{i}" for i in range(3000)])
    p.pfcount("before:dense")


def bitmap_writes(p: valkey.Valkey) -> None:
    """SETBIT/BITOP/BITFIELD writes, including ones Valkey does not propagate (no-op SETBIT,
    GET-only BITFIELD, failed overflow) and ones that create, grow or delete keys."""
    for i in range(0, 2000, 7):
        p.setbit("bm:a", i, 1)
    p.setbit("bm:a", 0, 1)
    p.setbit("bm:b", 5000, 1)
    p.set("bm:s", "hello")
    p.setbit("bm:s", 3, 1)
    p.setbit("bm:s", 3, 1)
    p.execute_command("BITOP", "AND", "bm:and", "bm:a", "bm:b")
    p.execute_command("BITOP", "OR", "bm:or", "bm:a", "bm:b", "bm:s")
    p.execute_command("BITOP", "XOR", "bm:xor", "bm:a", "bm:s")
    p.execute_command("BITOP", "NOT", "bm:not", "bm:a")
    p.execute_command("BITOP", "NOT", "bm:xor", "bm:none")
    p.execute_command("BITFIELD", "bm:f", "SET", "i8", 0, 100, "INCRBY", "u4", "#3", 9)
    p.execute_command("BITFIELD", "bm:f", "OVERFLOW", "SAT", "INCRBY", "i8", 0, 100)
    p.execute_command("BITFIELD", "bm:f", "OVERFLOW", "FAIL", "INCRBY", "i8", 0, 100)
    p.execute_command("BITFIELD", "bm:f", "GET", "i8", 0)
    # Valkey creates bm:g on the primary only (nothing changed, nothing propagated); DEL
    # brings both sides back together
    p.execute_command("BITFIELD", "bm:g", "OVERFLOW", "FAIL", "SET", "u2", 64, 9)
    p.delete("bm:g")
    p.execute_command("BITFIELD", "bm:f", "OVERFLOW", "WRAP", "INCRBY", "i64", 8, -1)
    p.expire("bm:b", 100000)
    p.setbit("bm:b", 9000, 1)
    p.execute_command("SELECT", 4)
    p.setbit("bm:db4", 77, 1)
    p.execute_command("SELECT", 0)


def hll_writes(p: valkey.Valkey) -> None:
    """PFADD into sparse HLLs until one turns dense, PFMERGE of mixed encodings, and PFCOUNT,
    whose cache update Valkey propagates."""
    p.pfadd("hl:a", *[f"a{i}" for i in range(50)])
    for start in range(0, 3000, 500):
        p.pfadd("hl:big", *[f"b{i}" for i in range(start, start + 500)])
    p.pfadd("hl:a", "a1")
    p.pfcount("hl:a")
    p.pfcount("hl:a")
    p.pfcount("hl:a", "hl:big")
    p.pfmerge("hl:m", "hl:a", "hl:big")
    p.pfmerge("hl:s", "hl:a", "hl:none")
    p.pfmerge("hl:a", "hl:s")
    p.execute_command("PFDEBUG", "TODENSE", "hl:s")
    p.pfadd("hl:s", "one more")
    p.pfcount("hl:m")
    p.execute_command("SELECT", 2)
    p.pfadd("hl:db2", "x", "y")
    p.execute_command("SELECT", 0)


def stream_and_compare(p: valkey.Valkey, r: valkey.Valkey) -> None:
    """Write through ``p`` once ``r`` is in sync; the two must end equal, offsets included."""
    wait_synced(p, r)
    bitmap_writes(p)
    hll_writes(p)
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert info(r)["slave_repl_offset"] == info(p)["master_repl_offset"]
    keys = ["bm:a", "bm:or", "bm:f", "bm:b", "hl:a", "hl:big", "hl:m", "hl:s"]
    for key in [*keys, "before:sparse", "before:dense"]:
        assert r.get(key) == p.get(key), key


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_real_primary_streams_to_valsync_replica(
    servers: list[ServerProcess], version: str
) -> None:
    primary = start_valkey(version, "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    p = connect(primary)
    before_sync(p)
    replica = start_valsync(
        "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", str(primary.port)
    )
    servers.append(replica)
    stream_and_compare(p, connect(replica))


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_valsync_primary_streams_to_real_replica(
    servers: list[ServerProcess], version: str
) -> None:
    primary = start_valsync("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    p = connect(primary)
    before_sync(p)
    replica = start_valkey(version, "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(replica)
    stream_and_compare(p, connect(replica))
