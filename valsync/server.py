"""The Server: owns the config, the keyspace, the clients and replication; runs commands.

:meth:`Server.process` is Valkey's ``processCommand``: the checks every command passes (auth,
arity, MULTI queueing, read-only replica, stale data, min-replicas) before the handler runs,
and what happens after it (WATCH invalidation, waking blocked clients, propagation).
Everything here is synchronous; the trio tasks live in :mod:`valsync.net`.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from valsync import VALKEY_COMPAT_VERSION
from valsync.commands import (
    COMMANDS,
    BlockRequest,
    ClientState,
    CommandContext,
    CommandSpec,
    ExpireMode,
    Propagated,
    call,
    lookup_command,
)
from valsync.commands.errors import EXECABORT, READONLY, CommandError
from valsync.commands.server_cmds import SUBCOMMAND_ARITY, check_subcommand
from valsync.config import Config
from valsync.keyspace import Keyspace
from valsync.log import ServerLog
from valsync.pubsub import PubSub
from valsync.replication.unexpected_errors import backlog_log_line, unexpected_error
from valsync.resp.reply import NULL_ARRAY, QUEUED, ErrorReply, Reply, ReplySeries
from valsync.scripting.state import ScriptingState
from valsync.stats import Stats

if TYPE_CHECKING:
    from valsync.net.replication import ReplicationService

NOAUTH = "NOAUTH Authentication required."
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."

# Commands that run even inside MULTI rather than being queued (Valkey's execCommand list).
MULTI_CONTROL = frozenset({"exec", "discard", "watch", "quit", "reset"})
# Commands with subcommands: CLIENT LIST shows them as ``client|list``, as Valkey does.
CONTAINER_COMMANDS = frozenset({"client", "config", "command", "object", "pubsub"})
# Commands allowed before AUTH, as Valkey's no_auth flag.
NO_AUTH_COMMANDS = frozenset({"auth", "hello", "quit", "reset"})
# What a RESP2 client with subscriptions may still run (Valkey's pub/sub context).
SUBSCRIBED_CONTEXT_COMMANDS = frozenset(
    "ping subscribe ssubscribe unsubscribe sunsubscribe psubscribe punsubscribe quit reset".split()
)
# What notify-keyspace-events' 'A' stands for.
NOTIFY_ALL_CLASSES = "g$lshzxetd"


def command_fullname(name: str, argv: list[bytes]) -> str:
    """``client|list`` for a subcommand, as CLIENT LIST and Valkey's logs show it."""
    if name in CONTAINER_COMMANDS and len(argv) > 1:
        return f"{name}|{argv[1].lower().decode('latin-1')}"
    return name


def now_ms() -> int:
    return int(time.time() * 1000)


