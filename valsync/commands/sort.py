"""SORT and SORT_RO, mirroring Valkey 8.1's ``sort.c``.

Theory of operation, in Valkey's steps:

1. Options are parsed first (their errors come before WRONGTYPE). A BY pattern without ``*``
   (``BY nosort``) means "do not sort", and stays so even if a later BY has a ``*``.
2. The key must hold a list, set or sorted set; a missing key sorts as an empty list. Not
   sorting a set that is being STOREd, or read by a script, would make the result depend on
   the hash table, so Valkey sorts it ALPHA then.
3. LIMIT is clamped to the collection; lists and sorted sets that are not sorted are read
   directly in that window, in their own order (reversed by DESC).
4. Weights come from the element itself or from the BY pattern (``*`` replaced by the element;
   ``key->field`` reads a hash field; a missing key weighs 0 or, with ALPHA, sorts first).
   Numeric weights are read like ``strtod``: a value that is not a number makes the reply
   ``One or more scores can't be converted into double`` (after the sort, nothing stored).
5. The sort: equal numeric weights are ordered by the elements' bytes; ALPHA compares with
   ``strcoll`` (the C locale: bytes up to the first NUL), or byte-wise when storing. A full
   sort is glibc's stable merge sort; BY with a LIMIT window is Valkey's partial quicksort,
   which decides the order of ties differently (:mod:`valsync.commands.partial_sort`).
6. GET patterns (``#`` is the element) replace each element in the reply (missing: null) or,
   with STORE, in a list stored at the destination (missing: empty string); an empty result
   deletes the destination. SORT ... STORE is propagated as it is.

What cannot be matched: the order Valkey gives to elements of a set or sorted set that tie
(equal BY ALPHA weights) or are not sorted (BY nosort on a set) follows its hash tables; here
an all-integer set comes out in intset order (ascending) and anything else in our own order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from valsync.commands.context import CommandContext
from valsync.commands.errors import SYNTAX, WRONGTYPE, CommandError, parse_int
from valsync.commands.hashes import _get as hash_field
from valsync.commands.partial_sort import partial_sort
from valsync.commands.registry import command
from valsync.commands.strings import is_int_encodable
from valsync.commands.zsets import parse_score
from valsync.keyspace.values import HashValue, ZSetValue
from valsync.resp.reply import Reply

NOT_DOUBLE = "ERR One or more scores can't be converted into double"
SET_MAX_INTSET_ENTRIES = 512
_C_SPACE = b" \t\n\v\f\r"


def lookup_by_pattern(ctx: CommandContext, pattern: bytes, subst: bytes) -> bytes | None:
    """``lookupKeyByPattern``: ``#`` is ``subst``; otherwise the first ``*`` becomes ``subst``
    and names a string key, or with ``->field`` a hash field. No ``*``: nothing."""
    if pattern == b"#":
        return subst
    text = pattern.split(b"\0", 1)[0]  # Valkey searches the pattern as a C string
    star = text.find(b"*")
    if star < 0:
        return None
    arrow = text.find(b"->", star + 1)
    hash_field_name = None
    if arrow >= 0 and arrow + 2 < len(text):
        hash_field_name = pattern[arrow + 2 :]
        key = pattern[:star] + subst + pattern[star + 1 : arrow]
    else:
        key = pattern[:star] + subst + pattern[star + 1 :]
    value = ctx.lookup(key)
    if hash_field_name is not None:
        return hash_field(ctx, value, hash_field_name) if isinstance(value, HashValue) else None
    return value if isinstance(value, bytes) else None


def _weight(value: bytes) -> float | None:
    """``strtod`` over a C string as SORT checks it: leading spaces allowed, an empty string
    is 0, anything left unparsed, out of range or NaN is an error (None)."""
    text = value.split(b"\0", 1)[0]
    if not text:
        return 0.0
    text = text.lstrip(_C_SPACE)
    if not text:
        return None
    try:
        return parse_score(text)
    except CommandError:
        return None


def _collated(value: bytes) -> bytes:
    """The part of a string ``strcoll`` sees in the C locale."""
    return value.split(b"\0", 1)[0]


@dataclass(slots=True)
class SortItem:
    obj: bytes
    score: float = 0.0
    cmpobj: bytes | None = None


@dataclass(slots=True)
class SortRequest:
    desc: bool = False
    alpha: bool = False
    limit_start: int = 0
    limit_count: int = -1
    store_key: bytes | None = None
    sortby: bytes | None = None
    dontsort: bool = False
    gets: list[bytes] = field(default_factory=list)


def _parse(argv: list[bytes], readonly: bool, full_key_access: bool = True) -> SortRequest:
    req = SortRequest()
    j = 2
    while j < len(argv):
        opt = argv[j].lower()
        left = len(argv) - j - 1
        if opt == b"asc":
            req.desc = False
        elif opt == b"desc":
            req.desc = True
        elif opt == b"alpha":
            req.alpha = True
        elif opt == b"limit" and left >= 2:
            req.limit_start = parse_int(argv[j + 1])
            req.limit_count = parse_int(argv[j + 2])
            j += 2
        elif opt == b"store" and left >= 1 and not readonly:
            req.store_key = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            req.sortby = argv[j + 1]
            if b"*" not in req.sortby.split(b"\0", 1)[0]:
                req.dontsort = True
            elif not full_key_access:
                raise CommandError(
                    "ERR BY option of SORT denied due to insufficient ACL permissions."
                )
            j += 1
        elif opt == b"get" and left >= 1:
            if not full_key_access:
                raise CommandError(
                    "ERR GET option of SORT denied due to insufficient ACL permissions."
                )
            req.gets.append(argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    return req


def _set_order(members: set[bytes]) -> list[bytes]:
    """A set's members in Valkey's iteration order where that is known: an all-integer set
    small enough to be an intset is ascending."""
    if len(members) <= SET_MAX_INTSET_ENTRIES and all(is_int_encodable(m) for m in members):
        return sorted(members, key=int)
    return list(members)


def _comparator(req: SortRequest) -> Callable[[SortItem, SortItem], int]:
    """``sortCompare`` for the partial quicksort."""
    sign = -1 if req.desc else 1
    stored = req.store_key is not None

    def text(v: bytes) -> bytes:
        return v if stored else _collated(v)

    def cmp(a: SortItem, b: SortItem) -> int:
        if not req.alpha:
            if a.score != b.score:
                r = 1 if a.score > b.score else -1
            else:
                r = (a.obj > b.obj) - (a.obj < b.obj)
        elif req.sortby is not None:
            if a.cmpobj is None or b.cmpobj is None:
                r = (a.cmpobj is not None) - (b.cmpobj is not None)
            else:
                ta, tb = text(a.cmpobj), text(b.cmpobj)
                r = (ta > tb) - (ta < tb)
        else:
            ta, tb = text(a.obj), text(b.obj)
            r = (ta > tb) - (ta < tb)
        return sign * r

    return cmp


def _sort_key(req: SortRequest) -> Callable[[SortItem], Any]:
    """The same order as :func:`_comparator` as a key for Python's stable sort."""
    stored = req.store_key is not None
    if not req.alpha:
        return lambda it: (it.score, it.obj)
    if req.sortby is not None:
        return lambda it: (
            (0, b"") if it.cmpobj is None else (1, it.cmpobj if stored else _collated(it.cmpobj))
        )
    return (lambda it: it.obj) if stored else (lambda it: _collated(it.obj))


