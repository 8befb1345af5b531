"""Before AUTH, Valkey limits a request's multibulk and bulk lengths with its own words."""

from __future__ import annotations

import pytest

from tests.integration.support import raw_exchange
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


@pytest.mark.parametrize(
    "payload",
    [
        b"*100\r\n",
        b"*1\r\n$100000000\r\n",
        b"*11\r\n",
        b"*1\r\n$16385\r\n",
        b"*1\r\n$4\r\nPING\r\n",
    ],
)
def test_unauthenticated_lengths_like_valkey(payload: bytes) -> None:
    servers: list[ServerProcess] = []
    try:
        servers.append(start_valsync("--requirepass", "foobar"))
        servers.append(start_valkey("8.1.8", "--requirepass", "foobar"))
        ours, theirs = (raw_exchange(s.port, payload, until=b"\r\n") for s in servers)
        assert ours == theirs
    finally:
        for server in servers:
            server.stop()
