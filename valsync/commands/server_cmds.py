"""Connection and server commands: PING, HELLO, AUTH, SELECT, CLIENT, INFO, CONFIG, DEBUG, MULTI..."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from valsync import VALKEY_COMPAT_VERSION
from valsync.client_memory import NO_CONNECTION_MEMORY
from valsync.commands.context import REPLY_OFF, REPLY_SKIP_NEXT, ClientState, CommandContext
from valsync.commands.debug import DEBUG_SUBCOMMANDS, lookup_debug_subcommand
from valsync.commands.errors import (
    DB_INDEX_OUT_OF_RANGE,
    SYNTAX,
    CommandError,
    CommandRejected,
    parse_int,
    wrong_arity,
)
from valsync.commands.registry import command
from valsync.heap import release_free_memory
from valsync.pause import ALL_SET, WRITE_SET, PausePurpose
from valsync.redis_compat import REDIS_VERSION, mode_field, server_name
from valsync.resp.reply import (
    NO_REPLY,
    OK,
    PONG,
    ErrorReply,
    MapReply,
    Reply,
    SimpleString,
    Verbatim,
)
from valsync.shutdown import SHUTDOWN_FAILED, ShutdownRequest

if TYPE_CHECKING:
    from valsync.server import Server


def server_of(ctx: CommandContext) -> Server:
    return cast("Server", ctx.server)


SUBCOMMAND_ARITY: dict[str, dict[bytes, int]] = {
    "client": {
        b"id": 2,
        b"info": 2,
        b"list": -2,
        b"kill": -3,
        b"getname": 2,
        b"setname": 3,
        b"setinfo": 4,
        b"no-evict": 3,
        b"help": 2,
        b"reply": 3,
        b"pause": -3,
        b"unpause": 2,
        b"tracking": -3,
        b"caching": 3,
        b"getredir": 2,
        b"trackinginfo": 2,
        b"unblock": -3,
        b"no-touch": 3,
        b"capa": -3,
    },
    "config": {b"get": -3, b"set": -4, b"resetstat": 2, b"rewrite": 2, b"help": 2},
    "pubsub": {
        b"channels": -2,
        b"help": 2,
        b"numpat": 2,
        b"numsub": -2,
        b"shardchannels": -2,
        b"shardnumsub": -2,
    },
}


def check_subcommand(cmd: str, argv: list[bytes]) -> bytes:
    """Valkey's subcommand table: unknown subcommand, then the ``cmd|sub`` arity error."""
    sub = argv[1].lower()
    arity = SUBCOMMAND_ARITY[cmd].get(sub)
    if arity is None:
        raise unknown_subcommand(argv[1], cmd)
    if (arity > 0 and len(argv) != arity) or (arity < 0 and len(argv) < -arity):
        raise CommandRejected(wrong_arity(f"{cmd}|{sub.decode('latin-1')}"))
    return sub


def unknown_subcommand(sub: bytes, cmd: str) -> CommandError:
    return CommandRejected(
        f"ERR unknown subcommand '{sub.decode('utf-8', 'replace')}'. Try {cmd.upper()} HELP.",
        counted=False,
    )


# --- connection ---------------------------------------------------------------------------


