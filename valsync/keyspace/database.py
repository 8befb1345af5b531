"""The 16 databases: key -> value dicts with a parallel expiry dict (unix ms), as in Valkey."""

from __future__ import annotations

import random
from collections.abc import Callable

from valsync.keyspace.values import Value

KeyListener = Callable[[int, bytes], None]


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
    )

    def __init__(self, dbid: int, on_modified: KeyListener | None = None) -> None:
        self.id = dbid
        self.data: dict[bytes, Value] = {}
        self.expires: dict[bytes, int] = {}
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
        if not keep_ttl:
            self.expires.pop(key, None)
        self.modified(key)

    def delete(self, key: bytes) -> bool:
        if key in self.data:
            del self.data[key]
            self.expires.pop(key, None)
            self.modified(key)
            return True
        return False

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        self.modified(key)

    def persist(self, key: bytes) -> bool:
        if self.expires.pop(key, None) is not None:
            self.modified(key)
            return True
        return False

    def modified(self, key: bytes) -> None:
        """Tell watchers (WATCH, blocked clients) that ``key`` changed."""
        if self._on_modified is not None:
            self._on_modified(self.id, key)

    def clear(self) -> int:
        n = len(self.data)
        keys = list(self.data) if self._on_modified is not None else []
        self.data = {}
        self.expires = {}
        for key in keys:
            self.modified(key)
        return n

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
        self.dbs = [Database(i, on_modified) for i in range(databases)]

    def __getitem__(self, dbid: int) -> Database:
        return self.dbs[dbid]

    def __len__(self) -> int:
        return len(self.dbs)

    def set_added_listener(self, listener: KeyListener | None) -> None:
        for db in self.dbs:
            db.on_added = listener

    def total_keys(self) -> int:
        return sum(len(db) for db in self.dbs)

    def flush_all(self) -> int:
        return sum(db.clear() for db in self.dbs)

    def swap(self, other: Keyspace) -> None:
        """Take ``other``'s data in place (replica swapdb load), keeping our listeners."""
        for mine, theirs in zip(self.dbs, other.dbs, strict=True):
            mine.data, mine.expires = theirs.data, theirs.expires
            for key in list(mine.data):
                mine.modified(key)
