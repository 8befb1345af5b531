"""SWAPDB's argument errors in Valkey's order and words (8.1.8)."""

from __future__ import annotations

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

CASES = [
    ("SWAPDB", "44", "55"),
    ("SWAPDB", "44", "a"),
    ("SWAPDB", "a", "55"),
    ("SWAPDB", "a", "b"),
    ("SWAPDB", "0", "0"),
    ("SWAPDB", "-1", "0"),
]


def test_swapdb_errors_like_valkey(servers: list[ServerProcess]) -> None:
    replies = []
    for server in (start_valsync(), start_valkey("8.1.8")):
        servers.append(server)
        with RawClient(server.port) as client:
            replies.append([client.call(*case) for case in CASES])
    assert replies[0] == replies[1]
