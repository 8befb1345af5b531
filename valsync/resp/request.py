"""Sans-IO request framer with Valkey's exact rules and exact consumed-byte counts.

Theory of operation: bytes go in with :meth:`RequestParser.feed`; :meth:`RequestParser.next`
returns the next complete command as a :class:`Request` (its argv and how many bytes it
consumed, which the replication link needs for offsets), ``None`` when more bytes are needed,
or raises :class:`ProtocolError` with the message Valkey would send before closing the link.
Both multibulk (``*N``) and inline (telnet-style) commands are accepted, as in Valkey.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTO_INLINE_MAX_SIZE = 64 * 1024
PROTO_MBULK_BIG_ARG = 32 * 1024
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384
INT_MAX = 2**31 - 1


class ProtocolError(Exception):
    """The peer broke RESP; ``str(self)`` is Valkey's reply text (without ``-ERR``)."""


@dataclass(frozen=True, slots=True)
class Request:
    argv: list[bytes]
    nbytes: int
    inline: bool = False


def split_inline_args(line: bytes) -> list[bytes] | None:
    """Valkey's ``sdssplitargs``: quotes, escapes, ``\\xHH``; ``None`` on unbalanced quotes."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\r\n\v\f":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                c = line[i]
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == ord("x")
                    and _is_hex(line[i + 2])
                    and _is_hex(line[i + 3])
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    esc = line[i]
                    current.append(
                        {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}.get(
                            esc, esc
                        )
                    )
                elif c == ord('"'):
                    if i + 1 < n and line[i + 1] not in b" \t\r\n\v\f":
                        return None
                    in_dq = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_sq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == ord("'"):
                    i += 1
                    current.append(ord("'"))
                elif c == ord("'"):
                    if i + 1 < n and line[i + 1] not in b" \t\r\n\v\f":
                        return None
                    in_sq = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \t\r\n\v\f":
                    break
                if c == ord('"'):
                    in_dq = True
                elif c == ord("'"):
                    in_sq = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))


def _is_hex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


class RequestParser:
    """Frames a client's (or a primary's) byte stream into commands.

    Received chunks are only joined once enough bytes arrived for the command being framed
    (``_need``), so a large argument arriving in many reads costs one copy, not one per read.
    """

    def __init__(self, max_bulk_len: int = DEFAULT_MAX_BULK_LEN) -> None:
        self._data = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._avail = 0
        self._need = 1
        self.max_bulk_len = max_bulk_len
        self.authenticated = True

    def feed(self, data: bytes) -> None:
        if data:
            self._chunks.append(bytes(data))
            self._avail += len(data)

    @property
    def pending(self) -> int:
        """Bytes received but not yet framed into a command (the query buffer)."""
        return self._avail

    def take_pending(self) -> bytes:
        """Hand over the bytes not yet framed (a connection turning into a replication link)."""
        rest = self._data[self._pos :] + b"".join(self._chunks)
        self._data, self._pos, self._chunks, self._avail, self._need = b"", 0, [], 0, 1
        return rest

    def next(self) -> Request | None:
        if self._avail < self._need:
            return None
        if self._chunks:
            if self._pos < len(self._data):
                self._data = self._data[self._pos :] + b"".join(self._chunks)
            else:
                self._data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            self._pos = 0
            self._chunks = []
        if self._data[self._pos] == 0x2A:  # '*'
            req = self._multibulk()
        else:
            req = self._inline()
        if req is None:
            return None
        self._avail -= req.nbytes
        self._need = 1
        return req

    def _incomplete(self, need: int) -> None:
        self._need = need

    def _inline(self) -> Request | None:
        data, start = self._data, self._pos
        nl = data.find(b"\n", start)
        if nl < 0:
            if len(data) - start > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big inline request")
            self._incomplete(len(data) - start + 1)
            return None
        line = data[start:nl]
        if line.endswith(b"\r"):
            line = line[:-1]
        argv = split_inline_args(line)
        if argv is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        self._pos = nl + 1
        return Request(argv, nl + 1 - start, inline=True)

    def _multibulk(self) -> Request | None:
        data, start = self._data, self._pos
        end = len(data)
        cr = data.find(b"\r\n", start)
        if cr < 0:
            if end - start > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big mbulk count string")
            self._incomplete(end - start + 1)
            return None
        count = _parse_int(data, start + 1, cr)
        if count is None or count > INT_MAX:
            raise ProtocolError("Protocol error: invalid multibulk length")
        if not self.authenticated and count > UNAUTH_MAX_MULTIBULK:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        pos = cr + 2
        if count <= 0:
            self._pos = pos
            return Request([], pos - start)
        argv: list[bytes] = []
        max_bulk = self.max_bulk_len if self.authenticated else UNAUTH_MAX_BULK
        for _ in range(count):
            if pos >= end:
                self._incomplete(end - start + 1)
                return None
            if data[pos] != 0x24:  # '$'
                raise ProtocolError(f"Protocol error: expected '$', got '{chr(data[pos])}'")
            cr = data.find(b"\r\n", pos)
            if cr < 0:
                if end - pos > PROTO_INLINE_MAX_SIZE:
                    raise ProtocolError("Protocol error: too big bulk count string")
                self._incomplete(end - start + 1)
                return None
            text = data[pos + 1 : cr]
            if not text.isdigit() or (text[0] == 0x30 and len(text) > 1):
                raise ProtocolError("Protocol error: invalid bulk length")
            length = int(text)
            if length > max_bulk:
                raise ProtocolError(
                    "Protocol error: invalid bulk length"
                    if self.authenticated
                    else "Protocol error: unauthenticated bulk length"
                )
            data_start = cr + 2
            data_end = data_start + length
            if data_end + 2 > end:
                self._incomplete(data_end + 2 - start)
                return None
            if data[data_end] != 0x0D or data[data_end + 1] != 0x0A:
                raise ProtocolError("Protocol error: invalid CRLF in request")
            argv.append(data[data_start:data_end])
            pos = data_end + 2
        self._pos = pos
        return Request(argv, pos - start)


def _parse_int(buf: bytes, start: int, stop: int) -> int | None:
    """Valkey's ``string2ll`` on ``buf[start:stop]``: strict decimal, no spaces or plus sign."""
    text = buf[start:stop]
    if not text or len(text) > 20:
        return None
    digits = text[1:] if text[0] == 0x2D else text
    if not digits.isdigit() or (len(digits) > 1 and digits[0] == 0x30):
        return None
    return int(text)
