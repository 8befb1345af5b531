"""String commands, with Valkey 8.1's replies, object encodings and propagation rewrites.

Strings are ``bytes``. Valkey's object encoding is decided when a value is stored and kept
afterwards, so values whose encoding cannot be derived from their content are stored as the
marker subclasses :class:`RawStr` / :class:`EmbStr`; plain ``bytes`` mean "as
``tryObjectEncoding`` would store it".
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import repeat

from valsync.commands.context import CommandContext, ExpireMode
from valsync.commands.errors import (
    INT64_MAX,
    INT64_MIN,
    NOT_FLOAT,
    NOT_INTEGER,
    OVERFLOW,
    SYNTAX,
    WRONGTYPE,
    CommandError,
    parse_int,
)
from valsync.commands.registry import command
from valsync.keyspace.database import Database
from valsync.keyspace.values import Value
from valsync.resp.reply import OK, MapReply, Reply

PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
OFFSET_OUT_OF_RANGE = "ERR offset is out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
DECR_OVERFLOW = "ERR decrement would overflow"
EMBSTR_LIMIT = 44
# Valkey 8.1 embeds the key (and expiry) in the value object: an embstr only stays embstr
# while key + value fit (observed: len(key) + len(value) <= 41). Overwriting a key that has
# a TTL at that moment reuses its expiry slot, leaving 8 bytes fewer; a fresh key (even one
# given a TTL by the same command) does not count it.
EMBED_BUDGET = 41
EXPIRE_EMBED_COST = 8
STORED_AS_GIVEN = EMBED_BUDGET - EXPIRE_EMBED_COST
"""A key and value no longer than this together: :func:`attach` returns a plain value as it
is (an int, or an embstr that fits even with a TTL)."""


class RawStr(bytes):
    """A string Valkey stores ``raw`` whatever its content (APPEND, SETRANGE results)."""

    __slots__ = ()


class EmbStr(bytes):
    """A string created ``embstr`` that looks like an integer (INCRBYFLOAT results)."""

    __slots__ = ()


_INT_TEXT = re.compile(rb"-?[1-9][0-9]{0,18}|0")
_INT_LEAD = frozenset(b"-0123456789")


def is_int_encodable(value: bytes) -> bool:
    """Whether ``tryObjectEncoding`` would make ``value`` an ``int`` (strict ``string2l``)."""
    if len(value) > 20 or _INT_TEXT.fullmatch(value) is None:
        return False
    return len(value) < 19 or INT64_MIN <= int(value) <= INT64_MAX


def string_encoding(value: bytes, key: bytes | None = None) -> str:
    """The name OBJECT ENCODING gives a string; with ``key``, as stored under that key
    (plain ``bytes`` stored by others, e.g. the RDB loader, obey the embedding budget)."""
    if isinstance(value, RawStr):
        return "raw"
    if isinstance(value, EmbStr):
        return "embstr"
    if is_int_encodable(value):
        return "int"
    if len(value) > EMBSTR_LIMIT or (key is not None and not fits_embedded(key, value, False)):
        return "raw"
    return "embstr"


def fits_embedded(key: bytes, value: bytes, has_expire: bool) -> bool:
    budget = EMBED_BUDGET - (EXPIRE_EMBED_COST if has_expire else 0)
    return len(key) + len(value) <= budget


def attach(key: bytes, value: bytes, has_expire: bool, encoding: str | None = None) -> bytes:
    """The stored form of a string put under ``key``: embstr values that do not fit turn raw."""
    if encoding is None and type(value) is bytes:
        # the hot path of SET: a plain value is int, embstr or raw by its size alone
        n = len(value)
        if n <= 20 and n and value[0] in _INT_LEAD and is_int_encodable(value):
            return value
        if n > EMBSTR_LIMIT or len(key) + n > EMBED_BUDGET - (
            EXPIRE_EMBED_COST if has_expire else 0
        ):
            return RawStr(value)
        return value
    enc = encoding if encoding is not None else string_encoding(value)
    if enc == "int":
        return bytes(value)
    if enc == "raw":
        return RawStr(value)
    if not fits_embedded(key, value, has_expire):
        return RawStr(value)
    return EmbStr(value) if is_int_encodable(value) else bytes(value)


def reattach(src_key: bytes, key: bytes, value: Value, has_expire: bool) -> Value:
    """A value moved or copied from ``src_key`` to ``key`` (RENAME, MOVE, COPY) keeps its
    encoding, except that an embstr that no longer fits turns raw."""
    if isinstance(value, bytes):
        return attach(key, value, has_expire, string_encoding(value, src_key))
    return value


def store(
    ctx: CommandContext,
    key: bytes,
    value: bytes,
    *,
    keep_ttl: bool = False,
    expire_at: int | None = None,
    encoding: str | None = None,
) -> None:
    """setKey: store a string (dropping the TTL unless kept), optionally with a new expiry.

    Callers look the key up first, so a lazily expired key is already gone."""
    db = ctx.db
    db.set(key, attach(key, value, key in db.expires, encoding), keep_ttl=keep_ttl)
    if expire_at is not None:
        db.set_expire(key, expire_at)


def store_run(
    db: Database,
    keys: list[bytes],
    values: list[bytes],
    longest_key: int = -1,
    longest_value: int = -1,
) -> None:
    """:func:`store` of many plain strings in a row, for a caller that made sure nothing else
    listens to these keys (no LFU counter to keep, no watcher, no new-key listener): the dict
    operations run at C speed. A key given twice keeps its last value. The longest key's and
    value's lengths are measured here unless given (-1)."""
    expires = db.expires
    if longest_value < 0:
        longest_value = max(map(len, values))
    if longest_key < 0:
        longest_key = max(map(len, keys))
    if (
        longest_value <= EMBSTR_LIMIT
        and longest_key + longest_value <= EMBED_BUDGET - EXPIRE_EMBED_COST
    ):
        db.data.update(zip(keys, values, strict=True))
    else:
        data = db.data
        for key, value in zip(keys, values, strict=True):
            data[key] = attach(key, value, key in expires)
    db.stamps.update(zip(keys, repeat(db.clock.stamp)))
    if expires:
        for key in keys:
            expires.pop(key, None)
    if db.dirty is not None:
        db.dirty.update(keys)


