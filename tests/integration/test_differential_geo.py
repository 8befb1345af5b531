"""Geo commands, byte for byte against a real valkey-server 8.1.8 (RESP2 and RESP3).

Hypothesis draws points around a few centres (the equator, the antimeridian, near the
Mercator limits, ordinary cities), some at identical positions so that distances tie, then
GEOADD/GEOPOS/GEODIST/GEOHASH and searches of random radii and boxes with every option. Each
sequence runs in-process through the Harness and on the real server; every reply must be
identical, and so must ``DEBUG DIGEST`` afterwards (stored searches included).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Differ, RawClient, ReplicaStream
from tests.realvalkey import ServerProcess, start_valkey
from tests.unit.cmdutil import Harness

CENTRES = [(0.0, 0.0), (179.5, 10.0), (-179.9, -20.0), (13.36, 38.11), (-73.9, 40.7), (20.0, 84.5)]
MEMBERS = ["a", "b", "c", "d", "e", "f", "g", "h", "10", ""]
UNITS = ["m", "km", "mi", "ft", "KM", "parsec"]
KEYS = ["g1", "g2", "str", "nokey"]
DESTS = ["d1", "d2", "g2", "str"]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    proc = start_valkey("8.1.8")
    yield proc
    proc.stop()


def _num(x: float) -> str:
    return repr(x)


@st.composite
def position(draw: st.DrawFn) -> tuple[str, str]:
    """A longitude, latitude pair near a centre; sometimes exactly a centre, sometimes bad."""
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.sampled_from([("181", "0"), ("0", "85.06"), ("x", "1"), ("-180", "-86")]))
    lon0, lat0 = draw(st.sampled_from(CENTRES))
    if kind < 4:
        return _num(lon0), _num(lat0)
    spread = draw(st.sampled_from([0.001, 0.05, 1.0, 5.0]))
    lon = min(max(lon0 + draw(st.floats(-spread, spread)), -180.0), 180.0)
    lat = min(max(lat0 + draw(st.floats(-spread, spread)), -85.05112878), 85.05112878)
    return _num(lon), _num(lat)


@st.composite
def geoadd(draw: st.DrawFn) -> list[str]:
    key = draw(st.sampled_from(["g1", "g1", "g2", "str"]))
    opts = draw(st.lists(st.sampled_from(["NX", "XX", "CH"]), max_size=2, unique=True))
    out = ["GEOADD", key, *opts]
    for _ in range(draw(st.integers(1, 4))):
        lon, lat = draw(position())
        out += [lon, lat, draw(st.sampled_from(MEMBERS))]
    return out


@st.composite
def radius(draw: st.DrawFn) -> list[str]:
    value = draw(
        st.one_of(
            st.sampled_from(["0", "1", "-1", "x", "5000", "20000", "40000"]),
            st.floats(0, 800).map(_num),
        )
    )
    return [value, draw(st.sampled_from(["km"] * 4 + UNITS))]


@st.composite
def box(draw: st.DrawFn) -> list[str]:
    w = draw(st.one_of(st.sampled_from(["0", "-1", "x", "30000"]), st.floats(0, 1500).map(_num)))
    h = draw(st.one_of(st.sampled_from(["0", "y", "30000"]), st.floats(0, 1500).map(_num)))
    return [w, h, draw(st.sampled_from(["km"] * 4 + UNITS))]


@st.composite
def options(draw: st.DrawFn, store: bool = False) -> list[str]:
    out: list[str] = []
    for opt in draw(
        st.lists(
            st.sampled_from(
                ["WITHDIST", "WITHHASH", "WITHCOORD", "ASC", "DESC", "COUNT", "ANY", "BOGUS"]
                if not store
                else ["ASC", "DESC", "COUNT", "ANY", "STOREDIST"]
            ),
            max_size=4,
        )
    ):
        if opt == "COUNT":
            out += ["COUNT", draw(st.sampled_from(["1", "2", "3", "5", "100", "0", "-1", "x"]))]
        else:
            out.append(opt)
    return out


@st.composite
def origin(draw: st.DrawFn) -> list[str]:
    if draw(st.booleans()):
        return ["FROMMEMBER", draw(st.sampled_from(MEMBERS))]
    return ["FROMLONLAT", *draw(position())]


@st.composite
def shape(draw: st.DrawFn) -> list[str]:
    if draw(st.booleans()):
        return ["BYRADIUS", *draw(radius())]
    return ["BYBOX", *draw(box())]


key = st.sampled_from(KEYS)
member = st.sampled_from(MEMBERS)

GEO_COMMANDS = st.one_of(
    geoadd(),
    geoadd(),
    geoadd(),
    st.tuples(key, st.lists(member, max_size=4)).map(lambda t: ["GEOPOS", t[0], *t[1]]),
    st.tuples(key, st.lists(member, max_size=4)).map(lambda t: ["GEOHASH", t[0], *t[1]]),
    st.tuples(key, member, member, st.lists(st.sampled_from(UNITS), max_size=2)).map(
        lambda t: ["GEODIST", t[0], t[1], t[2], *t[3]]
    ),
    st.tuples(key, origin(), shape(), options()).map(
        lambda t: ["GEOSEARCH", t[0], *t[1], *t[2], *t[3]]
    ),
    st.tuples(key, origin(), shape(), options()).map(
        lambda t: ["GEOSEARCH", t[0], *t[2], *t[1], *t[3]]
    ),
    st.tuples(st.sampled_from(DESTS), key, origin(), shape(), options(store=True)).map(
        lambda t: ["GEOSEARCHSTORE", t[0], t[1], *t[2], *t[3], *t[4]]
    ),
    st.tuples(key, position(), radius(), options()).map(
        lambda t: ["GEORADIUS", t[0], *t[1], *t[2], *t[3]]
    ),
    st.tuples(key, position(), radius(), options(), st.sampled_from(DESTS)).map(
        lambda t: ["GEORADIUS", t[0], *t[1], *t[2], *t[3], "STORE", t[4]]
    ),
    st.tuples(key, member, radius(), options(), st.sampled_from(DESTS)).map(
        lambda t: ["GEORADIUSBYMEMBER", t[0], t[1], *t[2], *t[3], "STOREDIST", t[4]]
    ),
    st.tuples(key, member, radius(), options()).map(
        lambda t: ["GEORADIUSBYMEMBER_RO", t[0], t[1], *t[2], *t[3]]
    ),
    st.tuples(key, position(), radius(), options()).map(
        lambda t: ["GEORADIUS_RO", t[0], *t[1], *t[2], *t[3]]
    ),
)

SETUP = [
    ["SET", "str", "x"],
    ["GEOADD", "g1", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
    ["GEOADD", "g1", "0", "0", "a", "0", "0", "b", "0.001", "0", "c", "179.9", "10", "d"],
    ["GEOADD", "g1", "-179.9", "10", "e", "20", "84.9", "f", "20.5", "84.9", "g"],
]
STATE = [["ZRANGE", k, "0", "-1", "WITHSCORES"] for k in ("g1", "g2", "d1", "d2")]


def _run(server: ServerProcess, resp: int, commands: list[list[str]]) -> None:
    differ = Differ(server, resp=resp)
    try:
        differ.reset()
        for argv in SETUP + commands + STATE:
            differ.check(*argv)
        differ.check_digest()
    finally:
        differ.close()


SETTINGS = settings(
    max_examples=int(os.environ.get("GEO_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="GEO_EXAMPLES" not in os.environ,
)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(GEO_COMMANDS, min_size=1, max_size=12))
def test_geo_commands_match_valkey(
    server: ServerProcess, resp: int, commands: list[list[str]]
) -> None:
    _run(server, resp, commands)


def test_many_points_and_ties_match_valkey(server: ServerProcess) -> None:
    """A dense cloud (a skiplist in Valkey) with repeated positions: COUNT windows go through
    the partial quicksort, whose order of equal distances must be Valkey's."""
    import random

    rng = random.Random(11)
    differ = Differ(server, resp=2)
    try:
        differ.reset()
        spots = [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(40)]
        args: list[str] = ["GEOADD", "cloud"]
        for i in range(300):
            lon, lat = rng.choice(spots)
            args += [_num(lon), _num(lat), f"m{i}"]
        differ.check(*args)
        for count in ("1", "7", "41", "100", "299", "300", "1000"):
            for order in ("ASC", "DESC"):
                for extra in ([], ["ANY"]):
                    differ.check(
                        "GEOSEARCH", "cloud", "FROMLONLAT", "0.1", "0.2", "BYRADIUS", "200", "km",
                        "COUNT", count, order, "WITHDIST", *extra,
                    )  # fmt: skip
                    differ.check(
                        "GEORADIUS", "cloud", "0", "0", "100", "km", "COUNT", count, order,
                        *extra, "STOREDIST", "dst",
                    )  # fmt: skip
                    differ.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")
        differ.check("GEOSEARCH", "cloud", "FROMMEMBER", "m3", "BYBOX", "150", "90", "km")
        differ.check_digest()
    finally:
        differ.close()


