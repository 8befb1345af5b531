"""In-memory value types of the keyspace.

Valkey's logical types map onto Python containers: string -> ``bytes``, list -> ``deque``,
set -> ``set``, hash -> :class:`HashValue`, sorted set -> :class:`ZSetValue`, stream ->
:class:`~valsync.keyspace.stream.StreamValue`. Module values are kept as opaque RDB payloads
(:class:`OpaqueValue`) so a dump that holds them round-trips, while commands on them answer
WRONGTYPE.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import ClassVar, Self

from sortedcontainers import SortedList

from valsync.keyspace.stream import StreamValue


class HashValue(dict[bytes, bytes]):
    """A hash: field -> value, plus Valkey 9's optional per-field expiry (unix ms)."""

    __slots__ = ("field_expires",)

    ttl_seen: ClassVar[bool] = False
    """Set once any hash field got a TTL: until then the field-expiry cron has nothing to do."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.field_expires: dict[bytes, int] = {}

    def expire_field(self, field: bytes, when_ms: int) -> None:
        self.field_expires[field] = when_ms
        HashValue.ttl_seen = True


class SetValue(set[bytes]):
    """A set that remembers the encoding Valkey converted it to (``None``: judge by content).

    Valkey converts a set only upwards (intset -> listpack -> hashtable) while it lives, so
    after removals its content alone no longer tells its encoding."""

    __slots__ = ("encoding", "scan_order")

    def __init__(self, members: Iterable[bytes] = (), encoding: str | None = None) -> None:
        super().__init__(members)
        self.encoding = encoding
        self.scan_order: list[tuple[int, bytes]] | None = None
        """SSCAN's (hash, member) order, kept until the next change (every mutator drops it)."""

    def add(self, member: bytes) -> None:
        self.scan_order = None
        super().add(member)

    def discard(self, member: object) -> None:
        self.scan_order = None
        super().discard(member)

    def remove(self, member: bytes) -> None:
        self.scan_order = None
        super().remove(member)

    def pop(self) -> bytes:
        self.scan_order = None
        return super().pop()

    def clear(self) -> None:
        self.scan_order = None
        super().clear()

    def update(self, *others: Iterable[bytes]) -> None:
        self.scan_order = None
        super().update(*others)

    def difference_update(self, *others: Iterable[object]) -> None:
        self.scan_order = None
        super().difference_update(*others)

    def intersection_update(self, *others: Iterable[object]) -> None:
        self.scan_order = None
        super().intersection_update(*others)

    def symmetric_difference_update(self, other: Iterable[bytes]) -> None:
        self.scan_order = None
        super().symmetric_difference_update(other)

    def __ior__(self, other: AbstractSet[bytes]) -> Self:  # type: ignore[override,misc]
        self.scan_order = None
        return super().__ior__(other)

    def __iand__(self, other: AbstractSet[object]) -> Self:
        self.scan_order = None
        return super().__iand__(other)

    def __isub__(self, other: AbstractSet[object]) -> Self:
        self.scan_order = None
        return super().__isub__(other)

    def __ixor__(self, other: AbstractSet[bytes]) -> Self:  # type: ignore[override,misc]
        self.scan_order = None
        return super().__ixor__(other)


class ZSetValue:
    """A sorted set: member -> score with an ordered index of (score, member).

    Members added (or re-scored) are only put into the index when something reads it next: a
    run of ZADDs that nothing reads in between pays for dict inserts, and the index takes them
    in at once (a sorted SortedList insert costs several microseconds on a large zset)."""

    __slots__ = ("scores", "_index", "_pending", "skiplist")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self._index: SortedList | None = None
        """None until first read (most small zsets are never read in order)."""
        self._pending: dict[bytes, float] | None = None
        """Members whose (score, member) entry is not in ``_index`` yet, with that score."""
        self.skiplist = False
        """Converted to a skiplist: Valkey never converts a live zset back to a listpack."""

    @property
    def index(self) -> SortedList:
        """(score, member) pairs in Valkey's order, every member in."""
        index = self._index
        if index is None or self._pending is not None:
            index = self._take_pending()
        return index

    @index.setter
    def index(self, value: SortedList) -> None:
        self._index = value
        self._pending = None

    def _take_pending(self) -> SortedList:
        pending = self._pending
        self._pending = None
        entries = [(score, member) for member, score in pending.items()] if pending else []
        index = self._index
        if index is None:
            index = self._index = SortedList(entries)
        else:  # SortedList.update: one by one in order when few, else one sort of the lot
            index.update(entries)
        return index

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: object) -> bool:
        return member in self.scores

    def add(self, member: bytes, score: float) -> None:
        scores = self.scores
        old = scores.get(member)
        if old == score:
            return
        pending = self._pending
        if pending is None:
            pending = self._pending = {}
        if old is not None and member not in pending:
            self._indexed().remove((old, member))
        pending[member] = score
        scores[member] = score

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        pending = self._pending
        if pending is not None and member in pending:
            del pending[member]
            if not pending:
                self._pending = None
        else:
            self._indexed().remove((old, member))
        return True

    def _indexed(self) -> SortedList:
        """The index as it is, for a member known to be in it (so it exists)."""
        index = self._index
        assert index is not None
        return index

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return int(self.index.index((score, member)))

    def score_bounds(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[int, int]:
        """Index range [start, stop) of members with lo <(=) score <(=) hi (bisect, O(log n))."""
        import math

        n = len(self.index)
        if lo_ex:
            if lo == math.inf:
                return n, n
            lo = math.nextafter(lo, math.inf)
        start = 0 if lo == -math.inf else int(self.index.bisect_left((lo, b"")))
        if hi_ex:
            if hi == -math.inf:
                return start, start
            hi = math.nextafter(hi, -math.inf)
        stop = (
            n
            if hi == math.inf
            else int(self.index.bisect_left((math.nextafter(hi, math.inf), b"")))
        )
        return start, max(start, stop)

    def entries(self, start: int, stop: int, reverse: bool = False) -> list[tuple[float, bytes]]:
        """(score, member) pairs at ranks [start, stop), lowest first unless ``reverse``."""
        return list(self.index.islice(start, stop, reverse=reverse))

    def items(self) -> Iterator[tuple[bytes, float]]:
        """Members with scores, lowest score first (ties by member bytes), as Valkey orders them."""
        for score, member in self.index:
            yield member, score

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZSetValue) and self.scores == other.scores

    def __repr__(self) -> str:
        return f"ZSetValue({list(self.items())!r})"


@dataclass(eq=True)
class OpaqueValue:
    """A value valsync stores but does not interpret (module values): its RDB type and bytes."""

    rdb_type: int
    payload: bytes
    type_name: str = "module"
    extra: dict[str, object] = field(default_factory=dict)


Value = bytes | deque[bytes] | set[bytes] | HashValue | ZSetValue | StreamValue | OpaqueValue


def type_name(value: Value) -> str:
    """The name TYPE replies with."""
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, deque):
        return "list"
    if isinstance(value, set):
        return "set"
    if isinstance(value, HashValue):
        return "hash"
    if isinstance(value, ZSetValue):
        return "zset"
    if isinstance(value, StreamValue):
        return "stream"
    return value.type_name
