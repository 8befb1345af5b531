"""maxmemory: the used-memory figure, and evicting keys to stay under it (Valkey's evict.c).

valsync's objects live on Python's heap, so ``used_memory`` is not what the process holds
(that is ``used_memory_rss``) but what Valkey would hold for the same data: a fixed startup
figure, each key's estimated size (:func:`valsync.commands.memory.key_memory`, kept per key
by the databases, see :mod:`valsync.keyspace.database`), a slot per expiry, and the
replication buffers. Eviction compares that figure with ``maxmemory``, less what is not
counted for eviction (replication buffers beyond the backlog's size, Valkey's
``freeMemoryGetNotCountedMemory``).

:meth:`MemoryManager.perform_evictions` is ``performEvictions``: before every command (when
``maxmemory`` is set) and from the cron, it frees ``used - maxmemory`` bytes by deleting keys
chosen by ``maxmemory-policy``:

1. ``*-lru``, ``*-lfu``, ``volatile-ttl``: each round samples ``maxmemory-samples`` keys of
   every database (all keys, or those with a TTL for ``volatile-*``) into a pool of the 16
   best candidates seen so far (highest idle time, lowest LFU counter, nearest expiry), then
   evicts the best one still present;
2. ``*-random``: a random key, visiting the databases in turn;
3. each eviction deletes the key (a ``evicted`` keyspace event, WATCH and tracking told),
   counts ``evicted_keys`` and propagates ``UNLINK`` (``DEL`` with
   ``lazyfree-lazy-eviction no``) as its own unit;
4. after ``maxmemory-eviction-tenacity``'s time limit the cron carries on; with nothing
   left to evict the result is a failure, and commands flagged ``denyoom`` get ``-OOM``.

Replicas do not evict (``replica-ignore-maxmemory yes``): their primary's DELs keep them equal.
Python dicts have no random access, so keys are sampled from a list of the keys taken now and
then (:class:`_KeySample`), rebuilt when too many of its keys are gone or too many keys came.
"""

from __future__ import annotations

import enum
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from valsync.client_memory import counts_for_eviction
from valsync.commands.context import Propagated
from valsync.commands.memory import KEY_SLOT, key_memory
from valsync.keyspace.database import Database
from valsync.pause import PauseAction
from valsync.scripting.state import bytes_to_human

if TYPE_CHECKING:
    from valsync.server import Server

STARTUP_MEMORY = 958648
"""``used_memory_startup`` of valkey-server 8.1.8 (libc allocator, default config)."""
EXPIRE_SLOT = 16
"""Bytes a TTL adds (8.1.8's used_memory grows ~15 more per key with SETEX than with SET)."""
POOL_SIZE = 16
BUFFER_BLOCK = 16 * 1024
"""A replication buffer block (PROTO_REPLY_CHUNK_BYTES), for the backlog's bookkeeping."""
BLOCK_OVERHEAD = 48
EXACT_UP_TO = 5000
"""Without a maxmemory, a database this small is sized whole for INFO; a larger one from
:data:`SIZE_SAMPLES` keys drawn at random."""
SIZE_SAMPLES = 1000


class EvictResult(enum.Enum):
    OK = "ok"
    RUNNING = "running"
    """Over the limit still, but the time limit was hit: the cron goes on evicting."""
    FAIL = "fail"


@dataclass
class _KeySample:
    """A list of the keys of one dict (keys or expires of a database), to sample at random."""

    source: dict[bytes, object]
    keys: list[bytes] = field(default_factory=list)
    misses: int = 0

    def stale(self, source: dict[bytes, object]) -> bool:
        n = len(self.keys)
        return (
            source is not self.source
            or self.misses > n // 2
            or len(source) > n + n // 4 + 16
            or len(source) < n // 2
        )


def time_limit_us(tenacity: int) -> float:
    """``evictionTimeLimitUs``: 50 µs per step up to 10, then +15% per step; 100 = none."""
    if tenacity <= 10:
        return 50.0 * tenacity
    if tenacity < 100:
        return 500.0 * 1.15 ** (tenacity - 10)
    return float("inf")


