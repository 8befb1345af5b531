"""Legacy blobs, read only: ziplists (RDB types 10, 12, 13, 14) and zipmaps (type 9).

Valkey no longer writes them but converts them on load, so old dumps still load here.
"""

from __future__ import annotations

from valsync.rdb.format import EncodingError

_ZL_HEADER = 10


def decode(blob: bytes) -> list[bytes]:
    """Every ziplist element as bytes (integers as decimal text)."""
    try:
        return _decode(blob)
    except IndexError:
        raise EncodingError("ziplist truncated") from None


def _decode(blob: bytes) -> list[bytes]:
    if len(blob) < _ZL_HEADER + 1:
        raise EncodingError("ziplist too short")
    if int.from_bytes(blob[0:4], "little") != len(blob):
        raise EncodingError("ziplist size does not match its blob")
    out: list[bytes] = []
    p = _ZL_HEADER
    end = len(blob)
    while True:
        b = blob[p]
        if b == 0xFF:
            break
        p += 5 if b == 0xFE else 1
        b = blob[p]
        kind = b >> 6
        if kind == 0:
            n = b & 0x3F
            p += 1
            out.append(blob[p : p + n])
            p += n
        elif kind == 1:
            n = ((b & 0x3F) << 8) | blob[p + 1]
            p += 2
            out.append(blob[p : p + n])
            p += n
        elif kind == 2:
            n = int.from_bytes(blob[p + 1 : p + 5], "big")
            p += 5
            out.append(blob[p : p + n])
            p += n
        else:
            p += 1
            if b == 0xC0:
                w = 2
            elif b == 0xD0:
                w = 4
            elif b == 0xE0:
                w = 8
            elif b == 0xF0:
                w = 3
            elif b == 0xFE:
                w = 1
            elif 0xF1 <= b <= 0xFD:
                out.append(b"%d" % ((b & 0x0F) - 1))
                continue
            else:
                raise EncodingError(f"bad ziplist entry encoding 0x{b:02x}")
            out.append(b"%d" % int.from_bytes(blob[p : p + w], "little", signed=True))
            p += w
        if p >= end:
            raise EncodingError("ziplist entry runs past its end")
    if p != end - 1:
        raise EncodingError("ziplist terminator is not at its end")
    return out


def decode_zipmap(blob: bytes) -> list[bytes]:
    """Field, value, field, value... of a zipmap (RDB type 9, Redis < 2.6)."""
    try:
        return _decode_zipmap(blob)
    except IndexError:
        raise EncodingError("zipmap truncated") from None


def _zipmap_len(blob: bytes, p: int) -> tuple[int, int]:
    b = blob[p]
    if b < 254:
        return b, p + 1
    if b == 254:
        if p + 5 > len(blob):
            raise IndexError
        return int.from_bytes(blob[p + 1 : p + 5], "little"), p + 5
    raise EncodingError("zipmap length 255 inside an entry")


def _decode_zipmap(blob: bytes) -> list[bytes]:
    out: list[bytes] = []
    p = 1
    while blob[p] != 0xFF:
        n, p = _zipmap_len(blob, p)
        if p + n > len(blob):
            raise IndexError
        out.append(blob[p : p + n])
        p += n
        n, p = _zipmap_len(blob, p)
        free = blob[p]
        p += 1
        if p + n + free > len(blob):
            raise IndexError
        out.append(blob[p : p + n])
        p += n + free
    return out
