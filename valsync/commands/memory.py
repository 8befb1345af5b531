"""MEMORY USAGE/STATS/DOCTOR/MALLOC-STATS/PURGE/HELP with Valkey 8.1's reply shapes.

valsync's objects live on Python's heap, so sizes are an estimate of what Valkey would
allocate for the same value: jemalloc size classes over the value's Valkey encoding (exact
listpack/intset sizes for small containers; per-element costs of a hashtable, skiplist or
quicklist for big ones, sampled like ``objectComputeSize``: the first ``SAMPLES`` elements
(default 5, 0 = all) scaled to the element count). Calibrated on 8.1.8's answers, it lands
within a few percent on common shapes; it is not byte-exact.
MEMORY STATS reports the process as Valkey's fields: ``total.allocated`` is the RSS.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING, cast

from valsync.commands.context import CommandContext
from valsync.commands.errors import SYNTAX, CommandError, parse_int, wrong_arity
from valsync.commands.keys import LISTPACK_MAX_BYTES, object_encoding
from valsync.commands.registry import command
from valsync.keyspace.stream import StreamValue
from valsync.keyspace.values import HashValue, Value, ZSetValue
from valsync.rdb import intset, listpack
from valsync.rdb.writer import encode_object, score_text
from valsync.resp.reply import OK, Double, MapReply, Reply, SimpleString, Verbatim

if TYPE_CHECKING:
    from valsync.server import Server

MEMORY_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Print this help.",
]
SUBCOMMAND_ARITY = {
    b"doctor": 2,
    b"malloc-stats": 2,
    b"purge": 2,
    b"stats": 2,
    b"usage": -3,
    b"help": 2,
}
DOCTOR_EMPTY = (
    "Hi Sam, this instance is empty or is using very little memory, my issues detector can't "
    "be used in these conditions. Please, leave for your mission on Earth and fill it with "
    "some data. The new Sam and I will be back to our programming as soon as I finished "
    "rebooting.\n"
)
DOCTOR_FINE = (
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what "
    "occurs on this base.\n"
)
DOCTOR_EMPTY_BELOW = 5 * 1024 * 1024
OBJECT_HEADER = 16
DEFAULT_SAMPLES = 5
# Per-element costs beyond the element's own bytes (calibrated on 8.1.8's MEMORY USAGE).
HASHTABLE_ENTRY = 24
SET_ENTRY = 32
SKIPLIST_ENTRY = 80
QUICKLIST_NODE = 32
QUICKLIST_NODE_BYTES = 8192
KEY_SLOT = 16
"""Per-key share of the main hashtable beyond MEMORY USAGE (8.1.8: used_memory grows ~56
bytes per 10k small SETs whose MEMORY USAGE is 40)."""
STREAM_SERIALIZED_UP_TO = 1024
STREAM_ENTRY = 48
"""Bytes per entry of a long stream (sized without serializing it on every write)."""


def _rss() -> int:
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


STARTUP_RSS = _rss()


def alloc_size(n: int) -> int:
    """The jemalloc size class that holds ``n`` bytes (4 classes per doubling)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) // 16 * 16
    step = 1 << (n.bit_length() - 3)
    return (n + step - 1) // step * step


def _libc_usable(n: int) -> int:
    """``malloc_usable_size`` of glibc for ``n`` bytes (8.1.8 here runs on libc malloc)."""
    return max(32, (n + 8 + 15) & ~15) - 8


def _sds_header(n: int) -> int:
    return 3 if n < 256 else 5 if n < 65536 else 9


def _sds(n: int) -> int:
    header = 3 if n < 256 else 5 if n < 65536 else 9
    return alloc_size(n + header)


def _scaled(sizes: list[int], count: int) -> int:
    """Sampled element sizes scaled up to ``count`` elements."""
    if not sizes:
        return 0
    return sum(sizes) * count // len(sizes)


