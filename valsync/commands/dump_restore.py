"""DUMP, RESTORE and MIGRATE, as Valkey 8.1's ``cluster.c`` has them.

The payload is the value's RDB encoding with a version and CRC-64 footer
(:mod:`valsync.rdb.dump_payload`). RESTORE propagates as received, except that a relative
TTL becomes absolute: ``RESTORE key <unix ms> payload ... ABSTTL``, and a REPLACE whose TTL
is already past propagates the deletion (``UNLINK``/``DEL``) instead. IDLETIME and FREQ are
checked as Valkey checks them but not kept: valsync holds no per-key LRU/LFU data.
"""

from __future__ import annotations

from valsync.commands.context import (
    ClientState,
    CommandContext,
    ExchangeRequest,
    ExchangeResult,
    ExpireMode,
)
from valsync.commands.errors import SYNTAX, CommandError, parse_int
from valsync.commands.registry import command
from valsync.commands.strings import attach
from valsync.keyspace.values import Value
from valsync.rdb.dump_payload import create_dump_payload, load_dump_payload, verify_dump_payload
from valsync.rdb.format import RdbError
from valsync.resp.reply import OK, ErrorReply, Reply, SimpleString

BUSYKEY = "BUSYKEY Target key name already exists."
BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
BAD_DATA = "ERR Bad data format"
BAD_TTL = "ERR Invalid TTL value, must be >= 0"
BAD_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
BAD_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"


def _config_bool(ctx: CommandContext, name: str, default: bool) -> bool:
    server = ctx.server
    if server is None:
        return default
    return bool(server.config.get_bool(name))


def dump_value(ctx: CommandContext, key: bytes, value: Value) -> bytes:
    """The DUMP payload of ``value`` as this server's ``rdbcompression`` writes it."""
    return create_dump_payload(
        value, key, ctx.client.db, compression=_config_bool(ctx, "rdbcompression", True)
    )


@command("dump", 2, "readonly", 1, 1, 1)
def dump_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    value = ctx.lookup_read(argv[1])
    if value is None:
        return None
    return dump_value(ctx, argv[1], value)


