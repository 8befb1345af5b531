"""The Server: owns the config, the keyspace, the clients and replication; runs commands.

:meth:`Server.process` is Valkey's ``processCommand``: the checks every command passes (auth,
arity, MULTI queueing, read-only replica, stale data, min-replicas) before the handler runs,
and what happens after it (WATCH invalidation, waking blocked clients, propagation).
Everything here is synchronous; the trio tasks live in :mod:`valsync.net`.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from itertools import repeat
from time import perf_counter_ns, time_ns
from typing import Any, NoReturn

from valsync import VALKEY_COMPAT_VERSION
from valsync.client_memory import clients_to_evict, counts_for_eviction
from valsync.cmdstats import CommandStat, CommandStats
from valsync.commandlog import LOG_TYPES, MAX_LEN_DIRECTIVE, THRESHOLD_DIRECTIVE, CommandLogs
from valsync.commands import (
    COMMANDS,
    BlockRequest,
    ClientState,
    CommandContext,
    CommandSpec,
    ExchangeRequest,
    ExchangeResult,
    ExpireMode,
    Propagated,
    ScriptRequest,
    ScriptWait,
    call,
    lookup_command,
)
from valsync.commands.acl_cmds import (
    CONTEXT_MULTI,
    CONTEXT_TOPLEVEL,
    ServerAcl,
    exec_refusal,
    load_acl_file,
    load_config_users,
    permission_refusal,
)
from valsync.commands.encodings import LIMIT_DIRECTIVES, EncodingLimits
from valsync.commands.errors import (
    EXECABORT,
    MISCONF_RDB,
    OOM,
    READONLY,
    CommandError,
    CommandRejected,
)
from valsync.commands.registry import CONTAINER_COMMANDS, command_fullname
from valsync.commands.scripting import SLOW_EVAL, SLOW_FUNCTION
from valsync.commands.server_cmds import SUBCOMMAND_ARITY, check_subcommand, client_info_line
from valsync.commands.strings import EmbStr, RawStr, store_run
from valsync.config import Config
from valsync.evict import EvictResult, MemoryManager
from valsync.keyspace import Keyspace, StreamValue
from valsync.keyspace.database import Database
from valsync.keyspace.values import HashValue
from valsync.latency import LatencyMonitor
from valsync.log import ServerLog
from valsync.migrate_cache import MigrateSocketCache
from valsync.monitor import ADMIN_SUBCOMMANDS, REDACTED_COMMANDS, monitor_line, redact
from valsync.pause import PauseAction, PausePurpose, PauseState
from valsync.pubsub import PubSub
from valsync.redis_compat import shared_error
from valsync.replication.control import ReplicationControl
from valsync.replication.unexpected_errors import backlog_log_line, unexpected_error
from valsync.resp.reply import (
    NULL_ARRAY,
    OK,
    QUEUED,
    Boolean,
    Double,
    ErrorReply,
    MapReply,
    NullArray,
    Raw,
    Reply,
    ScriptError,
    SetReply,
    SimpleString,
    encode,
)
from valsync.resp.request import RequestParser
from valsync.scripting.functions import FunctionError
from valsync.scripting.state import ScriptingState
from valsync.shutdown import ShutdownRequest, second_sigint_exits
from valsync.stats import Stats
from valsync.tracking import TrackingTable

NOAUTH = "NOAUTH Authentication required."
UNBLOCKED_ROLE_CHANGE = (
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
)
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."

# Commands that run even inside MULTI rather than being queued (Valkey's execCommand list).
MULTI_CONTROL = frozenset({"exec", "discard", "watch", "quit", "reset"})
# A threshold no duration reaches: the feature is off.
NEVER = sys.maxsize
# Commands allowed before AUTH, as Valkey's no_auth flag.
NO_AUTH_COMMANDS = frozenset({"auth", "hello", "quit", "reset"})
# What a RESP2 client with subscriptions may still run (Valkey's pub/sub context).
SUBSCRIBED_CONTEXT_COMMANDS = frozenset(
    "ping subscribe ssubscribe unsubscribe sunsubscribe psubscribe punsubscribe quit reset".split()
)
# What notify-keyspace-events' 'A' stands for.
NOTIFY_ALL_CLASSES = "g$lshzxetd"


def error_text(reply: object) -> str:
    """The text of an error reply, whether an :class:`ErrorReply` or encoded bytes (a
    script's error comes back as ``Raw(b"-CODE message\r\n")``)."""
    if isinstance(reply, ErrorReply):
        return reply.text
    assert isinstance(reply, Raw)
    return reply.data[1:].split(b"\r\n", 1)[0].decode("utf-8", "replace")


# an enum member read through its class costs a metaclass lookup: once per command adds up
_KEEP, _HIDE, _DELETE = ExpireMode.KEEP, ExpireMode.HIDE, ExpireMode.DELETE


def now_ms() -> int:
    return int(time.time() * 1000)


class BlockedWaiter:
    """A client blocked on keys (BLPOP, XREAD BLOCK, WAIT...): called as a key listener when
    one of its keys is signalled ready, it queues itself on the server, which re-runs its
    command at the end of the current command; ``notify`` wakes the waiting connection."""

    __slots__ = ("server", "client", "argv", "block", "result", "ready", "cancelled", "notify")

    def __init__(
        self, server: Server, client: ClientState, argv: list[bytes], block: BlockRequest
    ) -> None:
        self.server = server
        self.client = client
        self.argv = argv
        self.block = block
        self.result: Reply | None = None
        self.ready = False
        self.cancelled = False
        self.notify: Callable[[], None] = _nothing

    def __call__(self) -> None:
        if not self.ready and not self.cancelled and self.result is None:
            self.ready = True
            self.server.ready_waiters.append(self)
            self.notify()

    def unqueue(self) -> None:
        if self.ready:
            self.ready = False
            self.server.ready_waiters.remove(self)


def _nothing() -> None:
    return None


TOUCHES_ARBITRARY_KEYS = frozenset({"scan", "randomkey"})
"""Valkey's ``CMD_TOUCHES_ARBITRARY_KEYS``: run directly, what they propagate is no MULTI."""

_OUTSIDE_LANE_FLAGS = frozenset({"admin", "noscript", "pubsub"})
_NO_LANE: dict[bytes, CommandSpec] = {}


def _lpush_one(value: Any, argv: list[bytes]) -> Reply:
    value.appendleft(argv[2])
    return len(value)


def _hset_one(value: Any, argv: list[bytes]) -> Reply:
    fresh = argv[2] not in value
    value[argv[2]] = argv[3]
    return 1 if fresh else 0


def _always_plain(_value: Any) -> bool:
    return True


def _hash_is_plain(value: Any) -> bool:
    return not value.field_expires  # a field TTL takes HSET's general path


_KEYED_RUNS: dict[
    bytes, tuple[type, Callable[[Any, list[bytes]], Reply], Callable[[Any], bool]]
] = {
    b"lpush": (deque, _lpush_one, _always_plain),
    b"hset": (HashValue, _hset_one, _hash_is_plain),
}
"""The plain writes :meth:`Server.run_writes` runs at once: their value's type, what one
command does to it (the handler's plain path: ``lpush``, ``hset`` with one field), and
whether a value of that type needs nothing more than that."""
PIPELINED_RUNS = {"get": 2, "set": 3, "lpush": 3, "hset": 4}
"""The commands a pipelined run of which :meth:`Server.run_pipelined` runs at once, with the
argument count of their plain form."""
# what a plain GET finds that it answers as is: nothing, or a string in any of its forms
_STRING_REPLIES = frozenset({type(None), bytes, RawStr, EmbStr})
# the replies :meth:`Server.run_in_lane` accounts itself: no error, no blocked command
_PLAIN_REPLIES = frozenset(
    {bytes, int, type(None), list, SimpleString, MapReply, SetReply, Double, NullArray, Boolean}
)


def _lane_command(spec: CommandSpec) -> bool:
    """A data command (it reads or writes keys) that changes no server or connection state
    :meth:`Server.command_lane` depends on: not admin, scripting, pub/sub or a container."""
    flags = spec.flags
    return (
        ("readonly" in flags or "write" in flags)
        and not flags & _OUTSIDE_LANE_FLAGS
        and spec.name not in CONTAINER_COMMANDS
    )


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
        self.key_ready_listeners: dict[tuple[int, bytes], dict[Callable[[], None], None]] = {}
        self.ready_waiters: list[BlockedWaiter] = []
        self._serving_waiters = False
        self.dirty = 0
        self.lastsave = int(time.time())
        self.active_expire_enabled = True
        self.loading = False
        self.async_loading = False
        """A swapdb diskless load of our own primary's history: the old data stays served."""
        self.shutdown_requested: ShutdownRequest | None = None
        self.repl: ReplicationControl | None = None
        self.cmdstats = CommandStats()
        self._command_stats = self.cmdstats.commands
        self.commandlogs = CommandLogs()
        self.latency = LatencyMonitor()
        self.monitors: list[ClientState] = []
        self.last_executed: list[bytes] | None = None
        """The argv of the last command that ran (COMMANDLOG's large-* logs skip rejected
        commands)."""
        self.persistence: Any = None
        self.nursery: Any = None
        self.applying_primary_stream = False
        self.blocking_exchange: Callable[[ExchangeRequest], ExchangeResult] | None = None
        """Runs an :class:`ExchangeRequest` synchronously (MIGRATE inside MULTI/EXEC); set by
        the assembler to the net layer's blocking version."""
        self.scripting = ScriptingState(self._script_log)
        self.cron_paused = False
        self.replica_keys_with_expire: set[tuple[int, bytes]] = set()
        self.blocked_clients: dict[int, BlockedWaiter] = {}
        """Clients waiting in a blocking command, by client id."""
        self.pause = PauseState()
        self.paused = PauseAction(0)
        """What is paused now (cached from :attr:`pause`; 0 on the fast path)."""
        self.pause_listeners: set[Callable[[], None]] = set()
        self.migrate_sockets: MigrateSocketCache[Any] = MigrateSocketCache(self.rng)
        self.role_listeners: list[Callable[[], None]] = []
        self.swapping_dbs = False
        """SWAPDB decides about watched keys itself (:meth:`touch_watched_for_swap`)."""
        self.shutdown_listeners: list[Callable[[], None]] = []
        """Called when SHUTDOWN is accepted (the net layer stops listening)."""
        """Called after the server became a replica or a primary."""
        self.skip_checksum_validation = False
        self.scripts_may_run_noscript = False
        """DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands flagged noscript."""
        """DEBUG SET-SKIP-CHECKSUM-VALIDATION: load dumps and RESTORE payloads unchecked."""
        self.debug_pause_after_fork = False
        """DEBUG PAUSE-AFTER-FORK: as a replica, SIGSTOP ourselves before a dual-channel main
        connection's PSYNC, as Valkey does. Valkey's primary also stops after forking, while
        its child writes the RDB to the RDB channel itself; valsync's parent relays the RDB, so
        a stopped primary would stall the very transfer the pause is meant to let finish: the
        switch is accepted but a primary does not stop."""
        self.rdb_client_free_delay = 60
        """DEBUG DELAY-RDB-CLIENT-FREE-SECONDS (Valkey's ``wait_before_rdb_client_free``)."""
        self.notify_classes = ""
        """The class letters of ``notify-keyspace-events`` in force ("" = notifications off)."""
        self.pubsub = PubSub()
        self.acl = ServerAcl(config.get_str("acl-pubsub-default") == "allchannels")
        self.acl.set_default_password(
            config.get_str("requirepass").encode("utf-8", "surrogateescape") or None
        )
        config.on_change("requirepass", self._reload_requirepass)
        config.on_change(
            "acl-pubsub-default",
            lambda v: setattr(self.acl, "pubsub_default_all", v == "allchannels"),
        )
        self.tracking = TrackingTable(self.clients)
        self.tracking.max_keys = config.get_int("tracking-table-max-keys")
        config.on_change(
            "tracking-table-max-keys",
            lambda _v: self.tracking.set_max_keys(config.get_int("tracking-table-max-keys")),
        )
        self.current_client: ClientState | None = None
        """The client whose command is running (None outside commands: cron, loading)."""
        self._spec_cache: dict[bytes, CommandSpec] = {}
        self._lane_specs: dict[bytes, CommandSpec] = {}
        """The cached commands that may take the lane (:meth:`command_lane`)."""
        self.lazy_expire_unlink = config.get_bool("lazyfree-lazy-expire")
        self.min_replicas_to_write = config.get_int("min-replicas-to-write")
        self.query_buffer_limit = config.get_int("client-query-buffer-limit")
        self.idle_timeout = config.get_int("timeout")
        for name in (
            "lazyfree-lazy-expire",
            "min-replicas-to-write",
            "client-query-buffer-limit",
            "timeout",
        ):
            config.on_change(name, self._reload_hot_config)
        self._reload_introspection_config("")
        for name in (
            "latency-tracking",
            "latency-monitor-threshold",
            *THRESHOLD_DIRECTIVE.values(),
            *MAX_LEN_DIRECTIVE.values(),
        ):
            config.on_change(name, self._reload_introspection_config)
        for name in ("stream-node-max-bytes", "stream-node-max-entries"):
            config.on_change(name, self._reload_stream_limits)
        self._reload_stream_limits("")
        config.on_change("notify-keyspace-events", self._reload_notify_classes)
        self._reload_notify_classes("")
        self.encoding_limits = EncodingLimits.from_config(config)
        """The ``*-max-listpack-*`` limits, read by every collection write."""
        for name in LIMIT_DIRECTIVES:
            config.on_change(name, self._reload_encoding_limits)
        self.maxmemory = 0
        """``maxmemory`` in force (0: no limit), set by :attr:`memory`; tested per command."""
        self.pre_command_oom = False
        """The last command found the server out of memory (Valkey's pre_command_oom_state):
        scripts refuse their denyoom commands then."""
        self.memory = MemoryManager(self)
        self.client_eviction_limit = 0
        """``maxmemory-clients`` in bytes (a percentage taken of ``maxmemory``); 0: none."""
        for name in ("maxmemory-clients", "maxmemory"):
            config.on_change(name, self._reload_client_eviction)
        self._reload_client_eviction("")
        self.keyspace.clock.tick(now_ms())
        config.on_change("loglevel", self.log.set_level)
        config.on_change("logfile", lambda _v: self.log.set_logfile(config.logfile_path or ""))

    def _reload_requirepass(self, value: str) -> None:
        """requirepass is the default user's one password (Valkey's
        ``ACLUpdateDefaultUserPassword``)."""
        self.acl.set_default_password(value.encode("utf-8", "surrogateescape") or None)

    def load_users(self) -> str | None:
        """At start: the config file's ``user`` lines, then the ACL file (not both, as Valkey
        refuses). Returns the error that must stop the server, or None."""
        lines = self.config.user_lines
        path = self.config.get_str("aclfile")
        if path and lines:
            return (
                "Configuring Valkey with users defined in valkey.conf and at the same setting "
                "an ACL file path is invalid. This setup is very likely to lead to "
                "configuration errors and security holes, please define either an ACL file or "
                "declare users directly in your valkey.conf, but not both."
            )
        if lines:
            error = load_config_users(self.acl, lines)
            if error is not None:
                return error
        if path:
            error = load_acl_file(self)
            if error is not None:
                return f"Aborting Valkey startup because of ACL errors: {error}"
        return None

    def acl_config_lines(self) -> list[str]:
        """The ``user`` lines CONFIG REWRITE writes (every user, as ACL LIST shows them)."""
        return [
            (b"user " + u.name + b" " + u.describe()).decode("utf-8", "surrogateescape")
            for u in self.acl.sorted_users()
        ]

    def _reload_stream_limits(self, _value: str) -> None:
        """XADD starts a new stream node at these limits (process-wide, as in Valkey)."""
        StreamValue.node_max_bytes = self.config.get_int("stream-node-max-bytes")
        StreamValue.node_max_entries = self.config.get_int("stream-node-max-entries")

    def _reload_encoding_limits(self, _value: str) -> None:
        self.encoding_limits = EncodingLimits.from_config(self.config)

    def _reload_hot_config(self, _value: str) -> None:
        """Directives read on every command are cached; CONFIG SET refreshes them."""
        self.lazy_expire_unlink = self.config.get_bool("lazyfree-lazy-expire")
        self.min_replicas_to_write = self.config.get_int("min-replicas-to-write")
        self.query_buffer_limit = self.config.get_int("client-query-buffer-limit")
        self.idle_timeout = self.config.get_int("timeout")

    def _reload_introspection_config(self, _value: str) -> None:
        """Thresholds read after every command, kept as plain ints (NEVER = off)."""
        cfg = self.config
        self.latency_tracking = cfg.get_bool("latency-tracking")
        threshold_ms = cfg.get_int("latency-monitor-threshold")
        self.latency_threshold_usec = threshold_ms * 1000 if threshold_ms > 0 else NEVER
        for kind in LOG_TYPES:
            threshold = cfg.get_int(THRESHOLD_DIRECTIVE[kind])
            max_len = cfg.get_int(MAX_LEN_DIRECTIVE[kind])
            self.commandlogs.configure(kind, threshold if max_len > 0 else -1, max_len)
        slow = self.commandlogs.slow_threshold
        self.slow_threshold_usec = slow if slow >= 0 else NEVER
        thresholds = self.commandlogs.thresholds
        self.large_request_bytes = thresholds["large-request"]
        self.large_reply_bytes = thresholds["large-reply"]
        if self.large_request_bytes < 0:
            self.large_request_bytes = NEVER
        if self.large_reply_bytes < 0:
            self.large_reply_bytes = NEVER
        self.spike_threshold_usec = min(self.slow_threshold_usec, self.latency_threshold_usec)

    def _script_log(self, level: str, message: str) -> None:
        self.log.log(level, message)

    @property
    def functions(self) -> list[bytes]:
        """The sources of the loaded function libraries (what the RDB keeps)."""
        return self.scripting.functions.sources()

    @functions.setter
    def functions(self, sources: list[bytes]) -> None:
        try:
            self.scripting.functions.replace_all(sources)
        except FunctionError as err:
            self.log.warning(f"Failed loading a function library: {err}")

    def _reload_notify_classes(self, _value: str) -> None:
        """Expand ``A`` and keep nothing unless K or E asks for a channel, so that the commands'
        ``ctx.notify`` calls cost one test when notifications are off."""
        classes = self.config.keyspace_event_classes.replace("A", NOTIFY_ALL_CLASSES)
        wanted = ("K" in classes or "E" in classes) and bool(set(classes) - {"K", "E"})
        self.notify_classes = classes if wanted else ""
        self.keyspace.set_added_listener(self._key_added if "n" in self.notify_classes else None)

    # --- clients -----------------------------------------------------------------------

    def new_client(self, addr: str = "", laddr: str = "", fd: int = -1) -> ClientState:
        client = ClientState(
            id=self._next_client_id,
            addr=addr,
            laddr=laddr,
            fd=fd,
            created_ms=now_ms(),
            authenticated=not self.acl.auth_required,
        )
        client.last_interaction_ms = client.created_ms
        self._next_client_id += 1
        self.clients[client.id] = client
        self.stats.total_connections_received += 1
        return client

    def free_client(self, client: ClientState) -> None:
        self.unwatch_all(client)
        self.tracking.disable(client)
        self.pubsub.forget(client)
        self.clients.pop(client.id, None)
        if client.monitor and client in self.monitors:
            self.monitors.remove(client)

    def _reload_client_eviction(self, _value: str) -> None:
        limit = self.config.get_int("maxmemory-clients")
        if limit < 0:
            limit = self.config.get_int("maxmemory") * -limit // 100
        self.client_eviction_limit = limit

    def evict_clients(self) -> None:
        """Valkey's ``evictClients``: over ``maxmemory-clients``, drop the largest clients."""
        limit = self.client_eviction_limit
        if not limit:
            return
        sizes = []
        for client in self.clients.values():
            measure = client.memory
            if measure is None or client.kill_requested or not counts_for_eviction(client):
                continue
            sizes.append((client, measure().total))
        for client in clients_to_evict(sizes, limit):
            now = now_ms()
            hide = self.config.get_bool("hide-user-data-from-log")
            self.log.notice(f"Evicting client: {client_info_line(self, client, now, hide)}")
            self.stats.evicted_clients += 1
            kill = client.extra.get("kill")
            if callable(kill):
                kill()

    # --- key change notifications ------------------------------------------------------

    def pause_process(self) -> None:
        """DEBUG PAUSE-AFTER-FORK's stop (Valkey's ``debugPauseProcess``): SIGSTOP until a
        test sends SIGCONT."""
        self.log.notice("Process is about to stop.")
        os.kill(os.getpid(), signal.SIGSTOP)
        self.log.notice("Process has been continued.")

    def key_listeners(self) -> bool:
        """Whether :meth:`key_modified` has anyone to tell (WATCH, blocked clients, tracking)."""
        tracking = self.tracking
        return bool(
            tracking.keys or tracking.prefixes or self.watch_index or self.key_ready_listeners
        )

    def key_modified(self, dbid: int, key: bytes) -> None:
        """Valkey's signalModifiedKey + signalKeyAsReady: WATCH, blocked clients, and the
        invalidations of client-side caching."""
        tracking = self.tracking
        if tracking.keys or tracking.prefixes:
            tracking.invalidate(key, self.current_client)
        if not self.watch_index and not self.key_ready_listeners:
            return
        ident = (dbid, key)
        watchers = self.watch_index.get(ident)
        if watchers and not self.swapping_dbs:
            gone = key not in self.keyspace.dbs[dbid].data
            for client in watchers:
                if ident in client.watched_expired:
                    if gone:  # an expired key deleted: logically no change (touchWatchedKey)
                        client.watched_expired.discard(ident)
                        continue
                client.dirty_cas = True
        listeners = self.key_ready_listeners.get(ident)
        if listeners:
            for wake in list(listeners):
                wake()

    def blocked_client_count(self) -> int:
        """INFO ``blocked_clients``: clients waiting in a blocking command or held by a pause."""
        return len(self.blocked_clients)

    def blocked_with_timeout_count(self) -> int:
        """INFO ``clients_in_timeout_table``: blocked clients with a deadline."""
        return sum(1 for w in self.blocked_clients.values() if w.block.deadline_ms is not None)

    def blocking_keys_info(self) -> list[str]:
        """INFO ``total_blocking_keys`` and ``total_blocking_keys_on_nokey``: keys clients
        wait on, and those of them an XREADGROUP waits on (it wakes even on deletion)."""
        keys = 0
        nokey = 0
        for (_db, key), listeners in self.key_ready_listeners.items():
            if key.startswith(b"\x00valsync:"):
                continue
            keys += 1
            if any(
                isinstance(w, BlockedWaiter) and w.argv[0].lower() == b"xreadgroup"
                for w in listeners
            ):
                nokey += 1
        return [f"total_blocking_keys:{keys}", f"total_blocking_keys_on_nokey:{nokey}"]

    def serve_ready_waiters(self) -> None:
        """Valkey's ``handleClientsBlockedOnKeys``: right after the command that made their
        keys ready, re-run the blocked clients' commands, first blocked first served, so the
        next command of any client sees what they did. Commands these re-runs make ready
        are served in the same pass (bounded, like Valkey's per-key count)."""
        if self._serving_waiters:
            return
        self._serving_waiters = True
        try:
            for _ in range(1000):
                if not self.ready_waiters:
                    break
                batch, self.ready_waiters = self.ready_waiters, []
                for waiter in batch:
                    waiter.ready = False
                    if waiter.cancelled or waiter.result is not None:
                        continue
                    waiter.client.extra["unblocked_rerun"] = True
                    waiter.client.executing = True
                    try:
                        again = self.process(waiter.client, waiter.argv)
                    finally:
                        waiter.client.executing = False
                        waiter.client.extra.pop("unblocked_rerun", None)
                    if isinstance(again, BlockRequest):
                        waiter.block = again
                    else:
                        waiter.result = again
                        self._answered(waiter)
                    waiter.notify()
        finally:
            self._serving_waiters = False

    def watch(self, client: ClientState, key: bytes, now_ms: int) -> None:
        ident = (client.db, key)
        if ident not in client.watched and self._is_expired(client.db, key, now_ms):
            client.watched_expired.add(ident)
        client.watched.add(ident)
        self.watch_index.setdefault(ident, set()).add(client)

    def _is_expired(self, dbid: int, key: bytes, now_ms: int) -> bool:
        when = self.keyspace.dbs[dbid].expires.get(key)
        return when is not None and when <= now_ms

    def watched_key_expired(self, client: ClientState, now_ms: int) -> bool:
        """EXEC's isWatchedKeyExpired: a watched key live at WATCH is logically expired now."""
        return any(
            self._is_expired(dbid, key, now_ms)
            for dbid, key in client.watched
            if (dbid, key) not in client.watched_expired
        )

    def touch_watched_for_swap(self, a: int, b: int, now_ms: int) -> None:
        """SWAPDB, before the swap (touchAllWatchedKeysInDb both ways): a watcher of a key
        in either database sees a change, except an expired key deleted or replaced by an
        expired one, and a missing key replaced by an expired one (then flagged expired)."""
        dbs = self.keyspace.dbs
        for emptied, replaced in ((a, b), (b, a)):
            old, new = dbs[emptied], dbs[replaced]
            for (dbid, key), watchers in self.watch_index.items():
                if dbid != emptied:
                    continue
                in_old, in_new = key in old.data, key in new.data
                if not (in_old or in_new):
                    continue
                new_expired = in_new and self._is_expired(replaced, key, now_ms)
                for client in watchers:
                    ident = (dbid, key)
                    if ident in client.watched_expired:
                        if not in_new:
                            client.watched_expired.discard(ident)
                            continue
                        if new_expired:
                            continue
                    elif not in_old and new_expired:
                        client.watched_expired.add(ident)
                        continue
                    client.dirty_cas = True

    def unwatch_all(self, client: ClientState) -> None:
        for ident in client.watched:
            watchers = self.watch_index.get(ident)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self.watch_index[ident]
        client.watched.clear()
        client.watched_expired.clear()
        client.dirty_cas = False

    def add_key_listener(
        self, dbid: int, keys: tuple[bytes, ...], wake: Callable[[], None]
    ) -> None:
        for key in keys:
            self.key_ready_listeners.setdefault((dbid, key), {})[wake] = None

    def remove_key_listener(
        self, dbid: int, keys: tuple[bytes, ...], wake: Callable[[], None]
    ) -> None:
        for key in keys:
            listeners = self.key_ready_listeners.get((dbid, key))
            if listeners is not None:
                listeners.pop(wake, None)
                if not listeners:
                    del self.key_ready_listeners[(dbid, key)]

    def notify_keyspace_event(self, klass: str, event: str, key: bytes, dbid: int) -> None:
        """Valkey's ``notifyKeyspaceEvent``: publish ``event`` on ``__keyspace@<db>__:<key>``
        (K) and ``key`` on ``__keyevent@<db>__:<event>`` (E) when ``klass`` is enabled."""
        classes = self.notify_classes
        if klass not in classes:
            return
        name = event.encode()
        if "K" in classes:
            self.pubsub.publish(b"__keyspace@%d__:%s" % (dbid, key), name)
        if "E" in classes:
            self.pubsub.publish(b"__keyevent@%d__:%s" % (dbid, name), key)

    def _key_added(self, dbid: int, key: bytes) -> None:
        self.notify_keyspace_event("n", "new", key, dbid)

    # --- roles -------------------------------------------------------------------------

    @property
    def is_replica(self) -> bool:
        return self.repl is not None and self.repl.is_replica

    def expire_mode_for(self, client: ClientState) -> ExpireMode:
        if not self.is_replica:
            return ExpireMode.HIDE if self.paused & PauseAction.EXPIRE else ExpireMode.DELETE
        return ExpireMode.KEEP if client.is_primary_link else ExpireMode.HIDE

    # --- the command pipeline ----------------------------------------------------------

    def process(self, client: ClientState, argv: list[bytes]) -> Reply | BlockRequest:
        """Run one client command through Valkey's checks; returns its reply. Clients blocked
        on keys it made ready are served before it returns."""
        reply = self._process(client, argv)
        if self.ready_waiters:
            self.serve_ready_waiters()
        return reply

    def _process(self, client: ClientState, argv: list[bytes]) -> Reply | BlockRequest:
        spec = self._spec_cache.get(argv[0])
        if spec is None:
            spec = COMMANDS.get(argv[0].lower().decode("latin-1"))
            if spec is not None and len(self._spec_cache) < 4096:
                self._spec_cache[argv[0]] = spec
                if _lane_command(spec):
                    self._lane_specs[argv[0]] = spec
        arity = spec.arity if spec is not None else 0
        argc = len(argv)
        if spec is None or (argc != arity if arity > 0 else argc < -arity):
            error = lookup_command(argv)
            assert isinstance(error, ErrorReply)
            return self._reject(client, error.text, spec.name if spec is not None else None)
        if not client.authenticated and "no_auth" not in spec.flags and self.acl.auth_required:
            return self._reject(client, NOAUTH, spec.name)
        name = spec.name
        if name in CONTAINER_COMMANDS:
            name = command_fullname(name, argv)
        client.last_command = name
        acl = self.acl
        if acl.restricted and not (client.user or acl.default).allows_all:
            if client.in_multi and "no_multi" in spec.flags:
                return self._reject(client, "ERR Command not allowed inside a transaction", name)
            denied = permission_refusal(
                self, client, argv, CONTEXT_MULTI if client.in_multi else CONTEXT_TOPLEVEL
            )
            if denied is not None:
                return self._reject(client, "NOPERM " + denied, name)
        if self.maxmemory and self.scripting.running is None:
            # evictions come before the command runs: their invalidations precede its reply
            executing, client.executing = client.executing, False
            try:
                oom = self.pre_command_oom = self.memory.perform_evictions() is EvictResult.FAIL
            finally:
                client.executing = executing
            if oom and self._denyoom(client, spec, argv):
                return self._reject(client, OOM, name)
        if self.scripting.running is not None and not client.is_primary_link:
            busy = self._while_script_runs(client, spec, name, argv)
            if busy is not None:
                return busy
        if client.pubsub and client.resp == 2 and spec.name not in SUBSCRIBED_CONTEXT_COMMANDS:
            return self._reject(client, self._subscribed_refusal(client, spec, argv), name)
        if client.capa_redirect:
            redirect = self.redirect_refusal(client, spec)
            if redirect is not None and self._failover_in_progress():
                # both nodes may be replicas for a moment: wait rather than bounce the client
                # back and forth (Valkey postpones it until the failover ends)
                now = now_ms()
                return BlockRequest(
                    (), self.pause.end_ms(now) or now + 100, NULL_ARRAY, postponed=True
                )
            if redirect is not None:
                if spec.name == "exec":
                    self.discard_transaction(client)
                    self.cmdstats.stat(name).rejected += 1
                    return self._reject(client, redirect)
                return self._reject(client, redirect, name)
        if client.in_multi and "no_multi" in spec.flags:
            return self._reject(client, "ERR Command not allowed inside a transaction", name)
        repl = self.repl
        replica = streaming = guarded = False
        if repl is not None:
            replica = repl.is_replica
            streaming = not replica and repl.streaming
            # READONLY, MASTERDOWN, NOREPLICAS never apply to the primary's own stream
            guarded = (replica or self.min_replicas_to_write > 0) and not client.is_primary_link
        persistence = self.persistence
        if (
            self.loading
            or self.async_loading
            or guarded
            or (
                persistence is not None
                and not persistence.last_bgsave_ok
                and self._disk_error(client)
            )
        ):
            # as Valkey: before queueing in a transaction; EXEC answers for what it queued
            flags = spec.effective_flags(self, argv)
            if spec.name == "exec" and client.in_multi:
                flags = self._exec_flags(client, flags)
            refusal = self.refusal(client, spec.name, flags)
            if refusal is not None:
                return self._reject(client, refusal, name)
        if self.paused and not client.is_replica:
            held = self._held_by_pause(client, spec, argv)
            if held is not None:
                return held
        if client.in_multi and spec.name not in MULTI_CONTROL:
            client.multi_queue.append(argv)
            return QUEUED
        return self._call(client, spec, name, argv, replica, streaming)

    def command_lane(self, client: ClientState) -> dict[bytes, CommandSpec]:
        """The commands (by their name as sent) that ``client`` may run by :meth:`run_in_lane`
        for now (empty: none). A data command of a client in the plain state (authenticated, no
        transaction, subscription, redirect or tracking) on a server in the plain state (no
        ACL restriction, maxmemory, script, loading, pause, disk error, replica role or
        min-replicas) passes every check of :meth:`_process`; none of these commands can
        leave either state, so the answer holds until a command outside the lane runs or
        the connection waits."""
        acl = self.acl
        persistence = self.persistence
        repl = self.repl
        if (
            client.in_multi
            or client.pubsub
            or client.capa_redirect
            or client.tracking is not None
            or client.is_primary_link
            or client.is_replica
            or (not client.authenticated and acl.auth_required)
            or (acl.restricted and not (client.user or acl.default).allows_all)
            or self.maxmemory
            or self.scripting.running is not None
            or self.loading
            or self.async_loading
            or self.paused
            or self.min_replicas_to_write > 0
            or (persistence is not None and not persistence.last_bgsave_ok)
            or (repl is not None and repl.is_replica)
        ):
            return _NO_LANE
        return self._lane_specs

    def run_in_lane(
        self, client: ClientState, spec: CommandSpec, argv: list[bytes], streaming: bool
    ) -> Reply | BlockRequest:
        """:meth:`process` for a command of :meth:`command_lane` whose arity is right: all of
        its checks would pass, so it is called at once (``streaming``: the server feeds a
        replication stream). This is :meth:`_call` for the lane's state (no replica mode, no
        pause, no MONITOR, no tracking); a reply or an outcome out of the ordinary (an error,
        a blocked command, a lazy expiry, a slow call) takes :meth:`_after_handler`."""
        name = client.last_command = spec.name
        ctx = client.context
        if ctx is None:
            ctx = self._new_context(client)
        start = time_ns()
        now = start // 1_000_000
        ctx.reset(now, _DELETE, self.lazy_expire_unlink)
        client.last_interaction_ms = now
        self.current_client = client
        try:
            reply = spec.handler(ctx, argv)
        except Exception as exc:  # noqa: BLE001 - as in _call
            reply, ended = self._handler_failed(client, spec, name, ctx, exc)
            if not ended:
                reply = self._after_handler(
                    client, spec, name, argv, ctx, reply, start, False, streaming
                )
        else:
            usec = (time_ns() - start) // 1000
            if streaming and (ctx.dirty or ctx.propagation_forced):
                self._stream_call(client, spec, argv, ctx)
            if (
                type(reply) not in _PLAIN_REPLIES
                or usec >= self.spike_threshold_usec
                or usec < 0
                or ctx.expired_keys
                or ctx.propagated
                or self.monitors
                or self.tracking.pending_bcast
            ):
                # streamed above already
                reply = self._after_handler(
                    client, spec, name, argv, ctx, reply, start, False, False
                )
            else:
                # account_call's work for a completed call, less what the lane rules out
                self.last_executed = argv
                self._count_calls(client, name, 1, usec)
                self.dirty += ctx.dirty
                self.current_client = None
        if self.ready_waiters:
            self.serve_ready_waiters()
        return reply

    @property
    def streaming(self) -> bool:
        """Writes go to a replication stream (a backlog or a replica), as a primary."""
        repl = self.repl
        return repl is not None and not repl.is_replica and repl.streaming

    def apply_from_primary(self, client: ClientState, argv: list[bytes]) -> Reply | BlockRequest:
        """:meth:`process` for a command of our primary's stream: the checks that never stop
        the primary's link (authentication, READONLY, MASTERDOWN) are not made; anything out
        of the ordinary (a transaction, a restricted ACL, a container command, loading, a
        maxmemory limit, a pause) takes the full path."""
        spec = self._spec_cache.get(argv[0])
        if spec is None or spec.name in CONTAINER_COMMANDS or not self._plain_primary_apply(client):
            return self.process(client, argv)
        arity = spec.arity
        if len(argv) != arity if arity > 0 else len(argv) < -arity:
            return self.process(client, argv)
        name = client.last_command = spec.name
        reply = self._call(client, spec, name, argv, True, False)
        if self.ready_waiters:
            self.serve_ready_waiters()
        return reply

    def _plain_primary_apply(self, client: ClientState) -> bool:
        """Nothing makes our primary's commands take :meth:`process`'s full path."""
        repl = self.repl
        return not (
            client.in_multi
            or self.loading
            or self.async_loading
            or self.maxmemory
            or self.acl.restricted
            or client.pubsub
            or client.capa_redirect
            or self.paused
            or repl is None
            or not repl.is_replica
        )

    def apply_sets_from_primary(
        self,
        client: ClientState,
        keys: list[bytes],
        values: list[bytes],
        last: list[bytes],
        longest_key: int = -1,
        longest_value: int = -1,
    ) -> bool:
        """A run of plain ``SET key value`` from our primary stored at once, with the
        accounting each would get from :meth:`apply_from_primary` (the run's time shared out
        between them); ``last`` is the run's last argv. False, and nothing done, when a
        listener would make one of them more than a store (keyspace events, WATCH, tracking,
        blocked clients, MONITOR, an LFU counter, a command log threshold below 1 ms) or when
        :meth:`apply_from_primary` would take the full path."""
        db = self.keyspace.dbs[client.db]
        if (
            not self._plain_primary_apply(client)
            or self.notify_classes
            or self.key_listeners()
            or self.ready_waiters
            or self.monitors
            or self.tracking.pending_bcast
            or client.tracking is not None
            or db.on_added is not None
            or db.clock.lfu
            or self.spike_threshold_usec < 1000
        ):
            return False
        start = time_ns()
        store_run(db, keys, values, longest_key, longest_value)
        self._count_run(client, "set", len(keys), start, last)
        self.dirty += len(keys)
        return True

    def _count_run(
        self, client: ClientState, name: str, n: int, start: int, last: list[bytes]
    ) -> None:
        """The accounting of ``n`` calls of ``name`` run at once from ``start`` (a
        :func:`time_ns` read), as each would get from :meth:`account_call`: the run's time is
        shared out between them; ``last``: the last one's argv."""
        usec = (time_ns() - start) // 1000
        if usec < 0:
            usec = 0
        client.last_interaction_ms = start // 1_000_000
        client.last_command = name
        self.last_executed = last
        self._count_calls(client, name, n, usec)

    def _count_calls(self, counted: ClientState, name: str, n: int, usec: int) -> CommandStat:
        """``n`` completed calls of ``name`` that took ``usec`` in all, in commandstats, the
        latency histogram (each at its share) and ``counted``'s and the server's totals."""
        self.stats.total_commands_processed += n
        counted.commands += n
        stat = self._command_stats.get(name)
        if stat is None:
            stat = self.cmdstats.stat(name)
        stat.calls += n
        stat.usec += usec
        if self.latency_tracking:
            histogram = stat.histogram
            each = usec // n
            histogram[each] = histogram.get(each, 0) + n
        return stat

    def _plain_run_state(self, client: ClientState, streaming: bool) -> Database | None:
        """The database a lane client's run of plain GETs, SETs, LPUSHes or HSETs
        (:meth:`run_gets`, :meth:`run_sets`, :meth:`run_writes`) works in, or None when
        something would make one of them more than a lookup or a store: a keyspace event, a
        key listener (WATCH, a blocked client, tracking), MONITOR, an LFU counter, a slow-log
        or latency threshold below 1 ms (a run's calls share its time), a client that asked
        not to touch keys, or (``streaming``: writes to stream) a stream with another
        database selected (their requests go down it as they were sent)."""
        db = self.keyspace.dbs[client.db]
        if (
            self.notify_classes
            or self.monitors
            or self.ready_waiters
            or self.key_listeners()
            or self.tracking.pending_bcast
            or self.spike_threshold_usec < 1000
            or db.clock.lfu
            or db.on_added is not None
            or client.no_touch
        ):
            return None
        if streaming:
            repl = self.repl
            if repl is None or not repl.streams_db(client.db):
                return None
        return db

    def run_pipelined(
        self,
        client: ClientState,
        argv: list[bytes],
        name: str,
        parser: RequestParser,
        streaming: bool,
    ) -> tuple[list[list[bytes]], list[Reply]]:
        """``argv``, a lane client's plain GET, SET, LPUSH or HSET (``name``), and the same
        commands framed right after it in ``parser``, run at once (:meth:`run_gets`,
        :meth:`run_sets`, :meth:`run_writes`): the commands that ran and their replies (none:
        ``argv`` takes the lane alone). The parser hands the others out only once they ran: a
        write's span must be theirs (it is streamed as it was sent)."""
        if PIPELINED_RUNS.get(name) != len(argv):
            return [], []
        rest = parser.alike(argv)
        if not rest:
            return [], []
        run = [argv, *rest]
        if name == "get":
            replies = self.run_gets(client, run)
            parser.take(len(replies) - 1)
            return run[: len(replies)], replies
        # a write run is taken first: its requests are streamed as the parser's last span
        if name == "set":
            if not self.sets_may_run(client, streaming):
                return [], []
            parser.take(len(rest))
            return run, self.run_sets(client, run, streaming)
        n = self.writes_may_run(client, run, streaming)
        if n < 2:
            return [], []
        parser.take(n - 1)
        return run[:n], self.run_writes(client, run[:n], streaming)

    def run_gets(self, client: ClientState, run: list[list[bytes]]) -> list[Reply]:
        """Plain ``GET key`` commands of a lane client (:meth:`command_lane`), one pipelined
        after the other, answered at once: each reply is what :meth:`run_in_lane` gives, the
        hits are touched, and each call is counted. Only the first ones that need nothing but
        a lookup (up to a key with a TTL or a value that is not a string) run: their replies
        are returned (none when :meth:`_plain_run_state` says no)."""
        db = self._plain_run_state(client, False)
        if db is None:
            return []
        start = time_ns()
        keys = [argv[1] for argv in run]
        values = list(map(db.data.get, keys))
        expires = db.expires
        if expires or not _STRING_REPLIES.issuperset(map(type, values)):
            n = 0
            for key, value in zip(keys, values, strict=True):
                if (value is not None and not isinstance(value, bytes)) or key in expires:
                    break
                n += 1
            if not n:
                return []
            del keys[n:], values[n:]
        else:
            n = len(run)
        stamp = db.clock.lru_clock
        hits = zip(keys, values, strict=True)
        db.stamps.update((key, stamp) for key, value in hits if value is not None)
        self._count_run(client, "get", n, start, run[n - 1])
        return values  # type: ignore[return-value]

    def run_sets(self, client: ClientState, run: list[list[bytes]], streaming: bool) -> list[Reply]:
        """Plain ``SET key value`` commands of a lane client, one pipelined after the other,
        stored at once (:func:`store_run`), each counted and answered ``+OK``, and streamed
        as their requests (the parser's span covers them all). Only when
        :meth:`sets_may_run` said yes, before the run was taken from the parser."""
        db = self.keyspace.dbs[client.db]
        start = time_ns()
        store_run(db, [argv[1] for argv in run], [argv[2] for argv in run])
        self._write_run_done(client, "set", run, start, streaming)
        return [OK] * len(run)

    def writes_may_run(self, client: ClientState, run: list[list[bytes]], streaming: bool) -> int:
        """How many of a lane client's pipelined plain ``LPUSH key element`` or ``HSET key
        field value`` commands (``run``, all of one) :meth:`run_writes` may run at once: the
        first ones whose key holds nothing or a value of their type that needs nothing more
        (no field TTL in a hash), with no TTL on the key, in :meth:`_plain_run_state`."""
        db = self._plain_run_state(client, streaming)
        if db is None:
            return 0
        cls, _, plain = _KEYED_RUNS[run[0][0].lower()]
        data, expires = db.data, db.expires
        n = 0
        for argv in run:
            key = argv[1]
            value = data.get(key)
            if value is not None and not (isinstance(value, cls) and plain(value)):
                break
            if expires and key in expires:
                break
            n += 1
        return n

    def run_writes(
        self, client: ClientState, run: list[list[bytes]], streaming: bool
    ) -> list[Reply]:
        """Plain LPUSH or HSET commands of a lane client, one pipelined after the other (as
        :meth:`writes_may_run` allowed), done in a row: each reply is what the command's
        handler answers, the keys are touched, each call counted and their requests
        streamed as one span (see :meth:`run_sets`)."""
        db = self.keyspace.dbs[client.db]
        name = run[0][0].lower()
        cls, apply, _ = _KEYED_RUNS[name]
        start = time_ns()
        data = db.data
        replies: list[Reply] = []
        for argv in run:
            key = argv[1]
            value = data.get(key)
            if value is None:
                value = cls()
                db.set(key, value)
            replies.append(apply(value, argv))
        keys = [argv[1] for argv in run]
        # under LRU a touch and a new key's stamp are the same clock
        db.stamps.update(zip(keys, repeat(db.clock.lru_clock)))
        if db.dirty is not None:
            db.dirty.update(keys)
        self._write_run_done(client, name.decode(), run, start, streaming)
        return replies

    def _write_run_done(
        self, client: ClientState, name: str, run: list[list[bytes]], start: int, streaming: bool
    ) -> None:
        """A run of writes done: counted, the dataset dirtier by one per call, and their
        requests streamed as the one span the parser gave them."""
        n = len(run)
        self._count_run(client, name, n, start, run[-1])
        self.dirty += n
        if streaming:
            repl = self.repl
            source = client.request_source
            assert repl is not None and source is not None
            client.last_write_offset = repl.feed_request(client.db, source)

    def sets_may_run(self, client: ClientState, streaming: bool) -> bool:
        """Whether :meth:`run_sets` may store a lane client's pipelined plain SETs at once:
        :meth:`_plain_run_state`, and no key with a TTL in the database (a SET looks its key
        up first, and an expired one is deleted and propagated)."""
        db = self._plain_run_state(client, streaming)
        return db is not None and not db.expires

    def _call(
        self,
        client: ClientState,
        spec: CommandSpec,
        name: str,
        argv: list[bytes],
        replica: bool,
        streaming: bool,
    ) -> Reply | BlockRequest:
        """Valkey's ``call()``: run the handler, then propagation and the accounting."""
        ctx: CommandContext | None = client.context
        if ctx is None:
            ctx = self._new_context(client)
        # one clock read gives the command's time and the start of its duration (Valkey's
        # call() times commands with the wall clock too)
        start = time_ns()
        now = start // 1_000_000
        if replica:
            if client.is_primary_link:
                mode = _KEEP
            elif spec.is_write:
                # a writable replica's own write: expired keys are deleted here, locally
                # (a replica propagates nothing), as Valkey's EXPIRE_FORCE_DELETE_EXPIRED
                mode = _DELETE
            else:
                mode = _HIDE
        elif self.paused and self.paused & PauseAction.EXPIRE:
            mode = _HIDE  # expired keys read as missing; deleting them waits
        else:
            mode = _DELETE
        ctx.reset(now, mode, self.lazy_expire_unlink)
        client.last_interaction_ms = now
        self.current_client = client
        try:
            reply = spec.handler(ctx, argv)
        except Exception as exc:  # noqa: BLE001 - a handler bug answers an error, the server lives
            reply, ended = self._handler_failed(client, spec, name, ctx, exc)
            if ended:
                return reply
        return self._after_handler(client, spec, name, argv, ctx, reply, start, replica, streaming)

    def _new_context(self, client: ClientState) -> CommandContext:
        ctx = client.context = CommandContext(self.keyspace, client, 0, rng=self.rng, server=self)
        return ctx

    def _handler_failed(
        self, client: ClientState, spec: CommandSpec, name: str, ctx: CommandContext, exc: Exception
    ) -> tuple[ErrorReply, bool]:
        """A handler raised: a :class:`CommandError` is the command's reply, accounted as any
        reply (False: the call goes on); a refusal or a bug ends the call here (True: the
        rejection is the reply)."""
        if isinstance(exc, CommandRejected):
            self.current_client = None
            ctx.take_propagated()
            return self._reject(client, exc.text, name if exc.counted else None), True
        if isinstance(exc, CommandError):
            return ErrorReply(exc.text), False
        self.log.warning(
            f"Internal error running '{spec.name}': "
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip()
        )
        self.current_client = None
        ctx.take_propagated()
        reply = self._reject(
            client,
            f"ERR internal error in '{spec.name}': {type(exc).__name__}",
            client.last_command,
        )
        return reply, True

    def _after_handler(
        self,
        client: ClientState,
        spec: CommandSpec,
        name: str,
        argv: list[bytes],
        ctx: CommandContext,
        reply: Reply | BlockRequest,
        start: int,
        replica: bool,
        streaming: bool,
    ) -> Reply | BlockRequest:
        """The end of :meth:`_call` once the handler returned (``start``: its clock read)."""
        usec = (time_ns() - start) // 1000
        if usec < 0:
            usec = 0  # the wall clock stepped back
        if streaming and (ctx.dirty or ctx.propagation_forced):
            self._stream_call(client, spec, argv, ctx)
        if replica and ctx.dirty and spec.is_write and not client.is_primary_link:
            self._track_replica_keys_with_expire(client.db, spec, argv)
        if ctx.expired_keys:
            self.stats.expired_keys += ctx.expired_keys
        self.account_call(client, spec, name, argv, reply, usec)
        self.dirty += ctx.dirty
        if ctx.propagated:
            repl = self.repl
            if repl is not None:
                if spec.name in TOUCHES_ARBITRARY_KEYS:
                    # Valkey sends their lazy-expire deletions one by one, as active expire does
                    for item in ctx.take_propagated():
                        repl.feed([item])
                else:
                    repl.feed(ctx.take_propagated())
                client.last_write_offset = repl.master_repl_offset
            else:
                ctx.take_propagated()
                client.last_write_offset = 0
        if client.tracking is not None or self.tracking.pending_bcast:
            self.tracking_after_command(client, spec)
        self.current_client = None
        if type(reply) is ErrorReply and (client.is_primary_link or client.is_replica):
            self.unexpected_error_reply(client, reply.text, name)
        return reply

    def _stream_call(
        self, client: ClientState, spec: CommandSpec, argv: list[bytes], ctx: CommandContext
    ) -> None:
        """A write (or a forced propagation) of a primary feeding a stream: the request's own
        bytes go down the stream when it is unchanged (no re-encoding), else its
        propagation is queued on ``ctx``."""
        source = client.request_source
        if ctx.dirty and spec.is_write and source is not None and ctx.own_request_only():
            repl = self.repl
            assert repl is not None
            offset = repl.feed_request(client.db, source)
            if offset:
                client.last_write_offset = offset
                return
        ctx.finish(argv, spec.is_write, 0, source.last_raw if source is not None else None)

    # --- pauses (CLIENT PAUSE, FAILOVER) ---------------------------------------------------

    def pause_actions(self, purpose: PausePurpose, end_ms: int, actions: PauseAction) -> None:
        self.pause.pause(purpose, end_ms, actions)
        self._update_pause(now_ms())

    def unpause_actions(self, purpose: PausePurpose) -> None:
        self.pause.unpause(purpose)
        self._update_pause(now_ms())

    def _update_pause(self, now: int) -> PauseAction:
        """Refresh :attr:`paused`; when the pause got lighter, re-run the held commands."""
        before = self.paused
        self.paused = self.pause.actions(now)
        client_bits = PauseAction.CLIENT_WRITE | PauseAction.CLIENT_ALL
        if (self.paused & client_bits) < (before & client_bits):
            for wake in list(self.pause_listeners):
                wake()
        return self.paused

    def _held_by_pause(
        self, client: ClientState, spec: CommandSpec, argv: list[bytes]
    ) -> BlockRequest | None:
        """Valkey's blockPostponeClient: a normal client's command waits out the pause."""
        now = now_ms()
        paused = self._update_pause(now)
        if paused & PauseAction.CLIENT_ALL:
            held = True
        elif paused & PauseAction.CLIENT_WRITE:
            flags = spec.effective_flags(self, argv)
            held = "write" in flags or "may_replicate" in flags
            if spec.name == "exec" and not held:
                for queued_argv in client.multi_queue:
                    queued = COMMANDS.get(queued_argv[0].lower().decode("latin-1"))
                    if queued is not None:
                        queued_flags = queued.effective_flags(self, queued_argv)
                        if "write" in queued_flags or "may_replicate" in queued_flags:
                            held = True
                            break
        else:
            held = False
        if not held:
            return None
        return BlockRequest((), self.pause.end_ms(now), NULL_ARRAY, postponed=True)

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

    def _while_script_runs(
        self, client: ClientState, spec: CommandSpec, name: str, argv: list[bytes]
    ) -> Reply | BlockRequest | None:
        """Valkey answers nobody while a script runs, then -BUSY past ``busy-reply-threshold``
        except to the commands flagged ``allow_busy`` (SCRIPT KILL, FUNCTION KILL, ...)."""
        run = self.scripting.running
        assert run is not None
        if self.scripting.debugging:
            return ScriptWait((), None, None, until=math.inf)
        until = run.start + self.config.get_int("busy-reply-threshold") / 1000.0
        if time.monotonic() < until:
            return ScriptWait((), None, None, until=until)
        if "allow_busy" in spec.effective_flags(self, argv):
            if spec.name == "shutdown":
                run.killed = True  # SHUTDOWN NOSAVE ends even a script that wrote
            return None
        return self._reject(client, SLOW_EVAL if run.eval_mode else SLOW_FUNCTION, name)

    def finish_script(self, client: ClientState, request: ScriptRequest, result: object) -> Reply:
        """End a script that ran in a worker thread: its effects form one replication unit,
        propagated like the effects of a script run in place."""
        assert request.finish is not None
        return self._finish_deferred(client, request.finish, result)

    def finish_exchange(
        self, client: ClientState, request: ExchangeRequest, result: ExchangeResult
    ) -> Reply:
        """End a command that waited on another server (MIGRATE): its second half runs in a
        fresh context, and what it changed is propagated like any write."""
        assert request.finish is not None
        return self._finish_deferred(client, request.finish, result)

    def _finish_deferred(
        self, client: ClientState, finish: Callable[[CommandContext, Any], Reply], result: Any
    ) -> Reply:
        """The second half of a command the connection finished later, in a fresh context."""
        ctx = CommandContext(
            self.keyspace,
            client,
            now_ms(),
            expire_mode=self.expire_mode_for(client),
            lazy_expire_unlink=self.lazy_expire_unlink,
            rng=self.rng,
            server=self,
        )
        try:
            reply = finish(ctx, result)
        except CommandError as err:
            reply = ErrorReply(err.text)
        self.dirty += ctx.dirty
        units = ctx.take_propagated()
        if units:
            self.propagate(units)
            client.last_write_offset = self.repl.master_repl_offset if self.repl else 0
        self.account_completion(client, reply)
        return reply

    def _failover_in_progress(self) -> bool:
        return self.repl is not None and self.repl.failover_state == "failover-in-progress"

    def redirect_refusal(self, client: ClientState, spec: CommandSpec) -> str | None:
        """CLIENT CAPA redirect on a replica: a write, or a read without READONLY, is sent
        to the primary (``-REDIRECT host:port``), as Valkey 8 does outside cluster mode."""
        address = self.repl.primary_address() if self.repl is not None else None
        if address is None or client.is_primary_link:
            return None
        flags = set(spec.flags)
        if spec.name == "exec":
            for queued in client.multi_queue:
                queued_spec = COMMANDS.get(queued[0].lower().decode("latin-1"))
                if queued_spec is not None:
                    flags |= queued_spec.flags
        if "write" in flags or ("readonly" in flags and not client.readonly):
            return f"REDIRECT {address[0]}:{address[1]}"
        return None

    def _denyoom(self, client: ClientState, spec: CommandSpec, argv: list[bytes]) -> bool:
        """Valkey's is_denyoom_command: the command's flags, or for EXEC any queued command's."""
        if "denyoom" in spec.effective_flags(self, argv):
            return True
        if spec.name != "exec" or not client.in_multi or client.multi_error:
            return False
        for queued in client.multi_queue:
            found = lookup_command(queued)
            if isinstance(found, CommandSpec) and "denyoom" in found.effective_flags(self, queued):
                return True
        return False

    def _disk_error(self, client: ClientState) -> bool:
        return (
            self.persistence is not None
            and not client.is_primary_link
            and bool(self.persistence.disk_error)
        )

    def _exec_flags(self, client: ClientState, flags: frozenset[str]) -> frozenset[str]:
        """EXEC's flags for Valkey's checks: a write or no-async-loading command queued makes
        it one; a queued command without ``stale`` or ``loading`` takes that from it."""
        out = set(flags)
        for queued in client.multi_queue:
            spec = COMMANDS.get(queued[0].lower().decode("latin-1"))
            if spec is None:
                continue
            queued_flags = spec.effective_flags(self, queued)
            out |= queued_flags & {"write", "no_async_loading"}
            out -= {"stale", "loading"} - queued_flags
        return frozenset(out)

    def refusal(self, client: ClientState, name: str, flags: frozenset[str]) -> str | None:
        """The error Valkey gives before running a command here, if any."""
        if self.loading and "loading" not in flags:
            return "LOADING Valkey is loading the dataset in memory"
        if self.async_loading and "no_async_loading" in flags:
            return "LOADING Valkey is loading the dataset in memory"
        is_write = "write" in flags
        if (is_write or name == "ping") and self._disk_error(client):
            return MISCONF_RDB
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
        """Valkey's ``rejectCommand``: counted in ``rejected_calls`` of ``command``; a refused
        EXEC discards the transaction and says why (a plain ``ERR`` loses its code there, as in
        ``execCommandAbort``); otherwise an open transaction is flagged."""
        text = shared_error(text, self.config.get_bool("extended-redis-compatibility"))
        if client.is_primary_link or client.is_replica:
            self.unexpected_error_reply(client, text, command)
        if command == "exec":
            self.discard_transaction(client)
            reason = text[4:] if text.startswith("ERR ") else text
            text = f"EXECABORT Transaction discarded because of: {reason}"
        elif client.in_multi:
            client.multi_error = True
        self.stats.total_error_replies += 1
        self.cmdstats.count_error(text)
        if command is not None:
            self.cmdstats.stat(command).rejected += 1
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

    def account_call(
        self,
        client: ClientState,
        spec: CommandSpec,
        name: str,
        argv: list[bytes],
        reply: Reply | BlockRequest,
        usec: int,
        script_caller: ClientState | None = None,
    ) -> None:
        """What Valkey's ``call()`` records after a command ran: commandstats, errorstats,
        the latency histogram, the slow log, the latency monitor and MONITOR.

        ``script_caller``: the command ran inside a script called by that client. Its error
        fails the command but reaches no client (no errorstats), the slow log names the
        caller, and MONITOR shows ``lua``.
        """
        if script_caller is None:
            self.last_executed = argv
        if isinstance(reply, BlockRequest):
            self._account_blocked(client, spec, name, argv, reply, usec, script_caller)
            return
        stat = self._count_calls(script_caller or client, name, 1, usec)
        kind = type(reply)
        if kind is ErrorReply or (kind is Raw and reply.data[:1] == b"-"):  # type: ignore[union-attr]
            stat.failed += 1
            self.stats.total_error_replies += 1
            self.cmdstats.count_error(error_text(reply))
        elif kind is ScriptError:
            stat.failed += 1
            self._count_script_error(reply)  # type: ignore[arg-type]
        if usec >= self.spike_threshold_usec:
            self.record_spike(script_caller or client, spec, name, argv, usec)
        if self.monitors:
            self.feed_monitors(client, spec, name, argv, "lua" if script_caller else "")
        reader = script_caller or client
        if reader.tracking is not None and "readonly" in spec.flags:
            if reader.tracking.remembers_reads() and "pubsub" not in spec.flags:
                self.tracking.remember(reader, [argv[i] for i in spec.key_positions(argv)])

    def _account_blocked(
        self,
        client: ClientState,
        spec: CommandSpec,
        name: str,
        argv: list[bytes],
        reply: BlockRequest,
        usec: int,
        script_caller: ClientState | None,
    ) -> None:
        """A command that did not complete: it counts when it is served, times out, or
        finishes in the connection (a script in a worker thread, MIGRATE's exchange)."""
        if getattr(reply, "finish", None) is not None:
            client.extra["deferred_call"] = (spec, name, argv, perf_counter_ns() - usec * 1000)
        if usec >= self.latency_threshold_usec:
            self.record_spike(script_caller or client, spec, name, argv, usec, blocked=True)
        # a blocking command is shown to MONITOR once, when it blocks; a command held back
        # (pause, busy script) only when it really runs
        if self.monitors and type(reply) is BlockRequest and not reply.postponed:
            self.feed_monitors(client, spec, name, argv, "lua" if script_caller else "")

    def tracking_after_command(self, client: ClientState, spec: CommandSpec) -> None:
        """CLIENT CACHING holds for the next command only (or the whole transaction), and
        BCAST invalidations collected during the command go out now."""
        settings = client.tracking
        if settings is not None and settings.caching and spec.name != "client":
            if not client.in_multi:
                settings.caching = False
        if self.tracking.pending_bcast:
            self.tracking.broadcast(client)

    def latency_sample(self, event: str, usec: int) -> None:
        """Valkey's latencyAddSampleIfNeeded for the events outside commands (fork,
        expire-cycle): recorded in milliseconds when at or above the threshold."""
        if usec >= self.latency_threshold_usec:
            self.latency.add(event, usec // 1000, int(time.time()))

    def record_spike(
        self,
        client: ClientState,
        spec: CommandSpec,
        name: str,
        argv: list[bytes],
        usec: int,
        blocked: bool = False,
    ) -> None:
        """A command at or above a threshold: the slow log and the latency monitor."""
        now_s = int(time.time())
        if usec >= self.latency_threshold_usec:
            self.latency.add(
                "fast-command" if "fast" in spec.flags else "command", usec // 1000, now_s
            )
        if usec >= self.slow_threshold_usec and not blocked and "skip_slowlog" not in spec.flags:
            shown = redact(name, argv) if name in REDACTED_COMMANDS else argv
            self.commandlogs.slow.push(shown, usec, client.addr, client.name, now_s)

    def record_large(
        self,
        client: ClientState,
        argv: list[bytes],
        request_bytes: int,
        reply_bytes: int,
        name: str | None = None,
    ) -> None:
        """COMMANDLOG large-request / large-reply, for a command that ran (not a rejected
        one): the sizes are those of its request and of its reply on the wire."""
        if self.last_executed is not argv:
            return
        name = name or client.last_command
        spec = COMMANDS.get(argv[0].lower().decode("latin-1"))
        if spec is None or "skip_slowlog" in spec.flags:
            return  # EXEC: its commands are logged one by one
        shown = redact(name, argv) if name in REDACTED_COMMANDS else argv
        now_s = int(time.time())
        logs = self.commandlogs.logs
        if request_bytes >= self.large_request_bytes:
            logs["large-request"].push(shown, request_bytes, client.addr, client.name, now_s)
        if reply_bytes >= self.large_reply_bytes:
            logs["large-reply"].push(shown, reply_bytes, client.addr, client.name, now_s)

    def account_completion(self, client: ClientState, reply: Reply) -> None:
        """A command that handed its work to the connection (a script in a worker thread,
        MIGRATE's exchange) completes here: it counts now, with its reply's error."""
        pending = client.extra.pop("deferred_call", None)
        if pending is None:
            return
        spec, name, argv, start = pending
        self.last_executed = argv
        usec = (perf_counter_ns() - start) // 1000
        self.stats.total_commands_processed += 1
        client.commands += 1
        stat = self.cmdstats.stat(name)
        stat.calls += 1
        stat.usec += usec
        if self.latency_tracking:
            stat.histogram[usec] = stat.histogram.get(usec, 0) + 1
        if type(reply) is ErrorReply or (type(reply) is Raw and reply.data[:1] == b"-"):
            stat.failed += 1
            self.stats.total_error_replies += 1
            self.cmdstats.count_error(error_text(reply))
        elif type(reply) is ScriptError:
            stat.failed += 1
            self._count_script_error(reply)
        if usec >= self.spike_threshold_usec:
            self.record_spike(client, spec, name, argv, usec)

    def _count_script_error(self, reply: ScriptError) -> None:
        if not reply.counted:
            self.stats.total_error_replies += 1
            self.cmdstats.count_error(error_text(reply), custom=reply.custom)

    def count_script_refusal(self, text: str, command: str | None) -> None:
        """A command a script may not run (wrong arity, ACL, read-only...): Valkey counts the
        error then (and the command's rejected call), not again when the script fails."""
        self.stats.total_error_replies += 1
        self.cmdstats.count_error(text)
        if command is not None:
            self.cmdstats.stat(command).rejected += 1

    def record_unblocked_timeout(self, client: ClientState, argv: list[bytes]) -> None:
        """A blocked command that timed out completes here (Valkey's updateStatsOnUnblock:
        counted, timed and slow-logged with the time it ran, not the time it waited)."""
        self.stats.total_commands_processed += 1
        client.commands += 1
        stat = self.cmdstats.stat(client.last_command)
        stat.calls += 1
        if self.latency_tracking:
            stat.histogram[0] = stat.histogram.get(0, 0) + 1
        if self.slow_threshold_usec == 0:
            self.commandlogs.slow.push(argv, 0, client.addr, client.name, int(time.time()))

    def feed_monitors(
        self, client: ClientState, spec: CommandSpec, name: str, argv: list[bytes], source: str = ""
    ) -> None:
        """Send one executed command to the MONITOR clients, unless Valkey hides it."""
        if (
            self.loading
            or "admin" in spec.flags
            or "skip_monitor" in spec.flags
            or name in ADMIN_SUBCOMMANDS
            or client.extra.get("unblocked_rerun")
        ):
            return
        shown = redact(name, argv) if name in REDACTED_COMMANDS else argv
        self.feed_monitors_now(client, shown, source)

    def feed_monitors_now(self, client: ClientState, argv: list[bytes], source: str = "") -> None:
        """The MONITOR line for ``argv`` run by ``client`` (``source`` "lua" inside scripts)."""
        line = Raw(monitor_line(client.db, source or client.addr, argv))
        for monitor in self.monitors:
            # the monitor's own connection holds a line for its running command until the reply
            if monitor.deliver is not None:
                monitor.deliver(line)

    def propagate(self, unit: list[Propagated]) -> None:
        """Send one execution unit down the replication stream."""
        if self.repl is not None:
            self.repl.feed(unit)

    # --- MULTI / EXEC ------------------------------------------------------------------

    def exec_transaction(self, client: ClientState) -> Reply:
        if client.multi_error:
            self.discard_transaction(client)
            return ErrorReply(EXECABORT)
        if client.dirty_cas or (client.watched and self.watched_key_expired(client, now_ms())):
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
            name = command_fullname(spec.name, argv)
            if self.acl.restricted:
                denied = exec_refusal(self, client, argv)
                if denied is not None:
                    self.stats.total_error_replies += 1
                    self.cmdstats.count_error(denied)
                    replies.append(ErrorReply(denied))
                    continue
            start = perf_counter_ns()
            reply = call(ctx, spec, argv)
            usec = (perf_counter_ns() - start) // 1000
            if isinstance(reply, ExchangeRequest) and self.blocking_exchange is not None:
                # nothing can be awaited inside EXEC: like Valkey, block the server for it
                assert reply.finish is not None
                cleanup = reply.cleanup
                reply = reply.finish(ctx, self.blocking_exchange(reply))
                if cleanup is not None:
                    cleanup()
            elif isinstance(reply, BlockRequest):
                reply = reply.timeout_reply
            if type(reply) is ErrorReply and (client.is_primary_link or client.is_replica):
                self.unexpected_error_reply(client, reply.text, name)
            replies.append(reply)
            self.account_call(client, spec, name, argv, reply, usec)
            if self.large_reply_bytes != NEVER:
                encoded = bytearray()
                encode(reply, encoded, client.resp)
                if len(encoded) >= self.large_reply_bytes:
                    self.record_large(client, argv, 0, len(encoded), name)
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

    def _track_replica_keys_with_expire(
        self, dbid: int, spec: CommandSpec, argv: list[bytes]
    ) -> None:
        """Valkey's rememberReplicaKeyWithExpire: keys a writable replica's own clients gave
        a TTL are expired by the replica itself (its primary knows nothing of them)."""
        expires = self.keyspace.dbs[dbid].expires
        for i in spec.key_positions(argv):
            if argv[i] in expires:
                self.replica_keys_with_expire.add((dbid, argv[i]))

    def expire_replica_keys(self, now: int) -> int:
        """Valkey's expireReplicaKeys: delete (locally) tracked keys whose TTL passed."""
        expired = 0
        for ident in list(self.replica_keys_with_expire):
            dbid, key = ident
            db = self.keyspace.dbs[dbid]
            when = db.expires.get(key)
            if when is None:
                self.replica_keys_with_expire.discard(ident)
            elif when <= now:
                db.delete(key)
                self.replica_keys_with_expire.discard(ident)
                expired += 1
        self.stats.expired_keys += expired
        return expired

    def unblock_clients_on_role_change(self) -> None:
        """Valkey's disconnectAllBlockedClients: clients blocked on keys are answered with
        -UNBLOCKED when this server turns into a replica."""
        for waiter in list(self.blocked_clients.values()):
            if waiter.result is None and not waiter.block.postponed:
                waiter.result = self.record_rejected_unblock(waiter.client, UNBLOCKED_ROLE_CHANGE)
                self._answered(waiter)
                waiter.notify()

    def client_unblock(self, client_id: int, error: bool) -> bool:
        """CLIENT UNBLOCK: end a blocked command now, as if it timed out, or with
        -UNBLOCKED; False when that client is not blocked (a paused one is not)."""
        waiter = self.blocked_clients.get(client_id)
        if waiter is None or waiter.result is not None or waiter.block.postponed:
            return False
        if error:
            waiter.result = self.record_rejected_unblock(
                waiter.client, "UNBLOCKED client unblocked via CLIENT UNBLOCK"
            )
        else:
            self.record_unblocked_timeout(waiter.client, waiter.argv)
            block = waiter.block
            waiter.result = block.on_timeout() if block.on_timeout else block.timeout_reply
        waiter.unqueue()
        self._answered(waiter)
        waiter.notify()
        return True

    def _answered(self, waiter: BlockedWaiter) -> None:
        """An answered client is no longer blocked, at once (INFO ``blocked_clients``, the
        ``b`` flag), not when its connection next runs: Valkey unblocks it in the same step."""
        if self.blocked_clients.get(waiter.client.id) is waiter:
            del self.blocked_clients[waiter.client.id]

    def record_rejected_unblock(self, client: ClientState, text: str) -> ErrorReply:
        """A blocked command ended by an error: 8.1.8 counts it as a call and a rejected one."""
        self.cmdstats.stat(client.last_command).calls += 1
        return self._reject(client, text, client.last_command)

    def active_expire_cycle(self, budget_keys: int = 200) -> int:
        """Delete keys whose TTL passed, sampling like Valkey's active expiry (primary only)."""
        if self.is_replica:
            if self.replica_keys_with_expire and self.active_expire_enabled:
                return self.expire_replica_keys(now_ms())
            return 0
        if not self.active_expire_enabled or self.scripting.running:
            return 0
        if self.paused and self._update_pause(now_ms()) & PauseAction.EXPIRE:
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
                    self.notify_keyspace_event("x", "expired", key, db.id)
                    units.append(Propagated(db.id, [unlink, key]))
        self.stats.expired_keys += expired
        if self.tracking.pending_bcast:
            self.tracking.broadcast(None)
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
                        self.notify_keyspace_event("x", "hexpired", key, db.id)
                        if key not in db.data:
                            self.notify_keyspace_event("g", "del", key, db.id)
                        self.propagate([Propagated(db.id, argv) for argv in commands])

    def info_version(self) -> str:
        return VALKEY_COMPAT_VERSION

    def prepare_for_shutdown(self, request: ShutdownRequest) -> bool:
        """Valkey's prepareForShutdown up to the final save: end a saving child, save when
        asked or when save points exist; False (shutdown cancelled) when that save fails
        without FORCE."""
        self.log.warning("User requested shutdown...")
        persistence = self.persistence
        if persistence is None:
            return True
        persistence.kill_child_for_shutdown()
        if not request.wants_save(bool(self.config.save_points)):
            return True
        self.log.notice("Saving the final RDB snapshot before exiting.")
        # a second SIGINT only cuts short a save that a signal started, as in Valkey
        guard = (
            nullcontext() if request.signal is None else second_sigint_exits(self._insist_on_exit)
        )
        try:
            with guard:
                persistence.save_in_foreground()
        except Exception as err:  # noqa: BLE001 - a failed final save cancels the shutdown
            self.log.warning(f"Failed saving the DB before exiting: {err}")
            if request.force:
                self.log.warning("Error trying to save the DB. Exit anyway.")
                return True
            self.log.warning("Error trying to save the DB, can't exit.")
            self.log.warning(
                "Errors trying to shut down the server. Check the logs for more information."
            )
            return False
        return True

    def _insist_on_exit(self) -> None:
        self.log.warning("You insist... exiting now.")
        if self.persistence is not None:
            self.persistence.remove_own_temp()

    async def prepare_shutdown(self) -> bool:
        """The shutdown a SHUTDOWN or a signal asked for; False when its save failed and the
        server goes on (the request is then forgotten)."""
        request = self.shutdown_requested or ShutdownRequest()
        if not request.prepared and not self.prepare_for_shutdown(request):
            self.shutdown_requested = None
            return False
        if self.repl is not None:
            self.repl.shutdown()
        self.scripting.kill_debug_children()
        self.log.warning(f"{'Valkey'} is now ready to exit, bye bye...")
        return True
