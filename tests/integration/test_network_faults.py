"""Network faults between a primary and its replica (tests/faultproxy.py in between).

Each pair, valsync -> valsync, valsync -> valkey 8.1.8 and valkey 8.1.8 -> valsync, goes
through every fault: both sides recover and agree by DEBUG DIGEST. A fault that breaks the
link while the backlog covers the gap is healed by a partial resync (the primary's
``sync_partial_ok`` grows, ``sync_full`` does not); a cut mid-RDB is healed by the next full
sync; delays, byte-at-a-time delivery and short stalls heal with no resync at all, a stall
longer than repl-timeout with a partial one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import valkey

from tests.faultproxy import FaultProxy
from tests.integration.support import (
    connect,
    digest,
    info,
    populate_all_types,
    wait_synced,
    wait_until,
)
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

PAIRS = ["valsync-valsync", "valsync-valkey", "valkey-valsync"]


def _start(kind: str, *args: str) -> ServerProcess:
    if kind == "valsync":
        return start_valsync(*args, "--enable-debug-command", "yes")
    return start_valkey("8.1.8", *args)


@dataclass
class Link:
    primary: ServerProcess
    replica: ServerProcess
    proxy: FaultProxy
    replica_kind: str
    writes: int = 0

    @property
    def p(self) -> valkey.Valkey:
        return connect(self.primary)

    @property
    def r(self) -> valkey.Valkey:
        return connect(self.replica)

    def start_replica(self) -> None:
        self.replica = _start(self.replica_kind, "--replicaof", "127.0.0.1", str(self.proxy.port))

    def write(self, n: int = 200) -> None:
        pipe = self.p.pipeline(transaction=False)
        for _ in range(n):
            i = self.writes = self.writes + 1
            pipe.set(f"k{i % 300}", i)
            pipe.rpush(f"l{i % 7}", i)
            pipe.hset(f"h{i % 5}", f"f{i % 50}", i)
            pipe.zadd(f"z{i % 3}", {f"m{i % 90}": i})
            pipe.xadd("x", {"i": i}, maxlen=500, approximate=False)
        pipe.execute()

    def sync_counts(self) -> tuple[int, int]:
        stats = info(self.p, "stats")
        return int(stats["sync_full"]), int(stats["sync_partial_ok"])

    def converge(self) -> None:
        wait_synced(self.p, self.r, timeout=60)
        wait_until(lambda: digest(self.p) == digest(self.r), 30, "digests equal")


@pytest.fixture(scope="module", params=PAIRS)
def link(request: pytest.FixtureRequest) -> Iterator[Link]:
    primary_kind, replica_kind = request.param.split("-")
    primary = _start(primary_kind, "--repl-diskless-sync-delay", "0")
    proxy = FaultProxy(primary.port).start()
    pair = Link(primary, primary, proxy, replica_kind)
    try:
        populate_all_types(pair.p)
        pair.start_replica()
        pair.converge()
        yield pair
    finally:
        pair.replica.stop()
        proxy.close()
        primary.stop()


def test_delay(link: Link) -> None:
    before = link.sync_counts()
    link.proxy.set("delay", delay=0.05)
    link.write()
    link.converge()
    link.proxy.set("pass")
    assert link.sync_counts() == before


def test_bytewise(link: Link) -> None:
    before = link.sync_counts()
    link.proxy.set("bytewise")
    link.write(50)
    link.converge()
    link.proxy.set("pass")
    assert link.sync_counts() == before


def test_stall(link: Link) -> None:
    before = link.sync_counts()
    link.proxy.set("stall", stall_until=time.monotonic() + 2)
    link.write()
    assert info(link.r)["slave_repl_offset"] < info(link.p)["master_repl_offset"]
    link.converge()
    link.proxy.set("pass")
    assert link.sync_counts() == before


def test_stall_past_repl_timeout(link: Link) -> None:
    """Both ends give up on a link silent for longer than repl-timeout; the replica comes
    back through the same proxy once it moves again, and continues where it was."""
    full, partial = link.sync_counts()
    link.p.config_set("repl-ping-replica-period", 1)
    for c in (link.p, link.r):
        c.config_set("repl-timeout", 2)
    try:
        link.proxy.set("stall", stall_until=time.monotonic() + 5)
        link.write()
        link.converge()
    finally:
        link.proxy.set("pass")
        link.p.config_set("repl-ping-replica-period", 10)
        for c in (link.p, link.r):
            c.config_set("repl-timeout", 60)
    assert link.sync_counts()[0] == full
    assert link.sync_counts()[1] > partial


def test_drop_connection(link: Link) -> None:
    full, partial = link.sync_counts()
    assert link.proxy.drop() >= 1
    link.write()
    link.converge()
    assert link.sync_counts()[0] == full
    assert link.sync_counts()[1] > partial


def test_cut_mid_command(link: Link) -> None:
    full, partial = link.sync_counts()
    cuts = link.proxy.plan.cuts
    link.proxy.set("cut_mid_command")
    link.write()
    wait_until(lambda: link.proxy.plan.cuts > cuts, 10, "the cut")
    link.write()
    link.converge()
    assert link.proxy.plan.cut_log[-1] == "mid-command"
    assert link.sync_counts()[0] == full
    assert link.sync_counts()[1] > partial


def test_cut_mid_rdb(link: Link) -> None:
    link.replica.stop()
    full, _ = link.sync_counts()
    cuts = link.proxy.plan.cuts
    link.proxy.set("cut_mid_rdb", rdb_bytes=3000)
    link.start_replica()
    link.write()
    link.converge()
    assert link.proxy.plan.cuts == cuts + 1
    assert link.proxy.plan.cut_log[-1] == "mid-rdb"
    assert link.sync_counts()[0] >= full + 2  # the cut transfer and the one that completed
