"""Reply values and their RESP2/RESP3 encoding (sans-IO).

Handlers return plain Python values; the connection encodes them for the client's protocol:
``bytes`` -> bulk string, ``int`` -> integer, ``None`` -> null, ``list`` -> array, and the small
wrapper classes below for the shapes RESP2 and RESP3 spell differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True, slots=True)
class SimpleString:
    text: str


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error; ``text`` starts with the code (``ERR ...``, ``WRONGTYPE ...``), no leading dash."""

    text: str


@dataclass(frozen=True, slots=True)
class Double:
    value: float


@dataclass(frozen=True, slots=True)
class MapReply:
    """RESP3 map (``%``); a flat array of key, value in RESP2."""

    pairs: list[tuple[Reply, Reply]]


@dataclass(frozen=True, slots=True)
class SetReply:
    """RESP3 set (``~``); an array in RESP2."""

    items: list[Reply]


@dataclass(frozen=True, slots=True)
class Verbatim:
    """RESP3 verbatim string (``=``); a bulk string in RESP2."""

    text: bytes
    fmt: str = "txt"


@dataclass(frozen=True, slots=True)
class NullArray:
    """``*-1`` in RESP2, ``_`` in RESP3 (e.g. BLPOP timeout, EXEC aborted by WATCH)."""


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes already encoded; sent as they are."""

    data: bytes


@dataclass(frozen=True, slots=True)
class NoReply:
    """Commands that must not answer (REPLCONF ACK)."""


Reply = Union[
    bytes,
    int,
    None,
    list["Reply"],
    SimpleString,
    ErrorReply,
    Double,
    MapReply,
    SetReply,
    Verbatim,
    NullArray,
    Raw,
    NoReply,
]

OK = SimpleString("OK")
PONG = SimpleString("PONG")
QUEUED = SimpleString("QUEUED")
NULL_ARRAY = NullArray()
NO_REPLY = NoReply()


def format_double(value: float) -> bytes:
    """Valkey's shortest round-trip text for a double (``fpconv_dtoa``): ``3``, ``1.5``, ``inf``."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    if value == int(value) and abs(value) < 1e17:
        return str(int(value)).encode()
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        if len(digits) < 2:
            digits = "0" + digits if False else digits
        text = f"{mantissa}e{sign}{digits}"
    return text.encode()


def _bulk(data: bytes, out: bytearray) -> None:
    out += b"$%d\r\n" % len(data)
    out += data
    out += b"\r\n"


def encode(reply: Reply, out: bytearray, resp: int = 2) -> None:
    """Append the encoding of ``reply`` to ``out``."""
    if isinstance(reply, bytes):
        _bulk(reply, out)
    elif isinstance(reply, SimpleString):
        out += b"+" + reply.text.encode() + b"\r\n"
    elif isinstance(reply, bool):
        raise TypeError("bool is not a reply; use int")
    elif isinstance(reply, int):
        out += b":%d\r\n" % reply
    elif reply is None:
        out += b"_\r\n" if resp == 3 else b"$-1\r\n"
    elif isinstance(reply, list):
        out += b"*%d\r\n" % len(reply)
        for item in reply:
            encode(item, out, resp)
    elif isinstance(reply, ErrorReply):
        out += b"-" + reply.text.replace("\r", " ").replace("\n", " ").encode() + b"\r\n"
    elif isinstance(reply, Double):
        if resp == 3:
            out += b"," + format_double(reply.value) + b"\r\n"
        else:
            _bulk(format_double(reply.value), out)
    elif isinstance(reply, MapReply):
        if resp == 3:
            out += b"%%%d\r\n" % len(reply.pairs)
        else:
            out += b"*%d\r\n" % (2 * len(reply.pairs))
        for key, value in reply.pairs:
            encode(key, out, resp)
            encode(value, out, resp)
    elif isinstance(reply, SetReply):
        out += (b"~%d\r\n" if resp == 3 else b"*%d\r\n") % len(reply.items)
        for item in reply.items:
            encode(item, out, resp)
    elif isinstance(reply, Verbatim):
        if resp == 3:
            body = reply.fmt.encode() + b":" + reply.text
            out += b"=%d\r\n" % len(body) + body + b"\r\n"
        else:
            _bulk(reply.text, out)
    elif isinstance(reply, NullArray):
        out += b"_\r\n" if resp == 3 else b"*-1\r\n"
    elif isinstance(reply, Raw):
        out += reply.data
    elif isinstance(reply, NoReply):
        return
    else:  # pragma: no cover - a handler bug
        raise TypeError(f"not a reply: {reply!r}")


def encode_command(argv: list[bytes] | tuple[bytes, ...]) -> bytes:
    """A command as a RESP multibulk, the form of the replication stream."""
    out = bytearray(b"*%d\r\n" % len(argv))
    for arg in argv:
        out += b"$%d\r\n" % len(arg)
        out += arg
        out += b"\r\n"
    return bytes(out)
