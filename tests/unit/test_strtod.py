"""``strtod_whole`` (C strtod over a whole string), shared by ZADD scores and CONFIG SET
percentiles; the replies quoted were read from a real valkey-server 8.1.8."""

from __future__ import annotations

import math

import pytest

from tests.unit.cmdutil import Harness
from valsync.keyspace.canonical import strtod_whole


def test_hex_float_beyond_double_range_is_a_range_error() -> None:
    """float.fromhex raised OverflowError here (an internal error in ZADD)."""
    assert strtod_whole(b"0x1p2000") == (math.inf, True)
    assert strtod_whole(b"-0x1p99999") == (-math.inf, True)
    assert strtod_whole(b"0x10") == (16.0, False)


@pytest.mark.parametrize("score", [b"0x1p2000", b"-0x1p99999"])
def test_zadd_with_an_overflowing_hex_score(score: bytes) -> None:
    h = Harness()
    assert h.wire("ZADD", "z", score, "m") == b"-ERR value is not a valid float\r\n"
    assert h.wire("ZADD", "z", "1", "m") == b":1\r\n"
    assert h.wire("ZINCRBY", "z", score, "m") == b"-ERR value is not a valid float\r\n"
    assert h.wire("ZRANGEBYSCORE", "z", b"-0x1p2000", b"0x1p2000") == b"*1\r\n$1\r\nm\r\n"
