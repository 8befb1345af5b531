"""What a 9.1.2 primary streams applies on a valsync replica: the 9.x writes (MSETEX, DELIFEQ,
hash field TTLs) and RESTORE/MIGRATE's propagation, with no error on the link and equal
``DEBUG DIGEST``s afterwards."""

from __future__ import annotations

from tests.integration.support import connect, digest, info, wait_synced
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

WRITES: list[list[str | int]] = [
    ["MSETEX", 2, "a", "1", "b", "2", "EX", 1000],
    ["MSETEX", 1, "c", "3", "NX", "PX", 500000],
    ["MSETEX", 1, "a", "9", "XX", "KEEPTTL"],
    ["MSETEX", 1, "d", "4", "PXAT", 99999999999000],
    ["DELIFEQ", "b", "2"],
    ["DELIFEQ", "c", "nope"],
    ["HSET", "h", "f1", "v1", "f2", "v2", "f3", "v3"],
    ["HSETEX", "h", "EX", 1000, "FIELDS", 1, "f4", "v4"],
    ["HEXPIRE", "h", 2000, "FIELDS", 1, "f1"],
    ["HPERSIST", "h", "FIELDS", 1, "f4"],
    ["HGETEX", "h", "PX", 700000, "FIELDS", 1, "f2"],
    ["HGETDEL", "h", "FIELDS", 1, "f3"],
    ["SET", "s", "x"],
    ["SET", "s2", "y"],
]


def test_valkey_9_writes_apply_on_a_valsync_replica(servers: list[ServerProcess]) -> None:
    primary = start_valkey("9.1.2", "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    target = start_valkey("9.1.2")
    servers.append(target)
    replica = start_valsync(
        "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", str(primary.port)
    )
    servers.append(replica)
    p, r = connect(primary), connect(replica)
    wait_synced(p, r)
    for cmd in WRITES:
        p.execute_command(*cmd)
    payload = p.dump("h")
    p.execute_command("RESTORE", "h9", 100000, payload)  # RDB 80 payload, ABSTTL rewrite
    p.execute_command("RESTORE", "h9", 0, payload, "REPLACE", "IDLETIME", 10)
    p.execute_command("MIGRATE", "127.0.0.1", target.port, "s", 0, 5000)  # propagates DEL
    p.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "COPY", "KEYS", "s2")
    p.set("end", "1")
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert r.exists("s") == 0 and r.get("s2") == b"y" and r.exists("b") == 0
    assert info(r, "stats")["unexpected_error_replies"] == 0
