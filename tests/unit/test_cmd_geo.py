"""Geo commands and geohash arithmetic through the Harness; expected bytes were taken from
valkey-server 8.1.8 (the Sicily example of Valkey's GEO documentation)."""

from __future__ import annotations

import random

from tests.unit.cmdutil import Harness
from valsync.commands import geohash
from valsync.commands.partial_sort import partial_sort


def sicily() -> Harness:
    h = Harness()
    h.run(
        "GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"
    )
    return h


def test_geoadd_stores_valkeys_score_and_propagates_zadd() -> None:
    h = sicily()
    assert h.wire("ZSCORE", "Sicily", "Palermo") == b"$16\r\n3479099956230698\r\n"
    assert h.propagated[-1][1] == [
        b"zadd",
        b"Sicily",
        b"3479099956230698",
        b"Palermo",
        b"3479447370796909",
        b"Catania",
    ]


def test_geodist_geohash_geopos() -> None:
    h = sicily()
    assert h.wire("GEODIST", "Sicily", "Palermo", "Catania") == b"$11\r\n166274.1516\r\n"
    assert h.wire("GEODIST", "Sicily", "Palermo", "Catania", "km") == b"$8\r\n166.2742\r\n"
    assert h.wire("GEOHASH", "Sicily", "Palermo", "x") == b"*2\r\n$11\r\nsqc8b49rny0\r\n$-1\r\n"
    assert h.wire("GEOPOS", "Sicily", "Palermo", "x", resp=2) == (
        b"*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n"
    )
    h.client.resp = 3
    assert h.wire("GEOPOS", "Sicily", "Palermo", "x", resp=3) == (
        b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"
    )


def test_search_and_errors() -> None:
    h = sicily()
    assert h.wire("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC") == (
        b"*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n"
    )
    assert h.wire("GEOADD", "Sicily", "181", "1", "x") == (
        b"-ERR invalid longitude,latitude pair 181.000000,1.000000\r\n"
    )
    assert h.wire("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "au") == (
        b"-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"
    )


def test_geohash_roundtrip_stays_inside_the_cell() -> None:
    rng = random.Random(3)
    for _ in range(200):
        lon = rng.uniform(-180, 180)
        lat = rng.uniform(geohash.LAT_MIN, geohash.LAT_MAX)
        dlon, dlat = geohash.decode_score(float(geohash.score_of(lon, lat)))
        assert abs(dlon - lon) < 360 / 2**26 and abs(dlat - lat) < 171 / 2**26


def test_partial_sort_window_is_sorted() -> None:
    rng = random.Random(5)
    for n in (0, 1, 5, 7, 8, 41, 200):
        for _ in range(20):
            items = [rng.randrange(10) for _ in range(n)]
            lo = rng.randrange(max(n, 1))
            hi = min(n - 1, lo + rng.randrange(5))
            work = list(items)
            partial_sort(work, lambda a, b: (a > b) - (a < b), lo, hi)
            assert sorted(work) == sorted(items)
            assert work[lo : hi + 1] == sorted(items)[lo : hi + 1]
