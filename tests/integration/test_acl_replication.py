"""masteruser/masterauth against primaries whose replication user may run only what a replica
needs (``+psync +replconf +ping``), both ways: valsync replicating from a real valkey-server
8.1.8, and a real 8.1.8 replica of valsync. A user without ``+psync`` is refused by both
primaries alike (same ACL LOG entry), and the default user may be locked down entirely
without touching the replication stream."""

from __future__ import annotations

import hiredis

from tests.differential import RawClient
from tests.integration.support import connect, digest, populate_all_types, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

REPL_USER = ("ACL", "SETUSER", "repl", "on", ">rpass", "-@all", "+psync", "+replconf", "+ping")


def _restrict(server: ServerProcess) -> None:
    with RawClient(server.port) as c:
        assert c.call(*REPL_USER) == b"+OK\r\n"
        # the default user now needs a password and may not run PSYNC itself
        assert c.call("ACL", "SETUSER", "default", ">adm", "-psync") == b"+OK\r\n"


def test_valsync_replica_of_real_primary_with_restricted_user() -> None:
    with start_valkey("8.1.8", "--repl-diskless-sync-delay", "0") as real:
        _restrict(real)
        p = connect(real, password="adm")
        populate_all_types(p, big=False)
        with start_valsync(
            "--replicaof", "127.0.0.1", str(real.port),
            "--masteruser", "repl", "--masterauth", "rpass",
            "--enable-debug-command", "yes",
        ) as mine:  # fmt: skip
            r = connect(mine)
            wait_synced(p, r)
            p.set("after", "sync")
            p.lpush("list", "a", "b")
            wait_synced(p, r)
            assert digest(r) == digest(p)
            clients = p.client_list()
            assert [c["user"] for c in clients if "S" in c["flags"]] == ["repl"]
            assert p.execute_command("ACL", "LOG") == []


def test_real_replica_of_valsync_primary_with_restricted_user() -> None:
    with start_valsync("--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes") as mine:
        _restrict(mine)
        p = connect(mine, password="adm")
        populate_all_types(p, big=False)
        with start_valkey(
            "8.1.8", "--replicaof", "127.0.0.1", str(mine.port),
            "--masteruser", "repl", "--masterauth", "rpass",
        ) as real:  # fmt: skip
            r = connect(real)
            wait_synced(p, r)
            p.set("after", "sync")
            p.hset("h", "f", "v")
            wait_synced(p, r)
            assert digest(r) == digest(p)
            clients = p.client_list()
            assert [c["user"] for c in clients if "S" in c["flags"]] == ["repl"]
            assert p.execute_command("ACL", "LOG") == []


def _denials(server: ServerProcess) -> list[bytes]:
    """ACL LOG's entries as reason|context|object|user, sorted (counts and times move)."""
    with RawClient(server.port) as c:
        c.call("AUTH", "adm")
        raw = c.call("ACL", "LOG")
    reader = hiredis.Reader()
    reader.feed(raw)
    entries = reader.gets()
    assert isinstance(entries, list)
    out = []
    for entry in entries:
        fields = dict(zip(entry[::2], entry[1::2], strict=True))
        out.append(b"|".join(fields[k] for k in (b"reason", b"context", b"object", b"username")))
    return sorted(out)


def test_user_without_psync_is_refused_alike() -> None:
    """A real 8.1.8 replica whose user lacks +psync gets NOPERM from either primary."""
    real_primary = start_valkey("8.1.8")
    mine_primary = start_valsync()
    replicas: list[ServerProcess] = []
    try:
        for primary in (real_primary, mine_primary):
            _restrict(primary)
            with RawClient(primary.port) as c:
                c.call("AUTH", "adm")
                assert c.call("ACL", "SETUSER", "repl", "-psync") == b"+OK\r\n"
            replicas.append(
                start_valkey(
                    "8.1.8",
                    "--replicaof",
                    "127.0.0.1",
                    str(primary.port),
                    "--masteruser",
                    "repl",
                    "--masterauth",
                    "rpass",
                )  # fmt: skip
            )
        # the replica tries PSYNC, then SYNC, every second: wait for both denials, then
        # compare the entries (their order follows the retries' timing)
        logs = [wait_until(lambda s=s: _denials(s) if len(_denials(s)) == 2 else None, 20,
                           "both denials") for s in (real_primary, mine_primary)]  # fmt: skip
        assert logs[1] == logs[0]
        for replica in replicas:
            assert connect(replica).info("replication")["master_link_status"] == "down"
    finally:
        for server in (*replicas, mine_primary, real_primary):
            server.stop()
