"""DUMP, RESTORE and MIGRATE, as Valkey 8.1's ``cluster.c`` has them.

The payload is the value's RDB encoding with a version and CRC-64 footer
(:mod:`valsync.rdb.dump_payload`). RESTORE propagates as received, except that a relative
TTL becomes absolute: ``RESTORE key <unix ms> payload ... ABSTTL``, and a REPLACE whose TTL
is already past propagates the deletion (``UNLINK``/``DEL``) instead.
"""

from __future__ import annotations

from valsync.commands.context import CommandContext, ExpireMode
from valsync.commands.errors import SYNTAX, CommandError, parse_int
from valsync.commands.registry import command
from valsync.commands.strings import attach
from valsync.keyspace.values import Value
from valsync.rdb.dump_payload import create_dump_payload, load_dump_payload, verify_dump_payload
from valsync.rdb.format import RdbError
from valsync.resp.reply import OK, Reply

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
    value = ctx.lookup(argv[1])
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
    if not verify_dump_payload(payload):
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
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            ctx.rewrite([*argv[:2], b"%d" % ttl, *argv[3:], b"ABSTTL"])
    ctx.notify("g", "restore", key)
    ctx.dirty += 1
    return OK


command("restore", -4, "write denyoom", 1, 1, 1)(restore_generic)
command("restore-asking", -4, "write denyoom asking", 1, 1, 1)(restore_generic)
