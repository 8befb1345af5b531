"""WAITAOF as valkey 8.1.8 with ``appendonly no`` (valsync keeps no append-only file):
argument errors, ``numlocal`` refused, replicas without an AOF never counted, no blocking
inside a script or MULTI."""

from __future__ import annotations

from tests.differential import RawClient
from tests.realvalkey import start_valkey, start_valsync

CASES = [
    ("WAITAOF", "0", "0", "0"),
    ("WAITAOF", "1", "0", "0"),
    ("WAITAOF", "2", "0", "0"),
    ("WAITAOF", "x", "0", "0"),
    ("WAITAOF", "0", "-1", "0"),
    ("WAITAOF", "0", "0", "-1"),
    ("WAITAOF", "0", "0", "x"),
    ("WAITAOF", "0", "1", "50"),
    ("WAITAOF", "0"),
    ("EVAL", "return redis.pcall('waitaof','0','1','0')", "0"),
    ("EVAL", "return redis.pcall('waitaof','1','0','0')", "0"),
]


def _replies(port: int) -> list[bytes]:
    with RawClient(port) as client:
        client.call("SET", "k", "v")
        out = [client.call(*argv) for argv in CASES]
        client.call("MULTI")
        client.call("WAITAOF", "0", "1", "0")
        out.append(client.call("EXEC"))
        return out


def test_waitaof_like_valkey() -> None:
    results = []
    for start in (start_valsync, lambda: start_valkey("8.1.8")):
        with start() as server:
            results.append(_replies(server.port))
    assert results[0] == results[1]
    assert results[0][0] == b"*2\r\n:0\r\n:0\r\n"
