"""Keyspace notifications of the bitmap and HyperLogLog writes, compared with a real
valkey-server 8.1.8: the same commands on both servers must publish the same messages
(``setbit`` for SETBIT/BITFIELD changes, ``set``/``del`` for BITOP, ``pfadd`` for PFADD and
PFMERGE, nothing for writes that change nothing, for PFCOUNT or for PFDEBUG)."""

from __future__ import annotations

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

WRITES = [
    ["SETBIT", "b", "7", "1"],
    ["SETBIT", "b", "7", "1"],
    ["SETBIT", "b", "100", "0"],
    ["BITFIELD", "f", "SET", "u8", "0", "200", "GET", "u8", "0"],
    ["BITFIELD", "f", "SET", "u8", "0", "200"],
    ["BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "100"],
    ["BITFIELD", "f", "GET", "u8", "0"],
    ["BITOP", "OR", "o", "b", "f"],
    ["BITOP", "AND", "o", "nokey"],
    ["BITOP", "AND", "o", "nokey"],
    ["PFADD", "h", "a", "b"],
    ["PFADD", "h", "a"],
    ["PFADD", "h2"],
    ["PFCOUNT", "h"],
    ["PFMERGE", "m", "h", "h2"],
    ["PFDEBUG", "TODENSE", "m"],
    ["SETBIT", "end-marker", "0", "1"],
]


def _events(server: ServerProcess) -> list[bytes]:
    with RawClient(server.port) as client, RawClient(server.port) as sub:
        assert client.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == b"+OK\r\n"
        sub.call("PSUBSCRIBE", "__key*__:*")
        for argv in WRITES:
            client.call(*argv)
        out: list[bytes] = []
        while not out or b"end-marker" not in out[-1] or b"keyevent" not in out[-1]:
            out.append(sub.read_reply())
        return out


def test_bitmap_and_hll_events_match_valkey() -> None:
    real = start_valkey("8.1.8")
    ours = start_valsync()
    try:
        theirs = _events(real)
        mine = _events(ours)
    finally:
        ours.stop()
        real.stop()
    assert mine == theirs
    assert any(b"setbit" in m for m in theirs) and any(b"pfadd" in m for m in theirs)