def proto_max_bulk_len(ctx: CommandContext) -> int:
    server = ctx.server
    return PROTO_MAX_BULK_LEN if server is None else server.config.get_int("proto-max-bulk-len")


def get_string(
    ctx: CommandContext, key: bytes, db: Database | None = None, read: bool = False
) -> bytes | None:
    """The string at ``key``; ``read`` for a read lookup (a miss is a ``keymiss`` event)."""
    return ctx.lookup_typed(key, bytes, db, read)


def already_expired(ctx: CommandContext, when_ms: int) -> bool:
    """Valkey's checkAlreadyExpired: only a primary deletes on a past expiry."""
    return when_ms <= ctx.now_ms and ctx.expire_mode is ExpireMode.DELETE


def delete_expired_and_propagate(ctx: CommandContext, key: bytes) -> None:
    """deleteExpiredKeyFromOverwriteAndPropagate: delete now, replicate UNLINK (or DEL)."""
    ctx.db.delete(key)
    ctx.rewrite([b"UNLINK" if ctx.lazy_expire_unlink else b"DEL", key])
    ctx.notify("x", "expired", key)
    ctx.dirty += 1


# --- SET and friends ---------------------------------------------------------------------

F_NX, F_XX, F_GET, F_KEEPTTL, F_PERSIST = 1, 2, 4, 8, 16
F_EX, F_PX, F_EXAT, F_PXAT, F_IFEQ = 32, 64, 128, 256, 512
EXPIRE_FLAGS = F_EX | F_PX | F_EXAT | F_PXAT


