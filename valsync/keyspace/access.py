"""Per-key access stamps for eviction: Valkey's 24-bit LRU clock and its LFU counter.

Valkey keeps one 24-bit field per object (``robj.lru``) and reads it two ways, depending on
``maxmemory-policy``:

* LRU: the LRU clock (seconds, wrapping at 2**24) of the last access; idle time is the clock
  now minus the stamp, in milliseconds (``estimateObjectIdleTime``).
* LFU: ``(minutes << 8) | counter``: the last decrement time in minutes (16 bits, wrapping) and
  a logarithmic access counter (8 bits) that starts at ``LFU_INIT_VAL``, grows with
  probability ``1 / ((counter - LFU_INIT_VAL) * lfu_log_factor + 1)`` and loses one per
  ``lfu-decay-time`` minutes of idleness (``LFULogIncr``, ``LFUDecrAndReturn``).

Switching policy at runtime leaves stamps as they are, so they read oddly for a while, as in
Valkey. :class:`AccessClock` holds what a stamp needs (the time, the policy's kind, the LFU
parameters); the server refreshes it from its cron and config. Nothing here reads a clock or
draws randomness itself: both are passed in.
"""

from __future__ import annotations

import random

LRU_BITS = 24
LRU_CLOCK_MAX = (1 << LRU_BITS) - 1
LRU_CLOCK_RESOLUTION_MS = 1000
LFU_INIT_VAL = 5


class AccessClock:
    """What stamping a key needs, shared by every database of a keyspace.

    ``stamp`` is the stamp a key created now gets: the LRU clock, or the LFU minutes with
    ``LFU_INIT_VAL``. Reusing the one ``int`` object for every key stamped in the same second
    keeps the per-key cost of the stamp dict to its entry.
    """

    __slots__ = ("lfu", "lru_clock", "minutes", "stamp", "log_factor", "decay_time", "rng")

    def __init__(self, now_ms: int = 0, rng: random.Random | None = None) -> None:
        self.lfu = False
        self.log_factor = 10
        self.decay_time = 1
        self.rng = rng if rng is not None else random.Random()
        self.lru_clock = 0
        self.minutes = 0
        self.stamp = 0
        self.tick(now_ms)

    def tick(self, now_ms: int) -> None:
        """Advance to ``now_ms`` (Valkey's ``server.lruclock`` refresh in serverCron)."""
        self.lru_clock = (now_ms // LRU_CLOCK_RESOLUTION_MS) & LRU_CLOCK_MAX
        self.minutes = (now_ms // 60000) & 65535
        stamp = (self.minutes << 8) | LFU_INIT_VAL if self.lfu else self.lru_clock
        if stamp != self.stamp:
            self.stamp = stamp

    def set_policy(self, lfu: bool, now_ms: int) -> None:
        self.lfu = lfu
        self.stamp = -1
        self.tick(now_ms)

    def idle_ms(self, stamp: int) -> int:
        """``estimateObjectIdleTime`` of an LRU stamp."""
        clock = self.lru_clock
        if clock >= stamp:
            return (clock - stamp) * LRU_CLOCK_RESOLUTION_MS
        return (clock + (LRU_CLOCK_MAX - stamp)) * LRU_CLOCK_RESOLUTION_MS

    def lfu_counter(self, stamp: int) -> int:
        """``LFUDecrAndReturn``: the counter less one per elapsed decay period."""
        ldt, counter = stamp >> 8, stamp & 255
        if self.decay_time:
            now = self.minutes
            elapsed = now - ldt if now >= ldt else 65535 - ldt + now
            periods = elapsed // self.decay_time
            if periods:
                return 0 if periods > counter else counter - periods
        return counter

    def lfu_accessed(self, stamp: int) -> int:
        """The stamp after one access (``updateLFU``): decay, then a logarithmic increment."""
        counter = self.lfu_counter(stamp)
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if self.rng.random() < 1.0 / ((base if base > 0 else 0) * self.log_factor + 1):
                counter += 1
        return (self.minutes << 8) | counter

    def lfu_stamp(self, counter: int) -> int:
        """A stamp with ``counter`` set now (RESTORE ... FREQ, DEBUG tools)."""
        return (self.minutes << 8) | counter

    def lru_stamp_idle(self, idle_s: int) -> int:
        """An LRU stamp ``idle_s`` seconds old (RESTORE ... IDLETIME)."""
        return (self.lru_clock - idle_s) & LRU_CLOCK_MAX
