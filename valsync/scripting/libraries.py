"""The C libraries Valkey links into its Lua (bit, cjson, cmsgpack, struct), in Python.

lupa's Lua 5.1 has none of them, so each is written here to the behaviour of the C module
Valkey ships (LuaBitOp 1.0.2, lua-cjson 2.1.0, lua-cmsgpack 0.4.0, Roberto's struct). Every
function returns ``(True, values...)`` or ``(False, message)``; the sandbox wraps them in Lua
functions that raise the message at the caller's line, as ``luaL_error`` does.
"""

from __future__ import annotations

import math
import struct as pystruct
from collections.abc import Callable
from typing import Any

from lupa import lua51

_SPARSE_RATIO = 2
_SPARSE_SAFE = 10
_MAX_DEPTH = 1000
_MSGPACK_MAX_NESTING = 16


class LibError(Exception):
    """A library error: the message ``luaL_error`` would raise."""


def _lua_type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, bytes):
        return "string"
    kind = lua51.lua_type(value)
    return kind if kind else "userdata"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, bytes):
        try:
            text = value.strip()
            if text.lower().startswith((b"0x", b"-0x")):
                return float(int(text, 16))
            return float(text)
        except ValueError:
            return None
    return None


def _check_number(args: tuple[Any, ...], i: int, fname: str) -> float:
    value = args[i] if i < len(args) else None
    n = _number(value)
    if n is None:
        got = "no value" if i >= len(args) else _lua_type(value)
        raise LibError(f"bad argument #{i + 1} to '{fname}' (number expected, got {got})")
    return n


def _check_string(args: tuple[Any, ...], i: int, fname: str) -> bytes:
    value = args[i] if i < len(args) else None
    if isinstance(value, bytes):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (b"%.14g" % value) if isinstance(value, float) else b"%d" % value
    got = "no value" if i >= len(args) else _lua_type(value)
    raise LibError(f"bad argument #{i + 1} to '{fname}' (string expected, got {got})")


def _g14(value: float | int) -> bytes:
    return b"%.14g" % value


# --- bit (LuaBitOp) --------------------------------------------------------------------------


def _tobits(n: float) -> int:
    """LuaBitOp's ``barg``: round to nearest (ties to even), keep the low 32 bits."""
    if not math.isfinite(n):
        return 0
    return int(round(n)) & 0xFFFFFFFF


def _signed(u: int) -> int:
    u &= 0xFFFFFFFF
    return u - (1 << 32) if u & 0x80000000 else u


