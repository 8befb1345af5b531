"""Replica side of the replication handshake, as a sans-IO state machine (section 2).

Theory of operation: the driver connects, sends :meth:`ReplicaHandshake.initiate` (a PING),
then feeds every byte it reads to :meth:`ReplicaHandshake.receive_data`, sending the bytes of
each :class:`SendBytes` event and reacting to the others. The machine walks Valkey's states::

    RECEIVE_PING_REPLY --reply--> (AUTH?, listening-port, ip-address?, capa, version written
    at once) --> one reply read per command, in order --> PSYNC written
    --> RECEIVE_PSYNC_REPLY --> FullResyncReply | Continue | DualChannelSyncReply | TryLater
                               | SyncFallback (inline ``SYNC`` written) | HandshakeFailed

A terminal event ends the machine; the bytes that came after the reply line (the RDB payload
or the stream) are in :attr:`ReplicaHandshake.unused_data`, to be fed to
:class:`~valsync.replication.rdb_transfer.RdbPayloadReceiver` or the stream reader.

Replies are read as lines like Valkey's ``connSyncReadLine`` (``\\r\\n`` stripped). PING
accepts any non-error plus ``-NOAUTH``/``-NOPERM``/``-ERR operation not permitted``; an AUTH
error is fatal; REPLCONF errors are only logged (:class:`HandshakeNotice`). While waiting for
the PSYNC reply a bare newline is a keepalive (:class:`Keepalive`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from valsync.replication.errors import RemoteProtocolError
from valsync.replication.ids import REPLID_LEN
from valsync.resp.reply import encode_command

MAX_REPLY_LINE = 64 * 1024
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
_LEADING_INT = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)")
SYNC_INLINE = b"SYNC\r\n"


class HandshakeState(enum.Enum):
    """Valkey's ``repl_state`` values from ``CONNECTING`` to ``TRANSFER``/``CONNECTED``."""

    CONNECTING = "connecting"
    RECEIVE_PING_REPLY = "receive_ping_reply"
    RECEIVE_AUTH_REPLY = "receive_auth_reply"
    RECEIVE_PORT_REPLY = "receive_port_reply"
    RECEIVE_IP_REPLY = "receive_ip_reply"
    RECEIVE_CAPA_REPLY = "receive_capa_reply"
    RECEIVE_VERSION_REPLY = "receive_version_reply"
    RECEIVE_PSYNC_REPLY = "receive_psync_reply"
    RECEIVE_RDB_CLIENT_ID_REPLY = "receive_rdb_client_id_reply"
    DONE = "done"
    FAILED = "failed"

    @property
    def role_state(self) -> str:
        """The ROLE/INFO word for this state (``connecting``/``handshake``/``sync``)."""
        if self is HandshakeState.CONNECTING:
            return "connecting"
        return "handshake"


@dataclass(frozen=True, slots=True)
class HandshakeConfig:
    """What the replica announces; mirrors Valkey's config names."""

    listening_port: int
    """``replica-announce-port`` if non-zero, else ``port``."""
    version: str
    """Sent in ``REPLCONF version`` (a 9.x primary picks the RDB version from it)."""
    announce_ip: str | None = None
    primary_user: str | None = None
    primary_auth: str | None = None
    dual_channel: bool = False


@dataclass(frozen=True, slots=True)
class CachedPrimary:
    """The history we can resume: ``replid`` and the last *processed* offset."""

    replid: str
    offset: int


@dataclass(frozen=True, slots=True)
class SendBytes:
    data: bytes


@dataclass(frozen=True, slots=True)
class Keepalive:
    """A newline while waiting for the PSYNC reply: refresh the ``repl-timeout`` timer."""


@dataclass(frozen=True, slots=True)
class HandshakeNotice:
    """Something to log; the handshake goes on (e.g. a REPLCONF error)."""

    message: str


@dataclass(frozen=True, slots=True)
class FullResyncReply:
    """``+FULLRESYNC``; ``replid`` is ``""`` and ``offset`` -1 when the line was malformed."""

    replid: str
    offset: int


@dataclass(frozen=True, slots=True)
class Continue:
    """``+CONTINUE [<id>]``: ``replid`` is the advertised 40-char ID or ``None``."""

    replid: str | None


@dataclass(frozen=True, slots=True)
class DualChannelSyncReply:
    """``+DUALCHANNELSYNC``: open the RDB channel (section 5)."""


@dataclass(frozen=True, slots=True)
class TryLater:
    """``-NOMASTERLINK``/``-LOADING``: close and retry from the cron."""

    message: str


