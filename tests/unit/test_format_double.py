"""``format_double`` against texts valkey-server 8.1.8 printed (ZSCORE / RESP3 doubles)."""

from __future__ import annotations

import math

import pytest

from valsync.fpconv import fpconv_dtoa
from valsync.resp import format_double


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, b"1.5"),
        (3.0, b"3"),
        (1e20, b"1e+20"),
        (1e21, b"1e+21"),
        (0.1 + 0.2, b"0.30000000000000004"),
        (-0.0, b"-0"),
        (0.0, b"0"),
        (math.inf, b"inf"),
        (-math.inf, b"-inf"),
        (math.nan, b"nan"),
        (1e-7, b"1e-7"),
        (1e-5, b"0.00001"),
        (1e-4, b"0.0001"),
        (12345.678, b"12345.678"),
        (1e15, b"1000000000000000"),
        (1e17, b"100000000000000000"),
        (123456789012345678.0, b"123456789012345680"),
        (5e-324, b"5e-324"),
        (1.7976931348623157e308, b"1.7976931348623157e+308"),
        (1e-320, b"1e-320"),
        (-2.5, b"-2.5"),
        (2.0**62, b"4611686018427387904"),
        (2.0**63, b"9223372036854776000"),
        (1e100, b"1e+100"),
        (1.25e-100, b"1.25e-100"),
    ],
)
def test_format_double_matches_valkey(value: float, text: bytes) -> None:
    assert format_double(value) == text


def test_fpconv_round_trips() -> None:
    for value in (0.1, 2 / 3, 1e-310, 123.456e200, -7.5e-9, 9007199254740993.0):
        assert float(fpconv_dtoa(value)) == value
