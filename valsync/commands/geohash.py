"""Valkey's geohash arithmetic (``geohash.c``, ``geohash_helper.c``), sans-IO.

A position is kept as a sorted-set score: a 52-bit interleaved geohash (26 bits of latitude
in the even bits, 26 of longitude in the odd bits) over the Web Mercator ranges, longitude
[-180, 180] and latitude [-85.05112878, 85.05112878]. Decoding returns the centre of the
cell. Distances are haversine great-circle distances on a sphere of Valkey's radius.

Every float operation is done in the order Valkey does it, with the same libm functions
(``math.sin`` and friends call the C library), so scores, distances and coordinates come
out bit for bit identical.

A radius or box search covers the shape with the cell that holds its centre plus the eight
neighbours, at a step (bits per axis) estimated from the radius; neighbours that cannot
touch the shape's bounding box are dropped. :func:`search_areas` returns those cells in
the order Valkey visits them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LONG_MIN = -180.0
LONG_MAX = 180.0
LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
STEP_MAX = 26
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0

_MASK64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA

Range = tuple[float, float]
WGS84_LONG: Range = (LONG_MIN, LONG_MAX)
WGS84_LAT: Range = (LAT_MIN, LAT_MAX)


@dataclass(frozen=True, slots=True)
class HashBits:
    """A geohash cell: ``bits`` with ``step`` bits per axis; (0, 0) is the "no cell" marker."""

    bits: int
    step: int

    @property
    def is_zero(self) -> bool:
        return self.bits == 0 and self.step == 0


ZERO = HashBits(0, 0)


@dataclass(frozen=True, slots=True)
class Area:
    """The rectangle a cell covers."""

    long_min: float
    long_max: float
    lat_min: float
    lat_max: float


def _spread(v: int) -> int:
    """The low 32 bits of ``v`` moved to the even bit positions of a 64-bit word."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & _EVEN


def _compact(v: int) -> int:
    """The even bits of a 64-bit word gathered into 32 bits (the inverse of :func:`_spread`)."""
    v &= _EVEN
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0xFFFFFFFF


def encode(
    longitude: float,
    latitude: float,
    step: int = STEP_MAX,
    long_range: Range = WGS84_LONG,
    lat_range: Range = WGS84_LAT,
) -> HashBits | None:
    """The cell of ``step`` bits per axis holding the point; None outside the Mercator limits."""
    if not (LONG_MIN <= longitude <= LONG_MAX and LAT_MIN <= latitude <= LAT_MAX):
        return None
    if not (long_range[0] <= longitude <= long_range[1]):
        return None
    if not (lat_range[0] <= latitude <= lat_range[1]):
        return None
    lat_offset = (latitude - lat_range[0]) / (lat_range[1] - lat_range[0])
    long_offset = (longitude - long_range[0]) / (long_range[1] - long_range[0])
    scale = float(1 << step)
    lat_cell = int(lat_offset * scale)
    long_cell = int(long_offset * scale)
    return HashBits(_spread(lat_cell) | (_spread(long_cell) << 1), step)


def align52(cell: HashBits) -> int:
    """The cell's bits shifted to the 52-bit score scale (the score of its south-west corner)."""
    return (cell.bits << (52 - cell.step * 2)) & _MASK64


def decode_area(
    cell: HashBits, long_range: Range = WGS84_LONG, lat_range: Range = WGS84_LAT
) -> Area:
    lat_cell = _compact(cell.bits)
    long_cell = _compact(cell.bits >> 1)
    cells = float(1 << cell.step)
    lat_scale = lat_range[1] - lat_range[0]
    long_scale = long_range[1] - long_range[0]
    return Area(
        long_range[0] + (long_cell * 1.0 / cells) * long_scale,
        long_range[0] + (((long_cell + 1) & 0xFFFFFFFF) * 1.0 / cells) * long_scale,
        lat_range[0] + (lat_cell * 1.0 / cells) * lat_scale,
        lat_range[0] + (((lat_cell + 1) & 0xFFFFFFFF) * 1.0 / cells) * lat_scale,
    )


def score_to_bits(score: float) -> int:
    """``(uint64_t)score`` as x86-64 code computes it, garbage scores included."""
    if score < 2.0**63:
        if score <= -(2.0**63):
            return 1 << 63
        return int(score) & _MASK64
    if score >= 2.0**64:
        return 0
    return int(score)