def restore_generic(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    replace = absttl = False
    idle = freq = -1
    j = 4
    while j < len(argv):
        opt = argv[j].lower()
        more = len(argv) - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(argv[j + 1])
            if idle < 0:
                raise CommandError(BAD_IDLETIME)
            j += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(argv[j + 1])
            if not 0 <= freq <= 255:
                raise CommandError(BAD_FREQ)
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if not replace and ctx.lookup(key) is not None:
        raise CommandError(BUSYKEY)
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise CommandError(BAD_TTL)
    payload = argv[3]
    server = ctx.server
    unchecked = server is not None and server.skip_checksum_validation
    if not verify_dump_payload(payload, check_crc=not unchecked):
        raise CommandError(BAD_PAYLOAD)
    try:
        value = load_dump_payload(payload, key)
    except RdbError:
        raise CommandError(BAD_DATA) from None
    db = ctx.db
    deleted = replace and ctx.lookup(key) is not None and db.delete(key)
    if ttl and not absttl:
        ttl += ctx.now_ms
    if ttl and ttl <= ctx.now_ms and ctx.expire_mode is ExpireMode.DELETE:
        if deleted:
            lazy = _config_bool(ctx, "lazyfree-lazy-server-del", True)
            ctx.rewrite([b"UNLINK" if lazy else b"DEL", key])
            ctx.notify("g", "del", key)
            ctx.dirty += 1
        return OK
    if isinstance(value, bytes):
        value = attach(key, value, False)
    db.set(key, value)
    clock = db.clock
    if clock.lfu and freq >= 0:
        db.stamps[key] = clock.lfu_stamp(freq)  # objectSetLRUOrLFU
    elif not clock.lfu and idle >= 0:
        db.stamps[key] = clock.lru_stamp_idle(idle)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            ctx.rewrite([*argv[:2], b"%d" % ttl, *argv[3:], b"ABSTTL"])
    ctx.notify("g", "restore", key)
    ctx.dirty += 1
    return OK


command("restore", -4, "write denyoom", 1, 1, 1)(restore_generic)
command("restore-asking", -4, "write denyoom asking", 1, 1, 1)(restore_generic)


# --- MIGRATE ---------------------------------------------------------------------------------

MIGRATE_KEYS_NOT_EMPTY = (
    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
)
IOERR_CONNECTING = "IOERR error or timeout connecting to the client"
MIGRATE_IN_MULTI = "ERR MIGRATE cannot run inside MULTI/EXEC in valsync"


def _c_atoi(arg: bytes) -> int:
    """C's ``atoi``: leading blanks, a sign, then digits; 0 when there are none."""
    text = arg.lstrip(b" \t\n\r\f\v")
    sign = -1 if text[:1] == b"-" else 1
    if text[:1] in (b"-", b"+"):
        text = text[1:]
    digits = len(text) - len(text.lstrip(b"0123456789"))
    return sign * int(text[:digits]) if digits else 0


def _bulk_command(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


@command("migrate", -6, "write movablekeys", 3, 3, 1)
def migrate_command(ctx: CommandContext, argv: list[bytes]) -> Reply | ExchangeRequest:
    """MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
    [KEYS k...]: RESTORE the keys on the target over one connection, then (unless COPY)
    delete the ones it acknowledged and propagate that as ``DEL``. The network part is an
    :class:`ExchangeRequest` the connection awaits (Valkey blocks the whole server instead);
    a key changed meanwhile by another client is left alone."""
    copy = replace = False
    username: bytes | None = None
    password: bytes | None = None
    first_key, num_keys = 3, 1
    j = 6
    while j < len(argv):
        opt = argv[j].lower()
        more = len(argv) - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise CommandError(SYNTAX)
            password = argv[j + 1]
            j += 1
        elif opt == b"auth2":
            if more < 2:
                raise CommandError(SYNTAX)
            username, password = argv[j + 1], argv[j + 2]
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise CommandError(MIGRATE_KEYS_NOT_EMPTY)
            first_key, num_keys = j + 1, len(argv) - j - 1
            break
        else:
            raise CommandError(SYNTAX)
        j += 1
    timeout = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout <= 0:
        timeout = 1000
    db = ctx.db
    found = [
        (key, value)
        for key in argv[first_key : first_key + num_keys]
        if (value := ctx.lookup(key)) is not None
    ]
    if not found:
        return SimpleString("NOKEY")
    parts: list[bytes] = []
    if password is not None:
        auth = (b"AUTH", username, password) if username is not None else (b"AUTH", password)
        parts.append(_bulk_command(*(a for a in auth if a is not None)))
    parts.append(_bulk_command(b"SELECT", b"%d" % dbid))
    moved: list[tuple[bytes, Value]] = []
    for key, value in found:
        ttl = 0
        when = db.expires.get(key)
        if when is not None:
            ttl = when - ctx.now_ms
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        moved.append((key, value))
        restore = [b"RESTORE", key, b"%d" % ttl, dump_value(ctx, key, value)]
        parts.append(_bulk_command(*restore, *([b"REPLACE"] if replace else [])))
    with_auth = password is not None
    # WATCH each key while the target works: a write to it meanwhile (even one that changes
    # the value in place) keeps it here rather than deleting that write with the key
    server = ctx.server
    watchers = {key: ClientState(id=0, db=db.id) for key, _ in moved}
    if server is not None:
        for key, watcher in watchers.items():
            server.watch(watcher, key, ctx.now_ms)

    def finish(after: CommandContext, result: ExchangeResult) -> Reply:
        untouched = {k for k in watchers if not watchers[k].dirty_cas}
        return _migrate_finish(after, result, moved, untouched, copy, with_auth, db.id)

    def cleanup() -> None:
        if server is not None:
            for watcher in watchers.values():
                server.unwatch_all(watcher)

    return ExchangeRequest(
        keys=(),
        deadline_ms=None,
        timeout_reply=ErrorReply(MIGRATE_IN_MULTI),
        host=argv[1].decode("utf-8", "replace"),
        port=_c_atoi(argv[2]),
        timeout_ms=timeout,
        payload=b"".join(parts),
        replies=int(with_auth) + 1 + len(moved),
        finish=finish,
        cleanup=cleanup,
    )


def _migrate_finish(
    ctx: CommandContext,
    result: ExchangeResult,
    moved: list[tuple[bytes, Value]],
    untouched: set[bytes],
    copy: bool,
    with_auth: bool,
    dbid: int,
) -> Reply:
    """The second half of MIGRATE, once the target answered (or failed to)."""
    if result.failed == "connecting":
        return ErrorReply(IOERR_CONNECTING)
    if result.failed == "writing":
        return ErrorReply("IOERR error or timeout writing to target instance")
    lines = result.lines
    head = int(with_auth) + 1
    if len(lines) < head:
        return ErrorReply("IOERR error or timeout reading to target instance")
    db = ctx.keyspace[dbid]
    head_error = next(
        (line[1:].decode("utf-8", "replace") for line in lines[:head] if line[:1] == b"-"), None
    )
    error: str | None = None
    deleted: list[bytes] = []
    socket_error = False
    for j, (key, value) in enumerate(moved):
        if head + j >= len(lines):
            socket_error = True
            break
        line = lines[head + j]
        if head_error is not None or line[:1] == b"-":
            if error is None:
                error = (
                    head_error if head_error is not None else line[1:].decode("utf-8", "replace")
                )
        elif not copy and key in untouched and db.data.get(key) is value:
            db.delete(key)
            ctx.notify("g", "del", key, dbid)
            ctx.dirty += 1
            deleted.append(key)
    if deleted:
        ctx.also_propagate([b"DEL", *deleted], dbid)
    if error is not None:
        return ErrorReply(f"ERR Target instance replied with error: {error}")
    if socket_error:
        return ErrorReply("IOERR error or timeout reading to target instance")
    return OK
