"""DEBUG subcommands that Valkey's own test suite drives, beyond the core ones in server_cmds.

Each takes the server and the command's arguments after the subcommand name and returns its
reply; :data:`DEBUG_SUBCOMMANDS` maps the lower-case name to ``(handler, arity)``, with arity
as Valkey counts it for DEBUG (exact ``n`` or at least ``-n`` arguments after the name).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from valsync.commands.context import CommandContext, Propagated
from valsync.commands.encodings import encoding_limits, set_encoding, zset_is_skiplist
from valsync.commands.errors import NO_SUCH_KEY, CommandError, parse_int
from valsync.keyspace.values import ZSetValue
from valsync.resp.reply import (
    OK,
    Boolean,
    Double,
    ErrorReply,
    MapReply,
    Raw,
    Reply,
    SetReply,
    Verbatim,
)

if TYPE_CHECKING:
    from valsync.server import Server

DebugHandler = Callable[["Server", CommandContext, list[bytes]], Reply]

_BIGNUM = b"1234567999999999999999999999999999999"
_ATTRIB_REPLY = b"Some real reply following the attribute"
_PUSH_REPLY = b"Some real reply following the push reply"


def _protocol(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    """A test value of each RESP type, as Valkey's DEBUG PROTOCOL sends it."""
    kind = args[0].lower()
    resp3 = ctx.client.resp >= 3
    simple: dict[bytes, Reply] = {
        b"string": b"Hello World",
        b"integer": 12345,
        b"double": Double(3.141),
        b"null": None,
        b"array": [0, 1, 2],
        b"set": SetReply([0, 1, 2]),
        b"map": MapReply([(0, Boolean(False)), (1, Boolean(True)), (2, Boolean(False))]),
        b"verbatim": Verbatim(b"This is a verbatim\nstring"),
        b"true": Boolean(True),
        b"false": Boolean(False),
    }
    if kind in simple:
        return simple[kind]
    if kind == b"bignum":
        return Raw(b"(%s\r\n" % _BIGNUM) if resp3 else _BIGNUM
    if kind == b"attrib":
        if not resp3:
            return _ATTRIB_REPLY
        head = b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
        return Raw(head + b"$%d\r\n%s\r\n" % (len(_ATTRIB_REPLY), _ATTRIB_REPLY))
    if kind == b"push":
        if not resp3:
            return ErrorReply("ERR RESP2 is not supported by this command")
        reply = b"$%d\r\n%s\r\n" % (len(_PUSH_REPLY), _PUSH_REPLY)
        return Raw(reply + b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n")
    raise CommandError(
        "ERR Wrong protocol type name. Please use one of the following: string|integer|double|"
        "bignum|null|array|set|map|attrib|push|verbatim|true|false"
    )


def _atoi(text: bytes) -> int:
    """C's ``atoi``: leading digits, anything else is 0 (DEBUG's switches parse this way)."""
    digits = re.match(rb"\s*[+-]?\d+", text)
    return int(digits.group()) if digits else 0


def _flag(attr: str) -> DebugHandler:
    """A 0/1 switch kept on the server (``DEBUG PAUSE-CRON 1`` and the like)."""

    def handler(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
        setattr(server, attr, _atoi(args[0]) != 0)
        return OK

    return handler


def _rdb_client_free_delay(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    server.rdb_client_free_delay = _atoi(args[0])
    return OK


def _accepted(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    """Tuning of Valkey's C internals (reply buffers, dict resizing, quicklist nodes) that
    valsync has no counterpart for: accepted, as the suite sets them before unrelated checks."""
    return OK


def _log(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    server.log.warning(f"DEBUG LOG: {args[0].decode('utf-8', 'replace')}")
    return OK


def _error(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    return ErrorReply(args[0].decode("utf-8", "replace"))


def _change_repl_id(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    """A fresh replid with replid2 cleared (Valkey's changeReplicationId + clearReplicationId2)."""
    if server.repl is not None:
        server.repl.ids.new_history(secrets.token_hex(20))
    server.log.notice("Changing replication IDs after receiving DEBUG change-repl-id")
    return OK


def _replicate(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    """Send an arbitrary command to the replicas only (to test their handling of bad input)."""
    server.propagate([Propagated(ctx.client.db, list(args))])
    return OK


def _htstats(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    """Key counts per table; valsync's tables are Python dicts, so no bucket statistics."""
    dbid = parse_int(args[0])
    if not 0 <= dbid < len(server.keyspace.dbs):
        raise CommandError("ERR Out of range database")
    db = server.keyspace.dbs[dbid]
    text = ""
    for title, table in (("Dictionary HT", db.data), ("Expires HT", db.expires)):
        text += f"[{title}]\n"
        if table:
            text += f"Hash table 0 stats (main hash table):\n number of entries: {len(table)}\n"
    return Verbatim(text.encode())


def _htstats_key(server: Server, ctx: CommandContext, args: list[bytes]) -> Reply:
    """Stats of a key's hash table: its element count and the power-of-two table size Valkey's
    dict would have; valsync's Python tables have no buckets to report, nor rehashing."""
    value = ctx.peek(args[0])
    if value is None:
        raise CommandError(NO_SUCH_KEY)
    limits = encoding_limits(ctx)
    hashed = (isinstance(value, set) and set_encoding(value, limits) == "hashtable") or (
        isinstance(value, ZSetValue) and zset_is_skiplist(value, limits)
    )
    if not hashed:
        raise CommandError(
            "ERR The value stored at the specified key is not represented using an hash table"
        )
    assert isinstance(value, (set, ZSetValue))
    size = 4
    while size < len(value):
        size *= 2
    text = (
        "[Dictionary HT]\nHash table 0 stats (main hash table):\n"
        f" table size: {size}\n number of elements: {len(value)}\n"
    )
    return Verbatim(text.encode())


DEBUG_SUBCOMMANDS: dict[bytes, tuple[DebugHandler, int]] = {
    b"protocol": (_protocol, 1),
    b"log": (_log, 1),
    b"error": (_error, 1),
    b"pause-cron": (_flag("cron_paused"), 1),
    b"set-skip-checksum-validation": (_flag("skip_checksum_validation"), 1),
    b"set-disable-deny-scripts": (_flag("scripts_may_run_noscript"), 1),
    b"pause-after-fork": (_flag("debug_pause_after_fork"), 1),
    b"delay-rdb-client-free-seconds": (_rdb_client_free_delay, 1),
    b"change-repl-id": (_change_repl_id, 0),
    b"replicate": (_replicate, -1),
    b"htstats": (_htstats, -1),
    b"htstats-key": (_htstats_key, -1),
    b"quicklist-packed-threshold": (_accepted, 1),
    b"replybuffer": (_accepted, 2),
    b"dict-resizing": (_accepted, 1),
    b"client-enforce-reply-list": (_accepted, 1),
}


def lookup_debug_subcommand(argv: list[bytes]) -> DebugHandler | None:
    """The handler of ``DEBUG <sub> ...`` when ``sub`` is one of these with its arity."""
    entry = DEBUG_SUBCOMMANDS.get(argv[1].lower())
    if entry is None:
        return None
    handler, arity = entry
    given = len(argv) - 2
    if given != arity if arity >= 0 else given < -arity:
        return None
    return handler
