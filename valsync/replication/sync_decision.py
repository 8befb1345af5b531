"""What a primary does with SYNC/PSYNC: Valkey's ``syncCommand`` as a pure decision.

Theory of operation: the driver freezes what matters into a :class:`SyncRequest` (the
client's command and REPLCONF-announced capabilities) and a :class:`ServerView` (role, link,
failover, IDs, backlog range, running child, replicas already waiting for a snapshot), calls
:func:`decide_sync`, and carries out the returned :class:`PsyncDecision` in order:

1. ``promote`` (PSYNC ... FAILOVER accepted): become a primary *before* anything else, as
   Valkey's ``replicationUnsetPrimary``: ``shift_replication_id(view.next_replid)``, drop the
   link to our old primary and our sub-replicas, ``StreamEncoder.reset_selected_db()``;
2. ``action``: one of :class:`Ignore`, :class:`Refuse` (send ``reply`` bytes),
   :class:`ContinuePartial` (send ``reply`` then the backlog from ``offset``),
   :class:`DualChannelSync` (send ``+DUALCHANNELSYNC``), :class:`FullResync`;
3. ``stats``: add to INFO ``sync_full``/``sync_partial_ok``/``sync_partial_err``.

For a full resync the client becomes a replica in WAIT_BGSAVE_START; ``create_backlog`` means
this is the first replica and there is no backlog: ``new_history(next_replid)`` then create
it. ``plan`` says how the snapshot will come (section 8.1). The ``+FULLRESYNC`` line itself is
sent only when the replica is tied to a snapshot (:func:`fullresync_reply`), never here,
except for :class:`AttachToDiskBgsave` whose offset is known.

The cron side is :func:`diskless_cron_decision`; the disk/socket choice is
:func:`rdb_target`. Nothing here does I/O, reads a clock or draws random numbers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from valsync.replication.replicas import Capa, Req, parse_long

# --- inputs ------------------------------------------------------------------------------


class ChildKind(enum.Enum):
    """What background child is running (Valkey's ``child_type``/``rdb_child_type``)."""

    NONE = "none"
    RDB_DISK = "rdb_disk"
    RDB_SOCKET = "rdb_socket"
    OTHER = "other"
    """AOF rewrite, a module fork...: blocks starting a BGSAVE."""


class RdbTarget(enum.Enum):
    DISK = "disk"
    SOCKET = "socket"


@dataclass(frozen=True, slots=True)
class WaitingReplica:
    """A replica already in WAIT_BGSAVE_END (tied to the running child)."""

    client_id: int
    capa: Capa
    req: Req
    rdb_only: bool
    psync_initial_offset: int


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """The SYNC/PSYNC command and what the client announced with REPLCONF."""

    argv: tuple[bytes, ...]
    capa: Capa = Capa.NONE
    req: Req = Req.NONE
    rdb_only: bool = False
    already_replica: bool = False
    pending_output: bool = False
    associated_rdb_client_id: int | None = None
    """Dual-channel main channel (``set-rdb-client-id``): continue in BG_RDB_LOAD."""
    replica_name: str = ""
    """``ip:listening-port`` (or the address) for the log lines."""


@dataclass(frozen=True, slots=True)
class ServerView:
    """The server state the decision reads (a snapshot; the decision changes nothing)."""

    replid: str
    replid2: str
    second_repl_offset: int
    master_repl_offset: int
    next_replid: str
    """The ID to use if this decision starts a new history (promotion, backlog creation)."""
    backlog_first_byte: int | None = None
    """``None`` when there is no backlog."""
    backlog_histlen: int = 0
    is_replica: bool = False
    primary_link_up: bool = False
    failover_in_progress: bool = False
    has_other_replicas: bool = False
    child: ChildKind = ChildKind.NONE
    waiting_bgsave_end: tuple[WaitingReplica, ...] = ()
    diskless_sync: bool = True
    diskless_sync_delay: int = 5


# --- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ignore:
    """The client is already a replica: no reply at all."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Send ``reply`` (an error line) and change nothing."""

    reply: bytes


@dataclass(frozen=True, slots=True)
class ContinuePartial:
    """Reply ``reply`` then stream the backlog from ``offset``; the replica is online
    (or BG_RDB_LOAD when ``bg_rdb_load``, a dual-channel main channel)."""

    reply: bytes
    offset: int
    backlog_bytes: int
    bg_rdb_load: bool = False


@dataclass(frozen=True, slots=True)
class DualChannelSync:
    reply: bytes = b"+DUALCHANNELSYNC\r\n"


@dataclass(frozen=True, slots=True)
class AttachToDiskBgsave:
    """Join the running disk BGSAVE: copy ``other_client_id``'s queued stream (unless
    rdb-only), reply ``+FULLRESYNC <replid> <offset>`` now, state WAIT_BGSAVE_END."""

    other_client_id: int
    offset: int
    copy_buffer: bool


class WaitReason(enum.Enum):
    CANNOT_ATTACH = (
        "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC"
    )
    SOCKET_CHILD = "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC"
    OTHER_CHILD = (
        "No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed"
    )


@dataclass(frozen=True, slots=True)
class WaitNextBgsave:
    """Stay in WAIT_BGSAVE_START; the cron (:func:`diskless_cron_decision`) starts one."""

    reason: WaitReason


@dataclass(frozen=True, slots=True)
class DelayDiskless:
    """Diskless with a delay: wait so more replicas can share the snapshot."""


@dataclass(frozen=True, slots=True)
class StartBgsave:
    """Start a BGSAVE now for every WAIT_BGSAVE_START replica whose req equals ``req``."""

    target: RdbTarget
    mincapa: Capa
    req: Req


RdbPlan = AttachToDiskBgsave | WaitNextBgsave | DelayDiskless | StartBgsave


@dataclass(frozen=True, slots=True)
class FullResync:
    create_backlog: bool
    plan: RdbPlan
    pre_psync: bool
    """Came as SYNC: no ``+FULLRESYNC`` line, no ACKs expected."""


SyncAction = Ignore | Refuse | ContinuePartial | DualChannelSync | FullResync


@dataclass(frozen=True, slots=True)
class SyncStats:
    sync_full: int = 0
    sync_partial_ok: int = 0
    sync_partial_err: int = 0


@dataclass(frozen=True, slots=True)
class PsyncDecision:
    action: SyncAction
    promote: bool = False
    stats: SyncStats = SyncStats()
    notices: tuple[str, ...] = ()
    """Log lines (notice level) that say why a PSYNC could not continue."""


# --- error replies (exact bytes, see errors/error-replies.txt) ----------------------------

ERR_FAILING_OVER = b"-NOMASTERLINK Can't SYNC while failing over\r\n"
ERR_NO_PRIMARY_LINK = b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n"
ERR_PENDING_OUTPUT = b"-ERR SYNC and PSYNC are invalid with pending output\r\n"
ERR_FILTER_NEEDS_EOF = b"-ERR Filtered replica requires EOF capability\r\n"
ERR_FAILOVER_TO_PRIMARY = b"-ERR PSYNC FAILOVER can't be sent to a master.\r\n"
ERR_FAILOVER_REPLID = b"-ERR PSYNC FAILOVER replid must match my replid.\r\n"
ERR_NOT_INTEGER = b"-ERR value is not an integer or out of range\r\n"
ERR_BGSAVE_FAILED = b"-ERR BGSAVE failed, replication can't continue\r\n"


def fullresync_reply(replid: str, offset: int) -> bytes:
    """``+FULLRESYNC <replid> <offset>\\r\\n``, sent when the snapshot for the replica starts."""
    return f"+FULLRESYNC {replid} {offset}\r\n".encode()


def continue_reply(replid: str, psync2: bool) -> bytes:
    """``+CONTINUE <replid>`` for psync2-capable replicas, bare ``+CONTINUE`` otherwise."""
    return f"+CONTINUE {replid}\r\n".encode() if psync2 else b"+CONTINUE\r\n"


def rdb_target(diskless_sync: bool, mincapa: Capa, req: Req) -> RdbTarget:
    """Socket iff (diskless or a filter) and every selected replica has ``capa eof``."""
    if (diskless_sync or req.filtered) and Capa.EOF in mincapa:
        return RdbTarget.SOCKET
    return RdbTarget.DISK


# --- the decision ------------------------------------------------------------------------


def partial_resync_acceptable(
    view: ServerView, replid: str, replid2: str, second_offset: int, req_id: str, offset: int
) -> bool:
    """Section 3.3: the ID rule (case-insensitive) and the backlog range rule."""
    return not partial_resync_refusal(view, replid, replid2, second_offset, req_id, offset, "")


def partial_resync_refusal(
    view: ServerView,
    replid: str,
    replid2: str,
    second_offset: int,
    req_id: str,
    offset: int,
    replica: str,
) -> tuple[str, ...]:
    """Why a PSYNC cannot continue, as Valkey logs it; empty when it can."""
    wanted = req_id.lower()
    if wanted != replid.lower() and (wanted != replid2.lower() or offset > second_offset):
        if req_id.startswith("?"):
            return (f"Full resync requested by replica {replica}",)
        if wanted != replid2.lower():
            return (
                "Partial resynchronization not accepted: Replication ID mismatch (Replica "
                f"asked for '{req_id}', my replication IDs are '{replid}' and '{replid2}')",
            )
        return (
            "Partial resynchronization not accepted: Requested offset for second ID was "
            f"{offset}, but I can reply up to {second_offset}",
        )
    first = view.backlog_first_byte
    if first is None or not first <= offset <= first + view.backlog_histlen:
        lines = [
            f"Unable to partial resync with replica {replica} for lack of backlog (Replica "
            f"request was: {offset})."
        ]
        if offset > view.master_repl_offset:
            lines.append(
                f"Warning: replica {replica} tried to PSYNC with an offset that is greater "
                "than the primary replication offset."
            )
        return tuple(lines)
    return ()


def decide_sync(request: SyncRequest, view: ServerView) -> PsyncDecision:
    """Valkey's ``syncCommand`` steps 1-9 (section 3.2) for one SYNC/PSYNC.

    ``request.argv`` has been arity-checked by the command table (PSYNC >= 3, SYNC 1).
    """
    if request.already_replica:
        return PsyncDecision(Ignore())
    argv = request.argv
    is_psync = argv[0].lower() == b"psync"

    replid, replid2, second = view.replid, view.replid2, view.second_repl_offset
    is_replica = view.is_replica
    link_up = view.primary_link_up
    promote = False
    if is_psync and len(argv) > 3 and argv[3].lower() == b"failover":
        if not is_replica:
            return PsyncDecision(Refuse(ERR_FAILOVER_TO_PRIMARY))
        if argv[1].decode("utf-8", "replace").lower() != replid.lower():
            return PsyncDecision(Refuse(ERR_FAILOVER_REPLID))
        # Promote first (shiftReplicationId), then handle the PSYNC as a primary would.
        promote = True
        replid2, second = replid, view.master_repl_offset + 1
        replid = view.next_replid
        is_replica = False

    notices: tuple[str, ...] = ()

    def reply(action: SyncAction, stats: SyncStats = SyncStats()) -> PsyncDecision:
        return PsyncDecision(action, promote, stats, notices)

    if view.failover_in_progress:
        return reply(Refuse(ERR_FAILING_OVER))
    if is_replica and not link_up:
        return reply(Refuse(ERR_NO_PRIMARY_LINK))
    if request.pending_output:
        return reply(Refuse(ERR_PENDING_OUTPUT))
    if request.req.filtered and Capa.EOF not in request.capa:
        return reply(Refuse(ERR_FILTER_NEEDS_EOF))

    partial_err = 0
    if is_psync:
        offset = parse_long(argv[2])
        if offset is None:
            return reply(Refuse(ERR_NOT_INTEGER))
        req_id = argv[1].decode("utf-8", "replace")
        notices = partial_resync_refusal(
            view, replid, replid2, second, req_id, offset, request.replica_name
        )
        if not notices:
            assert view.backlog_first_byte is not None
            end = view.backlog_first_byte + view.backlog_histlen - 1
            action = ContinuePartial(
                continue_reply(replid, Capa.PSYNC2 in request.capa),
                offset,
                end - offset + 1,
                bg_rdb_load=request.associated_rdb_client_id is not None,
            )
            return reply(action, SyncStats(sync_partial_ok=1))
        if not req_id.startswith("?"):
            partial_err = 1
        if Capa.DUAL_CHANNEL in request.capa:
            return reply(DualChannelSync(), SyncStats(sync_partial_err=partial_err))

    stats = SyncStats(sync_full=1, sync_partial_err=partial_err)
    # Promotion disconnects our sub-replicas (replicationUnsetPrimary), so none remain.
    others = view.has_other_replicas and not promote
    create_backlog = view.backlog_first_byte is None and not others
    plan = _rdb_plan(request, view)
    return reply(FullResync(create_backlog, plan, pre_psync=not is_psync), stats)


def _rdb_plan(request: SyncRequest, view: ServerView) -> RdbPlan:
    if view.child is ChildKind.RDB_DISK:
        other = next(
            (w for w in view.waiting_bgsave_end if not w.rdb_only or request.rdb_only), None
        )
        if (
            other is not None
            and (request.capa & other.capa) == other.capa
            and request.req == other.req
        ):
            return AttachToDiskBgsave(
                other.client_id, other.psync_initial_offset, copy_buffer=not request.rdb_only
            )
        return WaitNextBgsave(WaitReason.CANNOT_ATTACH)
    if view.child is ChildKind.RDB_SOCKET:
        return WaitNextBgsave(WaitReason.SOCKET_CHILD)
    if view.diskless_sync and Capa.EOF in request.capa and view.diskless_sync_delay:
        return DelayDiskless()
    if view.child is ChildKind.NONE:
        target = rdb_target(view.diskless_sync, request.capa, request.req)
        return StartBgsave(target, request.capa, request.req)
    return WaitNextBgsave(WaitReason.OTHER_CHILD)


# --- the replication cron's BGSAVE start (section 8.1) ------------------------------------


@dataclass(frozen=True, slots=True)
class PendingReplica:
    """A replica in WAIT_BGSAVE_START and when it last sent something (seconds)."""

    client_id: int
    capa: Capa
    req: Req
    last_interaction: int


@dataclass(frozen=True, slots=True)
class CronStart:
    """Start a BGSAVE now for ``client_ids`` (all share ``req``) toward ``target``."""

    client_ids: tuple[int, ...]
    target: RdbTarget
    mincapa: Capa
    req: Req


def diskless_cron_decision(
    pending: tuple[PendingReplica, ...] | list[PendingReplica],
    now: int,
    *,
    delay: int,
    max_replicas: int,
    diskless_sync: bool,
    child_active: bool,
) -> CronStart | None:
    """Valkey's ``shouldStartChildForReplication`` + the selection of ``startBgsaveForReplication``.

    Only replicas whose requirements equal the first waiting one's are counted and selected;
    the others wait for a later snapshot.
    """
    if child_active or not pending:
        return None
    req = pending[0].req
    selected = [p for p in pending if p.req == req]
    max_idle = max(0, *(now - p.last_interaction for p in selected))
    mincapa = selected[0].capa
    for p in selected[1:]:
        mincapa &= p.capa
    if (
        not diskless_sync
        or (max_replicas > 0 and len(selected) >= max_replicas)
        or max_idle >= delay
    ):
        return CronStart(
            tuple(p.client_id for p in selected),
            rdb_target(diskless_sync, mincapa, req),
            mincapa,
            req,
        )
    return None
