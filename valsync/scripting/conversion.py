"""Lua <-> RESP conversion, as Valkey's ``script_lua.c`` does it (sans-IO).

Theory of operation:

1. A command run by ``server.call`` answers a :data:`~valsync.resp.reply.Reply`; Valkey
   encodes it in the *script's* protocol (RESP2 unless ``server.setresp(3)``) and parses that
   into Lua values. :func:`reply_to_lua` does both steps at once: RESP2 flattens maps, sends
   doubles as strings and nulls as ``false``; RESP3 gives ``{map=}``, ``{set=}``,
   ``{double=}``, ``{verbatim_string=}`` and ``nil``. Status replies become ``{ok=}``,
   errors ``{err=}``.
2. A script's return value goes back to the caller (:func:`lua_to_reply`): strings as bulk,
   numbers truncated to integers, booleans per the script's protocol, tables as ``{err=}``,
   ``{ok=}``, ``{double=}``, ``{big_number=}``, ``{verbatim_string=}``, ``{map=}``,
   ``{set=}`` or an array cut at the first nil.
3. Lua values passed to ``server.call`` become arguments: strings as they are, numbers as
   integers when integral (``double2ll``), otherwise as Valkey prints doubles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lupa import lua51

from valsync.fpconv import fpconv_dtoa
from valsync.resp.reply import (
    Boolean,
    Double,
    ErrorReply,
    HumanDouble,
    MapReply,
    NoReply,
    NullArray,
    Raw,
    Reply,
    ScriptError,
    SetReply,
    SimpleString,
    Verbatim,
    format_double,
)

LuaValue = Any
"""A value of the Lua runtime as lupa hands it over (bytes, int, float, bool, None, table)."""

_LLONG_HALF = float((2**63 - 1) // 2)
INT64_MIN = -(2**63)


class ArgumentError(Exception):
    """A ``server.call`` argument that is neither a string nor a number."""


def number_to_arg(value: int | float) -> bytes:
    """Valkey's ``double2ll`` then ``fpconv_dtoa``: integral doubles print as integers."""
    if isinstance(value, int):
        if -_LLONG_HALF <= value <= _LLONG_HALF:
            return b"%d" % value
        value = float(value)
    if math.isfinite(value) and -_LLONG_HALF <= value <= _LLONG_HALF and value == int(value):
        return b"%d" % int(value)
    return fpconv_dtoa(value).encode()


def lua_args_to_argv(args: tuple[LuaValue, ...]) -> list[bytes]:
    argv: list[bytes] = []
    for arg in args:
        if isinstance(arg, bytes):
            argv.append(arg)
        elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
            argv.append(number_to_arg(arg))
        else:
            raise ArgumentError
    return argv


def lua_number_to_int(value: int | float) -> int:
    """C's ``(long long)`` cast of a Lua number, as x86 does it (out of range: INT64_MIN)."""
    if isinstance(value, int):
        return value if INT64_MIN <= value < 2**63 else INT64_MIN
    if not math.isfinite(value) or not (-(2.0**63) <= value < 2.0**63):
        return INT64_MIN
    return int(value)


def error_fields(text: bytes) -> bytes:
    """``luaPushErrorBuff``: split a ``-CODE message`` reply into ``CODE message``."""
    if text.startswith(b"-"):
        space = text.find(b" ")
        if space < 0:
            code, msg = b"ERR", text[1:]
        else:
            code, msg = text[1:space], text[space + 1 :]
    else:
        code, msg = b"ERR", text
    return code + b" " + msg.strip(b"\r\n")


