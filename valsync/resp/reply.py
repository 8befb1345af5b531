"""Reply values and their RESP2/RESP3 encoding (sans-IO).

Handlers return plain Python values; the connection encodes them for the client's protocol:
``bytes`` -> bulk string, ``int`` -> integer, ``None`` -> null, ``list`` -> array, and the small
wrapper classes below for the shapes RESP2 and RESP3 spell differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from valsync.fpconv import fpconv_dtoa


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
class HumanDouble:
    """A double already printed (``addReplyHumanLongDouble``): a RESP3 double carrying this
    text, a bulk string in RESP2."""

    text: bytes


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
class Boolean:
    """RESP3 boolean (``#t``/``#f``); ``:1``/``:0`` in RESP2. Plain ``bool`` is refused, so a
    handler's ``x in y`` never reaches a client as a RESP3 boolean by mistake."""

    value: bool


@dataclass(frozen=True, slots=True)
class NullArray:
    """``*-1`` in RESP2, ``_`` in RESP3 (e.g. BLPOP timeout, EXEC aborted by WATCH)."""


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes already encoded; sent as they are."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ScriptError(Raw):
    """A script's error reply (``-CODE message``), with how Valkey counts it in errorstats:
    ``counted`` when it came from a command the script called (counted then, not again),
    ``custom`` when the script returned it itself (new codes past errorstats' limit go to
    ``ERRORSTATS_OVERFLOW``)."""

    counted: bool = False
    custom: bool = False


@dataclass(frozen=True, slots=True)
class NoReply:
    """Commands that must not answer (REPLCONF ACK)."""


@dataclass(frozen=True, slots=True)
class Push:
    """RESP3 push (``>``): out-of-band data such as pub/sub messages; an array in RESP2."""

    items: list[Reply]


@dataclass(frozen=True, slots=True)
class ReplySeries:
    """Several top-level replies written back to back: SUBSCRIBE answers one push per channel,
    and pushes for the client that caused them follow its command's reply."""

    items: list[Reply]


Reply = (
    bytes
    | int
    | None
    | list["Reply"]
    | SimpleString
    | ErrorReply
    | Double
    | HumanDouble
    | MapReply
    | SetReply
    | Verbatim
    | NullArray
    | Boolean
    | Raw
    | NoReply
    | Push
    | ReplySeries
)

OK = SimpleString("OK")
PONG = SimpleString("PONG")
QUEUED = SimpleString("QUEUED")
NULL_ARRAY = NullArray()
NO_REPLY = NoReply()

# double2ll() only prints a double as an integer inside (double)(+/-LLONG_MAX / 2).
_LLONG_HALF = float((2**63 - 1) // 2)
_LLONG_HALF_NEG = float(-((2**63 - 1) // 2))


def format_double(value: float) -> bytes:
    """Valkey's ``d2string``: ``nan``/``inf``/``-inf``, ``0``/``-0``, integers in +/-2^62 as
    integers (``1e17`` -> ``100000000000000000``), anything else via ``fpconv_dtoa``
    (``1.5``, ``1e-7``, ``0.00001``, ``1e+20``)."""
    if math.isnan(value):
        return b"nan"
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value == 0:
        return b"-0" if math.copysign(1.0, value) < 0 else b"0"
    if _LLONG_HALF_NEG <= value <= _LLONG_HALF and value == int(value):
        return b"%d" % int(value)
    return fpconv_dtoa(value).encode()


def _bulk(data: bytes, out: bytearray) -> None:
    out += b"$%d\r\n" % len(data)
    out += data
    out += b"\r\n"


def encode(reply: Reply, out: bytearray, resp: int = 2) -> None:
    """Append the encoding of ``reply`` to ``out``."""
    kind = type(reply)
    if kind is bytes:
        out += b"$%d\r\n%b\r\n" % (len(reply), reply)  # type: ignore[arg-type,str-format]
    elif kind is int:
        out += b":%d\r\n" % reply  # type: ignore[str-format]
    elif reply is OK:
        out += b"+OK\r\n"
    elif isinstance(reply, bytes):
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
        # surrogateescape: an error may quote a client's bytes that are not UTF-8
        text = reply.text.replace("\r", " ").replace("\n", " ")
        out += b"-" + text.encode("utf-8", "surrogateescape") + b"\r\n"
    elif isinstance(reply, Double):
        if resp == 3:
            out += b"," + format_double(reply.value) + b"\r\n"
        else:
            _bulk(format_double(reply.value), out)
    elif isinstance(reply, HumanDouble):
        if resp == 3:
            out += b"," + reply.text + b"\r\n"
        else:
            _bulk(reply.text, out)
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
    elif isinstance(reply, Boolean):
        if resp == 3:
            out += b"#t\r\n" if reply.value else b"#f\r\n"
        else:
            out += b":1\r\n" if reply.value else b":0\r\n"
    elif isinstance(reply, Raw):
        out += reply.data
    elif isinstance(reply, NoReply):
        return
    elif isinstance(reply, Push):
        out += (b">%d\r\n" if resp == 3 else b"*%d\r\n") % len(reply.items)
        for item in reply.items:
            encode(item, out, resp)
    elif isinstance(reply, ReplySeries):
        for item in reply.items:
            encode(item, out, resp)
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
