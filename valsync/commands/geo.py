"""Geo commands, mirroring Valkey 8.1's ``geo.c`` reply for reply.

A geo set is a sorted set whose scores are 52-bit geohashes (:mod:`valsync.commands.geohash`).
GEOADD turns its triples into scores and runs ZADD, and is propagated as that ZADD, as Valkey
rewrites it. Searches (GEOSEARCH, GEORADIUS and their variants) scan the nine covering cells
in Valkey's order, keep the points inside the shape, and sort by distance only when asked to
(COUNT without ANY implies ASC); the store variants write a sorted set of geohash scores or,
with STOREDIST, of distances, and are propagated verbatim.

GEOSEARCH[STORE] also takes Valkey 9's ``BYPOLYGON count lon lat ...`` (8.1.8 answers a syntax
error there), because a 9.x primary streams it: the polygon's centre is the spherical
centroid of its vertices, membership is even-odd ray casting on longitude/latitude, and the
covering cells come from its bounding box, as 9.1.2 computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from valsync.commands import geohash
from valsync.commands.context import BlockRequest, CommandContext
from valsync.commands.errors import SYNTAX, CommandError, parse_int
from valsync.commands.partial_sort import partial_sort
from valsync.commands.registry import command
from valsync.commands.strings import format_long_double
from valsync.commands.zsets import _store_zset, parse_score, zadd
from valsync.keyspace.values import ZSetValue
from valsync.resp.reply import NULL_ARRAY, HumanDouble, Reply

UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
UNSUPPORTED_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
NO_MEMBER = "ERR could not decode requested zset member"


def _zset(ctx: CommandContext, key: bytes) -> ZSetValue | None:
    return ctx.lookup_typed(key, ZSetValue, read=True)


def _unit(arg: bytes) -> float:
    conversion = UNITS.get(arg.lower())
    if conversion is None:
        raise CommandError(UNSUPPORTED_UNIT)
    return conversion


def _long_lat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    lon = parse_score(lon_arg)
    lat = parse_score(lat_arg)
    if not (
        geohash.LONG_MIN <= lon <= geohash.LONG_MAX and geohash.LAT_MIN <= lat <= geohash.LAT_MAX
    ):
        raise CommandError(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _nonnegative(arg: bytes, error: str, negative: str) -> float:
    value = parse_score(arg, f"ERR {error}")
    if value < 0:
        raise CommandError(negative)
    return value


def _member_position(z: ZSetValue, member: bytes) -> tuple[float, float]:
    score = z.score(member)
    if score is None:
        raise CommandError(NO_MEMBER)
    return geohash.decode_score(score)


def format_distance(d: float) -> bytes:
    """Valkey's ``fixedpoint_d2string(d, 4)``: four decimals, rounded half to even."""
    if d == 0:
        return b"0.0000"
    scaled = round(d * 10000.0)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10000)
    return f"{sign}{whole}.{frac:04d}".encode()


def _coordinate(value: float) -> HumanDouble:
    return HumanDouble(format_long_double(Fraction(value)))


# --- GEOADD ----------------------------------------------------------------------------------


@command("geoadd", -5, "write denyoom", 1, 1, 1)
def geoadd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    first = 2
    nx = xx = False
    while first < len(argv):
        opt = argv[first].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        first += 1
    if (len(argv) - first) % 3 or (nx and xx):
        raise CommandError(SYNTAX)
    zadd_argv = [b"zadd", *argv[1:first]]
    for i in range(first, len(argv), 3):
        lon, lat = _long_lat(argv[i], argv[i + 1])
        zadd_argv.append(b"%d" % geohash.score_of(lon, lat))
        zadd_argv.append(argv[i + 2])
    reply = zadd(ctx, zadd_argv)  # sends the "zadd" event, as Valkey's GEOADD does
    assert not isinstance(reply, BlockRequest)
    ctx.rewrite(zadd_argv)
    return reply