@dataclass(frozen=True, slots=True)
class SyncFallback:
    """PSYNC unsupported: ``SYNC`` was written (a :class:`SendBytes` precedes this event).

    The payload follows with no ``+FULLRESYNC``; offset starts at -1 and the replica must
    not send periodic ACKs (section 2.5).
    """

    message: str


@dataclass(frozen=True, slots=True)
class HandshakeFailed:
    """A fatal reply (PING or AUTH error): close, reconnect later."""

    message: str


HandshakeEvent = (
    SendBytes
    | Keepalive
    | HandshakeNotice
    | FullResyncReply
    | Continue
    | DualChannelSyncReply
    | TryLater
    | SyncFallback
    | HandshakeFailed
)

_PING_OK_ERRORS = ("-NOAUTH", "-NOPERM", "-ERR operation not permitted")


def psync_command(cached: CachedPrimary | None, *, failover: bool = False) -> bytes:
    """``PSYNC ? -1`` or ``PSYNC <replid> <offset+1>`` (``FAILOVER`` appended on request)."""
    if cached is None:
        argv = [b"PSYNC", b"?", b"-1"]
    else:
        argv = [b"PSYNC", cached.replid.encode(), str(cached.offset + 1).encode()]
    if failover:
        argv.append(b"FAILOVER")
    return encode_command(argv)