class MemoryManager:
    """Used-memory accounting and eviction for one server (see the module docstring)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.maxmemory = 0
        self.policy = "noeviction"
        self.samples = 5
        self.tenacity = 10
        self.lazy = True
        self.ignore_on_replica = True
        self.peak = 0
        self.pool: list[tuple[int, int, bytes]] = []
        """(score, db, key), lowest score first: the eviction pool."""
        self.next_db = 0
        self.running = False
        self.exceeded_since: float | None = None
        self.total_exceeded_us = 0
        self._samples: dict[tuple[int, bool], _KeySample] = {}
        self._size_samples: dict[int, tuple[int, int, list[bytes]]] = {}
        """Per database: (id of its dict, its size then, keys drawn) for INFO's estimate."""
        config = server.config
        config.on_change("maxmemory", self._maxmemory_set)
        for name in (
            "maxmemory-policy",
            "maxmemory-samples",
            "maxmemory-eviction-tenacity",
            "lazyfree-lazy-eviction",
            "replica-ignore-maxmemory",
            "lfu-log-factor",
            "lfu-decay-time",
        ):
            config.on_change(name, self.reload)
        self.reload("")

    def _maxmemory_set(self, value: str) -> None:
        """``updateMaxmemory``: CONFIG SET below the usage warns (the cron then evicts)."""
        self.reload(value)
        if self.maxmemory:
            used = self.used_memory() - self.not_counted()
            if self.maxmemory < used:
                self.server.log.warning(
                    f"WARNING: the new maxmemory value set via CONFIG SET ({self.maxmemory}) is "
                    f"smaller than the current memory usage ({used}). This will result in key "
                    "eviction and/or the inability to accept new write commands depending on "
                    "the maxmemory-policy."
                )

    def reload(self, _value: str) -> None:
        config = self.server.config
        maxmemory = config.get_int("maxmemory")
        if self.maxmemory and not maxmemory:
            for db in self.server.keyspace.dbs:
                db.untrack_sizes()
        self.maxmemory = maxmemory
        policy = config.get_str("maxmemory-policy")
        if policy != self.policy:
            self.pool = []
        self.policy = policy
        self.samples = config.get_int("maxmemory-samples")
        self.tenacity = config.get_int("maxmemory-eviction-tenacity")
        self.lazy = config.get_bool("lazyfree-lazy-eviction")
        self.ignore_on_replica = config.get_bool("replica-ignore-maxmemory")
        clock = self.server.keyspace.clock
        clock.log_factor = config.get_int("lfu-log-factor")
        clock.decay_time = config.get_int("lfu-decay-time")
        lfu = policy.endswith("-lfu")
        if lfu != clock.lfu:
            clock.set_policy(lfu, int(time.time() * 1000))
        self.server.maxmemory = self.maxmemory

    # --- accounting ----------------------------------------------------------------------

    def keys_memory(self) -> int:
        """The keys' estimated bytes, TTL slots included: summed per key while a limit is
        enforced; otherwise measured on the spot, from a sample in a large database."""
        total = 0
        for db in self.server.keyspace.dbs:
            if not db.data:
                continue
            if self.maxmemory:
                total += db.settle(key_memory)
            elif len(db.data) <= EXACT_UP_TO:
                total += sum(key_memory(k, v) for k, v in db.data.items())
            else:
                data = db.data
                sizes = [key_memory(k, data[k]) for k in self._size_sample(db)]
                total += sum(sizes) * len(data) // max(len(sizes), 1)
            total += EXPIRE_SLOT * len(db.expires)
        return total

    def _size_sample(self, db: Database) -> list[bytes]:
        """:data:`SIZE_SAMPLES` keys of a large database drawn at random, kept while the
        database stays about the same size: a list of every key (8 bytes each) is not."""
        data = db.data
        n = len(data)
        cached = self._size_samples.get(db.id)
        if cached is not None:
            ident, size, keys = cached
            if ident == id(data) and size * 3 // 4 <= n <= size * 5 // 4 + 16:
                present = [k for k in keys if k in data]
                if len(present) * 2 >= len(keys):
                    return present
        mask = bytearray(n)
        for i in self.server.rng.sample(range(n), min(SIZE_SAMPLES, n)):
            mask[i] = 1
        keys = list(itertools.compress(data, mask))
        self._size_samples[db.id] = (id(data), n, keys)
        return keys

    def replication_buffers(self) -> int:
        repl = self.server.repl
        return repl.replication_buffer_bytes() if repl is not None else 0

    def clients_memory(self) -> int:
        """What normal and pub/sub clients take (``mem_clients_normal``: CLIENT LIST's
        tot-mem summed, see :mod:`valsync.client_memory`)."""
        total = 0
        for client in self.server.clients.values():
            if client.memory is not None and counts_for_eviction(client):
                total += client.memory().total
        return total

    def used_memory(self) -> int:
        used = (
            STARTUP_MEMORY + self.keys_memory() + self.replication_buffers() + self.clients_memory()
        )
        if used > self.peak:
            self.peak = used
        return used

    def not_counted(self) -> int:
        """``freeMemoryGetNotCountedMemory``: replication buffers beyond the backlog's size."""
        buffers = self.replication_buffers()
        size = self.server.config.get_int("repl-backlog-size")
        counted = size + (size // BUFFER_BLOCK + 1) * BLOCK_OVERHEAD
        return buffers - counted if buffers > counted else 0

    def over_limit(self) -> int:
        """Bytes to free to get under ``maxmemory`` (0: under it, or no limit)."""
        if not self.maxmemory:
            return 0
        used = self.used_memory()
        if used <= self.maxmemory:
            return 0
        used -= self.not_counted()
        return used - self.maxmemory if used > self.maxmemory else 0

    def cron(self) -> None:
        """Per cron tick: the LRU clock, and the eviction Valkey's evictionTimeProc does."""
        server = self.server
        server.keyspace.clock.tick(int(time.time() * 1000))
        if self.maxmemory and server.scripting.running is None:
            self.perform_evictions()

    # --- eviction ------------------------------------------------------------------------

    def _safe(self) -> bool:
        """``isSafeToPerformEvictions``."""
        server = self.server
        if server.loading:
            return False
        if server.is_replica and self.ignore_on_replica:
            return False
        return not (server.paused and server.paused & PauseAction.EVICT)

    def perform_evictions(self) -> EvictResult:
        if not self._safe():
            return EvictResult.OK
        tofree = self.over_limit()
        if not tofree:
            result = EvictResult.OK
        elif self.policy == "noeviction":
            result = EvictResult.FAIL
        else:
            result = self._evict(tofree)
        self._exceeded(result)
        return result

    def _evict(self, tofree: int) -> EvictResult:
        server = self.server
        start = time.perf_counter()
        limit_s = time_limit_us(self.tenacity) / 1e6
        freed = keys_freed = 0
        result = EvictResult.OK
        self.running = False
        while freed < tofree:
            found = self._pick()
            if found is None:
                result = EvictResult.FAIL
                break
            db, key = found
            before = db.settle(key_memory) + EXPIRE_SLOT * len(db.expires)
            event_start = time.perf_counter_ns()
            db.delete(key)
            after = db.settle(key_memory) + EXPIRE_SLOT * len(db.expires)
            server.latency_sample("eviction-del", (time.perf_counter_ns() - event_start) // 1000)
            freed += before - after
            server.stats.evicted_keys += 1
            server.notify_keyspace_event("e", "evicted", key, db.id)
            server.propagate([Propagated(db.id, [b"UNLINK" if self.lazy else b"DEL", key])])
            keys_freed += 1
            if keys_freed % 16 == 0 and time.perf_counter() - start > limit_s:
                self.running = True
                result = EvictResult.RUNNING
                break
        server.latency_sample("eviction-cycle", int((time.perf_counter() - start) * 1e6))
        if result is EvictResult.FAIL and keys_freed and not self.over_limit():
            result = EvictResult.OK
        return result

    def _exceeded(self, result: EvictResult) -> None:
        now = time.monotonic()
        if result is EvictResult.OK:
            if self.exceeded_since is not None:
                self.total_exceeded_us += int((now - self.exceeded_since) * 1e6)
                self.exceeded_since = None
        elif self.exceeded_since is None:
            self.exceeded_since = now

    def _sources(self, volatile: bool) -> Iterable[tuple[Database, dict[bytes, object]]]:
        for db in self.server.keyspace.dbs:
            source: dict[bytes, object] = db.expires if volatile else db.data  # type: ignore[assignment]
            if source:
                yield db, source

    def _sample(
        self, db: Database, source: dict[bytes, object], volatile: bool, count: int = 0
    ) -> list[bytes]:
        """Up to ``count`` (default ``maxmemory-samples``) distinct keys of ``source`` drawn
        at random."""
        ident = (db.id, volatile)
        sample = self._samples.get(ident)
        if sample is None or sample.stale(source):
            sample = self._samples[ident] = _KeySample(source, list(source))
        keys = sample.keys
        rng = self.server.rng
        want = min(count or self.samples, len(source))
        picked: dict[bytes, None] = {}
        for _ in range(want * 3):
            if len(picked) >= want or not keys:
                break
            key = keys[rng.randrange(len(keys))]
            if key in source:
                picked[key] = None
            else:
                sample.misses += 1
        return list(picked)

    def _pick(self) -> tuple[Database, bytes] | None:
        policy = self.policy
        volatile = policy.startswith("volatile-")
        dbs = self.server.keyspace.dbs
        if policy.endswith("-random"):
            n = len(dbs)
            for _ in range(n):
                self.next_db = (self.next_db + 1) % n
                db = dbs[self.next_db]
                source: dict[bytes, object] = db.expires if volatile else db.data  # type: ignore[assignment]
                if source:
                    keys = self._sample(db, source, volatile)
                    if keys:
                        return db, keys[0]
            return None
        for _ in range(64):
            sources = list(self._sources(volatile))
            if not sources:
                return None
            for db, source in sources:
                self._populate(db, self._sample(db, source, volatile))
            while self.pool:
                _, dbid, key = self.pool.pop()
                db = dbs[dbid]
                if key in (db.expires if volatile else db.data):
                    return db, key
        return None

    def _populate(self, db: Database, keys: list[bytes]) -> None:
        """``evictionPoolPopulate``: keep the :data:`POOL_SIZE` best candidates."""
        policy = self.policy
        clock = db.clock
        pool = self.pool
        for key in keys:
            if policy.endswith("-lru"):
                score = clock.idle_ms(db.stamp_of(key))
            elif policy.endswith("-lfu"):
                score = 255 - clock.lfu_counter(db.stamp_of(key))
            else:
                score = -db.expires.get(key, 0)
            if len(pool) >= POOL_SIZE and score < pool[0][0]:
                continue
            entry = (score, db.id, key)
            if entry in pool:
                continue
            pool.append(entry)
            pool.sort()
            if len(pool) > POOL_SIZE:
                del pool[0]

    # --- INFO ----------------------------------------------------------------------------

    def info_memory_lines(self, rss: int) -> list[str]:
        server = self.server
        used = self.used_memory()
        clients = self.clients_memory()
        keys = sum(len(db.data) for db in server.keyspace.dbs)
        expires = sum(len(db.expires) for db in server.keyspace.dbs)
        repl_buffers = self.replication_buffers()
        repl = server.repl
        backlog = repl.backlog.histlen if repl is not None and repl.backlog is not None else 0
        replica_buffers = 0
        if repl is not None and any(
            not getattr(link, "closed", False) for link in repl.links.values()
        ):
            # replicas share the backlog's blocks: what it holds beyond its size is theirs
            backlog = min(backlog, server.config.get_int("repl-backlog-size"))
            replica_buffers = max(repl_buffers - backlog, 0)
        overhead = STARTUP_MEMORY + repl_buffers + clients + KEY_SLOT * keys + EXPIRE_SLOT * expires
        dataset = max(used - overhead, 0)
        net = used - STARTUP_MEMORY
        peak = max(self.peak, used)
        frag = rss / used if used else 0.0
        return [
            f"used_memory:{used}",
            f"used_memory_human:{bytes_to_human(used)}",
            f"used_memory_rss:{rss}",
            f"used_memory_rss_human:{bytes_to_human(rss)}",
            f"used_memory_peak:{peak}",
            f"used_memory_peak_human:{bytes_to_human(peak)}",
            f"used_memory_peak_perc:{100.0 * used / peak:.2f}%",
            f"used_memory_overhead:{overhead}",
            f"used_memory_startup:{STARTUP_MEMORY}",
            f"used_memory_dataset:{dataset}",
            f"used_memory_dataset_perc:{100.0 * dataset / net if net > 0 else 0.0:.2f}%",
            f"allocator_allocated:{used}",
            f"allocator_active:{rss}",
            f"allocator_resident:{rss}",
            "allocator_muzzy:0",
            f"total_system_memory:{_total_system_memory()}",
            f"total_system_memory_human:{bytes_to_human(_total_system_memory())}",
            *server.scripting.info_memory_lines(),
            f"maxmemory:{self.maxmemory}",
            f"maxmemory_human:{bytes_to_human(self.maxmemory)}",
            f"maxmemory_policy:{self.policy}",
            "allocator_frag_ratio:1.00",
            "allocator_frag_bytes:0",
            "allocator_rss_ratio:1.00",
            "allocator_rss_bytes:0",
            "rss_overhead_ratio:1.00",
            "rss_overhead_bytes:0",
            f"mem_fragmentation_ratio:{frag:.2f}",
            f"mem_fragmentation_bytes:{rss - used}",
            f"mem_not_counted_for_evict:{self.not_counted()}",
            f"mem_replication_backlog:{backlog}",
            f"mem_total_replication_buffers:{repl_buffers}",
            f"mem_clients_slaves:{replica_buffers}",
            f"mem_clients_normal:{clients}",
            "mem_cluster_links:0",
            "mem_aof_buffer:0",
            "mem_allocator:libc",
            "mem_overhead_db_hashtable_rehashing:0",
            "active_defrag_running:0",
            "lazyfree_pending_objects:0",
            f"lazyfreed_objects:{server.stats.lazyfreed_objects}",
        ]

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: the eviction-exceeded times start again."""
        self.total_exceeded_us = 0
        if self.exceeded_since is not None:
            self.exceeded_since = time.monotonic()

    def info_stats_lines(self) -> list[str]:
        """``total_eviction_exceeded_time`` and ``current_eviction_exceeded_time`` (ms)."""
        current = 0
        if self.exceeded_since is not None:
            current = int((time.monotonic() - self.exceeded_since) * 1000)
        return [
            f"total_eviction_exceeded_time:{self.total_exceeded_us // 1000 + current}",
            f"current_eviction_exceeded_time:{current}",
        ]


def _total_system_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
