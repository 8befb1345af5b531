"""Stream commands (Valkey's ``t_stream.c``): XADD, XRANGE, XREAD, consumer groups, XINFO.

Propagation follows Valkey's rewrites, which keep replicas deterministic:

1. XADD with ``*`` or ``ms-*`` propagates the generated ID; an approximate trim (``~``) is
   propagated as the exact result: ``MAXLEN = <length after>`` or ``MINID = <first ID>``.
2. XTRIM ``~`` is rewritten the same way, and only when it removed something.
3. XREADGROUP is never propagated itself: each entry it adds to a PEL goes as
   ``XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last``, then the
   group's position as ``XGROUP SETID key group last ENTRIESREAD n``; with NOACK a new consumer
   goes as ``XGROUP CREATECONSUMER``.
4. XCLAIM and XAUTOCLAIM propagate one such XCLAIM per entry they claimed or dropped from the
   PEL (a dropped entry no longer exists, and the FORCE XCLAIM drops it on the replica too).
"""

from __future__ import annotations

from valsync.commands.context import BlockRequest, CommandContext
from valsync.commands.errors import (
    NO_SUCH_KEY,
    SYNTAX,
    CommandError,
    parse_int,
    wrong_arity,
)
from valsync.commands.registry import command
from valsync.keyspace.stream import (
    ENTRIES_READ_INVALID,
    MAX_ID,
    MIN_ID,
    U64_MAX,
    Consumer,
    ConsumerGroup,
    PendingEntry,
    StreamEntry,
    StreamError,
    StreamID,
    StreamValue,
    decr_id,
    format_id,
    incr_id,
)
from valsync.resp.reply import NULL_ARRAY, OK, MapReply, Reply, SimpleString

INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
TIMEOUT_NOT_INT = "ERR timeout is not an integer or out of range"
_LLONG_MAX = (1 << 63) - 1
_ID_ARG_MAX = 127

# --- IDs -------------------------------------------------------------------------------------


def _strtoull(text: bytes) -> int | None:
    """C's ``strtoull`` as Valkey's ``string2ull`` falls back to it: leading space, a sign,
    digits to the end; a minus wraps around; out of range fails."""
    i, n = 0, len(text)
    while i < n and text[i] in b" \t\n\v\f\r":
        i += 1
    neg = False
    if i < n and text[i] in b"+-":
        neg = text[i] == 0x2D
        i += 1
    digits = text[i:]
    if not digits or not digits.isdigit() or not digits.isascii():
        return None
    value = int(digits)
    if value > U64_MAX:
        return None
    return (-value) & U64_MAX if neg else value


def _string2ull(text: bytes) -> int | None:
    if not text:
        return None
    try:
        value = parse_int(text)
    except CommandError:
        return _strtoull(text)
    return value if value >= 0 else None


def parse_id(
    arg: bytes, missing_seq: int = 0, strict: bool = False, seq_star: bool = False
) -> tuple[StreamID, bool]:
    """``streamGenericParseIDOrReply``: ``ms-seq``, ``ms`` (seq = ``missing_seq``), ``-``/``+``
    unless ``strict``, ``ms-*`` with ``seq_star``. Returns the ID and whether seq was given."""
    if len(arg) > _ID_ARG_MAX:
        raise CommandError(INVALID_ID)
    nul = arg.find(b"\x00")
    text = arg if nul < 0 else arg[:nul]
    if text in (b"-", b"+"):
        if strict:
            raise CommandError(INVALID_ID)
        return (MIN_ID if text == b"-" else MAX_ID), True
    dash = text.find(b"-")
    head = text if dash < 0 else text[:dash]
    ms = _string2ull(head)
    if ms is None:
        raise CommandError(INVALID_ID)
    if dash < 0:
        return (ms, missing_seq), True
    tail = text[dash + 1 :]
    if seq_star and tail == b"*":
        return (ms, 0), False
    seq = _string2ull(tail)
    if seq is None:
        raise CommandError(INVALID_ID)
    return (ms, seq), True


def _strict_id(arg: bytes) -> StreamID:
    return parse_id(arg, strict=True)[0]


def _interval_id(arg: bytes, missing_seq: int, start: bool) -> StreamID:
    """A range bound; ``(`` makes it exclusive (parsed strictly, then stepped inwards)."""
    if len(arg) > 1 and arg[0] == 0x28:
        sid = parse_id(arg[1:], missing_seq, strict=True)[0]
        stepped = incr_id(sid) if start else decr_id(sid)
        if stepped is None:
            which = "start" if start else "end"
            raise CommandError(f"ERR invalid {which} ID for the interval")
        return stepped
    return parse_id(arg, missing_seq)[0]


# --- shared mechanics ------------------------------------------------------------------------


def _stream(ctx: CommandContext, key: bytes, read: bool = False) -> StreamValue | None:
    return ctx.lookup_typed(key, StreamValue, read=read)


def entry_reply(e: StreamEntry) -> Reply:
    pairs: list[Reply] = list(e.pairs())
    return [format_id(e.id), pairs]


def _range(
    s: StreamValue, start: StreamID, end: StreamID, count: int, rev: bool = False
) -> list[Reply]:
    out: list[Reply] = []
    for e in s.entries(start, end, rev):
        out.append(entry_reply(e))
        if count and len(out) == count:
            break
    return out


