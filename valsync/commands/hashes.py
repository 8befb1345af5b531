"""Hash commands: Valkey 8.1's ``t_hash.c`` plus Valkey 9's per-field expiry, reply for reply.

A hash is a :class:`HashValue` (a dict, so small hashes iterate in insertion order like
Valkey's listpack) with ``field_expires`` holding per-field deadlines in unix ms.

Field expiry follows what valkey-server 9.1.2 does, observed on its replication stream:

* a field whose deadline passed is logically gone for every read (HGET, HGETALL, HEXISTS,
  HSTRLEN, HRANDFIELD, HSCAN...), but a read never deletes it nor propagates anything; only
  HLEN still counts it, until active expiry reclaims it;
* a write treats such a field as missing: HSET/HSETNX/HINCRBY create it afresh,
  HDEL/HGETDEL/HPERSIST ignore it;
* on a hash that has field TTLs, HSETNX and HINCRBY propagate as ``HSET key field value``
  (HINCRBYFLOAT always does), or ``HSETEX key PXAT <ms> FIELDS 1 f v`` when the field keeps
  its TTL;
* relative times propagate as ``HPEXPIREAT``/``HSETEX ... PXAT``; a deadline already past
  deletes the fields and propagates ``HDEL``; HGETEX PERSIST propagates ``HPERSIST``;
* HSETEX propagates without its NX/XX/FNX/FXX conditions (they held on the primary).

A replica applying its primary's stream (:attr:`ExpireMode.KEEP`) sees every stored field as
live and never deletes on a past deadline, since its primary already decided.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from valsync.commands.context import CommandContext, ExpireMode
from valsync.commands.errors import (
    INVALID_EXPIRE,
    NAN_OR_INF,
    NUMFIELDS,
    OVERFLOW,
    SYNTAX,
    CommandError,
    parse_int,
    wrong_arity,
)
from valsync.commands.registry import command
from valsync.commands.sets import parse_cursor, parse_scan_options, scan_members, stringmatch
from valsync.commands.strings import (
    _LongDoubleInf,
    format_long_double,
    parse_long_double,
    round_long_double,
)
from valsync.keyspace.database import Database
from valsync.keyspace.values import HashValue
from valsync.resp.reply import OK, MapReply, Reply

LONG_MAX = 2**63 - 1
INT64_MIN = -(2**63)
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"


# --- field liveness -------------------------------------------------------------------------


def _alive(ctx: CommandContext, h: HashValue, f: bytes) -> bool:
    if f not in h:
        return False
    when = h.field_expires.get(f)
    if when is None or ctx.expire_mode is ExpireMode.KEEP:
        return True
    return when > ctx.now_ms


def _get(ctx: CommandContext, h: HashValue | None, f: bytes) -> bytes | None:
    if h is None or not _alive(ctx, h, f):
        return None
    return h[f]


def _live_items(ctx: CommandContext, h: HashValue) -> Iterator[tuple[bytes, bytes]]:
    if not h.field_expires or ctx.expire_mode is ExpireMode.KEEP:
        yield from h.items()
        return
    now, exp = ctx.now_ms, h.field_expires
    for f, v in h.items():
        when = exp.get(f)
        if when is None or when > now:
            yield f, v


def _hash(ctx: CommandContext, key: bytes, read: bool = False) -> HashValue | None:
    return ctx.lookup_typed(key, HashValue, read=read)


def _hash_create(ctx: CommandContext, key: bytes) -> HashValue:
    return ctx.lookup_or_create(key, HashValue, ctx.db)


def _store(h: HashValue, f: bytes, v: bytes, keep_ttl: bool = False) -> None:
    h[f] = v
    if not keep_ttl:
        h.field_expires.pop(f, None)


def _remove(h: HashValue, f: bytes) -> None:
    del h[f]
    h.field_expires.pop(f, None)


def _touched(ctx: CommandContext, key: bytes, h: HashValue, n: int = 1) -> None:
    """After an in-place change: delete an emptied hash (a ``del`` event), else signal the
    modification."""
    if h:
        ctx.db.modified(key)
    else:
        ctx.db.delete(key)
        ctx.notify("g", "del", key)
    ctx.dirty += n


def _overwriting_expired(
    ctx: CommandContext, key: bytes, h: HashValue, fields: list[bytes]
) -> None:
    """9.1.2 sends one ``hexpired`` before a write that replaces fields past their TTL."""
    if h.field_expires and any(f in h and not _alive(ctx, h, f) for f in fields):
        ctx.notify("h", "hexpired", key)


def _past(ctx: CommandContext, when: int) -> bool:
    """A deadline that deletes at once (Valkey's ``checkAlreadyExpired``; never on a replica)."""
    return when <= ctx.now_ms and ctx.expire_mode is ExpireMode.DELETE


# --- classic commands -----------------------------------------------------------------------


def _hset_pairs(ctx: CommandContext, argv: list[bytes]) -> int:
    if len(argv) % 2 == 1:
        raise CommandError(wrong_arity(argv[0].decode("latin-1").lower()))
    return _hset_into(ctx, argv, _hash_create(ctx, argv[1]))


def _hset_into(ctx: CommandContext, argv: list[bytes], h: HashValue) -> int:
    if h.field_expires:
        _overwriting_expired(ctx, argv[1], h, argv[2::2])
        created = 0
        for i in range(2, len(argv), 2):
            if not _alive(ctx, h, argv[i]):
                created += 1
            _store(h, argv[i], argv[i + 1])
    else:
        # no field has a TTL (the usual hash): nothing can be expired or need its TTL dropped
        before = len(h)
        for i in range(2, len(argv), 2):
            h[argv[i]] = argv[i + 1]
        created = len(h) - before
    _touched(ctx, argv[1], h, (len(argv) - 2) // 2)
    ctx.notify("h", "hset", argv[1])
    return created


@command("hset", -4, "write denyoom fast", 1, 1, 1)
def hset(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) != 4:
        return _hset_pairs(ctx, argv)
    key = argv[1]
    db = ctx.keyspace.dbs[ctx.client.db]  # ctx.db, without the property's call
    h = ctx.lookup_or_create(key, HashValue, db)
    if h.field_expires:
        return _hset_into(ctx, argv, h)
    # one field, no field TTL in the hash (the usual HSET): _hset_into's work, inline
    f = argv[2]
    fresh = f not in h
    h[f] = argv[3]
    db.modified(key)
    ctx.dirty += 1
    server = ctx.server
    if server is not None and server.notify_classes:
        server.notify_keyspace_event("h", "hset", key, ctx.client.db)
    return 1 if fresh else 0


@command("hmset", -4, "write denyoom fast", 1, 1, 1)
def hmset(ctx: CommandContext, argv: list[bytes]) -> Reply:
    _hset_pairs(ctx, argv)
    return OK


@command("hsetnx", 4, "write denyoom fast", 1, 1, 1)
def hsetnx(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key, f = argv[1], argv[2]
    h = _hash_create(ctx, key)
    if _alive(ctx, h, f):
        return 0
    _overwriting_expired(ctx, key, h, [f])
    volatile = bool(h.field_expires)
    _store(h, f, argv[3])
    _touched(ctx, key, h)
    ctx.notify("h", "hset", key)
    if volatile:
        ctx.rewrite([b"HSET", key, f, argv[3]])
    return 1


@command("hget", 3, "readonly fast", 1, 1, 1)
def hget(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _get(ctx, _hash(ctx, argv[1], read=True), argv[2])


@command("hmget", -3, "readonly fast", 1, 1, 1)
def hmget(ctx: CommandContext, argv: list[bytes]) -> Reply:
    h = _hash(ctx, argv[1], read=True)
    return [_get(ctx, h, f) for f in argv[2:]]


@command("hdel", -3, "write fast", 1, 1, 1)
def hdel(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    h = _hash(ctx, key)
    if h is None:
        return 0
    deleted = 0
    for f in argv[2:]:
        if _alive(ctx, h, f):
            _remove(h, f)
            deleted += 1
            if not h:
                break
    if deleted:
        ctx.notify("h", "hdel", key)
        _touched(ctx, key, h, deleted)
    return deleted


@command("hexists", 3, "readonly fast", 1, 1, 1)
def hexists(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return 0 if _get(ctx, _hash(ctx, argv[1], read=True), argv[2]) is None else 1


@command("hlen", 2, "readonly fast", 1, 1, 1)
def hlen(ctx: CommandContext, argv: list[bytes]) -> Reply:
    h = _hash(ctx, argv[1], read=True)
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast", 1, 1, 1)
def hstrlen(ctx: CommandContext, argv: list[bytes]) -> Reply:
    value = _get(ctx, _hash(ctx, argv[1], read=True), argv[2])
    return 0 if value is None else len(value)


@command("hgetall", 2, "readonly", 1, 1, 1)
def hgetall(ctx: CommandContext, argv: list[bytes]) -> Reply:
    h = _hash(ctx, argv[1], read=True)
    return MapReply([] if h is None else [(f, v) for f, v in _live_items(ctx, h)])


@command("hkeys", 2, "readonly", 1, 1, 1)
def hkeys(ctx: CommandContext, argv: list[bytes]) -> Reply:
    h = _hash(ctx, argv[1], read=True)
    return [] if h is None else [f for f, _ in _live_items(ctx, h)]


@command("hvals", 2, "readonly", 1, 1, 1)
def hvals(ctx: CommandContext, argv: list[bytes]) -> Reply:
    h = _hash(ctx, argv[1], read=True)
    return [] if h is None else [v for _, v in _live_items(ctx, h)]


def _ttl_rewrite(ctx: CommandContext, key: bytes, h: HashValue, f: bytes, value: bytes) -> None:
    """How 9.1.2 propagates an increment: HSETEX when the field keeps a TTL, HSET otherwise."""
    when = h.field_expires.get(f)
    if when is not None:
        ctx.rewrite([b"HSETEX", key, b"PXAT", str(when).encode(), b"FIELDS", b"1", f, value])
    else:
        ctx.rewrite([b"HSET", key, f, value])


@command("hincrby", 4, "write denyoom fast", 1, 1, 1)
def hincrby(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key, f = argv[1], argv[2]
    incr = parse_int(argv[3])
    h = _hash_create(ctx, key)
    replaced_expired = f in h and not _alive(ctx, h, f)
    volatile = bool(h.field_expires)
    current = 0 if not _alive(ctx, h, f) else parse_int(h[f], HASH_NOT_INTEGER)
    new = current + incr
    if new < INT64_MIN or new > LONG_MAX:
        if not h:
            ctx.db.delete(key)
        raise CommandError(OVERFLOW)
    value = str(new).encode()
    _overwriting_expired(ctx, key, h, [f])
    _store(h, f, value, keep_ttl=not replaced_expired)
    _touched(ctx, key, h)
    ctx.notify("h", "hincrby", key)
    if volatile:
        _ttl_rewrite(ctx, key, h, f, value)
    return new


@command("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1)
def hincrbyfloat(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key, f = argv[1], argv[2]
    try:
        incr = parse_long_double(argv[3])
    except _LongDoubleInf:
        raise CommandError("ERR value is NaN or Infinity") from None
    h = _hash_create(ctx, key)
    try:
        alive = _alive(ctx, h, f)
        old = Fraction(0)
        if alive:
            try:
                old = parse_long_double(h[f])
            except CommandError:
                raise CommandError(HASH_NOT_FLOAT) from None
            except _LongDoubleInf:
                raise CommandError(NAN_OR_INF) from None
        try:
            new = round_long_double(old + incr)
        except _LongDoubleInf:
            raise CommandError(NAN_OR_INF) from None
    except CommandError:
        if not h:
            ctx.db.delete(key)
        raise
    value = format_long_double(new)
    replaced_expired = f in h and not alive
    _overwriting_expired(ctx, key, h, [f])
    _store(h, f, value, keep_ttl=not replaced_expired)
    _touched(ctx, key, h)
    ctx.notify("h", "hincrbyfloat", key)
    _ttl_rewrite(ctx, key, h, f, value)
    return value


# --- HRANDFIELD / HSCAN ---------------------------------------------------------------------


@command("hrandfield", -2, "readonly", 1, 1, 1)
def hrandfield(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) == 2:
        h = _hash(ctx, argv[1], read=True)
        live = [] if h is None else list(_live_items(ctx, h))
        return ctx.rng.choice(live)[0] if live else None
    count = parse_int(argv[2])
    if count < -LONG_MAX:
        raise CommandError(
            f"ERR value is out of range, value must between {-LONG_MAX} and {LONG_MAX}"
        )
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
        raise CommandError(SYNTAX)
    withvalues = len(argv) == 4
    if withvalues and not -(LONG_MAX // 2) <= count <= LONG_MAX // 2:
        raise CommandError("ERR value is out of range")
    h = _hash(ctx, argv[1], read=True)
    live = [] if h is None else list(_live_items(ctx, h))
    if not live or count == 0:
        return []
    if count < 0:
        picked = [ctx.rng.choice(live) for _ in range(-count)]
    elif count >= len(live):
        picked = live
    else:
        picked = ctx.rng.sample(live, count)
    if not withvalues:
        return [f for f, _ in picked]
    if ctx.client.resp == 3:
        return [[f, v] for f, v in picked]
    return [x for pair in picked for x in pair]


@command("hscan", -3, "readonly", 1, 1, 1)
def hscan(ctx: CommandContext, argv: list[bytes]) -> Reply:
    cursor = parse_cursor(argv[2])
    h = _hash(ctx, argv[1], read=True)
    if h is None:
        return [b"0", []]
    count, pattern, novalues = parse_scan_options(argv, b"novalues")
    next_cursor, fields = scan_members(iter(h), len(h), cursor, count)
    out: list[Reply] = []
    for f in fields:
        if not _alive(ctx, h, f) or (pattern is not None and not stringmatch(pattern, f)):
            continue
        out.append(f)
        if not novalues:
            out.append(h[f])
    return [str(next_cursor).encode(), out]


# --- field expiry (Valkey 9) ----------------------------------------------------------------


def _find_fields(argv: list[bytes], start: int, error: str = NUMFIELDS) -> int:
    """The index of the first ``FIELDS`` token at or after ``start``."""
    idx = next((i for i in range(start, len(argv)) if argv[i].lower() == b"fields"), -1)
    if idx < 0:
        raise CommandError(error)
    return idx


def _count_fields(
    argv: list[bytes], idx: int, per_field: int, error: str = NUMFIELDS
) -> list[bytes]:
    """Check ``numfields`` after the FIELDS at ``idx`` against what follows; the field args."""
    if idx + 1 >= len(argv):
        raise CommandError(error)
    n = parse_int(argv[idx + 1])
    rest = argv[idx + 2 :]
    if n <= 0 or n * per_field != len(rest):
        raise CommandError(error)
    return rest


def _fields_at(
    argv: list[bytes], start: int, per_field: int, error: str = NUMFIELDS
) -> tuple[int, list[bytes]]:
    idx = _find_fields(argv, start, error)
    return idx, _count_fields(argv, idx, per_field, error)


def _deadline(ctx: CommandContext, arg: bytes, unit_ms: int, relative: bool, name: str) -> int:
    """A TTL argument as unix ms, with Valkey's ``invalid expire time`` checks."""
    when = parse_int(arg)
    invalid = INVALID_EXPIRE.format(name)
    if when < 0 or when > LONG_MAX // unit_ms:
        raise CommandError(invalid)
    when *= unit_ms
    if relative:
        if when > LONG_MAX - ctx.now_ms:
            raise CommandError(invalid)
        when += ctx.now_ms
    return when


EXPIRE_UNITS = {b"ex": (1000, True), b"px": (1, True), b"exat": (1000, False), b"pxat": (1, False)}


def _parse_expiry_opts(
    argv: list[bytes], start: int, end: int, extra: frozenset[bytes]
) -> tuple[bytes | None, bytes, set[bytes]]:
    """The options of HSETEX/HGETEX between the key and FIELDS: (expiry kind, its raw
    value, flags). Only their syntax is checked here; like Valkey, the value is parsed after
    numfields. Repeating an option is allowed; two different expiry kinds are not."""
    kind: bytes | None = None
    value = b""
    flags: set[bytes] = set()
    i = start
    while i < end:
        opt = argv[i].lower()
        if opt in EXPIRE_UNITS:
            if (kind is not None and kind != opt) or i + 1 >= end:
                raise CommandError(SYNTAX)
            kind, value = opt, argv[i + 1]
            i += 2
            continue
        if opt in extra:
            flags.add(opt)
        else:
            raise CommandError(SYNTAX)
        i += 1
    ttl_flags = flags & {b"keepttl", b"persist"}
    if ttl_flags and kind is not None:
        raise CommandError(SYNTAX)
    for a, b in ((b"nx", b"xx"), (b"fnx", b"fxx")):
        if a in flags and b in flags:
            raise CommandError(SYNTAX)
    return kind, value, flags


def _expiry_deadline(
    ctx: CommandContext, kind: bytes | None, value: bytes, name: str
) -> int | None:
    if kind is None:
        return None
    unit, relative = EXPIRE_UNITS[kind]
    return _deadline(ctx, value, unit, relative, name)


def _propagate_hdel(ctx: CommandContext, key: bytes, fields: list[bytes]) -> None:
    ctx.rewrite([b"HDEL", key, *fields])


@command("hsetex", -6, "write denyoom fast", 1, 1, 1)
def hsetex(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    idx = _find_fields(argv, 2)
    kind, value, flags = _parse_expiry_opts(
        argv, 2, idx, frozenset({b"nx", b"xx", b"fnx", b"fxx", b"keepttl"})
    )
    rest = _count_fields(argv, idx, 2)
    # Valkey's order: type, then the key condition, then the expiry value, then the fields'.
    h = _hash(ctx, key)
    if (b"nx" in flags and h is not None) or (b"xx" in flags and h is None):
        return 0
    deadline = _expiry_deadline(ctx, kind, value, "hsetex")
    pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]
    if b"fnx" in flags and h is not None and any(_alive(ctx, h, f) for f, _ in pairs):
        return 0
    if b"fxx" in flags and (h is None or not all(_alive(ctx, h, f) for f, _ in pairs)):
        return 0
    if deadline is not None and _past(ctx, deadline):
        # 9.1.2 sets the fields (creating the hash), gives them the deadline, then finds them
        # expired; the net change is only the fields that were there before
        if h is None:
            ctx.notify("n", "new", key)
        for event in ("hset", "hexpire", "hexpired"):
            ctx.notify("h", event, key)
        if h is None:
            ctx.notify("g", "del", key)
            return 1
        gone = list(dict.fromkeys(f for f, _ in pairs if _alive(ctx, h, f)))
        for f in gone:
            _remove(h, f)
        if gone:
            _touched(ctx, key, h, len(gone))
            _propagate_hdel(ctx, key, gone)
        return 1
    if h is None:
        h = HashValue()
        ctx.db.set(key, h)
    keep = b"keepttl" in flags
    _overwriting_expired(ctx, key, h, [f for f, _ in pairs])
    for f, v in pairs:
        keep_f = keep and _alive(ctx, h, f)
        _store(h, f, v, keep_ttl=keep_f)
        if deadline is not None:
            h.expire_field(f, deadline)
    _touched(ctx, key, h, len(pairs))
    ctx.notify("h", "hset", key)
    if deadline is not None:
        ctx.notify("h", "hexpire", key)
    ctx.rewrite(_hsetex_rewrite(argv, idx, deadline))
    return 1


def _hsetex_rewrite(argv: list[bytes], idx: int, deadline: int | None) -> list[bytes]:
    """HSETEX as 9.1.2 propagates it: key and field conditions dropped, the expiry option
    that took effect (the last) turned into ``PXAT <unix ms>``, other options kept as given."""
    out = [argv[0], argv[1]]
    last = max((i for i in range(2, idx) if argv[i].lower() in EXPIRE_UNITS), default=-1)
    i = 2
    while i < idx:
        opt = argv[i].lower()
        if opt in EXPIRE_UNITS:
            if i == last and deadline is not None:
                out += [b"PXAT", str(deadline).encode()]
            else:
                out += argv[i : i + 2]
            i += 2
            continue
        if opt not in (b"nx", b"xx", b"fnx", b"fxx"):
            out.append(argv[i])
        i += 1
    return out + argv[idx:]


@command("hgetex", -5, "write fast", 1, 1, 1)
def hgetex(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    idx = _find_fields(argv, 2)
    kind, value, flags = _parse_expiry_opts(argv, 2, idx, frozenset({b"persist"}))
    fields = _count_fields(argv, idx, 1)
    h = _hash(ctx, key, read=True)
    deadline = _expiry_deadline(ctx, kind, value, "hgetex")
    values: list[Reply] = [_get(ctx, h, f) for f in fields]
    if h is None:
        return values
    live = list(dict.fromkeys(f for f in fields if _alive(ctx, h, f)))
    if deadline is not None and live:
        if _past(ctx, deadline):
            for f in live:
                _remove(h, f)
            ctx.notify("h", "hexpired", key)
            _touched(ctx, key, h, len(live))
            _propagate_hdel(ctx, key, live)
        else:
            for f in live:
                h.expire_field(f, deadline)
            _touched(ctx, key, h, len(live))
            ctx.notify("h", "hexpire", key)
            when = str(deadline).encode()
            ctx.rewrite([b"HPEXPIREAT", key, when, b"FIELDS", str(len(live)).encode(), *live])
    elif b"persist" in flags:
        persisted = [f for f in live if h.field_expires.pop(f, None) is not None]
        if persisted:
            _touched(ctx, key, h, len(persisted))
            ctx.notify("h", "hpersist", key)
            ctx.rewrite([b"HPERSIST", key, b"FIELDS", str(len(persisted)).encode(), *persisted])
    return values


@command("hgetdel", -5, "write fast", 1, 1, 1)
def hgetdel(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    if argv[2].lower() != b"fields":
        raise CommandError(SYNTAX)
    _, fields = _fields_at(argv, 2, 1)
    h = _hash(ctx, key)
    if h is None:
        return [None] * len(fields)
    out: list[Reply] = []
    deleted = 0
    for f in fields:
        value = _get(ctx, h, f)
        out.append(value)
        if value is not None:
            _remove(h, f)
            deleted += 1
    if deleted:
        ctx.notify("h", "hdel", key)
        _touched(ctx, key, h, deleted)
    return out


CONDITIONS = {b"nx", b"xx", b"gt", b"lt"}


def _hexpire_generic(ctx: CommandContext, argv: list[bytes], unit_ms: int, relative: bool) -> Reply:
    key = argv[1]
    name = argv[0].decode("latin-1").lower()
    idx = _find_fields(argv, 3)
    conds: set[bytes] = set()
    for opt in argv[3:idx]:
        low = opt.lower()
        if low not in CONDITIONS:
            raise CommandError(f"ERR Unsupported option {opt.decode('latin-1')}")
        conds.add(low)
    if b"nx" in conds and len(conds) > 1:
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"gt" in conds and b"lt" in conds:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    fields = _count_fields(argv, idx, 1)
    when = _deadline(ctx, argv[2], unit_ms, relative, name)
    h = _hash(ctx, key)
    if h is None:
        return [-2] * len(fields)
    replies: list[Reply] = []
    updated = 0
    deleted: list[bytes] = []
    for f in fields:
        if not _alive(ctx, h, f):
            replies.append(-2)
            continue
        current = h.field_expires.get(f)
        ok = True
        if b"nx" in conds and current is not None:
            ok = False
        if b"xx" in conds and current is None:
            ok = False
        if b"gt" in conds and (current is None or when <= current):
            ok = False
        if b"lt" in conds and current is not None and when >= current:
            ok = False
        if not ok:
            replies.append(0)
        elif _past(ctx, when):
            _remove(h, f)
            deleted.append(f)
            replies.append(2)
        else:
            h.expire_field(f, when)
            updated += 1
            replies.append(1)
    if deleted:
        ctx.notify("h", "hexpired", key)
        _touched(ctx, key, h, len(deleted))
        _propagate_hdel(ctx, key, deleted)
    elif updated:
        _touched(ctx, key, h, updated)
        ctx.notify("h", "hexpire", key)
        ctx.rewrite([b"HPEXPIREAT", key, str(when).encode(), *argv[3:]])
    return replies


@command("hexpire", -6, "write fast", 1, 1, 1)
def hexpire(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _hexpire_generic(ctx, argv, 1000, True)


@command("hpexpire", -6, "write fast", 1, 1, 1)
def hpexpire(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _hexpire_generic(ctx, argv, 1, True)


@command("hexpireat", -6, "write fast", 1, 1, 1)
def hexpireat(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _hexpire_generic(ctx, argv, 1000, False)


@command("hpexpireat", -6, "write fast", 1, 1, 1)
def hpexpireat(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _hexpire_generic(ctx, argv, 1, False)


def _ttl_generic(ctx: CommandContext, argv: list[bytes], absolute: bool, unit_ms: int) -> Reply:
    if argv[2].lower() != b"fields":
        raise CommandError(SYNTAX)
    _, fields = _fields_at(argv, 2, 1, SYNTAX)
    h = _hash(ctx, argv[1], read=True)
    out: list[Reply] = []
    for f in fields:
        if h is None or not _alive(ctx, h, f):
            out.append(-2)
            continue
        when = h.field_expires.get(f)
        if when is None:
            out.append(-1)
        elif absolute:
            out.append(when // unit_ms)
        else:
            ttl = max(when - ctx.now_ms, 0)
            out.append(ttl if unit_ms == 1 else (ttl + 500) // 1000)
    return out


@command("httl", -5, "readonly fast", 1, 1, 1)
def httl(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _ttl_generic(ctx, argv, False, 1000)


@command("hpttl", -5, "readonly fast", 1, 1, 1)
def hpttl(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _ttl_generic(ctx, argv, False, 1)


@command("hexpiretime", -5, "readonly fast", 1, 1, 1)
def hexpiretime(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _ttl_generic(ctx, argv, True, 1000)


@command("hpexpiretime", -5, "readonly fast", 1, 1, 1)
def hpexpiretime(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _ttl_generic(ctx, argv, True, 1)


@command("hpersist", -5, "write fast", 1, 1, 1)
def hpersist(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if argv[2].lower() != b"fields":
        raise CommandError(SYNTAX)
    _, fields = _fields_at(argv, 2, 1)
    h = _hash(ctx, argv[1])
    out: list[Reply] = []
    changed = 0
    for f in fields:
        if h is None or not _alive(ctx, h, f):
            out.append(-2)
        elif h.field_expires.pop(f, None) is None:
            out.append(-1)
        else:
            changed += 1
            out.append(1)
    if changed and h is not None:
        _touched(ctx, argv[1], h, changed)
        ctx.notify("h", "hpersist", argv[1])
    return out


def reclaim_expired_fields(
    db: Database, key: bytes, now_ms: int, limit: int = 20, unlink: bytes = b"UNLINK"
) -> list[list[bytes]]:
    """Remove up to ``limit`` expired fields of ``key``: the active-expiry step for hash
    fields, for the server's cron (primary only). Returns what to propagate, as 9.1.2 does:
    ``HDEL key f...``, plus ``UNLINK key`` (or DEL) when the hash emptied; 9.1.2 wraps that
    pair in MULTI/EXEC, which is the caller's to add."""
    h = db.data.get(key)
    if not isinstance(h, HashValue) or not h.field_expires:
        return []
    gone = [f for f, when in h.field_expires.items() if when <= now_ms][:limit]
    if not gone:
        return []
    for f in gone:
        _remove(h, f)
    out = [[b"HDEL", key, *gone]]
    if h:
        db.modified(key)
    else:
        db.delete(key)
        out.append([unlink, key])
    return out
