"""Keyspace notifications of the bitmap and HyperLogLog writes, compared with a real
valkey-server 8.1.8: the same commands on both servers must publish the same messages
(``setbit`` for SETBIT/BITFIELD changes, ``set``/``del`` for BITOP, ``pfadd`` for PFADD and
PFMERGE, nothing for writes that change nothing, for PFCOUNT or for PFDEBUG)."""

from __future__ import annotations

from tests.differential import keyspace_events
from tests.realvalkey import start_valkey, start_valsync

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


def test_bitmap_and_hll_events_match_valkey() -> None:
    real = start_valkey("8.1.8")
    ours = start_valsync()
    try:
        theirs = keyspace_events(real, WRITES)
        mine = keyspace_events(ours, WRITES)
    finally:
        ours.stop()
        real.stop()
    assert mine == theirs
    assert any(b"setbit" in m for m in theirs) and any(b"pfadd" in m for m in theirs)
