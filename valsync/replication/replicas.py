"""The primary's view of its replicas: states, per-replica record, REPLCONF, INFO and ROLE.

Theory of operation: every client that sends REPLCONF gets a :class:`ReplicaInfo` (Valkey
keeps these fields on any client, since REPLCONF precedes SYNC/PSYNC). :func:`apply_replconf`
is Valkey's ``replconfCommand`` as a pure function over that record: it mutates the record
left to right, stops at the first error exactly where Valkey does, and returns a
:class:`ReplconfOutcome` saying what to reply (``None``: reply nothing) and what the driver
must do (an ACK arrived, a GETACK was asked). Once the client is a replica, its
:class:`ReplicaState` drives keepalives, INFO (:func:`info_replica_line`) and ROLE
(:func:`role_primary_reply`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from valsync.resp.reply import Reply
from valsync.resp.request import split_inline_args

NET_HOST_STR_LEN = 256
OK_BYTES = b"+OK\r\n"


class ReplicaState(enum.Enum):
    """Valkey's ``REPLICA_STATE_*``; :attr:`info_state` is the INFO word (None: not listed)."""

    WAIT_BGSAVE_START = "wait_bgsave_start"
    WAIT_BGSAVE_END = "wait_bgsave_end"
    SEND_BULK = "send_bulk"
    ONLINE = "online"
    RDB_TRANSMITTED = "rdb_transmitted"
    BG_RDB_LOAD = "bg_rdb_load"

    @property
    def info_state(self) -> str | None:
        return _INFO_STATE[self]

    def wants_keepalive(self, socket_child: bool) -> bool:
        """Whether the 1 s cron writes a ``\\n`` to a replica in this state (section 3.5).

        ``socket_child``: the running RDB child writes to sockets; then replicas already tied
        to it get nothing (a newline would land inside the payload).
        """
        if self is ReplicaState.WAIT_BGSAVE_START:
            return True
        return self is ReplicaState.WAIT_BGSAVE_END and not socket_child


_INFO_STATE: dict[ReplicaState, str | None] = {
    ReplicaState.WAIT_BGSAVE_START: "wait_bgsave",
    ReplicaState.WAIT_BGSAVE_END: "wait_bgsave",
    ReplicaState.SEND_BULK: "send_bulk",
    ReplicaState.ONLINE: "online",
    ReplicaState.RDB_TRANSMITTED: None,
    ReplicaState.BG_RDB_LOAD: "bg_transfer",
}


class Capa(enum.Flag):
    """``REPLCONF capa`` bits."""

    NONE = 0
    EOF = enum.auto()
    PSYNC2 = enum.auto()
    DUAL_CHANNEL = enum.auto()


class Req(enum.Flag):
    """Replica requirements (``replica_req``): what the snapshot must be.

    Replicas share a snapshot only when their requirements are identical, so the RDB-channel
    bit is part of it, as in Valkey.
    """

    NONE = 0
    EXCLUDE_DATA = enum.auto()
    EXCLUDE_FUNCTIONS = enum.auto()
    RDB_CHANNEL = enum.auto()

    @property
    def filtered(self) -> bool:
        """``REPLICA_REQ_RDB_MASK``: any filter forces a socket (``$EOF``) transfer."""
        return bool(self & (Req.EXCLUDE_DATA | Req.EXCLUDE_FUNCTIONS))


@dataclass
class ReplicaInfo:
    """Per-client replication fields (Valkey's ``repl_data`` plus the related flags)."""

    client_id: int
    ip: str = ""
    """Address from ``REPLCONF ip-address``; empty means use the peer address."""
    listening_port: int = 0
    capa: Capa = Capa.NONE
    req: Req = Req.NONE
    rdb_only: bool = False
    rdb_channel: bool = False
    version: int = 0
    """Announced version as ``major << 16 | minor << 8 | patch``; 0 if never announced."""
    ack_offset: int = 0
    aof_ack_offset: int = 0
    ack_time: int = 0
    """Seconds (caller's clock) of the last ACK."""
    psync_initial_offset: int = 0
    pre_psync: bool = False
    state: ReplicaState | None = None
    associated_rdb_client_id: int | None = None
    start_stream_on_ack: bool = False
    """EOF transfer done: hold the stream until the first ACK (section 4.1)."""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def is_replica(self) -> bool:
        return self.state is not None

    @property
    def version_text(self) -> str:
        v = self.version
        return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"