def _ll(arg: bytes, error: str | None = None) -> int:
    return parse_int(arg) if error is None else parse_int(arg, error)


def _help(cmd: str, lines: list[str]) -> Reply:
    head = f"{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [SimpleString(x) for x in [head, *lines, "HELP", "    Print this help."]]


def _subcommand_syntax(argv: list[bytes]) -> CommandError:
    return CommandError(
        "ERR unknown subcommand or wrong number of arguments for "
        f"'{argv[1].decode('utf-8', 'replace')[:128]}'. "
        f"Try {argv[0].decode('utf-8', 'replace').upper()} HELP."
    )


def _check_subcommand(argv: list[bytes], cmd: str, arities: dict[bytes, int]) -> bytes:
    sub = argv[1].lower()
    arity = arities.get(sub)
    if arity is None:
        raise CommandError(
            f"ERR unknown subcommand '{argv[1].decode('utf-8', 'replace')[:128]}'. "
            f"Try {cmd.upper()} HELP."
        )
    if (arity > 0 and len(argv) != arity) or (arity < 0 and len(argv) < -arity):
        raise CommandError(wrong_arity(f"{cmd}|{sub.decode('latin-1')}"))
    return sub


# --- XADD / XTRIM ----------------------------------------------------------------------------


class _TrimArgs:
    __slots__ = (
        "maxlen",
        "minid",
        "approx",
        "limit",
        "arg_idx",
        "nomkstream",
        "id_idx",
        "use_id",
        "seq_given",
    )

    def __init__(self) -> None:
        self.use_id: StreamID | None = None
        self.seq_given = True
        self.maxlen: int | None = None
        self.minid: StreamID | None = None
        self.approx = False
        self.limit = 0
        self.arg_idx = 0
        self.nomkstream = False
        self.id_idx = 0

    @property
    def strategy(self) -> bool:
        return self.maxlen is not None or self.minid is not None


_BOTH_STRATEGIES = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"


