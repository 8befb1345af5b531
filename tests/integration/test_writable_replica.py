"""Writable replicas and role changes, as Valkey's replication tests check them: keys a
replica's own clients give a TTL expire there; a write on an expired key replaces it; clients
blocked when a primary turns replica get -UNBLOCKED. valsync and valkey 8.1.8 side by side."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tests.differential import encode_argv
from tests.integration.support import connect, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

KINDS: dict[str, Callable[..., ServerProcess]] = {
    "valsync": lambda *a: start_valsync("--enable-debug-command", "yes", *a),
    "valkey": lambda *a: start_valkey("8.1.8", *a),
}


@pytest.mark.parametrize("kind", KINDS)
def test_writable_replica_expires_its_own_keys_and_replaces_expired_ones(
    servers: list[ServerProcess], kind: str
) -> None:
    primary = start_valkey("8.1.8")
    replica = KINDS[kind]("--replicaof", "127.0.0.1", str(primary.port))
    servers += [primary, replica]
    cp, cr = connect(primary, decode_responses=True), connect(replica, decode_responses=True)
    wait_synced(cp, cr)
    cr.config_set("replica-read-only", "no")
    for i in range(3):
        cr.set(f"local{i}", i, ex=1)
    assert cr.dbsize() == 3
    wait_until(lambda: cr.dbsize() == 0, 10, "the replica expiring its own keys")

    cp.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    cp.set("key1", 5, px=10)
    cp.set("key2", 5, px=10)
    wait_until(lambda: cr.dbsize() == 2 and cr.exists("key1", "key2") == 0, 10, "replicated")
    assert cr.incr("key1") == 1  # the expired key1 is replaced, without its TTL
    assert cr.ttl("key1") == -1
    assert cr.get("key2") is None  # expired, not deleted
    assert cr.dbsize() == 2


@pytest.mark.parametrize("kind", KINDS)
def test_blocked_client_unblocked_when_the_primary_turns_replica(
    servers: list[ServerProcess], kind: str
) -> None:
    a = start_valkey("8.1.8")
    b = KINDS[kind]()
    servers += [a, b]
    cb = connect(b, decode_responses=True)
    blocked = socket.create_connection(("127.0.0.1", b.port), timeout=10)
    blocked.sendall(encode_argv(["BLPOP", "foo", "0"]))
    wait_until(lambda: info(cb, "clients")["blocked_clients"] == 1, 10, "BLPOP blocked")
    cb.replicaof("127.0.0.1", a.port)
    reply = blocked.recv(1000)
    assert reply == (
        b"-UNBLOCKED force unblock from blocking operation, instance state changed "
        b"(master -> replica?)\r\n"
    )
    stats = cb.info("commandstats")["cmdstat_blpop"]
    # 8.1.8 counts it rejected (the 8.1 development suite still expected failed_calls=1)
    assert (stats["calls"], stats["failed_calls"], stats["rejected_calls"]) == (1, 0, 1)
    ca = connect(a, decode_responses=True)
    wait_synced(ca, cb)
    ca.rpush("foo", "a", "b", "c")
    wait_until(lambda: cb.lrange("foo", 0, -1) == ["a", "b", "c"], 10, "the stream applied")
    blocked.close()
