"""List commands, mirroring Valkey 8.1's ``t_list.c`` reply for reply.

Lists are ``collections.deque[bytes]``. A list that becomes empty is deleted, as Valkey never
keeps an empty list. Blocking pops return a :class:`BlockRequest` when nothing can be served;
the connection re-runs the same argv when a key is touched, so every handler here is
idempotent until it actually pops. What is propagated follows Valkey: a served blocking pop
goes down the stream as its non-blocking form (``BLPOP`` -> ``LPOP key``, ``BLMPOP`` ->
``LPOP key n`` with n the number popped, ``BLMOVE`` -> ``LMOVE``, ``BRPOPLPUSH`` ->
``RPOPLPUSH``), and ``LMPOP`` likewise as ``LPOP``/``RPOP key n``.
"""

from __future__ import annotations

import math
from collections import deque

from valsync.commands.context import BlockRequest, CommandContext
from valsync.commands.errors import (
    INDEX_OUT_OF_RANGE,
    NO_SUCH_KEY,
    NOT_INTEGER,
    NOT_OUT_OF_RANGE_POSITIVE,
    SYNTAX,
    TIMEOUT_NEGATIVE,
    TIMEOUT_NOT_FLOAT,
    TIMEOUT_OUT_OF_RANGE,
    CommandError,
    parse_int,
    wrong_arity,
)
from valsync.commands.registry import command
from valsync.commands.strings import _LongDoubleInf, parse_long_double, round_long_double
from valsync.resp.reply import NULL_ARRAY, OK, Reply

LONG_MAX = 2**63 - 1
LLONG_MAX = 2**63 - 1
List = deque[bytes]


# --- parsing --------------------------------------------------------------------------------


def _range_long(arg: bytes, lo: int, hi: int, error: str | None = None) -> int:
    """``getRangeLongFromObjectOrReply``: one custom message covers both failures."""
    value = parse_int(arg, error or NOT_INTEGER)
    if value < lo or value > hi:
        raise CommandError(error or f"ERR value is out of range, value must between {lo} and {hi}")
    return value


def _where(arg: bytes) -> bool:
    """LEFT -> True (head), RIGHT -> False; anything else is a syntax error."""
    low = arg.lower()
    if low == b"left":
        return True
    if low == b"right":
        return False
    raise CommandError(SYNTAX)


def parse_timeout(ctx: CommandContext, arg: bytes) -> int | None:
    """Valkey's ``getTimeoutFromObjectOrReply`` in seconds: the absolute deadline in ms, or
    None for 0 (block forever). Like Valkey, the seconds are a long double (strtold syntax),
    multiplied by 1000 in long double and rounded up."""
    try:
        seconds = parse_long_double(arg)
    except CommandError:
        raise CommandError(TIMEOUT_NOT_FLOAT) from None
    except _LongDoubleInf:
        raise CommandError(
            TIMEOUT_NEGATIVE if arg.startswith(b"-") else TIMEOUT_OUT_OF_RANGE
        ) from None
    try:
        ms = round_long_double(seconds * 1000)
    except _LongDoubleInf:
        raise CommandError(TIMEOUT_NEGATIVE if seconds < 0 else TIMEOUT_OUT_OF_RANGE) from None
    if ms > LLONG_MAX:
        raise CommandError(TIMEOUT_OUT_OF_RANGE)
    tval = math.ceil(ms)
    if tval < 0:
        raise CommandError(TIMEOUT_NEGATIVE)
    if tval == 0:
        return None
    if tval > LLONG_MAX - ctx.now_ms:
        raise CommandError(TIMEOUT_OUT_OF_RANGE)
    return ctx.now_ms + tval


# --- shared mechanics -----------------------------------------------------------------------


def _list(ctx: CommandContext, key: bytes, read: bool = False) -> List | None:
    return ctx.lookup_typed(key, deque, read=read)