class Server:
    """One valsync server instance (sans trio: the net layer drives it)."""

    def __init__(self, config: Config, log: ServerLog | None = None) -> None:
        self.config = config
        self.log = log if log is not None else ServerLog()
        self.pid = os.getpid()
        self.run_id = "".join(random.choice("0123456789abcdef") for _ in range(40))
        self.start_time = time.time()
        self.stats = Stats()
        self.keyspace = Keyspace(config.get_int("databases"), on_modified=self.key_modified)
        self.rng = random.Random()
        self.clients: dict[int, ClientState] = {}
        self._next_client_id = 1
        self.watch_index: dict[tuple[int, bytes], set[ClientState]] = {}
        self.key_ready_listeners: dict[tuple[int, bytes], set[Callable[[], None]]] = {}
        self.dirty = 0
        self.lastsave = int(time.time())
        self.active_expire_enabled = True
        self.loading = False
        self.shutdown_requested: str | None = None
        self.repl: ReplicationService | None = None
        self.command_calls: dict[str, list[int]] = {}
        self.persistence: Any = None
        self.nursery: Any = None
        self.applying_primary_stream = False
        self.functions: list[bytes] = []
        self.scripting = ScriptingState(self._script_log)
        self.cron_paused = False
        self.skip_checksum_validation = False
        """DEBUG SET-SKIP-CHECKSUM-VALIDATION: load dumps and RESTORE payloads unchecked."""
        self.notify_classes = ""
        """The class letters of ``notify-keyspace-events`` in force ("" = notifications off)."""
        self.pubsub = PubSub()
        self._deferred_pushes = self.pubsub.deferred
        self._spec_cache: dict[bytes, CommandSpec] = {}
        self.lazy_expire_unlink = config.get_bool("lazyfree-lazy-expire")
        self.min_replicas_to_write = config.get_int("min-replicas-to-write")
        config.on_change("lazyfree-lazy-expire", self._reload_hot_config)
        config.on_change("min-replicas-to-write", self._reload_hot_config)
        config.on_change("notify-keyspace-events", self._reload_notify_classes)
        self._reload_notify_classes("")
        config.on_change("loglevel", self.log.set_level)
        config.on_change("logfile", lambda _v: self.log.set_logfile(config.logfile_path or ""))

    def _reload_hot_config(self, _value: str) -> None:
        """Directives read on every command are cached; CONFIG SET refreshes them."""
        self.lazy_expire_unlink = self.config.get_bool("lazyfree-lazy-expire")
        self.min_replicas_to_write = self.config.get_int("min-replicas-to-write")

    def _script_log(self, level: str, message: str) -> None:
        self.log.log(level, message)

    def _reload_notify_classes(self, _value: str) -> None:
        """Expand ``A`` and keep nothing unless K or E asks for a channel, so that the commands'
        ``ctx.notify`` calls cost one test when notifications are off."""
        classes = self.config.get_str("notify-keyspace-events").replace("A", NOTIFY_ALL_CLASSES)
        wanted = ("K" in classes or "E" in classes) and bool(set(classes) - {"K", "E"})
        self.notify_classes = classes if wanted else ""

    # --- clients -----------------------------------------------------------------------

    def new_client(self, addr: str = "", laddr: str = "", fd: int = -1) -> ClientState:
        client = ClientState(
            id=self._next_client_id,
            addr=addr,
            laddr=laddr,
            fd=fd,
            created_ms=now_ms(),
            authenticated=not self.config.get_str("requirepass"),
        )
        client.last_interaction_ms = client.created_ms
        self._next_client_id += 1
        self.clients[client.id] = client
        self.stats.total_connections_received += 1
        return client

    def free_client(self, client: ClientState) -> None:
        self.unwatch_all(client)
        self.pubsub.forget(client)
        self.clients.pop(client.id, None)

    # --- key change notifications ------------------------------------------------------

    def key_modified(self, dbid: int, key: bytes) -> None:
        """Valkey's signalModifiedKey + signalKeyAsReady: WATCH and blocked clients."""
        if not self.watch_index and not self.key_ready_listeners:
            return
        ident = (dbid, key)
        watchers = self.watch_index.get(ident)
        if watchers:
            for client in watchers:
                client.dirty_cas = True
        listeners = self.key_ready_listeners.get(ident)
        if listeners:
            for wake in list(listeners):
                wake()

    def watch(self, client: ClientState, key: bytes) -> None:
        ident = (client.db, key)
        client.watched.add(ident)
        self.watch_index.setdefault(ident, set()).add(client)

    def unwatch_all(self, client: ClientState) -> None:
        for ident in client.watched:
            watchers = self.watch_index.get(ident)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self.watch_index[ident]
        client.watched.clear()
        client.dirty_cas = False

    def add_key_listener(
        self, dbid: int, keys: tuple[bytes, ...], wake: Callable[[], None]
    ) -> None:
        for key in keys:
            self.key_ready_listeners.setdefault((dbid, key), set()).add(wake)

    def remove_key_listener(
        self, dbid: int, keys: tuple[bytes, ...], wake: Callable[[], None]
    ) -> None:
        for key in keys:
            listeners = self.key_ready_listeners.get((dbid, key))
            if listeners is not None:
                listeners.discard(wake)
                if not listeners:
                    del self.key_ready_listeners[(dbid, key)]

    def notify_keyspace_event(
        self, klass: str, event: str, key: bytes, dbid: int, client: ClientState | None = None
    ) -> None:
        """Valkey's ``notifyKeyspaceEvent``: publish ``event`` on ``__keyspace@<db>__:<key>``
        (K) and ``key`` on ``__keyevent@<db>__:<event>`` (E) when ``klass`` is enabled.
        ``client`` is the one whose command caused it (its own pushes follow its reply)."""
        classes = self.notify_classes
        if klass not in classes:
            return
        name = event.encode()
        if "K" in classes:
            self.pubsub.publish(b"__keyspace@%d__:%s" % (dbid, key), name, client)
        if "E" in classes:
            self.pubsub.publish(b"__keyevent@%d__:%s" % (dbid, name), key, client)

    # --- roles -------------------------------------------------------------------------

    @property
    def is_replica(self) -> bool:
        return self.repl is not None and self.repl.is_replica

    def expire_mode_for(self, client: ClientState) -> ExpireMode:
        if not self.is_replica:
            return ExpireMode.DELETE
        return ExpireMode.KEEP if client.is_primary_link else ExpireMode.HIDE

    # --- the command pipeline ----------------------------------------------------------

    def process(self, client: ClientState, argv: list[bytes]) -> Reply | BlockRequest:
        """Run one client command through Valkey's checks; returns its reply.

        Every command of every client and of the primary's stream passes here, so the checks
        that rarely apply are guarded by one cheap test each.
        """
        spec = self._spec_cache.get(argv[0])
        if spec is None:
            spec = COMMANDS.get(argv[0].lower().decode("latin-1"))
            if spec is not None and len(self._spec_cache) < 4096:
                self._spec_cache[argv[0]] = spec
        arity = spec.arity if spec is not None else 0
        argc = len(argv)
        if spec is None or (argc != arity if arity > 0 else argc < -arity):
            error = lookup_command(argv)
            assert isinstance(error, ErrorReply)
            return self._reject(client, error.text, spec.name if spec is not None else None)
        if not client.authenticated and "no_auth" not in spec.flags:
            return self._reject(client, NOAUTH, spec.name)
        name = spec.name
        client.last_command = (
            name if name not in CONTAINER_COMMANDS else command_fullname(name, argv)
        )
        if client.pubsub and client.resp == 2 and name not in SUBSCRIBED_CONTEXT_COMMANDS:
            return self._reject(client, self._subscribed_refusal(client, spec, argv), name)
        if client.in_multi:
            if "no_multi" in spec.flags:
                return self._reject(client, "ERR Command not allowed inside a transaction")
            if name not in MULTI_CONTROL:
                client.multi_queue.append(argv)
                return QUEUED
        repl = self.repl
        replica = streaming = guarded = False
        if repl is not None:
            replica = repl.is_replica
            streaming = not replica and (repl.backlog is not None or bool(repl.links))
            # READONLY, MASTERDOWN, NOREPLICAS never apply to the primary's own stream
            guarded = (replica or self.min_replicas_to_write > 0) and not client.is_primary_link
        if self.loading or guarded:
            refusal = self.refusal(client, name, spec.effective_flags(self, argv))
            if refusal is not None:
                return self._reject(client, refusal, spec.name)
        ctx: CommandContext | None = client.context
        if ctx is None:
            ctx = client.context = CommandContext(
                self.keyspace, client, 0, rng=self.rng, server=self
            )
        now = int(time.time() * 1000)
        if replica:
            mode = ExpireMode.KEEP if client.is_primary_link else ExpireMode.HIDE
        else:
            mode = ExpireMode.DELETE
        ctx.reset(now, mode, self.lazy_expire_unlink)
        client.last_interaction_ms = now
        try:
            reply = spec.handler(ctx, argv)
        except CommandError as err:
            reply = ErrorReply(err.text)
        except Exception as exc:  # noqa: BLE001 - a handler bug answers an error, the server lives
            self.log.warning(
                f"Internal error running '{name}': "
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip()
            )
            ctx.take_propagated()
            error = self._reject(
                client,
                f"ERR internal error in '{name}': {type(exc).__name__}",
                client.last_command,
            )
            return self._flush_deferred_pushes(client, error) if self._deferred_pushes else error
        if ctx.dirty and streaming:
            # the request's own bytes go down the stream when it is unchanged (no re-encoding);
            # with no backlog and no replica (or as a replica) there is no stream to feed
            ctx.finish(argv, spec.is_write, 0, client.current_request)
        self.after_call(ctx, name)
        if type(reply) is ErrorReply and (client.is_primary_link or client.is_replica):
            self.stats.total_error_replies += 1
            self.unexpected_error_reply(client, reply.text, client.last_command)
        if self._deferred_pushes:
            return self._flush_deferred_pushes(client, reply)
        return reply

    def _flush_deferred_pushes(
        self, client: ClientState, reply: Reply | BlockRequest
    ) -> Reply | BlockRequest:
        """The client's own pushes go after its command's reply (Valkey's afterCommand)."""
        pushes = list(self._deferred_pushes)
        self._deferred_pushes.clear()
        if isinstance(reply, BlockRequest):
            if client.deliver is not None:
                for push in pushes:
                    client.deliver(push)
            return reply
        return ReplySeries([reply, *pushes])

    def _subscribed_refusal(self, client: ClientState, spec: CommandSpec, argv: list[bytes]) -> str:
        """The error a RESP2 subscriber gets for a command outside the pub/sub context, after
        the checks Valkey makes first (subcommand, min-replicas, read-only replica)."""
        if spec.name in SUBCOMMAND_ARITY:
            try:
                check_subcommand(spec.name, argv)
            except CommandError as err:
                return err.text
        refusal = self.refusal(client, spec.name, spec.flags)
        if refusal in (NOREPLICAS, READONLY):
            return refusal
        return (
            f"ERR Can't execute '{client.last_command}': only (P|S)SUBSCRIBE / "
            "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )

    def refusal(self, client: ClientState, name: str, flags: frozenset[str]) -> str | None:
        """The error Valkey gives before running a command here, if any."""
        if self.loading and "loading" not in flags:
            return "LOADING Valkey is loading the dataset in memory"
        is_write = "write" in flags
        if self.repl is not None and self.repl.is_replica and not client.is_primary_link:
            if is_write and self.config.get_bool("replica-read-only"):
                return READONLY
            if (
                not self.repl.link_up
                and not self.config.get_bool("replica-serve-stale-data")
                and "stale" not in flags
            ):
                return MASTERDOWN
        if is_write and self.repl is not None and not client.is_primary_link:
            if not self.repl.enough_good_replicas():
                return NOREPLICAS
        return None

    def _reject(self, client: ClientState, text: str, command: str | None = None) -> ErrorReply:
        """Valkey's ``rejectCommand``: flag an open transaction; a refused EXEC discards it
        and says why (a plain ``ERR`` loses its code there, as in ``execCommandAbort``)."""
        self.stats.total_error_replies += 1
        if client.is_primary_link or client.is_replica:
            self.unexpected_error_reply(client, text, command)
        if command == "exec":
            self.discard_transaction(client)
            reason = text[4:] if text.startswith("ERR ") else text
            return ErrorReply(f"EXECABORT Transaction discarded because of: {reason}")
        if client.in_multi:
            client.multi_error = True
        return ErrorReply(text)

    def unexpected_error_reply(self, client: ClientState, text: str, command: str | None) -> None:
        """An error reply to our primary's link or a replica's: log it, count it, and panic
        if ``propagation-error-behavior`` says so (see :mod:`unexpected_errors`)."""
        cfg = self.config
        verdict = unexpected_error(
            text,
            command,
            to_primary=client.is_primary_link,
            behavior=cfg.get_str("propagation-error-behavior"),
            replica_read_only=cfg.get_bool("replica-read-only"),
        )
        self.log.warning(verdict.warning)
        if self.repl is not None:
            self.repl.primary.flush_applied()
        backlog = self.repl.backlog if self.repl is not None else None
        if verdict.show_backlog and backlog is not None and backlog.histlen > 0:
            tail = backlog.read_from(max(backlog.first_byte_offset, backlog.end_offset - 255))
            level, line = backlog_log_line(tail, cfg.get_bool("hide-user-data-from-log"))
            self.log.log(level, line)
        self.stats.unexpected_error_replies += 1
        if verdict.panic is not None:
            self.panic(verdict.panic)

    def panic(self, message: str) -> NoReturn:
        """Valkey's serverPanic: the bug-report lines, then abort() (the process dies of
        SIGABRT, as valkey-server does)."""
        log = self.log
        log.raw_write("\n\n=== VALKEY BUG REPORT START: Cut & paste starting from here ===\n")
        log.warning("------------------------------------------------")
        log.warning("!!! Software Failure. Press left mouse button to continue")
        log.warning(f"Guru Meditation: {message} #server.py:0")
        log.raw_write(
            "\n=== VALKEY BUG REPORT END. Make sure to include from START to END. ===\n\n"
        )
        os.abort()

    def after_call(self, ctx: CommandContext, name: str) -> None:
        stats = self.stats
        stats.total_commands_processed += 1
        if ctx.expired_keys:
            stats.expired_keys += ctx.expired_keys
        try:
            self.command_calls[name][0] += 1
        except KeyError:
            self.command_calls[name] = [1, 0]
        if ctx.dirty:
            self.dirty += ctx.dirty
        if ctx.propagated:
            units = ctx.take_propagated()
            self.propagate(units)
            ctx.client.last_write_offset = self.repl.master_repl_offset if self.repl else 0

    def propagate(self, unit: list[Propagated]) -> None:
        """Send one execution unit down the replication stream."""
        if self.repl is not None:
            self.repl.feed(unit)

    # --- MULTI / EXEC ------------------------------------------------------------------

    def exec_transaction(self, client: ClientState) -> Reply:
        if client.multi_error:
            self.discard_transaction(client)
            return ErrorReply(EXECABORT)
        if client.dirty_cas:
            self.discard_transaction(client)
            return NULL_ARRAY
        queue = client.multi_queue
        client.in_multi = False
        client.multi_queue = []
        self.unwatch_all(client)
        # a fresh context: EXEC itself is running in the client's reusable one
        ctx = CommandContext(
            self.keyspace,
            client,
            now_ms(),
            expire_mode=self.expire_mode_for(client),
            lazy_expire_unlink=self.lazy_expire_unlink,
            rng=self.rng,
            server=self,
        )
        ctx.in_multi_exec = True
        replies: list[Reply] = []
        for argv in queue:
            spec = lookup_command(argv)
            if isinstance(spec, ErrorReply):
                replies.append(spec)
                continue
            refusal = self.refusal(client, spec.name, spec.effective_flags(self, argv))
            if refusal is not None:
                replies.append(ErrorReply(refusal))
                continue
            reply = call(ctx, spec, argv)
            if isinstance(reply, BlockRequest):
                reply = reply.timeout_reply
            if type(reply) is ErrorReply and (client.is_primary_link or client.is_replica):
                self.stats.total_error_replies += 1
                self.unexpected_error_reply(client, reply.text, command_fullname(spec.name, argv))
            replies.append(reply)
            self.stats.total_commands_processed += 1
        self.dirty += ctx.dirty
        self.stats.expired_keys += ctx.expired_keys
        units = ctx.take_propagated()
        if units:
            self.propagate(units)
            client.last_write_offset = self.repl.master_repl_offset if self.repl else 0
        return replies

    def discard_transaction(self, client: ClientState) -> None:
        client.in_multi = False
        client.multi_queue = []
        client.multi_error = False
        self.unwatch_all(client)

    # --- cron ----------------------------------------------------------------------------

    def active_expire_cycle(self, budget_keys: int = 200) -> int:
        """Delete keys whose TTL passed, sampling like Valkey's active expiry (primary only)."""
        if self.is_replica or not self.active_expire_enabled:
            return 0
        expired = 0
        units: list[Propagated] = []
        when = now_ms()
        unlink = b"UNLINK" if self.config.get_bool("lazyfree-lazy-expire") else b"DEL"
        for db in self.keyspace.dbs:
            if not db.expires:
                continue
            if db.expire_scan_pos >= len(db.expire_scan):
                db.expire_scan = list(db.expires)
                db.expire_scan_pos = 0
            start = db.expire_scan_pos
            take = db.expire_scan[start : start + budget_keys]
            db.expire_scan_pos = start + budget_keys
            for key in take:
                deadline = db.expires.get(key)
                if deadline is not None and deadline <= when:
                    db.delete(key)
                    expired += 1
                    units.append(Propagated(db.id, [unlink, key]))
        self.stats.expired_keys += expired
        for unit in units:
            self.propagate([unit])
        self._reclaim_hash_fields(when, budget_keys, unlink)
        return expired

    def _reclaim_hash_fields(self, when: int, budget_keys: int, unlink: bytes) -> None:
        """Valkey 9's active expiry of hash fields: sampled hashes drop fields past their TTL."""
        from valsync.commands.hashes import reclaim_expired_fields
        from valsync.keyspace.values import HashValue

        if not HashValue.ttl_seen:
            return
        for db in self.keyspace.dbs:
            if not db.data:
                continue
            if db.field_scan_pos >= len(db.field_scan):
                db.field_scan = list(db.data)
                db.field_scan_pos = 0
            start = db.field_scan_pos
            db.field_scan_pos = start + budget_keys
            for key in db.field_scan[start : start + budget_keys]:
                value = db.data.get(key)
                if isinstance(value, HashValue) and value.field_expires:
                    commands = reclaim_expired_fields(db, key, when, unlink=unlink)
                    if commands:
                        self.propagate([Propagated(db.id, argv) for argv in commands])

    def info_version(self) -> str:
        return VALKEY_COMPAT_VERSION

    async def prepare_shutdown(self) -> None:
        """SHUTDOWN semantics: save when save points exist (or SAVE was asked), unless NOSAVE."""
        mode = self.shutdown_requested or "default"
        self.log.warning("User requested shutdown...")
        if self.persistence is not None:
            want = mode == "save" or (mode == "default" and bool(self.config.save_points))
            if want:
                self.log.notice("Saving the final RDB snapshot before exiting.")
                try:
                    await self.persistence.save_for_shutdown()
                except Exception as err:  # noqa: BLE001 - a failed final save is logged, as Valkey does
                    self.log.warning(f"Error trying to save the DB, can't exit. ({err})")
        if self.repl is not None:
            self.repl.shutdown()
        self.log.warning(f"{'Valkey'} is now ready to exit, bye bye...")