def parse_extended(
    argv: list[bytes], start: int, is_set: bool
) -> tuple[int, bytes | None, bytes | None]:
    """parseExtendedStringArgumentsOrReply: (flags, expire argument, IFEQ comparison)."""
    flags = 0
    expire: bytes | None = None
    compare: bytes | None = None
    j = start
    while j < len(argv):
        opt = argv[j].upper()
        nxt = argv[j + 1] if j + 1 < len(argv) else None
        if opt == b"NX" and is_set and not flags & (F_XX | F_IFEQ):
            flags |= F_NX
        elif opt == b"XX" and is_set and not flags & (F_NX | F_IFEQ):
            flags |= F_XX
        elif opt == b"IFEQ" and is_set and nxt is not None and not flags & (F_NX | F_XX | F_IFEQ):
            flags |= F_IFEQ
            compare = nxt
            j += 1
        elif opt == b"GET" and is_set:
            flags |= F_GET
        elif opt == b"KEEPTTL" and is_set and not flags & (F_PERSIST | EXPIRE_FLAGS):
            flags |= F_KEEPTTL
        elif opt == b"PERSIST" and not is_set and not flags & (EXPIRE_FLAGS | F_KEEPTTL):
            flags |= F_PERSIST
        elif (
            opt in (b"EX", b"PX", b"EXAT", b"PXAT")
            and nxt is not None
            and not flags & (F_KEEPTTL | F_PERSIST)
        ):
            this = {b"EX": F_EX, b"PX": F_PX, b"EXAT": F_EXAT, b"PXAT": F_PXAT}[opt]
            if flags & EXPIRE_FLAGS & ~this:
                raise CommandError(SYNTAX)
            flags |= this
            expire = nxt
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    return flags, expire, compare


def expire_ms(ctx: CommandContext, arg: bytes, flags: int, name: str) -> int:
    """getExpireMillisecondsOrReply: the absolute unix-ms expiry of an EX/PX/EXAT/PXAT value."""
    invalid = f"ERR invalid expire time in '{name}' command"
    ms = parse_int(arg)
    seconds = bool(flags & (F_EX | F_EXAT))
    if ms <= 0 or (seconds and ms > INT64_MAX // 1000):
        raise CommandError(invalid)
    if seconds:
        ms *= 1000
    if flags & (F_EX | F_PX):
        ms += ctx.now_ms
        if ms > INT64_MAX:
            raise CommandError(invalid)
    if ms <= 0:
        raise CommandError(invalid)
    return ms


def set_generic(
    ctx: CommandContext,
    argv: list[bytes],
    key: bytes,
    value: bytes,
    flags: int,
    when: int | None,
    ok_reply: Reply = OK,
    abort_reply: Reply = None,
    compare: bytes | None = None,
) -> Reply:
    reply: Reply = ok_reply
    if flags & F_GET:
        reply = get_string(ctx, key, read=True)
    existing = ctx.lookup(key)
    found = existing is not None
    if flags & F_IFEQ:
        if found and not isinstance(existing, bytes):
            raise CommandError(WRONGTYPE)
        if not found or existing != compare:
            return reply if flags & F_GET else abort_reply
    if (flags & F_NX and found) or (flags & F_XX and not found):
        return reply if flags & F_GET else abort_reply
    if when is not None and already_expired(ctx, when):
        if found:
            delete_expired_and_propagate(ctx, key)
        return reply
    store(ctx, key, value, keep_ttl=bool(flags & F_KEEPTTL), expire_at=when)
    ctx.dirty += 1
    ctx.notify("$", "set", key)
    if when is not None:
        ctx.notify("g", "expire", key)
    if when is not None and not flags & F_PXAT:
        ctx.rewrite([b"SET", key, value, b"PXAT", str(when).encode()])
    elif flags & F_GET and when is None:
        ctx.rewrite([a for i, a in enumerate(argv) if i < 3 or a.upper() != b"GET"])
    return reply


@command("set", -3, "write denyoom", 1, 1, 1)
def set_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) == 3:
        # plain SET, the hot path: the lookup still expires a stale key (and propagates it)
        # and counts an LFU access the new value keeps; an LRU touch of a key with no TTL
        # would be overwritten by the store at once. Then store()'s work, inline
        key = argv[1]
        value = argv[2]
        db = ctx.keyspace.dbs[ctx.client.db]  # ctx.db, without the property's call
        if key in db.expires or db.clock.lfu:
            ctx.lookup(key, db)
        if len(key) + len(value) > STORED_AS_GIVEN:
            value = attach(key, value, key in db.expires)
        db.set(key, value)
        ctx.dirty += 1
        server = ctx.server
        if server is not None and server.notify_classes:
            ctx.notify("$", "set", argv[1])
        return OK
    flags, expire, compare = parse_extended(argv, 3, True)
    when = expire_ms(ctx, expire, flags, "set") if expire is not None else None
    return set_generic(ctx, argv, argv[1], argv[2], flags, when, compare=compare)


