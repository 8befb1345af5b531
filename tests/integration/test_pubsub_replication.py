"""PUBLISH and SPUBLISH travel the replication stream, both ways with real 8.1.8 and 9.1.2.

Valkey forces PUBLISH (and, outside cluster mode, SPUBLISH) into the stream although they
change no data, so subscribers of a replica hear what is published on its primary. Here the
subscriber sits on the replica, the publisher on the primary, in one role pairing each way;
the messages must arrive byte for byte and the offsets must still agree afterwards.
"""

from __future__ import annotations

import time

import pytest

from tests.differential import RawClient
from tests.integration.support import connect, wait_synced
from tests.pubsub_wire import drain, exchange
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _pair(
    servers: list[ServerProcess], primary_kind: str, version: str
) -> tuple[ServerProcess, ServerProcess]:
    def start(kind: str, *args: str) -> ServerProcess:
        server = start_valsync(*args) if kind == "valsync" else start_valkey(version, *args)
        servers.append(server)
        return server

    primary = start(primary_kind, "--repl-diskless-sync-delay", "0")
    replica_kind = "valkey" if primary_kind == "valsync" else "valsync"
    replica = start(replica_kind, "--replicaof", "127.0.0.1", str(primary.port))
    return primary, replica


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
@pytest.mark.parametrize("primary_kind", ["valkey", "valsync"])
def test_publish_reaches_subscribers_on_the_replica(
    servers: list[ServerProcess], primary_kind: str, version: str
) -> None:
    primary, replica = _pair(servers, primary_kind, version)
    p, r = connect(primary), connect(replica)
    wait_synced(p, r)
    resp2 = RawClient(replica.port)
    resp3 = RawClient(replica.port)
    exchange(resp3, "HELLO", "3")
    for sub in (resp2, resp3):
        exchange(sub, "SUBSCRIBE", "news")
        exchange(sub, "PSUBSCRIBE", "n*")
        exchange(sub, "SSUBSCRIBE", "shard")
    publisher = RawClient(primary.port)
    publisher.call("SELECT", "5")
    assert publisher.call("PUBLISH", "news", "hello") == b":0\r\n"
    assert publisher.call("SPUBLISH", "shard", "sharded") == b":0\r\n"
    publisher.call("MULTI")
    publisher.call("PUBLISH", "nope", "in-multi")
    publisher.call("SET", "k", "v")
    publisher.call("EXEC")
    wait_synced(p, r)
    assert drain(resp2) == [
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
        b"*3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$7\r\nsharded\r\n",
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnope\r\n$8\r\nin-multi\r\n",
    ]
    assert drain(resp3) == [
        b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
        b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
        b">3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$7\r\nsharded\r\n",
        b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnope\r\n$8\r\nin-multi\r\n",
    ]
    r.execute_command("SELECT", 5)
    assert r.get("k") == b"v"
    # a client of the replica may publish there too; it stays local
    assert exchange(RawClient(replica.port), "PUBLISH", "news", "local") == [b":4\r\n"]
    wait_synced(p, r)


def test_replica_keyspace_events_match_a_real_replica(servers: list[ServerProcess]) -> None:
    """A valsync replica and a real 8.1.8 replica of the same real primary send the same
    keyspace events for the stream they apply (writes, MULTI/EXEC, the primary's expiry DELs)."""
    primary = start_valkey("8.1.8", "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    events = "--notify-keyspace-events"
    replicas = [
        start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port), events, "AKEn"),
        start_valsync("--replicaof", "127.0.0.1", str(primary.port), events, "AKEn"),
    ]
    servers.extend(replicas)
    p = connect(primary)
    subscribers = []
    for replica in replicas:
        wait_synced(p, connect(replica))
        subscriber = RawClient(replica.port)
        exchange(subscriber, "PSUBSCRIBE", "__key*__:*")
        subscribers.append(subscriber)
    writer = RawClient(primary.port)
    for command in (
        ["SET", "s", "1"],
        ["INCRBY", "s", "5"],
        ["RPUSH", "l", "a", "b", "c"],
        ["LPOP", "l"],
        ["HSET", "h", "f", "v"],
        ["SADD", "set", "x", "y"],
        ["ZADD", "z", "1", "m"],
        ["SET", "gone", "v", "PX", "50"],
        ["MULTI"],
        ["RENAME", "s", "s2"],
        ["EXPIRE", "s2", "100"],
        ["EXEC"],
        ["SELECT", "3"],
        ["SET", "db3", "x"],
        ["SELECT", "0"],
        ["DEL", "set", "z"],
    ):
        writer.call(*command)
    time.sleep(0.3)
    writer.call("GET", "gone")  # expired on the primary: it propagates the deletion
    wait_synced(p, connect(replicas[0]))
    wait_synced(p, connect(replicas[1]))
    theirs, mine = (drain(s) for s in subscribers)
    assert mine == theirs
    assert any(b"__keyevent@3__:set" in frame for frame in theirs)
    assert any(b"__keyspace@0__:gone" in frame and b"del" in frame for frame in theirs)