def value_usage(key: bytes, value: Value, samples: int = DEFAULT_SAMPLES) -> int:
    """MEMORY USAGE of ``value``: Valkey's allocation for it, estimated (module docstring)."""
    limit = None if samples == 0 else samples
    if isinstance(value, deque) and len(value) > LISTPACK_MAX_BYTES // 2:
        encoding = "quicklist"  # every entry takes 2 bytes or more: too long for a listpack
    elif isinstance(value, StreamValue) and len(value) > STREAM_SERIALIZED_UP_TO:
        return OBJECT_HEADER + STREAM_ENTRY * len(value)
    else:
        encoding = object_encoding(value, key)
    if isinstance(value, bytes):
        if encoding == "embstr":
            # object, key and value in one allocation (fitted on 8.1.8: 8 + class(19 + k + v))
            return 8 + alloc_size(19 + len(key) + len(value))
        # 8.1 embeds the key in the object (a byte of header size, then the key's sds); an
        # int lives in the object's pointer, a raw value in its own sds (libc's usable sizes)
        head = _libc_usable(OBJECT_HEADER + 1 + _sds_header(len(key)) + len(key) + 1)
        if encoding == "int":
            return head
        return head + _libc_usable(_sds_header(len(value)) + len(value) + 1)
    if isinstance(value, deque):
        if encoding == "listpack":
            return OBJECT_HEADER + 32 + alloc_size(listpack_size(value))
        sizes = [len(listpack.encode_entry(e)) for e in islice(value, limit)]
        body = _scaled(sizes, len(value))
        nodes = body // QUICKLIST_NODE_BYTES + 1
        return OBJECT_HEADER + 32 + body + nodes * QUICKLIST_NODE
    if isinstance(value, set):
        if encoding == "intset":
            blob = intset.encode(int(m) for m in value)
            return OBJECT_HEADER + 16 + alloc_size(len(blob))
        if encoding == "listpack":
            return OBJECT_HEADER + 32 + alloc_size(listpack_size(value))
        sizes = [_sds(len(m)) + SET_ENTRY for m in islice(value, limit)]
        return OBJECT_HEADER + _scaled(sizes, len(value))
    if isinstance(value, HashValue):
        if encoding == "listpack":
            return OBJECT_HEADER + alloc_size(listpack_size(x for kv in value.items() for x in kv))
        sizes = [
            _sds(len(f)) + _sds(len(v)) + HASHTABLE_ENTRY for f, v in islice(value.items(), limit)
        ]
        return OBJECT_HEADER + _scaled(sizes, len(value))
    if isinstance(value, ZSetValue):
        if encoding == "listpack":
            flat = (x for m, s in value.items() for x in (m, score_text(s)))
            return OBJECT_HEADER + alloc_size(listpack_size(flat))
        sizes = [_sds(len(m)) + SKIPLIST_ENTRY for m in islice(value.scores, limit)]
        return OBJECT_HEADER + _scaled(sizes, len(value))
    # streams and module values: their serialized size stands in for their allocation
    return OBJECT_HEADER + alloc_size(len(encode_object(value, key) or b""))


def key_memory(key: bytes, value: Value) -> int:
    """What a key adds to ``used_memory``: MEMORY USAGE's figure and its slot in the main
    table (:data:`KEY_SLOT`)."""
    return value_usage(key, value, DEFAULT_SAMPLES) + KEY_SLOT


def listpack_size(items: Iterable[bytes]) -> int:
    """Bytes of a listpack holding ``items`` (header 6, end byte 1)."""
    return 7 + sum(len(listpack.encode_entry(e)) for e in items)


def _server(ctx: CommandContext) -> Server | None:
    return cast("Server | None", ctx.server)


def _dataset_bytes(ctx: CommandContext) -> tuple[int, int]:
    """(keys, estimated bytes of all values) over every database."""
    keys = total = 0
    for db in ctx.keyspace.dbs:
        for key, value in db.data.items():
            keys += 1
            total += value_usage(key, value, DEFAULT_SAMPLES)
    return keys, total