class ReplicaHandshake:
    """See the module docstring."""

    def __init__(
        self,
        config: HandshakeConfig,
        cached: CachedPrimary | None = None,
        *,
        failover: bool = False,
    ) -> None:
        self.config = config
        self.cached = cached
        self.failover = failover
        self.state = HandshakeState.CONNECTING
        self._buf = bytearray()
        self._pending: list[HandshakeState] = []
        self.psync_sent: bytes = b""
        self.unused_data = b""
        self._rdb_client_id: int | None = None

    @classmethod
    def for_dual_channel_main(
        cls, config: HandshakeConfig, rdb_client_id: int, replid: str, offset: int
    ) -> ReplicaHandshake:
        """The main channel after ``$ENDOFF`` (section 5, steps 7-8).

        :meth:`initiate` then returns ``REPLCONF set-rdb-client-id <id>``; once it is answered
        (an error is fatal) the machine sends ``PSYNC <replid> <offset + 1>`` and reads the
        reply as usual (expect :class:`Continue`).
        """
        hs = cls(config, CachedPrimary(replid, offset))
        hs._rdb_client_id = rdb_client_id
        return hs

    @property
    def done(self) -> bool:
        return self.state in (HandshakeState.DONE, HandshakeState.FAILED)

    def initiate(self) -> bytes:
        """The first bytes to send once TCP is connected: ``PING``."""
        if self.state is not HandshakeState.CONNECTING:
            raise RuntimeError("initiate() called twice")
        if self._rdb_client_id is not None:
            self.state = HandshakeState.RECEIVE_RDB_CLIENT_ID_REPLY
            return encode_command(
                [b"REPLCONF", b"set-rdb-client-id", str(self._rdb_client_id).encode()]
            )
        self.state = HandshakeState.RECEIVE_PING_REPLY
        return encode_command([b"PING"])

    def handshake_commands(self) -> tuple[bytes, list[HandshakeState]]:
        """The pipelined batch written after the PING reply, and the replies it expects."""
        cfg = self.config
        out = bytearray()
        expect: list[HandshakeState] = []
        if cfg.primary_auth is not None:
            argv = [b"AUTH"]
            if cfg.primary_user is not None:
                argv.append(cfg.primary_user.encode())
            argv.append(cfg.primary_auth.encode())
            out += encode_command(argv)
            expect.append(HandshakeState.RECEIVE_AUTH_REPLY)
        out += encode_command([b"REPLCONF", b"listening-port", str(cfg.listening_port).encode()])
        expect.append(HandshakeState.RECEIVE_PORT_REPLY)
        if cfg.announce_ip is not None:
            out += encode_command([b"REPLCONF", b"ip-address", cfg.announce_ip.encode()])
            expect.append(HandshakeState.RECEIVE_IP_REPLY)
        capa = [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]
        if cfg.dual_channel:
            capa += [b"capa", b"dual-channel"]
        out += encode_command(capa)
        expect.append(HandshakeState.RECEIVE_CAPA_REPLY)
        out += encode_command([b"REPLCONF", b"version", cfg.version.encode()])
        expect.append(HandshakeState.RECEIVE_VERSION_REPLY)
        return bytes(out), expect

    def receive_data(self, data: bytes) -> list[HandshakeEvent]:
        """Feed bytes read from the primary; returns what to send and what happened."""
        if self.state is HandshakeState.CONNECTING:
            raise RuntimeError("call initiate() first")
        if self.done:
            self.unused_data += data
            return []
        self._buf += data
        events: list[HandshakeEvent] = []
        while not self.done:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_REPLY_LINE:
                    raise RemoteProtocolError("reply line from primary too long")
                break
            line = bytes(self._buf[:nl]).rstrip(b"\r").decode("utf-8", "replace")
            del self._buf[: nl + 1]
            self._on_line(line, events)
        if self.done:
            self.unused_data = bytes(self._buf)
            self._buf.clear()
        return events

    def _on_line(self, line: str, events: list[HandshakeEvent]) -> None:
        st = self.state
        if st is HandshakeState.RECEIVE_PING_REPLY:
            if line.startswith("-") and not line.startswith(_PING_OK_ERRORS):
                self._fail(events, f"Error reply to PING from primary: '{line}'")
                return
            batch, self._pending = self.handshake_commands()
            self.state = self._pending.pop(0)
            events.append(SendBytes(batch))
            return
        if st is HandshakeState.RECEIVE_PSYNC_REPLY:
            self._on_psync_reply(line, events)
            return
        if st is HandshakeState.RECEIVE_RDB_CLIENT_ID_REPLY:
            if line.startswith("-"):
                self._fail(events, f"Primary rejected set-rdb-client-id: {line}")
                return
        elif st is HandshakeState.RECEIVE_AUTH_REPLY:
            if line.startswith("-"):
                self._fail(events, f"Unable to AUTH to PRIMARY: {line}")
                return
        elif line.startswith("-"):
            what = {
                HandshakeState.RECEIVE_PORT_REPLY: "REPLCONF listening-port",
                HandshakeState.RECEIVE_IP_REPLY: "REPLCONF ip-address",
                HandshakeState.RECEIVE_CAPA_REPLY: "REPLCONF capa",
                HandshakeState.RECEIVE_VERSION_REPLY: "REPLCONF version",
            }[st]
            events.append(
                HandshakeNotice(f"(Non critical) Primary does not understand {what}: {line}")
            )
        if self._pending:
            self.state = self._pending.pop(0)
            return
        self.psync_sent = psync_command(self.cached, failover=self.failover)
        self.state = HandshakeState.RECEIVE_PSYNC_REPLY
        events.append(SendBytes(self.psync_sent))

    def _on_psync_reply(self, line: str, events: list[HandshakeEvent]) -> None:
        if not line:
            events.append(Keepalive())
            return
        if line.startswith("+FULLRESYNC"):
            # Valkey: the ID is what lies between the first and second space and must be
            # exactly 40 chars; otherwise blank it so the next PSYNC cannot succeed.
            parts = line.split(" ", 2)
            if len(parts) == 3 and len(parts[1]) == REPLID_LEN:
                events.append(FullResyncReply(parts[1], _strtoll(parts[2])))
            else:
                events.append(HandshakeNotice("Primary replied with wrong +FULLRESYNC syntax."))
                events.append(FullResyncReply("", -1))
            self.state = HandshakeState.DONE
            return
        if line.startswith("+CONTINUE"):
            rest = line[10:]
            events.append(Continue(rest if len(rest) == REPLID_LEN else None))
            self.state = HandshakeState.DONE
            return
        if line.startswith("+DUALCHANNELSYNC"):
            events.append(DualChannelSyncReply())
            self.state = HandshakeState.DONE
            return
        if line.startswith(("-NOMASTERLINK", "-LOADING")):
            events.append(TryLater(line))
            self.state = HandshakeState.DONE
            return
        if not line.startswith("-ERR"):
            events.append(HandshakeNotice(f"Unexpected reply to PSYNC from primary: {line}"))
        events.append(SendBytes(SYNC_INLINE))
        events.append(SyncFallback(line))
        self.state = HandshakeState.DONE

    def _fail(self, events: list[HandshakeEvent], message: str) -> None:
        events.append(HandshakeFailed(message))
        self.state = HandshakeState.FAILED


def _strtoll(text: str) -> int:
    """C ``strtoll(text, NULL, 10)``: leading ASCII digits, 0 if none, saturated to int64."""
    match = _LEADING_INT.match(text)
    if match is None:
        return 0
    sign, digits = match.groups()
    value = int(digits) if len(digits) <= 19 else INT64_MAX + 1
    value = -value if sign == "-" else value
    return max(INT64_MIN, min(INT64_MAX, value))


