"""Streams across replication, both ways, with real valkey-server 8.1.8 and 9.1.2.

A stream workload (generated IDs, approximate trims, consumer groups with pending entries,
NOACK reads, claims, blocked readers served by a later XADD) runs on the primary, part of it
before the replica attaches (so it travels in the RDB) and part after (so it travels as the
rewritten command stream). The replica must end with the primary's DEBUG DIGEST and offset,
the same XINFO STREAM and XINFO GROUPS, and the same consumers with the same pending counts.
(A history read, XREADGROUP with an ID, bumps delivery counts that Valkey never propagates, so
its replicas differ there too: the workload leaves it out.)
"""

from __future__ import annotations

import pytest

from tests.integration.support import (
    connect,
    digest,
    populate_streams,
    raw_client,
    stream_traffic,
    stream_views,
    wait_synced,
)
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_real_primary_to_valsync_replica(servers: list[ServerProcess], version: str) -> None:
    primary = start_valkey(version, "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    p = connect(primary)
    populate_streams(raw_client(primary))
    replica = start_valsync(
        "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", str(primary.port)
    )
    servers.append(replica)
    r = connect(replica)
    wait_synced(p, r)
    stream_traffic(raw_client(primary), primary.port)
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert stream_views(raw_client(replica)) == stream_views(raw_client(primary))


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_valsync_primary_to_real_replica(servers: list[ServerProcess], version: str) -> None:
    primary = start_valsync("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    p = connect(primary)
    populate_streams(raw_client(primary))
    replica = start_valkey(version, "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(replica)
    r = connect(replica)
    wait_synced(p, r)
    stream_traffic(raw_client(primary), primary.port)
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert stream_views(raw_client(replica)) == stream_views(raw_client(primary))
