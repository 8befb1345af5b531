"""The per-key access stamps (LRU clock, LFU counter) and the per-key size bookkeeping."""

from __future__ import annotations

import random

from valsync.keyspace.access import LFU_INIT_VAL, LRU_CLOCK_MAX, AccessClock
from valsync.keyspace.database import Database

MINUTE_MS = 60_000


def test_lru_idle_time_counts_seconds_and_wraps() -> None:
    clock = AccessClock(now_ms=5_000_000)
    stamp = clock.stamp
    clock.tick(5_000_000 + 42_000)
    assert clock.idle_ms(stamp) == 42_000
    # a stamp from before the 24-bit clock wrapped
    clock.tick(3_000)
    assert clock.idle_ms(LRU_CLOCK_MAX - 2) == (3 + 2) * 1000
    assert clock.lru_stamp_idle(10) == (clock.lru_clock - 10) & LRU_CLOCK_MAX


def test_lfu_counter_grows_logarithmically_and_decays() -> None:
    clock = AccessClock(now_ms=MINUTE_MS * 100, rng=random.Random(7))
    clock.set_policy(True, MINUTE_MS * 100)
    stamp = clock.stamp
    assert clock.lfu_counter(stamp) == LFU_INIT_VAL
    for _ in range(100):
        stamp = clock.lfu_accessed(stamp)
    hundred = clock.lfu_counter(stamp)
    for _ in range(10_000):
        stamp = clock.lfu_accessed(stamp)
    many = clock.lfu_counter(stamp)
    # with lfu-log-factor 10: ~100 hits reach ~10, 10k more stay far below 255
    assert LFU_INIT_VAL < hundred < many < 60
    clock.tick(MINUTE_MS * 103)  # lfu-decay-time 1: one point per idle minute
    assert clock.lfu_counter(stamp) == many - 3
    clock.decay_time = 0
    assert clock.lfu_counter(stamp) == many


def test_set_stamps_new_keys_and_lfu_overwrite_keeps_its_counter() -> None:
    clock = AccessClock(now_ms=MINUTE_MS * 10, rng=random.Random(1))
    db = Database(0, clock=clock)
    db.set(b"k", b"v")
    assert db.stamps[b"k"] == clock.lru_clock
    clock.set_policy(True, MINUTE_MS * 10)
    db.stamps[b"k"] = clock.lfu_stamp(200)
    db.set(b"k", b"w")
    assert clock.lfu_counter(db.stamps[b"k"]) == 200
    db.delete(b"k")
    assert b"k" not in db.stamps


def _size(key: bytes, value: object) -> int:
    return len(key) + len(value)  # type: ignore[arg-type]


def test_sizes_are_kept_only_while_tracked() -> None:
    db = Database(0)
    db.set(b"a", b"xx")
    assert db.dirty is None  # no maxmemory: no bookkeeping on writes
    assert db.settle(_size) == 3  # the first settle starts tracking
    db.set(b"b", b"yyyy")
    db.data[b"a"] = b"x" * 10
    db.modified(b"a")
    assert db.dirty == {b"a", b"b"}
    assert db.settle(_size) == 11 + 5
    db.delete(b"b")
    assert db.settle(_size) == 11
    db.data[b"direct"] = b"1"  # a loader writing the dict: the count notices
    assert db.settle(_size) == 11 + 7
    other = Database(1)
    db.swap_contents(other)
    assert db.settle(_size) == 0 and other.settle(_size) == 18
    other.untrack_sizes()
    assert other.dirty is None and other.sizes == {}
    other.clear()
    assert other.settle(_size) == 0


def test_loaded_keys_are_stamped_at_load_time() -> None:
    from valsync.keyspace.database import Keyspace

    mine, loaded = Keyspace(2), Keyspace(2)
    mine.clock.tick(1_000_000)
    loaded[1].data[b"k"] = b"v"  # what the RDB reader does
    mine.swap(loaded)
    mine.clock.tick(1_000_000 + 30_000)
    assert mine.clock.idle_ms(mine[1].stamps[b"k"]) == 30_000
