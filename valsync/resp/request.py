"""Sans-IO request framer with Valkey's exact rules and exact consumed-byte counts.

Theory of operation: bytes go in with :meth:`RequestParser.feed`; :meth:`RequestParser.next`
returns the next complete command as a :class:`Request` (its argv and how many bytes it
consumed, which the replication link needs for offsets), ``None`` when more bytes are needed,
or raises :class:`ProtocolError` with the message Valkey would send before closing the link.
Both multibulk (``*N``) and inline (telnet-style) commands are accepted, as in Valkey.

Two framers share the buffer. The fast one hands the buffered bytes to ``hiredis.Reader``
(C) and keeps every command it returns whose bytes are the canonical multibulk of its
arguments (``*<n>\r\n`` then ``$<len>\r\n<arg>\r\n`` each, numbers without sign or
leading zero); hiredis rejects non-canonical numbers itself, and a check of the type byte
and the CRLF at each argument's computed position catches what it accepts but Valkey does
not (``+``/``=``/``(`` elements, a missing CRLF). So a command's byte count follows from its
arguments. Anything else (inline commands, empty multibulks, an unauthenticated client's
limits, every protocol error) goes through the Python framer below, which is the reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate, chain

import hiredis
from hiredis import pack_command

from valsync.resp.canonical import COMPILED as CANONICAL_COMPILED
from valsync.resp.canonical import frame_canonical

PROTO_INLINE_MAX_SIZE = 64 * 1024
PROTO_MBULK_BIG_ARG = 32 * 1024
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384
INT_MAX = 2**31 - 1
# a multibulk header of a million elements or more (anywhere, nested arrays included)
_HUGE_ARRAY_HEADER = re.compile(rb"\*[0-9]{7,}\r")
# the canonical re-encoding that checks framed commands copies them twice: a longer buffer
# (a big argument) is checked argument by argument instead
_PACKED_CHECK_MAX = 4 << 20


class ProtocolError(Exception):
    """The peer broke RESP; ``str(self)`` is Valkey's reply text (without ``-ERR``)."""


@dataclass(frozen=True, slots=True)
class Request:
    argv: list[bytes]
    nbytes: int
    inline: bool = False


def split_inline_args(line: bytes) -> list[bytes] | None:
    """Valkey's ``sdssplitargs``: quotes, escapes, ``\\xHH``; ``None`` on unbalanced quotes.

    A word ends at a space, tab, CR or LF (the blanks skipped between words also include
    VT and FF); a literal 0xFF byte is dropped, as a real 8.1.8 does."""
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
                elif c != 0xFF:
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
                elif c != 0xFF:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \t\r\n":  # unlike the blanks between words: not \v or \f
                    break
                if c == ord('"'):
                    in_dq = True
                elif c == ord("'"):
                    in_sq = True
                elif c != 0xFF:  # 8.1.8 drops a literal 0xFF byte (an escaped \xff stays)
                    current.append(c)
            i += 1
        args.append(bytes(current))


def _is_hex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


# ``len(b"$%d\r\n" % n)`` (the same for ``*``) for small ``n``: the header of a canonical
# bulk string or multibulk, looked up rather than formatted per argument.
_HEADER_LEN = tuple(len(b"$%d\r\n" % n) for n in range(4096))


def header_len(n: int) -> int:
    """Length of ``$<n>\r\n`` (or ``*<n>\r\n``)."""
    return _HEADER_LEN[n] if n < 4096 else len(str(n)) + 3


def canonical_size(argv: list[bytes]) -> int:
    """Bytes of ``argv`` as a canonical RESP multibulk (what Valkey writes to replicas)."""
    table = _HEADER_LEN
    size = header_len(len(argv))
    for arg in argv:
        n = len(arg)
        size += (table[n] if n < 4096 else len(str(n)) + 3) + n + 2
    return size


PROTO_MBULK_BIG_ARG = 32 * 1024
"""An argument this long gets a query buffer of its own size (Valkey's big-argument path)."""


