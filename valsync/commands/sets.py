"""Set commands, mirroring Valkey 8.1's ``t_set.c`` reply for reply.

Sets are plain ``set[bytes]``, so member order differs from Valkey's intset/listpack/hashtable
order; replies that Valkey builds with ``addReplySetLen`` are :class:`SetReply` (``~`` in RESP3).
Random pops propagate as the ``SREM``/``UNLINK`` that Valkey writes to the stream, never as SPOP.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterable

from valsync.commands.context import CommandContext
from valsync.commands.encodings import (
    add_to_set,
    encoding_limits,
    grow_set_hint,
    new_set,
    set_encoding,
)
from valsync.commands.errors import (
    NOT_INTEGER,
    NOT_OUT_OF_RANGE_POSITIVE,
    SYNTAX,
    CommandError,
    parse_int,
)
from valsync.commands.registry import command
from valsync.keyspace.glob import stringmatch as stringmatch  # re-exported for hashes.py
from valsync.keyspace.values import SetValue
from valsync.resp.reply import Reply, SetReply

LONG_MAX = 2**63 - 1
SPOP_MOVE_STRATEGY_MUL = 5
SPOP_BATCH = 1024
# Valkey answers a whole small collection (listpack/intset) in one SCAN call with cursor 0.
SCAN_SMALL = 128
_HASH_MASK = 2**62 - 1


# --- helpers shared with zsets ---------------------------------------------------------------


def parse_positive(arg: bytes, error: str | None = None) -> int:
    """``getPositiveLongFromObjectOrReply``: a non-negative long; one message (by default
    "must be positive") for both a bad number and a negative one."""
    return parse_range(arg, 0, LONG_MAX, error or NOT_OUT_OF_RANGE_POSITIVE)


def parse_range(arg: bytes, lo: int, hi: int, error: str | None = None) -> int:
    """``getRangeLongFromObjectOrReply``, with the same ``error`` rule."""
    value = parse_int(arg, error or NOT_INTEGER)
    if value < lo or value > hi:
        raise CommandError(error or f"ERR value is out of range, value must between {lo} and {hi}")
    return value


def parse_cursor(arg: bytes) -> int:
    """``string2ull``: an unsigned 64-bit decimal cursor."""
    if not arg.isdigit() or len(arg) > 20 or int(arg) > 2**64 - 1:
        raise CommandError("ERR invalid cursor")
    return int(arg)


def parse_scan_options(
    argv: list[bytes], only_keys_option: bytes | None
) -> tuple[int, bytes | None, bool]:
    """COUNT, MATCH and the keys-only flag after ``key cursor``, as ``scanGenericCommand``
    reads them; ``only_keys_option`` is the flag this command accepts (``noscores`` for ZSCAN,
    ``novalues`` for HSCAN, None for SSCAN)."""
    count, pattern, only_keys = 10, None, False
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        left = len(argv) - i
        if opt == b"count" and left >= 2:
            count = parse_int(argv[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
            i += 2
        elif opt == b"match" and left >= 2:
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
            i += 2
        elif opt in (b"novalues", b"noscores"):
            if opt != only_keys_option:
                owner = "HSCAN" if opt == b"novalues" else "ZSCAN"
                raise CommandError(f"ERR {opt.decode().upper()} option can only be used in {owner}")
            only_keys = True
            i += 1
        else:
            raise CommandError(SYNTAX)
    return count, pattern, only_keys


def scan_members(
    members: Iterable[bytes], size: int, cursor: int, count: int
) -> tuple[int, list[bytes]]:
    """One SCAN step: small collections whole (cursor 0, as Valkey does for listpacks), big ones
    in order of the member's hash, so members present throughout a scan are always seen.
    ``hash(bytes)`` is cached on the object and stable for the life of the process, which is
    as long as a cursor needs to live."""
    if size <= SCAN_SMALL:
        return 0, list(members)
    batch = heapq.nsmallest(
        count + 1, ((h, m) for m in members if (h := (hash(m) & _HASH_MASK) + 1) >= cursor)
    )
    if len(batch) <= count:
        return 0, [m for _, m in batch]
    return batch[count][0], [m for _, m in batch[:count]]


def _scan_cached(s: SetValue, cursor: int, count: int) -> tuple[int, list[bytes]]:
    """:func:`scan_members` over the set's (hash, member) order, sorted once per change, so a
    whole SSCAN of an unchanging set costs O(n log n), not O(n) per call."""
    order = s.scan_order
    if order is None:
        order = s.scan_order = sorted(((hash(m) & _HASH_MASK) + 1, m) for m in s)
    start = bisect.bisect_left(order, (cursor, b""))
    batch = order[start : start + count + 1]
    if len(batch) <= count:
        return 0, [m for _, m in batch]
    return batch[count][0], [m for _, m in batch[:count]]


# --- set helpers -----------------------------------------------------------------------------


def _set(ctx: CommandContext, key: bytes, read: bool = False) -> set[bytes] | None:
    return ctx.lookup_typed(key, set, read=read)


def _store_set(ctx: CommandContext, dst: bytes, result: set[bytes], event: str) -> int:
    """Store ``result`` at ``dst`` (overwriting any type), or delete ``dst`` when empty."""
    db = ctx.db
    if result:
        db.set(dst, result)
        ctx.notify("s", event, dst)
        ctx.dirty += 1
    elif db.delete(dst):
        ctx.notify("g", "del", dst)
        ctx.dirty += 1
    return len(result)


def _remove_members(
    ctx: CommandContext, key: bytes, s: set[bytes], members: Iterable[bytes]
) -> None:
    for m in members:
        s.discard(m)
    if not s:
        ctx.db.delete(key)
        ctx.notify("g", "del", key)
    else:
        ctx.db.modified(key)


# --- commands --------------------------------------------------------------------------------


@command("sadd", -3, "write denyoom fast", 1, 1, 1)
def sadd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    s = _set(ctx, key)
    limits = encoding_limits(ctx)
    if s is None:
        s = new_set(argv[2], len(argv) - 2, limits)
        ctx.db.set(key, s)
    else:
        grow_set_hint(s, len(argv) - 2, limits)
    added = add_to_set(s, argv[2:], limits)
    if added:
        ctx.db.modified(key)
        ctx.notify("s", "sadd", key)
    ctx.dirty += added
    return added


@command("srem", -3, "write fast", 1, 1, 1)
def srem(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    s = _set(ctx, key)
    if s is None:
        return 0
    deleted = 0
    for m in argv[2:]:
        if m in s:
            s.remove(m)
            deleted += 1
            if not s:
                break
    if deleted:
        ctx.notify("s", "srem", key)
        if not s:
            ctx.db.delete(key)
            ctx.notify("g", "del", key)
        else:
            ctx.db.modified(key)
        ctx.dirty += deleted
    return deleted


@command("smembers", 2, "readonly", 1, 1, 1)
def smembers(ctx: CommandContext, argv: list[bytes]) -> Reply:
    s = _set(ctx, argv[1], read=True)
    return SetReply(list(s) if s else [])


@command("sismember", 3, "readonly fast", 1, 1, 1)
def sismember(ctx: CommandContext, argv: list[bytes]) -> Reply:
    s = _set(ctx, argv[1], read=True)
    return int(s is not None and argv[2] in s)


@command("smismember", -3, "readonly fast", 1, 1, 1)
def smismember(ctx: CommandContext, argv: list[bytes]) -> Reply:
    s = _set(ctx, argv[1], read=True) or set()
    return [int(m in s) for m in argv[2:]]


@command("scard", 2, "readonly fast", 1, 1, 1)
def scard(ctx: CommandContext, argv: list[bytes]) -> Reply:
    s = _set(ctx, argv[1], read=True)
    return len(s) if s else 0


def _lazy_server_del(ctx: CommandContext) -> bool:
    """``lazyfree-lazy-server-del`` (default yes): SPOP of a whole set propagates UNLINK."""
    config = getattr(ctx.server, "config", None)
    return config is None or bool(config.get_bool("lazyfree-lazy-server-del"))


def _random_members(ctx: CommandContext, s: set[bytes], n: int) -> list[bytes]:
    """``n`` distinct random members (``n`` <= ``len(s)``) in one walk, without copying a big
    set for a small pick (Python sets have no random access)."""
    if n * 2 > len(s):
        return ctx.rng.sample(list(s), n)
    wanted = sorted(ctx.rng.sample(range(len(s)), n))
    out: list[bytes] = []
    it = iter(s)
    pos = 0
    for target in wanted:
        out.append(next(itertools.islice(it, target - pos, None)))
        pos = target + 1
    return out


@command("spop", -2, "write fast", 1, 1, 1)
def spop(ctx: CommandContext, argv: list[bytes]) -> Reply:
    """Pops propagate as ``SREM key m...`` (in batches of 1024), or ``UNLINK key`` when the
    count covers the whole set, like ``spopWithCountCommand``."""
    key = argv[1]
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    if len(argv) == 2:
        s = _set(ctx, key)
        if s is None:
            return None
        member = _random_members(ctx, s, 1)[0]
        ctx.notify("s", "spop", key)
        _remove_members(ctx, key, s, [member])
        ctx.rewrite([b"SREM", key, member])
        ctx.dirty += 1
        return member
    count = parse_positive(argv[2])
    s = _set(ctx, key)
    if s is None or count == 0:
        return SetReply([])
    size = len(s)
    if count >= size:
        members = list(s)
        ctx.db.delete(key)
        ctx.notify("s", "spop", key)
        ctx.notify("g", "del", key)
        ctx.dirty += size
        ctx.rewrite([b"UNLINK" if _lazy_server_del(ctx) else b"DEL", key])
        return SetReply(list(members))
    popped = _random_members(ctx, s, count)
    if (size - count) * SPOP_MOVE_STRATEGY_MUL <= count and isinstance(s, SetValue):
        # Valkey moves the remaining members of a hashtable into a new listpack (which converts
        # back to a hashtable if they don't fit)
        if set_encoding(s, encoding_limits(ctx)) == "hashtable":
            s.encoding = "listpack"
    ctx.notify("s", "spop", key)
    _remove_members(ctx, key, s, popped)
    ctx.dirty += count
    for i in range(0, count, SPOP_BATCH):
        ctx.also_propagate([b"SREM", key, *popped[i : i + SPOP_BATCH]])
    ctx.prevent_propagation()
    return SetReply(list(popped))


@command("srandmember", -2, "readonly", 1, 1, 1)
def srandmember(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    if len(argv) == 2:
        s = _set(ctx, argv[1], read=True)
        return None if s is None else _random_members(ctx, s, 1)[0]
    n = parse_range(argv[2], -LONG_MAX, LONG_MAX)
    s = _set(ctx, argv[1], read=True)
    if s is None or n == 0:
        return []
    if n < 0:
        pool = list(s)
        return [ctx.rng.choice(pool) for _ in range(-n)]
    if n >= len(s):
        return list(s)
    return list(_random_members(ctx, s, n))


@command("smove", 4, "write fast", 1, 2, 1)
def smove(ctx: CommandContext, argv: list[bytes]) -> Reply:
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    # Valkey looks both keys up (expiring them) before it checks anything.
    missing = ctx.lookup(src_key) is None
    ctx.lookup(dst_key)
    if missing:
        return 0
    src = _set(ctx, src_key)
    dst = _set(ctx, dst_key)
    assert src is not None
    if src is dst:
        return int(member in src)
    if member not in src:
        return 0
    ctx.notify("s", "srem", src_key)
    _remove_members(ctx, src_key, src, [member])
    ctx.dirty += 1
    limits = encoding_limits(ctx)
    if dst is None:
        dst = new_set(member, 1, limits)
        ctx.db.set(dst_key, dst)
    if add_to_set(dst, [member], limits):
        ctx.db.modified(dst_key)
        ctx.notify("s", "sadd", dst_key)
        ctx.dirty += 1
    return 1


def _lookup_sets(ctx: CommandContext, keys: list[bytes]) -> list[set[bytes] | None]:
    """Every key's set (None when missing); WRONGTYPE on the first non-set, as Valkey checks all."""
    return [_set(ctx, k, read=True) for k in keys]


