"""Encoding of execution units into replication stream bytes, exactly as Valkey writes them.

Theory of operation: a command execution (a plain command, a transaction, a script) yields a
unit: the list of :class:`Propagated` it produced. The encoder turns
a unit into bytes: units of more than one command are wrapped in ``MULTI``/``EXEC``; before
any command whose DB differs from the DB last selected *in the stream* a ``SELECT`` is
emitted (inside the ``MULTI`` when wrapped, since Valkey propagates ``MULTI`` with no DB).
Commands with DB ``-1`` (PING, ``REPLCONF GETACK``, MULTI, EXEC) never trigger a SELECT.
The last selected DB is shared by every replica (Valkey's ``replicas_eldb``), so one encoder
serves the whole stream; a full sync forgets it with :meth:`StreamEncoder.reset_selected_db`.

The caller appends the bytes to the backlog and to each attached replica's queue; note that,
like Valkey's ``replicationFeedReplicas``, nothing should be encoded at all while there is no
backlog and no replica (the stream does not exist then, and the SELECT state must not move).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from valsync.resp.reply import encode_command

MULTI_BYTES = b"*1\r\n$5\r\nMULTI\r\n"
EXEC_BYTES = b"*1\r\n$4\r\nEXEC\r\n"
PING_BYTES = b"*1\r\n$4\r\nping\r\n"
"""The replication cron's ping: lower case, as captured from 8.1.8 and 9.1.2."""
GETACK_BYTES = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"
"""What WAIT/WAITAOF and FAILOVER put in the stream (counted in offsets)."""
NO_DB = -1


@dataclass(slots=True)
class Propagated:
    """One command to send down the replication stream, with the DB it applies to (-1: none);
    ``raw``, when known, is ``argv`` already encoded as a multibulk."""

    dbid: int
    argv: list[bytes]
    raw: bytes | None = None


def select_bytes(dbid: int) -> bytes:
    return encode_command([b"SELECT", str(dbid).encode()])


class StreamEncoder:
    """Stateful encoder of the replication stream (remembers the selected DB)."""

    def __init__(self) -> None:
        self.selected_db = NO_DB

    def reset_selected_db(self) -> None:
        """Make the next keyed command emit SELECT (Valkey sets ``replicas_eldb = -1``).

        Called when a replica is set up for a full resync: its snapshot carries no stream DB.
        """
        self.selected_db = NO_DB

    def encode_command(self, dbid: int, argv: Sequence[bytes]) -> bytes:
        """One command, preceded by SELECT if its DB differs from the stream's."""
        out = bytearray()
        self._encode_into(out, dbid, argv)
        return bytes(out)

    def _encode_into(self, out: bytearray, dbid: int, argv: Sequence[bytes]) -> None:
        if dbid != NO_DB and dbid != self.selected_db:
            out += select_bytes(dbid)
            self.selected_db = dbid
        out += encode_command(list(argv))

    def encode_unit(self, unit: Sequence[Propagated]) -> bytes:
        """An execution unit; more than one command is wrapped in MULTI/EXEC.

        A command that carries its request bytes (``raw``) is copied, not encoded again.
        """
        if len(unit) == 1:
            item = unit[0]
            if item.raw is not None and item.dbid in (self.selected_db, NO_DB):
                return item.raw
        if not unit:
            return b""
        out = bytearray()
        wrap = len(unit) > 1
        if wrap:
            out += MULTI_BYTES
        for item in unit:
            if item.raw is not None:
                if item.dbid != NO_DB and item.dbid != self.selected_db:
                    out += select_bytes(item.dbid)
                    self.selected_db = item.dbid
                out += item.raw
            else:
                self._encode_into(out, item.dbid, item.argv)
        if wrap:
            out += EXEC_BYTES
        return bytes(out)

    def ping(self) -> bytes:
        return PING_BYTES

    def getack(self) -> bytes:
        return GETACK_BYTES