def _bit_functions() -> dict[str, Callable[..., int | bytes]]:
    def unary(name: str, op: Callable[[int], int]) -> Callable[..., int]:
        def fn(*args: Any) -> int:
            return _signed(op(_tobits(_check_number(args, 0, name))))

        return fn

    def fold(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
        def fn(*args: Any) -> int:
            acc = _tobits(_check_number(args, 0, name))
            for i in range(1, len(args)):
                acc = op(acc, _tobits(_check_number(args, i, name)))
            return _signed(acc)

        return fn

    def shift(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
        def fn(*args: Any) -> int:
            x = _tobits(_check_number(args, 0, name))
            n = _tobits(_check_number(args, 1, name)) & 31
            return _signed(op(x, n))

        return fn

    def rol(x: int, n: int) -> int:
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF if n else x

    def ror(x: int, n: int) -> int:
        return ((x >> n) | (x << (32 - n))) & 0xFFFFFFFF if n else x

    def tohex(*args: Any) -> bytes:
        x = _tobits(_check_number(args, 0, "tohex"))
        n = 8 if len(args) < 2 or args[1] is None else _tobits(_check_number(args, 1, "tohex"))
        n = _signed(n)
        digits = "0123456789abcdef"
        if n < 0:
            n = -n
            digits = digits.upper()
        n = min(n, 8)
        out = []
        for _ in range(n):
            out.append(digits[x & 15])
            x >>= 4
        return "".join(reversed(out)).encode()

    return {
        "tobit": unary("tobit", lambda x: x),
        "bnot": unary("bnot", lambda x: ~x),
        "bswap": unary("bswap", lambda x: int.from_bytes(x.to_bytes(4, "little"), "big")),
        "band": fold("band", lambda a, b: a & b),
        "bor": fold("bor", lambda a, b: a | b),
        "bxor": fold("bxor", lambda a, b: a ^ b),
        "lshift": shift("lshift", lambda x, n: x << n),
        "rshift": shift("rshift", lambda x, n: x >> n),
        "arshift": shift("arshift", lambda x, n: _signed(x) >> n),
        "rol": shift("rol", rol),
        "ror": shift("ror", ror),
        "tohex": tohex,
    }


# --- cjson -----------------------------------------------------------------------------------

_ESCAPES = {i: b"\\u%04x" % i for i in range(32)}
_ESCAPES.update({8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r", 34: b'\\"', 47: b"\\/"})
_ESCAPES[92] = b"\\\\"
_ESCAPES[127] = b"\\u007f"


def _json_string(s: bytes) -> bytes:
    out = bytearray(b'"')
    for c in s:
        esc = _ESCAPES.get(c)
        if esc is None:
            out.append(c)
        else:
            out += esc
    out += b'"'
    return bytes(out)


class Json:
    """lua-cjson's encode/decode, with Valkey's defaults."""

    def __init__(self, runtime: Any, null: Any, items: Callable[[Any], list[tuple[Any, Any]]]):
        self.runtime = runtime
        self.null = null
        self.items = items
        self.rawget = runtime.eval("rawget")
        self.rawequal = runtime.eval("rawequal")
        self.encode_depth = _MAX_DEPTH
        self.decode_depth = _MAX_DEPTH
        self.encode_invalid: bool | bytes = False
        self.decode_invalid = False
        self.keep_buffer = True

    # lua-cjson's configuration functions: set when given an argument, return the setting

    def set_encode_max_depth(self, *args: Any) -> int:
        self.encode_depth = _depth_arg(args, self.encode_depth, "encode_max_depth")
        return self.encode_depth

    def set_decode_max_depth(self, *args: Any) -> int:
        self.decode_depth = _depth_arg(args, self.decode_depth, "decode_max_depth")
        return self.decode_depth

    def set_encode_invalid_numbers(self, *args: Any) -> bool | bytes:
        if args and args[0] is not None:
            value = args[0]
            if value not in (True, False, b"null", b"on", b"off"):
                raise LibError(
                    "bad argument #1 to 'encode_invalid_numbers' (invalid option '"
                    f"{value if not isinstance(value, bytes) else value.decode('latin-1')}')"
                )
            self.encode_invalid = {b"on": True, b"off": False}.get(value, value)
        return self.encode_invalid

    def set_decode_invalid_numbers(self, *args: Any) -> bool:
        if args and args[0] is not None:
            self.decode_invalid = args[0] in (True, b"on")
        return self.decode_invalid

    def set_encode_keep_buffer(self, *args: Any) -> bool:
        if args and args[0] is not None:
            self.keep_buffer = args[0] in (True, b"on")
        return self.keep_buffer

    def encode(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise LibError("bad argument #1 to 'encode' (expected 1 argument)")
        out = bytearray()
        self._encode(args[0], out, 0)
        return bytes(out)

    def _encode(self, value: Any, out: bytearray, depth: int) -> None:
        if value is None:
            out += b"null"
        elif value is True:
            out += b"true"
        elif value is False:
            out += b"false"
        elif isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                if self.encode_invalid is False:
                    raise LibError("Cannot serialise number: must not be NaN or Inf")
                if self.encode_invalid == b"null":
                    out += b"null"
                elif math.isnan(value):
                    out += b"nan"
                else:
                    out += b"inf" if value > 0 else b"-inf"
            else:
                out += _g14(value)
        elif isinstance(value, bytes):
            out += _json_string(value)
        elif _lua_type(value) == "table":
            depth += 1
            if depth > self.encode_depth:
                raise LibError(f"Cannot serialise, excessive nesting ({depth})")
            pairs = self.items(value)
            length = _array_length(pairs)
            if length > 0:
                out += b"["
                for i in range(1, length + 1):
                    if i > 1:
                        out += b","
                    self._encode(self.rawget(value, i), out, depth)
                out += b"]"
            else:
                out += b"{"
                first = True
                for k, v in pairs:
                    if not first:
                        out += b","
                    first = False
                    if isinstance(k, bytes):
                        out += _json_string(k)
                    elif isinstance(k, (int, float)) and not isinstance(k, bool):
                        out += b'"' + _g14(k) + b'"'
                    else:
                        raise LibError(
                            f"Cannot serialise {_lua_type(k)}: table key must be a number or string"
                        )
                    out += b":"
                    self._encode(v, out, depth)
                out += b"}"
        elif self.rawequal(value, self.null):
            out += b"null"
        else:
            raise LibError(f"Cannot serialise {_lua_type(value)}: type not supported")

    def decode(self, *args: Any) -> Any:
        if len(args) != 1:
            raise LibError("bad argument #1 to 'decode' (expected 1 argument)")
        text = _check_string(args, 0, "decode")
        parser = _JsonParser(text, self)
        value = parser.value(0)
        parser.skip()
        if parser.pos < len(text):
            raise parser.expected("the end")
        return value


def _depth_arg(args: tuple[Any, ...], current: int, name: str) -> int:
    if not args or args[0] is None:
        return current
    value = args[0]
    if isinstance(value, bytes):
        try:
            value = float(value)
        except ValueError:
            value = 0
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 1 <= value <= 2**31 - 1
    ):
        raise LibError(f"bad argument #1 to '{name}' (expected integer between 1 and 2147483647)")
    return int(value)


def _array_length(pairs: list[tuple[Any, Any]]) -> int:
    """lua-cjson's ``lua_array_length``: -1 (not an array), else the max index (0 = empty)."""
    max_index = 0
    count = 0
    for k, _ in pairs:
        if isinstance(k, (int, float)) and not isinstance(k, bool) and k >= 1 and k == int(k):
            max_index = max(max_index, int(k))
            count += 1
        else:
            return -1
    if max_index > _SPARSE_SAFE and max_index > count * _SPARSE_RATIO:
        raise LibError("Cannot serialise table: excessively sparse array")
    return max_index


class _JsonParser:
    def __init__(self, text: bytes, json: Json) -> None:
        self.text = text
        self.pos = 0
        self.json = json

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text) and text[self.pos] in b" \t\r\n":
            self.pos += 1

    def expected(self, what: str, found: str | None = None) -> LibError:
        if found is None:
            found = self._token_name()
        return LibError(f"Expected {what} but found {found} at character {self.pos + 1}")

    def _token_name(self) -> str:
        if self.pos >= len(self.text):
            return "T_END"
        c = self.text[self.pos : self.pos + 1]
        names = {
            b"{": "T_OBJ_BEGIN",
            b"}": "T_OBJ_END",
            b"[": "T_ARR_BEGIN",
            b"]": "T_ARR_END",
            b",": "T_COMMA",
            b":": "T_COLON",
            b'"': "T_STRING",
        }
        if c in names:
            return names[c]
        if c in b"-0123456789":
            return "T_NUMBER"
        return "invalid token"

    def value(self, depth: int) -> Any:
        self.skip()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.expected("value")
        c = text[pos]
        if c == 0x7B:
            return self._object(depth + 1)
        if c == 0x5B:
            return self._array(depth + 1)
        if c == 0x22:
            return self._string()
        for word, value in ((b"true", True), (b"false", False), (b"null", self.json.null)):
            if text.startswith(word, pos):
                self.pos += len(word)
                return value
        return self._number()

    def _nest(self, depth: int) -> None:
        if depth > self.json.decode_depth:
            raise LibError(
                f"Found too many nested data structures ({depth}) at character {self.pos + 1}"
            )

    def _object(self, depth: int) -> Any:
        self._nest(depth)
        self.pos += 1
        table = self.json.runtime.table()
        self.skip()
        if self.text[self.pos : self.pos + 1] == b"}":
            self.pos += 1
            return table
        while True:
            self.skip()
            if self.text[self.pos : self.pos + 1] != b'"':
                raise self.expected("object key string")
            key = self._string()
            self.skip()
            if self.text[self.pos : self.pos + 1] != b":":
                raise self.expected("colon")
            self.pos += 1
            table[key] = self.value(depth)
            self.skip()
            c = self.text[self.pos : self.pos + 1]
            if c == b"}":
                self.pos += 1
                return table
            if c != b",":
                raise self.expected("comma or object end")
            self.pos += 1

    def _array(self, depth: int) -> Any:
        self._nest(depth)
        self.pos += 1
        table = self.json.runtime.table()
        self.skip()
        if self.text[self.pos : self.pos + 1] == b"]":
            self.pos += 1
            return table
        index = 1
        while True:
            table[index] = self.value(depth)
            index += 1
            self.skip()
            c = self.text[self.pos : self.pos + 1]
            if c == b"]":
                self.pos += 1
                return table
            if c != b",":
                raise self.expected("comma or array end")
            self.pos += 1

    def _string(self) -> bytes:
        text = self.text
        start = self.pos
        self.pos += 1
        out = bytearray()
        while True:
            if self.pos >= len(text):
                self.pos = start
                raise self.expected("value", "invalid token")
            c = text[self.pos]
            if c == 0x22:
                self.pos += 1
                return bytes(out)
            if c == 0x5C:
                esc = text[self.pos + 1 : self.pos + 2]
                simple = {
                    b'"': b'"',
                    b"\\": b"\\",
                    b"/": b"/",
                    b"b": b"\b",
                    b"f": b"\f",
                    b"n": b"\n",
                    b"r": b"\r",
                    b"t": b"\t",
                }
                if esc in simple:
                    out += simple[esc]
                    self.pos += 2
                    continue
                if esc == b"u":
                    code = self._hex4(self.pos + 2, start)
                    self.pos += 6
                    if 0xD800 <= code <= 0xDBFF and text[self.pos : self.pos + 2] == b"\\u":
                        low = self._hex4(self.pos + 2, start)
                        if 0xDC00 <= low <= 0xDFFF:
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            self.pos += 6
                    out += chr(code).encode("utf-8", "surrogatepass")
                    continue
                self.pos = start
                raise self.expected("value", "invalid escape code")
            out.append(c)
            self.pos += 1

    def _hex4(self, at: int, start: int) -> int:
        digits = self.text[at : at + 4]
        try:
            if len(digits) != 4:
                raise ValueError
            return int(digits, 16)
        except ValueError:
            self.pos = start
            raise self.expected("value", "invalid unicode escape code") from None

    def _number(self) -> float | int:
        text = self.text
        start = self.pos
        end = start
        while end < len(text) and text[end] in b"+-0123456789.eE":
            end += 1
        chunk = text[start:end]
        try:
            value = float(chunk)
        except ValueError:
            raise self.expected("value", "invalid token") from None
        self.pos = end
        return int(value) if value == int(value) and abs(value) < 2**53 else value


# --- cmsgpack --------------------------------------------------------------------------------


class MsgPack:
    def __init__(self, runtime: Any, items: Callable[[Any], list[tuple[Any, Any]]]) -> None:
        self.runtime = runtime
        self.items = items
        self.rawget = runtime.eval("rawget")

    def pack(self, *args: Any) -> bytes:
        if not args:
            raise LibError("MessagePack pack needs input.")
        out = bytearray()
        for value in args:
            self._pack(value, out, 0)
        return bytes(out)

    def _pack(self, value: Any, out: bytearray, level: int) -> None:
        if value is None:
            out += b"\xc0"
        elif value is True:
            out += b"\xc3"
        elif value is False:
            out += b"\xc2"
        elif isinstance(value, (int, float)):
            if math.isfinite(value) and value == int(value) and -(2**63) <= value < 2**64:
                _pack_int(int(value), out)
            else:
                f = float(value)
                as_float = (
                    pystruct.unpack(">f", pystruct.pack(">f", f))[0]
                    if math.isfinite(f) or math.isinf(f)
                    else f
                )
                if as_float == f or math.isnan(f):
                    out += b"\xca" + pystruct.pack(">f", f)
                else:
                    out += b"\xcb" + pystruct.pack(">d", f)
        elif isinstance(value, bytes):
            n = len(value)
            if n < 32:
                out.append(0xA0 | n)
            elif n <= 0xFF:
                out += b"\xd9" + bytes([n])
            elif n <= 0xFFFF:
                out += b"\xda" + n.to_bytes(2, "big")
            else:
                out += b"\xdb" + n.to_bytes(4, "big")
            out += value
        elif _lua_type(value) == "table" and level < _MSGPACK_MAX_NESTING:
            pairs = self.items(value)
            keys = [k for k, _ in pairs]
            n = len(pairs)
            is_array = all(
                isinstance(k, (int, float)) and not isinstance(k, bool) and k >= 1 and k == int(k)
                for k in keys
            ) and (not keys or max(keys) == n)
            if is_array:
                _pack_len(n, out, 0x90, 15, b"\xdc", b"\xdd")
                for i in range(1, n + 1):
                    self._pack(self.rawget(value, i), out, level + 1)
            else:
                _pack_len(n, out, 0x80, 15, b"\xde", b"\xdf")
                for k, v in pairs:
                    self._pack(k, out, level + 1)
                    self._pack(v, out, level + 1)
        else:
            out += b"\xc0"

    def unpack(self, *args: Any) -> tuple[Any, ...]:
        data = _check_string(args, 0, "unpack")
        values, _ = self._unpack_many(data, 0, 0)
        return tuple(values)

    def unpack_one(self, *args: Any) -> tuple[Any, ...]:
        data = _check_string(args, 0, "unpack_one")
        offset = int(_number(args[1]) or 0) if len(args) > 1 else 0
        values, pos = self._unpack_many(data, offset, 1)
        return (-1 if pos >= len(data) else pos, *values)

    def unpack_limit(self, *args: Any) -> tuple[Any, ...]:
        data = _check_string(args, 0, "unpack_limit")
        limit = int(_number(args[1]) or 0) if len(args) > 1 else 0
        offset = int(_number(args[2]) or 0) if len(args) > 2 else 0
        values, pos = self._unpack_many(data, offset, limit)
        return (-1 if pos >= len(data) else pos, *values)

    def _unpack_many(self, data: bytes, pos: int, limit: int) -> tuple[list[Any], int]:
        values: list[Any] = []
        while pos < len(data) and (limit <= 0 or len(values) < limit):
            value, pos = self._unpack(data, pos)
            values.append(value)
        return values, pos

    def _unpack(self, data: bytes, pos: int) -> tuple[Any, int]:
        def need(n: int) -> None:
            if pos + n > len(data):
                raise LibError("Missing bytes in input.")

        need(1)
        c = data[pos]
        pos += 1
        if c <= 0x7F:
            return c, pos
        if c >= 0xE0:
            return c - 256, pos
        if 0xA0 <= c <= 0xBF:
            n = c & 0x1F
            need(n)
            return data[pos : pos + n], pos + n
        if 0x90 <= c <= 0x9F:
            return self._array(data, pos, c & 0x0F)
        if 0x80 <= c <= 0x8F:
            return self._map(data, pos, c & 0x0F)
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if c in simple:
            return simple[c], pos
        fixed = {
            0xCA: (4, ">f"),
            0xCB: (8, ">d"),
            0xCC: (1, ">B"),
            0xCD: (2, ">H"),
            0xCE: (4, ">I"),
            0xCF: (8, ">Q"),
            0xD0: (1, ">b"),
            0xD1: (2, ">h"),
            0xD2: (4, ">i"),
            0xD3: (8, ">q"),
        }
        if c in fixed:
            size, fmt = fixed[c]
            need(size)
            (value,) = pystruct.unpack(fmt, data[pos : pos + size])
            return value, pos + size
        lengths = {0xD9: 1, 0xC4: 1, 0xDA: 2, 0xC5: 2, 0xDB: 4, 0xC6: 4}
        if c in lengths:
            size = lengths[c]
            need(size)
            n = int.from_bytes(data[pos : pos + size], "big")
            pos += size
            need(n)
            return data[pos : pos + n], pos + n
        if c in (0xDC, 0xDD, 0xDE, 0xDF):
            size = 2 if c in (0xDC, 0xDE) else 4
            need(size)
            n = int.from_bytes(data[pos : pos + size], "big")
            pos += size
            return (self._array if c in (0xDC, 0xDD) else self._map)(data, pos, n)
        raise LibError("Bad data format in input.")

    def _array(self, data: bytes, pos: int, n: int) -> tuple[Any, int]:
        table = self.runtime.table()
        for i in range(1, n + 1):
            value, pos = self._unpack(data, pos)
            if value is not None:
                table[i] = value
        return table, pos

    def _map(self, data: bytes, pos: int, n: int) -> tuple[Any, int]:
        table = self.runtime.table()
        for _ in range(n):
            key, pos = self._unpack(data, pos)
            value, pos = self._unpack(data, pos)
            if key is not None:
                table[key] = value
        return table, pos


def _pack_int(n: int, out: bytearray) -> None:
    if n >= 0:
        if n <= 0x7F:
            out.append(n)
        elif n <= 0xFF:
            out += b"\xcc" + bytes([n])
        elif n <= 0xFFFF:
            out += b"\xcd" + n.to_bytes(2, "big")
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + n.to_bytes(4, "big")
        else:
            out += b"\xcf" + n.to_bytes(8, "big")
    elif n >= -32:
        out.append(n & 0xFF)
    elif n >= -128:
        out += b"\xd0" + n.to_bytes(1, "big", signed=True)
    elif n >= -32768:
        out += b"\xd1" + n.to_bytes(2, "big", signed=True)
    elif n >= -(2**31):
        out += b"\xd2" + n.to_bytes(4, "big", signed=True)
    else:
        out += b"\xd3" + n.to_bytes(8, "big", signed=True)


def _pack_len(n: int, out: bytearray, fix: int, fix_max: int, b16: bytes, b32: bytes) -> None:
    if n <= fix_max:
        out.append(fix | n)
    elif n <= 0xFFFF:
        out += b16 + n.to_bytes(2, "big")
    else:
        out += b32 + n.to_bytes(4, "big")


# --- struct (Roberto Ierusalimschy's) --------------------------------------------------------

_STRUCT_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8}


def _struct_options(fmt: bytes) -> list[tuple[str, int]]:
    """(option, size) pairs; endianness marks come through as ``<``/``>``/``=``."""
    out: list[tuple[str, int]] = []
    i = 0
    text = fmt.decode("latin-1")
    while i < len(text):
        opt = text[i]
        i += 1
        digits = ""
        while i < len(text) and text[i].isdigit():
            digits += text[i]
            i += 1
        if opt in " ":
            continue
        if opt in "<>=!":
            out.append((opt, int(digits) if digits else 0))
        elif opt in _STRUCT_SIZES:
            out.append((opt, _STRUCT_SIZES[opt]))
        elif opt in "iI":
            size = int(digits) if digits else 4
            if size > 8 or size < 1:
                raise LibError(f"integral size {size} is larger than limit of 8")
            out.append((opt, size))
        elif opt == "c":
            out.append((opt, int(digits) if digits else 1))
        elif opt in "sx":
            out.append((opt, 1 if opt == "x" else 0))
        else:
            raise LibError(f"invalid format option '{opt}'")
    return out


class Struct:
    def size(self, *args: Any) -> int:
        fmt = _check_string(args, 0, "size")
        total = 0
        for opt, size in _struct_options(fmt):
            if opt in "<>=!":
                continue
            if opt == "s":
                raise LibError("options 'c0' - 's' have undefined sizes")
            total += size
        return total

    def pack(self, *args: Any) -> bytes:
        fmt = _check_string(args, 0, "pack")
        little = True
        out = bytearray()
        arg = 1
        for opt, size in _struct_options(fmt):
            if opt in "<>=":
                little = opt != ">"
                continue
            if opt == "!":
                continue
            if opt == "x":
                out += b"\x00"
                continue
            if opt in "bBhHlLTiI":
                n = int(_check_number(args, arg, "pack"))
                arg += 1
                out += (n & ((1 << (8 * size)) - 1)).to_bytes(size, "little" if little else "big")
            elif opt in "fd":
                real = _check_number(args, arg, "pack")
                arg += 1
                out += pystruct.pack(("<" if little else ">") + opt, real)
            elif opt == "c":
                s = _check_string(args, arg, "pack")
                arg += 1
                if size == 0:
                    size = len(s)
                if len(s) < size:
                    raise LibError(f"bad argument #{arg} to 'pack' (string too short)")
                out += s[:size]
            elif opt == "s":
                s = _check_string(args, arg, "pack")
                arg += 1
                out += s + b"\x00"
        return bytes(out)

    def unpack(self, *args: Any) -> tuple[Any, ...]:
        fmt = _check_string(args, 0, "unpack")
        data = _check_string(args, 1, "unpack")
        pos = int(_number(args[2]) or 1) - 1 if len(args) > 2 and args[2] is not None else 0
        little = True
        values: list[Any] = []
        for opt, size in _struct_options(fmt):
            if opt in "<>=":
                little = opt != ">"
                continue
            if opt == "!":
                continue
            if opt == "x":
                pos += 1
                continue
            if opt == "s":
                end = data.find(b"\x00", pos)
                if end < 0:
                    raise LibError("unfinished string in data")
                values.append(data[pos:end])
                pos = end + 1
                continue
            if opt == "c" and size == 0:
                size = int(values.pop()) if values else 0
            if pos + size > len(data):
                raise LibError("bad argument #2 to 'unpack' (data string too short)")
            chunk = data[pos : pos + size]
            pos += size
            if opt in "bhliT" or opt == "i":
                values.append(int.from_bytes(chunk, "little" if little else "big", signed=True))
            elif opt in "BHLI":
                values.append(int.from_bytes(chunk, "little" if little else "big"))
            elif opt in "fd":
                values.append(pystruct.unpack(("<" if little else ">") + opt, chunk)[0])
            else:
                values.append(chunk)
        values.append(pos + 1)
        return tuple(values)


# --- installation ----------------------------------------------------------------------------


def install_libraries(
    runtime: Any,
    null: Any,
    items: Callable[[Any], Any],
    raise_at_caller: Callable[[bytes], Exception],
) -> Any:
    """A Lua table {bit=, cjson=, cmsgpack=, struct=} of host functions and values.

    ``raise_at_caller(message)`` makes the exception that raises ``message`` in Lua with the
    calling line in front, as ``luaL_error`` does.
    """

    def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any) -> Any:
            try:
                return fn(*args)
            except LibError as err:
                raise raise_at_caller(str(err).encode()) from None

        return guarded

    json = Json(runtime, null, items)
    msgpack = MsgPack(runtime, items)
    structlib = Struct()
    libs: dict[str, dict[str, Any]] = {
        "bit": dict(_bit_functions()),
        "cjson": {
            "encode": json.encode,
            "decode": json.decode,
            "decode_invalid_numbers": json.set_decode_invalid_numbers,
            "decode_max_depth": json.set_decode_max_depth,
            "encode_invalid_numbers": json.set_encode_invalid_numbers,
            "encode_keep_buffer": json.set_encode_keep_buffer,
            "encode_max_depth": json.set_encode_max_depth,
            "encode_number_precision": lambda *_: 14,
            "encode_sparse_array": lambda *_: (False, _SPARSE_RATIO, _SPARSE_SAFE),
            "new": lambda *_: None,
        },
        "cmsgpack": {
            "pack": msgpack.pack,
            "unpack": msgpack.unpack,
            "unpack_one": msgpack.unpack_one,
            "unpack_limit": msgpack.unpack_limit,
        },
        "struct": {"pack": structlib.pack, "unpack": structlib.unpack, "size": structlib.size},
    }
    constants: dict[str, dict[str, Any]] = {
        "cjson": {"_NAME": b"cjson", "_VERSION": b"2.1.0", "null": null},
        "cmsgpack": {
            "_NAME": b"cmsgpack",
            "_VERSION": b"lua-cmsgpack 0.4.0",
            "_COPYRIGHT": b"Copyright (C) 2012, Salvatore Sanfilippo",
            "_DESCRIPTION": b"MessagePack C implementation for Lua",
        },
    }
    top = runtime.table()
    for name, functions in libs.items():
        table = runtime.table()
        for fname, fn in functions.items():
            table[fname.encode()] = guard(fn)
        for cname, value in constants.get(name, {}).items():
            table[cname.encode()] = value
        top[name.encode()] = table
    return top