@command("setnx", 3, "write denyoom fast", 1, 1, 1)
def setnx_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return set_generic(ctx, argv, argv[1], argv[2], F_NX, None, 1, 0)


@command("setex", 4, "write denyoom", 1, 1, 1)
def setex_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    when = expire_ms(ctx, argv[2], F_EX, "setex")
    return set_generic(ctx, argv, argv[1], argv[3], F_EX, when)


@command("psetex", 4, "write denyoom", 1, 1, 1)
def psetex_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    when = expire_ms(ctx, argv[2], F_PX, "psetex")
    return set_generic(ctx, argv, argv[1], argv[3], F_PX, when)


@command("get", 2, "readonly fast", 1, 1, 1)
def get_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    value = ctx.lookup(argv[1], None, True)  # get_string's work, inline: GET is the hottest read
    if value is None or isinstance(value, bytes):
        return value
    raise CommandError(WRONGTYPE)


@command("getset", 3, "write denyoom fast", 1, 1, 1)
def getset_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    old = get_string(ctx, argv[1], read=True)
    store(ctx, argv[1], argv[2])
    ctx.notify("$", "set", argv[1])
    ctx.dirty += 1
    ctx.rewrite([b"SET", argv[1], argv[2]])
    return old


@command("getdel", 2, "write fast", 1, 1, 1)
def getdel_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    value = get_string(ctx, argv[1], read=True)
    if value is not None and ctx.db.delete(argv[1]):
        ctx.rewrite([b"DEL", argv[1]])
        ctx.notify("g", "del", argv[1])
        ctx.dirty += 1
    return value


@command("getex", -2, "write fast", 1, 1, 1)
def getex_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    flags, expire, _ = parse_extended(argv, 2, False)
    value = get_string(ctx, key, read=True)
    if value is None:
        return None
    when = expire_ms(ctx, expire, flags, "getex") if expire is not None else None
    if flags & (F_EXAT | F_PXAT) and when is not None and already_expired(ctx, when):
        delete_expired_and_propagate(ctx, key)
    elif when is not None:
        ctx.db.set_expire(key, when)
        ctx.rewrite([b"PEXPIREAT", key, str(when).encode()])
        ctx.notify("g", "expire", key)
        ctx.dirty += 1
    elif flags & F_PERSIST and ctx.db.persist(key):
        ctx.rewrite([b"PERSIST", key])
        ctx.notify("g", "persist", key)
        ctx.dirty += 1
    return value


@command("mget", -2, "readonly fast", 1, -1, 1)
def mget_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    out: list[Reply] = []
    for key in argv[1:]:
        value = ctx.lookup_read(key)
        out.append(value if isinstance(value, bytes) else None)
    return out


def _mset_pairs(argv: list[bytes], name: str) -> list[tuple[bytes, bytes]]:
    if len(argv) % 2 == 0:
        raise CommandError(f"ERR wrong number of arguments for '{name}' command")
    return [(argv[i], argv[i + 1]) for i in range(1, len(argv), 2)]


@command("mset", -3, "write denyoom", 1, -1, 2)
def mset_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    for key, value in _mset_pairs(argv, "mset"):
        ctx.lookup(key)
        store(ctx, key, value)
        ctx.notify("$", "set", key)
    ctx.dirty += (len(argv) - 1) // 2
    return OK


@command("msetnx", -3, "write denyoom", 1, -1, 2)
def msetnx_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    pairs = _mset_pairs(argv, "msetnx")
    if any(ctx.lookup(key) is not None for key, _ in pairs):
        return 0
    for key, value in pairs:
        store(ctx, key, value)
        ctx.notify("$", "set", key)
    ctx.dirty += len(pairs)
    return 1


INVALID_NUMKEYS = "ERR invalid numkeys value or out of range"
_EXPIRE_TOKENS = (b"EX", b"PX", b"EXAT", b"PXAT")


