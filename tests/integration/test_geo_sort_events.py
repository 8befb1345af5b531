"""Keyspace notifications of the geo, SORT and ZADD writes, compared with a real
valkey-server 8.1.8: the same commands on both servers must publish the same messages."""

from __future__ import annotations

from tests.differential import keyspace_events
from tests.realvalkey import start_valkey, start_valsync

WRITES = [
    ["GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
    ["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
    ["GEOADD", "g", "CH", "13.4", "38.1", "Palermo"],
    ["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
    ["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"],
    ["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"],
    ["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d2"],
    ["GEORADIUSBYMEMBER", "g", "Palermo", "300", "km", "STOREDIST", "d3"],
    ["GEOSEARCHSTORE", "d3", "nokey", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"],
    ["SORT", "l", "STORE", "s"],
    ["SORT", "l", "LIMIT", "0", "0", "STORE", "s"],
    ["SORT", "nokey", "STORE", "s"],
    ["ZADD", "z", "1", "a"],
    ["ZADD", "z", "1", "a"],
    ["ZINCRBY", "z", "2", "a"],
    ["GEOADD", "end-marker", "0", "0", "x"],
]


def test_geo_sort_zadd_events_match_valkey() -> None:
    real = start_valkey("8.1.8")
    ours = start_valsync()
    try:
        theirs = keyspace_events(real, WRITES, [["RPUSH", "l", "3", "1", "2"]])
        mine = keyspace_events(ours, WRITES, [["RPUSH", "l", "3", "1", "2"]])
    finally:
        ours.stop()
        real.stop()
    assert mine == theirs
    assert any(b"geosearchstore" in m for m in theirs) and any(b"sortstore" in m for m in theirs)