def _parse_add_trim(ctx: CommandContext, argv: list[bytes], xadd: bool) -> _TrimArgs:
    """``streamParseAddOrTrimArgsOrReply``; for XADD, ``id_idx`` is where the ID is."""
    a = _TrimArgs()
    limit_given = False
    i = 2
    argc = len(argv)
    while i < argc:
        more = argc - 1 - i
        opt = argv[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if low in (b"maxlen", b"minid") and more:
            if a.strategy:
                raise CommandError(_BOTH_STRATEGIES)
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            if low == b"maxlen":
                n = _ll(argv[i + 1])
                if n < 0:
                    raise CommandError("ERR The MAXLEN argument must be >= 0.")
                a.maxlen = n
            else:
                a.minid = _strict_id(argv[i + 1])
            i += 1
            a.arg_idx = i
        elif low == b"limit" and more:
            a.limit = _ll(argv[i + 1])
            if a.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and low == b"nomkstream":
            a.nomkstream = True
        elif xadd:
            a.use_id, a.seq_given = parse_id(opt, strict=True, seq_star=True)
            break
        else:
            raise CommandError(SYNTAX)
        i += 1
    a.id_idx = i
    if a.limit and not a.strategy:
        raise CommandError(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and not a.strategy:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if ctx.client.is_primary_link:
        a.limit = 0
    elif limit_given:
        if not a.approx:
            raise CommandError(
                "ERR syntax error, LIMIT cannot be used without the special ~ option"
            )
    elif a.approx:
        a.limit = min(max(100 * StreamValue.node_max_entries, 0) or 10000, 1000000)
    else:
        a.limit = 0
    return a


def _rewrite_trim(argv: list[bytes], s: StreamValue, a: _TrimArgs) -> None:
    """``~`` becomes ``=`` and the bound becomes what the trim left (``streamRewrite*``)."""
    argv[a.arg_idx - 1] = b"="
    if a.maxlen is not None:
        argv[a.arg_idx] = b"%d" % s.length
    else:
        argv[a.arg_idx] = format_id(s.edge_id(True, False))


@command("xadd", -5, "write denyoom fast", 1, 1, 1)
def xadd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    a = _parse_add_trim(ctx, argv, True)
    idx = a.id_idx
    use_id, seq_given = a.use_id, a.seq_given
    nfields = len(argv) - idx - 1
    if nfields < 2 or nfields % 2:
        raise CommandError(wrong_arity("xadd"))
    if use_id == MIN_ID and seq_given:
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    key = argv[1]
    s = _stream(ctx, key)
    if s is None:
        if a.nomkstream:
            return None
        s = StreamValue()
        ctx.db.set(key, s)
        created = True
    else:
        created = False
    if s.last_id == MAX_ID:
        raise CommandError(
            "ERR The stream has exhausted the last possible ID, unable to add more items"
        )
    try:
        sid = s.next_id(use_id, seq_given, ctx.now_ms)
        s.append(sid, argv[idx + 1 :])
    except StreamError as err:
        if created:
            ctx.db.delete(key)
        if err.kind == "id":
            raise CommandError(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item"
            ) from None
        raise CommandError("ERR Elements are too large to be stored") from None
    reply = format_id(sid)
    ctx.notify("t", "xadd", key)
    ctx.dirty += 1
    out = list(argv)
    if a.strategy:
        if s.trim(a.maxlen, a.minid, a.approx, a.limit):
            ctx.notify("t", "xtrim", key)
        if a.approx:
            _rewrite_trim(out, s, a)
    if use_id is None or not seq_given:
        out[idx] = reply
    if out != argv:
        ctx.rewrite(out)
    ctx.db.modified(key)
    return reply


@command("xtrim", -4, "write", 1, 1, 1)
def xtrim(ctx: CommandContext, argv: list[bytes]) -> Reply:
    a = _parse_add_trim(ctx, argv, False)
    key = argv[1]
    s = _stream(ctx, key)
    if s is None:
        return 0
    deleted = s.trim(a.maxlen, a.minid, a.approx, a.limit)
    if deleted:
        ctx.notify("t", "xtrim", key)
        if a.approx:
            out = list(argv)
            _rewrite_trim(out, s, a)
            ctx.rewrite(out)
        ctx.db.modified(key)
        ctx.dirty += deleted
    return deleted


# --- reading ---------------------------------------------------------------------------------


def _xrange(ctx: CommandContext, argv: list[bytes], rev: bool) -> Reply:
    start_arg, end_arg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start = _interval_id(start_arg, 0, True)
    end = _interval_id(end_arg, U64_MAX, False)
    count = -1
    j = 4
    while j < len(argv):
        if argv[j].lower() == b"count" and j + 1 < len(argv):
            count = max(_ll(argv[j + 1]), 0)
            j += 2
        else:
            raise CommandError(SYNTAX)
    s = _stream(ctx, argv[1], read=True)
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _range(s, start, end, max(count, 0), rev)


@command("xrange", -4, "readonly", 1, 1, 1)
def xrange(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _xrange(ctx, argv, False)


@command("xrevrange", -4, "readonly", 1, 1, 1)
def xrevrange(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _xrange(ctx, argv, True)


@command("xlen", 2, "readonly fast", 1, 1, 1)
def xlen(ctx: CommandContext, argv: list[bytes]) -> Reply:
    s = _stream(ctx, argv[1], read=True)
    return 0 if s is None else s.length


@command("xdel", -3, "write fast", 1, 1, 1)
def xdel(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    s = _stream(ctx, key)
    if s is None:
        return 0
    ids = [_strict_id(a) for a in argv[2:]]
    deleted = 0
    first_gone = False
    for sid in ids:
        if s.delete(sid):
            if sid == s.first_id:
                first_gone = True
            if sid > s.max_deleted_id:
                s.max_deleted_id = sid
            deleted += 1
    if deleted:
        if s.length == 0:
            s.first_id = MIN_ID
        elif first_gone:
            s.first_id = s.edge_id(True, True)
        ctx.db.modified(key)
        ctx.notify("t", "xdel", key)
        ctx.dirty += deleted
    return deleted


# --- XREAD / XREADGROUP ----------------------------------------------------------------------

_BLOCK_DEADLINE = "stream_block_deadline"


def _propagate_xclaim(
    ctx: CommandContext,
    key: bytes,
    group: ConsumerGroup,
    groupname: bytes,
    id_arg: bytes,
    nack: PendingEntry,
) -> None:
    assert nack.consumer is not None
    ctx.also_propagate(
        [
            b"XCLAIM",
            key,
            groupname,
            nack.consumer.name,
            b"0",
            id_arg,
            b"TIME",
            b"%d" % nack.delivery_time,
            b"RETRYCOUNT",
            b"%d" % nack.delivery_count,
            b"FORCE",
            b"JUSTID",
            b"LASTID",
            format_id(group.last_id),
        ]
    )


def _propagate_group_id(
    ctx: CommandContext, key: bytes, group: ConsumerGroup, groupname: bytes
) -> None:
    ctx.also_propagate(
        [
            b"XGROUP",
            b"SETID",
            key,
            groupname,
            format_id(group.last_id),
            b"ENTRIESREAD",
            b"%d" % group.entries_read,
        ]
    )


def _create_consumer(
    ctx: CommandContext, group: ConsumerGroup, name: bytes, key: bytes
) -> Consumer:
    """``streamCreateConsumer`` with notification and dirty (SCC_DEFAULT)."""
    consumer = group.create_consumer(name, ctx.now_ms)
    ctx.dirty += 1
    ctx.notify("t", "xgroup-createconsumer", key)
    return consumer


def _serve_group(
    ctx: CommandContext,
    s: StreamValue,
    key: bytes,
    groupname: bytes,
    group: ConsumerGroup,
    consumer: Consumer,
    start: StreamID,
    count: int,
    noack: bool,
) -> list[Reply]:
    """``streamReplyWithRange`` with a group: new entries move the group forward and enter
    the PELs, each propagated as an XCLAIM, then the group position as XGROUP SETID."""
    out: list[Reply] = []
    moved = False
    now = ctx.now_ms
    for e in s.entries(start):
        sid = e.id
        if sid > group.last_id:
            if group.entries_read != ENTRIES_READ_INVALID and not s.range_has_tombstones(sid, None):
                group.entries_read += 1
            elif s.entries_added:
                group.entries_read = s.estimate_distance(sid)
            group.last_id = sid
            moved = True
        out.append(entry_reply(e))
        if not noack:
            nack: PendingEntry | None = group.pel.get(sid)
            if nack is None:
                nack = PendingEntry(now, consumer)
                group.pel[sid] = nack
                consumer.pel[sid] = nack
            else:
                if nack.consumer is not None:
                    nack.consumer.pel.pop(sid, None)
                nack.consumer = consumer
                nack.delivery_time = now
                nack.delivery_count = 1
                consumer.pel[sid] = nack
            consumer.active_time = now
            _propagate_xclaim(ctx, key, group, groupname, format_id(sid), nack)
        if count and len(out) == count:
            break
    if moved:
        _propagate_group_id(ctx, key, group, groupname)
    return out


def _serve_history(
    ctx: CommandContext, s: StreamValue, consumer: Consumer, start: StreamID, count: int
) -> list[Reply]:
    """``streamReplyWithRangeFromConsumerPEL``: the consumer's own pending entries."""
    out: list[Reply] = []
    for sid in list(consumer.pel.irange(start)):
        if count and len(out) >= count:
            break
        e = s.get(sid)
        if e is None:
            out.append([format_id(sid), NULL_ARRAY])
        else:
            out.append(entry_reply(e))
            nack: PendingEntry = consumer.pel[sid]
            nack.delivery_time = ctx.now_ms
            nack.delivery_count += 1
    return out


def _xread(ctx: CommandContext, argv: list[bytes], xreadgroup: bool) -> Reply | BlockRequest:
    timeout = -1
    count = 0
    streams_arg = 0
    nstreams = 0
    noack = False
    groupname: bytes | None = None
    consumername = b""
    argc = len(argv)
    i = 1
    name = "XREADGROUP" if xreadgroup else "XREAD"
    while i < argc:
        more = argc - i - 1
        low = argv[i].lower()
        if low == b"block" and more:
            i += 1
            timeout = _ll(argv[i], TIMEOUT_NOT_INT)
            if timeout < 0:
                raise CommandError("ERR timeout is negative")
            if timeout > 0:
                if timeout > _LLONG_MAX - ctx.now_ms:
                    raise CommandError("ERR timeout is out of range")
                timeout += ctx.now_ms
        elif low == b"count" and more:
            i += 1
            count = max(_ll(argv[i]), 0)
        elif low == b"streams" and more:
            streams_arg = i + 1
            nstreams = argc - streams_arg
            if nstreams % 2:
                symbol = ">" if xreadgroup else "$"
                raise CommandError(
                    f"ERR Unbalanced '{name.lower()}' list of streams: for each stream key an "
                    f"ID or '{symbol}' must be specified."
                )
            nstreams //= 2
            break
        elif low == b"group" and more >= 2:
            if not xreadgroup:
                raise CommandError(
                    "ERR The GROUP option is only supported by XREADGROUP. "
                    "You called XREAD instead."
                )
            groupname, consumername = argv[i + 1], argv[i + 2]
            i += 2
        elif low == b"noack":
            if not xreadgroup:
                raise CommandError(
                    "ERR The NOACK option is only supported by XREADGROUP. "
                    "You called XREAD instead."
                )
            noack = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    if streams_arg == 0:
        raise CommandError(SYNTAX)
    if xreadgroup and groupname is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    keys = argv[streams_arg : streams_arg + nstreams]
    ids: list[StreamID] = []
    groups: list[ConsumerGroup] = []
    for n, key in enumerate(keys):
        arg = argv[streams_arg + nstreams + n]
        s = _stream(ctx, key)
        if groupname is not None:
            found = s.groups.get(groupname) if s is not None else None
            if found is None:
                raise CommandError(
                    f"NOGROUP No such key '{key.decode('utf-8', 'replace')}' or consumer group "
                    f"'{groupname.decode('utf-8', 'replace')}' in XREADGROUP with GROUP option"
                )
            groups.append(found)
        if arg in (b"$", b"+"):
            if xreadgroup:
                raise CommandError(
                    f"ERR The {arg.decode()} ID is meaningless in the context of XREADGROUP: you "
                    "want to read the history of this consumer by specifying a proper ID, or "
                    f"use the > ID to get new messages. The {arg.decode()} ID would just "
                    "return an empty result set."
                )
            if s is None:
                ids.append(MIN_ID)
            elif arg == b"$":
                ids.append(s.last_id)
            else:
                before = decr_id(s.last_id)
                if before is None:
                    raise CommandError("ERR the stream last element ID is 0-0")
                ids.append(before)
        elif arg == b">":
            if not xreadgroup:
                raise CommandError(
                    "ERR The > ID can be specified only when calling XREADGROUP using the "
                    "GROUP <group> <consumer> option."
                )
            ids.append(MAX_ID)
        else:
            ids.append(_strict_id(arg))
    served: list[tuple[bytes, Reply]] = []
    for n, key in enumerate(keys):
        s = _stream(ctx, key)
        if s is None:
            continue
        gt = ids[n]
        serve = history = False
        if groupname is not None:
            group = groups[n]
            if gt != MAX_ID:
                serve = history = True
            elif s.length and s.last_valid_id() > group.last_id:
                serve = True
                gt = group.last_id
            consumer = group.consumers.get(consumername)
            if consumer is None:
                consumer = _create_consumer(ctx, group, consumername, key)
                if noack:
                    ctx.also_propagate([b"XGROUP", b"CREATECONSUMER", key, groupname, consumername])
            consumer.seen_time = ctx.now_ms
        elif s.length and s.last_valid_id() > gt:
            serve = True
        if not serve:
            continue
        start = incr_id(gt) or MIN_ID
        if groupname is None:
            entries = _range(s, start, MAX_ID, count)
        elif history:
            entries = _serve_history(ctx, s, consumer, start, count)
        else:
            entries = _serve_group(ctx, s, key, groupname, group, consumer, start, count, noack)
        if groupname is not None:
            ctx.dirty += 1
        served.append((key, entries))
    ctx.prevent_propagation()
    if served:
        ctx.client.extra.pop(_BLOCK_DEADLINE, None)
        if ctx.client.resp == 2:
            return [[k, v] for k, v in served]
        return MapReply([(k, v) for k, v in served])
    if timeout == -1 or ctx.in_multi_exec or ctx.client.in_multi:
        return NULL_ARRAY
    for n in range(nstreams):
        if argv[streams_arg + nstreams + n] == b"$":
            argv[streams_arg + nstreams + n] = format_id(ids[n])
    extra = ctx.client.extra
    deadline = None if timeout == 0 else timeout
    if extra.get("unblocked_rerun") and _BLOCK_DEADLINE in extra:
        deadline = extra[_BLOCK_DEADLINE]
    extra[_BLOCK_DEADLINE] = deadline
    return BlockRequest(keys=tuple(keys), deadline_ms=deadline, timeout_reply=NULL_ARRAY)


def _still_blocked(ctx: CommandContext, argv: list[bytes], xreadgroup: bool) -> bool:
    """On a re-run after a wake-up, XREAD stays blocked until a key holds a stream (Valkey
    does not wake it otherwise); XREADGROUP is woken by any change, even a deletion."""
    if xreadgroup or not ctx.client.extra.get("unblocked_rerun"):
        return False
    try:
        at = [a.lower() for a in argv].index(b"streams") + 1
    except ValueError:
        return False
    keys = argv[at : at + (len(argv) - at) // 2]
    db = ctx.db
    return not any(
        isinstance(db.data.get(k), StreamValue) and not db.is_expired(k, ctx.now_ms) for k in keys
    )


@command("xread", -4, "readonly blocking", 0, 0, 0)
def xread(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    if _still_blocked(ctx, argv, False):
        deadline = ctx.client.extra.get(_BLOCK_DEADLINE)
        at = [a.lower() for a in argv].index(b"streams") + 1
        keys = argv[at : at + (len(argv) - at) // 2]
        return BlockRequest(keys=tuple(keys), deadline_ms=deadline, timeout_reply=NULL_ARRAY)
    return _xread(ctx, argv, False)


@command("xreadgroup", -7, "write blocking", 0, 0, 0)
def xreadgroup(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    return _xread(ctx, argv, True)


# --- consumer groups -------------------------------------------------------------------------

XGROUP_SUBCOMMANDS = {
    b"create": -5,
    b"createconsumer": 5,
    b"delconsumer": 5,
    b"destroy": 4,
    b"help": 2,
    b"setid": -5,
}
XGROUP_HELP = [
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
]


def _no_group(groupname: bytes, key: bytes) -> CommandError:
    return CommandError(
        f"NOGROUP No such consumer group '{groupname.decode('utf-8', 'replace')}' "
        f"for key name '{key.decode('utf-8', 'replace')}'"
    )


@command("xgroup", -2, "write denyoom", 0, 0, 0)
def xgroup(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = _check_subcommand(argv, "xgroup", XGROUP_SUBCOMMANDS)
    argc = len(argv)
    mkstream = False
    entries_read = ENTRIES_READ_INVALID
    s: StreamValue | None = None
    group: ConsumerGroup | None = None
    if argc >= 4:
        i = 5
        while i < argc:
            low = argv[i].lower()
            if sub == b"create" and low == b"mkstream":
                mkstream = True
                i += 1
            elif sub in (b"create", b"setid") and low == b"entriesread" and i + 1 < argc:
                entries_read = _ll(argv[i + 1])
                if entries_read < 0 and entries_read != ENTRIES_READ_INVALID:
                    raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
                i += 2
            else:
                raise _subcommand_syntax(argv)
        s = _stream(ctx, argv[2])
    key = argv[2] if argc >= 3 else b""
    groupname = argv[3] if argc >= 4 else b""
    if argc >= 4 and not mkstream:
        if s is None:
            raise CommandError(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you "
                "may want to use the MKSTREAM option to create an empty stream automatically."
            )
        group = s.groups.get(groupname)
        if group is None and sub in (b"setid", b"createconsumer", b"delconsumer"):
            raise _no_group(groupname, key)
    if sub == b"help" and argc == 2:
        return _help("XGROUP", XGROUP_HELP)
    if sub == b"create" and 5 <= argc <= 8:
        if argv[4] == b"$":
            sid = s.last_id if s is not None else MIN_ID
        else:
            sid = _strict_id(argv[4])
        if s is None:
            s = StreamValue()
            ctx.db.set(key, s)
        if groupname in s.groups:
            raise CommandError("BUSYGROUP Consumer Group name already exists")
        s.groups[groupname] = ConsumerGroup(sid, entries_read)
        ctx.dirty += 1
        ctx.notify("t", "xgroup-create", key)
        return OK
    if sub == b"setid" and argc in (5, 7):
        assert s is not None and group is not None
        sid = s.last_id if argv[4] == b"$" else parse_id(argv[4])[0]
        group.last_id = sid
        group.entries_read = entries_read
        ctx.dirty += 1
        ctx.notify("t", "xgroup-setid", key)
        return OK
    if sub == b"destroy" and argc == 4:
        assert s is not None
        if group is None:
            return 0
        del s.groups[groupname]
        ctx.dirty += 1
        ctx.notify("t", "xgroup-destroy", key)
        ctx.db.modified(key)
        return 1
    if sub == b"createconsumer" and argc == 5:
        assert group is not None
        if argv[4] in group.consumers:
            return 0
        _create_consumer(ctx, group, argv[4], key)
        return 1
    if sub == b"delconsumer" and argc == 5:
        assert group is not None
        consumer = group.consumers.get(argv[4])
        if consumer is None:
            return 0
        pending = group.delete_consumer(consumer)
        ctx.dirty += 1
        ctx.notify("t", "xgroup-delconsumer", key)
        return pending
    raise _subcommand_syntax(argv)


@command("xsetid", -3, "write denyoom fast", 1, 1, 1)
def xsetid(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sid = _strict_id(argv[2])
    max_xdel = MIN_ID
    entries_added = -1
    i = 3
    while i < len(argv):
        more = len(argv) - 1 - i
        low = argv[i].lower()
        if low == b"entriesadded" and more:
            entries_added = _ll(argv[i + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
        elif low == b"maxdeletedid" and more:
            max_xdel = _strict_id(argv[i + 1])
            if sid < max_xdel:
                raise CommandError(
                    "ERR The ID specified in XSETID is smaller than the provided "
                    "max_deleted_entry_id"
                )
        else:
            raise CommandError(SYNTAX)
        i += 2
    s = _stream(ctx, argv[1])
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    if sid < s.max_deleted_id:
        raise CommandError(
            "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"
        )
    if s.length > 0:
        if sid < s.last_valid_id():
            raise CommandError(
                "ERR The ID specified in XSETID is smaller than the target stream top item"
            )
        if entries_added != -1 and s.length > entries_added:
            raise CommandError(
                "ERR The entries_added specified in XSETID is smaller than the target stream length"
            )
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel != MIN_ID:
        s.max_deleted_id = max_xdel
    ctx.dirty += 1
    ctx.notify("t", "xsetid", argv[1])
    return OK


@command("xack", -4, "write fast", 1, 1, 1)
def xack(ctx: CommandContext, argv: list[bytes]) -> Reply:
    s = _stream(ctx, argv[1])
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        return 0
    ids = [_strict_id(a) for a in argv[3:]]
    acked = 0
    for sid in ids:
        if group.ack(sid):
            acked += 1
            ctx.dirty += 1
    return acked


@command("xpending", -3, "readonly", 1, 1, 1)
def xpending(ctx: CommandContext, argv: list[bytes]) -> Reply:
    argc = len(argv)
    if argc != 3 and (argc < 6 or argc > 9):
        raise CommandError(SYNTAX)
    minidle = 0
    count = 0
    start, end = MIN_ID, MAX_ID
    consumername: bytes | None = None
    if argc >= 6:
        at = 3
        if argv[3].lower() == b"idle":
            minidle = _ll(argv[4])
            if argc < 8:
                raise CommandError(SYNTAX)
            at += 2
        count = max(_ll(argv[at + 2]), 0)
        start = _interval_id(argv[at], 0, True)
        end = _interval_id(argv[at + 1], U64_MAX, False)
        if at + 3 < argc:
            consumername = argv[at + 3]
    key, groupname = argv[1], argv[2]
    s = _stream(ctx, key, read=True)
    group = s.groups.get(groupname) if s is not None else None
    if group is None:
        raise CommandError(
            f"NOGROUP No such key '{key.decode('utf-8', 'replace')}' or consumer group "
            f"'{groupname.decode('utf-8', 'replace')}'"
        )
    if argc == 3:
        if not group.pel:
            return [0, None, None, NULL_ARRAY]
        owners: list[Reply] = [
            [name, b"%d" % len(c.pel)] for name, c in group.consumers.items() if c.pel
        ]
        return [
            len(group.pel),
            format_id(group.pel.peekitem(0)[0]),
            format_id(group.pel.peekitem(-1)[0]),
            owners,
        ]
    pel = group.pel
    if consumername is not None:
        consumer = group.consumers.get(consumername)
        if consumer is None:
            return []
        pel = consumer.pel
    now = ctx.now_ms
    out: list[Reply] = []
    if not count:
        return out
    for sid in pel.irange(start, end):
        nack: PendingEntry = pel[sid]
        if minidle and now - nack.delivery_time < minidle:
            continue
        assert nack.consumer is not None
        out.append(
            [
                format_id(sid),
                nack.consumer.name,
                max(now - nack.delivery_time, 0),
                nack.delivery_count,
            ]
        )
        if len(out) == count:
            break
    return out


def _no_key_or_group(key: bytes, groupname: bytes) -> CommandError:
    return CommandError(
        f"NOGROUP No such key '{key.decode('utf-8', 'replace')}' or consumer group "
        f"'{groupname.decode('utf-8', 'replace')}'"
    )


def _claim_one(
    group: ConsumerGroup,
    consumer: Consumer,
    sid: StreamID,
    nack: PendingEntry,
    delivery_time: int,
    retrycount: int,
    justid: bool,
) -> None:
    if nack.consumer is not consumer:
        if nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
    nack.delivery_time = delivery_time
    if retrycount >= 0:
        nack.delivery_count = retrycount
    elif not justid:
        nack.delivery_count += 1
    if nack.consumer is not consumer:
        consumer.pel[sid] = nack
        nack.consumer = consumer


def _drop_pending(group: ConsumerGroup, sid: StreamID, nack: PendingEntry) -> None:
    del group.pel[sid]
    if nack.consumer is not None:
        nack.consumer.pel.pop(sid, None)


@command("xclaim", -6, "write fast", 1, 1, 1)
def xclaim(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key, groupname = argv[1], argv[2]
    s = _stream(ctx, key)
    group = s.groups.get(groupname) if s is not None else None
    if s is None or group is None:
        raise _no_key_or_group(key, groupname)
    minidle = max(_ll(argv[4], "ERR Invalid min-idle-time argument for XCLAIM"), 0)
    ids: list[StreamID] = []
    j = 5
    while j < len(argv):
        try:
            ids.append(_strict_id(argv[j]))
        except CommandError:
            break
        j += 1
    last_id_arg = j - 1
    now = ctx.now_ms
    force = justid = False
    delivery_time = -1
    retrycount = -1
    last_id = MIN_ID
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j]
        low = opt.lower()
        if low == b"force":
            force = True
        elif low == b"justid":
            justid = True
        elif low == b"idle" and more:
            j += 1
            delivery_time = now - _ll(argv[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif low == b"time" and more:
            j += 1
            delivery_time = _ll(argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif low == b"retrycount" and more:
            j += 1
            retrycount = _ll(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif low == b"lastid" and more:
            j += 1
            last_id = _strict_id(argv[j])
        else:
            raise CommandError(f"ERR Unrecognized XCLAIM option '{opt.decode('utf-8', 'replace')}'")
        j += 1
    propagate_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
    if delivery_time != -1:
        if delivery_time < 0 or delivery_time > now:
            delivery_time = now
    else:
        delivery_time = now
    consumer = group.consumers.get(argv[3])
    if consumer is None:
        consumer = _create_consumer(ctx, group, argv[3], key)
    consumer.seen_time = now
    out: list[Reply] = []
    for n in range(5, last_id_arg + 1):
        sid = ids[n - 5]
        nack: PendingEntry | None = group.pel.get(sid)
        entry = s.get(sid)
        if entry is None:
            if nack is not None:
                _propagate_xclaim(ctx, key, group, groupname, argv[n], nack)
                propagate_last_id = False
                ctx.dirty += 1
                _drop_pending(group, sid, nack)
            continue
        if force and nack is None:
            nack = PendingEntry(now, None)
            group.pel[sid] = nack
        if nack is None:
            continue
        if nack.consumer is not None and minidle and now - nack.delivery_time < minidle:
            continue
        _claim_one(group, consumer, sid, nack, delivery_time, retrycount, justid)
        out.append(format_id(sid) if justid else entry_reply(entry))
        consumer.active_time = now
        _propagate_xclaim(ctx, key, group, groupname, argv[n], nack)
        propagate_last_id = False
        ctx.dirty += 1
    if propagate_last_id:
        _propagate_group_id(ctx, key, group, groupname)
        ctx.dirty += 1
    ctx.prevent_propagation()
    return out


_AUTOCLAIM_ATTEMPTS = 10


@command("xautoclaim", -6, "write fast", 1, 1, 1)
def xautoclaim(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key, groupname = argv[1], argv[2]
    minidle = max(_ll(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = _interval_id(argv[5], 0, True)
    count = 100
    justid = False
    j = 6
    max_count = _LLONG_MAX // 16
    while j < len(argv):
        more = len(argv) - 1 - j
        low = argv[j].lower()
        if low == b"count" and more:
            try:
                count = parse_int(argv[j + 1])
            except CommandError:
                raise CommandError("ERR COUNT must be > 0") from None
            if count < 1 or count > max_count:
                raise CommandError("ERR COUNT must be > 0")
            j += 1
        elif low == b"justid":
            justid = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    s = _stream(ctx, key)
    group = s.groups.get(groupname) if s is not None else None
    if s is None or group is None:
        raise _no_key_or_group(key, groupname)
    consumer = group.consumers.get(argv[3])
    if consumer is None:
        consumer = _create_consumer(ctx, group, argv[3], key)
    now = ctx.now_ms
    consumer.seen_time = now
    attempts = count * _AUTOCLAIM_ATTEMPTS
    claimed: list[Reply] = []
    deleted: list[Reply] = []
    pel_ids = iter(list(group.pel.irange(start)))
    next_id: StreamID | None = None
    while True:
        sid = next(pel_ids, None)
        if sid is None:
            break
        if not (attempts and count):
            next_id = sid
            break
        attempts -= 1
        nack: PendingEntry = group.pel[sid]
        entry = s.get(sid)
        if entry is None:
            _propagate_xclaim(ctx, key, group, groupname, format_id(sid), nack)
            ctx.dirty += 1
            _drop_pending(group, sid, nack)
            deleted.append(format_id(sid))
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        _claim_one(group, consumer, sid, nack, now, -1, justid)
        claimed.append(format_id(sid) if justid else entry_reply(entry))
        count -= 1
        consumer.active_time = now
        _propagate_xclaim(ctx, key, group, groupname, format_id(sid), nack)
        ctx.dirty += 1
    ctx.prevent_propagation()
    return [format_id(next_id or MIN_ID), claimed, deleted]


# --- XINFO -----------------------------------------------------------------------------------

XINFO_SUBCOMMANDS = {b"consumers": 4, b"groups": 3, b"help": 2, b"stream": -3}
XINFO_HELP = [
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
]


def _opt_count(value: int) -> Reply:
    return None if value == ENTRIES_READ_INVALID else value


def _xinfo_stream(s: StreamValue, argv: list[bytes]) -> Reply:
    opts = argv[3:]
    full = bool(opts)
    count = 10
    if opts:
        if len(opts) not in (1, 3) or opts[0].lower() != b"full":
            raise _subcommand_syntax(argv)
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise _subcommand_syntax(argv)
            count = _ll(opts[2])
            if count < 0:
                count = 10
    pairs: list[tuple[Reply, Reply]] = [
        (b"length", s.length),
        (b"radix-tree-keys", len(s.nodes)),
        (b"radix-tree-nodes", s.rax_nodes()),
        (b"last-generated-id", format_id(s.last_id)),
        (b"max-deleted-entry-id", format_id(s.max_deleted_id)),
        (b"entries-added", s.entries_added),
        (b"recorded-first-entry-id", format_id(s.first_id)),
    ]
    if not full:
        first = next(iter(s.entries()), None)
        last = next(iter(s.entries(rev=True)), None)
        pairs.append((b"groups", len(s.groups)))
        pairs.append((b"first-entry", entry_reply(first) if first is not None else None))
        pairs.append((b"last-entry", entry_reply(last) if last is not None else None))
        return MapReply(pairs)
    pairs.append((b"entries", _range(s, MIN_ID, MAX_ID, count)))
    groups: list[Reply] = []
    for name, g in s.groups.items():
        pel: list[Reply] = []
        for sid, nack in g.pel.items():
            if count and len(pel) >= count:
                break
            assert nack.consumer is not None
            pel.append(
                [format_id(sid), nack.consumer.name, nack.delivery_time, nack.delivery_count]
            )
        consumers: list[Reply] = []
        for cname, c in g.consumers.items():
            cpel: list[Reply] = []
            for sid, nack in c.pel.items():
                if count and len(cpel) >= count:
                    break
                cpel.append([format_id(sid), nack.delivery_time, nack.delivery_count])
            consumers.append(
                MapReply(
                    [
                        (b"name", cname),
                        (b"seen-time", c.seen_time),
                        (b"active-time", c.active_time),
                        (b"pel-count", len(c.pel)),
                        (b"pending", cpel),
                    ]
                )
            )
        groups.append(
            MapReply(
                [
                    (b"name", name),
                    (b"last-delivered-id", format_id(g.last_id)),
                    (b"entries-read", _opt_count(g.entries_read)),
                    (b"lag", s.group_lag(g)),
                    (b"pel-count", len(g.pel)),
                    (b"pending", pel),
                    (b"consumers", consumers),
                ]
            )
        )
    pairs.append((b"groups", groups))
    return MapReply(pairs)


@command("xinfo", -2, "readonly", 0, 0, 0)
def xinfo(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = _check_subcommand(argv, "xinfo", XINFO_SUBCOMMANDS)
    if sub == b"help":
        return _help("XINFO", XINFO_HELP)
    key = argv[2]
    s = _stream(ctx, key, read=True)
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    if sub == b"consumers" and len(argv) == 4:
        group = s.groups.get(argv[3])
        if group is None:
            raise _no_group(argv[3], key)
        now = ctx.now_ms
        out: list[Reply] = []
        for name, c in group.consumers.items():
            inactive = now - c.active_time if c.active_time != -1 else -1
            out.append(
                MapReply(
                    [
                        (b"name", name),
                        (b"pending", len(c.pel)),
                        (b"idle", max(now - c.seen_time, 0)),
                        (b"inactive", inactive),
                    ]
                )
            )
        return out
    if sub == b"groups" and len(argv) == 3:
        return [
            MapReply(
                [
                    (b"name", name),
                    (b"consumers", len(g.consumers)),
                    (b"pending", len(g.pel)),
                    (b"last-delivered-id", format_id(g.last_id)),
                    (b"entries-read", _opt_count(g.entries_read)),
                    (b"lag", s.group_lag(g)),
                ]
            )
            for name, g in s.groups.items()
        ]
    if sub == b"stream":
        return _xinfo_stream(s, argv)
    raise _subcommand_syntax(argv)