@command("msetex", -4, "write denyoom movablekeys", 0, 0, 0)
def msetex_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    """Valkey 9.1's MSETEX numkeys key value [...] [NX|XX] [EX|PX|EXAT|PXAT t|KEEPTTL]:
    all keys or none (NX: none may exist, XX: all must). A relative or second-based expiry
    propagates as ``PXAT`` in place of the last expiry option; a past deadline is stored as
    such (9.1.2 does not delete at once, unlike SET)."""
    try:
        numkeys = parse_int(argv[1])
    except CommandError:
        raise CommandError(INVALID_NUMKEYS) from None
    if not 0 < numkeys <= 2**31 - 1:
        raise CommandError(INVALID_NUMKEYS)
    start = 2 + 2 * numkeys
    if start > len(argv):
        raise CommandError(SYNTAX)
    flags, expire, _ = parse_extended(argv, start, True)
    if flags & (F_GET | F_IFEQ):
        raise CommandError(SYNTAX)
    when = expire_ms(ctx, expire, flags, "msetex") if expire is not None else None
    pairs = [(argv[i], argv[i + 1]) for i in range(2, start, 2)]
    found = [ctx.lookup(key) is not None for key, _ in pairs]
    if (flags & F_NX and any(found)) or (flags & F_XX and not all(found)):
        return 0
    for key, value in pairs:
        store(ctx, key, value, keep_ttl=bool(flags & F_KEEPTTL), expire_at=when)
        ctx.notify("$", "set", key)
        if when is not None:
            ctx.notify("g", "expire", key)
    ctx.dirty += numkeys
    if when is not None and not flags & F_PXAT:
        last = max(i for i in range(start, len(argv)) if argv[i].upper() in _EXPIRE_TOKENS)
        ctx.rewrite([*argv[:last], b"PXAT", b"%d" % when, *argv[last + 2 :]])
    return 1


@command("delifeq", 3, "write fast", 1, 1, 1)
def delifeq_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    """Valkey 9.0's DELIFEQ key value: delete a string key holding exactly ``value``;
    propagates as ``DEL key``."""
    current = get_string(ctx, argv[1])
    if current is None or current != argv[2]:
        return 0
    ctx.db.delete(argv[1])
    ctx.rewrite([b"DEL", argv[1]])
    ctx.notify("g", "del", argv[1])
    ctx.dirty += 1
    return 1


# --- counters ----------------------------------------------------------------------------


def incr_generic(ctx: CommandContext, key: bytes, incr: int) -> Reply:
    current = get_string(ctx, key)
    old = 0 if current is None else parse_int(current) if len(current) <= 20 else None
    if old is None:
        raise CommandError(NOT_INTEGER)
    new = old + incr
    if new < INT64_MIN or new > INT64_MAX:
        raise CommandError(OVERFLOW)
    if current is None:
        store(ctx, key, str(new).encode(), encoding="int")
    else:
        ctx.db.data[key] = str(new).encode()
        ctx.db.modified(key)
    ctx.dirty += 1
    ctx.notify("$", "incrby", key)
    return new


@command("incr", 2, "write denyoom fast", 1, 1, 1)
def incr_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return incr_generic(ctx, argv[1], 1)


@command("decr", 2, "write denyoom fast", 1, 1, 1)
def decr_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return incr_generic(ctx, argv[1], -1)


