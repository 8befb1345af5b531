"""Listpack blobs (Valkey's ``listpack.c``): the packed form of small lists, sets, hashes, zsets.

Layout: ``total_bytes`` (u32 LE), ``num_elements`` (u16 LE, 65535 = unknown), entries, 0xFF.
Each entry is encoding+data followed by its length as a 1-5 byte back-length. Like Valkey,
elements whose text is a canonical int64 are stored as integers in the smallest form.
"""

from __future__ import annotations

from collections.abc import Iterable

from valsync.rdb.format import EncodingError, is_canonical_int

_HEADER = 6
_EOF = 0xFF


def _backlen(n: int) -> bytes:
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes(
        (
            n >> 28,
            ((n >> 21) & 127) | 128,
            ((n >> 14) & 127) | 128,
            ((n >> 7) & 127) | 128,
            (n & 127) | 128,
        )
    )


def _backlen_size(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def encode_entry(s: bytes) -> bytes:
    """One entry (encoding, data and back-length) for the element ``s``."""
    if len(s) <= 20 and is_canonical_int(s):
        v = int(s)
        if 0 <= v <= 127:
            return bytes((v, 1))
        if -4096 <= v <= 4095:
            u = v & 0x1FFF
            return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
        if -32768 <= v <= 32767:
            return b"\xf1" + v.to_bytes(2, "little", signed=True) + b"\x03"
        if -8388608 <= v <= 8388607:
            return b"\xf2" + v.to_bytes(3, "little", signed=True) + b"\x04"
        if -2147483648 <= v <= 2147483647:
            return b"\xf3" + v.to_bytes(4, "little", signed=True) + b"\x05"
        return b"\xf4" + v.to_bytes(8, "little", signed=True) + b"\x09"
    n = len(s)
    if n < 64:
        return bytes((0x80 | n,)) + s + _backlen(n + 1)
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + s + _backlen(n + 2)
    return b"\xf0" + n.to_bytes(4, "little") + s + _backlen(n + 5)


def encode(elements: Iterable[bytes]) -> bytes:
    """A whole listpack holding ``elements`` in order."""
    return build([encode_entry(e) for e in elements])


def build(entries: list[bytes]) -> bytes:
    """A listpack from already encoded entries (see :func:`encode_entry`)."""
    body = b"".join(entries)
    total = _HEADER + len(body) + 1
    count = min(len(entries), 65535)
    return total.to_bytes(4, "little") + count.to_bytes(2, "little") + body + b"\xff"


def decode(blob: bytes) -> list[bytes]:
    """Every element as bytes (integers as their decimal text); EncodingError when malformed."""
    try:
        return _decode(blob)
    except IndexError:
        raise EncodingError("listpack truncated") from None


def _decode(blob: bytes) -> list[bytes]:
    size = len(blob)
    if size < _HEADER + 1:
        raise EncodingError("listpack too short")
    total = int.from_bytes(blob[0:4], "little")
    if total != size:
        raise EncodingError(f"listpack size {total} does not match its blob of {size} bytes")
    declared = int.from_bytes(blob[4:6], "little")
    out: list[bytes] = []
    append = out.append
    p = _HEADER
    end = size - 1
    while p < end:
        b = blob[p]
        if b < 0x80:
            append(b"%d" % b)
            n = 1
        elif b < 0xC0:
            ln = b & 0x3F
            n = 1 + ln
            append(blob[p + 1 : p + n])
        elif b < 0xE0:
            v = ((b & 0x1F) << 8) | blob[p + 1]
            if v >= 4096:
                v -= 8192
            append(b"%d" % v)
            n = 2
        elif b < 0xF0:
            ln = ((b & 0x0F) << 8) | blob[p + 1]
            n = 2 + ln
            append(blob[p + 2 : p + n])
        elif b == 0xF0:
            ln = int.from_bytes(blob[p + 1 : p + 5], "little")
            n = 5 + ln
            append(blob[p + 5 : p + n])
        elif 0xF1 <= b <= 0xF4:
            w = (2, 3, 4, 8)[b - 0xF1]
            append(b"%d" % int.from_bytes(blob[p + 1 : p + 1 + w], "little", signed=True))
            n = 1 + w
        else:
            raise EncodingError(f"bad listpack entry encoding 0x{b:02x}")
        p += n + _backlen_size(n)
        if p > end:
            raise EncodingError("listpack entry runs past its end")
    if p != end or blob[end] != _EOF:
        raise EncodingError("listpack lacks its terminator")
    if declared != 65535 and declared != len(out):
        raise EncodingError(f"listpack declares {declared} elements but holds {len(out)}")
    return out