@command("ping", -1, "fast")
def ping(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 2:
        raise CommandError(wrong_arity("ping"))
    if ctx.client.pubsub and ctx.client.resp == 2:
        return [b"pong", b"" if len(argv) == 1 else argv[1]]
    return PONG if len(argv) == 1 else argv[1]


@command("echo", 2, "fast stale loading")
def echo(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return argv[1]


@command("select", 2, "fast stale loading")
def select(ctx: CommandContext, argv: list[bytes]) -> Reply:
    dbid = parse_int(argv[1])
    if not 0 <= dbid < len(ctx.keyspace):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    ctx.client.db = dbid
    return OK


@command("quit", -1, "noscript fast stale loading no_auth allow_busy")
def quit_(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.kill_requested = True
    return OK


@command("reset", 1, "noscript fast stale loading no_auth allow_busy")
def reset(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = server_of(ctx)
    client = ctx.client
    if client.monitor:
        server.monitors.remove(client)
        client.monitor = False
    server.tracking.disable(client)
    server.discard_transaction(client)
    server.pubsub.forget(client)
    client.db = 0
    client.resp = 2
    client.name = b""
    client.no_evict = client.no_touch = client.readonly = False
    ctx.client.user = None
    ctx.client.authenticated = not server.acl.auth_required
    return SimpleString("RESET")


WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


@command("auth", -2, "noscript fast stale loading no_auth allow_busy")
def auth(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    server = server_of(ctx)
    if len(argv) == 2:
        if server.acl.default.nopass:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    ctx.client.extra["auth_command"] = argv[0]
    from valsync.commands.acl_cmds import authenticate

    if not authenticate(server, ctx.client, user, password):
        return ErrorReply(WRONGPASS)
    return OK


@command("hello", -1, "noscript fast stale loading no_auth allow_busy")
def hello(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = server_of(ctx)
    version = ctx.client.resp
    i = 1
    if len(argv) > 1:
        try:
            version = parse_int(argv[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        if version not in (2, 3):
            return ErrorReply("NOPROTO unsupported protocol version")
        i = 2
    name: bytes | None = None
    credentials: tuple[bytes, bytes] | None = None
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"auth" and i + 2 < len(argv):
            credentials = (argv[i + 1], argv[i + 2])  # the last AUTH given wins
            i += 3
        elif opt == b"setname" and i + 1 < len(argv):
            name = argv[i + 1]
            if any(c <= 32 or c >= 127 for c in name):
                raise CommandError(
                    "ERR Client names cannot contain spaces, newlines or special characters."
                )
            i += 2
        else:
            raise CommandError(
                f"ERR Syntax error in HELLO option '{argv[i].decode('utf-8', 'replace')}'"
            )
    if credentials is not None:
        ctx.client.extra["auth_command"] = argv[0]
        from valsync.commands.acl_cmds import authenticate

        if not authenticate(server, ctx.client, *credentials):
            return ErrorReply(WRONGPASS)
    if not ctx.client.authenticated:
        return ErrorReply(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
        )
    if name is not None:
        ctx.client.name = name
    ctx.client.resp = version
    role = "replica" if server.is_replica else "master"
    compat = server.config.get_bool("extended-redis-compatibility")
    return MapReply(
        [
            (b"server", server_name(compat)),
            (b"version", (REDIS_VERSION if compat else VALKEY_COMPAT_VERSION).encode()),
            (b"proto", version),
            (b"id", ctx.client.id),
            (b"mode", b"standalone"),
            (b"role", role.encode()),
            (b"modules", []),
        ]
    )


# --- CLIENT -------------------------------------------------------------------------------


def client_flags(client: ClientState, blocked: bool = False) -> str:
    """CLIENT LIST ``flags=``, in Valkey's order (``b``: waiting in a blocking command or
    held by a pause)."""
    flags = ""
    if client.monitor:
        flags += "O"
    elif client.is_replica:
        flags += "S"
    if client.is_primary_link:
        flags += "M"
    if client.pubsub:
        flags += "P"
    if client.in_multi:
        flags += "x"
    if blocked:
        flags += "b"
    tracking = client.tracking
    if tracking is not None:
        flags += "t"
        if tracking.broken_redirect:
            flags += "R"
        if tracking.bcast:
            flags += "B"
    if client.dirty_cas:
        flags += "d"
    if client.readonly:
        flags += "r"
    if client.no_evict:
        flags += "e"
    if client.no_touch:
        flags += "T"
    return flags or "N"


def client_info_line(
    server: Server, client: ClientState, now: int, hide_user_data: bool = False
) -> str:
    """One CLIENT LIST line; for the log, ``hide_user_data`` redacts the name and user as
    ``hide-user-data-from-log`` asks."""
    age = (now - client.created_ms) // 1000
    idle = (now - client.last_interaction_ms) // 1000
    mem = client.memory() if client.memory is not None else NO_CONNECTION_MEMORY
    name = "*redacted*" if hide_user_data else client.name.decode("utf-8", "replace")
    user = (
        "*redacted*"
        if hide_user_data
        else (client.user.name if client.user is not None else b"default").decode(
            "utf-8", "replace"
        )
    )
    return (
        f"id={client.id} addr={client.addr} laddr={client.laddr} fd={client.fd} "
        f"name={name} age={age} idle={idle} "
        f"flags={client_flags(client, client.id in server.blocked_clients)} capa={'r' if client.capa_redirect else ''} "
        f"db={client.db} sub={len(client.channels)} "
        f"psub={len(client.patterns)} ssub={len(client.shard_channels)} "
        f"multi={len(client.multi_queue) if client.in_multi else -1} watch={len(client.watched)} "
        f"qbuf={mem.qbuf} qbuf-free={mem.qbuf_free} argv-mem={mem.argv_mem} "
        f"multi-mem={mem.multi_mem} rbs={mem.reply_buffer} rbp=0 obl=0 oll=0 omem={mem.omem} "
        f"tot-mem={mem.total} events=r cmd={client.last_command} user={user} "
        f"redir={client.tracking.redirect if client.tracking is not None else -1} "
        f"resp={client.resp} "
        f"lib-name={client.lib_name.decode('utf-8', 'replace')} "
        f"lib-ver={client.lib_ver.decode('utf-8', 'replace')} "
        f"tot-net-in={client.net_in} tot-net-out={client.net_out} tot-cmds={client.commands}"
    )


def _client_type(client: ClientState) -> str:
    if client.is_primary_link:
        return "master"
    if client.is_replica:
        return "replica"
    if client.pubsub:
        return "pubsub"
    return "normal"


# CLIENT subcommands implemented in other modules (tracking, capa, no-touch: introspection).
CLIENT_SUBCOMMANDS: dict[bytes, Callable[[CommandContext, list[bytes]], Reply]] = {}


@command("client", -2, "stale loading")
def client_cmd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = server_of(ctx)
    sub = check_subcommand("client", argv)
    extension = CLIENT_SUBCOMMANDS.get(sub)
    if extension is not None:
        return extension(ctx, argv)
    now = int(time.time() * 1000)
    if sub == b"id" and len(argv) == 2:
        return ctx.client.id
    if sub == b"setname" and len(argv) == 3:
        name = argv[2]
        if any(c <= 32 or c >= 127 for c in name):
            raise CommandError(
                "ERR Client names cannot contain spaces, newlines or special characters."
            )
        ctx.client.name = name
        return OK
    if sub == b"getname" and len(argv) == 2:
        return ctx.client.name or None
    if sub == b"setinfo" and len(argv) == 4:
        attr = argv[2].lower()
        if attr in (b"lib-name", b"lib-ver") and any(b < 33 or b > 126 for b in argv[3]):
            raise CommandError(
                f"ERR {argv[2].decode('utf-8', 'replace')} cannot contain spaces, newlines or "
                "special characters."
            )
        if attr == b"lib-name":
            ctx.client.lib_name = argv[3]
        elif attr == b"lib-ver":
            ctx.client.lib_ver = argv[3]
        else:
            raise CommandError(f"ERR Unrecognized option '{argv[2].decode('utf-8', 'replace')}'")
        return OK
    if sub == b"no-evict" and len(argv) == 3:
        flag = argv[2].lower()
        if flag not in (b"on", b"off"):
            raise CommandError(SYNTAX)
        ctx.client.no_evict = flag == b"on"
        return OK
    if sub == b"info" and len(argv) == 2:
        return Verbatim((client_info_line(server, ctx.client, now) + "\n").encode())
    if sub == b"list":
        # a client being closed (killed, evicted, over its output limit) is already gone
        clients = [c for c in server.clients.values() if not c.kill_requested or c is ctx.client]
        if len(argv) >= 4 and argv[2].lower() == b"type":
            wanted = argv[3].lower().decode()
            wanted = {"slave": "replica", "master": "master", "primary": "master"}.get(
                wanted, wanted
            )
            if wanted not in ("normal", "replica", "master", "pubsub"):
                raise CommandError(
                    f"ERR Unknown client type '{argv[3].decode('utf-8', 'replace')}'"
                )
            clients = [c for c in clients if _client_type(c) == wanted]
        elif len(argv) >= 4 and argv[2].lower() == b"id":
            ids = {parse_int(a, SYNTAX) for a in argv[3:]}
            clients = [c for c in clients if c.id in ids]
        elif len(argv) != 2:
            raise CommandError(SYNTAX)
        return Verbatim("".join(client_info_line(server, c, now) + "\n" for c in clients).encode())
    if sub == b"reply" and len(argv) == 3:
        mode = argv[2].lower()
        if mode == b"on":
            ctx.client.reply_mode = 0
            return OK
        if mode in (b"off", b"skip"):
            ctx.client.reply_mode = REPLY_OFF if mode == b"off" else REPLY_SKIP_NEXT
            return NO_REPLY
        raise CommandError(SYNTAX)
    if sub == b"pause":
        return _client_pause(server, argv)
    if sub == b"unpause" and len(argv) == 2:
        server.unpause_actions(PausePurpose.CLIENT_PAUSE)
        return OK
    if sub == b"kill":
        return _client_kill(ctx, server, argv)
    if sub == b"unblock" and len(argv) in (3, 4):
        error = False
        if len(argv) == 4:
            reason = argv[3].lower()
            if reason not in (b"timeout", b"error"):
                raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            error = reason == b"error"
        return int(server.client_unblock(parse_int(argv[2]), error))
    if sub == b"help":
        return [
            b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            b"ID",
            b"INFO",
            b"KILL",
            b"LIST",
            b"GETNAME",
            b"SETNAME",
            b"SETINFO",
            b"NO-EVICT",
        ]
    if sub in (b"id", b"setname", b"getname", b"info", b"no-evict", b"setinfo"):
        raise CommandError(f"ERR wrong number of arguments for 'client|{sub.decode()}' command")
    raise unknown_subcommand(argv[1], "client")


def _client_pause(server: Server, argv: list[bytes]) -> Reply:
    """CLIENT PAUSE timeout [WRITE|ALL] (words after the mode are ignored, as in Valkey)."""
    try:
        timeout = parse_int(argv[2])
    except CommandError:
        raise CommandError("ERR timeout is not an integer or out of range") from None
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    actions = ALL_SET
    if len(argv) > 3:
        mode = argv[3].lower()
        if mode == b"write":
            actions = WRITE_SET
        elif mode != b"all":
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    server.pause_actions(PausePurpose.CLIENT_PAUSE, int(time.time() * 1000) + timeout, actions)
    return OK


def _client_kill(ctx: CommandContext, server: Server, argv: list[bytes]) -> Reply:
    if len(argv) == 3:
        target = argv[2].decode("utf-8", "replace")
        for client in list(server.clients.values()):
            if client.addr == target:
                kill_client(client)
                return OK
        raise CommandError("ERR No such client")
    if len(argv) % 2 != 0:
        raise CommandError(SYNTAX)
    filters: list[tuple[bytes, bytes]] = [
        (argv[i].lower(), argv[i + 1]) for i in range(2, len(argv), 2)
    ]
    skipme = True
    for key, value in filters:
        if key == b"skipme":
            if value.lower() not in (b"yes", b"no"):
                raise CommandError(SYNTAX)
            skipme = value.lower() == b"yes"
        elif key == b"type":
            t = value.lower().decode()
            if t not in ("normal", "replica", "slave", "master", "primary", "pubsub"):
                raise CommandError(f"ERR Unknown client type '{value.decode('utf-8', 'replace')}'")
        elif key == b"id":
            try:
                ok = parse_int(value) > 0
            except CommandError:
                ok = False
            if not ok:
                raise CommandError("ERR client-id should be greater than 0")
        elif key == b"maxage":
            try:
                age = parse_int(value)
            except CommandError:
                raise CommandError("ERR maxage is not an integer or out of range") from None
            if age <= 0:
                raise CommandError("ERR maxage should be greater than 0")
        elif key == b"user":
            if value not in server.acl.users:
                raise CommandError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
        elif key not in (b"addr", b"laddr"):
            raise CommandError(SYNTAX)
    killed = 0
    now_ms = int(time.time() * 1000)
    for client in list(server.clients.values()):
        if skipme and client is ctx.client:
            continue
        ok = True
        for key, value in filters:
            text = value.decode("utf-8", "replace")
            if key == b"type":
                t = {"slave": "replica", "primary": "master"}.get(text.lower(), text.lower())
                ok &= _client_type(client) == t
            elif key == b"id":
                ok &= client.id == int(text)
            elif key == b"addr":
                ok &= client.addr == text
            elif key == b"laddr":
                ok &= client.laddr == text
            elif key == b"user":
                ok &= (client.user or server.acl.default) is server.acl.users.get(value)
            elif key == b"maxage":
                ok &= (now_ms - client.created_ms) // 1000 >= int(text)
        if ok:
            kill_client(client)
            killed += 1
    return killed


def kill_client(client: ClientState) -> None:
    kill = client.extra.get("kill")
    client.kill_requested = True
    if callable(kill):
        kill()


# --- MULTI / WATCH ------------------------------------------------------------------------


@command("multi", 1, "noscript fast loading stale allow_busy no_multi")
def multi(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.client.in_multi:
        raise CommandError("ERR MULTI calls can not be nested")
    ctx.client.in_multi = True
    ctx.client.multi_queue = []
    ctx.client.multi_error = False
    return OK


@command("exec", 1, "noscript loading stale skip_slowlog")
def exec_(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if not ctx.client.in_multi:
        raise CommandError("ERR EXEC without MULTI")
    return server_of(ctx).exec_transaction(ctx.client)


@command("discard", 1, "noscript loading stale fast allow_busy")
def discard(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if not ctx.client.in_multi:
        raise CommandError("ERR DISCARD without MULTI")
    server_of(ctx).discard_transaction(ctx.client)
    return OK


@command("watch", -2, "noscript loading stale fast allow_busy no_multi", 1, -1, 1)
def watch(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.client.in_multi:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    server = server_of(ctx)
    for key in argv[1:]:
        server.watch(ctx.client, key, ctx.now_ms)
    return OK


@command("unwatch", 1, "noscript loading stale fast allow_busy")
def unwatch(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server_of(ctx).unwatch_all(ctx.client)
    return OK


# --- keyspace-wide --------------------------------------------------------------------------


@command("dbsize", 1, "readonly fast")
def dbsize(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return len(ctx.db)


def _flush_mode(argv: list[bytes], name: str) -> None:
    if len(argv) > 2:
        raise CommandError(SYNTAX)
    if len(argv) == 2 and argv[1].lower() not in (b"sync", b"async"):
        raise CommandError(SYNTAX)


@command("flushdb", -1, "write")
def flushdb(ctx: CommandContext, argv: list[bytes]) -> Reply:
    _flush_mode(argv, "flushdb")
    ctx.dirty += _flush(ctx, ctx.db.clear)
    ctx.force_propagation()
    return OK


def _flush(ctx: CommandContext, clear: Callable[[], int]) -> int:
    """Empty the data, returning how many keys went (Valkey adds them to the dirty count);
    tracking clients get one "flush everything" invalidation instead of one per key
    (Valkey's trackingInvalidateKeysOnFlush)."""
    tracking = ctx.server.tracking if ctx.server is not None else None
    if tracking is None:
        removed = clear()
    else:
        tracking.flush(ctx.client)
        tracking.flushing = True
        try:
            removed = clear()
        finally:
            tracking.flushing = False
    if removed and not ctx.keyspace.total_keys():
        # nothing left to scan: the collection is cheap and lets the freed memory go
        release_free_memory(collect=True)
    return removed


@command("flushall", -1, "write")
def flushall(ctx: CommandContext, argv: list[bytes]) -> Reply:
    _flush_mode(argv, "flushall")
    removed = _flush(ctx, ctx.keyspace.flush_all)
    persistence = ctx.server.persistence if ctx.server is not None else None
    saved = persistence is not None and persistence.after_flushall()
    if not saved:  # a save leaves nothing unsaved (rdb_changes_since_last_save 0)
        ctx.dirty += removed
    ctx.force_propagation()
    return OK


@command("swapdb", 3, "write fast")
def swapdb(ctx: CommandContext, argv: list[bytes]) -> Reply:
    a = parse_int(argv[1], "ERR invalid first DB index")
    b = parse_int(argv[2], "ERR invalid second DB index")
    n = len(ctx.keyspace)
    if not (0 <= a < n and 0 <= b < n):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    da, db_ = ctx.keyspace[a], ctx.keyspace[b]
    server = server_of(ctx)
    server.touch_watched_for_swap(a, b, ctx.now_ms)
    da.swap_contents(db_)
    # both DBs changed content for every key either holds (clients blocked on a key of db b
    # must wake too, like Valkey's scanDatabaseForReadyKeys / ForDeletedKeys on both)
    server.swapping_dbs = True
    try:
        for key in set(da.data) | set(db_.data):
            da.modified(key)
            db_.modified(key)
    finally:
        server.swapping_dbs = False
    ctx.dirty += 1
    return OK


@command("time", 1, "fast loading stale")
def time_cmd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    now = time.time() if ctx.frozen_time is None else ctx.frozen_time
    sec = int(now)
    return [str(sec).encode(), str(int((now - sec) * 1_000_000)).encode()]


@command("lastsave", 1, "fast loading stale")
def lastsave(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return server_of(ctx).lastsave


# --- CONFIG -------------------------------------------------------------------------------


DENY_LOADING_CONFIGS = frozenset({"appendonly", "repl-diskless-load", "dir"})
"""Settings CONFIG SET refuses with -LOADING while a dataset loads (DENY_LOADING_CONFIG)."""


@command("config", -2, "admin noscript loading stale")
def config_cmd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    from valsync.config import ConfigError

    server = server_of(ctx)
    sub = check_subcommand("config", argv)
    if sub == b"get":
        if len(argv) < 3:
            raise CommandError("ERR wrong number of arguments for 'config|get' command")
        pairs = server.config.config_get([a.decode("utf-8", "replace") for a in argv[2:]])
        return MapReply([(k.encode(), v.encode()) for k, v in pairs])
    if sub == b"set":
        if len(argv) < 4 or len(argv) % 2 != 0:
            raise CommandError("ERR wrong number of arguments for 'config|set' command")
        items = [
            (argv[i].decode("utf-8", "replace"), argv[i + 1].decode("utf-8", "surrogateescape"))
            for i in range(2, len(argv), 2)
        ]
        if (server.loading or server.async_loading) and any(
            name.lower() in DENY_LOADING_CONFIGS for name, _ in items
        ):
            raise CommandError("LOADING Valkey is loading the dataset in memory")
        try:
            server.config.config_set(items)
        except ConfigError as err:
            raise CommandError(str(err)) from None
        return OK
    if sub == b"resetstat" and len(argv) == 2:
        server.stats.reset()
        server.cmdstats.reset()
        server.memory.reset_stats()
        server.scripting.cache.evicted = 0
        return OK
    if sub == b"rewrite" and len(argv) == 2:
        repl = server.repl
        primary = repl.primary_address() if repl is not None else None
        try:
            server.config.rewrite(primary, server.acl_config_lines())
        except ConfigError as err:
            server.log.warning(f"CONFIG REWRITE failed: {err}")
            raise CommandError(str(err)) from None
        server.log.notice("CONFIG REWRITE executed with success.")
        return OK
    if sub == b"help":
        return [
            b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            b"GET",
            b"SET",
            b"RESETSTAT",
            b"REWRITE",
        ]
    raise unknown_subcommand(argv[1], "config")


# --- SHUTDOWN -----------------------------------------------------------------------------


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy")
def shutdown(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = server_of(ctx)
    words = {arg.lower() for arg in argv[1:]}
    if words - {b"nosave", b"save", b"now", b"force", b"abort"}:
        raise CommandError(SYNTAX)
    if (b"abort" in words and len(argv) > 2) or {b"nosave", b"save"} <= words:
        raise CommandError(SYNTAX)
    if b"abort" in words:
        # only a shutdown a signal asked for and the cron has not started can be taken back
        if server.shutdown_requested is None:
            raise CommandError("ERR No shutdown in progress.")
        server.shutdown_requested = None
        server.log.notice("Shutdown manually aborted.")
        return OK
    request = ShutdownRequest.from_words({w.decode() for w in words})
    if not server.prepare_for_shutdown(request):
        raise CommandError(SHUTDOWN_FAILED)
    server.shutdown_requested = replace(request, prepared=True)
    for listener in server.shutdown_listeners:
        listener()
    ctx.client.kill_requested = True
    return NO_REPLY


# --- INFO ---------------------------------------------------------------------------------

ALL_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "errorstats",
    "latencystats",
    "keyspace",
)
DEFAULT_SECTIONS = tuple(s for s in ALL_SECTIONS if s not in ("commandstats", "latencystats"))


def _rss_bytes() -> int:
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def info_text(server: Server, sections: list[str]) -> str:
    wanted: list[str] = []
    for s in sections or ["default"]:
        s = s.lower()
        if s in ("all", "everything", "default"):
            chosen = DEFAULT_SECTIONS if s == "default" else ALL_SECTIONS
            wanted.extend(x for x in chosen if x not in wanted)
        elif s not in wanted:
            wanted.append(s)
    parts: list[str] = []
    for name in wanted:
        lines = _info_section(server, name)
        if lines is not None:
            parts.append(f"# {name.capitalize()}\r\n" + "".join(line + "\r\n" for line in lines))
    return "\r\n".join(parts)


def _latest_fork_usec(server: Server) -> int:
    persistence = server.persistence
    return int(persistence.children.last_fork_usec) if persistence is not None else 0


def _info_section(server: Server, name: str) -> list[str] | None:
    cfg = server.config
    now = time.time()
    if name == "debug":  # only when asked for by name, as in Valkey
        st = server.stats
        return [
            "eventloop_duration_aof_sum:0",
            f"eventloop_duration_cron_sum:{st.eventloop_duration_cron_sum}",
            f"eventloop_duration_max:{st.eventloop_duration_max}",
            f"eventloop_cmd_per_cycle_max:{st.eventloop_cmd_per_cycle_max}",
        ]
    if name == "server":
        uptime = int(now - server.start_time)
        binds = ",".join(f"bind={b}" for b in cfg.get("bind").split())
        return [
            "redis_version:7.2.4",
            "server_name:valkey",
            f"valkey_version:{VALKEY_COMPAT_VERSION}",
            "valkey_release_stage:ga",
            "redis_git_sha1:00000000",
            "redis_git_dirty:0",
            "redis_build_id:0000000000000000",
            f"{mode_field(cfg.get_bool('extended-redis-compatibility'))}:standalone",
            f"os:{os.uname().sysname} {os.uname().release} {os.uname().machine}",
            "arch_bits:64",
            "monotonic_clock:POSIX clock_gettime",
            "multiplexing_api:epoll",
            "gcc_version:0.0.0",
            f"process_id:{server.pid}",
            "process_supervised:no",
            f"run_id:{server.run_id}",
            f"tcp_port:{cfg.get_int('port')}",
            f"server_time_usec:{int(now * 1_000_000)}",
            f"uptime_in_seconds:{uptime}",
            f"uptime_in_days:{uptime // 86400}",
            f"hz:{cfg.get_int('hz')}",
            f"configured_hz:{cfg.get_int('hz')}",
            f"clients_hz:{cfg.get_int('hz')}",
            f"lru_clock:{int(now) & ((1 << 24) - 1)}",
            f"executable:{os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ''}",
            f"config_file:{cfg.config_file or ''}",
            "io_threads_active:0",
            f"availability_zone:{cfg.get('availability-zone')}",
            f"listener0:name=tcp,{binds},port={cfg.get_int('port')}",
            "valsync:1",
        ]
    if name == "clients":
        clients = list(server.clients.values())
        return [
            f"connected_clients:{sum(1 for c in clients if not c.is_replica)}",
            "cluster_connections:0",
            f"maxclients:{cfg.get_int('maxclients')}",
            "client_recent_max_input_buffer:0",
            "client_recent_max_output_buffer:0",
            f"blocked_clients:{server.blocked_client_count()}",
            f"tracking_clients:{server.tracking.tracking_clients}",
            f"pubsub_clients:{server.pubsub.clients}",
            f"watching_clients:{sum(1 for c in clients if c.watched)}",
            f"clients_in_timeout_table:{server.blocked_with_timeout_count()}",
            f"total_watched_keys:{len(server.watch_index)}",
            *server.blocking_keys_info(),
            *server.pause.info_lines(int(time.time() * 1000)),
        ]
    if name == "memory":
        memory_lines: list[str] = server.memory.info_memory_lines(_rss_bytes())
        return memory_lines
    if name == "persistence":
        if server.persistence is not None:
            lines: list[str] = server.persistence.info_lines()
            return lines
        return [
            f"loading:{int(server.loading)}",
            "async_loading:0",
            f"rdb_changes_since_last_save:{server.dirty}",
            "rdb_bgsave_in_progress:0",
            f"rdb_last_save_time:{server.lastsave}",
            "aof_enabled:0",
        ]
    if name == "stats":
        st = server.stats
        rates = st.instantaneous_fields()
        return [
            f"total_connections_received:{st.total_connections_received}",
            f"total_commands_processed:{st.total_commands_processed}",
            f"instantaneous_ops_per_sec:{rates['instantaneous_ops_per_sec']}",
            f"total_net_input_bytes:{st.total_net_input_bytes}",
            f"total_net_output_bytes:{st.total_net_output_bytes}",
            f"total_net_repl_input_bytes:{st.total_net_repl_input_bytes}",
            f"total_net_repl_output_bytes:{st.total_net_repl_output_bytes}",
            f"instantaneous_input_kbps:{rates['instantaneous_input_kbps']}",
            f"instantaneous_output_kbps:{rates['instantaneous_output_kbps']}",
            f"instantaneous_input_repl_kbps:{rates['instantaneous_input_repl_kbps']}",
            f"instantaneous_output_repl_kbps:{rates['instantaneous_output_repl_kbps']}",
            f"rejected_connections:{st.rejected_connections}",
            f"sync_full:{st.sync_full}",
            f"sync_partial_ok:{st.sync_partial_ok}",
            f"sync_partial_err:{st.sync_partial_err}",
            f"expired_keys:{st.expired_keys}",
            f"expired_stale_perc:{st.expired_stale_perc:.2f}",
            "expired_time_cap_reached_count:0",
            "expire_cycle_cpu_milliseconds:0",
            f"evicted_keys:{st.evicted_keys}",
            f"evicted_clients:{st.evicted_clients}",
            f"evicted_scripts:{server.scripting.cache.evicted}",
            *server.memory.info_stats_lines(),
            f"keyspace_hits:{st.keyspace_hits}",
            f"keyspace_misses:{st.keyspace_misses}",
            f"pubsub_channels:{len(server.pubsub.channels.table)}",
            f"pubsub_patterns:{len(server.pubsub.patterns.table)}",
            f"pubsubshard_channels:{len(server.pubsub.shard.table)}",
            f"latest_fork_usec:{_latest_fork_usec(server)}",
            f"total_forks:{st.total_forks}",
            f"migrate_cached_sockets:{len(server.migrate_sockets)}",
            f"slave_expires_tracked_keys:{len(server.replica_keys_with_expire)}",
            "active_defrag_hits:0",
            "active_defrag_misses:0",
            "active_defrag_key_hits:0",
            "active_defrag_key_misses:0",
            "total_active_defrag_time:0",
            "current_active_defrag_time:0",
            f"tracking_total_keys:{len(server.tracking.keys)}",
            f"tracking_total_items:{server.tracking.total_items}",
            f"tracking_total_prefixes:{len(server.tracking.prefixes)}",
            f"unexpected_error_replies:{st.unexpected_error_replies}",
            f"total_error_replies:{st.total_error_replies}",
            "dump_payload_sanitizations:0",
            f"total_reads_processed:{st.total_reads_processed}",
            f"total_writes_processed:{st.total_writes_processed}",
            "io_threaded_reads_processed:0",
            "io_threaded_writes_processed:0",
            "io_threaded_freed_objects:0",
            "io_threaded_accept_processed:0",
            "io_threaded_poll_processed:0",
            "io_threaded_total_prefetch_batches:0",
            "io_threaded_total_prefetch_entries:0",
            f"client_query_buffer_limit_disconnections:{st.client_query_buffer_limit_disconnections}",
            f"client_output_buffer_limit_disconnections:{st.client_output_buffer_limit_disconnections}",
            "reply_buffer_shrinks:0",
            "reply_buffer_expands:0",
            f"eventloop_cycles:{st.eventloop_cycles}",
            f"eventloop_duration_sum:{st.eventloop_duration_sum}",
            f"eventloop_duration_cmd_sum:{st.eventloop_duration_cmd_sum}",
            f"instantaneous_eventloop_cycles_per_sec:{rates['instantaneous_eventloop_cycles_per_sec']}",
            f"instantaneous_eventloop_duration_usec:{rates['instantaneous_eventloop_duration_usec']}",
            f"acl_access_denied_auth:{server.acl.log.auth_failures}",
            f"acl_access_denied_cmd:{server.acl.log.denied_cmd}",
            f"acl_access_denied_key:{server.acl.log.denied_key}",
            f"acl_access_denied_channel:{server.acl.log.denied_channel}",
        ]
    if name == "replication":
        if server.repl is not None:
            return server.repl.info_lines()
        return ["role:master", "connected_slaves:0"]
    if name == "cpu":
        t = os.times()
        return [
            f"used_cpu_sys:{t.system:.6f}",
            f"used_cpu_user:{t.user:.6f}",
            f"used_cpu_sys_children:{t.children_system:.6f}",
            f"used_cpu_user_children:{t.children_user:.6f}",
        ]
    if name == "commandstats":
        return server.cmdstats.info_commandstats()
    if name == "errorstats":
        return server.cmdstats.info_errorstats()
    if name == "latencystats":
        percentiles = cfg.get("latency-tracking-info-percentiles").split()
        return server.cmdstats.info_latencystats(float(p) for p in percentiles)
    if name == "keyspace":
        out = []
        for db in server.keyspace.dbs:
            if len(db):
                out.append(f"db{db.id}:keys={len(db)},expires={len(db.expires)},avg_ttl=0")
        return out
    return None


@command("info", -1, "loading stale")
def info(ctx: CommandContext, argv: list[bytes]) -> Reply:
    text = info_text(server_of(ctx), [a.decode("utf-8", "replace") for a in argv[1:]])
    return Verbatim(text.encode())


# --- DEBUG --------------------------------------------------------------------------------


@command("debug", -2, "admin noscript loading stale")
def debug(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = server_of(ctx)
    setting = server.config.get_str("enable-debug-command")
    if setting == "no" or (setting == "local" and not _is_local(ctx.client.addr)):
        raise CommandError(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to "
            '"local", you can run it from a local connection, otherwise you need to set this '
            "option in the configuration file, and then restart the server."
        )
    sub = argv[1].lower()
    if sub == b"sleep" and len(argv) == 3:
        # blocks the whole server on purpose, as Valkey's DEBUG SLEEP does
        time.sleep(float(argv[2]))
        return OK
    if sub == b"set-active-expire" and len(argv) == 3:
        server.active_expire_enabled = argv[2] != b"0"
        return OK
    if sub == b"populate" and 3 <= len(argv) <= 5:
        count = parse_int(argv[2])
        prefix = argv[3] if len(argv) > 3 else b"key"
        size = parse_int(argv[4]) if len(argv) > 4 else 0
        data = ctx.db.data
        for i in range(count):
            key = b"%s:%d" % (prefix, i)
            if key in data:
                continue
            value = b"value:%d" % i
            if size:
                value = (value + b"\x00" * size)[:size]
            data[key] = value
        ctx.db.unstamped = ctx.db.clock.stamp
        # the dict's outgrown tables went to the heap
        release_free_memory()
        return OK
    if sub in (b"digest", b"digest-value"):
        from valsync.keyspace import digest as digest_mod

        if sub == b"digest":
            return SimpleString(digest_mod.digest_keyspace(ctx.keyspace, ctx.now_ms))
        return [
            SimpleString(
                digest_mod.digest_value(ctx.db.data.get(k), ctx.db.expires.get(k), ctx.now_ms)
            )
            for k in argv[2:]
        ]
    if sub == b"object" and len(argv) == 3:
        from valsync.commands.keys import encoding_limits, object_encoding, quicklist_fields

        stored = ctx.db.data.get(argv[2])
        if stored is None:
            raise CommandError("ERR no such key")
        db = ctx.db
        clock = db.clock
        stamp = db.stamp_of(argv[2])
        limits = encoding_limits(ctx)
        encoding = object_encoding(stored, argv[2], limits)
        # one field read both ways, whatever the policy, as Valkey prints robj.lru
        line = (
            f"Value at:0x0 refcount:1 encoding:{encoding} "
            f"serializedlength:0 lru:{stamp} lru_seconds_idle:{clock.idle_ms(stamp) // 1000} "
            f"lfu_freq:{clock.lfu_counter(stamp)} lfu_access_time_minutes:{stamp >> 8}"
        )
        if encoding == "quicklist" and isinstance(stored, deque):
            line += quicklist_fields(stored, limits, server.config.get_int("list-compress-depth"))
        return SimpleString(line)
    if sub == b"reload":
        if server.persistence is None:
            raise CommandError("ERR DEBUG RELOAD needs persistence")
        options = {a.lower() for a in argv[2:]}
        if options - {b"merge", b"noflush", b"nosave"}:
            raise CommandError(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
            )
        reply: Reply = server.persistence.debug_reload(
            nosave=b"nosave" in options, noflush=b"noflush" in options, merge=b"merge" in options
        )
        return reply
    handler = lookup_debug_subcommand(argv)
    if handler is not None:
        return handler(server, ctx, argv[2:])
    if sub == b"help":
        return [
            b"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            *(name.upper() for name in sorted(DEBUG_SUBCOMMANDS)),
            b"DIGEST",
            b"DIGEST-VALUE",
            b"OBJECT",
            b"POPULATE",
            b"RELOAD",
            b"SET-ACTIVE-EXPIRE",
            b"SLEEP",
        ]
    raise CommandError(
        "ERR unknown subcommand or wrong number of arguments for "
        f"'{argv[1].decode('utf-8', 'replace')[:128]}'. Try DEBUG HELP."
    )


def _is_local(addr: str) -> bool:
    return addr.startswith(("127.", "[::1]", "/")) or addr == ""


__all__ = ["info_text", "server_of"]