def _changed(ctx: CommandContext, key: bytes, lst: List, n: int = 1) -> None:
    """After an in-place change: delete an emptied list (a ``del`` event), else signal the
    modification."""
    if lst:
        ctx.db.modified(key)
    else:
        ctx.db.delete(key)
        ctx.notify("g", "del", key)
    ctx.dirty += n


def _popped(ctx: CommandContext, key: bytes, lst: List, head: bool, n: int = 1) -> None:
    """Valkey's ``listElementsRemoved``: the ``lpop``/``rpop`` event, then the cleanup."""
    ctx.notify("l", "lpop" if head else "rpop", key)
    _changed(ctx, key, lst, n)


def _pop(lst: List, head: bool) -> bytes:
    return lst.popleft() if head else lst.pop()


def _push(ctx: CommandContext, key: bytes, items: list[bytes], head: bool, create: bool) -> int:
    lst = _list(ctx, key)
    if lst is None:
        if not create:
            return 0
        lst = deque()
        ctx.db.set(key, lst)
    if head:
        lst.extendleft(items)
    else:
        lst.extend(items)
    ctx.db.modified(key)
    ctx.dirty += len(items)
    ctx.notify("l", "lpush" if head else "rpush", key)
    return len(lst)


def _blocking_denied(ctx: CommandContext) -> bool:
    """Inside MULTI/EXEC (Valkey's ``CLIENT_DENY_BLOCKING``) a blocking pop answers at once."""
    return ctx.in_multi_exec or ctx.client.in_multi


def _still_blocked(ctx: CommandContext, keys: list[bytes]) -> bool:
    """On a re-run after a wake-up: True when no key holds a list yet.

    Valkey only serves a blocked client when a key it waits on holds a list (a key deleted or
    turned into another type leaves it blocked, with no WRONGTYPE); once served, the command
    runs again from the start. The check has no side effects (``LOOKUP_NOEFFECTS``)."""
    if not ctx.client.extra.get("unblocked_rerun"):
        return False
    db = ctx.db
    return not any(
        isinstance(db.data.get(key), deque) and not db.is_expired(key, ctx.now_ms) for key in keys
    )


def _block(ctx: CommandContext, keys: list[bytes], deadline: int | None) -> BlockRequest:
    """Block; a re-run after a wake-up keeps the first deadline, as Valkey's blocked client does."""
    extra = ctx.client.extra
    if extra.get("unblocked_rerun") and "list_block_deadline" in extra:
        deadline = extra["list_block_deadline"]
    extra["list_block_deadline"] = deadline
    # Valkey answers a timed-out list block with a null array, whatever the command.
    return BlockRequest(keys=tuple(keys), deadline_ms=deadline, timeout_reply=NULL_ARRAY)


# --- push / length / read -------------------------------------------------------------------


@command("lpush", -3, "write denyoom fast", 1, 1, 1)
def lpush(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) == 3:
        # one element, the usual form: _push's work, inline
        key = argv[1]
        db = ctx.keyspace.dbs[ctx.client.db]  # ctx.db, without the property's call
        lst = ctx.lookup_or_create(key, deque, db)
        lst.appendleft(argv[2])
        db.modified(key)
        ctx.dirty += 1
        server = ctx.server
        if server is not None and server.notify_classes:
            server.notify_keyspace_event("l", "lpush", key, ctx.client.db)
        return len(lst)
    return _push(ctx, argv[1], argv[2:], True, True)


