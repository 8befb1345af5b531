"""Keyspace notifications of the geo, SORT and ZADD writes, compared with a real
valkey-server 8.1.8: the same commands on both servers must publish the same messages."""

from __future__ import annotations

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

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


def _events(server: ServerProcess) -> list[bytes]:
    with RawClient(server.port) as client, RawClient(server.port) as sub:
        client.call("RPUSH", "l", "3", "1", "2")
        assert client.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == b"+OK\r\n"
        sub.call("PSUBSCRIBE", "__key*__:*")
        for argv in WRITES:
            client.call(*argv)
        out: list[bytes] = []
        while not out or b"end-marker" not in out[-1] or b"keyevent" not in out[-1]:
            out.append(sub.read_reply())
        return out


def test_geo_sort_zadd_events_match_valkey() -> None:
    real = start_valkey("8.1.8")
    ours = start_valsync()
    try:
        theirs = _events(real)
        mine = _events(ours)
    finally:
        ours.stop()
        real.stop()
    assert mine == theirs
    assert any(b"geosearchstore" in m for m in theirs) and any(b"sortstore" in m for m in theirs)
