"""masteruser/masterauth against primaries whose replication user may run only what a replica
needs (``+psync +replconf +ping``), both ways: valsync replicating from a real valkey-server
8.1.8, and a real 8.1.8 replica of valsync. A user without ``+psync`` is refused by both
primaries alike (same ACL LOG entry), and the default user may be locked down entirely
without touching the replication stream."""

from __future__ import annotations

import hiredis
import pytest

from tests.differential import RawClient
from tests.integration.support import connect, digest, populate_all_types, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

REPL_USER = ("ACL", "SETUSER", "repl", "on", ">rpass", "-@all", "+psync", "+replconf", "+ping")


def _restrict(server: ServerProcess) -> None:
    with RawClient(server.port) as c:
        assert c.call(*REPL_USER) == b"+OK\r\n"
        # the default user now needs a password and may not run PSYNC itself
        assert c.call("ACL", "SETUSER", "default", ">adm", "-psync") == b"+OK\r\n"


@pytest.mark.parametrize("primary_kind", ["8.1.8", "valsync"])
def test_replica_syncs_as_a_restricted_user(primary_kind: str) -> None:
    """valsync below a real primary, and a real 8.1.8 replica below valsync."""
    replica_kind = "valsync" if primary_kind == "8.1.8" else "8.1.8"
    with _start(primary_kind, "--repl-diskless-sync-delay", "0") as top:
        _restrict(top)
        p = connect(top, password="adm")
        populate_all_types(p, big=False)
        with _start(
            replica_kind, "--replicaof", "127.0.0.1", str(top.port),
            "--masteruser", "repl", "--masterauth", "rpass",
        ) as below:  # fmt: skip
            r = connect(below)
            wait_synced(p, r)
            p.set("after", "sync")
            p.lpush("list", "a", "b")
            p.hset("h", "f", "v")
            wait_synced(p, r)
            assert digest(r) == digest(p)
            clients = p.client_list()
            assert [c["user"] for c in clients if "S" in c["flags"]] == ["repl"]
            assert p.execute_command("ACL", "LOG") == []


def _start(kind: str, *args: str) -> ServerProcess:
    if kind == "valsync":
        return start_valsync(*args, "--enable-debug-command", "yes")
    return start_valkey(kind, *args)


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
