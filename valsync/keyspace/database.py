"""The 16 databases: key -> value dicts with a parallel expiry dict (unix ms), as in Valkey.

Beside them each database keeps ``stamps``: the key's LRU clock or LFU counter (see
:mod:`valsync.keyspace.access`), a dict entry per key sharing ``int`` objects. While a
``maxmemory`` is enforced it also keeps ``sizes`` (the estimated bytes of each key, summed in
``used``): writes then mark keys in ``dirty`` (one set insertion, through :meth:`modified`)
and :meth:`settle` sizes the marked keys when the figure is wanted. Without a limit neither
exists (``dirty`` is None), so the per-key cost is the stamp alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from valsync.keyspace.access import AccessClock
from valsync.keyspace.values import Value

KeyListener = Callable[[int, bytes], None]
Sizer = Callable[[bytes, Value], int]
_SIZES: dict[int, int] = {}
"""Interned size figures: most keys share a handful of sizes, so they share the objects."""


class Database:
    """One numbered database. Expiry is stored apart from values, exactly like Valkey's ``expires`` dict."""

    __slots__ = (
        "id",
        "data",
        "expires",
        "_on_modified",
        "on_added",
        "expire_scan",
        "expire_scan_pos",
        "field_scan",
        "field_scan_pos",
        "clock",
        "stamps",
        "unstamped",
        "sizes",
        "dirty",
        "used",
        "_sized",
    )

    def __init__(
        self,
        dbid: int,
        on_modified: KeyListener | None = None,
        clock: AccessClock | None = None,
    ) -> None:
        self.id = dbid
        self.data: dict[bytes, Value] = {}
        self.expires: dict[bytes, int] = {}
        self.clock = clock if clock is not None else AccessClock()
        self.stamps: dict[bytes, int] = {}
        self.unstamped: int | None = None
        """The stamp of keys stored with none (DEBUG POPULATE writes ``data`` alone, to stay
        lean): the stamp of that store, so their idle time grows from it; None: now."""
        self.sizes: dict[bytes, int] = {}
        self.dirty: set[bytes] | None = None
        """Keys written since the last :meth:`settle`; None while sizes are not tracked."""
        self.used = 0
        """Sum of ``sizes`` as of the last :meth:`settle`."""
        self._sized: dict[bytes, Value] = self.data
        self._on_modified = on_modified
        self.on_added: KeyListener | None = None
        """Told of each key ``set`` creates (Valkey's ``new`` keyspace event); None when
        nobody listens, so that SET pays one test."""
        self.expire_scan: list[bytes] = []
        self.expire_scan_pos = 0
        self.field_scan: list[bytes] = []
        self.field_scan_pos = 0

    def __len__(self) -> int:
        return len(self.data)

    def is_expired(self, key: bytes, now_ms: int) -> bool:
        when = self.expires.get(key)
        return when is not None and when <= now_ms

    def get_raw(self, key: bytes) -> Value | None:
        """The stored value, ignoring expiry (what DBSIZE and the RDB writer see)."""
        return self.data.get(key)

    def set(self, key: bytes, value: Value, keep_ttl: bool = False) -> None:
        """Store a value; like Valkey's setKey, a new value drops the old TTL unless kept."""
        if self.on_added is not None and key not in self.data:
            self.data[key] = value
            self.on_added(self.id, key)
        self.data[key] = value
        clock = self.clock
        # an overwrite is a new object (a fresh LRU stamp) but keeps its LFU counter, as in
        # Valkey's dbSetValue
        if not clock.lfu or key not in self.stamps:
            self.stamps[key] = clock.stamp
        if not keep_ttl:
            self.expires.pop(key, None)
        # modified(), inline: SET is the hottest write
        if self.dirty is not None:
            self.dirty.add(key)
        if self._on_modified is not None:
            self._on_modified(self.id, key)

    def delete(self, key: bytes) -> bool:
        if key in self.data:
            del self.data[key]
            self.expires.pop(key, None)
            self.stamps.pop(key, None)
            self.modified(key)
            return True
        return False

    def stamp_of(self, key: bytes) -> int:
        """``key``'s LRU/LFU stamp (Valkey's ``robj.lru``)."""
        stamp = self.stamps.get(key)
        return self._missing_stamp() if stamp is None else stamp

    def _missing_stamp(self) -> int:
        """The stamp of a key with no entry in ``stamps``."""
        return self.unstamped if self.unstamped is not None else self.clock.stamp

    def touch(self, key: bytes) -> None:
        """An access to ``key`` (Valkey's lookupKey touch): a fresh LRU stamp, or one LFU
        access counted."""
        clock = self.clock
        if clock.lfu:
            self.stamps[key] = clock.lfu_accessed(self.stamps.get(key, clock.stamp))
        else:
            self.stamps[key] = clock.lru_clock

    def settle(self, sizer: Sizer) -> int:
        """Size the keys written since the last call (all of them when sizes were not tracked
        yet: tracking starts); returns ``used`` (the dataset's bytes)."""
        data = self.data
        dirty = self.dirty
        if dirty is None or data is not self._sized:
            return self._recount(sizer)
        if dirty:
            sizes = self.sizes
            used = self.used
            for key in dirty:
                old = sizes.pop(key, 0)
                value = data.get(key)
                if value is None:
                    used -= old
                else:
                    n = sizer(key, value)
                    sizes[key] = _SIZES.setdefault(n, n) if n < 65536 else n
                    used += n - old
            self.used = used
            dirty.clear()
        if len(self.sizes) != len(data) or len(self.stamps) != len(data):
            # keys stored or dropped without :meth:`modified` (loaders writing ``data``)
            return self._size_unmarked(sizer)
        return self.used

    def _size_unmarked(self, sizer: Sizer) -> int:
        """Size only the keys a loader stored without :meth:`modified`, so that INFO polled
        during a long load costs a scan, not a resizing of every key each time; a key gone
        unmarked still means a full recount."""
        data, sizes, stamps = self.data, self.sizes, self.stamps
        missing = [key for key in data if key not in sizes]
        if len(sizes) + len(missing) != len(data):
            return self._recount(sizer)
        used = self.used
        for key in missing:
            n = sizer(key, data[key])
            sizes[key] = _SIZES.setdefault(n, n) if n < 65536 else n
            used += n
        self.used = used
        if len(stamps) != len(data):
            stamp = self._missing_stamp()
            for key in data:
                if key not in stamps:
                    stamps[key] = stamp
            if len(stamps) != len(data):
                return self._recount(sizer)
        return used

    def _recount(self, sizer: Sizer) -> int:
        data = self.data
        stamps = self.stamps
        stamp = self._missing_stamp()
        self.stamps = {key: stamps.get(key, stamp) for key in data}
        sizes: dict[bytes, int] = {}
        used = 0
        for key, value in data.items():
            n = sizer(key, value)
            sizes[key] = _SIZES.setdefault(n, n) if n < 65536 else n
            used += n
        self.sizes = sizes
        self.used = used
        self.dirty = set()
        self._sized = data
        return used

    def untrack_sizes(self) -> None:
        """Stop keeping per-key sizes (no maxmemory any more): their memory goes back."""
        self.sizes = {}
        self.used = 0
        self.dirty = None

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        self.modified(key)

    def persist(self, key: bytes) -> bool:
        if self.expires.pop(key, None) is not None:
            self.modified(key)
            return True
        return False

    def modified(self, key: bytes) -> None:
        """Tell watchers (WATCH, blocked clients) that ``key`` changed, and mark it for
        :meth:`settle` while sizes are tracked."""
        if self.dirty is not None:
            self.dirty.add(key)
        if self._on_modified is not None:
            self._on_modified(self.id, key)

    def clear(self) -> int:
        n = len(self.data)
        keys = list(self.data) if self._on_modified is not None else []
        self.data = {}
        self.expires = {}
        self.stamps = {}
        self.unstamped = None
        self.sizes = {}
        self.used = 0
        self._sized = self.data
        for key in keys:
            self.modified(key)
        if self.dirty is not None:
            self.dirty = set()
        return n

    def swap_contents(self, other: Database) -> None:
        """Exchange keys, expiries and their access stamps and sizes with ``other`` (SWAPDB)."""
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.stamps, other.stamps = other.stamps, self.stamps
        self.unstamped, other.unstamped = other.unstamped, self.unstamped
        self.sizes, other.sizes = other.sizes, self.sizes
        self.used, other.used = other.used, self.used
        self.dirty, other.dirty = other.dirty, self.dirty
        self._sized, other._sized = other._sized, self._sized

    def random_key(self, rng: random.Random) -> bytes | None:
        if not self.data:
            return None
        # dict has no O(1) random access; sample by skipping, bounded for big dicts.
        n = len(self.data)
        idx = rng.randrange(n)
        for i, key in enumerate(self.data):
            if i == idx:
                return key
        return None


