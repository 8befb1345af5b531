"""Dual-channel full sync from valsync: the fork child writes the RDB to the RDB channels itself.

Proved the way Valkey's own tests do it: ``DEBUG PAUSE-AFTER-FORK 1`` stops the primary's main
process (SIGSTOP) right after the fork, and the replica must still receive and load the whole
RDB; once the primary is continued the replica comes online with the same data.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.support import connect, digest, populate_all_types, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _stopped(pid: int) -> bool:
    """The process is stopped by a signal (state T in /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def _primary(servers: list[ServerProcess], *args: str) -> ServerProcess:
    server = start_valsync(
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync",
        "yes",
        "--dual-channel-replication-enabled",
        "yes",
        *args,
    )
    servers.append(server)
    return server


def _replica(servers: list[ServerProcess], kind: str, primary: ServerProcess) -> ServerProcess:
    args = ("--dual-channel-replication-enabled", "yes", "--loglevel", "verbose")
    if kind == "valsync":
        server = start_valsync("--enable-debug-command", "yes", *args)
    else:
        server = start_valkey(kind, *args)
    servers.append(server)
    connect(server).execute_command("REPLICAOF", "127.0.0.1", primary.port)
    return server


@pytest.mark.parametrize("kind", ["8.1.8", "valsync"])
def test_replica_loads_rdb_while_primary_is_stopped(
    servers: list[ServerProcess], kind: str
) -> None:
    primary = _primary(servers, "--repl-diskless-sync-delay", "0")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 20000, "key", 64)
    populate_all_types(p)
    keys = p.dbsize()
    p.execute_command("DEBUG", "PAUSE-AFTER-FORK", 1)
    replica = _replica(servers, kind, primary)
    stopped = False
    try:
        wait_until(lambda: _stopped(primary.pid), 20, "primary stopped after its fork")
        stopped = True
        wait_until(lambda: "Done loading RDB" in replica.log(), 60, "replica loaded the RDB")
        # the primary never ran meanwhile: every byte came from its child
        assert _stopped(primary.pid)
        assert connect(replica).dbsize() == keys
    finally:
        if stopped:
            os.kill(primary.pid, signal.SIGCONT)
    p.execute_command("DEBUG", "PAUSE-AFTER-FORK", 0)
    assert "direct socket to replica" in primary.log()
    p.set("after-resume", 1)
    r = connect(replica)
    wait_synced(p, r, timeout=60)
    assert r.get("after-resume") == b"1"
    assert digest(r) == digest(p)


def test_one_rdb_channel_lost_the_other_completes(servers: list[ServerProcess]) -> None:
    # both replicas share one child (the delay batches them); slow, so one can go mid-way
    primary = _primary(servers, "--repl-diskless-sync-delay", "2", "--rdb-key-save-delay", "300")
    p = connect(primary)
    p.execute_command("DEBUG", "POPULATE", 8000, "key", 32)
    doomed = _replica(servers, "8.1.8", primary)
    survivor = _replica(servers, "8.1.8", primary)
    wait_until(lambda: p.info("persistence")["rdb_bgsave_in_progress"] == 1, 30, "transfer started")
    wait_until(lambda: "receiving streamed RDB" in doomed.log(), 30, "first replica receiving")
    forks = p.info("stats")["total_forks"]
    doomed.stop()
    time.sleep(0.5)
    assert p.ping()
    p.config_set("rdb-key-save-delay", 0)
    r = connect(survivor)
    wait_synced(p, r, timeout=90)
    assert digest(r) == digest(p)
    # the survivor was served by the same child, not by a new fork
    assert p.info("stats")["total_forks"] == forks
