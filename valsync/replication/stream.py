"""Replica side of the command stream: framing with exact offset accounting.

Theory of operation: after the snapshot (or ``+CONTINUE``) every byte the primary sends is a
RESP multibulk command that counts toward the replication offset. The reader wraps the
strict :class:`~valsync.resp.request.RequestParser` and keeps Valkey's two counters:

* :attr:`ReplicationStreamReader.read_offset` (``slave_read_repl_offset``): start offset plus
  every stream byte framed so far;
* :attr:`ReplicationStreamReader.applied_offset` (``slave_repl_offset``, what ACKs carry):
  advanced by :meth:`ReplicationStreamReader.command_done` after the driver executed a
  command, and, like Valkey, *not* while a ``MULTI`` is open: the offset jumps over the whole
  transaction when ``EXEC`` is done, so an ACK never points inside a transaction.

``REPLCONF GETACK`` is flagged on the :class:`StreamCommand`: answer it with
:func:`encode_ack` of ``applied_offset`` *before* calling ``command_done`` for it (the offset
before the GETACK, as captured: ``ACK 1071`` for a GETACK spanning 1071..1108).

:meth:`ReplicationStreamReader.next_argv` and :meth:`ReplicationStreamReader.argv_done` are
the same two steps without a :class:`StreamCommand` per command, for the applier's hot loop.

A lone newline from the primary is a keepalive (sent by a replica-of-a-replica whose own link
is down): it is consumed but never counted, and never surfaces as a command. Any other inline
text from a primary is a desync and raises :class:`RemoteProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from valsync.replication.errors import RemoteProtocolError
from valsync.resp.reply import encode_command
from valsync.resp.request import ProtocolError, RequestParser


@dataclass(frozen=True, slots=True)
class StreamCommand:
    """One stream command and the offsets it spans: ``start`` before it, ``end`` after it."""

    argv: list[bytes]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def name(self) -> bytes:
        return self.argv[0].lower() if self.argv else b""

    @property
    def is_getack(self) -> bool:
        return is_getack(self.argv)


# what the applier's fast lane leaves to the full path: transactions and REPLCONF GETACK
STREAM_CONTROL = frozenset((b"multi", b"exec", b"discard", b"replconf"))


def is_getack(argv: list[bytes]) -> bool:
    """``REPLCONF GETACK ...``, in any letter case."""
    return (
        len(argv) >= 2
        and len(argv[0]) == 8
        and argv[0].lower() == b"replconf"
        and argv[1].lower() == b"getack"
    )


def encode_ack(offset: int, fack: int | None = None) -> bytes:
    """``REPLCONF ACK <offset> [FACK <aof offset>]`` as a replica sends it."""
    argv = [b"REPLCONF", b"ACK", str(offset).encode()]
    if fack is not None:
        argv += [b"FACK", str(fack).encode()]
    return encode_command(argv)


class ReplicationStreamReader:
    """Frames the primary's stream into :class:`StreamCommand` with exact offsets."""

    def __init__(self, start_offset: int) -> None:
        self._parser = RequestParser()
        self.read_offset = start_offset
        self.applied_offset = start_offset
        self.in_multi = False
        self.keepalives = 0
        self.command_start = start_offset

    @property
    def pending(self) -> int:
        """Bytes received but not yet framed into a command."""
        return self._parser.pending

    def receive_data(self, data: bytes) -> None:
        self._parser.feed(data)

    def next_command(self) -> StreamCommand | None:
        """The next complete command, or ``None`` until more bytes arrive."""
        argv = self.next_argv()
        if argv is None:
            return None
        return StreamCommand(argv, self.command_start, self.read_offset)

    def next_argv(self) -> list[bytes] | None:
        """The next command's arguments; it spans ``command_start`` to ``read_offset``."""
        parser = self._parser
        while True:
            try:
                argv = parser.next_argv()
            except ProtocolError as exc:
                raise RemoteProtocolError(f"bad replication stream: {exc}") from exc
            if argv is None:
                return None
            if parser.last_inline:
                if argv:
                    raise RemoteProtocolError("Master using the inline protocol. Desync?")
                self.keepalives += 1
                continue
            if not argv:
                # ``*0``/``*-1``: framed and counted by Valkey, but nothing to run.
                self.read_offset += parser.last_nbytes
                if not self.in_multi:
                    self.applied_offset = self.read_offset
                continue
            self.command_start = self.read_offset
            self.read_offset += parser.last_nbytes
            return argv

    def take_framed(self) -> tuple[list[list[bytes]], list[int]]:
        """The commands already framed, with their sizes, for the applier's fast lane; it
        accounts each one with :meth:`framed` (or the same arithmetic inline) and
        :meth:`argv_done`. Empty lists when none is framed: :meth:`next_argv` frames more."""
        return self._parser.take_framed()

    def framed(self, size: int) -> None:
        """The next command taken with :meth:`take_framed` starts here and spans ``size``."""
        self.command_start = self.read_offset
        self.read_offset += size

    def command_done(self, cmd: StreamCommand) -> None:
        """The driver executed ``cmd``: update MULTI state and the applied offset."""
        name = cmd.name
        if name == b"multi":
            self.in_multi = True
        elif name in (b"exec", b"discard"):
            self.in_multi = False
        if not self.in_multi:
            self.applied_offset = cmd.end

    def argv_done(self, argv: list[bytes]) -> None:
        """:meth:`command_done` for the command :meth:`next_argv` returned last."""
        name = argv[0]
        if 4 <= len(name) <= 7:
            name = name.lower()
            if name == b"multi":
                self.in_multi = True
            elif name == b"exec" or name == b"discard":
                self.in_multi = False
        if not self.in_multi:
            self.applied_offset = self.read_offset

    def discard_pending_transaction(self) -> None:
        """Link lost: like Valkey's cached primary, drop a half-received command or transaction.

        Afterwards ``read_offset == applied_offset``: the offset to resume from with
        ``PSYNC <replid> <applied_offset + 1>`` on a new connection.
        """
        self._parser = RequestParser()
        self.in_multi = False
        self.read_offset = self.applied_offset