@command("rpush", -3, "write denyoom fast", 1, 1, 1)
def rpush(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _push(ctx, argv[1], argv[2:], False, True)


@command("lpushx", -3, "write denyoom fast", 1, 1, 1)
def lpushx(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _push(ctx, argv[1], argv[2:], True, False)


@command("rpushx", -3, "write denyoom fast", 1, 1, 1)
def rpushx(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _push(ctx, argv[1], argv[2:], False, False)


@command("llen", 2, "readonly fast", 1, 1, 1)
def llen(ctx: CommandContext, argv: list[bytes]) -> Reply:
    lst = _list(ctx, argv[1], read=True)
    return 0 if lst is None else len(lst)


def _clamp_range(start: int, end: int, n: int) -> tuple[int, int] | None:
    """Valkey's LRANGE/LTRIM index rules: the inclusive ``[start, end]`` slice, or None."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return None
    if end >= n:
        end = n - 1
    return start, end


@command("lrange", 4, "readonly", 1, 1, 1)
def lrange(ctx: CommandContext, argv: list[bytes]) -> Reply:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    lst = _list(ctx, argv[1], read=True)
    if lst is None:
        return []
    span = _clamp_range(start, end, len(lst))
    if span is None:
        return []
    if span[0] == 0 and span[1] == len(lst) - 1:
        return list(lst)
    return [lst[i] for i in range(span[0], span[1] + 1)]


@command("lindex", 3, "readonly", 1, 1, 1)
def lindex(ctx: CommandContext, argv: list[bytes]) -> Reply:
    lst = _list(ctx, argv[1], read=True)
    if lst is None:
        return None
    index = parse_int(argv[2])
    if index < 0:
        index += len(lst)
    if 0 <= index < len(lst):
        return lst[index]
    return None


@command("lpos", -3, "readonly", 1, 1, 1)
def lpos(ctx: CommandContext, argv: list[bytes]) -> Reply:
    rank, count, maxlen = 1, -1, 0
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        more = len(argv) - 1 - i
        if opt == b"rank" and more:
            rank = _range_long(argv[i + 1], -LONG_MAX, LONG_MAX)
            if rank == 0:
                raise CommandError(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"
                )
        elif opt == b"count" and more:
            count = _range_long(argv[i + 1], 0, LONG_MAX, "ERR COUNT can't be negative")
        elif opt == b"maxlen" and more:
            maxlen = _range_long(argv[i + 1], 0, LONG_MAX, "ERR MAXLEN can't be negative")
        else:
            raise CommandError(SYNTAX)
        i += 2
    lst = _list(ctx, argv[1], read=True)
    if lst is None:
        return [] if count != -1 else None
    element = argv[2]
    n = len(lst)
    order = range(n) if rank > 0 else range(n - 1, -1, -1)
    skip = abs(rank) - 1
    found: list[int] = []
    for compared, idx in enumerate(order):
        if maxlen and compared >= maxlen:
            break
        if lst[idx] == element:
            if skip:
                skip -= 1
                continue
            found.append(idx)
            if count != 0 and len(found) >= max(count, 1):
                break
    if count == -1:
        return found[0] if found else None
    return list(found)


# --- in-place writes ------------------------------------------------------------------------


@command("lset", 4, "write denyoom", 1, 1, 1)
def lset(ctx: CommandContext, argv: list[bytes]) -> Reply:
    lst = _list(ctx, argv[1])
    if lst is None:
        raise CommandError(NO_SUCH_KEY)
    # Valkey's listTypeReplaceAtIndex takes an int: the index wraps to 32 bits.
    index = (parse_int(argv[2]) + 2**31) % 2**32 - 2**31
    if index < 0:
        index += len(lst)
    if not 0 <= index < len(lst):
        raise CommandError(INDEX_OUT_OF_RANGE)
    lst[index] = argv[3]
    ctx.notify("l", "lset", argv[1])
    _changed(ctx, argv[1], lst)
    return OK


@command("linsert", 5, "write denyoom", 1, 1, 1)
def linsert(ctx: CommandContext, argv: list[bytes]) -> Reply:
    where = argv[2].lower()
    if where not in (b"before", b"after"):
        raise CommandError(SYNTAX)
    lst = _list(ctx, argv[1])
    if lst is None:
        return 0
    try:
        idx = lst.index(argv[3])
    except ValueError:
        return -1
    lst.insert(idx if where == b"before" else idx + 1, argv[4])
    ctx.notify("l", "linsert", argv[1])
    _changed(ctx, argv[1], lst)
    return len(lst)


@command("lrem", 4, "write", 1, 1, 1)
def lrem(ctx: CommandContext, argv: list[bytes]) -> Reply:
    count = _range_long(argv[2], -LONG_MAX, LONG_MAX)
    lst = _list(ctx, argv[1])
    if lst is None:
        return 0
    element = argv[3]
    limit = abs(count)
    removed = 0
    items = list(lst) if count >= 0 else list(reversed(lst))
    kept: list[bytes] = []
    for item in items:
        if item == element and (limit == 0 or removed < limit):
            removed += 1
        else:
            kept.append(item)
    if removed:
        if count < 0:
            kept.reverse()
        lst.clear()
        lst.extend(kept)
        ctx.notify("l", "lrem", argv[1])
        _changed(ctx, argv[1], lst, removed)
    return removed


@command("ltrim", 4, "write", 1, 1, 1)
def ltrim(ctx: CommandContext, argv: list[bytes]) -> Reply:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    lst = _list(ctx, argv[1])
    if lst is None:
        return OK
    n = len(lst)
    span = _clamp_range(start, end, n)
    if span is None:
        ltrim_head, ltrim_tail = n, 0
    else:
        ltrim_head, ltrim_tail = span[0], n - span[1] - 1
    for _ in range(ltrim_head):
        lst.popleft()
    for _ in range(ltrim_tail):
        lst.pop()
    # Valkey counts only removed elements as dirty, so an LTRIM that removed none is not
    # propagated.
    ctx.notify("l", "ltrim", argv[1])
    _changed(ctx, argv[1], lst, ltrim_head + ltrim_tail)
    return OK


# --- pops -----------------------------------------------------------------------------------


def _pop_command(ctx: CommandContext, argv: list[bytes], head: bool) -> Reply:
    count = -1
    if len(argv) > 3:
        raise CommandError(wrong_arity(argv[0].decode("latin-1").lower()))
    if len(argv) == 3:
        count = _range_long(argv[2], 0, LONG_MAX, NOT_OUT_OF_RANGE_POSITIVE)
    key = argv[1]
    lst = _list(ctx, key)
    if lst is None:
        return NULL_ARRAY if count != -1 else None
    if count == -1:
        value = _pop(lst, head)
        _popped(ctx, key, lst, head)
        return value
    if count == 0:
        return []
    out = [_pop(lst, head) for _ in range(min(count, len(lst)))]
    _popped(ctx, key, lst, head, len(out))
    return list(out)


@command("lpop", -2, "write fast", 1, 1, 1)
def lpop(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _pop_command(ctx, argv, True)


@command("rpop", -2, "write fast", 1, 1, 1)
def rpop(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _pop_command(ctx, argv, False)


def _move(
    ctx: CommandContext, src: bytes, dst: bytes, from_head: bool, to_head: bool
) -> bytes | None:
    """``lmoveGenericCommand``: the destination's type is checked only once there is a value."""
    lst = _list(ctx, src)
    if lst is None:
        return None
    target = _list(ctx, dst)
    value = _pop(lst, from_head)
    if target is None and src != dst:
        target = deque()
        ctx.db.set(dst, target)
    if src == dst:
        target = lst
    assert target is not None
    if to_head:
        target.appendleft(value)
    else:
        target.append(value)
    ctx.notify("l", "lpush" if to_head else "rpush", dst)
    _popped(ctx, src, lst, from_head)
    if dst != src:
        ctx.db.modified(dst)
    return value


@command("lmove", 5, "write denyoom", 1, 2, 1)
def lmove(ctx: CommandContext, argv: list[bytes]) -> Reply:
    from_head = _where(argv[3])
    to_head = _where(argv[4])
    return _move(ctx, argv[1], argv[2], from_head, to_head)


@command("rpoplpush", 3, "write denyoom", 1, 2, 1)
def rpoplpush(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _move(ctx, argv[1], argv[2], False, True)


def _mpop_parse(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """LMPOP/BLMPOP arguments: keys, side (True = left) and count, as ``lmpopGenericCommand``."""
    numkeys = _range_long(argv[numkeys_idx], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise CommandError(SYNTAX)
    head = _where(argv[where_idx])
    count = -1
    j = where_idx + 1
    while j < len(argv):
        more = len(argv) - 1 - j
        if count == -1 and argv[j].lower() == b"count" and more:
            j += 1
            count = _range_long(argv[j], 1, LONG_MAX, "ERR count should be greater than 0")
        else:
            raise CommandError(SYNTAX)
        j += 1
    return argv[numkeys_idx + 1 : where_idx], head, 1 if count == -1 else count


def _mpop_serve(ctx: CommandContext, keys: list[bytes], head: bool, count: int) -> Reply | None:
    """Pop from the first non-empty list; rewrite to ``LPOP``/``RPOP key count`` like Valkey."""
    for key in keys:
        lst = _list(ctx, key)
        if lst is None:
            continue
        out = [_pop(lst, head) for _ in range(min(count, len(lst)))]
        _popped(ctx, key, lst, head, len(out))
        ctx.rewrite([b"LPOP" if head else b"RPOP", key, str(len(out)).encode()])
        return [key, list(out)]
    return None


@command("lmpop", -4, "write", 0, 0, 0)
def lmpop(ctx: CommandContext, argv: list[bytes]) -> Reply:
    keys, head, count = _mpop_parse(argv, 1)
    served = _mpop_serve(ctx, keys, head, count)
    return NULL_ARRAY if served is None else served


# --- blocking -------------------------------------------------------------------------------


def _bpop(ctx: CommandContext, argv: list[bytes], head: bool) -> Reply | BlockRequest:
    deadline = parse_timeout(ctx, argv[-1])
    keys = argv[1:-1]
    if _still_blocked(ctx, keys):
        return _block(ctx, keys, deadline)
    for key in keys:
        lst = _list(ctx, key)
        if lst is None:
            continue
        value = _pop(lst, head)
        _popped(ctx, key, lst, head)
        ctx.rewrite([b"LPOP" if head else b"RPOP", key])
        return [key, value]
    if _blocking_denied(ctx):
        return NULL_ARRAY
    return _block(ctx, keys, deadline)


@command("blpop", -3, "write blocking", 1, -2, 1)
def blpop(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    return _bpop(ctx, argv, True)


@command("brpop", -3, "write blocking", 1, -2, 1)
def brpop(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    return _bpop(ctx, argv, False)


def _bmove(
    ctx: CommandContext,
    argv: list[bytes],
    from_head: bool,
    to_head: bool,
    timeout_arg: bytes,
    rewrite: list[bytes],
) -> Reply | BlockRequest:
    deadline = parse_timeout(ctx, timeout_arg)
    src, dst = argv[1], argv[2]
    if _still_blocked(ctx, [src]) or _list(ctx, src) is None:
        if _blocking_denied(ctx):
            return None
        return _block(ctx, [src], deadline)
    value = _move(ctx, src, dst, from_head, to_head)
    ctx.rewrite(rewrite)
    return value


@command("blmove", 6, "write denyoom blocking", 1, 2, 1)
def blmove(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    from_head = _where(argv[3])
    to_head = _where(argv[4])
    rewrite = [b"LMOVE", argv[1], argv[2], argv[3], argv[4]]
    return _bmove(ctx, argv, from_head, to_head, argv[5], rewrite)


@command("brpoplpush", 4, "write denyoom blocking", 1, 2, 1)
def brpoplpush(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    rewrite = [b"RPOPLPUSH", argv[1], argv[2]]
    return _bmove(ctx, argv, False, True, argv[3], rewrite)


@command("blmpop", -5, "write blocking", 0, 0, 0)
def blmpop(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    deadline = parse_timeout(ctx, argv[1])
    keys, head, count = _mpop_parse(argv, 2)
    if _still_blocked(ctx, keys):
        return _block(ctx, keys, deadline)
    served = _mpop_serve(ctx, keys, head, count)
    if served is not None:
        return served
    if _blocking_denied(ctx):
        return NULL_ARRAY
    return _block(ctx, keys, deadline)
