"""Sans-IO model of the dashboard: INFO/ROLE/CLIENT LIST replies in, frozen snapshots out.

Nothing here does I/O or reads a clock: the poller passes ``taken_at`` in, so the same recorded
INFO text always gives the same snapshot and the same rendered frame (the snapshot tests rely
on it). Only fields every Valkey exposes are required; anything missing (an older server, or a
section valsync does not fill yet) becomes ``None`` and the view leaves it out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Samples kept per server for the sparklines; at 4 Hz that is the last 15 seconds.
HISTORY_SAMPLES = 60


def parse_info(text: str | bytes) -> dict[str, str]:
    """``INFO`` text to a flat ``{field: value}``; section headers and blank lines dropped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value
    return fields


def parse_kv_list(value: str) -> dict[str, str]:
    """``ip=1.2.3.4,port=6380,state=online`` (the INFO slaveN value) to a dict."""
    out: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if sep:
            out[key] = val
    return out


def parse_client_list(text: str | bytes) -> list[dict[str, str]]:
    """CLIENT LIST reply, one dict per client (``id=3 addr=... flags=S ...``)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    clients = []
    for line in text.splitlines():
        entry: dict[str, str] = {}
        for item in line.split(" "):
            key, sep, val = item.partition("=")
            if sep:
                entry[key] = val
        if entry:
            clients.append(entry)
    return clients


def _int(fields: Mapping[str, str], key: str) -> int | None:
    try:
        return int(fields[key])
    except (KeyError, ValueError):
        return None


def _float(fields: Mapping[str, str], key: str) -> float | None:
    try:
        return float(fields[key])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    """One ``slaveN:`` line of a primary's INFO replication.

    ``port`` is the replica's announced listening port, ``lag`` Valkey's seconds since the last
    REPLCONF ACK, ``type`` is ``replica`` or, for dual-channel sync, ``rdb-channel`` /
    ``main-channel`` (absent before Valkey 8).
    """

    ip: str
    port: int
    state: str
    offset: int
    lag: int
    type: str | None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A replica's link to its primary (INFO replication of a ``role:slave`` server)."""

    master_host: str
    master_port: int
    status: str
    last_io_seconds_ago: int | None
    sync_in_progress: bool
    sync_total_bytes: int | None
    sync_read_bytes: int | None
    sync_last_io_seconds_ago: int | None
    down_since_seconds: int | None
    repl_offset: int | None
    role_state: str | None  # ROLE's view: connect / connecting / sync / connected / handshake


@dataclass(frozen=True, slots=True)
class ForkInfo:
    """A child process in progress (BGSAVE, AOF rewrite or module fork), from INFO persistence.

    Valkey reports keys done and a percentage, not bytes written, so that is what the bar shows.
    """

    kind: str  # "rdb", "aof" or "module"
    keys_processed: int | None
    keys_total: int | None
    percent: float | None
    seconds: int | None
    cow_bytes: int | None


@dataclass(frozen=True, slots=True)
class ServerSnapshot:
    """What one poll learnt about one server. ``up=False`` carries only the error and target."""

    host: str
    port: int
    taken_at: float
    up: bool
    error: str | None = None
    down_for: float | None = None
    pending: bool = False  # not polled yet: shown as "connecting", not as down
    version: str | None = None
    is_valsync: bool = (
        False  # valsync says ``valsync:1`` in INFO server, besides its Valkey version
    )
    role: str | None = None
    replid: str | None = None
    replid2: str | None = None
    master_repl_offset: int | None = None
    second_repl_offset: int | None = None
    backlog_active: bool | None = None
    backlog_size: int | None = None
    backlog_first_byte_offset: int | None = None
    backlog_histlen: int | None = None
    connected_replicas: int | None = None
    replicas: tuple[ReplicaInfo, ...] = ()
    link: LinkInfo | None = None
    fork: ForkInfo | None = None
    ops_per_sec: int | None = None
    input_kbps: float | None = None
    output_kbps: float | None = None
    input_repl_kbps: float | None = None
    output_repl_kbps: float | None = None
    replica_clients: int | None = None
    replica_output_bytes: int | None = None
    failover_state: str | None = None
    """INFO ``master_failover_state`` (``no-failover`` when idle)."""

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_primary(self) -> bool:
        return self.role == "master"

    def replica_lag_bytes(self, replica: ReplicaInfo) -> int | None:
        """Bytes of stream the replica has not acknowledged (0 while it waits for a full sync)."""
        if self.master_repl_offset is None or replica.state != "online":
            return None
        return max(0, self.master_repl_offset - replica.offset)

    @property
    def max_lag_bytes(self) -> int | None:
        lags = [lag for r in self.replicas if (lag := self.replica_lag_bytes(r)) is not None]
        return max(lags) if lags else None