class RequestParser:
    """Frames a client's (or a primary's) byte stream into commands.

    Received chunks are only joined once enough bytes arrived for the command being framed
    (``_need``), so a large argument arriving in many reads costs one copy, not one per read.
    Complete canonical commands are framed ahead in one pass of hiredis (``_framed`` and
    their end positions ``_ends``) and handed out one by one.
    """

    def __init__(
        self,
        max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
        *,
        fast: bool = True,
        canonical: bool = CANONICAL_COMPILED,
    ) -> None:
        """``fast=False`` keeps to the Python framer (the reference the tests compare with);
        ``canonical`` frames ahead with :func:`frame_canonical` instead of hiredis (the
        default when that module is compiled)."""
        self._fast = fast
        self._canonical = canonical
        self._data = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._avail = 0
        self._need = 1
        self._framed: list[list[bytes]] = []
        self._ends: list[int] = []
        self._next = 0
        self.max_bulk_len = max_bulk_len
        self.authenticated = True
        self.last_nbytes = 0
        """Bytes the command last returned by :meth:`next_argv` consumed."""
        self.last_inline = False
        self.last_start = 0
        self._inline_next = False
        """A line of blanks only leaves the next request inline whatever its first byte, as
        in a real 8.1.8 (an empty line does not)."""
        self._big_arg = 0
        self._big_arg_at = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if data:
            self._chunks.append(bytes(data))
            self._avail += len(data)

    @property
    def pending(self) -> int:
        """Bytes received but not yet framed into a command (the query buffer)."""
        return self._avail

    def query_buffer(self) -> tuple[int, int, int]:
        """CLIENT LIST's ``qbuf`` and ``qbuf-free``, and the bytes the query buffer takes.

        As Valkey does for an argument of at least 32 KiB, the bytes before it (already
        taken into the command's arguments) are not counted, and room for all of it is
        counted as soon as its header arrived."""
        if self._big_arg:
            used = self._avail - self._big_arg_at
            size = max(used, self._big_arg + 2)
            return used, size - used, size
        return self._avail, 0, self._avail

    def take_pending(self) -> bytes:
        """Hand over the bytes not yet framed (a connection turning into a replication link)."""
        rest = self._data[self._pos :] + b"".join(self._chunks)
        self._big_arg = self._big_arg_at = 0
        self._data, self._pos, self._chunks, self._avail, self._need = b"", 0, [], 0, 1
        self._framed, self._ends, self._next = [], [], 0
        return rest

    @property
    def buffer(self) -> bytes:
        """The bytes :attr:`last_start` indexes (the command last returned lies in them)."""
        return self._data

    def last_span(self) -> tuple[bytes, int, int] | None:
        """Where the command last returned lies, as ``(buffer, start, nbytes)``, when it was a
        multibulk (None: inline): one call where reading :attr:`buffer`, :attr:`last_start`
        and :attr:`last_nbytes` from interpreted code takes a lookup each."""
        if self.last_inline:
            return None
        return self._data, self.last_start, self.last_nbytes

    def last_raw(self) -> bytes | None:
        """The bytes of the command last returned, when they are its canonical multibulk."""
        if self.last_inline:
            return None
        return self._data[self.last_start : self.last_start + self.last_nbytes]

    def next(self) -> Request | None:
        argv = self.next_argv()
        if argv is None:
            return None
        return Request(argv, self.last_nbytes, self.last_inline)

    def take_framed(self) -> tuple[list[list[bytes]], list[int]]:
        """The commands framed ahead and not handed out yet, with their sizes in bytes, all
        taken at once (the replica's applier runs them in a row); both lists empty when
        none is framed (:meth:`next_argv` then frames what follows)."""
        i = self._next
        framed = self._framed
        if i >= len(framed):
            return [], []
        ends = self._ends
        start = self._pos
        batch = framed[i:] if i else framed
        sizes = [end - prev for prev, end in zip([start, *ends[i:-1]], ends[i:], strict=True)]
        end = ends[-1]
        self._avail -= end - start
        self._pos = end
        self._framed, self._ends, self._next = [], [], 0
        self.last_nbytes = sizes[-1]
        self.last_start = end - sizes[-1]
        self.last_inline = False
        return batch, sizes

    def alike(self, first: list[bytes]) -> list[list[bytes]]:
        """The commands framed right after ``first`` (the command last returned) that have its
        name, spelled alike, and its argument count (a pipeline of plain GETs, SETs, LPUSHes
        or HSETs, which may run as one); still to be taken (:meth:`take`). Empty when the
        next one differs or is not framed yet."""
        i = self._next
        framed = self._framed
        name = first[0]
        count = len(first)
        j = i
        while j < len(framed):
            argv = framed[j]
            if len(argv) != count or argv[0] != name:
                break
            j += 1
        return framed[i:j]

    def take(self, n: int) -> None:
        """Hand out the next ``n`` framed commands at once (as :meth:`alike` gave them): the
        command last returned and these then lie in :attr:`last_start`/:attr:`last_nbytes`."""
        if n <= 0:
            return
        j = self._next + n
        end = self._ends[j - 1]
        self._avail -= end - self._pos
        self._pos = end
        self._next = j
        self.last_nbytes = end - self.last_start

    def next_argv(self) -> list[bytes] | None:
        """The next command's arguments (``[]`` for an empty multibulk or a blank line), or
        ``None`` until more bytes arrive; :attr:`last_nbytes` says how many bytes it used."""
        i = self._next
        if i < len(self._framed):
            self._next = i + 1
            start = self._pos
            end = self._ends[i]
            self.last_start = start
            self.last_nbytes = end - start
            self.last_inline = False
            self._pos = end
            self._avail -= end - start
            return self._framed[i]
        if self._avail < self._need:
            return None
        if self._framed:
            self._framed, self._ends, self._next = [], [], 0
        if self._chunks:
            if self._pos < len(self._data):
                self._data = self._data[self._pos :] + b"".join(self._chunks)
            else:
                self._data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            self._pos = 0
            self._chunks = []
        if self._data[self._pos] == 0x2A and not self._inline_next:  # '*'
            if self._fast and self.authenticated and self._frame_ahead():
                self._need = 1
                self._big_arg = 0
                return self.next_argv()
            req = self._multibulk()
        else:
            req = self._inline()
        if req is None:
            return None
        self.last_start = self._pos - req.nbytes
        self.last_nbytes = req.nbytes
        self.last_inline = req.inline
        self._avail -= req.nbytes
        self._need = 1
        self._big_arg = 0
        return req.argv

    def _frame_ahead(self) -> bool:
        """Frame the complete canonical commands at the front of the buffer with hiredis;
        False when the first command is not one (the Python framer then decides)."""
        data = self._data
        pos = self._pos
        if self._canonical:
            return frame_canonical(data, pos, self.max_bulk_len, self._framed, self._ends) > pos
        # hiredis allocates an array's slots when it reads the header: it must never see a
        # huge count (a peer sending *3000000000 would make it allocate gigabytes), so it is
        # fed only the bytes before one; the Python framer then answers Valkey's error
        huge = _HUGE_ARRAY_HEADER.search(data, pos)
        stop = huge.start() if huge is not None else len(data)
        if stop <= pos:
            return False
        reader = hiredis.Reader()
        reader.feed(data, pos, stop - pos)
        gets = reader.gets
        framed = self._framed
        ends = self._ends
        max_bulk = self.max_bulk_len
        try:
            replies = list(iter(gets, False))
        except hiredis.ProtocolError:
            replies = []
        if replies and all(replies) and stop - pos <= _PACKED_CHECK_MAX:
            # the common case, checked at C speed: every reply re-encoded canonically, the
            # whole run equal to the bytes it came from (any other reply type, number form
            # or separator differs from them, or is refused by pack_command)
            try:
                packed = list(map(pack_command, map(tuple, replies)))
            except TypeError:
                packed = []
            if packed:
                run = b"".join(packed)
                if data.startswith(run, pos) and (
                    len(run) <= max_bulk or max(map(len, chain.from_iterable(replies))) <= max_bulk
                ):
                    framed.extend(replies)
                    offsets = accumulate(map(len, packed), initial=pos)
                    next(offsets)
                    ends.extend(offsets)
                    return True
        return self._frame_checked(data, pos, stop)

    def _frame_checked(self, data: bytes, pos: int, stop: int) -> bool:
        """:meth:`_frame_ahead` one argument at a time, up to the first command that is not
        canonical (a fresh hiredis pass over the same bytes)."""
        reader = hiredis.Reader()
        reader.feed(data, pos, stop - pos)
        gets = reader.gets
        framed = self._framed
        ends = self._ends
        table = _HEADER_LEN
        max_bulk = self.max_bulk_len
        while True:
            try:
                argv = gets()
            except hiredis.ProtocolError:
                break
            if type(argv) is not list or not argv or data[pos] != 0x2A:
                break
            n = len(argv)
            end = pos + (table[n] if n < 4096 else len(str(n)) + 3)
            for arg in argv:
                if type(arg) is not bytes or data[end] != 0x24:  # '$'
                    break
                size = len(arg)
                if size > max_bulk:
                    break
                end += (table[size] if size < 4096 else len(str(size)) + 3) + size
                if data[end] != 0x0D or data[end + 1] != 0x0A:
                    break
                end += 2
            else:
                framed.append(argv)
                ends.append(end)
                pos = end
                continue
            break
        return bool(framed)

    def _incomplete(self, need: int) -> None:
        self._need = need

    def _inline(self) -> Request | None:
        data, start = self._data, self._pos
        nl = _find_c(data, b"\n", start)
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
        self._inline_next = not argv and bool(line)
        self._pos = nl + 1
        return Request(argv, nl + 1 - start, inline=True)

    def _multibulk(self) -> Request | None:
        data, start = self._data, self._pos
        end = len(data)
        cr = data.find(b"\r", start)
        if cr < 0:
            if end - start > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big mbulk count string")
            self._incomplete(end - start + 1)
            return None
        if cr + 2 > end:
            self._incomplete(cr + 2 - start)
            return None
        if data[cr + 1] != 0x0A:
            raise ProtocolError("Protocol error: invalid CRLF in request")
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
        for _ in range(count):
            if pos >= end:
                self._incomplete(end - start + 1)
                return None
            cr = data.find(b"\r", pos)
            if cr < 0:
                if end - pos > PROTO_INLINE_MAX_SIZE:
                    raise ProtocolError("Protocol error: too big bulk count string")
                self._incomplete(end - start + 1)
                return None
            if cr + 2 > end:
                self._incomplete(cr + 2 - start)
                return None
            if data[pos] != 0x24:  # '$'
                raise ProtocolError(f"Protocol error: expected '$', got '{_shown(data[pos])}'")
            if data[cr + 1] != 0x0A:
                raise ProtocolError("Protocol error: invalid CRLF in request")
            text = data[pos + 1 : cr]
            # string2ll: at most 20 characters (a longer run of digits is no int64 either)
            if not text.isdigit() or len(text) > 20 or (text[0] == 0x30 and len(text) > 1):
                raise ProtocolError("Protocol error: invalid bulk length")
            length = int(text)
            if length > self.max_bulk_len:
                raise ProtocolError("Protocol error: invalid bulk length")
            if length > UNAUTH_MAX_BULK and not self.authenticated:
                raise ProtocolError("Protocol error: unauthenticated bulk length")
            data_start = cr + 2
            data_end = data_start + length
            if data_end + 2 > end:
                self._incomplete(data_end + 2 - start)
                if length >= PROTO_MBULK_BIG_ARG:
                    self._big_arg, self._big_arg_at = length, data_start - start
                return None
            if data[data_end] != 0x0D or data[data_end + 1] != 0x0A:
                raise ProtocolError("Protocol error: invalid CRLF in request")
            argv.append(data[data_start:data_end])
            pos = data_end + 2
        self._pos = pos
        return Request(argv, pos - start)


def _shown(byte: int) -> str:
    """A byte as an error reply shows it: raw (surrogate-escaped), CR and LF as spaces."""
    return " " if byte in (0x0D, 0x0A) else bytes((byte,)).decode("utf-8", "surrogateescape")


def _find_c(data: bytes, char: bytes, start: int) -> int:
    """``strchr`` on the query buffer, as 8.1.8 finds an inline line's end: the first ``char``
    from ``start``, or -1 when there is none or a NUL comes first (such a line then waits
    for its end until the 64 KB limit)."""
    found = data.find(char, start)
    if found < 0 or data.find(b"\0", start, found) >= 0:
        return -1
    return found


def _parse_int(buf: bytes, start: int, stop: int) -> int | None:
    """Valkey's ``string2ll`` on ``buf[start:stop]``: strict decimal, no spaces or plus sign."""
    text = buf[start:stop]
    if not text or len(text) > 20:
        return None
    digits = text[1:] if text[0] == 0x2D else text
    if not digits.isdigit() or (digits[0] == 0x30 and len(text) > 1):  # no "-0", no "01"
        return None
    return int(text)
