"""The replica role: one task that keeps a link to our primary (Valkey's replicationCron side).

Each session connects, runs :class:`~valsync.replication.handshake.ReplicaHandshake`, then
either loads an RDB (``+FULLRESYNC`` or the ``SYNC`` fallback) or continues from the cached
position (``+CONTINUE``), then applies the stream through the server with exact offsets
(:class:`~valsync.replication.stream.ReplicationStreamReader`), acking every second and at
once on GETACK (with the offset *before* the GETACK). The applied bytes are proxied, byte for
byte, to our backlog and sub-replicas, so offsets match from top to bottom. On a link loss the
primary is cached and the next session asks ``PSYNC <replid> <offset+1>`` at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import trio
import trio.lowlevel

from valsync import VALKEY_COMPAT_VERSION
from valsync.commands import BlockRequest, ClientState
from valsync.rdb.snapshot import IncrementalLoad, RdbError
from valsync.replication.errors import RemoteProtocolError
from valsync.replication.failover import FailoverState
from valsync.replication.handshake import (
    CachedPrimary,
    Continue,
    DualChannelSyncReply,
    EndOffset,
    FullResyncReply,
    HandshakeConfig,
    HandshakeFailed,
    HandshakeNotice,
    Keepalive,
    RdbChannelHandshake,
    ReplicaHandshake,
    SendBytes,
    SyncFallback,
    TryLater,
)
from valsync.replication.rdb_transfer import (
    RdbAborted,
    RdbBegin,
    RdbChunk,
    RdbEnd,
    RdbPayloadReceiver,
)
from valsync.replication.replicas import role_replica_reply
from valsync.replication.set_run import plain_set_run
from valsync.replication.stream import (
    STREAM_CONTROL,
    ReplicationStreamReader,
    encode_ack,
    is_getack,
)
from valsync.resp.reply import Reply

if TYPE_CHECKING:
    from valsync.net.replication import ReplicationService
    from valsync.persistence import ReplInfoFromRdb

READ_SIZE = 256 * 1024
RECONNECT_PERIOD = 1.0
HANDSHAKE_IO_TIMEOUT = 5.0


class LinkLost(Exception):
    """The session with the primary ended; the message says why (logged)."""


class PrimaryLinkDriver:
    """See the module docstring."""

    def __init__(self, service: ReplicationService) -> None:
        self.service = service
        self.server = service.server
        self.log = service.log
        self.host: str | None = None
        self.port = 0
        self.state = "none"
        self.link_up = False
        self.cached: CachedPrimary | None = None
        self.stream_db = 0
        self.primary_client: ClientState | None = None
        self.changed = trio.Event()
        self.scope: trio.CancelScope | None = None
        self.last_io = 0.0
        self.link_down_since: float | None = None
        self.sync_total = 0
        self.sync_read = 0
        self.sync_last_io = 0.0
        self.read_offset = -1
        self.applied_offset = -1
        self._stream: trio.SocketStream | None = None
        self._pre_psync = False
        self._send_lock = trio.Lock()
        self.nursery: trio.Nursery | None = None
        self.repl_buffer_size = 0
        self.repl_buffer_peak = 0
        self._unproxied = bytearray()
        self._applied_unproxied = 0

    # --- configuration ---------------------------------------------------------------------

    def set_primary(self, host: str, port: int, from_rdb: ReplInfoFromRdb | None = None) -> bool:
        """REPLICAOF host port; False when already following that primary."""
        if self.host == host and self.port == port:
            return False
        was_primary = self.host is None
        self.host, self.port = host, port
        if was_primary:
            self.server.unblock_clients_on_role_change()
        ids = self.service.ids
        if from_rdb is not None:
            ids.replid = from_rdb.replid
            ids.master_repl_offset = from_rdb.offset
            self.cached = CachedPrimary(from_rdb.replid, from_rdb.offset)
            self.stream_db = from_rdb.stream_db
        elif was_primary:
            # like Valkey, hope the new primary knows our history: PSYNC <our id> <our offset+1>
            self.cached = CachedPrimary(ids.replid, ids.master_repl_offset)
        self.server.log.set_role("S")
        for listener in self.server.role_listeners:
            listener()
        self.log.notice(f"Connecting to PRIMARY {host}:{port}")
        self._restart()
        return True

    def unset_primary(self, replid: str | None = None) -> None:
        """REPLICAOF NO ONE: become a primary; our old history stays valid as replid2."""
        if self.host is None:
            return
        from valsync.net.replication import new_replid

        self.host = None
        self.port = 0
        self.link_up = False
        self.state = "none"
        ids = self.service.ids
        if self.applied_offset >= 0:
            ids.master_repl_offset = self.applied_offset
        # the offsets read from this primary end with its era: a later REPLICAOF NO ONE must not
        # rewind master_repl_offset to them
        self.read_offset = self.applied_offset = -1
        ids.shift_replication_id(replid or new_replid())
        if self.service.backlog is None:
            self.service.create_backlog()
        self.service.encoder.reset_selected_db()
        # like replicationUnsetPrimary: sub-replicas reconnect and learn the new ID by PSYNC
        for link in list(self.service.links.values()):
            self.service.drop_link(link, "promoted")
        self.cached = None
        self.server.log.set_role("M")
        for listener in self.server.role_listeners:
            listener()
        self.log.notice("MASTER MODE enabled (user request from 'id=0 addr= cmd=replicaof')")
        self._restart()

    def promote_for_failover(self, replid: str) -> None:
        self.unset_primary(replid)

    def _restart(self) -> None:
        if self.scope is not None:
            self.scope.cancel()
        self.changed.set()

    def cached_position(self) -> tuple[str, int] | None:
        if self.applied_offset >= 0 and self.link_up:
            return self.service.ids.replid, self.applied_offset
        if self.cached is not None:
            return self.cached.replid, self.cached.offset
        return None

    # --- the task --------------------------------------------------------------------------

    async def start(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        nursery.start_soon(self._loop)

    async def _loop(self) -> None:
        while True:
            if self.host is None:
                self.changed = trio.Event()
                await self.changed.wait()
                continue
            host, port = self.host, self.port
            self.scope = trio.CancelScope()
            with self.scope:
                try:
                    await self._session(host, port)
                except* (
                    LinkLost,
                    RemoteProtocolError,
                    RdbError,
                    OSError,
                    trio.BrokenResourceError,
                    trio.ClosedResourceError,
                    trio.TooSlowError,
                ) as group:
                    for err in group.exceptions:
                        self.log.warning(f"Replication link with {host}:{port} ended: {err}")
            # like Valkey: reconnect at once after losing an established link
            established = self.link_up
            self._link_down()
            if self.host is None:
                continue
            if not established:
                self.changed = trio.Event()
                with trio.move_on_after(RECONNECT_PERIOD):
                    await self.changed.wait()

    def _link_down(self) -> None:
        if self.link_up:
            self.link_down_since = time.time()
            # cache the primary: resume from exactly what we applied
            self.cached = CachedPrimary(self.service.ids.replid, self.applied_offset)
            self.log.notice("Connection with primary lost. Caching the disconnected primary state.")
        self.link_up = False
        if self.link_down_since is None:
            self.link_down_since = -1.0
        if self.primary_client is not None:
            self.server.discard_transaction(self.primary_client)
            self.server.free_client(self.primary_client)
            self.primary_client = None
        self._stream = None
        self.state = "connect" if self.host is not None else "none"

    def _source_addr(self) -> str | None:
        """``bind-source-addr``: the address the links to the primary come from."""
        return self.server.config.get_str("bind-source-addr") or None

    async def _session(self, host: str, port: int) -> bool:
        """One connection to the primary; True if the link came up (reconnect at once)."""
        cfg = self.server.config
        self.state = "connecting"
        with trio.fail_after(cfg.get_int("repl-timeout")):
            stream = await trio.open_tcp_stream(host, port, local_address=self._source_addr())
        self._stream = stream
        async with stream:
            self.state = "handshake"
            announce_port = cfg.get_int("replica-announce-port") or cfg.get_int("port")
            announce_ip = cfg.get_str("replica-announce-ip") or None
            auth = cfg.get_str("masterauth") or None
            user = cfg.get_str("masteruser") or None
            hs_config = HandshakeConfig(
                listening_port=announce_port,
                version=VALKEY_COMPAT_VERSION if not self._wants_valkey9() else "9.1.2",
                announce_ip=announce_ip,
                primary_user=user,
                primary_auth=auth,
                dual_channel=cfg.get_bool("dual-channel-replication-enabled"),
            )
            failover = self.service.failover is FailoverState.IN_PROGRESS
            hs = ReplicaHandshake(hs_config, self.cached, failover=failover)
            await self._send(hs.initiate())
            outcome = None
            while outcome is None:
                data = await self._recv(
                    HANDSHAKE_IO_TIMEOUT if hs.state.value != "receive_psync_reply" else None
                )
                for ev in hs.receive_data(data):
                    if isinstance(ev, SendBytes):
                        await self._send(ev.data)
                    elif isinstance(ev, HandshakeNotice):
                        self.log.notice(ev.message)
                    elif isinstance(ev, Keepalive):
                        continue
                    else:
                        outcome = ev
            leftover = hs.unused_data
            if failover:
                accepted = isinstance(outcome, (Continue, FullResyncReply, DualChannelSyncReply))
                self.service.failover_psync_result(accepted)
                if not accepted:
                    return False  # the abort made us a primary again
            if isinstance(outcome, HandshakeFailed):
                raise LinkLost(outcome.message)
            if isinstance(outcome, TryLater):
                raise LinkLost(
                    f"Primary is currently unable to PSYNC but should be in the future: {outcome.message}"
                )
            if isinstance(outcome, DualChannelSyncReply):
                leftover, start = await self._dual_channel_sync(host, port, hs_config, leftover)
                self._pre_psync = False
            elif isinstance(outcome, Continue):
                assert self.cached is not None
                changed = self.service.ids.adopt_continue(outcome.replid)
                self.log.notice("Successful partial resynchronization with primary.")
                if changed:
                    self.log.notice(f"Primary replication ID changed to {outcome.replid}")
                    # as Valkey: sub-replicas reconnect and learn the new ID by PSYNC with us,
                    # so they can later follow the new primary directly by partial resync
                    for link in list(self.service.links.values()):
                        self.service.drop_link(link, "primary replication ID changed")
                start = self.cached.offset
                self._pre_psync = False
            elif isinstance(outcome, (FullResyncReply, SyncFallback)):
                if isinstance(outcome, FullResyncReply):
                    self.log.notice(f"Full resync from primary: {outcome.replid}:{outcome.offset}")
                    replid, start = outcome.replid, outcome.offset
                    self._pre_psync = False
                else:
                    self.log.notice(
                        f"PSYNC not supported by primary ({outcome.message}): falling back to SYNC"
                    )
                    replid, start = self.service.ids.replid, -1
                    self._pre_psync = True
                leftover = await self._full_sync(leftover, replid, start)
            else:  # pragma: no cover - every terminal event is handled above
                raise LinkLost(f"unexpected handshake outcome {outcome!r}")
            await self._stream_loop(leftover, start)
            return True

    def _wants_valkey9(self) -> bool:
        return True

    async def _dual_channel_sync(
        self, host: str, port: int, config: HandshakeConfig, main_leftover: bytes
    ) -> tuple[bytes, int]:
        """Section 5: the RDB comes on a second connection while the main one already streams.

        Returns the main channel's stream bytes (buffered during the load) and their offset.
        """
        cfg = self.server.config
        self.log.notice("PRIMARY <-> REPLICA sync: starting dual channel replication")
        assert self._stream is not None
        with trio.fail_after(cfg.get_int("repl-timeout")):
            rdb_stream = await trio.open_tcp_stream(host, port, local_address=self._source_addr())
        async with rdb_stream:
            rdb_hs = RdbChannelHandshake(config)
            await rdb_stream.send_all(rdb_hs.initiate())
            endoff: EndOffset | None = None
            while endoff is None:
                data = await self._recv(None, rdb_stream)
                for ev in rdb_hs.receive_data(data):
                    if isinstance(ev, SendBytes):
                        await rdb_stream.send_all(ev.data)
                    elif isinstance(ev, HandshakeFailed):
                        raise LinkLost(ev.message)
                    elif isinstance(ev, EndOffset):
                        endoff = ev
            self.log.notice(
                f"PRIMARY <-> REPLICA sync: RDB channel ends at offset {endoff.offset}, "
                f"replid {endoff.replid}, client id {endoff.client_id}"
            )
            main_hs = ReplicaHandshake.for_dual_channel_main(
                config, endoff.client_id, endoff.replid, endoff.offset
            )
            buffered = bytearray()
            established = trio.Event()

            async def main_channel() -> None:
                """PSYNC on the main channel, then buffer its stream while the RDB loads."""
                await self._send(main_hs.initiate())
                main_outcome: object = None
                pending = main_leftover
                while main_outcome is None:
                    data = pending or await self._recv()
                    pending = b""
                    for main_ev in main_hs.receive_data(data):
                        if isinstance(main_ev, SendBytes):
                            if self.server.debug_pause_after_fork:
                                self.server.pause_process()  # Valkey stops before its PSYNC
                            # sent even if the RDB channel failed meanwhile: Valkey sends it
                            # as soon as it is continued, before it looks at the other channel
                            with trio.CancelScope(shield=True):
                                await self._send(main_ev.data)
                        elif isinstance(main_ev, (Keepalive, HandshakeNotice)):
                            continue
                        else:
                            main_outcome = main_ev
                if not isinstance(main_outcome, Continue):
                    raise LinkLost(f"main channel PSYNC after $ENDOFF failed: {main_outcome!r}")
                self.state = "sync"
                buffered.extend(main_hs.unused_data)
                established.set()
                # like Valkey, stop reading past the replica output-buffer hard limit:
                # TCP then pushes back on the primary until the load is done
                limit = cfg.client_output_buffer_limit("replica")[0]
                while not limit or len(buffered) < limit:
                    buffered.extend(await self._recv())
                    self.repl_buffer_size = len(buffered)
                    self.repl_buffer_peak = max(self.repl_buffer_peak, len(buffered))
                self.log.notice("Replication buffer limit reached, stopping buffering.")

            # as Valkey, the RDB loads while the main channel's PSYNC is still on its way
            # (the primary may not answer it before the RDB is all sent)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(main_channel)
                rest = await self._full_sync(
                    rdb_hs.unused_data,
                    endoff.replid,
                    endoff.offset,
                    stream=rdb_stream,
                    dual_channel=True,
                )
                if rest:
                    raise LinkLost("unexpected bytes after the RDB on the RDB channel")
                await rdb_stream.aclose()
                if not established.is_set():
                    self.log.debug(
                        "PRIMARY <-> REPLICA sync: RDB loaded, waiting for the main channel PSYNC"
                    )
                await established.wait()
                nursery.cancel_scope.cancel()
        self.repl_buffer_size = 0
        self.log.notice(f"PRIMARY <-> REPLICA sync: applying {len(buffered)} buffered stream bytes")
        return bytes(buffered), endoff.offset

    async def _send(self, data: bytes) -> None:
        stream = self._stream
        if stream is None:
            return
        async with self._send_lock:
            await stream.send_all(data)

    async def _recv(
        self, seconds: float | None = None, stream: trio.SocketStream | None = None
    ) -> bytes:
        """Next bytes from the primary; ``seconds=None`` is ``repl-timeout`` as configured now
        (Valkey's cron compares the live setting with the last I/O, so a CONFIG SET during a
        long wait applies at once)."""
        stream = self._stream if stream is None else stream
        assert stream is not None
        cfg = self.server.config
        started = time.monotonic()
        data: bytes | None = None
        while data is None:
            limit = cfg.get_int("repl-timeout") if seconds is None else seconds
            left = started + limit - time.monotonic()
            if left <= 0:
                raise LinkLost(
                    "Timeout connecting to the PRIMARY..."
                    if not self.link_up
                    else "PRIMARY timeout: no data nor PING received..."
                )
            with trio.move_on_after(min(left, 1.0) if seconds is None else left):
                data = await stream.receive_some(READ_SIZE)
        if not data:
            raise LinkLost("connection closed by primary")
        self.last_io = time.time()
        self.server.stats.total_net_repl_input_bytes += len(data)
        return data

    # --- full sync -------------------------------------------------------------------------

    async def _full_sync(
        self,
        leftover: bytes,
        replid: str,
        offset: int,
        stream: trio.SocketStream | None = None,
        dual_channel: bool = False,
    ) -> bytes:
        """Receive and load the RDB (from ``stream``, by default the main link); returns the
        stream bytes that followed it. A ``dual_channel`` load leaves the link state to the
        main channel (Valkey's ROLE says ``handshake`` until its PSYNC is answered)."""
        cfg = self.server.config
        if not dual_channel:
            self.state = "sync"
        self.sync_total, self.sync_read = -1, 0
        self.sync_last_io = time.time()
        mode = cfg.get_str("repl-diskless-load")
        # Valkey's useDisklessLoad: on-empty-db goes through the disk when we hold keys
        to_disk = mode == "disabled" or (
            mode == "on-empty-db" and self.server.keyspace.total_keys() > 0
        )
        receiver = RdbPayloadReceiver()
        loader = IncrementalLoad(len(self.server.keyspace))
        # through the disk into an empty replica, the RDB is parsed as it arrives (into a
        # keyspace of its own, swapped in at the end as before), so that loading the file
        # once written has nothing left to do; an error found on the way is reported there
        parse_early = (
            to_disk
            and self.server.keyspace.total_keys() == 0
            and cfg.get_int("key-load-delay") == 0
        )
        early_error: RdbError | None = None
        tmp_path: Path | None = None
        tmp_file = None
        if to_disk:
            tmp_path = Path(cfg.get_str("dir")) / f"temp-{int(time.time())}.{os.getpid()}.rdb"
            # plain file I/O on purpose: trio's async files use threads, which must never
            # meet the RDB fork; writes to the local disk are short.
            tmp_file = open(tmp_path, "wb")  # noqa: ASYNC230, SIM115
        keepalive_at = time.monotonic() + 1.0
        try:
            data = leftover
            done = False
            while not done:
                if not data:
                    data = await self._recv(None, stream)
                events = receiver.receive_data(data)
                data = b""
                for ev in events:
                    if isinstance(ev, RdbBegin):
                        self.sync_total = ev.size if ev.size is not None else -1
                        if not to_disk:
                            self._start_diskless_loading(mode, replid)
                        self.log.notice(
                            f"PRIMARY <-> REPLICA sync: receiving {'streamed RDB' if ev.size is None else f'{ev.size} bytes'} from primary to {'disk' if to_disk else 'parser'}"
                        )
                    elif isinstance(ev, RdbChunk):
                        self.sync_read += len(ev.data)
                        self.sync_last_io = time.time()
                        if tmp_file is not None:
                            tmp_file.write(ev.data)
                            if parse_early and early_error is None:
                                try:
                                    loader.feed(ev.data)
                                except RdbError as err:
                                    early_error = err
                        else:
                            await self._throttle(loader.feed(ev.data))
                            if time.monotonic() > keepalive_at:
                                keepalive_at = time.monotonic() + 1.0
                                await self._send(b"\n")
                                await trio.lowlevel.checkpoint()
                    elif isinstance(ev, RdbAborted):
                        raise LinkLost(f"primary aborted the transfer: {ev.message}")
                    elif isinstance(ev, RdbEnd):
                        done = True
            rest = receiver.unused_data
            if to_disk:
                self.server.loading = True
            if tmp_file is not None and tmp_path is not None:
                tmp_file.close()
                tmp_file = None
                dump = Path(cfg.get_str("dir")) / cfg.get_str("dbfilename")
                os.replace(tmp_path, dump)
                tmp_path = None
                self.log.notice("PRIMARY <-> REPLICA sync: Loading DB in memory")
                if early_error is not None:
                    raise early_error
                if not parse_early:
                    await self._load_file(dump, loader, keepalive_at)
            result = loader.finish()
        except BaseException:
            if tmp_file is not None:
                tmp_file.close()
            if tmp_path is not None:
                try:
                    tmp_path.unlink()
                except OSError:
                    pass
            self.server.loading = self.server.async_loading = False
            raise
        self.server.loading = self.server.async_loading = False
        self.server.keyspace.swap(result.keyspace, signal=self.server.key_listeners())
        self.server.functions = result.functions
        self.log.notice(f"Done loading RDB, keys loaded: {result.keys}, keys expired: 0.")
        # a new history: our sub-replicas must resync from us
        for link in list(self.service.links.values()):
            self.service.drop_link(link, "primary full resync")
        self.service.ids.adopt_full_sync(replid, offset)
        self.service.create_backlog(offset)
        self.stream_db = result.stream_db if result.stream_db is not None else 0
        self.log.notice(f"PRIMARY <-> REPLICA sync: Finished with success ({result.keys} keys)")
        return rest

    async def _load_file(self, dump: Path, loader: IncrementalLoad, keepalive_at: float) -> None:
        with open(dump, "rb") as f:  # noqa: ASYNC230 - plain file I/O, see _full_sync
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                await self._throttle(loader.feed(chunk))
                if time.monotonic() > keepalive_at:
                    keepalive_at = time.monotonic() + 1.0
                    await self._send(b"\n")
                await trio.lowlevel.checkpoint()

    def _start_diskless_loading(self, mode: str, replid: str) -> None:
        """A swapdb load of the history we already follow keeps serving the old data
        (async loading); any other diskless load answers -LOADING until it ends."""
        if mode == "swapdb" and replid == self.service.ids.replid:
            self.server.async_loading = True
        else:
            self.server.loading = True

    async def _throttle(self, keys: int) -> None:
        """``key-load-delay`` (microseconds per key), slept on trio so INFO keeps answering."""
        delay = self.server.config.get_int("key-load-delay")
        if delay > 0 and keys:
            await trio.sleep(keys * delay / 1_000_000)

    # --- streaming -------------------------------------------------------------------------

    async def _stream_loop(self, leftover: bytes, start: int) -> None:
        reader = ReplicationStreamReader(start)
        client = self.server.new_client(addr=f"{self.host}:{self.port}")
        client.is_primary_link = True
        client.authenticated = True  # our primary's stream is trusted, requirepass or not
        client.db = self.stream_db
        scope = self.scope
        client.extra["kill"] = lambda: scope.cancel() if scope is not None else None
        self.primary_client = client
        self.read_offset = self.applied_offset = start
        self.link_up = True
        self.link_down_since = None
        self.state = "connected"
        self.cached = None
        self.service.ids.master_repl_offset = (
            max(start, 0) if start >= 0 else self.service.ids.master_repl_offset
        )
        self.log.notice(f"PRIMARY <-> REPLICA sync: streaming from offset {start}")
        raw = self._unproxied = bytearray()
        self._applied_unproxied = 0
        if not self._pre_psync:
            await self._send(encode_ack(start))
        async with trio.open_nursery() as nursery:
            if not self._pre_psync:
                nursery.start_soon(self._ack_every_second, reader)
            data = leftover
            while True:
                if data:
                    raw += data
                    reader.receive_data(data)
                    await self._apply(reader, raw, client)
                data = await self._recv()

    async def _apply(
        self, reader: ReplicationStreamReader, raw: bytearray, client: ClientState
    ) -> None:
        """Run every complete command of the stream; proxy the applied bytes once per batch.

        ``raw`` holds the stream bytes not yet proxied, in order; the applied ones go to our
        backlog and sub-replicas in one piece, keepalive newlines dropped (never counted).
        Whoever needs the backlog exact in the middle of a batch (the error log, a GETACK)
        calls :meth:`flush_applied` first.
        """
        server = self.server
        apply = server.apply_from_primary
        keepalives = reader.keepalives
        server.applying_primary_stream = True
        try:
            while True:
                batch, sizes = reader.take_framed()
                if batch:
                    # the fast lane: plain commands outside a transaction, offsets inline;
                    # a run of plain SETs is stored at once
                    i = 0
                    n = len(batch)
                    scanned = 0
                    while i < n:
                        if i >= scanned:
                            keys, values, longest_key, longest_value = plain_set_run(batch, i)
                            j = scanned = i + len(keys)
                            if (
                                j - i > 1
                                and not reader.in_multi
                                and server.apply_sets_from_primary(
                                    client, keys, values, batch[j - 1], longest_key, longest_value
                                )
                            ):
                                size = sum(sizes[i:j])
                                reader.command_start = reader.read_offset + size - sizes[j - 1]
                                reader.read_offset += size
                                reader.applied_offset = reader.read_offset
                                self._applied_unproxied += size
                                i = j
                                continue
                        argv = batch[i]
                        size = sizes[i]
                        i += 1
                        name = argv[0]
                        if (
                            reader.in_multi
                            or server.paused
                            or (len(name) > 3 and name.lower() in STREAM_CONTROL)
                        ):
                            before = reader.applied_offset
                            reader.framed(size)
                            await self._apply_one(reader, client, argv, before, raw)
                            continue
                        start = reader.read_offset
                        reader.command_start = start
                        reader.read_offset = reader.applied_offset = start + size
                        apply(client, argv)
                        self._applied_unproxied += size
                    continue
                before = reader.applied_offset
                command = reader.next_argv()
                if command is None:
                    break
                if reader.keepalives != keepalives:
                    keepalives = reader.keepalives
                    self.flush_applied()
                    while raw and raw[0] == 0x0A:
                        del raw[0]
                await self._apply_one(reader, client, command, before, raw)
        finally:
            server.applying_primary_stream = False
            # also when the link breaks mid-batch (an ACK that cannot be sent, CLIENT KILL):
            # what ran is proxied and counted, so the next PSYNC resumes right after it
            self.flush_applied()
            self.read_offset = reader.read_offset
            self.applied_offset = reader.applied_offset
            self.stream_db = client.db

    async def _apply_one(
        self,
        reader: ReplicationStreamReader,
        client: ClientState,
        argv: list[bytes],
        before: int,
        raw: bytearray,
    ) -> None:
        """One command through the full path: GETACK answered, transactions tracked."""
        server = self.server
        if is_getack(argv):
            if not self._pre_psync:
                self.flush_applied()
                server.applying_primary_stream = False
                await self._send(encode_ack(reader.applied_offset))
                server.applying_primary_stream = True
        else:
            reply = server.process(client, argv)
            while isinstance(reply, BlockRequest) and reply.postponed:
                # CLIENT PAUSE holds our primary's writes too: keep reading, apply later
                self.flush_applied()
                server.applying_primary_stream = False
                await self._wait_pause_end(reader, raw, reply.deadline_ms)
                server.applying_primary_stream = True
                reply = server.process(client, argv)
        reader.argv_done(argv)
        self._applied_unproxied += reader.applied_offset - before

    async def _wait_pause_end(
        self, reader: ReplicationStreamReader, raw: bytearray, deadline_ms: int | None
    ) -> None:
        """Until a pause lifts or reaches its end, reading (not applying) the stream meanwhile,
        as Valkey's postponed primary client does: ``slave_read_repl_offset`` moves on."""
        lifted = trio.Event()
        listeners = self.server.pause_listeners
        listeners.add(lifted.set)
        self.read_offset = reader.read_offset + reader.pending
        try:
            remaining = ((deadline_ms or 0) - time.time() * 1000) / 1000.0
            with trio.move_on_after(max(remaining, 0.0)):
                async with trio.open_nursery() as nursery:

                    async def keep_reading() -> None:
                        while True:
                            data = await self._recv()
                            raw.extend(data)
                            reader.receive_data(data)
                            self.read_offset = reader.read_offset + reader.pending

                    nursery.start_soon(keep_reading)
                    await lifted.wait()
                    nursery.cancel_scope.cancel()
        finally:
            listeners.discard(lifted.set)

    def flush_applied(self) -> None:
        """Send the stream bytes applied so far down our own stream (backlog, sub-replicas),
        as Valkey does after each command it applied."""
        applied = self._applied_unproxied
        if applied > 0:
            raw = self._unproxied
            chunk = bytes(raw[:applied])
            del raw[:applied]
            self._applied_unproxied = 0
            self.service.feed_raw(chunk)

    async def _ack_every_second(self, reader: ReplicationStreamReader) -> None:
        while True:
            await trio.sleep(1)
            if not reader.in_multi:
                await self._send(encode_ack(reader.applied_offset))

    def send_ack_now(self) -> None:
        """REPLCONF GETACK arriving outside the stream loop (handled inline there)."""

    # --- INFO / ROLE -----------------------------------------------------------------------

    def info_lines(self) -> list[str]:
        now = time.time()
        up = self.link_up
        lines = [
            "role:slave",
            f"master_host:{self.host}",
            f"master_port:{self.port}",
            f"master_link_status:{'up' if up else 'down'}",
            f"master_last_io_seconds_ago:{int(now - self.last_io) if up else -1}",
            f"master_sync_in_progress:{1 if self.state == 'sync' else 0}",
            f"slave_read_repl_offset:{self.read_offset if self.read_offset >= 0 else self.service.ids.master_repl_offset}",
            f"slave_repl_offset:{self.applied_offset if self.applied_offset >= 0 else self.service.ids.master_repl_offset}",
            f"replicas_repl_buffer_size:{self.repl_buffer_size}",
            f"replicas_repl_buffer_peak:{self.repl_buffer_peak}",
        ]
        if self.state == "sync":
            total = self.sync_total
            left = total - self.sync_read if total >= 0 else 0
            perc = (100.0 * self.sync_read / total) if total > 0 else 0.0
            lines += [
                f"master_sync_total_bytes:{total}",
                f"master_sync_read_bytes:{self.sync_read}",
                f"master_sync_left_bytes:{left}",
                f"master_sync_perc:{perc:.2f}" if total >= 0 else "master_sync_perc:-0.00",
                f"master_sync_last_io_seconds_ago:{int(now - self.sync_last_io)}",
            ]
        if not up:
            since = self.link_down_since
            lines.append(
                f"master_link_down_since_seconds:{int(now - since) if since is not None and since > 0 else -1}"
            )
        cfg = self.server.config
        lines += [
            f"slave_priority:{cfg.get_int('replica-priority')}",
            f"slave_read_only:{int(cfg.get_bool('replica-read-only'))}",
            f"replica_announced:{int(cfg.get_bool('replica-announced'))}",
        ]
        return lines

    def role_reply(self) -> Reply:
        offset = self.applied_offset if self.link_up else -1
        return role_replica_reply(self.host or "", self.port, self.state, offset)
