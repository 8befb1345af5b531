"""MIGRATE's connection cache: Valkey keeps a connection per target ``host:port`` open for
10 seconds after its last use (at most 64), so that moving many keys one MIGRATE at a time
does not connect each time. INFO shows the count as ``migrate_cached_sockets``."""

from __future__ import annotations

import random
import time
from typing import Generic, Protocol, TypeVar

CACHE_TTL_SECONDS = 10.0
CACHE_MAX_ITEMS = 64


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class MigrateSocketCache(Generic[C]):
    """Connections by target; one in use is taken out and put back when the exchange went
    well (a failed one is closed, as Valkey's ``migrateCloseSocket``)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._items: dict[tuple[str, int], tuple[C, float]] = {}
        self._rng = rng or random.Random()

    def __len__(self) -> int:
        return len(self._items)

    def take(self, host: str, port: int) -> C | None:
        item = self._items.pop((host, port), None)
        return None if item is None else item[0]

    def put(self, host: str, port: int, conn: C, now: float | None = None) -> None:
        if (host, port) not in self._items and len(self._items) >= CACHE_MAX_ITEMS:
            victim = self._rng.choice(list(self._items))
            self._items.pop(victim)[0].close()
        old = self._items.get((host, port))
        if old is not None and old[0] is not conn:
            old[0].close()
        self._items[(host, port)] = (conn, time.monotonic() if now is None else now)

    def close_idle(self, now: float | None = None) -> int:
        """Close the connections unused for longer than the TTL (from the cron)."""
        now = time.monotonic() if now is None else now
        stale = [k for k, (_, used) in self._items.items() if now - used > CACHE_TTL_SECONDS]
        for key in stale:
            self._items.pop(key)[0].close()
        return len(stale)
