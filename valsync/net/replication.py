"""ReplicationService: both roles of Valkey replication, driven by trio tasks.

As a primary it owns the replication IDs, the backlog and the attached replicas
(:class:`~valsync.net.replica_link.ReplicaLink`); SYNC/PSYNC go through the seed's decision
(:mod:`valsync.replication.sync_decision`), full syncs through the shared
``RdbChildManager`` (disk or socket target, batched by the diskless-delay cron). As a replica
it runs one task that connects to its primary, walks the handshake machine, loads the RDB,
applies the stream with exact offsets, and proxies the same bytes to its own sub-replicas.
The protocol decisions all live in :mod:`valsync.replication`; this module moves bytes.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from valsync.client_memory import client_memory
from valsync.commands import BlockRequest, ClientState, Propagated
from valsync.net.replica_link import (
    CloseLink,
    ReplicaLink,
    WaitFirstAck,
    open_dump_for_sending,
)
from valsync.net.replica_side import PrimaryLinkDriver
from valsync.pause import WRITE_SET, PauseAction, PausePurpose
from valsync.persistence import remove_temp_rdb
from valsync.rdb.child import ProgressWriter
from valsync.rdb.snapshot import snapshot_aux, write_snapshot
from valsync.rdb.socket_set import BUFFER_SIZE, SocketSetWriter
from valsync.replication.backlog import ReplicationBacklog
from valsync.replication.failover import (
    Abort,
    FailoverRequest,
    FailoverState,
    ReplicaView,
    SwitchTo,
    abort_log,
    failover_step,
    refuse_failover,
)
from valsync.replication.ids import ReplicationIds, replid_from_bytes
from valsync.replication.propagation import StreamEncoder
from valsync.replication.rdb_transfer import endoff_frame, eof_mark_frame
from valsync.replication.replicas import (
    ReplicaInfo,
    ReplicaState,
    Req,
    apply_replconf,
    info_replica_line,
    role_primary_reply,
)
from valsync.replication.sync_decision import (
    AttachToDiskBgsave,
    ChildKind,
    ContinuePartial,
    DelayDiskless,
    DualChannelSync,
    FullResync,
    Ignore,
    PendingReplica,
    Refuse,
    ServerView,
    StartBgsave,
    SyncRequest,
    WaitingReplica,
    WaitNextBgsave,
    decide_sync,
    diskless_cron_decision,
)
from valsync.resp.reply import NO_REPLY, Raw, Reply

if TYPE_CHECKING:
    from valsync.persistence import Persistence
    from valsync.resp.request import RequestParser
    from valsync.server import Server

GETACK_KEY = b"\x00valsync:replication-ack"
RELAY_HIGH_WATER = 4 * 1024 * 1024  # RDB bytes queued for one replica before the relay waits
SETTLE_BYTES = 64 * 1024
"""Client writes taken from their buffers are moved into the backlog at this size at most."""


def new_replid() -> str:
    return replid_from_bytes(secrets.token_bytes(20))


def _grace_pin(client_id: int) -> int:
    """The backlog pin owner of a closed RDB channel in its grace period (not its link's)."""
    return -client_id


def shutdown_socket(fd: int) -> None:
    """``shutdown(SHUT_RDWR)`` on a descriptor this process does not own as a socket object."""
    sock = socket.socket(fileno=fd)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()


def version_at_least_9(info: ReplicaInfo) -> bool:
    return info.version >= (9 << 16)


class ReplicationService:
    """See the module docstring."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.log = server.log
        self.ids = ReplicationIds(new_replid())
        self._backlog: ReplicationBacklog | None = None
        self._span_data = b""
        self._span_start = 0
        self._span_end = 0
        """Client request bytes streamed but not yet in the backlog (see :meth:`feed_request`):
        ``_span_data[_span_start:_span_end]``; ``_span_end`` is 0 when there are none."""
        self._pending = bytearray()
        """Stream bytes taken out of client buffers, not yet in the backlog (:meth:`_settle`)."""
        self._links_idle = False
        """A replica link waits for stream bytes: the next batch's go out at once."""
        self.encoder = StreamEncoder()
        self.links: dict[int, ReplicaLink] = {}
        self.nursery: trio.Nursery | None = None
        self.no_replicas_since: float | None = time.monotonic()
        self.ping_counter = 0
        self.failover = FailoverState.NONE
        self.failover_request = FailoverRequest()
        self.failover_end_ms = 0
        self.failover_target: tuple[str, int] | None = None
        self.socket_child_links: list[ReplicaLink] = []
        """Replicas the socket child's bytes are relayed to through this process."""
        self.direct_child_links: list[ReplicaLink] = []
        """RDB channels whose sockets the socket child writes itself: this process must not
        write to them until it ends."""
        self.rdb_channels_in_grace: dict[int, tuple[float, int, str]] = {}
        """RDB channels closed before their main channel's PSYNC, by client id: when they
        closed and the first stream offset they keep pinned, for ``rdb_client_free_delay``
        seconds (still subject to the replica output buffer limits)."""
        self._untracked_rdb_links: list[ReplicaLink] = []
        self._grace_soft_since: dict[int, float] = {}
        self.disk_child_links: list[ReplicaLink] = []
        self.primary = PrimaryLinkDriver(self)
        self.getack_pending = False
        cfg = server.config
        cfg.on_change("repl-backlog-size", self._resize_backlog)
        self._replica_limits = cfg.client_output_buffer_limit("replica")
        self._backlog_size = cfg.get_int("repl-backlog-size")
        cfg.on_change("client-output-buffer-limit", self._reload_replica_limits)

    def resume_from_dump(self) -> None:
        """Once the dump is loaded: the replication history it recorded, then ``replicaof``."""
        cfg = self.server.config
        persistence = self.server.persistence
        if persistence is not None and persistence.repl_info is not None:
            info = persistence.repl_info
            if cfg.replicaof is None:
                # a primary restarted from its dump: the old history is replid2 (Valkey 7.2+)
                self.ids.restore_from_rdb(new_replid(), info.replid, info.offset)
                self.backlog = ReplicationBacklog(cfg.get_int("repl-backlog-size"), info.offset)
                self._feed_expired_at_load(persistence.expired_at_load)
        if persistence is not None:
            persistence.expired_at_load = []
        if cfg.replicaof is not None:
            host, port = cfg.replicaof
            self.primary.set_primary(
                host, port, from_rdb=persistence.repl_info if persistence else None
            )

    def _feed_expired_at_load(self, keys: list[tuple[int, bytes]]) -> None:
        """The keys the dump held already expired are deleted on replicas that resume."""
        verb = b"UNLINK" if self.server.config.get_bool("lazyfree-lazy-expire") else b"DEL"
        for db, key in keys:
            self.feed([Propagated(db, [verb, key])])

    # --- roles and plumbing ---------------------------------------------------------------

    @property
    def children(self):  # type: ignore[no-untyped-def]
        persistence: Persistence = self.server.persistence
        return persistence.children

    @property
    def is_replica(self) -> bool:
        return self.primary.host is not None

    @property
    def link_up(self) -> bool:
        return self.primary.link_up

    @property
    def failover_state(self) -> str:
        """INFO's ``master_failover_state``."""
        return self.failover.value

    # --- FAILOVER (the decisions are in valsync.replication.failover) ----------------------

    def replica_views(self) -> list[ReplicaView]:
        return [
            ReplicaView(
                link.info.ip or self._peer_ip(link),
                link.info.listening_port,
                link.info.ack_offset,
                link.info.state is ReplicaState.ONLINE,
            )
            for link in self.links.values()
            if link.info.state is not None and not link.info.rdb_channel
        ]

    def start_failover(self, request: FailoverRequest) -> str | None:
        """FAILOVER (not ABORT): Valkey's error text, or None once waiting for sync."""
        refusal = refuse_failover(request, self.failover, self.is_replica, self.replica_views())
        if refusal is not None:
            return refusal
        if request.host is not None:
            self.failover_target = (request.host, request.port)
            self.log.notice(f"FAILOVER requested to {request.host}:{request.port}.")
        else:
            self.log.notice("FAILOVER requested to any replica.")
        now = int(time.time() * 1000)
        self.failover_request = request
        self.failover_end_ms = now + request.timeout_ms if request.timeout_ms else 0
        self.failover = FailoverState.WAITING_FOR_SYNC
        self.server.pause_actions(PausePurpose.FAILOVER, 2**63 - 1, WRITE_SET)
        return None

    def abort_failover(self, reason: str) -> None:
        if self.failover is FailoverState.NONE:
            return
        self.log.notice(abort_log(self.failover_request, self.failover_target, reason))
        if self.failover is FailoverState.IN_PROGRESS:
            self.primary.unset_primary()
        self.clear_failover()

    def clear_failover(self) -> None:
        self.failover = FailoverState.NONE
        self.failover_request = FailoverRequest()
        self.failover_end_ms = 0
        self.failover_target = None
        self.server.unpause_actions(PausePurpose.FAILOVER)

    def failover_psync_result(self, accepted: bool) -> None:
        """The target answered our PSYNC ... FAILOVER (a full resync counts as accepted)."""
        if self.failover is not FailoverState.IN_PROGRESS:
            return
        if accepted:
            self.clear_failover()
        else:
            self.abort_failover("Failover target rejected psync request")

    def _failover_cron(self) -> None:
        step = failover_step(
            self.failover_request,
            self.failover_end_ms,
            int(time.time() * 1000),
            self.replica_views(),
            self.ids.master_repl_offset,
        )
        if isinstance(step, Abort):
            self.abort_failover(step.reason)
        elif isinstance(step, SwitchTo):
            self.failover = FailoverState.IN_PROGRESS
            self.failover_target = (step.host, step.port)
            self.log.notice(step.log)
            self.primary.set_primary(step.host, step.port)

    def primary_address(self) -> tuple[str, int] | None:
        """The primary we replicate from (CONFIG REWRITE's ``replicaof``), None as a primary."""
        host = self.primary.host
        return (host, self.primary.port) if host is not None else None

    @property
    def master_repl_offset(self) -> int:
        return self.ids.master_repl_offset

    async def start(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        await self.primary.start(nursery)

    def shutdown(self) -> None:
        for link in list(self.links.values()):
            link.close("shutdown")

    def _reload_replica_limits(self, _value: str) -> None:
        """The replica class limits are read on every stream write: cached, refreshed here."""
        self._replica_limits = self.server.config.client_output_buffer_limit("replica")

    def _resize_backlog(self, value: str) -> None:
        self._backlog_size = self.server.config.get_int("repl-backlog-size")
        if self.backlog is not None:
            self.backlog.resize(self.server.config.get_int("repl-backlog-size"))

    def create_backlog(self, start_offset: int | None = None) -> None:
        offset = self.ids.master_repl_offset if start_offset is None else start_offset
        self.backlog = ReplicationBacklog(self.server.config.get_int("repl-backlog-size"), offset)

    def replication_buffer_bytes(self) -> int:
        """The shared buffer (the backlog, which replicas are sent from), as allocated."""
        return self.backlog.allocated if self.backlog is not None else 0

    def rdb_repl_info(self) -> tuple[str, int, int] | None:
        """(repl-id, repl-offset, repl-stream-db) for a dump, when we have a history to resume."""
        if self.is_replica:
            cached = self.primary.cached_position()
            if cached is None:
                return None
            return cached[0], cached[1], self.primary.stream_db
        if self.backlog is None:
            return None
        db = self.encoder.selected_db
        return self.ids.replid, self.ids.master_repl_offset, db if db >= 0 else 0

    # --- the stream ------------------------------------------------------------------------

    def feed(self, unit: list[Propagated]) -> None:
        """Encode an execution unit into the stream (primary role only)."""
        if self.is_replica:
            return
        if self.backlog is None and not self.links:
            return
        self.feed_raw(self.encoder.encode_unit(unit))

    def feed_request(self, dbid: int, source: RequestParser) -> int:
        """A client's write streamed as its own request bytes, the multibulk ``source`` framed
        last (``source.buffer[last_start:last_start + last_nbytes]``); the new offset, or 0
        when it must take :meth:`feed` (an inline request, or the stream has another DB
        selected).

        The offset moves at once; the bytes stay in the client's buffer until
        :meth:`flush_stream`: the requests of one read batch lie next to each other there, so
        they are taken as one run. The connection flushes at the end of each batch, before it
        reads again or waits on anything; whatever reads the backlog (:attr:`backlog`) or
        adds other stream bytes settles every counted byte first (:meth:`_settle`).
        """
        if dbid != self.encoder.selected_db:
            return 0
        span = source.last_span()
        if span is None:
            return 0
        data, start, nbytes = span
        if start == self._span_end and data is self._span_data:
            self._span_end = start + nbytes
        else:
            if self._span_end:
                self.flush_stream()
            self._span_data = data
            self._span_start = start
            self._span_end = start + nbytes
        ids = self.ids
        offset = ids.master_repl_offset + nbytes
        ids.master_repl_offset = offset
        return offset

    def streams_db(self, dbid: int) -> bool:
        """The stream has ``dbid`` selected: a write there goes down it as its request."""
        return dbid == self.encoder.selected_db

    def flush_stream(self) -> None:
        """Take the requests :meth:`feed_request` counted out of the client's buffer (its next
        read reuses it). They reach the backlog and the replicas at once when a replica link
        waits for them; otherwise when that link asks for the backlog after its send (one
        move per scheduler round, not per client batch), at :data:`SETTLE_BYTES`, or at the
        next :meth:`fast_cron`. Whatever reads the backlog settles first (:attr:`backlog`)."""
        if self._span_end:
            self._take_span()
            if self._links_idle or len(self._pending) >= SETTLE_BYTES:
                self._settle()

    def _take_span(self) -> None:
        self._pending += memoryview(self._span_data)[self._span_start : self._span_end]
        self._span_data = b""
        self._span_start = self._span_end = 0

    def _settle(self) -> None:
        """Every stream byte counted so far, into the backlog and to the replicas."""
        if self._span_end:
            self._take_span()
        pending = self._pending
        if pending:
            self._pending = bytearray()
            self._links_idle = False
            self._stream_out(pending)

    def _link_idle(self) -> None:
        self._links_idle = True

    @property
    def backlog(self) -> ReplicationBacklog | None:
        """The backlog, holding every stream byte counted so far (None: no backlog)."""
        self._settle()
        return self._backlog

    @backlog.setter
    def backlog(self, backlog: ReplicationBacklog | None) -> None:
        self._settle()
        self._backlog = backlog

    @property
    def streaming(self) -> bool:
        """A stream exists (a backlog or a replica): writes are to be fed to it."""
        return self._backlog is not None or bool(self.links)

    def feed_raw(self, data: bytes) -> None:
        """Stream bytes to the backlog and every replica past its snapshot point."""
        if not data:
            return
        self._settle()
        self.ids.master_repl_offset += len(data)
        self._stream_out(data)

    def _stream_out(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes already counted in ``master_repl_offset``, to the backlog and replicas."""
        backlog = self._backlog
        if backlog is not None:
            backlog.append(data)
        if self._untracked_rdb_links:
            for link in self._untracked_rdb_links:
                self.log.debug(f"Attach replica rdb client {link.client.id} to repl buf block")
            self._untracked_rdb_links.clear()
        if self.rdb_channels_in_grace:
            self._rdb_grace_over_limit()
        if not self.links:
            return
        limits = self._effective_replica_limits()
        hard, soft, _ = limits
        end = backlog.end_offset if backlog is not None else 0
        for link in list(self.links.values()):
            start = link.stream_next
            if start is not None:
                link.wake()
                # pending_stream_bytes, inline: this runs for every write batch
                size = end - start + 1 if backlog is not None else 0
            elif not link.waiting_psync:
                continue
            else:
                size = link.pending_stream_bytes
            if (
                (hard and size >= hard)
                or (soft and size >= soft)
                or link.soft_limit_since is not None
            ):
                self._check_output_limits(link, limits)

    def _rdb_grace_over_limit(self) -> None:
        """A closed RDB channel's kept stream counts against the replica limits, as in Valkey."""
        hard, soft, soft_seconds = self._effective_replica_limits()
        now = time.monotonic()
        for cid, (_, start, desc) in list(self.rdb_channels_in_grace.items()):
            size = self.ids.master_repl_offset - start + 1
            over = bool(hard and size >= hard)
            if soft and size >= soft:
                since = self._grace_soft_since.setdefault(cid, now)
                over = over or now - since >= soft_seconds
            else:
                self._grace_soft_since.pop(cid, None)
            if over:
                self._grace_soft_since.pop(cid, None)
                self.log.warning(
                    f"Client {desc} omem={size} cmd=sync scheduled to be closed ASAP for "
                    "overcoming of output buffer limits."
                )
                self.server.stats.client_output_buffer_limit_disconnections += 1
                del self.rdb_channels_in_grace[cid]
                if self.backlog is not None:
                    self.backlog.unpin(_grace_pin(cid))

    def _effective_replica_limits(self) -> tuple[int, int, int]:
        """Valkey ignores a replica hard limit below ``repl-backlog-size`` (it uses the latter):
        a replica shares the backlog's memory, and a smaller limit would undo partial syncs."""
        hard, soft, seconds = self._replica_limits
        backlog_size = self._backlog_size
        return (backlog_size if 0 < hard < backlog_size else hard), soft, seconds

    def _check_output_limits(self, link: ReplicaLink, limits: tuple[int, int, int]) -> None:
        hard, soft, soft_seconds = limits
        size = link.pending_stream_bytes
        over = False
        if hard and size >= hard:
            over = True
        elif soft and size >= soft:
            now = time.monotonic()
            if link.soft_limit_since is None:
                link.soft_limit_since = now
            elif now - link.soft_limit_since >= soft_seconds:
                over = True
        else:
            link.soft_limit_since = None
        if over:
            # an RDB channel still holding the stream for its main channel loses its grace
            # period too (Valkey drops the protection on an output buffer overrun)
            cmd = "sync" if link.waiting_psync else "psync"
            link.waiting_psync = False
            self.log.warning(
                f"Client {self._client_desc(link)} omem={size} cmd={cmd} scheduled to be closed "
                "ASAP for overcoming of output buffer limits."
            )
            self.server.stats.client_output_buffer_limit_disconnections += 1
            self.drop_link(link, "output buffer limits")

    # --- REPLCONF / SYNC / PSYNC -----------------------------------------------------------

    def info_of(self, client: ClientState) -> ReplicaInfo:
        info = client.extra.get("repl_info")
        if not isinstance(info, ReplicaInfo):
            info = ReplicaInfo(client.id)
            client.extra["repl_info"] = info
        return info

    def replconf(self, client: ClientState, args: list[bytes]) -> Reply:
        cfg = self.server.config
        info = self.info_of(client)
        outcome = apply_replconf(
            info,
            args,
            now=int(time.time()),
            dual_channel_enabled=cfg.get_bool("dual-channel-replication-enabled"),
            diskless_sync=cfg.get_bool("repl-diskless-sync"),
            rdb_client_exists=lambda cid: self._live_rdb_channel(cid) is not None,
        )
        if outcome.getack and client.is_primary_link:
            self.primary.send_ack_now()
        if outcome.reply is None:
            return NO_REPLY
        return Raw(outcome.reply)

    def _child_kind(self) -> ChildKind:
        kind = self.children.kind
        if kind is None:
            return ChildKind.NONE
        return ChildKind.RDB_SOCKET if kind == "socket" else ChildKind.RDB_DISK

    def sync(self, client: ClientState, argv: list[bytes], pending_output: bool) -> Reply:
        """SYNC/PSYNC: the seed's ``syncCommand``, its decision made by the sans-IO core."""
        info = self.info_of(client)
        cfg = self.server.config
        version = 80 if version_at_least_9(info) else 11
        backlog = self.backlog
        view = ServerView(
            replid=self.ids.replid,
            replid2=self.ids.replid2,
            second_repl_offset=self.ids.second_repl_offset,
            master_repl_offset=self.ids.master_repl_offset,
            next_replid=new_replid(),
            backlog_first_byte=backlog.first_byte_offset if backlog is not None else None,
            backlog_histlen=backlog.histlen if backlog is not None else 0,
            is_replica=self.is_replica,
            primary_link_up=self.link_up,
            failover_in_progress=self.failover_state != "no-failover",
            has_other_replicas=bool(self.links),
            child=self._child_kind(),
            waiting_bgsave_end=tuple(
                WaitingReplica(
                    link.client.id,
                    link.info.capa,
                    link.info.req,
                    link.info.rdb_only,
                    link.info.psync_initial_offset,
                )
                for link in self.disk_child_links
                if link.info.state is ReplicaState.WAIT_BGSAVE_END
                and not link.closed
                and link.rdb_version == version
            ),
            diskless_sync=cfg.get_bool("repl-diskless-sync"),
            diskless_sync_delay=cfg.get_int("repl-diskless-sync-delay"),
        )
        request = SyncRequest(
            argv=tuple(argv),
            capa=info.capa,
            req=info.req,
            rdb_only=info.rdb_only,
            already_replica=client.is_replica,
            pending_output=pending_output,
            associated_rdb_client_id=self._live_rdb_channel(info.associated_rdb_client_id),
            replica_name=self._replica_name_of(client, info),
        )
        decision = decide_sync(request, view)
        for line in decision.notices:
            self.log.notice(line)
        stats = self.server.stats
        stats.sync_full += decision.stats.sync_full
        stats.sync_partial_ok += decision.stats.sync_partial_ok
        stats.sync_partial_err += decision.stats.sync_partial_err
        action = decision.action
        if isinstance(action, Ignore):
            return NO_REPLY
        if isinstance(action, Refuse):
            return Raw(action.reply)
        if decision.promote:
            self.log.notice(
                f"Failover request received for replid {argv[1].decode('utf-8', 'replace')}."
            )
            self.primary.promote_for_failover(view.next_replid)
        if isinstance(action, ContinuePartial):
            # a dual-channel main channel streams while its RDB channel still loads
            state = ReplicaState.BG_RDB_LOAD if action.bg_rdb_load else ReplicaState.ONLINE
            link = self._attach(client, info, state)
            assert self.backlog is not None
            link.push(action.reply)
            link.start_stream(action.offset)
            link.first_ack.set()
            self._rdb_channel_claimed(info.associated_rdb_client_id)
            self.log.notice(
                f"Partial resynchronization request from {client.addr} accepted. Sending "
                f"{self.ids.master_repl_offset - action.offset + 1} bytes of backlog starting "
                f"from offset {action.offset}."
            )
            return NO_REPLY
        if isinstance(action, DualChannelSync):
            return Raw(action.reply)
        assert isinstance(action, FullResync)
        info.pre_psync = action.pre_psync
        if action.create_backlog or self.backlog is None:
            self.ids.new_history(new_replid())
            self.create_backlog()
            self.log.notice(
                f"Replication backlog created, my new replication IDs are '{self.ids.replid}' "
                f"and '{self.ids.replid2}'"
            )
        link = self._attach(client, info, ReplicaState.WAIT_BGSAVE_START)
        link.rdb_version = version
        plan = action.plan
        if isinstance(plan, AttachToDiskBgsave):
            other = self.links.get(plan.other_client_id)
            self._setup_full_resync(link, plan.offset)
            if plan.copy_buffer and other is not None and other.stream_next is not None:
                link.hold_stream_from(other.stream_next)
            link.rdb_target = "disk"
            self.disk_child_links.append(link)
            self.log.notice("Waiting for end of BGSAVE for SYNC")
        elif isinstance(plan, WaitNextBgsave):
            self.log.notice(plan.reason.value)
        elif isinstance(plan, DelayDiskless):
            self.log.notice("Delay next BGSAVE for diskless SYNC")
        elif isinstance(plan, StartBgsave):
            self.start_bgsave_for_replication([link], plan.target.value)
        return NO_REPLY

    def _attach(self, client: ClientState, info: ReplicaInfo, state: ReplicaState) -> ReplicaLink:
        client.is_replica = True
        info.state = state
        info.ack_time = int(time.time())
        handoff_link: dict[str, ReplicaLink] = {}

        async def handoff(stream: trio.SocketStream, leftover: bytes) -> None:
            link = handoff_link["link"]
            link.stream = stream
            try:
                if not self.server.config.get_bool("repl-disable-tcp-nodelay"):
                    stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
                else:
                    stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, False)
            except OSError:
                pass
            try:
                await link.run(leftover)
            finally:
                self.drop_link(link, "connection closed")

        link = ReplicaLink(
            client,
            info,
            None,  # type: ignore[arg-type]
            self.server.stats,
            backlog=lambda: self.backlog,
            on_idle=self._link_idle,
        )
        handoff_link["link"] = link
        link.scope = trio.CancelScope()
        client.handoff = handoff
        client.extra["kill"] = lambda: link.close("killed")
        # CLIENT LIST omem: the stream it still needs (Valkey counts its share of the buffer)
        client.memory = lambda: client_memory(client, (0, 0, 0), None, link.pending_stream_bytes)
        link.on_ack = self._on_ack
        self.links[client.id] = link
        self.no_replicas_since = None
        return link

    def _rdb_channel_claimed(self, client_id: int | None) -> None:
        """The main channel PSYNCed: it holds the stream from here, not its RDB channel."""
        if client_id is None:
            return
        rdb_link = self.links.get(client_id)
        if rdb_link is not None:
            rdb_link.waiting_psync = False
            rdb_link.unpin()
        self._grace_soft_since.pop(client_id, None)
        if self.rdb_channels_in_grace.pop(client_id, None) is not None and self.backlog:
            self.backlog.unpin(_grace_pin(client_id))

    def _rdb_channel_closed(self, link: ReplicaLink) -> None:
        """Like Valkey's protected RDB client: its main channel may still PSYNC for a while."""
        link.waiting_psync = False
        if self.backlog is None or self.server.rdb_client_free_delay <= 0:
            return
        cid = link.client.id
        start = link.info.psync_initial_offset + 1
        self.backlog.pin(_grace_pin(cid), start)
        self.rdb_channels_in_grace[cid] = (time.time(), start, self._client_desc(link))
        self.log.verbose(
            f"Postpone RDB client id={cid} ({self._replica_name(link)}) free for "
            f"{self.server.rdb_client_free_delay} seconds"
        )

    def _expire_rdb_channel_grace(self) -> None:
        now = time.time()
        for cid, (closed_at, _, _) in list(self.rdb_channels_in_grace.items()):
            if now - closed_at > self.server.rdb_client_free_delay:
                del self.rdb_channels_in_grace[cid]
                self._grace_soft_since.pop(cid, None)
                if self.backlog is not None:
                    self.backlog.unpin(_grace_pin(cid))
                self.log.notice(
                    "Replica main channel failed to establish PSYNC within the grace period "
                    f"({int(now - closed_at)} seconds). Freeing RDB client {cid}."
                )

    @staticmethod
    def _client_desc(link: ReplicaLink) -> str:
        """The start of a replica's CLIENT INFO line, for the output-limit log lines."""
        c = link.client
        return f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name= flags=S db={c.db}"

    def _replica_name(self, link: ReplicaLink) -> str:
        return self._replica_name_of(link.client, link.info)

    @staticmethod
    def _replica_name_of(client: ClientState, info: ReplicaInfo) -> str:
        """Valkey's ``replicationGetReplicaName``: ip:listening-port, else the address."""
        if info.listening_port:
            return f"{info.ip or client.addr.rsplit(':', 1)[0]}:{info.listening_port}"
        return client.addr

    def drop_link(self, link: ReplicaLink, reason: str) -> None:
        if self.links.pop(link.client.id, None) is None:
            return
        if link.waiting_psync:
            self._rdb_channel_closed(link)  # before close() unpins: not one byte may go
        if link in self.direct_child_links:
            # the child holds the socket too: shut the connection so its writes fail and the
            # replica sees it end (the other replicas of the transfer go on)
            self.direct_child_links.remove(link)
            shutdown_socket(link.client.fd)
        link.close(reason)
        if link.info.state is not None and link.info.state is not ReplicaState.RDB_TRANSMITTED:
            if link.info.rdb_channel:
                self.log.notice(f"Replica {self._replica_name(link)} rdb channel disconnected.")
            else:
                self.log.notice(f"Connection with replica {link.client.addr} lost.")
        if link in self.socket_child_links:
            self.socket_child_links.remove(link)
            if not self.socket_child_links and self.children.kind == "socket":
                self.log.warning("Diskless rdb transfer, last replica dropped, killing fork child.")
                self.children.kill()
        if link in self.disk_child_links:
            self.disk_child_links.remove(link)
        if not self.links:
            self.no_replicas_since = time.monotonic()
        self._wake_waiters()

    def _on_ack(self, link: ReplicaLink) -> None:
        if link.info.state is ReplicaState.BG_RDB_LOAD:
            # the replica loaded the RDB from its RDB channel and applied the buffered stream
            link.info.state = ReplicaState.ONLINE
            self.log.notice(f"Replica {link.client.addr} is now online (dual-channel sync done)")
        self._wake_waiters()

    def _live_rdb_channel(self, client_id: int | None) -> int | None:
        """The RDB channel named by ``set-rdb-client-id``, if connected or in its grace period."""
        if client_id is not None and (
            client_id in self.links or client_id in self.rdb_channels_in_grace
        ):
            return client_id
        return None

    def _wake_waiters(self) -> None:
        for db in range(len(self.server.keyspace)):
            self.server.key_modified(db, GETACK_KEY)

    # --- full sync -------------------------------------------------------------------------

    def _setup_full_resync(
        self, link: ReplicaLink, offset: int, endoff_sent_by_child: bool = False
    ) -> None:
        """``replicationSetupReplicaForFullResync``: +FULLRESYNC, hold the stream from here."""
        link.info.psync_initial_offset = offset
        link.info.state = ReplicaState.WAIT_BGSAVE_END
        if link.info.rdb_channel or not link.info.rdb_only:
            # the stream from the snapshot on stays in the backlog: a classic replica is sent
            # it after the RDB; an RDB channel keeps it for its main channel's PSYNC (Valkey's
            # addRdbReplicaToPsyncWait) and never streams itself
            tracked = self.backlog is not None and self.backlog.histlen > 0
            link.hold_stream_from(offset + 1)
            if link.info.rdb_channel:
                link.stream_next = None
                link.waiting_psync = True
                self.log.debug(
                    f"Add rdb replica {self._replica_name(link)} to waiting psync, with cid "
                    f"{link.client.id}, "
                    f"{'tracking repl-backlog tail' if tracked else 'no repl-backlog to track'} "
                )
                if not tracked:
                    self._untracked_rdb_links.append(link)
        if link.info.rdb_channel:
            # dual-channel: the main channel will PSYNC from here; no +FULLRESYNC on this one
            if not endoff_sent_by_child:
                link.push(endoff_frame(offset, self.ids.replid, 0, link.client.id))
        elif not link.info.pre_psync:
            link.push(f"+FULLRESYNC {self.ids.replid} {offset}\r\n".encode())

    def start_bgsave_for_replication(self, links: list[ReplicaLink], target: str) -> None:
        """Fork now for ``links``; every one gets +FULLRESYNC with the same offset."""
        if self.nursery is None:
            return
        cfg = self.server.config
        version = links[0].rdb_version
        offset = self.ids.master_repl_offset
        self.encoder.reset_selected_db()
        aux = snapshot_aux((self.ids.replid, offset, 0))
        req = links[0].info.req
        persistence: Persistence = self.server.persistence
        path = str(persistence.path)

        # dual-channel RDB channels get the child's bytes on their sockets directly (the
        # parent may be busy, or even stopped); classic replicas through the parent's relay
        direct = target == "socket" and Req.RDB_CHANNEL in req
        endoffs = {
            link.client.fd: endoff_frame(offset, self.ids.replid, 0, link.client.id)
            for link in links
            if direct
        }
        if target == "socket":
            functions = [] if Req.EXCLUDE_FUNCTIONS in req else list(self.server.functions)
            keyspace = self.server.keyspace
            mark = secrets.token_hex(20).encode()
            compression = cfg.get_bool("rdbcompression")
            checksum = cfg.get_bool("rdbchecksum")
            delay = cfg.get_int("rdb-key-save-delay")
            timeout = cfg.get_int("repl-timeout")

            def write_payload(write: Callable[[bytes], object], progress: ProgressWriter) -> int:
                write(eof_mark_frame(mark))
                keys = write_snapshot(
                    keyspace,
                    write,
                    aux,
                    version=version,
                    compression=compression,
                    checksum=checksum,
                    key_save_delay_us=delay,
                    progress=progress,
                    include_keys=Req.EXCLUDE_DATA not in req,
                    functions=functions,
                )
                write(mark)
                return keys

            def body(data_fd: int | None, progress: ProgressWriter) -> None:
                if direct:
                    # a slowed-down save sends each chunk as it comes (see write_snapshot)
                    sockets = SocketSetWriter(
                        endoffs, timeout, buffer_size=0 if delay else BUFFER_SIZE
                    )
                    sockets.send_each(endoffs)
                    keys = write_payload(sockets.write, progress)
                    sockets.flush()
                    progress.report(keys, progress.bytes)
                    return
                assert data_fd is not None
                # a slowed-down save (rdb-key-save-delay, a test hook) lets its bytes out as
                # they come, as Valkey's 16 KB rio buffer does: the replica is seen loading
                buffering = 16 * 1024 if delay > 0 else 256 * 1024
                with os.fdopen(data_fd, "wb", buffering=buffering) as out:
                    keys = write_payload(out.write, progress)
                progress.report(keys, progress.bytes)

        else:

            def body(data_fd: int | None, progress: ProgressWriter) -> None:
                keys = persistence.write_dump(progress, aux=aux, version=version)
                progress.report(keys, progress.bytes)

        self.log.notice(
            "Starting BGSAVE for SYNC with target: "
            f"{'replicas sockets' if target == 'socket' else 'disk'} using: "
            f"{'dual-channel' if Req.RDB_CHANNEL in req else 'normal sync'}"
        )
        for link in links:
            if direct:
                link.discard_queued_bytes()  # keepalives not sent yet: the child owns it now
                self.log.notice(
                    f"Sending to replica {self._replica_name(link)} RDB end offset {offset} "
                    f"and client-id {link.client.id}"
                )
            link.rdb_target = target
            self._setup_full_resync(link, offset, endoff_sent_by_child=direct)
        try:
            child = self.children.fork(body, target, data_pipe=target == "socket" and not direct)
        except Exception as err:  # noqa: BLE001 - fork failure fails the waiting replicas
            self.log.warning(f"Can't save in background: fork: {err}")
            for link in links:
                link.info.state = ReplicaState.WAIT_BGSAVE_START
                link.push(b"-ERR BGSAVE failed, replication can't continue\r\n")
                link.push(CloseLink("fork failed"))
            return
        self.server.stats.total_forks = self.children.total_forks
        self.server.latency_sample("fork", self.children.last_fork_usec)
        if target == "socket":
            self.log.notice(
                f"Background RDB transfer started by pid {child.pid} to "
                f"{'direct socket to replica' if direct else 'pipe through parent process'}"
            )
        if direct:
            self.direct_child_links = list(links)
        elif target == "socket":
            self.socket_child_links = list(links)
        else:
            self.disk_child_links = list(links)
        self.nursery.start_soon(self._await_child, child, target, list(links), path)
        if self.server.debug_pause_after_fork:
            self.server.pause_process()

    async def _await_child(
        self, child: object, target: str, links: list[ReplicaLink], path: str
    ) -> None:
        from valsync.rdb.child import ForkedChild

        assert isinstance(child, ForkedChild)

        async def relay(data: bytes) -> None:
            # Flow control like Valkey's rdb pipe: read more from the child only once every
            # replica drained what it was given (the child then blocks on a full pipe); a
            # replica that cannot take bytes for repl-timeout seconds is dropped.
            timeout = self.server.config.get_int("repl-timeout")
            for link in list(self.socket_child_links):
                if link.closed:
                    continue
                with trio.move_on_after(timeout):
                    await link.wait_in_flight_below(RELAY_HIGH_WATER)
                if link.in_flight > RELAY_HIGH_WATER and not link.closed:
                    self.log.warning(
                        f"Disconnecting timedout replica (full sync): {link.client.addr}"
                    )
                    self.drop_link(link, "timeout during the RDB transfer")
                    continue
                link.push(data)

        result = await self.children.wait(child, relay if target == "socket" else None)
        if not result.ok and target == "disk":
            remove_temp_rdb(Path(path), child.pid)
        if result.ok:
            self.log.notice(
                "Background RDB transfer terminated with success"
                if target == "socket"
                else "Background saving terminated with success"
            )
        else:
            # Valkey's wording (a killed child ends with an error, not by its signal's default)
            what = (
                "Background RDB transfer error" if target == "socket" else "Background saving error"
            )
            self.log.warning(f"{what}: {result.error or f'signal {result.signal}'}")
        if target == "disk":
            waiting = self.disk_child_links
        elif child.data_fd is None:
            waiting = self.direct_child_links
        else:
            waiting = self.socket_child_links
        for link in list(waiting):
            if link.closed:
                continue
            if not result.ok:
                link.push(CloseLink("child failed"))
                continue
            if target == "socket":
                link.info.state = (
                    ReplicaState.ONLINE if not link.info.rdb_only else ReplicaState.RDB_TRANSMITTED
                )
                if link.info.rdb_only:
                    link.push(CloseLink("rdb-only"))
                    continue
                self.log.notice(
                    f"Streamed RDB transfer with replica {link.client.addr} succeeded (socket). "
                    "Waiting for REPLCONF ACK from replica to enable streaming"
                )
                if link.info.rdb_channel:
                    continue  # its main channel streams once it PSYNCs
                if not link.info.pre_psync:
                    link.push(WaitFirstAck())
                link.start_stream()
            else:
                try:
                    link.push(open_dump_for_sending(path))
                except OSError as err:
                    self.log.warning(f"SYNC failed. Can't open/stat DB after BGSAVE: {err}")
                    link.push(CloseLink("no dump"))
                    continue
                if link.info.rdb_only:
                    link.push(CloseLink("rdb-only"))
                    continue
                if not link.info.rdb_channel:
                    link.start_stream()
        waiting.clear()
        if result.ok and self.server.persistence is not None and target == "disk":
            self.server.persistence.note_replication_save()
        self.cron_start_waiting()

    def cron_start_waiting(self) -> None:
        """Start a BGSAVE for replicas in WAIT_BGSAVE_START when the rules allow (section 8.1)."""
        cfg = self.server.config
        waiting = [
            link
            for link in self.links.values()
            if link.info.state is ReplicaState.WAIT_BGSAVE_START and not link.closed
        ]
        if not waiting:
            return
        # one snapshot serves one RDB version: the first waiting replica's
        version = waiting[0].rdb_version
        same = [link for link in waiting if link.rdb_version == version]
        now = time.monotonic()
        decision = diskless_cron_decision(
            [
                PendingReplica(link.client.id, link.info.capa, link.info.req, int(link.wait_start))
                for link in same
            ],
            int(now),
            delay=cfg.get_int("repl-diskless-sync-delay"),
            max_replicas=cfg.get_int("repl-diskless-sync-max-replicas"),
            diskless_sync=cfg.get_bool("repl-diskless-sync"),
            child_active=self.children.busy,
        )
        if decision is None:
            return
        chosen = [self.links[i] for i in decision.client_ids if i in self.links]
        if chosen:
            self.start_bgsave_for_replication(chosen, decision.target.value)

    # --- cron ------------------------------------------------------------------------------

    def fast_cron(self) -> None:
        self._settle()  # what connections left pending goes out within one fast_cron period
        if self.failover is FailoverState.WAITING_FOR_SYNC:
            self._failover_cron()
        if self.server.paused & PauseAction.REPLICA:
            return  # as Valkey: no PING or GETACK while replication traffic is paused
        if self.getack_pending:
            self.getack_pending = False
            self.feed_raw(self.encoder.getack())

    def cron(self) -> None:
        """Once a second: keepalives, pings, timeouts, delayed diskless syncs, backlog TTL."""
        cfg = self.server.config
        now = time.time()
        # forks first: a keepalive queued for a replica whose socket a child is about to own
        # would be written into the middle of that child's RDB
        self.cron_start_waiting()
        for link in list(self.links.values()):
            st = link.info.state
            if st is ReplicaState.WAIT_BGSAVE_START or (
                st is ReplicaState.WAIT_BGSAVE_END and link.rdb_target == "disk"
            ):
                link.push(b"\n")
        if not self.is_replica and self.links:
            self.ping_counter += 1
            if (
                self.ping_counter >= cfg.get_int("repl-ping-replica-period")
                and not self.server.pause.actions(int(now * 1000)) & PauseAction.REPLICA
            ):
                self.ping_counter = 0
                self.feed_raw(self.encoder.ping())
        timeout = cfg.get_int("repl-timeout")
        for link in list(self.links.values()):
            if (
                link.info.state is ReplicaState.ONLINE
                and not link.info.pre_psync
                and not link.info.rdb_only
            ):
                if link.first_ack.is_set() and now - link.info.ack_time > timeout:
                    self.log.warning(
                        f"Disconnecting timedout replica (streaming sync): {link.client.addr}"
                    )
                    self.drop_link(link, "timeout")
        if self.rdb_channels_in_grace:
            self._expire_rdb_channel_grace()
        ttl = cfg.get_int("repl-backlog-ttl")
        if (
            not self.is_replica
            and self.backlog is not None
            and not self.links
            and ttl > 0
            and self.no_replicas_since is not None
            and time.monotonic() - self.no_replicas_since > ttl
        ):
            self.ids.new_history(new_replid())
            self.backlog = None
            self.log.notice(
                f"Replication backlog freed after {ttl} seconds without connected replicas."
            )

    # --- INFO / ROLE / WAIT ----------------------------------------------------------------

    @staticmethod
    def _peer_ip(link: ReplicaLink) -> str:
        return link.client.addr.rsplit(":", 1)[0]

    def replica_lines(self) -> list[str]:
        lines: list[str] = []
        now = int(time.time())
        for link in self.links.values():
            line = info_replica_line(len(lines), link.info, self._peer_ip(link), now)
            if line is not None:
                lines.append(line)
        return lines

    def info_lines(self) -> list[str]:
        cfg = self.server.config
        out: list[str] = []
        if self.is_replica:
            out += self.primary.info_lines()
        else:
            out.append("role:master")
        replicas = self.replica_lines()
        out.append(f"connected_slaves:{len(replicas)}")
        min_write = cfg.get_int("min-replicas-to-write")
        max_lag = cfg.get_int("min-replicas-max-lag")
        if min_write and max_lag:
            out.append(f"min_slaves_good_slaves:{self.good_replicas()}")
        out += replicas
        out += [
            f"replicas_waiting_psync:{self.replicas_waiting_psync()}",
            f"master_failover_state:{self.failover_state}",
            f"master_replid:{self.ids.replid}",
            f"master_replid2:{self.ids.replid2}",
            f"master_repl_offset:{self.ids.master_repl_offset}",
            f"second_repl_offset:{self.ids.second_repl_offset}",
        ]
        b = self.backlog
        out += [
            f"repl_backlog_active:{1 if b is not None else 0}",
            f"repl_backlog_size:{cfg.get_int('repl-backlog-size')}",
            f"repl_backlog_first_byte_offset:{b.first_byte_offset if b is not None else 0}",
            f"repl_backlog_histlen:{b.histlen if b is not None else 0}",
        ]
        return out

    def replicas_waiting_psync(self) -> int:
        waiting = sum(1 for link in self.links.values() if link.waiting_psync)
        return waiting + len(self.rdb_channels_in_grace)

    def role_reply(self) -> Reply:
        if self.is_replica:
            return self.primary.role_reply()
        return role_primary_reply(
            self.ids.master_repl_offset,
            [
                (link.info, self._peer_ip(link))
                for link in self.links.values()
                if not link.info.rdb_only
            ],
        )

    def good_replicas(self) -> int:
        max_lag = self.server.config.get_int("min-replicas-max-lag")
        now = int(time.time())
        return sum(
            1
            for link in self.links.values()
            if link.info.state is ReplicaState.ONLINE and now - link.info.ack_time <= max_lag
        )

    def enough_good_replicas(self) -> bool:
        cfg = self.server.config
        need = cfg.get_int("min-replicas-to-write")
        if not need or not cfg.get_int("min-replicas-max-lag") or self.is_replica:
            return True
        return self.good_replicas() >= need

    def acked_replicas(self, offset: int) -> int:
        return sum(
            1
            for link in self.links.values()
            if link.info.state is ReplicaState.ONLINE
            and not link.info.rdb_only
            and link.info.ack_offset >= offset
        )

    def aof_acked_replicas(self, offset: int) -> int:
        """WAITAOF's count: replicas whose append-only file holds ``offset`` (their FACK)."""
        return sum(
            1
            for link in self.links.values()
            if link.info.state is ReplicaState.ONLINE
            and not link.info.rdb_only
            and link.info.aof_ack_offset >= offset
        )

    def wait(
        self,
        client: ClientState,
        numreplicas: int,
        timeout_ms: int,
        now_ms: int,
        first: bool,
        count: Callable[[int], int] | None = None,
        reply: Callable[[int], Reply] = lambda n: n,
    ) -> Reply | BlockRequest:
        """WAIT (and WAITAOF with its ``count`` and ``reply``): done when enough replicas
        acknowledged the client's last write, else blocked until their ACKs or the timeout."""
        counter = count or self.acked_replicas
        offset = client.last_write_offset
        acked = counter(offset)
        if acked >= numreplicas:
            return reply(acked)
        if first:
            self.getack_pending = True
            client.extra["wait_deadline"] = None if timeout_ms == 0 else now_ms + timeout_ms
        deadline = client.extra.get("wait_deadline")
        return BlockRequest(
            (GETACK_KEY,),
            deadline if isinstance(deadline, int) else None,
            reply(acked),
            on_timeout=lambda: reply(counter(offset)),
        )

    def path_of_dump(self) -> Path:
        persistence: Persistence = self.server.persistence
        return persistence.path
