"""The integer test Valkey applies before storing a string as an integer (``string2ll``)."""

from __future__ import annotations


def is_canonical_int(s: bytes) -> bool:
    """True when ``s`` is the exact decimal text of an int64, as Valkey's ``string2ll`` demands
    (such strings are stored as integers in listpacks and intsets)."""
    n = len(s)
    if n == 0 or n > 20:
        return False
    c = s[0]
    if c == 0x2D:
        if n == 1 or s[1] == 0x30:
            return False
        digits = s[1:]
    else:
        if c == 0x30:
            return n == 1
        digits = s
    if not digits.isdigit() or not digits.isascii():
        return False
    return -(1 << 63) <= int(s) <= (1 << 63) - 1
