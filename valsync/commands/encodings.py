"""Which of Valkey's internal representations a set or sorted set has (OBJECT ENCODING).

Valkey picks a compact encoding (intset, listpack) while a collection stays within the
``*-max-*`` config limits and converts it, one way only, once it outgrows them; these
functions replay those decisions on valsync's plain containers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from valsync.commands.strings import is_int_encodable
from valsync.keyspace.values import SetValue, ZSetValue

if TYPE_CHECKING:
    from valsync.commands.context import CommandContext
    from valsync.config import Config

INTSET_HARD_MAX = 1 << 30
SET_ENCODING_RANK = {"intset": 0, "listpack": 1, "hashtable": 2}


LISTPACK_MAX_BYTES = 8192
SET_MAX_INTSET = 512
SMALL_MAX_ENTRIES = 128
SMALL_MAX_VALUE = 64
HASH_MAX_LISTPACK_ENTRIES = 512


@dataclass(frozen=True, slots=True)
class EncodingLimits:
    """The ``*-max-listpack-*`` / ``set-max-intset-entries`` thresholds OBJECT ENCODING
    reports against (Valkey's defaults unless the configuration says otherwise)."""

    list_fill: int = -2
    set_intset_entries: int = SET_MAX_INTSET
    set_entries: int = SMALL_MAX_ENTRIES
    set_value: int = SMALL_MAX_VALUE
    hash_entries: int = HASH_MAX_LISTPACK_ENTRIES
    hash_value: int = SMALL_MAX_VALUE
    zset_entries: int = SMALL_MAX_ENTRIES
    zset_value: int = SMALL_MAX_VALUE

    @classmethod
    def from_config(cls, config: Config) -> EncodingLimits:
        return cls(*(config.get_int(name) for name in LIMIT_DIRECTIVES))


LIMIT_DIRECTIVES = (
    "list-max-listpack-size",
    "set-max-intset-entries",
    "set-max-listpack-entries",
    "set-max-listpack-value",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
)
"""The directives of :class:`EncodingLimits`, in its fields' order (the server caches the
limits and rebuilds them when CONFIG SET changes one)."""


DEFAULT_LIMITS = EncodingLimits()


def encoding_limits(ctx: CommandContext) -> EncodingLimits:
    server = ctx.server
    return server.encoding_limits if server is not None else DEFAULT_LIMITS


def set_content_encoding(members: set[bytes], limits: EncodingLimits) -> str:
    """The encoding of a set built from scratch out of ``members`` (RDB load, *STORE)."""
    if len(members) <= min(limits.set_intset_entries, INTSET_HARD_MAX) and all(
        is_int_encodable(m) for m in members
    ):
        return "intset"
    if len(members) <= limits.set_entries and all(len(m) <= limits.set_value for m in members):
        return "listpack"
    return "hashtable"


def set_encoding(members: set[bytes], limits: EncodingLimits) -> str:
    """A set's current encoding: the one it was converted to, unless its content needs more."""
    derived = set_content_encoding(members, limits)
    stored = members.encoding if isinstance(members, SetValue) else None
    if stored is None or SET_ENCODING_RANK[derived] > SET_ENCODING_RANK[stored]:
        return derived
    return stored


def new_set(first: bytes, size_hint: int, limits: EncodingLimits) -> SetValue:
    """An empty set in the encoding ``setTypeCreate`` picks for ``size_hint`` additions."""
    if is_int_encodable(first) and size_hint <= limits.set_intset_entries:
        return SetValue(encoding="intset")
    if size_hint <= limits.set_entries:
        return SetValue(encoding="listpack")
    return SetValue(encoding="hashtable")


def add_to_set(s: set[bytes], members: Iterable[bytes], limits: EncodingLimits) -> int:
    """Add ``members`` one by one, converting the set as Valkey does; returns how many were new."""
    if not isinstance(s, SetValue):
        before = len(s)
        s.update(members)
        return len(s) - before
    enc = set_encoding(s, limits)
    added = 0
    for m in members:
        if m in s:
            continue
        n = len(s)
        if enc == "intset":
            if is_int_encodable(m):
                if n + 1 > min(limits.set_intset_entries, INTSET_HARD_MAX):
                    enc = "hashtable"
            else:
                widest = max((len(x) for x in s), default=0)
                fits = n < limits.set_entries and len(m) <= limits.set_value
                enc = "listpack" if fits and widest <= limits.set_value else "hashtable"
        elif enc == "listpack":
            if not (n < limits.set_entries and len(m) <= limits.set_value):
                enc = "hashtable"
        s.add(m)
        added += 1
    s.encoding = enc
    return added


def grow_set_hint(s: set[bytes], size_hint: int, limits: EncodingLimits) -> None:
    """``setTypeMaybeConvert``: a compact set expecting more than its limit becomes a hashtable."""
    if not isinstance(s, SetValue):
        return
    enc = set_encoding(s, limits)
    if (enc == "listpack" and size_hint > limits.set_entries) or (
        enc == "intset" and size_hint > limits.set_intset_entries
    ):
        enc = "hashtable"
    s.encoding = enc


def zset_is_skiplist(z: ZSetValue, limits: EncodingLimits) -> bool:
    """A zset is a skiplist once converted, or when its content is beyond the listpack limits."""
    if z.skiplist or len(z) > limits.zset_entries:
        return True
    scores = z.scores
    return bool(scores) and max(map(len, scores)) > limits.zset_value


def settle_zset(z: ZSetValue, limits: EncodingLimits) -> None:
    """Record a conversion to skiplist after a write (zsetAdd's and zsetTypeCreate's checks)."""
    if not z.skiplist and zset_is_skiplist(z, limits):
        z.skiplist = True