class LuaBuilder:
    """Makes Lua tables; the lupa runtime provides ``table()``."""

    def __init__(self, new_table: Callable[[], Any]) -> None:
        self.new_table = new_table

    def single(self, field: bytes, value: LuaValue) -> Any:
        t = self.new_table()
        t[field] = value
        return t

    def error_table(self, text: bytes, ignore_stats: bool = False) -> Any:
        t = self.new_table()
        t[b"err"] = error_fields(text)
        if ignore_stats:
            t[b"ignore_error_stats_update"] = True
        return t

    def reply_to_lua(self, reply: Reply, resp: int) -> LuaValue:
        """A command's reply as the Lua value ``server.call`` returns (see the module doc)."""
        if isinstance(reply, bytes):
            return reply
        if isinstance(reply, bool):
            return reply
        if isinstance(reply, int):
            return reply
        if reply is None or isinstance(reply, NullArray):
            return None if resp == 3 else False
        if isinstance(reply, list):
            t = self.new_table()
            for i, item in enumerate(reply, 1):
                value = self.reply_to_lua(item, resp)
                if value is not None:
                    t[i] = value
            return t
        if isinstance(reply, SimpleString):
            return self.single(b"ok", reply.text.encode())
        if isinstance(reply, ErrorReply):
            return self.error_table(b"-" + reply.text.encode(), ignore_stats=True)
        if isinstance(reply, Double):
            if resp == 3:
                return self.single(b"double", reply.value)
            return format_double(reply.value)
        if isinstance(reply, HumanDouble):
            if resp == 3:
                return self.single(b"double", float(reply.text))
            return reply.text
        if isinstance(reply, MapReply):
            if resp == 3:
                inner = self.new_table()
                for key, value in reply.pairs:
                    k = self.reply_to_lua(key, resp)
                    if k is not None:
                        inner[k] = self.reply_to_lua(value, resp)
                return self.single(b"map", inner)
            flat: list[Reply] = []
            for key, value in reply.pairs:
                flat.append(key)
                flat.append(value)
            return self.reply_to_lua(flat, resp)
        if isinstance(reply, SetReply):
            if resp == 3:
                inner = self.new_table()
                for item in reply.items:
                    k = self.reply_to_lua(item, resp)
                    if k is not None:
                        inner[k] = True
                return self.single(b"set", inner)
            return self.reply_to_lua(list(reply.items), resp)
        if isinstance(reply, Verbatim):
            if resp == 3:
                inner = self.new_table()
                inner[b"string"] = reply.text
                inner[b"format"] = reply.fmt.encode()
                return self.single(b"verbatim_string", inner)
            return reply.text
        if isinstance(reply, Boolean):
            return reply.value if resp == 3 else int(reply.value)
        if isinstance(reply, Raw):
            if reply.data[:1] == b"(":
                text = reply.data[1:].split(b"\r\n", 1)[0]
                return self.single(b"big_number", text) if resp == 3 else text
            return self.reply_to_lua(parse_raw(reply.data), resp)
        if isinstance(reply, NoReply):
            return None if resp == 3 else False
        raise TypeError(f"not a reply: {reply!r}")


def parse_raw(data: bytes) -> Reply:
    """Pre-encoded replies (rare) decoded back into reply values."""
    value, _ = _parse(data, 0)
    return value


def _parse(data: bytes, pos: int) -> tuple[Reply, int]:
    start = pos
    end = data.index(b"\r\n", pos)
    kind, body = data[pos : pos + 1], data[pos + 1 : end]
    pos = end + 2
    if kind == b"+":
        return SimpleString(body.decode("latin-1")), pos
    if kind == b"-":
        return ErrorReply(body.decode("latin-1")), pos
    if kind == b":":
        return int(body), pos
    if kind in (b"$", b"="):
        n = int(body)
        if n < 0:
            return None, pos
        chunk = data[pos : pos + n]
        if kind == b"=":
            return Verbatim(chunk[4:], chunk[:3].decode("latin-1")), pos + n + 2
        return chunk, pos + n + 2
    if kind == b",":
        return Double(float(body)), pos
    if kind == b"_":
        return None, pos
    if kind in (b"*", b"~"):
        n = int(body)
        if n < 0:
            return NullArray(), pos
        items: list[Reply] = []
        for _ in range(n):
            item, pos = _parse(data, pos)
            items.append(item)
        return (items if kind == b"*" else SetReply(items)), pos
    if kind == b"%":
        pairs: list[tuple[Reply, Reply]] = []
        for _ in range(int(body)):
            key, pos = _parse(data, pos)
            value, pos = _parse(data, pos)
            pairs.append((key, value))
        return MapReply(pairs), pos
    if kind == b"#":
        return Boolean(body == b"t"), pos
    if kind == b"(":
        return Raw(data[start:pos]), pos  # a big number: reply_to_lua makes it {big_number=}
    if kind == b"|":
        for _ in range(2 * int(body)):  # an attribute: scripts see the reply that follows
            _, pos = _parse(data, pos)
        return _parse(data, pos)
    raise ValueError(f"unknown RESP type {kind!r}")