class Keyspace:
    """All databases of one server."""

    def __init__(self, databases: int = 16, on_modified: KeyListener | None = None) -> None:
        self.clock = AccessClock()
        self.dbs = [Database(i, on_modified, self.clock) for i in range(databases)]

    def __getitem__(self, dbid: int) -> Database:
        return self.dbs[dbid]

    def __len__(self) -> int:
        return len(self.dbs)

    def set_added_listener(self, listener: KeyListener | None) -> None:
        for db in self.dbs:
            db.on_added = listener

    def total_keys(self) -> int:
        return sum(len(db) for db in self.dbs)

    def settle(self, sizer: Sizer) -> int:
        """Estimated bytes of every database's keys (see :meth:`Database.settle`)."""
        return sum(db.settle(sizer) for db in self.dbs)

    def flush_all(self) -> int:
        return sum(db.clear() for db in self.dbs)

    def swap(self, other: Keyspace, signal: bool = True) -> None:
        """Take ``other``'s data in place (replica swapdb load), keeping our listeners.

        ``signal=False``: the caller knows nobody listens to key changes (no WATCH, tracking
        or blocked client), so the keys are not signalled one by one (a million calls after
        a full sync); sizes are recounted anyway, the data being new."""
        for mine, theirs in zip(self.dbs, other.dbs, strict=True):
            mine.data, mine.expires = theirs.data, theirs.expires
            # loaded keys were last accessed now, as Valkey stamps objects it loads
            mine.stamps = dict.fromkeys(mine.data, self.clock.stamp)
            mine.unstamped = None
            if signal:
                for key in list(mine.data):
                    mine.modified(key)