GEO_PROPAGATION = [
    ["GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
    ["GEOADD", "g", "ch", "xx", "13.361389", "38.115556", "Palermo", "1", "1", "Nowhere"],
    ["GEOADD", "g", "NX", "13.361389", "38.115556", "Palermo"],
    ["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d"],
    ["georadius", "g", "15", "37", "200", "km", "STOREDIST", "d2", "COUNT", "1"],
    ["GEORADIUS", "g", "15", "37", "1", "m", "STORE", "d"],
    ["GEORADIUS", "g", "15", "37", "1", "m", "STORE", "d"],
    ["GEORADIUSBYMEMBER", "g", "Palermo", "300", "km", "STORE", "d3"],
    ["GEOSEARCHSTORE", "d4", "g", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km"],
    ["GEOSEARCHSTORE", "d4", "nokey", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km"],
    ["GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km"],
]


def test_geo_propagation_matches_valkey() -> None:
    """GEOADD reaches a replica as Valkey's ZADD rewrite; the store variants verbatim."""
    server = start_valkey("8.1.8", "--repl-diskless-sync", "no")
    try:
        with RawClient(server.port) as client:
            stream = ReplicaStream(server.port)
            harness = Harness()
            for argv in GEO_PROPAGATION:
                assert harness.wire(*argv) == client.call(*argv), argv
            client.call("SET", "end-marker", "x")
            seen = stream.read_commands(lambda argv: argv[:2] == [b"SET", b"end-marker"])
            stream.close()
        real = [argv for argv in seen if argv[0].upper() != b"SELECT"]
        assert [argv for _, argv in harness.propagated] == real[:-1]
    finally:
        server.stop()


@pytest.mark.parametrize("resp", [2, 3])
def test_geo_replies_inside_scripts_match_valkey(server: ServerProcess, resp: int) -> None:
    """Coordinates reach Lua as strings (RESP2) or doubles parsed from Valkey's text (RESP3)."""
    differ = Differ(server, resp=resp)
    try:
        differ.reset()
        differ.check("GEOADD", "g", "13.361389", "38.115556", "a", "-73.9", "40.7", "b")
        for body in (
            "return redis.call('geopos', KEYS[1], 'a', 'b', 'c')",
            "redis.setresp(3); return redis.call('geopos', KEYS[1], 'a', 'c')",
            "redis.setresp(3); return redis.call('geosearch', KEYS[1], 'frommember', 'a',"
            " 'byradius', 10000, 'km', 'withcoord', 'withdist', 'withhash')",
            "redis.setresp(3); return tostring(redis.call('geopos', KEYS[1], 'b')[1][2]['double'])",
            "return redis.call('geodist', KEYS[1], 'a', 'b', 'mi')",
        ):
            differ.check("EVAL", body, "1", "g")
    finally:
        differ.close()


def test_polygon_search_matches_valkey9() -> None:
    """GEOSEARCH/GEOSEARCHSTORE BYPOLYGON (Valkey 9; a 9.1.2 primary streams it) against a
    real 9.1.2: random convex, concave and self-crossing polygons over a point cloud, with
    distances from the vertices' spherical centroid, COUNT windows and STOREDIST."""
    import random

    server = start_valkey("9.1.2")
    rng = random.Random(17)
    differ = Differ(server, resp=3)
    try:
        differ.reset()
        args: list[str] = ["GEOADD", "cloud"]
        for i in range(250):
            args += [_num(rng.uniform(-3, 3)), _num(rng.uniform(40, 46)), f"m{i}"]
        differ.check(*args)
        for q in range(40):
            n = rng.randrange(3, 7)
            vertices = [(_num(rng.uniform(-4, 4)), _num(rng.uniform(39, 47))) for _ in range(n)]
            polygon = ["BYPOLYGON", str(n), *[c for v in vertices for c in v]]
            extra = rng.choice([[], ["ASC"], ["DESC", "COUNT", "5"], ["COUNT", "3", "ANY"]])
            differ.check("GEOSEARCH", "cloud", *polygon, "WITHDIST", "WITHHASH", *extra)
            differ.check("GEOSEARCHSTORE", f"d{q % 3}", "cloud", *polygon, "STOREDIST", *extra)
        differ.check_digest()
    finally:
        differ.close()
        server.stop()