def down_snapshot(
    host: str, port: int, *, taken_at: float, error: str, down_for: float | None = None
) -> ServerSnapshot:
    """A server we could not poll: shown as down and retried, never raised."""
    return ServerSnapshot(host, port, taken_at, up=False, error=error, down_for=down_for)


def pending_snapshot(host: str, port: int, *, taken_at: float) -> ServerSnapshot:
    """Placeholder until the first poll answers, so the first frame does not cry "down"."""
    return ServerSnapshot(host, port, taken_at, up=False, pending=True)


def _replicas(fields: Mapping[str, str]) -> tuple[ReplicaInfo, ...]:
    out = []
    for key in sorted(
        (k for k in fields if k.startswith("slave") and k[5:].isdigit()), key=lambda k: int(k[5:])
    ):
        kv = parse_kv_list(fields[key])
        out.append(
            ReplicaInfo(
                ip=kv.get("ip", "?"),
                port=_int(kv, "port") or 0,
                state=kv.get("state", "?"),
                offset=_int(kv, "offset") or 0,
                lag=_int(kv, "lag") or 0,
                type=kv.get("type"),
            )
        )
    return tuple(out)


def _role_state(role_reply: object) -> str | None:
    """The link state word of a replica's ROLE reply (``[slave, host, port, state, offset]``)."""
    if isinstance(role_reply, list) and len(role_reply) >= 4 and role_reply[0] == b"slave":
        state = role_reply[3]
        if isinstance(state, bytes):
            return state.decode("ascii", "replace")
    return None


def _link(fields: Mapping[str, str], role_reply: object) -> LinkInfo:
    return LinkInfo(
        master_host=fields.get("master_host", "?"),
        master_port=_int(fields, "master_port") or 0,
        status=fields.get("master_link_status", "?"),
        last_io_seconds_ago=_int(fields, "master_last_io_seconds_ago"),
        sync_in_progress=fields.get("master_sync_in_progress") == "1",
        sync_total_bytes=_int(fields, "master_sync_total_bytes"),
        sync_read_bytes=_int(fields, "master_sync_read_bytes"),
        sync_last_io_seconds_ago=_int(fields, "master_sync_last_io_seconds_ago"),
        down_since_seconds=_int(fields, "master_link_down_since_seconds"),
        repl_offset=_int(fields, "slave_repl_offset"),
        role_state=_role_state(role_reply),
    )


def _fork(fields: Mapping[str, str]) -> ForkInfo | None:
    if fields.get("rdb_bgsave_in_progress") == "1":
        kind, seconds = "rdb", _int(fields, "rdb_current_bgsave_time_sec")
    elif fields.get("aof_rewrite_in_progress") == "1":
        kind, seconds = "aof", _int(fields, "aof_current_rewrite_time_sec")
    elif fields.get("module_fork_in_progress") == "1":
        kind, seconds = "module", None
    else:
        return None
    return ForkInfo(
        kind=kind,
        keys_processed=_int(fields, "current_save_keys_processed"),
        keys_total=_int(fields, "current_save_keys_total"),
        percent=_float(fields, "current_fork_perc"),
        seconds=seconds,
        cow_bytes=_int(fields, "current_cow_size"),
    )


