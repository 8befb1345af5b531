"""Bitmap commands: bit arithmetic against a per-bit reference, propagation, encodings and the
offset limit (behaviour observed on valkey-server 8.1.8; the byte-for-byte comparison with the
real server is tests/integration/test_differential_bitmaps.py)."""

from __future__ import annotations

import random

import pytest

from tests.unit.cmdutil import Harness
from valsync.commands.bitmaps import (
    FAIL,
    SAT,
    WRAP,
    first_bit,
    read_field,
    signed_overflow,
    unsigned_overflow,
    write_field,
)
from valsync.commands.strings import RawStr
from valsync.resp.reply import OK, ErrorReply


@pytest.fixture
def h() -> Harness:
    return Harness()


def _bits(data: bytes) -> list[int]:
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


def test_first_bit_and_fields_agree_with_a_per_bit_reference() -> None:
    rng = random.Random(7)
    for _ in range(300):
        data = bytes(rng.choice([0, 255, rng.randrange(256)]) for _ in range(rng.randrange(6)))
        bits = _bits(data)
        for bit in (0, 1):
            expected = bits.index(bit) if bit in bits else (-1 if bit else len(bits))
            assert first_bit(data, bit) == expected
        width = rng.randrange(1, 65)
        offset = rng.randrange(0, 40)
        window = (bits + [0] * (offset + width))[offset : offset + width]
        unsigned = int("".join(map(str, window)), 2)
        assert read_field(data, offset, width, False) == unsigned
        signed = unsigned - (1 << width) if window[0] else unsigned
        assert read_field(data, offset, width, True) == signed
        buf = bytearray(data) + bytearray(8 + (offset + width) // 8)
        write_field(buf, offset, width, signed)
        assert read_field(buf, offset, width, True) == signed


def test_overflow_modes() -> None:
    assert unsigned_overflow(250, 10, 8, WRAP) == (1, 4)
    assert unsigned_overflow(250, 10, 8, SAT) == (1, 255)
    assert unsigned_overflow(5, -10, 8, SAT) == (-1, 0)
    assert unsigned_overflow(5, -10, 8, WRAP) == (-1, 251)
    assert unsigned_overflow(5, 10, 8, FAIL) == (0, 0)
    assert signed_overflow(120, 10, 8, WRAP) == (1, -126)
    assert signed_overflow(-120, -10, 8, SAT) == (-1, -128)
    assert signed_overflow(2**63 - 1, 1, 64, WRAP) == (1, -(2**63))
    # C's int64 wrap-around inside Valkey's range check: the most negative SET value counts as
    # an overflow upwards, so SAT stores the maximum (observed on 8.1.8)
    assert signed_overflow(-(2**63), 0, 8, SAT) == (1, 127)


def test_setbit_propagation_and_encoding(h: Harness) -> None:
    assert h.run("SET", "k", "a") == OK
    assert h.run("SETBIT", "k", 7, 1) == 1  # no change, yet the value turns raw
    assert type(h.keyspace[0].data[b"k"]) is RawStr
    assert h.run("SETBIT", "k", 0, 1) == 0
    assert h.run("GET", "k") == b"\xe1"
    assert [argv[0] for _, argv in h.propagated] == [b"SET", b"SETBIT"]
    assert h.run("SETBIT", "k", 4294967296, 1) == ErrorReply(
        "ERR bit offset is not an integer or out of range"
    )
    assert h.run("SETBIT", "k", 0, 2) == ErrorReply("ERR bit is not an integer or out of range")


def test_bitfield_get_only_is_not_propagated(h: Harness) -> None:
    assert h.run("BITFIELD", "f", "SET", "u8", 0, 200) == [0]
    assert h.run("BITFIELD", "f", "GET", "u8", 0, "GET", "i8", 0) == [200, -56]
    assert h.run("BITFIELD", "f", "SET", "u8", 0, 200) == [200]
    assert [argv[3] for _, argv in h.propagated] == [b"u8"]


def test_primary_stream_is_exempt_from_the_offset_limit(h: Harness) -> None:
    h.client.is_primary_link = True
    assert h.run("GETBIT", "k", 4294967296 * 2) == 0
