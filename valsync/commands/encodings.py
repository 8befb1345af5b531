"""Which of Valkey's internal representations a set or sorted set has (OBJECT ENCODING).

Valkey picks a compact encoding (intset, listpack) while a collection stays within the
``*-max-*`` config limits and converts it, one way only, once it outgrows them; these
functions replay those decisions on valsync's plain containers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from valsync.commands.strings import is_int_encodable
from valsync.keyspace.values import SetValue, ZSetValue

INTSET_HARD_MAX = 1 << 30
SET_ENCODING_RANK = {"intset": 0, "listpack": 1, "hashtable": 2}


@dataclass(frozen=True)
class EncodingLimits:
    """The ``set-``, ``zset-`` and ``hash-max-*`` config values (Valkey's defaults here)."""

    set_intset_entries: int = 512
    set_listpack_entries: int = 128
    set_listpack_value: int = 64
    zset_listpack_entries: int = 128
    zset_listpack_value: int = 64
    hash_listpack_entries: int = 512
    hash_listpack_value: int = 64


DEFAULT_LIMITS = EncodingLimits()


def encoding_limits(server: Any) -> EncodingLimits:
    """The limits in force on ``server`` (the defaults without one, as in unit harnesses)."""
    if server is None:
        return DEFAULT_LIMITS
    get = server.config.get_int
    return EncodingLimits(
        get("set-max-intset-entries"),
        get("set-max-listpack-entries"),
        get("set-max-listpack-value"),
        get("zset-max-listpack-entries"),
        get("zset-max-listpack-value"),
        get("hash-max-listpack-entries"),
        get("hash-max-listpack-value"),
    )


def set_content_encoding(members: set[bytes], limits: EncodingLimits) -> str:
    """The encoding of a set built from scratch out of ``members`` (RDB load, *STORE)."""
    if len(members) <= min(limits.set_intset_entries, INTSET_HARD_MAX) and all(
        is_int_encodable(m) for m in members
    ):
        return "intset"
    if len(members) <= limits.set_listpack_entries and all(
        len(m) <= limits.set_listpack_value for m in members
    ):
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
    if size_hint <= limits.set_listpack_entries:
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
                fits = n < limits.set_listpack_entries and len(m) <= limits.set_listpack_value
                enc = "listpack" if fits and widest <= limits.set_listpack_value else "hashtable"
        elif enc == "listpack":
            if not (n < limits.set_listpack_entries and len(m) <= limits.set_listpack_value):
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
    if (enc == "listpack" and size_hint > limits.set_listpack_entries) or (
        enc == "intset" and size_hint > limits.set_intset_entries
    ):
        enc = "hashtable"
    s.encoding = enc


def zset_is_skiplist(z: ZSetValue, limits: EncodingLimits) -> bool:
    """A zset is a skiplist once converted, or when its content is beyond the listpack limits."""
    if z.skiplist or len(z) > limits.zset_listpack_entries:
        return True
    return any(len(m) > limits.zset_listpack_value for m in z.scores)


def settle_zset(z: ZSetValue, limits: EncodingLimits) -> None:
    """Record a conversion to skiplist after a write (zsetAdd's and zsetTypeCreate's checks)."""
    if not z.skiplist and zset_is_skiplist(z, limits):
        z.skiplist = True
