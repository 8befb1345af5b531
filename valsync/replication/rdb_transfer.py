"""Framing of the RDB payload on a replication link (section 4 of the protocol notes).

Theory of operation (replica side): after the PSYNC reply (or after an inline ``SYNC``) the
primary may send keepalive newlines, then one header line: ``$<len>\\r\\n`` (disk framing:
exactly ``len`` RDB bytes follow, no trailer) or ``$EOF:<40 chars>\\r\\n`` (socket framing:
the RDB bytes then the same 40 chars). :class:`RdbPayloadReceiver` is fed whatever the socket
produced and returns events: :class:`RdbKeepalive`, :class:`RdbBegin`, :class:`RdbChunk` (RDB
bytes only, never framing), :class:`RdbEnd`, or :class:`RdbAborted` for a ``-ERR`` line. Once
the payload ended, the bytes that followed it (the command stream) are in
:attr:`RdbPayloadReceiver.unused_data`, exactly.

For EOF framing the receiver holds back the last 39 bytes it has seen, since they might be
the start of the mark, and ends the payload at the first occurrence of the mark. Valkey's
disk loader checks only the last 40 bytes of each read, which works because a primary sends
nothing after the mark before the replica's first ACK; searching the whole read also handles
a peer that does not wait. The mark is random per transfer, so it cannot occur in the RDB
by accident in practice.

The primary side needs only the header lines: :func:`eof_mark_frame`, :func:`disk_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass

from valsync.replication.errors import RemoteProtocolError

EOF_MARK_LEN = 40
MAX_HEADER_LINE = 64 * 1024


@dataclass(frozen=True, slots=True)
class RdbKeepalive:
    """A newline before the header: refresh the transfer timeout."""


@dataclass(frozen=True, slots=True)
class RdbBegin:
    """The header line: ``size`` for ``$<len>``, ``eof_mark`` for ``$EOF:<mark>``."""

    size: int | None
    eof_mark: bytes | None


@dataclass(frozen=True, slots=True)
class RdbChunk:
    data: bytes


@dataclass(frozen=True, slots=True)
class RdbEnd:
    """The whole RDB was delivered; :attr:`RdbPayloadReceiver.unused_data` holds what followed."""


@dataclass(frozen=True, slots=True)
class RdbAborted:
    """The primary sent an error line instead of a payload (e.g. BGSAVE failed)."""

    message: str


RdbEvent = RdbKeepalive | RdbBegin | RdbChunk | RdbEnd | RdbAborted


def eof_mark_frame(mark: bytes) -> bytes:
    """The header of a socket (diskless) transfer; ``mark`` is 40 random hex bytes."""
    if len(mark) != EOF_MARK_LEN:
        raise ValueError("an EOF mark is exactly 40 bytes")
    return b"$EOF:" + mark + b"\r\n"


def endoff_frame(offset: int, replid: str, dbid: int, client_id: int) -> bytes:
    """The dual-channel RDB channel's first line, sent just before the fork (section 5)."""
    return f"$ENDOFF:{offset} {replid} {dbid} {client_id}\r\n".encode()


def disk_frame(length: int) -> bytes:
    """The header of a disk transfer of ``length`` RDB bytes (no trailer follows)."""
    return b"$%d\r\n" % length


class RdbPayloadReceiver:
    """Replica-side parser of the payload framing; see the module docstring."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = "header"  # header -> body -> done | aborted
        self._remaining = 0
        self._mark: bytes | None = None
        self.size: int | None = None
        self.received = 0
        """RDB bytes delivered so far (INFO ``master_sync_read_bytes``)."""
        self.unused_data = b""

    @property
    def done(self) -> bool:
        return self._state in ("done", "aborted")

    @property
    def eof_mark(self) -> bytes | None:
        return self._mark

    def receive_data(self, data: bytes) -> list[RdbEvent]:
        """Feed bytes from the socket; returns the events they complete."""
        if self._state in ("done", "aborted"):
            self.unused_data += data
            return []
        events: list[RdbEvent] = []
        if self._state == "header":
            self._buf += data
            data = self._parse_header(events)
            if self._state != "body":
                return events
        if self._mark is None:
            self._body_sized(data, events)
        else:
            self._body_eof(data, events)
        return events

    def _parse_header(self, events: list[RdbEvent]) -> bytes:
        buf = self._buf
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > MAX_HEADER_LINE:
                    raise RemoteProtocolError("RDB header line too long")
                return b""
            line = bytes(buf[:nl]).rstrip(b"\r")
            del buf[: nl + 1]
            if not line:
                events.append(RdbKeepalive())
                continue
            if line[:1] == b"-":
                self._state = "aborted"
                self.unused_data = bytes(buf)
                buf.clear()
                events.append(RdbAborted(line[1:].decode("utf-8", "replace")))
                return b""
            if line[:1] != b"$":
                raise RemoteProtocolError(
                    f"Bad protocol from PRIMARY, the first byte is not '$': {line[:64]!r}"
                )
            if line.startswith(b"$EOF:") and len(line) >= 5 + EOF_MARK_LEN:
                self._mark = line[5 : 5 + EOF_MARK_LEN]
                events.append(RdbBegin(None, self._mark))
            else:
                text = line[1:]
                if not text.isdigit() or len(text) > 19:
                    raise RemoteProtocolError(f"Bad RDB length line from PRIMARY: {line[:64]!r}")
                self.size = self._remaining = int(text)
                events.append(RdbBegin(self.size, None))
            self._state = "body"
            rest = bytes(buf)
            buf.clear()
            return rest

    def _body_sized(self, data: bytes, events: list[RdbEvent]) -> None:
        take = min(self._remaining, len(data))
        if take:
            events.append(RdbChunk(data[:take]))
            self._remaining -= take
            self.received += take
        if self._remaining == 0:
            self._state = "done"
            self.unused_data = data[take:]
            events.append(RdbEnd())

    def _body_eof(self, data: bytes, events: list[RdbEvent]) -> None:
        assert self._mark is not None
        held = len(self._buf)
        window = self._buf + data if held else data
        idx = window.find(self._mark)
        if idx >= 0:
            if idx:
                events.append(RdbChunk(bytes(window[:idx])))
                self.received += idx
            self.unused_data = bytes(window[idx + EOF_MARK_LEN :])
            self._buf.clear()
            self._state = "done"
            events.append(RdbEnd())
            return
        keep = EOF_MARK_LEN - 1
        if len(window) > keep:
            out = bytes(window[: len(window) - keep])
            events.append(RdbChunk(out))
            self.received += len(out)
            self._buf = bytearray(window[len(window) - keep :])
        else:
            self._buf = bytearray(window)