def decode_score(score: float) -> tuple[float, float]:
    """(longitude, latitude) of a geo score: the centre of its cell, clamped to the limits."""
    area = decode_area(HashBits(score_to_bits(score), STEP_MAX))
    longitude = (area.long_min + area.long_max) / 2
    longitude = min(max(longitude, LONG_MIN), LONG_MAX)
    latitude = (area.lat_min + area.lat_max) / 2
    latitude = min(max(latitude, LAT_MIN), LAT_MAX)
    return longitude, latitude


def score_of(longitude: float, latitude: float) -> int:
    """The 52-bit score GEOADD stores for a point (inside the limits)."""
    cell = encode(longitude, latitude)
    assert cell is not None
    return align52(cell)


GEOALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def standard_geohash(score: float) -> bytes:
    """The 11-character base32 geohash of the standard [-90, 90] latitude range (GEOHASH)."""
    longitude, latitude = decode_score(score)
    cell = encode(longitude, latitude, STEP_MAX, (-180.0, 180.0), (-90.0, 90.0))
    bits = 0 if cell is None else cell.bits
    out = bytearray()
    for i in range(10):
        out.append(GEOALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F])
    out.append(GEOALPHABET[0])
    return bytes(out)


# --- distances -------------------------------------------------------------------------------


def _deg_rad(ang: float) -> float:
    return ang * _D_R


def _rad_deg(ang: float) -> float:
    return ang / _D_R


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_IN_METERS * abs(_deg_rad(lat2) - _deg_rad(lat1))


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in meters (Valkey shortcuts equal longitudes to a latitude delta)."""
    lon1r = _deg_rad(lon1)
    lon2r = _deg_rad(lon2)
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = _deg_rad(lat1)
    lat2r = _deg_rad(lat2)
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * math.asin(math.sqrt(a))


# --- search shapes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """A search area around (``longitude``, ``latitude``): a circle of ``radius`` or a box of
    ``width`` x ``height``, in the unit whose size in meters is ``conversion``."""

    longitude: float
    latitude: float
    conversion: float
    radius: float | None = None
    width: float = 0.0
    height: float = 0.0
    vertices: tuple[tuple[float, float], ...] = ()
    """A polygon's (longitude, latitude) corners (Valkey 9's BYPOLYGON); its centre is
    :func:`polygon_centre`."""

    def bounding_box(self) -> tuple[float, float, float, float]:
        """(min long, min lat, max long, max lat); longitudes widen towards the far pole."""
        if self.vertices:
            min_lon, min_lat, max_lon, max_lat = LONG_MAX, LAT_MAX, LONG_MIN, LAT_MIN
            for lon, lat in self.vertices:
                min_lon, min_lat = min(lon, min_lon), min(lat, min_lat)
                max_lon, max_lat = max(lon, max_lon), max(lat, max_lat)
            return min_lon, min_lat, max_lon, max_lat
        if self.radius is not None:
            height = self.conversion * self.radius
            width = self.conversion * self.radius
        else:
            height = self.conversion * (self.height / 2)
            width = self.conversion * (self.width / 2)
        lat_delta = _rad_deg(height / EARTH_RADIUS_IN_METERS)
        long_delta_top = _rad_deg(
            width / EARTH_RADIUS_IN_METERS / math.cos(_deg_rad(self.latitude + lat_delta))
        )
        long_delta_bottom = _rad_deg(
            width / EARTH_RADIUS_IN_METERS / math.cos(_deg_rad(self.latitude - lat_delta))
        )
        long_delta = long_delta_bottom if self.latitude < 0 else long_delta_top
        return (
            self.longitude - long_delta,
            self.latitude - lat_delta,
            self.longitude + long_delta,
            self.latitude + lat_delta,
        )

    def radius_meters(self) -> float:
        """The radius, or the centre-to-corner distance of the box (of a polygon: to the
        farthest corner of its bounding box), in meters."""
        if self.vertices:
            min_lon, min_lat, max_lon, max_lat = self.bounding_box()
            lon, lat = self.longitude, self.latitude
            return max(
                distance(lon, lat, min_lon, max_lat),
                distance(lon, lat, max_lon, max_lat),
                distance(lon, lat, min_lon, min_lat),
                distance(lon, lat, max_lon, min_lat),
            )
        if self.radius is not None:
            r = self.radius
        else:
            r = math.sqrt(
                (self.width / 2) * (self.width / 2) + (self.height / 2) * (self.height / 2)
            )
        return r * self.conversion

    def contains(self, lon: float, lat: float) -> float | None:
        """The distance in meters from the centre when the point lies inside, else None."""
        if self.vertices:
            return self._polygon_contains(lon, lat)
        if self.radius is not None:
            d = distance(self.longitude, self.latitude, lon, lat)
            return None if d > self.radius * self.conversion else d
        if lat_distance(lat, self.latitude) > self.height * self.conversion / 2:
            return None
        if distance(lon, lat, self.longitude, lat) > self.width * self.conversion / 2:
            return None
        return distance(self.longitude, self.latitude, lon, lat)

    def _polygon_contains(self, lon: float, lat: float) -> float | None:
        """Even-odd ray casting in the longitude/latitude plane, as Valkey 9 tests it."""
        inside = False
        vertices = self.vertices
        prev_lon, prev_lat = vertices[-1]
        for cur_lon, cur_lat in vertices:
            if (cur_lat > lat) != (prev_lat > lat):
                crossing = (lat - cur_lat) * (prev_lon - cur_lon) / (prev_lat - cur_lat) + cur_lon
                if lon < crossing:
                    inside = not inside
            prev_lon, prev_lat = cur_lon, cur_lat
        return distance(self.longitude, self.latitude, lon, lat) if inside else None


def polygon_centre(vertices: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    """The direction of the sum of the corners' unit vectors (the spherical centroid of the
    vertices), Valkey 9's centre of a BYPOLYGON search."""
    x = y = z = 0.0
    for lon, lat in vertices:
        lon_r = lon * _D_R
        lat_r = lat * _D_R
        cos_lat = math.cos(lat_r)
        x += math.cos(lon_r) * cos_lat
        y += math.sin(lon_r) * cos_lat
        z += math.sin(lat_r)
    return _rad_deg(math.atan2(y, x)), _rad_deg(math.atan2(z, math.sqrt(x * x + y * y)))