def _status_line(kind: bytes, text: bytes) -> bytes:
    return kind + text.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"


MAX_REPLY_DEPTH = 200
"""How deep a script's reply may nest (Valkey stops at Lua's stack limit): a table that holds
itself ends there with an error instead of Python's recursion limit."""


def error_reply_bytes(message: bytes, counted: bool = False, custom: bool = False) -> ScriptError:
    """An error reply from a script: ``-`` then the message (its own code included)."""
    return ScriptError(_status_line(b"-", message), counted, custom)


def lua_to_reply(
    value: LuaValue,
    script_resp: int,
    caller_resp: int,
    rawget: Callable[[Any, Any], Any],
    items: Callable[[Any], Any],
    depth: int = 0,
) -> Reply:
    """``luaReplyToServerReply``: the script's return value as the caller's reply."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        if script_resp == 2:
            if value:
                return 1
            return NullArray() if caller_resp == 3 else None
        if caller_resp == 3:
            return Raw(b"#t\r\n" if value else b"#f\r\n")
        return 1 if value else 0
    if isinstance(value, (int, float)):
        return lua_number_to_int(value)
    if value is None or not _is_table(value):
        return None
    if depth > MAX_REPLY_DEPTH:
        return ErrorReply("ERR reached lua stack limit")
    err = rawget(value, b"err")
    if isinstance(err, bytes):
        counted = rawget(value, b"ignore_error_stats_update") is True
        return error_reply_bytes(err, counted=counted, custom=depth == 0)
    ok = rawget(value, b"ok")
    if isinstance(ok, bytes):
        return Raw(_status_line(b"+", ok))
    double = rawget(value, b"double")
    if isinstance(double, (int, float)) and not isinstance(double, bool):
        return Double(float(double))
    big = rawget(value, b"big_number")
    if isinstance(big, bytes):
        text = big.replace(b"\r", b" ").replace(b"\n", b" ")
        if caller_resp == 3:
            return Raw(b"(" + text + b"\r\n")
        return text
    verbatim = rawget(value, b"verbatim_string")
    if _is_table(verbatim):
        fmt = rawget(verbatim, b"format")
        text = rawget(verbatim, b"string")
        if isinstance(fmt, bytes) and isinstance(text, bytes):
            return Verbatim(text, fmt[:3].decode("latin-1"))
    mapping = rawget(value, b"map")
    if _is_table(mapping):
        return MapReply(
            [
                (
                    lua_to_reply(k, script_resp, caller_resp, rawget, items, depth + 1),
                    lua_to_reply(v, script_resp, caller_resp, rawget, items, depth + 1),
                )
                for k, v in items(mapping)
            ]
        )
    members = rawget(value, b"set")
    if _is_table(members):
        return SetReply(
            [
                lua_to_reply(k, script_resp, caller_resp, rawget, items, depth + 1)
                for k, _ in items(members)
            ]
        )
    out: list[Reply] = []
    index = 1
    while True:
        item = rawget(value, index)
        if item is None:
            break
        out.append(lua_to_reply(item, script_resp, caller_resp, rawget, items, depth + 1))
        index += 1
    return out


def _is_table(value: Any) -> bool:
    return value is not None and lua51.lua_type(value) == "table"