@command("incrby", 3, "write denyoom fast", 1, 1, 1)
def incrby_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return incr_generic(ctx, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", 1, 1, 1)
def decrby_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    incr = parse_int(argv[2])
    if incr == INT64_MIN:
        raise CommandError(DECR_OVERFLOW)
    return incr_generic(ctx, argv[1], -incr)


# x87 long double: 64-bit significand, 15-bit exponent.
LD_MANT_BITS = 64
LD_MAX_EXP = 16384
LD_MIN_EXP = -16445


class _LongDoubleInf(Exception):
    pass


def round_long_double(x: Fraction) -> Fraction:
    """``x`` rounded (half even) to the nearest x87 long double; raises on overflow."""
    if x == 0:
        return Fraction(0)
    sign = -1 if x < 0 else 1
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    shift = max(e - (LD_MANT_BITS - 1), LD_MIN_EXP)
    scale = Fraction(2) ** shift
    m = round(a / scale)
    value = m * scale
    if value >= Fraction(2) ** LD_MAX_EXP:
        raise _LongDoubleInf
    return sign * value


HEX_FLOAT = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?")


def _parse_hex(m: re.Match[str]) -> Fraction:
    """strtold's hexadecimal form (``0x1.8p3``)."""
    whole, frac = m.group(2), m.group(3) or ""
    if not whole and not frac:
        raise CommandError(NOT_FLOAT)
    exp = int(m.group(4) or 0)
    if abs(exp) > 20000:
        raise CommandError(NOT_FLOAT)
    value = Fraction(int(whole + frac, 16), 16 ** len(frac)) * Fraction(2) ** exp
    if value == 0:
        return value
    try:
        result = round_long_double(value)
    except _LongDoubleInf:
        raise CommandError(NOT_FLOAT) from None
    if result == 0:
        raise CommandError(NOT_FLOAT)
    return -result if m.group(1) == "-" else result


def parse_long_double(arg: bytes) -> Fraction:
    """Valkey's string2ld (strtold): finite decimal numbers only, no spaces, no NaN."""
    text = arg.decode("latin-1")
    if not text or len(text) >= 5 * 1024 or text[0].isspace() or "_" in text:
        raise CommandError(NOT_FLOAT)
    if any(ch.isspace() for ch in text):
        raise CommandError(NOT_FLOAT)
    hexm = HEX_FLOAT.fullmatch(text)
    if hexm is not None:
        return _parse_hex(hexm)
    try:
        dec = Decimal(text)
    except InvalidOperation:
        raise CommandError(NOT_FLOAT) from None
    if dec.is_nan():
        raise CommandError(NOT_FLOAT)
    if dec.is_infinite():
        raise _LongDoubleInf
    if dec.is_zero():
        return Fraction(0)
    if dec.adjusted() > 4933:
        raise CommandError(NOT_FLOAT)
    if dec.adjusted() < -4952:
        raise CommandError(NOT_FLOAT)
    try:
        result = round_long_double(Fraction(dec))
    except _LongDoubleInf:
        raise CommandError(NOT_FLOAT) from None
    if result == 0:
        raise CommandError(NOT_FLOAT)
    return result


def format_long_double(x: Fraction) -> bytes:
    """ld2string in human mode: ``%.17Lf`` with trailing zeros (and the dot) trimmed."""
    q = round(x * 10**17)
    sign = "-" if q < 0 else ""
    whole, frac = divmod(abs(q), 10**17)
    digits = format(Decimal(whole), "f")  # str(int) refuses more than 4300 digits
    text = f"{sign}{digits}.{frac:017d}".rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


@command("incrbyfloat", 3, "write denyoom fast", 1, 1, 1)
def incrbyfloat_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    current = get_string(ctx, key)
    try:
        old = Fraction(0) if current is None else parse_long_double(current)
        incr = parse_long_double(argv[2])
        new = round_long_double(old + incr)
    except _LongDoubleInf:
        raise CommandError(NAN_OR_INF) from None
    text = format_long_double(new)
    if current is None:
        store(ctx, key, text, encoding="embstr")
    else:
        store(ctx, key, text, keep_ttl=True, encoding="embstr")
    ctx.dirty += 1
    ctx.notify("$", "incrbyfloat", key)
    ctx.rewrite([b"SET", key, text, b"KEEPTTL"])
    return text


# --- ranges ------------------------------------------------------------------------------


def check_string_length(size: int) -> None:
    if size > PROTO_MAX_BULK_LEN:
        raise CommandError(STRING_TOO_LONG)


@command("append", 3, "write denyoom fast", 1, 1, 1)
def append_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key, extra = argv[1], argv[2]
    current = get_string(ctx, key)
    if current is None:
        store(ctx, key, extra)
        ctx.dirty += 1
        ctx.notify("$", "append", key)
        return len(extra)
    check_string_length(len(current) + len(extra))
    ctx.db.data[key] = RawStr(current + extra)
    ctx.db.modified(key)
    ctx.dirty += 1
    ctx.notify("$", "append", key)
    return len(current) + len(extra)


@command("strlen", 2, "readonly fast", 1, 1, 1)
def strlen_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    value = get_string(ctx, argv[1], read=True)
    return 0 if value is None else len(value)


def getrange(ctx: CommandContext, argv: list[bytes]) -> Reply:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    value = get_string(ctx, argv[1], read=True)
    if value is None:
        return b""
    if start < 0 and end < 0 and start > end:
        return b""
    n = len(value)
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return bytes(value[start : end + 1])


command("getrange", 4, "readonly", 1, 1, 1)(getrange)
command("substr", 4, "readonly", 1, 1, 1)(getrange)


@command("setrange", 4, "write denyoom", 1, 1, 1)
def setrange_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key, value = argv[1], argv[3]
    offset = parse_int(argv[2])
    if offset < 0:
        raise CommandError(OFFSET_OUT_OF_RANGE)
    current = get_string(ctx, key)
    if current is None:
        if not value:
            return 0
        check_string_length(offset + len(value))
        store(ctx, key, b"\0" * offset + value, encoding="raw")
        ctx.dirty += 1
        ctx.notify("$", "setrange", key)
        return offset + len(value)
    if not value:
        return len(current)
    check_string_length(offset + len(value))
    padded = current + b"\0" * max(0, offset - len(current))
    new = padded[:offset] + value + padded[offset + len(value) :]
    ctx.db.data[key] = RawStr(new)
    ctx.db.modified(key)
    ctx.dirty += 1
    ctx.notify("$", "setrange", key)
    return len(new)


__all__ = ["EmbStr", "RawStr", "NOT_FLOAT", "string_encoding", "reattach"]


# --- LCS -------------------------------------------------------------------------------------

LCS_NOT_STRINGS = "ERR The specified keys must contain string values"


class LcsTable:
    """The lengths ``LCS(a[:i], b[:j])`` of Valkey's dynamic-programming table, kept as one
    bit vector per row (Allison-Dix/Hyyro bit-parallel LCS): a clear bit ``j`` in row ``i``
    means the length grows from column ``j`` to ``j + 1``. Rows cost a few big-integer
    operations each instead of a Python loop over every cell."""

    def __init__(self, a: bytes, b: bytes) -> None:
        full = (1 << len(b)) - 1
        matches: dict[int, int] = {}
        for j, ch in enumerate(b):
            matches[ch] = matches.get(ch, 0) | (1 << j)
        row = full
        self.rows = [row]
        for ch in a:
            u = row & matches.get(ch, 0)
            row = ((row + u) | (row - u)) & full
            self.rows.append(row)

    def at(self, i: int, j: int) -> int:
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()


@command("lcs", -3, "readonly", 1, 2, 1)
def lcs_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    """Valkey's ``lcsCommand``: the longest common subsequence by dynamic programming, walked
    back from the end; IDX lists the matching ranges from the last one to the first."""
    a_val, b_val = ctx.lookup_read(argv[1]), ctx.lookup_read(argv[2])
    if (a_val is not None and not isinstance(a_val, bytes)) or (
        b_val is not None and not isinstance(b_val, bytes)
    ):
        raise CommandError(LCS_NOT_STRINGS)
    a = a_val if isinstance(a_val, bytes) else b""
    b = b_val if isinstance(b_val, bytes) else b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j + 1 < len(argv):
            minmatchlen = max(parse_int(argv[j + 1]), 0)
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if getlen and getidx:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    if len(a) >= 2**32 - 2 or len(b) >= 2**32 - 2:
        raise CommandError("ERR String too long for LCS")
    if (len(a) + 1) * (len(b) + 1) * 4 > proto_max_bulk_len(ctx):
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    table = LcsTable(a, b)
    total = table.at(len(a), len(b))
    if getlen:
        return total
    result = bytearray(total)
    matches: list[Reply] = []
    idx = total
    i, j = len(a), len(b)
    a_start = a_end = b_start = b_end = -1  # -1: no range open
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start < 0:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if table.at(i - 1, j) > table.at(i, j - 1):
                i -= 1
            else:
                j -= 1
            emit = a_start >= 0
        if emit:
            match_len = a_end - a_start + 1
            if getidx and (minmatchlen == 0 or match_len >= minmatchlen):
                entry: list[Reply] = [[a_start, a_end], [b_start, b_end]]
                if withmatchlen:
                    entry.append(match_len)
                matches.append(entry)
            a_start = -1
    if getidx:
        return MapReply([(b"matches", matches), (b"len", total)])
    return bytes(result)