def _sort(ctx: CommandContext, argv: list[bytes], readonly: bool) -> Reply:
    from valsync.commands.acl_cmds import unrestricted_key_read

    server = ctx.server
    req = _parse(argv, readonly, server is None or unrestricted_key_read(server, ctx.client, argv))
    value = ctx.lookup_read(argv[1])
    if value is not None and not isinstance(value, (deque, set, ZSetValue)):
        raise CommandError(WRONGTYPE)
    if value is None:
        value = deque()
    if req.dontsort and isinstance(value, set) and (req.store_key or ctx.client.is_script):
        req.dontsort = False
        req.alpha = True
        req.sortby = None
    n = len(value)
    start = min(max(req.limit_start, 0), n)
    count = min(max(req.limit_count, -1), n)
    end = n - 1 if count < 0 else start + count - 1
    if start >= n:
        start, end = n - 1, n - 2
    end = min(end, n - 1)

    items: list[SortItem]
    if req.dontsort and isinstance(value, (deque, ZSetValue)):
        # Read only the window, in the collection's order (reversed by DESC).
        if isinstance(value, deque):
            ordered = list(reversed(value)) if req.desc else list(value)
        else:
            ordered = [m for _, m in value.index.islice(reverse=req.desc)]
        if start != 0 or end != n - 1:
            items = [SortItem(m) for m in ordered[start : end + 1]] if end >= start else []
        else:
            items = [SortItem(m) for m in ordered]
        end -= start
        start = 0
    elif isinstance(value, deque):
        items = [SortItem(m) for m in value]
    elif isinstance(value, set):
        items = [SortItem(m) for m in _set_order(value)]
    else:
        items = [SortItem(m) for _, m in value.index]

    not_double = False
    if not req.dontsort:
        for it in items:
            if req.sortby is not None:
                by = lookup_by_pattern(ctx, req.sortby, it.obj)
                if by is None:
                    continue
            else:
                by = it.obj
            if req.alpha:
                if req.sortby is not None:
                    it.cmpobj = by
            else:
                score = _weight(by)
                if score is None:
                    not_double = True
                else:
                    it.score = score
        if req.sortby is not None and (start != 0 or end != len(items) - 1):
            partial_sort(items, _comparator(req), start, end)
        else:
            items.sort(key=_sort_key(req), reverse=req.desc)

    if not_double:
        raise CommandError(NOT_DOUBLE)
    window = items[start : end + 1] if end >= start else []
    if req.store_key is None:
        out: list[Reply] = []
        for it in window:
            if not req.gets:
                out.append(it.obj)
            out.extend(lookup_by_pattern(ctx, pattern, it.obj) for pattern in req.gets)
        return out
    stored: deque[bytes] = deque()
    for it in window:
        if not req.gets:
            stored.append(it.obj)
            continue
        for pattern in req.gets:
            got = lookup_by_pattern(ctx, pattern, it.obj)
            stored.append(b"" if got is None else got)
    if stored:
        ctx.lookup(req.store_key)  # setKey's lookupKeyWrite: an expired destination is UNLINKed
        ctx.db.set(req.store_key, stored)
        ctx.notify("l", "sortstore", req.store_key)
        ctx.dirty += len(stored)
    elif ctx.db.delete(req.store_key):
        ctx.notify("g", "del", req.store_key)
        ctx.dirty += 1
    return len(stored)


@command("sort", -2, "write denyoom", 1, 1, 1)
def sort_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _sort(ctx, argv, False)


@command("sort_ro", -2, "readonly", 1, 1, 1)
def sort_ro(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _sort(ctx, argv, True)
