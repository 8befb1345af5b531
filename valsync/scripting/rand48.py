"""Valkey's ``serverLrand48``: the 48-bit LCG behind ``math.random`` in scripts.

Valkey replaces Lua's ``math.random`` with its own rand48 so that scripts draw the same
sequence on every server started the same way; the state lives for the process lifetime.
"""

from __future__ import annotations

_A = 0x5DEECE66D
_C = 0xB
_MASK = (1 << 48) - 1
_INITIAL = 0x1234ABCD330E
LRAND48_MAX = 2**31 - 1


class Rand48:
    def __init__(self) -> None:
        self.state = _INITIAL

    def seed(self, value: int) -> None:
        """``serverSrand48``: the low 32 bits of the seed above the fixed 0x330E."""
        value &= 0xFFFFFFFF
        self.state = (value << 16) | 0x330E

    def next(self) -> int:
        self.state = (_A * self.state + _C) & _MASK
        return self.state >> 17
