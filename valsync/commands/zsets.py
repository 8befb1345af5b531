"""Sorted-set commands, mirroring Valkey 8.1's ``t_zset.c`` reply for reply.

Scores print through :func:`format_double` (Valkey's ``d2string``). With scores, RESP2 replies
are flat ``member, score`` arrays and RESP3 replies nest ``[member, score]`` pairs, except where
Valkey keeps them flat (ZPOPMIN without count, BZPOPMIN, ZSCAN). Blocking pops that find nothing
return a :class:`BlockRequest`; served pops propagate as ``ZPOPMIN``/``ZPOPMAX`` like Valkey.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from valsync.commands.context import BlockRequest, CommandContext
from valsync.commands.encodings import (
    DEFAULT_LIMITS,
    EncodingLimits,
    encoding_limits,
    settle_zset,
    zset_is_skiplist,
)
from valsync.commands.errors import (
    MIN_MAX_NOT_FLOAT,
    MIN_MAX_NOT_STRING,
    NOT_FLOAT,
    SYNTAX,
    TIMEOUT_NEGATIVE,
    TIMEOUT_NOT_FLOAT,
    WRONGTYPE,
    CommandError,
    parse_int,
    wrong_arity,
)
from valsync.commands.registry import command
from valsync.commands.sets import (
    LONG_MAX,
    parse_cursor,
    parse_positive,
    parse_range,
    parse_scan_options,
    scan_members,
)
from valsync.keyspace.canonical import strtod_whole as _strtod
from valsync.keyspace.glob import stringmatch
from valsync.keyspace.values import ZSetValue
from valsync.resp.reply import NULL_ARRAY, Double, Reply, format_double

NAN_SCORE = "ERR resulting score is not a number (NaN)"
LIMIT_NEEDS_BY = (
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"


def parse_score(arg: bytes, error: str = NOT_FLOAT) -> float:
    """``getDoubleFromObject``: strtod over the whole string, no leading space, no ERANGE, no NaN."""
    parsed = _strtod(arg) if arg and not arg[:1].isspace() else None
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        raise CommandError(error)
    return parsed[0]


def _parse_bound(arg: bytes) -> tuple[float, bool]:
    """One end of a score range (``zslParseRange``): leading spaces allowed, ``(`` = exclusive."""
    exclusive = arg[:1] == b"("
    text = arg[1:] if exclusive else arg
    text = text.lstrip(b" \t\n\v\f\r")
    if not text:
        return 0.0, exclusive
    parsed = _strtod(text)
    if parsed is None or math.isnan(parsed[0]):
        raise CommandError(MIN_MAX_NOT_FLOAT)
    return parsed[0], exclusive


@dataclass(frozen=True, slots=True)
class ScoreRange:
    lo: float
    lo_ex: bool
    hi: float
    hi_ex: bool

    def bounds(self, z: ZSetValue) -> tuple[int, int]:
        return z.score_bounds(self.lo, self.lo_ex, self.hi, self.hi_ex)


def parse_score_range(lo: bytes, hi: bytes) -> ScoreRange:
    lo_v, lo_ex = _parse_bound(lo)
    hi_v, hi_ex = _parse_bound(hi)
    return ScoreRange(lo_v, lo_ex, hi_v, hi_ex)


@dataclass(frozen=True, slots=True)
class LexBound:
    """``-`` (kind -1), ``+`` (kind 1) or a member with its exclusivity (kind 0)."""

    kind: int
    value: bytes = b""
    exclusive: bool = True


def _parse_lex(arg: bytes) -> LexBound:
    if arg == b"+":
        return LexBound(1)
    if arg == b"-":
        return LexBound(-1)
    if arg[:1] == b"(":
        return LexBound(0, arg[1:], True)
    if arg[:1] == b"[":
        return LexBound(0, arg[1:], False)
    raise CommandError(MIN_MAX_NOT_STRING)


@dataclass(frozen=True, slots=True)
class LexRange:
    lo: LexBound
    hi: LexBound

    def gte_min(self, m: bytes) -> bool:
        if self.lo.kind:
            return self.lo.kind < 0
        return m > self.lo.value if self.lo.exclusive else m >= self.lo.value

    def lte_max(self, m: bytes) -> bool:
        if self.hi.kind:
            return self.hi.kind > 0
        return m < self.hi.value if self.hi.exclusive else m <= self.hi.value

    def empty(self) -> bool:
        """``zslIsInLexRange``'s first test: min > max, or equal with either end exclusive."""
        lo = (self.lo.kind, self.lo.value)
        hi = (self.hi.kind, self.hi.value)
        return lo > hi or (lo == hi and (self.lo.exclusive or self.hi.exclusive))

    def bounds(self, z: ZSetValue, reverse: bool) -> tuple[int, int]:
        """Index range [start, stop) Valkey walks: from the first member >= min forward while
        <= max (or from the last <= max backward while >= min). Members are sorted when all
        scores are equal, the only case Valkey defines, so that case bisects."""
        n = len(z)
        if n == 0 or self.empty():
            return 0, 0
        idx = z.index
        first, last = idx[0], idx[-1]
        if not self.gte_min(last[1]) or not self.lte_max(first[1]):
            return 0, 0
        if first[0] == last[0]:
            score = first[0]
            if self.lo.kind:
                start = 0 if self.lo.kind < 0 else n
            elif self.lo.exclusive:
                start = int(idx.bisect_right((score, self.lo.value)))
            else:
                start = int(idx.bisect_left((score, self.lo.value)))
            if self.hi.kind:
                stop = n if self.hi.kind > 0 else 0
            elif self.hi.exclusive:
                stop = int(idx.bisect_left((score, self.hi.value)))
            else:
                stop = int(idx.bisect_right((score, self.hi.value)))
            return start, max(start, stop)
        if not reverse:
            i = 0
            while i < n and not self.gte_min(idx[i][1]):
                i += 1
            j = i
            while j < n and self.lte_max(idx[j][1]):
                j += 1
            return i, j
        j = n - 1
        while j >= 0 and not self.lte_max(idx[j][1]):
            j -= 1
        i = j
        while i >= 0 and self.gte_min(idx[i][1]):
            i -= 1
        return i + 1, j + 1


def parse_lex_range(lo: bytes, hi: bytes) -> LexRange:
    return LexRange(_parse_lex(lo), _parse_lex(hi))


# --- helpers ---------------------------------------------------------------------------------


def _zset(ctx: CommandContext, key: bytes, read: bool = False) -> ZSetValue | None:
    return ctx.lookup_typed(key, ZSetValue, read=read)


def _listpack_sized(n: int, members: Iterable[bytes], limits: EncodingLimits) -> bool:
    return n <= limits.zset_entries and all(len(m) <= limits.zset_value for m in members)


def _stored_score(z: ZSetValue, member: bytes, score: float, limits: EncodingLimits) -> float:
    """The score as Valkey keeps it: a listpack stores integral scores as integers, turning -0
    into 0, while a skiplist keeps -0."""
    if score != 0 or z.skiplist:
        return score
    n = len(z) + (member not in z.scores)
    return score + 0.0 if _listpack_sized(n, [member, *z.scores], limits) else score


def _with_scores(
    ctx: CommandContext, pairs: Iterable[tuple[float, bytes]], withscores: bool
) -> list[Reply]:
    """Members, or member/score pairs: flat in RESP2, nested pairs in RESP3."""
    out: list[Reply] = []
    if not withscores:
        out.extend(m for _, m in pairs)
    elif ctx.client.resp >= 3:
        out.extend([m, Double(s)] for s, m in pairs)
    else:
        for s, m in pairs:
            out.append(m)
            out.append(Double(s))
    return out


def _drop_if_empty(ctx: CommandContext, key: bytes, z: ZSetValue) -> None:
    if len(z) == 0:
        ctx.db.delete(key)
        ctx.notify("g", "del", key)
    else:
        ctx.db.modified(key)


def _store_zset(
    ctx: CommandContext, dst: bytes, pairs: Iterable[tuple[float, bytes]], event: str = ""
) -> int:
    """Store the result at ``dst`` (any old type), or delete ``dst`` when the result is empty;
    with ``event``, send it (or ``del``) as a keyspace event (callers without one send theirs)."""
    z = ZSetValue()
    for score, member in pairs:
        z.add(member, score)
    if _listpack_sized(len(z), z.scores, encoding_limits(ctx)):
        for member, score in list(z.scores.items()):
            if score == 0:
                z.remove(member)
                z.add(member, 0.0)
    if len(z):
        ctx.db.set(dst, z)
        if event:
            ctx.notify("z", event, dst)
        ctx.dirty += 1
    elif ctx.db.delete(dst):
        if event:
            ctx.notify("g", "del", dst)
        ctx.dirty += 1
    return len(z)


# --- ZADD / ZINCRBY / ZREM -------------------------------------------------------------------


def _zadd(ctx: CommandContext, argv: list[bytes], incr: bool) -> Reply:
    key = argv[1]
    nx = xx = gt = lt = ch = False
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            ch = True
        elif opt == b"incr":
            incr = True
        elif opt == b"gt":
            gt = True
        elif opt == b"lt":
            lt = True
        else:
            break
        i += 1
    rest = argv[i:]
    if not rest or len(rest) % 2:
        raise CommandError(SYNTAX)
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and len(rest) > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    pairs = [(parse_score(rest[j]), rest[j + 1]) for j in range(0, len(rest), 2)]
    z = _zset(ctx, key)
    added = updated = processed = 0
    score = 0.0
    limits = encoding_limits(ctx)
    if z is None and not xx:
        z = ZSetValue()
        z.skiplist = len(pairs) > limits.zset_entries  # zsetTypeCreate's size hint
        ctx.db.set(key, z)
    for score_in, member in pairs if z is not None else []:
        assert z is not None
        score = score_in
        cur = z.score(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if math.isnan(score):
                    # Only INCR (a single pair) gets here, so nothing has changed yet.
                    raise CommandError(NAN_SCORE)
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                z.add(member, _stored_score(z, member, score, limits))
                updated += 1
        elif not xx:
            z.add(member, _stored_score(z, member, score, limits))
            added += 1
            processed += 1
    ctx.dirty += added + updated
    if added or updated:
        assert z is not None
        settle_zset(z, limits)
        ctx.db.modified(key)
        ctx.notify("z", "zincr" if incr else "zadd", key)
    if incr:
        return Double(score) if processed else None
    return added + updated if ch else added


@command("zadd", -4, "write denyoom fast", 1, 1, 1)
def zadd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    text = argv[2]
    if len(argv) == 4 and text.isdigit() and len(text) <= 300:
        # ``ZADD key <digits> member``, the usual form: no option can be set, and the score is
        # what strtod reads (300 digits cannot overflow a double)
        return _zadd_plain(ctx, argv[1], float(text), argv[3])
    return _zadd(ctx, argv, False)


def _zadd_plain(ctx: CommandContext, key: bytes, score: float, member: bytes) -> int:
    """:func:`_zadd`'s work for one pair and no option, in the same order."""
    db = ctx.keyspace.dbs[ctx.client.db]  # ctx.db, without the property's call
    z = ctx.lookup_or_create(key, ZSetValue, db)
    limits = encoding_limits(ctx)
    scores = z.scores
    if not scores and limits.zset_entries < 1:
        z.skiplist = True  # a new zset: zsetTypeCreate's size hint
    cur = scores.get(member)
    if cur == score:
        return 0
    z.add(member, score if score or z.skiplist else _stored_score(z, member, score, limits))
    ctx.dirty += 1
    if not z.skiplist:
        settle_zset(z, limits)
    db.modified(key)
    server = ctx.server
    if server is not None and server.notify_classes:
        server.notify_keyspace_event("z", "zadd", key, ctx.client.db)
    return 0 if cur is not None else 1


@command("zincrby", 4, "write denyoom fast", 1, 1, 1)
def zincrby(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zadd(ctx, [argv[0], argv[1], argv[2], argv[3]], True)


@command("zrem", -3, "write fast", 1, 1, 1)
def zrem(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    z = _zset(ctx, key)
    if z is None:
        return 0
    deleted = 0
    for m in argv[2:]:
        if z.remove(m):
            deleted += 1
        if len(z) == 0:
            break
    if deleted:
        ctx.notify("z", "zrem", key)
        _drop_if_empty(ctx, key, z)
        ctx.dirty += deleted
    return deleted


# --- reads -----------------------------------------------------------------------------------


@command("zscore", 3, "readonly fast", 1, 1, 1)
def zscore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    z = _zset(ctx, argv[1], read=True)
    s = None if z is None else z.score(argv[2])
    return None if s is None else Double(s)


@command("zmscore", -3, "readonly fast", 1, 1, 1)
def zmscore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    z = _zset(ctx, argv[1], read=True)
    out: list[Reply] = []
    for m in argv[2:]:
        s = None if z is None else z.score(m)
        out.append(None if s is None else Double(s))
    return out


@command("zcard", 2, "readonly fast", 1, 1, 1)
def zcard(ctx: CommandContext, argv: list[bytes]) -> Reply:
    z = _zset(ctx, argv[1], read=True)
    return 0 if z is None else len(z)


@command("zcount", 4, "readonly fast", 1, 1, 1)
def zcount(ctx: CommandContext, argv: list[bytes]) -> Reply:
    rng = parse_score_range(argv[2], argv[3])
    z = _zset(ctx, argv[1], read=True)
    if z is None:
        return 0
    start, stop = rng.bounds(z)
    return stop - start


@command("zlexcount", 4, "readonly fast", 1, 1, 1)
def zlexcount(ctx: CommandContext, argv: list[bytes]) -> Reply:
    rng = parse_lex_range(argv[2], argv[3])
    z = _zset(ctx, argv[1], read=True)
    if z is None:
        return 0
    start, stop = rng.bounds(z, False)
    return stop - start


def _rank_bounds(n: int, start: int, end: int) -> tuple[int, int] | None:
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    if start > end or start >= n:
        return None
    return start, min(end, n - 1) + 1


def _is_skiplist(z: ZSetValue) -> bool:
    """Whether Valkey would hold ``z`` as a skiplist (judged against the default limits where
    no conversion was recorded)."""
    return zset_is_skiplist(z, DEFAULT_LIMITS)


def _negative_offset(
    z: ZSetValue, start: int, stop: int, reverse: bool, offset: int, limit: int
) -> list[tuple[float, bytes]]:
    """A negative LIMIT offset: a listpack walk runs off the end (nothing), while
    ``zslNthInRange`` counts it from the end of the range (forward) or, reversed, takes
    rank ``-offset - 1`` from the start of the range and walks back."""
    if not _is_skiplist(z):
        return []
    if not reverse:
        first = stop + offset
        if first < start or first < 0:
            return []
        return z.entries(first, stop if limit < 0 else min(stop, first + limit))
    pos = start - offset - 1
    if pos >= stop:
        return []
    return z.entries(start if limit < 0 else max(start, pos - limit + 1), pos + 1, True)


def _range_entries(
    z: ZSetValue,
    kind: str,
    lo: bytes,
    hi: bytes,
    reverse: bool,
    offset: int,
    limit: int,
) -> list[tuple[float, bytes]]:
    """The (score, member) pairs a Z*RANGE* selects, in reply order (arguments pre-parsed)."""
    n = len(z)
    if kind == "rank":
        b = _rank_bounds(n, int(lo), int(hi))
        if b is None:
            return []
        start, stop = b
        if reverse:
            start, stop = n - stop, n - start
        return z.entries(start, stop, reverse)
    if offset > 0 and offset >= n:
        return []
    if kind == "score":
        start, stop = parse_score_range(lo, hi).bounds(z)
    else:
        start, stop = parse_lex_range(lo, hi).bounds(z, reverse)
    if offset < 0:
        return _negative_offset(z, start, stop, reverse, offset, limit)
    if reverse:
        stop -= offset
    else:
        start += offset
    if start >= stop:
        return []
    if limit >= 0:
        if reverse:
            start = max(start, stop - limit)
        else:
            stop = min(stop, start + limit)
    return z.entries(start, stop, reverse)


def _zrange_generic(
    ctx: CommandContext,
    argv: list[bytes],
    src_at: int,
    store: bool,
    kind: str | None,
    reverse: bool | None,
) -> tuple[list[tuple[float, bytes]], bool] | None:
    """``zrangeGenericCommand``: parse options and the range, then select. None: no key."""
    key = argv[src_at]
    withscores = False
    offset, limit = 0, -1
    limit_given = False
    j = src_at + 3
    while j < len(argv):
        opt = argv[j].lower()
        left = len(argv) - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            limit_given = True
            j += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif kind is None and opt == b"bylex":
            kind = "lex"
        elif kind is None and opt == b"byscore":
            kind = "score"
        else:
            raise CommandError(SYNTAX)
        j += 1
    reverse = bool(reverse)
    kind = kind or "rank"
    if limit_given and limit != -1 and kind == "rank":
        raise CommandError(LIMIT_NEEDS_BY)
    if withscores and kind == "lex":
        raise CommandError(WITHSCORES_BYLEX)
    lo, hi = argv[src_at + 1], argv[src_at + 2]
    if reverse and kind != "rank":
        lo, hi = hi, lo
    if kind == "rank":
        lo = str(parse_int(lo)).encode()
        hi = str(parse_int(hi)).encode()
    elif kind == "score":
        parse_score_range(lo, hi)
    else:
        parse_lex_range(lo, hi)
    z = _zset(ctx, key, read=True)
    if z is None:
        return None
    return _range_entries(z, kind, lo, hi, reverse, offset, limit), withscores


def _zrange_reply(
    ctx: CommandContext, argv: list[bytes], kind: str | None, reverse: bool | None
) -> Reply:
    result = _zrange_generic(ctx, argv, 1, False, kind, reverse)
    if result is None:
        return []
    entries, withscores = result
    return _with_scores(ctx, entries, withscores)


@command("zrange", -4, "readonly", 1, 1, 1)
def zrange(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrange_reply(ctx, argv, None, None)


@command("zrevrange", -4, "readonly", 1, 1, 1)
def zrevrange(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrange_reply(ctx, argv, "rank", True)


@command("zrangebyscore", -4, "readonly", 1, 1, 1)
def zrangebyscore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrange_reply(ctx, argv, "score", False)


@command("zrevrangebyscore", -4, "readonly", 1, 1, 1)
def zrevrangebyscore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrange_reply(ctx, argv, "score", True)


@command("zrangebylex", -4, "readonly", 1, 1, 1)
def zrangebylex(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrange_reply(ctx, argv, "lex", False)


@command("zrevrangebylex", -4, "readonly", 1, 1, 1)
def zrevrangebylex(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrange_reply(ctx, argv, "lex", True)


@command("zrangestore", -5, "write denyoom", 1, 2, 1)
def zrangestore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    result = _zrange_generic(ctx, argv, 2, True, None, None)
    return _store_zset(ctx, argv[1], result[0] if result else [], "zrangestore")


def _zrank(ctx: CommandContext, argv: list[bytes], reverse: bool) -> Reply:
    if len(argv) > 4:
        raise CommandError(wrong_arity(argv[0].decode("utf-8", "replace").lower()))
    withscore = False
    if len(argv) == 4:
        if argv[3].lower() != b"withscore":
            raise CommandError(SYNTAX)
        withscore = True
    z = _zset(ctx, argv[1], read=True)
    rank = None if z is None else z.rank(argv[2])
    if z is None or rank is None:
        return NULL_ARRAY if withscore else None
    if reverse:
        rank = len(z) - 1 - rank
    if withscore:
        s = z.score(argv[2])
        assert s is not None
        return [rank, Double(s)]
    return rank


@command("zrank", -3, "readonly fast", 1, 1, 1)
def zrank(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrank(ctx, argv, False)


@command("zrevrank", -3, "readonly fast", 1, 1, 1)
def zrevrank(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zrank(ctx, argv, True)


# --- ZREMRANGEBY* ----------------------------------------------------------------------------


def _zremrange(
    ctx: CommandContext,
    key: bytes,
    pick: Callable[[ZSetValue], tuple[int, int] | None],
    event: str,
) -> Reply:
    z = _zset(ctx, key)
    if z is None:
        return 0
    b = pick(z)
    if b is None or b[0] >= b[1]:
        return 0
    for _, m in z.entries(b[0], b[1]):
        z.remove(m)
    deleted = b[1] - b[0]
    ctx.notify("z", event, key)
    _drop_if_empty(ctx, key, z)
    ctx.dirty += deleted
    return deleted


@command("zremrangebyrank", 4, "write", 1, 1, 1)
def zremrangebyrank(ctx: CommandContext, argv: list[bytes]) -> Reply:
    start, end = parse_int(argv[2]), parse_int(argv[3])
    return _zremrange(ctx, argv[1], lambda z: _rank_bounds(len(z), start, end), "zremrangebyrank")


@command("zremrangebyscore", 4, "write", 1, 1, 1)
def zremrangebyscore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    rng = parse_score_range(argv[2], argv[3])
    return _zremrange(ctx, argv[1], rng.bounds, "zremrangebyscore")


@command("zremrangebylex", 4, "write", 1, 1, 1)
def zremrangebylex(ctx: CommandContext, argv: list[bytes]) -> Reply:
    rng = parse_lex_range(argv[2], argv[3])
    return _zremrange(ctx, argv[1], lambda z: rng.bounds(z, False), "zremrangebylex")


# --- pops ------------------------------------------------------------------------------------


def _pop(
    ctx: CommandContext, key: bytes, z: ZSetValue, count: int, maximum: bool
) -> list[tuple[float, bytes]]:
    n = min(count, len(z))
    popped = z.entries(len(z) - n, len(z), True) if maximum else z.entries(0, n)
    for _, m in popped:
        z.remove(m)
    ctx.dirty += n
    ctx.notify("z", "zpopmax" if maximum else "zpopmin", key)
    _drop_if_empty(ctx, key, z)
    return popped


def _zpop(ctx: CommandContext, argv: list[bytes], maximum: bool) -> Reply:
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    count = -1 if len(argv) == 2 else parse_positive(argv[2])
    z = _zset(ctx, argv[1])
    if z is None or count == 0:
        return []
    popped = _pop(ctx, argv[1], z, 1 if count == -1 else count, maximum)
    nested = ctx.client.resp >= 3 and count != -1
    if nested:
        return [[m, Double(s)] for s, m in popped]
    out: list[Reply] = []
    for s, m in popped:
        out += [m, Double(s)]
    return out


@command("zpopmin", -2, "write fast", 1, 1, 1)
def zpopmin(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zpop(ctx, argv, False)


@command("zpopmax", -2, "write fast", 1, 1, 1)
def zpopmax(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _zpop(ctx, argv, True)


def _parse_timeout(ctx: CommandContext, arg: bytes) -> int | None:
    """``getTimeoutFromObjectOrReply`` in seconds: the deadline in ms, None for 0 (forever)."""
    try:
        seconds = parse_score(arg, TIMEOUT_NOT_FLOAT)
    except CommandError:
        raise CommandError(TIMEOUT_NOT_FLOAT) from None
    ms = seconds * 1000.0
    if ms > 2**63 - 1:
        raise CommandError("ERR timeout is out of range")
    tval = math.ceil(ms)
    if tval < 0:
        raise CommandError(TIMEOUT_NEGATIVE)
    if tval == 0:
        return None
    if tval > 2**63 - 1 - ctx.now_ms:
        raise CommandError("ERR timeout is out of range")
    return ctx.now_ms + tval


def _first_nonempty(ctx: CommandContext, keys: list[bytes]) -> tuple[bytes, ZSetValue] | None:
    """The first key holding a zset; WRONGTYPE stops the scan where Valkey's does."""
    for key in keys:
        value = ctx.lookup(key)
        if value is None:
            continue
        if not isinstance(value, ZSetValue):
            raise CommandError(WRONGTYPE)
        if len(value):
            return key, value
    return None


_RERUN_DEADLINE = "zset_block_deadline"


def _still_blocked(ctx: CommandContext, keys: list[bytes]) -> bool:
    """On a re-run after a key was touched, Valkey only serves the client when some key now
    holds a non-empty zset (a key turned into another type leaves it blocked)."""
    if not ctx.client.extra.get("unblocked_rerun"):
        return False
    for key in keys:
        value = ctx.lookup(key)
        if isinstance(value, ZSetValue) and len(value):
            return False
    return True


def _block(ctx: CommandContext, keys: list[bytes], deadline: int | None) -> BlockRequest:
    """Block on ``keys``; a re-run keeps the first call's deadline, as Valkey does."""
    if ctx.client.extra.get("unblocked_rerun") and _RERUN_DEADLINE in ctx.client.extra:
        deadline = ctx.client.extra[_RERUN_DEADLINE]
    else:
        ctx.client.extra[_RERUN_DEADLINE] = deadline
    return BlockRequest(tuple(keys), deadline, NULL_ARRAY)


def _bzpop(ctx: CommandContext, argv: list[bytes], maximum: bool) -> Reply | BlockRequest:
    deadline = _parse_timeout(ctx, argv[-1])
    keys = argv[1:-1]
    if _still_blocked(ctx, keys):
        return _block(ctx, keys, deadline)
    found = _first_nonempty(ctx, keys)
    if found is None:
        if ctx.in_multi_exec:
            return NULL_ARRAY
        return _block(ctx, keys, deadline)
    key, z = found
    (s, m), *_ = _pop(ctx, key, z, 1, maximum)
    ctx.rewrite([b"ZPOPMAX" if maximum else b"ZPOPMIN", key])
    return [key, m, Double(s)]


@command("bzpopmin", -3, "write blocking fast", 1, -2, 1)
def bzpopmin(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    return _bzpop(ctx, argv, False)


@command("bzpopmax", -3, "write blocking fast", 1, -2, 1)
def bzpopmax(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    return _bzpop(ctx, argv, True)


def _zmpop(
    ctx: CommandContext, argv: list[bytes], numkeys_at: int, blocking: bool
) -> Reply | BlockRequest:
    numkeys = parse_range(argv[numkeys_at], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(argv):
        raise CommandError(SYNTAX)
    where = argv[where_at].lower()
    if where not in (b"min", b"max"):
        raise CommandError(SYNTAX)
    maximum = where == b"max"
    count = -1
    j = where_at + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and len(argv) - 1 - j > 0:
            count = parse_range(argv[j + 1], 1, LONG_MAX, "ERR count should be greater than 0")
            j += 2
        else:
            raise CommandError(SYNTAX)
    count = max(count, 1)
    keys = argv[numkeys_at + 1 : numkeys_at + 1 + numkeys]
    deadline = _parse_timeout(ctx, argv[1]) if blocking else None
    if blocking and _still_blocked(ctx, keys):
        return _block(ctx, keys, deadline)
    if blocking:
        found = _first_nonempty(ctx, keys)
    else:
        found = None
        for key in keys:
            z = _zset(ctx, key)
            if z is not None:
                found = (key, z)
                break
    if found is None:
        if blocking and not ctx.in_multi_exec:
            return _block(ctx, keys, deadline)
        return NULL_ARRAY
    key, z = found
    n = min(count, len(z))
    popped = _pop(ctx, key, z, count, maximum)
    ctx.rewrite([b"ZPOPMAX" if maximum else b"ZPOPMIN", key, str(n).encode()])
    return [key, [[m, Double(s)] for s, m in popped]]


@command("zmpop", -4, "write")
def zmpop(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    return _zmpop(ctx, argv, 1, False)


@command("bzmpop", -5, "write blocking")
def bzmpop(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    return _zmpop(ctx, argv, 2, True)


# --- ZUNION / ZINTER / ZDIFF -----------------------------------------------------------------


def _aggregate(how: bytes, a: float, b: float) -> float:
    if how == b"sum":
        total = a + b
        return 0.0 if math.isnan(total) else total
    if how == b"min":
        return a if a < b else b
    return a if a > b else b


def _scored(value: ZSetValue | set[bytes]) -> dict[bytes, float]:
    if isinstance(value, ZSetValue):
        return value.scores
    return dict.fromkeys(value, 1.0)


def _setop(
    ctx: CommandContext,
    argv: list[bytes],
    numkeys_at: int,
    op: str,
    store: bool,
    card: bool = False,
) -> Reply:
    """``zunionInterDiffGenericCommand``: sets count as zsets with score 1."""
    numkeys = parse_int(argv[numkeys_at])
    if numkeys < 1:
        raise CommandError(
            f"ERR at least 1 input key is needed for '{argv[0].decode('utf-8', 'replace').lower()}' command"
        )
    if numkeys > len(argv) - numkeys_at - 1:
        raise CommandError(SYNTAX)
    keys = argv[numkeys_at + 1 : numkeys_at + 1 + numkeys]
    srcs: list[ZSetValue | set[bytes] | None] = []
    for key in keys:
        value = ctx.lookup_read(key)
        if value is not None and not isinstance(value, (ZSetValue, set)):
            raise CommandError(WRONGTYPE)
        srcs.append(value)
    weights = [1.0] * numkeys
    how = b"sum"
    withscores = False
    limit = 0
    j = numkeys_at + 1 + numkeys
    while j < len(argv):
        opt = argv[j].lower()
        remaining = len(argv) - j
        if op != "diff" and not card and remaining >= numkeys + 1 and opt == b"weights":
            weights = [
                parse_score(w, "ERR weight value is not a float")
                for w in argv[j + 1 : j + 1 + numkeys]
            ]
            j += numkeys + 1
        elif op != "diff" and not card and remaining >= 2 and opt == b"aggregate":
            how = argv[j + 1].lower()
            if how not in (b"sum", b"min", b"max"):
                raise CommandError(SYNTAX)
            j += 2
        elif not store and not card and opt == b"withscores":
            withscores = True
            j += 1
        elif card and remaining >= 2 and opt == b"limit":
            limit = parse_positive(argv[j + 1], "ERR LIMIT can't be negative")
            j += 2
        else:
            raise CommandError(SYNTAX)
    inputs = [(_scored(s) if s is not None else {}, w) for s, w in zip(srcs, weights, strict=True)]
    result: dict[bytes, float] = {}
    if op == "union":
        for scores, w in sorted(inputs, key=lambda t: len(t[0])):
            for m, sc in scores.items():
                v = w * sc
                if math.isnan(v):
                    v = 0.0
                result[m] = _aggregate(how, result[m], v) if m in result else v
    elif op == "inter":
        ordered = sorted(inputs, key=lambda t: len(t[0]))
        first, w0 = ordered[0]
        for m, sc in first.items():
            v = w0 * sc
            if math.isnan(v):
                v = 0.0
            for other, w in ordered[1:]:
                o = other.get(m)
                if o is None:
                    break
                v = _aggregate(how, v, o * w)
            else:
                result[m] = v
                if card and limit and len(result) >= limit:
                    break
    else:
        first = inputs[0][0]
        others = [s for s, _ in inputs[1:]]
        result = {m: sc for m, sc in first.items() if not any(m in o for o in others)}
    if card:
        return len(result)
    pairs = sorted((s, m) for m, s in result.items())
    if store:
        return _store_zset(ctx, argv[1], pairs, f"z{op}store")
    return _with_scores(ctx, pairs, withscores)


@command("zunionstore", -4, "write denyoom", 1, 1, 1)
def zunionstore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _setop(ctx, argv, 2, "union", True)


@command("zinterstore", -4, "write denyoom", 1, 1, 1)
def zinterstore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _setop(ctx, argv, 2, "inter", True)


@command("zdiffstore", -4, "write denyoom", 1, 1, 1)
def zdiffstore(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _setop(ctx, argv, 2, "diff", True)


@command("zunion", -3, "readonly")
def zunion(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _setop(ctx, argv, 1, "union", False)


@command("zinter", -3, "readonly")
def zinter(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _setop(ctx, argv, 1, "inter", False)


@command("zdiff", -3, "readonly")
def zdiff(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _setop(ctx, argv, 1, "diff", False)


@command("zintercard", -3, "readonly")
def zintercard(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _setop(ctx, argv, 1, "inter", False, card=True)


# --- random and scan -------------------------------------------------------------------------


@command("zrandmember", -2, "readonly", 1, 1, 1)
def zrandmember(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) == 2:
        z = _zset(ctx, argv[1], read=True)
        if z is None:
            return None
        return z.entries(r := ctx.rng.randrange(len(z)), r + 1)[0][1]
    n = parse_range(argv[2], -LONG_MAX, LONG_MAX)
    withscores = False
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withscores"):
        raise CommandError(SYNTAX)
    if len(argv) == 4:
        withscores = True
        if n < -(LONG_MAX // 2) or n > LONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    z = _zset(ctx, argv[1], read=True)
    if z is None or n == 0:
        return []
    size = len(z)
    if n < 0:
        picks = [ctx.rng.randrange(size) for _ in range(-n)]
        chosen = [z.index[i] for i in picks]
    elif n >= size:
        # Valkey's zset iterator (zuiNext) walks from the tail: highest score first.
        chosen = z.entries(0, size, True)
    else:
        chosen = [z.index[i] for i in sorted(ctx.rng.sample(range(size), n))]
    return _with_scores(ctx, chosen, withscores)


@command("zscan", -3, "readonly", 1, 1, 1)
def zscan(ctx: CommandContext, argv: list[bytes]) -> Reply:
    cursor = parse_cursor(argv[2])
    z = _zset(ctx, argv[1], read=True)
    if z is None:
        return [b"0", []]
    count, pattern, noscores = parse_scan_options(argv, b"noscores")
    ordered = (m for _, m in z.index)
    nxt, members = scan_members(ordered, len(z), cursor, count)
    out: list[Reply] = []
    for m in members:
        if pattern is not None and not stringmatch(pattern, m):
            continue
        out.append(m)
        if not noscores:
            s = z.score(m)
            assert s is not None
            out.append(format_double(s))
    return [str(nxt).encode(), out]
