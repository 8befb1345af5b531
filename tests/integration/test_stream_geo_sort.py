"""Geo and SORT writes streamed both ways between valsync and real valkey-server 8.1.8 /
9.1.2: a real primary feeding a valsync replica, and a valsync primary feeding a real replica.
Both end with equal DEBUG DIGEST and equal replication offsets."""

from __future__ import annotations

import random
import time

import pytest
import valkey

from tests.differential import RawClient, ReplicaStream
from tests.integration.support import connect, digest, info, wait_synced
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def geo_sort_writes(p: valkey.Valkey, valkey9: bool) -> None:
    """GEOADD (rewritten to ZADD), the STORE searches and SORT ... STORE (propagated as they
    are, so the replica recomputes them), including ones that store nothing and delete; with
    ``valkey9``, also Valkey 9's BYPOLYGON searches."""
    rng = random.Random(21)
    for batch in range(5):
        args: list[object] = []
        for i in range(60):
            args += [rng.uniform(12, 16), rng.uniform(36, 39), f"p{batch}-{i}"]
        p.execute_command("GEOADD", "geo", *args)
    p.execute_command("GEOADD", "geo", "CH", "XX", 13.361389, 38.115556, "p0-1", 1, 1, "new")
    p.execute_command("GEOADD", "geo", "NX", 13.361389, 38.115556, "p0-2")
    p.execute_command("GEOSEARCHSTORE", "gs", "geo", "FROMLONLAT", 14, 37.5, "BYRADIUS", 80, "km")
    p.execute_command(
        "GEOSEARCHSTORE", "gd", "geo", "FROMMEMBER", "p1-1", "BYBOX", 100, 50, "km", "STOREDIST"
    )
    p.execute_command(
        "GEOSEARCHSTORE", "gs2", "geo", "FROMLONLAT", 14, 37.5, "BYRADIUS", 90, "km",
        "COUNT", 7, "DESC",
    )  # fmt: skip
    p.execute_command("GEORADIUS", "geo", 14, 37, 50, "km", "STORE", "gr", "COUNT", 10)
    p.execute_command("GEORADIUSBYMEMBER", "geo", "p2-5", 30, "mi", "STOREDIST", "grm")
    p.execute_command("GEORADIUS", "geo", 0, 0, 1, "m", "STORE", "gs")  # empty: deletes gs
    if valkey9:
        p.execute_command(
            "GEOSEARCHSTORE", "gp", "geo", "BYPOLYGON", 4, 12, 36, 16, 36.5, 15, 39, 12.5, 38,
            "STOREDIST",
        )  # fmt: skip
    p.execute_command("GEOSEARCH", "geo", "FROMLONLAT", 14, 37.5, "BYRADIUS", 80, "km")
    p.rpush("lst", *[rng.randrange(1000) for _ in range(50)])
    p.sadd("st", *[f"m{i}" for i in range(30)])
    for i in range(0, 1000, 3):
        p.set(f"w_{i}", rng.randrange(50))
        p.hset(f"h_{i}", "f", f"v{i}")
    p.sort("lst", store="s1")
    p.sort("lst", by="w_*", get=["#", "h_*->f"], store="s2")
    p.sort("lst", by="w_*", start=5, num=10, desc=True, store="s3")
    p.sort("st", by="nosort", store="s4")
    p.sort("st", alpha=True, start=3, num=4, store="s5")
    p.sort("geo", by="nosort", start=10, num=20, store="s6")
    p.sort("nokey", store="s1")  # empty: deletes s1
    p.execute_command("SELECT", 2)
    p.execute_command("GEOADD", "geo2", 2.35, 48.85, "paris", -0.12, 51.5, "london")
    p.execute_command("GEOSEARCHSTORE", "g2", "geo2", "FROMMEMBER", "paris", "BYRADIUS", 400, "km")
    p.execute_command("SELECT", 0)


def stream_and_compare(p: valkey.Valkey, r: valkey.Valkey, valkey9: bool) -> None:
    wait_synced(p, r)
    geo_sort_writes(p, valkey9)
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert info(r)["slave_repl_offset"] == info(p)["master_repl_offset"]
    for key in ("gs2", "gd", "grm", "gp"):
        assert r.zrange(key, 0, -1, withscores=True) == p.zrange(key, 0, -1, withscores=True)
    for key in ("s2", "s3", "s4", "s6"):
        assert r.lrange(key, 0, -1) == p.lrange(key, 0, -1)
    query = ("GEOSEARCH", "geo", "FROMLONLAT", 14, 37.5, "BYRADIUS", 60, "km", "WITHDIST")
    assert r.execute_command(*query) == p.execute_command(*query)


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_real_primary_streams_to_valsync_replica(
    servers: list[ServerProcess], version: str
) -> None:
    primary = start_valkey(version, "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    p = connect(primary)
    p.execute_command("GEOADD", "before", 13.361389, 38.115556, "Palermo")
    replica = start_valsync(
        "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", str(primary.port)
    )
    servers.append(replica)
    stream_and_compare(p, connect(replica), version.startswith("9"))


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_valsync_primary_streams_to_real_replica(
    servers: list[ServerProcess], version: str
) -> None:
    primary = start_valsync("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    p = connect(primary)
    p.execute_command("GEOADD", "before", 13.361389, 38.115556, "Palermo")
    replica = start_valkey(version, "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(replica)
    stream_and_compare(p, connect(replica), version.startswith("9"))


EXPIRED_DESTINATIONS = [
    ["SORT", "l", "STORE", "d"],
    ["GEOSEARCHSTORE", "e", "g", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
    ["GEORADIUS", "g", "1", "1", "1", "km", "STORE", "f"],
    ["SORT", "nokey", "STORE", "h"],
]


def _stream_of_stores(server: ServerProcess) -> list[list[bytes]]:
    """What a replica receives when the STORE destinations have expired (active expiry off):
    Valkey UNLINKs each before overwriting it, in one MULTI with the command."""
    with RawClient(server.port) as client:
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        stream = ReplicaStream(server.port)
        client.call("RPUSH", "l", "1")
        client.call("GEOADD", "g", "1", "1", "m")
        for key in ("d", "e", "f", "h"):
            client.call("SET", key, "x", "PX", "1")
        time.sleep(0.05)
        for argv in EXPIRED_DESTINATIONS:
            client.call(*argv)
        client.call("SET", "end-marker", "1")
        seen = stream.read_commands(lambda argv: argv[:2] == [b"SET", b"end-marker"])
        stream.close()
    return [argv for argv in seen if argv[0] != b"SET"]  # SET ... PXAT differs by the clock


def test_expired_destinations_propagate_like_valkey(servers: list[ServerProcess]) -> None:
    real = start_valkey("8.1.8", "--repl-diskless-sync", "no")
    servers.append(real)
    ours = start_valsync("--enable-debug-command", "yes", "--repl-diskless-sync", "no")
    servers.append(ours)
    theirs = _stream_of_stores(real)
    assert [b"UNLINK", b"d"] in theirs
    assert _stream_of_stores(ours) == theirs
