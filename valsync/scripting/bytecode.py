"""Lua 5.1 bytecode: turn a compiled chunk's tail calls into plain calls.

``return server.call(...)`` compiles to a tail call, which in Lua 5.1 replaces the script's
frame when the callee is a Lua function. valsync's ``server.call`` must be a Lua function (it
packs its arguments: lupa cannot take 8000 of them from Lua's C stack), and Valkey's error
replies name the script's line, so the chunk is loaded with every ``OP_TAILCALL A B 0`` made
``OP_CALL A B 0`` (all results); the ``OP_RETURN A 0`` the compiler always emits after a tail
call then returns them. Only the stack depth of deep tail recursion differs.

The dump format (``ldump.c``): a 12-byte header, then the main function: source string, two
ints, four bytes, code, constants, nested functions (recursively), debug information.
"""

from __future__ import annotations

import struct

OP_CALL = 28
OP_TAILCALL = 29
HEADER = b"\x1bLua\x51\x00"


class BytecodeError(Exception):
    """A dump this module does not understand (left as it was by the caller)."""


class _Reader:
    def __init__(self, data: bytearray, int_size: int, size_t: int, number_size: int) -> None:
        self.data = data
        self.pos = 12
        self.int_fmt = {4: "<i", 8: "<q"}[int_size]
        self.int_size = int_size
        self.size_t_fmt = {4: "<I", 8: "<Q"}[size_t]
        self.size_t = size_t
        self.number_size = number_size

    def read_int(self) -> int:
        (value,) = struct.unpack_from(self.int_fmt, self.data, self.pos)
        self.pos += self.int_size
        return int(value)

    def string(self) -> None:
        (length,) = struct.unpack_from(self.size_t_fmt, self.data, self.pos)
        self.pos += self.size_t + int(length)

    def function(self) -> int:
        """Skip one function, patching its code; the number of tail calls changed."""
        self.string()
        self.pos += 2 * self.int_size + 4
        changed = 0
        for _ in range(self.read_int()):
            (ins,) = struct.unpack_from("<I", self.data, self.pos)
            if ins & 0x3F == OP_TAILCALL:
                struct.pack_into("<I", self.data, self.pos, (ins & ~0x3F) | OP_CALL)
                changed += 1
            self.pos += 4
        for _ in range(self.read_int()):
            kind = self.data[self.pos]
            self.pos += 1
            if kind == 1:
                self.pos += 1
            elif kind == 3:
                self.pos += self.number_size
            elif kind == 4:
                self.string()
            elif kind != 0:
                raise BytecodeError(f"constant of type {kind}")
        for _ in range(self.read_int()):
            changed += self.function()
        lines = self.read_int()
        self.pos += lines * self.int_size
        for _ in range(self.read_int()):
            self.string()
            self.pos += 2 * self.int_size
        for _ in range(self.read_int()):
            self.string()
        return changed


def untail(dump: bytes) -> bytes:
    """The chunk ``string.dump`` gave, with its tail calls made plain calls."""
    if dump[:6] != HEADER or len(dump) < 12:
        raise BytecodeError("not a Lua 5.1 chunk")
    little, int_size, size_t, ins_size, number_size = dump[6], dump[7], dump[8], dump[9], dump[10]
    if little != 1 or ins_size != 4 or int_size not in (4, 8) or size_t not in (4, 8):
        raise BytecodeError("unexpected chunk layout")
    data = bytearray(dump)
    reader = _Reader(data, int_size, size_t, number_size)
    reader.function()
    if reader.pos != len(data):
        raise BytecodeError("trailing bytes")
    return bytes(data)
