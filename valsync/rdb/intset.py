"""Intset blobs (Valkey's ``intset.c``): sorted unique integers of one width (2, 4 or 8 bytes)."""

from __future__ import annotations

from collections.abc import Iterable

from valsync.rdb.format import EncodingError


def encode(values: Iterable[int]) -> bytes:
    """An intset of ``values`` (sorted and deduplicated here) in the smallest width."""
    ints = sorted(set(values))
    lo, hi = (ints[0], ints[-1]) if ints else (0, 0)
    if -32768 <= lo and hi <= 32767:
        width = 2
    elif -2147483648 <= lo and hi <= 2147483647:
        width = 4
    else:
        width = 8
    body = b"".join(v.to_bytes(width, "little", signed=True) for v in ints)
    return width.to_bytes(4, "little") + len(ints).to_bytes(4, "little") + body


def decode(blob: bytes) -> list[int]:
    """The integers of an intset; EncodingError when the header and size disagree."""
    if len(blob) < 8:
        raise EncodingError("intset too short")
    width = int.from_bytes(blob[0:4], "little")
    count = int.from_bytes(blob[4:8], "little")
    if width not in (2, 4, 8):
        raise EncodingError(f"bad intset encoding {width}")
    if len(blob) != 8 + width * count:
        raise EncodingError(f"intset of {count} x {width} bytes has {len(blob) - 8} bytes of data")
    return [
        int.from_bytes(blob[i : i + width], "little", signed=True)
        for i in range(8, 8 + width * count, width)
    ]
