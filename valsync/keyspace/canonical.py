"""Valkey's number texts: the integer test before storing a string as an integer
(``string2ll``), and C ``strtod`` over a whole string."""

from __future__ import annotations

import math
import re


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


# strtod's accepted forms: decimal with optional exponent, inf/infinity, nan, hex floats.
_DEC = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?")
_SPECIAL = re.compile(rb"[+-]?(inf|infinity|nan)", re.IGNORECASE)


def strtod_whole(text: bytes) -> tuple[float, bool] | None:
    """A whole-string C ``strtod``: (value, range_error), or None when not all consumed."""
    if text.isdigit():
        value = float(text)  # the usual score: digits only, overflowing to inf at worst
        return value, math.isinf(value)
    if _SPECIAL.fullmatch(text):
        return float(text), False
    if _HEX.fullmatch(text):
        body = text.lower().replace(b"0x", b"", 1)
        sign = b"-" if body.startswith(b"-") else b""
        body = body.lstrip(b"+-")
        if b"p" not in body:
            body += b"p0"
        try:
            value = float.fromhex((sign + b"0x" + body).decode())
        except OverflowError:  # strtod: HUGE_VAL and ERANGE
            return (-math.inf if sign else math.inf), True
        return value, math.isinf(value)
    if _DEC.fullmatch(text):
        value = float(text)
        if math.isinf(value):
            return value, True
        if value == 0 and any(c in b"123456789" for c in text.split(b"e")[0].split(b"E")[0]):
            return value, True
        return value, False
    return None