def _decimal(text: str) -> int | None:
    """A whole field that is a decimal int64 (``[+-]digits``), else None."""
    match = _LEADING_INT.fullmatch(text)
    if match is None or len(match.group(2)) > 19:
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


# --- the RDB channel of a dual-channel sync (section 5, steps 3-6) -------------------------


@dataclass(frozen=True, slots=True)
class EndOffset:
    """``$ENDOFF:<offset> <replid> <dbid> <client-id>``: the snapshot's end and our client ID.

    The RDB payload follows on the same connection; the main channel resumes with
    :meth:`ReplicaHandshake.for_dual_channel_main` (``client_id``, ``replid``, ``offset``).
    """

    offset: int
    replid: str
    dbid: int
    client_id: int


RdbChannelEvent = SendBytes | Keepalive | EndOffset | HandshakeFailed


def parse_endoff(line: str) -> EndOffset | None:
    """Valkey's ``sscanf("$ENDOFF:%lld %40s %d %llu")``; None when it does not match."""
    if not line.startswith("$ENDOFF:"):
        return None
    fields = line[8:].split()
    if len(fields) < 4 or len(fields[1]) > REPLID_LEN:
        return None
    offset, dbid, client_id = _decimal(fields[0]), _decimal(fields[2]), _decimal(fields[3])
    if offset is None or dbid is None or client_id is None:
        return None
    return EndOffset(offset, fields[1], dbid, client_id)


class RdbChannelHandshake:
    """Replica side of the RDB channel: AUTH?, one REPLCONF, (ip-address), SYNC, ``$ENDOFF``.

    Theory of operation: :meth:`initiate` returns the pipelined commands; each reply is read
    in order and any error aborts the whole dual-channel attempt (Valkey closes both
    connections and restarts). Then inline ``SYNC`` is sent, keepalive newlines are skipped,
    and the ``$ENDOFF`` line ends the machine with :class:`EndOffset`; the ``$EOF`` payload
    that follows is in :attr:`unused_data` for
    :class:`~valsync.replication.rdb_transfer.RdbPayloadReceiver`.

    ``announce_version`` selects the 9.x form (``version`` inside the REPLCONF and a separate
    ``ip-address``); without it the 8.1.8 form is sent (no version, no ip-address).
    """

    def __init__(self, config: HandshakeConfig, *, announce_version: bool = True) -> None:
        self.config = config
        self.announce_version = announce_version
        self._buf = bytearray()
        self._replies_left = 0
        self._waiting_endoff = False
        self.done = False
        self.failed = False
        self.unused_data = b""

    def initiate(self) -> bytes:
        cfg = self.config
        out = bytearray()
        if cfg.primary_auth is not None:
            argv = [b"AUTH"]
            if cfg.primary_user is not None:
                argv.append(cfg.primary_user.encode())
            argv.append(cfg.primary_auth.encode())
            out += encode_command(argv)
            self._replies_left += 1
        replconf = [b"REPLCONF", b"capa", b"eof", b"rdb-only", b"1", b"rdb-channel", b"1"]
        replconf += [b"listening-port", str(cfg.listening_port).encode()]
        if self.announce_version:
            replconf += [b"version", cfg.version.encode()]
        out += encode_command(replconf)
        self._replies_left += 1
        if self.announce_version and cfg.announce_ip is not None:
            out += encode_command([b"REPLCONF", b"ip-address", cfg.announce_ip.encode()])
            self._replies_left += 1
        return bytes(out)

    def receive_data(self, data: bytes) -> list[RdbChannelEvent]:
        if self.done:
            self.unused_data += data
            return []
        self._buf += data
        events: list[RdbChannelEvent] = []
        while not self.done:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_REPLY_LINE:
                    raise RemoteProtocolError("reply line from primary too long")
                break
            line = bytes(self._buf[:nl]).rstrip(b"\r").decode("utf-8", "replace")
            del self._buf[: nl + 1]
            if self._waiting_endoff:
                if not line:
                    events.append(Keepalive())
                    continue
                endoff = parse_endoff(line)
                if endoff is None:
                    events.append(HandshakeFailed(f"Received unexpected $ENDOFF response: {line}"))
                    self.failed = True
                else:
                    events.append(endoff)
                self.done = True
            elif line.startswith("-"):
                events.append(HandshakeFailed(f"Dual channel replication handshake error: {line}"))
                self.failed = self.done = True
            else:
                self._replies_left -= 1
                if self._replies_left == 0:
                    events.append(SendBytes(SYNC_INLINE))
                    self._waiting_endoff = True
        if self.done:
            self.unused_data = bytes(self._buf)
            self._buf.clear()
        return events