def estimate_step(range_meters: float, latitude: float) -> int:
    """Bits per axis of the cells that cover a radius (coarser near the poles)."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if latitude > 66 or latitude < -66:
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    return min(max(step, 1), 26)


def _move(cell: HashBits, dx: int, dy: int) -> HashBits:
    """The neighbour ``dx`` cells east and ``dy`` cells north, wrapping around."""
    bits = cell.bits
    shift = 64 - cell.step * 2
    if dx:
        x = bits & _ODD
        y = bits & _EVEN
        zz = _EVEN >> shift
        x = x + (zz + 1) if dx > 0 else (x | zz) - (zz + 1)
        bits = (x & (_ODD >> shift) & _MASK64) | y
    if dy:
        x = bits & _ODD
        y = bits & _EVEN
        zz = _ODD >> shift
        y = y + (zz + 1) if dy > 0 else (y | zz) - (zz + 1)
        bits = x | (y & (_EVEN >> shift) & _MASK64)
    return HashBits(bits, cell.step)


# Valkey's visiting order: centre, N, S, E, W, NE, NW, SE, SW.
_NEIGHBOUR_MOVES = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def search_areas(shape: Shape) -> list[HashBits]:
    """The centre cell and its eight neighbours (ZERO where useless), in visiting order."""
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    steps = estimate_step(shape.radius_meters(), shape.latitude)

    def around(step: int) -> tuple[HashBits, list[HashBits], Area]:
        centre = encode(shape.longitude, shape.latitude, step)
        assert centre is not None
        return centre, [_move(centre, dx, dy) for dx, dy in _NEIGHBOUR_MOVES], decode_area(centre)

    centre, neighbours, area = around(steps)
    north, south, east, west = (decode_area(n) for n in neighbours[:4])
    too_coarse = (
        north.lat_max < max_lat
        or south.lat_min > min_lat
        or east.long_max < max_lon
        or west.long_min > min_lon
    )
    if steps > 1 and too_coarse:
        steps -= 1
        centre, neighbours, area = around(steps)
    if steps >= 2:
        drop: set[int] = set()
        if area.lat_min < min_lat:
            drop |= {1, 6, 7}  # S, SE, SW
        if area.lat_max > max_lat:
            drop |= {0, 4, 5}  # N, NE, NW
        if area.long_min < min_lon:
            drop |= {3, 5, 7}  # W, NW, SW
        if area.long_max > max_lon:
            drop |= {2, 4, 6}  # E, NE, SE
        neighbours = [ZERO if i in drop else n for i, n in enumerate(neighbours)]
    return [centre, *neighbours]