def _intersect(sets: list[set[bytes] | None], limit: int = 0) -> set[bytes] | None:
    """The intersection, or None when an input is missing (Valkey's early return)."""
    if any(s is None for s in sets):
        return None
    present = sorted((s for s in sets if s is not None), key=len)
    first, rest = present[0], present[1:]
    out: set[bytes] = set()
    for m in first:
        if all(m in other for other in rest):
            out.add(m)
            if limit and len(out) >= limit:
                break
    return out


def _union(sets: list[set[bytes] | None]) -> set[bytes]:
    out: set[bytes] = set()
    for s in sets:
        if s:
            out |= s
    return out


def _diff(sets: list[set[bytes] | None]) -> set[bytes]:
    first = sets[0]
    if not first:
        return set()
    out = set(first)
    for s in sets[1:]:
        if s is first:
            return set()
        if s:
            out -= s
    return out


@command("sinter", -2, "readonly", 1, -1, 1)
def sinter(ctx: CommandContext, argv: list[bytes]) -> Reply:
    result = _intersect(_lookup_sets(ctx, argv[1:]))
    return SetReply(list(result) if result else [])


@command("sintercard", -3, "readonly")
def sintercard(ctx: CommandContext, argv: list[bytes]) -> Reply:
    numkeys = parse_range(argv[1], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    while j < len(argv):
        if argv[j].lower() == b"limit" and len(argv) - 1 - j > 0:
            limit = parse_positive(argv[j + 1], "ERR LIMIT can't be negative")
            j += 2
        else:
            raise CommandError(SYNTAX)
    result = _intersect(_lookup_sets(ctx, argv[2 : 2 + numkeys]), limit)
    return len(result) if result else 0


@command("sinterstore", -3, "write denyoom", 1, -1, 1)
def sinterstore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    result = _intersect(_lookup_sets(ctx, argv[2:]))
    return _store_set(ctx, argv[1], result or set(), "sinterstore")


@command("sunion", -2, "readonly", 1, -1, 1)
def sunion(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return SetReply(list(_union(_lookup_sets(ctx, argv[1:]))))


@command("sunionstore", -3, "write denyoom", 1, -1, 1)
def sunionstore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _store_set(ctx, argv[1], _union(_lookup_sets(ctx, argv[2:])), "sunionstore")


@command("sdiff", -2, "readonly", 1, -1, 1)
def sdiff(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return SetReply(list(_diff(_lookup_sets(ctx, argv[1:]))))


@command("sdiffstore", -3, "write denyoom", 1, -1, 1)
def sdiffstore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _store_set(ctx, argv[1], _diff(_lookup_sets(ctx, argv[2:])), "sdiffstore")


@command("sscan", -3, "readonly", 1, 1, 1)
def sscan(ctx: CommandContext, argv: list[bytes]) -> Reply:
    cursor = parse_cursor(argv[2])
    s = _set(ctx, argv[1], read=True)
    if s is None:
        return [b"0", []]
    count, pattern, _ = parse_scan_options(argv, None)
    if isinstance(s, SetValue) and len(s) > SCAN_SMALL:
        nxt, members = _scan_cached(s, cursor, count)
    else:
        nxt, members = scan_members(s, len(s), cursor, count)
    if pattern is not None:
        members = [m for m in members if stringmatch(pattern, m)]
    return [str(nxt).encode(), list(members)]