def build_snapshot(
    host: str,
    port: int,
    *,
    taken_at: float,
    info: str | bytes,
    role_reply: object = None,
    client_list: str | bytes | None = None,
) -> ServerSnapshot:
    """One snapshot from the replies of one poll.

    ``info`` is the concatenated text of INFO server/replication/persistence/stats (any subset:
    sections are merged by field name, as they never share one).
    """
    fields = parse_info(info)
    role = fields.get("role")
    if role is None and isinstance(role_reply, list) and role_reply:
        head = role_reply[0]
        role = head.decode() if isinstance(head, bytes) else None
    replica_clients = replica_output = None
    if client_list is not None:
        replicas = [c for c in parse_client_list(client_list) if "S" in c.get("flags", "")]
        replica_clients = len(replicas)
        replica_output = sum(_int(c, "omem") or 0 for c in replicas)
    backlog_active = _int(fields, "repl_backlog_active")
    return ServerSnapshot(
        host=host,
        port=port,
        taken_at=taken_at,
        up=True,
        version=fields.get("valkey_version") or fields.get("redis_version"),
        is_valsync="valsync" in fields,
        role=role,
        replid=fields.get("master_replid"),
        replid2=fields.get("master_replid2"),
        master_repl_offset=_int(fields, "master_repl_offset"),
        second_repl_offset=_int(fields, "second_repl_offset"),
        backlog_active=None if backlog_active is None else bool(backlog_active),
        backlog_size=_int(fields, "repl_backlog_size"),
        backlog_first_byte_offset=_int(fields, "repl_backlog_first_byte_offset"),
        backlog_histlen=_int(fields, "repl_backlog_histlen"),
        connected_replicas=_int(fields, "connected_slaves"),
        replicas=_replicas(fields),
        link=_link(fields, role_reply) if role == "slave" else None,
        fork=_fork(fields),
        ops_per_sec=_int(fields, "instantaneous_ops_per_sec"),
        input_kbps=_float(fields, "instantaneous_input_kbps"),
        output_kbps=_float(fields, "instantaneous_output_kbps"),
        input_repl_kbps=_float(fields, "instantaneous_input_repl_kbps"),
        output_repl_kbps=_float(fields, "instantaneous_output_repl_kbps"),
        replica_clients=replica_clients,
        replica_output_bytes=replica_output,
        failover_state=fields.get("master_failover_state"),
    )


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of a sparkline: write throughput and worst replica lag at ``taken_at``."""

    taken_at: float
    repl_bytes_per_sec: float | None
    ops_per_sec: int | None
    max_lag_bytes: int | None


@dataclass
class History:
    """Ring of :class:`Sample` per server, fed every snapshot; the only mutable state of the view.

    Throughput is the ``master_repl_offset`` delta over the poll interval, which counts exactly
    the bytes written to the replication stream (a change of replid, i.e. a failover or a new
    full sync, restarts the series instead of showing a spike).
    """

    maxlen: int = HISTORY_SAMPLES
    samples: dict[str, deque[Sample]] = field(default_factory=dict)
    _last: dict[str, ServerSnapshot] = field(default_factory=dict)

    def record(self, snap: ServerSnapshot) -> None:
        ring = self.samples.setdefault(snap.target, deque(maxlen=self.maxlen))
        if not snap.up:
            # A gap in the sparkline, and the next rate starts afresh after the outage.
            self._last.pop(snap.target, None)
            ring.append(Sample(snap.taken_at, None, None, None))
            return
        rate = None
        prev = self._last.get(snap.target)
        if (
            prev is not None
            and prev.replid == snap.replid
            and prev.master_repl_offset is not None
            and snap.master_repl_offset is not None
            and snap.taken_at > prev.taken_at
        ):
            delta = max(0, snap.master_repl_offset - prev.master_repl_offset)
            rate = delta / (snap.taken_at - prev.taken_at)
        self._last[snap.target] = snap
        ring.append(Sample(snap.taken_at, rate, snap.ops_per_sec, snap.max_lag_bytes))

    def record_all(self, snaps: Iterable[ServerSnapshot]) -> None:
        for snap in snaps:
            self.record(snap)

    def for_target(self, target: str) -> list[Sample]:
        return list(self.samples.get(target, ()))
