"""What a command handler sees: the client, the keyspace, the clock, and the propagation sink.

A handler runs synchronously on the trio thread, so every command is atomic. It reads and
writes through the context so that expiry and propagation follow Valkey's rules:

* lookups apply lazy expiry as Valkey's ``expireIfNeeded`` does: a primary deletes an expired
  key and propagates ``UNLINK`` (or ``DEL``); a replica hides it from normal clients and keeps
  it for its primary's stream, which will delete it;
* a write that changed the dataset bumps :attr:`CommandContext.dirty`; after the handler the
  command's argv (or what the handler rewrote it to) is propagated, after any ``UNLINK`` of
  keys expired on the way, like Valkey's ``alsoPropagate`` + ``call()``.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from valsync.commands.errors import WRONGTYPE, CommandError
from valsync.keyspace.database import Database, Keyspace
from valsync.keyspace.values import Value
from valsync.replication.propagation import Propagated as Propagated
from valsync.resp.reply import NO_REPLY, Push, Reply, ReplySeries

if TYPE_CHECKING:
    from valsync.acl import User
    from valsync.client_memory import ClientMemory
    from valsync.resp.request import RequestParser
    from valsync.tracking import ClientTracking

V = TypeVar("V")


class ExpireMode(enum.Enum):
    """How lookups treat a logically expired key (Valkey's ``expireIfNeeded`` cases)."""

    DELETE = "delete"  # a primary: delete and propagate the deletion
    HIDE = "hide"  # a replica serving a normal client: report missing, keep it
    KEEP = "keep"  # a replica applying its primary's stream: the key still exists


@dataclass(eq=False)
class ClientState:
    """Per-connection state that commands read and change (no sockets here)."""

    id: int
    addr: str = ""
    laddr: str = ""
    fd: int = -1
    name: bytes = b""
    db: int = 0
    resp: int = 2
    authenticated: bool = True
    user: User | None = None
    """The ACL user the client runs as (None: the default user)."""
    created_ms: int = 0
    last_interaction_ms: int = 0
    last_command: str = "NULL"
    net_in: int = 0
    net_out: int = 0
    commands: int = 0
    """CLIENT LIST ``tot-net-in``, ``tot-net-out``, ``tot-cmds``."""
    lib_name: bytes = b""
    lib_ver: bytes = b""
    in_multi: bool = False
    multi_queue: list[list[bytes]] = field(default_factory=list)
    multi_error: bool = False
    watched: set[tuple[int, bytes]] = field(default_factory=set)
    watched_expired: set[tuple[int, bytes]] = field(default_factory=set)
    """Watched keys that were already logically expired at WATCH (their deletion is no
    change; their staying expired does not fail EXEC)."""
    dirty_cas: bool = False
    is_primary_link: bool = False
    is_replica: bool = False
    is_script: bool = False
    """The client a Lua script's commands run as (Valkey's ``CLIENT_SCRIPT``)."""
    no_evict: bool = False
    no_touch: bool = False
    capa_redirect: bool = False
    """CLIENT CAPA redirect: on a replica, data commands answer -REDIRECT to the primary."""
    readonly: bool = False
    tracking: ClientTracking | None = None
    """CLIENT TRACKING settings (None: tracking off)."""
    monitor: bool = False
    """In MONITOR mode: receives a line per executed command (CLIENT LIST ``flags=O``)."""
    kill_requested: bool = False
    last_write_offset: int = 0
    context: Any = None
    pending_output: bool = False
    handoff: Any = None
    request_source: RequestParser | None = None
    """The parser the command being run came from (set by the connection): when its bytes
    were a multibulk (``last_inline`` false), propagation streams them from its ``buffer``
    at ``last_start``/``last_nbytes`` without copying them, or copies them (``last_raw``)
    into a propagation unit when the stream needs one."""
    reply_mode: int = 0
    """CLIENT REPLY: 0 on, or one of the REPLY_* modes below (checked only when non-zero)."""
    deliver: Callable[[Reply], None] | None = None
    memory: Callable[[], ClientMemory] | None = None
    """What the connection takes in memory now (None: no connection, e.g. our primary's)."""
    """Pushes a reply to this client outside the request/reply cycle (pub/sub messages,
    MONITOR lines); encoded in the client's protocol. None for clients with no socket."""
    executing: bool = False
    """A command of this client is running: pushes it causes to itself wait for the reply
    (Valkey sends them after it); set by whoever runs the command."""
    pubsub: bool = False
    """Valkey's pubsub flag: at least one subscription (RESP2 then limits the commands)."""
    channels: dict[bytes, None] = field(default_factory=dict)
    patterns: dict[bytes, None] = field(default_factory=dict)
    shard_channels: dict[bytes, None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


REPLY_OFF, REPLY_SKIP_NEXT, REPLY_SKIP = 1, 2, 3


def filter_reply(client: ClientState, reply: Reply) -> Reply:
    """CLIENT REPLY OFF/SKIP: the reply the client gets. Pushes (pub/sub) still go out, as in
    Valkey; SKIP silences the command after the one that set it."""
    mode = client.reply_mode
    if mode == REPLY_SKIP_NEXT:
        client.reply_mode = REPLY_SKIP
        return reply
    if mode == REPLY_SKIP:
        client.reply_mode = 0
    if isinstance(reply, Push):
        return reply
    if isinstance(reply, ReplySeries):
        return ReplySeries([item for item in reply.items if isinstance(item, Push)])
    return NO_REPLY


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """Returned by a blocking command that found nothing: wait on ``keys`` until ``deadline_ms``.

    The connection re-runs the same command when a key is touched; at the deadline it replies
    ``timeout_reply``. ``deadline_ms`` None means forever (timeout 0).
    """

    keys: tuple[bytes, ...]
    deadline_ms: int | None
    timeout_reply: Reply
    on_timeout: Callable[[], Reply] | None = None
    postponed: bool = False
    """A command held by a pause (CLIENT PAUSE, FAILOVER): the connection waits until the
    pause is lifted or ``deadline_ms`` (its end), then runs the command again; it never
    answers ``timeout_reply``."""


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    """What a :class:`ExchangeRequest` got back: the reply lines read (without CRLF), in
    order, and where the exchange failed (``connecting``, ``writing``, ``reading``) if it did."""

    lines: list[bytes]
    failed: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptRequest(BlockRequest):
    """Returned by EVAL/FCALL from a client connection: the connection runs ``job`` (the Lua
    interpreter) in a worker thread, so the server keeps answering other clients (-BUSY past
    ``busy-reply-threshold``) and SCRIPT KILL can reach it. ``job`` takes the function that
    runs a callable on the server's thread (every ``server.call`` goes through it); then the
    server runs ``finish`` in a fresh context to take the script's effects and its reply."""

    job: Callable[[Callable[[Callable[[], Any]], Any]], Any] | None = None
    finish: Callable[[CommandContext, Any], Reply] | None = None


@dataclass(frozen=True, slots=True)
class ScriptWait(BlockRequest):
    """Returned for any command while a script runs: the connection waits for the script to
    end, at most until ``until`` (monotonic seconds, when the script turns busy), then runs
    the command again."""

    until: float = 0.0


@dataclass(frozen=True, slots=True)
class ExchangeRequest(BlockRequest):
    """Returned by a command that must talk to another server (MIGRATE): the connection
    sends ``payload`` to ``host:port``, reads ``replies`` reply lines (each step within
    ``timeout_ms``), then the server runs ``finish`` with the result to end the command.

    It is a :class:`BlockRequest` with no keys so that every path that can meet a blocking
    reply handles it; where nothing can be awaited (inside MULTI/EXEC) the command answers
    ``timeout_reply``.
    """

    host: str = ""
    port: int = 0
    timeout_ms: int = 1000
    payload: bytes = b""
    replies: int = 0
    finish: Callable[[CommandContext, ExchangeResult], Reply] | None = None
    cleanup: Callable[[], None] | None = None
    """Called once the command is over (finished or abandoned), after ``finish``."""


class CommandContext:
    """The environment of one command execution."""

    def __init__(
        self,
        keyspace: Keyspace,
        client: ClientState,
        now_ms: int,
        *,
        expire_mode: ExpireMode = ExpireMode.DELETE,
        lazy_expire_unlink: bool = True,
        rng: random.Random | None = None,
        server: Any = None,
    ) -> None:
        self.keyspace = keyspace
        self.client = client
        self.now_ms = now_ms
        self.expire_mode = expire_mode
        self.lazy_expire_unlink = lazy_expire_unlink
        self.rng = rng if rng is not None else random.Random()
        self.server = server
        self.dirty = 0
        self.expired_keys = 0
        self.propagated: list[Propagated] = []
        self._rewritten: list[bytes] | None = None
        self._prevent = False
        self._force = False
        self.steered = False
        """:meth:`rewrite`, :meth:`prevent_propagation` or :meth:`force_propagation` ran: the
        next :meth:`reset` has their state to clear, and :meth:`own_request_only` to read."""
        self.in_multi_exec = False
        self.frozen_time: float | None = None
        """The wall clock TIME shows, when it stands still (the start of a script)."""

    def reset(self, now_ms: int, expire_mode: ExpireMode, lazy_expire_unlink: bool) -> None:
        """Ready a reused context for the next command of the same client."""
        self.now_ms = now_ms
        self.expire_mode = expire_mode
        self.lazy_expire_unlink = lazy_expire_unlink
        self.dirty = 0
        self.expired_keys = 0
        if self.propagated:
            self.propagated = []
        if self.steered:
            self._rewritten = None
            self._prevent = False
            self._force = False
            self.steered = False
        self.in_multi_exec = False

    @property
    def db(self) -> Database:
        return self.keyspace.dbs[self.client.db]

    # --- lookups -------------------------------------------------------------------------

    def expire_if_needed(self, db: Database, key: bytes) -> bool:
        """True when ``key`` is logically expired for this caller (and deleted on a primary)."""
        when = db.expires.get(key)
        if when is None or when > self.now_ms:
            return False
        if self.expire_mode is ExpireMode.KEEP:
            return False
        if self.expire_mode is ExpireMode.HIDE:
            return True
        db.delete(key)
        self.expired_keys += 1
        self.notify("x", "expired", key, db.id)
        self.also_propagate([b"UNLINK" if self.lazy_expire_unlink else b"DEL", key], db.id)
        return True

    def lookup(self, key: bytes, db: Database | None = None, read: bool = False) -> Value | None:
        """The live value of ``key``, or None (missing or expired); ``read``: as
        :meth:`lookup_read`."""
        if db is None:
            db = self.keyspace.dbs[self.client.db]  # self.db, without the property's call
        if key in db.expires and self.expire_if_needed(db, key):
            value = None
        else:
            value = db.data.get(key)
        if value is not None:
            if not self.client.no_touch:
                # Valkey's lookupKey touch: the access stamp eviction reads
                clock = db.clock
                if clock.lfu:
                    db.touch(key)
                else:
                    db.stamps[key] = clock.lru_clock
            return value
        if read:
            self.notify("m", "keymiss", key, db.id)
        return None

    def peek(self, key: bytes, db: Database | None = None) -> Value | None:
        """:meth:`lookup` without touching the key (Valkey's LOOKUP_NOTOUCH: OBJECT, DEBUG)."""
        db = self.db if db is None else db
        if key in db.expires and self.expire_if_needed(db, key):
            return None
        return db.data.get(key)

    def lookup_read(self, key: bytes, db: Database | None = None) -> Value | None:
        """Valkey's ``lookupKeyRead``: :meth:`lookup`, and a miss is a ``keymiss`` event
        (writes look keys up with :meth:`lookup`, which never reports one)."""
        return self.lookup(key, db, True)

    def peek_read(self, key: bytes, db: Database | None = None) -> Value | None:
        """:meth:`lookup_read` without touching the key (EXISTS, TYPE, TTL: LOOKUP_NOTOUCH)."""
        value = self.peek(key, db)
        if value is None:
            self.notify("m", "keymiss", key, self.client.db if db is None else db.id)
        return value

    def lookup_typed(
        self, key: bytes, cls: type[V], db: Database | None = None, read: bool = False
    ) -> V | None:
        """Like :meth:`lookup` (:meth:`lookup_read` with ``read``) but raises WRONGTYPE when
        the value is not a ``cls``."""
        value = self.lookup_read(key, db) if read else self.lookup(key, db)
        if value is None:
            return None
        if not isinstance(value, cls):
            raise CommandError(WRONGTYPE)
        return value

    def lookup_or_create(self, key: bytes, cls: type[V], db: Database) -> V:
        """Like :meth:`lookup_typed`, but a missing key gets a new, empty ``cls`` stored
        (the first step of the plain ZADD, HSET and LPUSH)."""
        value = self.lookup(key, db)
        if value is None:
            created = cls()
            db.set(key, created)  # type: ignore[arg-type]
            return created
        if not isinstance(value, cls):
            raise CommandError(WRONGTYPE)
        return value

    # --- propagation ---------------------------------------------------------------------

    def also_propagate(self, argv: list[bytes], dbid: int | None = None) -> None:
        """Queue an extra command for the stream, before the command's own (``alsoPropagate``)."""
        self.propagated.append(Propagated(self.client.db if dbid is None else dbid, argv))

    def rewrite(self, argv: list[bytes]) -> None:
        """Propagate ``argv`` instead of the client's command (``rewriteClientCommandVector``)."""
        self._rewritten = argv
        self.steered = True

    def prevent_propagation(self) -> None:
        self._prevent = True
        self.steered = True

    @property
    def propagation_forced(self) -> bool:
        return self._force

    def force_propagation(self) -> None:
        """Propagate this write even if it changed nothing (Valkey's forceCommandPropagation:
        FLUSHALL/FLUSHDB of empty databases still replicate)."""
        self._force = True
        self.steered = True

    def finish(
        self,
        argv: list[bytes],
        is_write: bool,
        dirty_before: int,
        wire: Callable[[], bytes | None] | None = None,
    ) -> None:
        """Append the command's own propagation if it changed the dataset; ``wire`` gives the
        request's bytes, propagated as they are unless the handler rewrote the command."""
        forced, self._force = self._force, False
        if self._prevent:
            self._prevent = False
            self._rewritten = None
            return
        if is_write and (self.dirty > dirty_before or forced):
            rewritten = self._rewritten
            if rewritten is not None:
                self.propagated.append(Propagated(self.client.db, rewritten))
                self._rewritten = None
            else:
                raw = wire() if wire is not None else None
                self.propagated.append(Propagated(self.client.db, argv, raw))

    def own_request_only(self) -> bool:
        """Nothing but the command itself, as the client sent it, is to be propagated (no
        extra command, no rewrite, not prevented): its request bytes can go to the stream."""
        if self.steered:
            return not self.propagated and self._rewritten is None and not self._prevent
        return not self.propagated

    def notify(self, klass: str, event: str, key: bytes, dbid: int | None = None) -> None:
        """Valkey's ``notifyKeyspaceEvent``: ``klass`` is the event's class letter as in
        ``notify-keyspace-events`` (``g`` generic, ``$`` string, ``l`` list, ``s`` set,
        ``h`` hash, ``z`` zset, ``t`` stream, ``x`` expired, ``e`` evicted, ``n`` new,
        ``m`` key-miss), ``event`` its name (``set``, ``lpush``, ``del``, ``expired``...)."""
        server = self.server
        if server is not None and server.notify_classes:
            server.notify_keyspace_event(
                klass, event, key, self.client.db if dbid is None else dbid
            )

    def take_propagated(self) -> list[Propagated]:
        out, self.propagated = self.propagated, []
        return out