def memory_stats(ctx: CommandContext) -> Reply:
    server = _server(ctx)
    rss = _rss()
    startup = min(STARTUP_RSS, rss)
    backlog = 0
    replicas = 0
    if server is not None and server.repl is not None:
        backlog = server.repl.backlog.histlen if server.repl.backlog is not None else 0
        replicas = server.repl.replication_buffer_bytes()
    keys, _ = _dataset_bytes(ctx)
    overhead = startup + backlog + replicas
    dataset = max(rss - overhead, 0)
    pairs: list[tuple[Reply, Reply]] = [
        (b"peak.allocated", rss),
        (b"total.allocated", rss),
        (b"startup.allocated", startup),
        (b"replication.backlog", backlog),
        (b"clients.slaves", replicas),
        (b"clients.normal", 0),
        (b"cluster.links", 0),
        (b"aof.buffer", 0),
        (b"lua.caches", 0),
        (b"functions.caches", 0),
    ]
    for db in ctx.keyspace.dbs:
        pairs.append(
            (
                f"db.{db.id}".encode(),
                MapReply(
                    [
                        (b"overhead.hashtable.main", 96 + HASHTABLE_ENTRY * len(db.data)),
                        (b"overhead.hashtable.expires", 96 + HASHTABLE_ENTRY * len(db.expires)),
                    ]
                ),
            )
        )
    net = rss - startup
    pairs += [
        (b"overhead.db.hashtable.lut", 0),
        (b"overhead.db.hashtable.rehashing", 0),
        (b"overhead.total", overhead),
        (b"db.dict.rehashing.count", 0),
        (b"keys.count", keys),
        (b"keys.bytes-per-key", net // keys if keys else 0),
        (b"dataset.bytes", dataset),
        (b"dataset.percentage", Double(100.0 * dataset / net if net > 0 else 0.0)),
        (b"peak.percentage", Double(100.0)),
        (b"allocator.allocated", rss),
        (b"allocator.active", rss),
        (b"allocator.resident", rss),
        (b"allocator.muzzy", 0),
        (b"allocator-fragmentation.ratio", Double(1.0)),
        (b"allocator-fragmentation.bytes", 0),
        (b"allocator-rss.ratio", Double(1.0)),
        (b"allocator-rss.bytes", 0),
        (b"rss-overhead.ratio", Double(1.0)),
        (b"rss-overhead.bytes", 0),
        (b"fragmentation", Double(1.0)),
        (b"fragmentation.bytes", 0),
    ]
    return MapReply(pairs)


def doctor_report(ctx: CommandContext) -> str:
    """The ``getMemoryDoctorReport`` text: Valkey's empty-instance answer below 5 MB of data,
    else its all-clear (the fragmentation checks do not apply to Python's heap)."""
    _, dataset = _dataset_bytes(ctx)
    return DOCTOR_EMPTY if dataset < DOCTOR_EMPTY_BELOW else DOCTOR_FINE


@command("memory", -2, "", 0, 0, 0)
def memory_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    arity = SUBCOMMAND_ARITY.get(sub)
    if arity is None:
        raise CommandError(
            f"ERR unknown subcommand '{argv[1].decode('utf-8', 'replace')}'. Try MEMORY HELP."
        )
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        raise CommandError(wrong_arity(f"memory|{sub.decode('latin-1')}"))
    if sub == b"help":
        return [SimpleString(line) for line in MEMORY_HELP]
    if sub == b"usage":
        samples = DEFAULT_SAMPLES
        j = 3
        while j < len(argv):
            if argv[j].lower() == b"samples" and j + 1 < len(argv):
                samples = parse_int(argv[j + 1])
                if samples < 0:
                    raise CommandError(SYNTAX)
                j += 2
            else:
                raise CommandError(SYNTAX)
        value = ctx.lookup(argv[2])
        if value is None:
            return None
        return value_usage(argv[2], value, samples)
    if sub == b"stats":
        return memory_stats(ctx)
    if sub == b"doctor":
        return Verbatim(doctor_report(ctx).encode())
    if sub == b"malloc-stats":
        return b"Stats not supported for the current allocator"
    return OK