@dataclass(frozen=True, slots=True)
class ReplconfOutcome:
    """What :func:`apply_replconf` decided.

    Attributes:
        reply: bytes to send, or ``None`` (ACK and GETACK never reply).
        ack: an ``ACK`` updated the record; the driver re-checks WAIT, online transitions.
        getack: ``GETACK`` received; a replica with a live primary link sends an ACK now.
    """

    reply: bytes | None
    ack: bool = False
    getack: bool = False


def _err(text: str) -> ReplconfOutcome:
    return ReplconfOutcome(b"-ERR " + text.encode() + b"\r\n")


def parse_long(raw: bytes) -> int | None:
    """Valkey's ``string2ll``: strict decimal within signed 64 bits."""
    text = raw.decode("ascii", "replace")
    if not text or len(text) > 20:
        return None
    digits = text[1:] if text[0] == "-" else text
    if (
        not digits
        or any(c not in "0123456789" for c in digits)
        or (len(digits) > 1 and digits[0] == "0")
    ):
        return None
    if text == "-0":
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value


def parse_version(raw: bytes) -> int | None:
    """Valkey's ``version2num``: ``x.y.z``, parts 0..255 (empty parts count as 0)."""
    if not raw:
        return None
    parts = raw.split(b".")
    if len(parts) != 3:
        return None
    out = 0
    for p in parts:
        if any(c not in b"0123456789" for c in p) or (p and int(p) > 255):
            return None
        out = (out << 8) | (int(p) if p else 0)
    return out


_NOT_INT = "value is not an integer or out of range"


def _range01(raw: bytes) -> int | ReplconfOutcome:
    value = parse_long(raw)
    if value is None:
        return _err(_NOT_INT)
    if not 0 <= value <= 1:
        return _err("value is out of range, value must between 0 and 1")
    return value


