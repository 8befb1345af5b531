"""Transactions and the refusals Valkey makes before queueing (READONLY on a replica), the
ones EXEC makes for what it queued, and none inside EXEC: compared byte for byte with 8.1.8."""

from __future__ import annotations

from tests.differential import RawClient
from tests.realvalkey import free_port, start_valkey, start_valsync

SCRIPT: list[tuple[str, ...]] = [
    # demoted inside the transaction: the rest of it still runs (checks happen at EXEC)
    ("MULTI",),
    ("SET", "foo2", "bar"),
    ("REPLICAOF", "127.0.0.1", "{port}"),
    ("SET", "foo3", "bar"),
    ("EXEC",),
    ("GET", "foo3"),
    # a read-only replica refuses the write when it is queued, so EXEC aborts
    ("MULTI",),
    ("SET", "foo4", "bar"),
    ("GET", "foo3"),
    ("EXEC",),
    # reads still go through a transaction there
    ("MULTI",),
    ("GET", "foo2"),
    ("EXEC",),
    ("REPLICAOF", "NO", "ONE"),
]


def test_transaction_refusals_like_valkey() -> None:
    dead = str(free_port())
    script = [tuple(a.replace("{port}", dead) for a in argv) for argv in SCRIPT]
    replies = []
    for start in (start_valsync, lambda: start_valkey("8.1.8")):
        with start() as server, RawClient(server.port) as client:
            replies.append([client.call(*argv) for argv in script])
    ours, theirs = replies
    assert ours == theirs
    assert theirs[4] == b"*3\r\n+OK\r\n+OK\r\n+OK\r\n"
    assert theirs[9].startswith(b"-EXECABORT")