# --- GEOPOS / GEOHASH / GEODIST --------------------------------------------------------------


@command("geopos", -2, "readonly", 1, 1, 1)
def geopos(ctx: CommandContext, argv: list[bytes]) -> Reply:
    z = _zset(ctx, argv[1])
    out: list[Reply] = []
    for member in argv[2:]:
        score = None if z is None else z.score(member)
        if score is None:
            out.append(NULL_ARRAY)
            continue
        lon, lat = geohash.decode_score(score)
        out.append([_coordinate(lon), _coordinate(lat)])
    return out


@command("geohash", -2, "readonly", 1, 1, 1)
def geohash_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    z = _zset(ctx, argv[1])
    out: list[Reply] = []
    for member in argv[2:]:
        score = None if z is None else z.score(member)
        out.append(None if score is None else geohash.standard_geohash(score))
    return out


@command("geodist", -4, "readonly", 1, 1, 1)
def geodist(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 5:
        raise CommandError(SYNTAX)
    to_meters = _unit(argv[4]) if len(argv) == 5 else 1.0
    z = _zset(ctx, argv[1])
    if z is None:
        return None
    s1, s2 = z.score(argv[2]), z.score(argv[3])
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = geohash.decode_score(s1)
    lon2, lat2 = geohash.decode_score(s2)
    return format_distance(geohash.distance(lon1, lat1, lon2, lat2) / to_meters)


# --- searches --------------------------------------------------------------------------------


@dataclass(slots=True)
class GeoPoint:
    longitude: float
    latitude: float
    dist: float
    score: float
    member: bytes


@dataclass(slots=True)
class SearchRequest:
    """What ``georadiusGeneric`` parsed: the shape and the reply or store options."""

    shape: geohash.Shape | None = None
    store_key: bytes | None = None
    store_dist: bool = False
    withdist: bool = False
    withhash: bool = False
    withcoord: bool = False
    order: int = 0  # 0 none, 1 ascending, -1 descending
    count: int = 0
    any: bool = False


def _points_in_cell(z: ZSetValue, cell: geohash.HashBits, shape: geohash.Shape) -> list[GeoPoint]:
    lo = float(geohash.align52(cell))
    hi = float(geohash.align52(geohash.HashBits(cell.bits + 1, cell.step)))
    start, stop = z.score_bounds(lo, False, hi, True)
    found: list[GeoPoint] = []
    for score, member in z.index.islice(start, stop):
        lon, lat = geohash.decode_score(score)
        d = shape.contains(lon, lat)
        if d is not None:
            found.append(GeoPoint(lon, lat, d, score, member))
    return found


def _points_in_shape(z: ZSetValue, shape: geohash.Shape, limit: int) -> list[GeoPoint]:
    """The points inside ``shape`` in Valkey's scan order; with ``limit`` (ANY), stop early."""
    cells = geohash.search_areas(shape)
    found: list[GeoPoint] = []
    last = 0
    for i, cell in enumerate(cells):
        if cell.is_zero:
            continue
        # Huge radii make neighbours coincide: a cell equal to the last neighbour scanned is
        # skipped (Valkey never compares with the centre cell, index 0).
        if last and cell == cells[last]:
            continue
        if found and limit and len(found) >= limit:
            break
        found.extend(_points_in_cell(z, cell, shape))
        if limit and len(found) > limit:
            del found[limit:]
        last = i
    return found


def _by_distance(a: GeoPoint, b: GeoPoint) -> int:
    return (a.dist > b.dist) - (a.dist < b.dist)


def _by_distance_desc(a: GeoPoint, b: GeoPoint) -> int:
    return -_by_distance(a, b)


def _parse_search(argv: list[bytes], z: ZSetValue | None, base: int, kind: str) -> SearchRequest:
    """The option loop of ``georadiusGeneric``; ``kind`` is radius, radius_ro, search or
    searchstore. Errors come in Valkey's order."""
    req = SearchRequest()
    frommember = fromloc = byradius = bybox = False
    polygon: tuple[tuple[float, float], ...] = ()
    center: tuple[float, float] | None = None
    conversion = 0.0
    radius: float | None = None
    width = height = 0.0
    search = kind.startswith("search")
    i = base
    while i < len(argv):
        opt = argv[i].lower()
        left = len(argv) - i - 1
        if opt == b"withdist":
            req.withdist = True
        elif opt == b"withhash":
            req.withhash = True
        elif opt == b"withcoord":
            req.withcoord = True
        elif opt == b"any":
            req.any = True
        elif opt == b"asc":
            req.order = 1
        elif opt == b"desc":
            req.order = -1
        elif opt == b"count" and left >= 1:
            req.count = parse_int(argv[i + 1])
            if req.count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif opt in (b"store", b"storedist") and left >= 1 and kind == "radius":
            req.store_key = argv[i + 1]
            req.store_dist = opt == b"storedist"
            i += 1
        elif opt == b"storedist" and kind == "searchstore":
            req.store_dist = True
        elif opt == b"frommember" and left >= 1 and search and not (fromloc or polygon):
            if z is not None:
                center = _member_position(z, argv[i + 1])
            frommember = True
            i += 1
        elif opt == b"fromlonlat" and left >= 2 and search and not (frommember or polygon):
            center = _long_lat(argv[i + 1], argv[i + 2])
            fromloc = True
            i += 2
        elif opt == b"byradius" and left >= 2 and search and not (bybox or polygon):
            radius = _nonnegative(
                argv[i + 1], "need numeric radius", "ERR radius cannot be negative"
            )
            conversion = _unit(argv[i + 2])
            byradius = True
            i += 2
        elif opt == b"bybox" and left >= 3 and search and not (byradius or polygon):
            width = parse_score(argv[i + 1], "ERR need numeric width")
            height = parse_score(argv[i + 2], "ERR need numeric height")
            if width < 0 or height < 0:
                raise CommandError("ERR height or width cannot be negative")
            conversion = _unit(argv[i + 3])
            radius = None
            bybox = True
            i += 3
        elif (
            opt == b"bypolygon"
            and left >= 1
            and search
            and not (frommember or fromloc or byradius or bybox)
        ):
            polygon = _polygon(argv, i + 1)
            i += 1 + 2 * len(polygon)
        else:
            raise CommandError(SYNTAX)
        i += 1
    if polygon:
        req.shape = geohash.Shape(*geohash.polygon_centre(polygon), 1.0, vertices=polygon)
    if kind == "searchstore":
        req.store_key = argv[1]
    if req.store_key is not None and (req.withdist or req.withhash or req.withcoord):
        what = "GEOSEARCHSTORE" if kind == "searchstore" else "STORE option in GEORADIUS"
        raise CommandError(
            f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )
    name = argv[0].decode("utf-8", "replace")
    if search and not (frommember or fromloc or polygon):
        raise CommandError(
            f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )
    if search and not (byradius or bybox or polygon):
        raise CommandError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if req.any and not req.count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    if search and center is not None:
        req.shape = geohash.Shape(center[0], center[1], conversion, radius, width, height)
    return req


def _polygon(argv: list[bytes], at: int) -> tuple[tuple[float, float], ...]:
    """BYPOLYGON's ``count lon lat ...`` (Valkey 9; 8.1 answers a syntax error, but a 9.x
    primary streams GEOSEARCHSTORE ... BYPOLYGON to its replicas)."""
    count = parse_int(argv[at], "ERR invalid number of vertices")
    if count < 3 or at + 2 * count >= len(argv):
        raise CommandError("ERR GEOSEARCH BYPOLYGON must have at least 3 vertices")
    return tuple(_long_lat(argv[at + 1 + 2 * k], argv[at + 2 + 2 * k]) for k in range(count))


def _search(ctx: CommandContext, argv: list[bytes], kind: str) -> Reply:
    """``georadiusGeneric`` for GEORADIUS[_RO] (``radius``), GEORADIUSBYMEMBER[_RO]
    (``member``), GEOSEARCH (``search``) and GEOSEARCHSTORE (``searchstore``)."""
    src_at = 2 if kind == "searchstore" else 1
    readonly = kind.endswith("_ro")
    kind = kind.removesuffix("_ro")
    z = _zset(ctx, argv[src_at])
    shape: geohash.Shape | None = None
    if kind == "radius":
        lon, lat = _long_lat(argv[2], argv[3])
        radius = _nonnegative(argv[4], "need numeric radius", "ERR radius cannot be negative")
        shape = geohash.Shape(lon, lat, _unit(argv[5]), radius)
        base = 6
    elif kind == "member":
        base = 5
        if z is not None:
            lon, lat = _member_position(z, argv[2])
            radius = _nonnegative(argv[3], "need numeric radius", "ERR radius cannot be negative")
            shape = geohash.Shape(lon, lat, _unit(argv[4]), radius)
    else:
        base = 3 if kind == "searchstore" else 2
    parse_kind = kind if kind.startswith("search") else ("radius_ro" if readonly else "radius")
    req = _parse_search(argv, z, base, parse_kind)
    if req.shape is None:
        req.shape = shape
    if z is None:
        if req.store_key is None:
            return []
        if ctx.db.delete(req.store_key):
            ctx.dirty += 1
            ctx.notify("g", "del", req.store_key)
        return 0
    assert req.shape is not None
    if req.count and not req.order and not req.any:
        req.order = 1
    points = _points_in_shape(z, req.shape, req.count if req.any else 0)
    if not points and req.store_key is None:
        return []
    wanted = len(points) if not req.count else min(req.count, len(points))
    if req.order:
        cmp = _by_distance if req.order > 0 else _by_distance_desc
        if wanted == len(points):
            points.sort(key=lambda p: p.dist, reverse=req.order < 0)
        else:
            partial_sort(points, cmp, 0, wanted - 1)
    chosen = points[:wanted]
    conversion = req.shape.conversion
    for p in chosen:
        p.dist /= conversion
    if req.store_key is not None:
        pairs = [(p.dist if req.store_dist else p.score, p.member) for p in chosen]
        if chosen:
            ctx.lookup(req.store_key)  # setKey's lookupKeyWrite: an expired one is UNLINKed
        event = "geosearchstore" if kind.startswith("search") else "georadiusstore"
        _store_zset(ctx, req.store_key, pairs, event)
        return wanted
    out: list[Reply] = []
    extras = req.withdist or req.withhash or req.withcoord
    for p in chosen:
        if not extras:
            out.append(p.member)
            continue
        item: list[Reply] = [p.member]
        if req.withdist:
            item.append(format_distance(p.dist))
        if req.withhash:
            item.append(int(p.score))
        if req.withcoord:
            item.append([_coordinate(p.longitude), _coordinate(p.latitude)])
        out.append(item)
    return out


@command("georadius", -6, "write denyoom", 1, 1, 1)
def georadius(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _search(ctx, argv, "radius")


@command("georadius_ro", -6, "readonly", 1, 1, 1)
def georadius_ro(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _search(ctx, argv, "radius_ro")


@command("georadiusbymember", -5, "write denyoom", 1, 1, 1)
def georadiusbymember(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _search(ctx, argv, "member")


@command("georadiusbymember_ro", -5, "readonly", 1, 1, 1)
def georadiusbymember_ro(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _search(ctx, argv, "member_ro")


@command("geosearch", -7, "readonly", 1, 1, 1)
def geosearch(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _search(ctx, argv, "search")


@command("geosearchstore", -8, "write denyoom", 1, 2, 1)
def geosearchstore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _search(ctx, argv, "searchstore")