def apply_replconf(
    info: ReplicaInfo,
    args: Sequence[bytes],
    *,
    now: int,
    dual_channel_enabled: bool = False,
    diskless_sync: bool = True,
    rdb_client_exists: Callable[[int], bool] = lambda _cid: False,
) -> ReplconfOutcome:
    """Valkey's ``replconfCommand``; ``args`` is the argv after ``REPLCONF``.

    ``dual_channel_enabled``/``diskless_sync`` are this server's
    ``dual-channel-replication-enabled`` and ``repl-diskless-sync``: ``capa dual-channel`` is
    accepted only with both. ``now`` (seconds) stamps ACKs.
    """
    if len(args) % 2 == 1:
        return ReplconfOutcome(b"-ERR syntax error\r\n")
    for j in range(0, len(args), 2):
        option = args[j].lower()
        value = args[j + 1]
        if option == b"listening-port":
            port = parse_long(value)
            if port is None:
                return _err(_NOT_INT)
            info.listening_port = port
        elif option == b"ip-address":
            if len(value) >= NET_HOST_STR_LEN:
                return _err(
                    "REPLCONF ip-address provided by replica instance is too long: "
                    f"{len(value)} bytes"
                )
            info.ip = value.decode("utf-8", "replace")
        elif option == b"capa":
            cap = value.lower()
            if cap == b"eof":
                info.capa |= Capa.EOF
            elif cap == b"psync2":
                info.capa |= Capa.PSYNC2
            elif cap == b"dual-channel" and dual_channel_enabled and diskless_sync:
                info.capa |= Capa.DUAL_CHANNEL
        elif option == b"ack":
            # Never replies, and ends processing, like Valkey (only an attached replica).
            if not info.is_replica:
                return ReplconfOutcome(None)
            offset = parse_long(value)
            if offset is None:
                return ReplconfOutcome(None)
            if offset > info.ack_offset:
                info.ack_offset = offset
            if len(args) > j + 3 and args[j + 2].lower() == b"fack":
                fack = parse_long(args[j + 3])
                if fack is None:
                    return ReplconfOutcome(None)
                if fack > info.aof_ack_offset:
                    info.aof_ack_offset = fack
            info.ack_time = now
            return ReplconfOutcome(None, ack=True)
        elif option == b"getack":
            return ReplconfOutcome(None, getack=True)
        elif option == b"rdb-only":
            got = _range01(value)
            if isinstance(got, ReplconfOutcome):
                return got
            info.rdb_only = got == 1
        elif option == b"rdb-filter-only":
            filters = split_inline_args(value)
            if filters is None:
                return _err("Missing rdb-filter-only values")
            info.req |= Req.EXCLUDE_DATA | Req.EXCLUDE_FUNCTIONS
            for word in filters:
                if word.lower() == b"functions":
                    info.req &= ~Req.EXCLUDE_FUNCTIONS
                else:
                    return _err(
                        f"Unsupported rdb-filter-only option: {word.decode('utf-8', 'replace')}"
                    )
        elif option == b"rdb-channel":
            got = _range01(value)
            if isinstance(got, ReplconfOutcome):
                return got
            info.rdb_channel = got == 1
            if info.rdb_channel:
                info.req |= Req.RDB_CHANNEL
            else:
                info.req &= ~Req.RDB_CHANNEL
        elif option == b"set-rdb-client-id":
            cid = parse_long(value)
            if cid is None:
                return _err(_NOT_INT)
            if not rdb_client_exists(cid):
                return _err(f"Unrecognized RDB client id {cid}")
            info.associated_rdb_client_id = cid
        elif option == b"version":
            version = parse_version(value)
            if version is None:
                return _err(f"Unrecognized version format: {value.decode('utf-8', 'replace')}")
            info.version = version
        else:
            return _err(f"Unrecognized REPLCONF option: {args[j].decode('utf-8', 'replace')}")
    return ReplconfOutcome(OK_BYTES)


def replica_type(info: ReplicaInfo) -> str:
    """INFO ``type``: ``rdb-channel``, ``main-channel`` (loading in background) or ``replica``."""
    if info.rdb_channel:
        return "rdb-channel"
    if info.state is ReplicaState.BG_RDB_LOAD:
        return "main-channel"
    return "replica"


def info_replica_line(index: int, info: ReplicaInfo, peer_ip: str, now: int) -> str | None:
    """``slaveN:ip=...,port=...,state=...,offset=...,lag=...,type=...`` or None if not listed.

    ``lag`` is seconds since the last ACK for online replicas and 0 otherwise, as in Valkey.
    """
    if info.state is None or info.state.info_state is None:
        return None
    lag = now - info.ack_time if info.state is ReplicaState.ONLINE else 0
    ip = info.ip or peer_ip
    return (
        f"slave{index}:ip={ip},port={info.listening_port},state={info.state.info_state},"
        f"offset={info.ack_offset},lag={lag},type={replica_type(info)}"
    )


def role_primary_reply(
    master_repl_offset: int, replicas: Sequence[tuple[ReplicaInfo, str]]
) -> Reply:
    """ROLE on a primary: ``[master, offset, [[ip, port, acked]...]]`` for online replicas.

    ``replicas`` pairs each record with its peer address (used when no ip was announced).
    """
    rows: list[Reply] = []
    for info, peer_ip in replicas:
        if info.state is not ReplicaState.ONLINE:
            continue
        rows.append(
            [
                (info.ip or peer_ip).encode(),
                str(info.listening_port).encode(),
                str(info.ack_offset).encode(),
            ]
        )
    return [b"master", master_repl_offset, rows]


def role_replica_reply(host: str, port: int, link_state: str, offset: int) -> Reply:
    """ROLE on a replica: ``[slave, host, port, state, offset]`` (offset -1 when not connected)."""
    return [b"slave", host.encode(), port, link_state.encode(), offset]
