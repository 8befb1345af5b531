"""Generic key commands (DEL, EXPIRE family, RENAME, SCAN, COPY, OBJECT, ...) as in Valkey 8.1."""

from __future__ import annotations

import bisect
from collections import deque
from typing import TYPE_CHECKING

from valsync.commands.context import CommandContext, ExpireMode
from valsync.commands.encodings import (
    DEFAULT_LIMITS,
    LISTPACK_MAX_BYTES,
    EncodingLimits,
    encoding_limits,
    set_encoding,
    zset_is_skiplist,
)
from valsync.commands.errors import (
    DB_INDEX_OUT_OF_RANGE,
    INT64_MAX,
    INT64_MIN,
    NO_SUCH_KEY,
    NOT_INTEGER,
    SYNTAX,
    CommandError,
    parse_int,
    wrong_arity,
)
from valsync.commands.registry import command
from valsync.commands.strings import (
    already_expired,
    delete_expired_and_propagate,
    is_int_encodable,
    reattach,
    string_encoding,
)
from valsync.keyspace.database import Database
from valsync.keyspace.glob import stringmatch
from valsync.keyspace.stream import StreamValue
from valsync.keyspace.values import HashValue, OpaqueValue, Value, ZSetValue, type_name
from valsync.resp.reply import OK, Reply, SimpleString

if TYPE_CHECKING:
    pass

SAME_OBJECT = "ERR source and destination objects are the same"
INVALID_CURSOR = "ERR invalid cursor"
LFU_NOT_SELECTED = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time "
    "to adjust."
)
LRU_NOT_SELECTED = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)
INT_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"
KNOWN_TYPES = frozenset({b"string", b"list", b"set", b"zset", b"hash", b"stream"})


def parse_c_int(arg: bytes) -> int:
    """getIntFromObjectOrReply: a 64-bit integer that must also fit a C int."""
    value = parse_int(arg)
    if not -(2**31) <= value < 2**31:
        raise CommandError(INT_RANGE)
    return value


def other_db(ctx: CommandContext, arg: bytes) -> Database:
    dbid = parse_c_int(arg)
    if not 0 <= dbid < len(ctx.keyspace):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    return ctx.keyspace[dbid]


# --- deletion and existence --------------------------------------------------------------


LAZYFREE_THRESHOLD = 64
QUICKLIST_NODE_ENTRIES = 128


def free_effort(key: bytes, value: Value) -> int:
    """``lazyfreeGetFreeEffort``: allocations to release (1 for a single-allocation value)."""
    if isinstance(value, StreamValue):
        return len(value.nodes) + sum(1 + len(g.pel) for g in value.groups.values())
    if isinstance(value, (bytes, OpaqueValue)) or len(value) <= LAZYFREE_THRESHOLD:
        return 1
    if object_encoding(value, key) in ("listpack", "intset"):
        return 1
    if isinstance(value, deque):
        return len(value) // QUICKLIST_NODE_ENTRIES + 1
    return len(value)


def del_generic(ctx: CommandContext, argv: list[bytes]) -> Reply:
    deleted = 0
    server = ctx.server
    for key in argv[1:]:
        value = ctx.lookup(key)
        if value is not None and ctx.db.delete(key):
            deleted += 1
            ctx.notify("g", "del", key)
            if (
                server is not None
                and free_effort(key, value) > LAZYFREE_THRESHOLD
                and (
                    argv[0].lower() == b"unlink" or server.config.get_bool("lazyfree-lazy-user-del")
                )
            ):
                # Valkey frees it in the background (lazyfreed_objects); valsync at once
                server.stats.lazyfreed_objects += 1
    ctx.dirty += deleted
    return deleted


command("del", -2, "write", 1, -1, 1)(del_generic)
command("unlink", -2, "write fast", 1, -1, 1)(del_generic)


@command("exists", -2, "readonly fast", 1, -1, 1)
def exists_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return sum(1 for key in argv[1:] if ctx.peek_read(key) is not None)


@command("touch", -2, "readonly fast", 1, -1, 1)
def touch_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    found = 0
    for key in argv[1:]:
        if ctx.lookup_read(key) is not None:
            found += 1
            if ctx.client.no_touch:
                ctx.db.touch(key)  # TOUCH touches even for a CLIENT NO-TOUCH client
    return found


@command("type", 2, "readonly fast", 1, 1, 1)
def type_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    value = ctx.peek_read(argv[1])
    return SimpleString("none" if value is None else type_name(value))


# --- expiry ------------------------------------------------------------------------------

EX_NX, EX_XX, EX_GT, EX_LT = 1, 2, 4, 8


def parse_expire_flags(argv: list[bytes]) -> int:
    flags = 0
    names = {b"NX": EX_NX, b"XX": EX_XX, b"GT": EX_GT, b"LT": EX_LT}
    for arg in argv[3:]:
        flag = names.get(arg.upper())
        if flag is None:
            raise CommandError(f"ERR Unsupported option {arg.decode('utf-8', 'replace')}")
        flags |= flag
    if flags & EX_NX and flags & (EX_XX | EX_GT | EX_LT):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & EX_GT and flags & EX_LT:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    return flags


def expire_generic(ctx: CommandContext, argv: list[bytes], seconds: bool, relative: bool) -> Reply:
    name = argv[0].decode("latin-1").lower()
    invalid = f"ERR invalid expire time in '{name}' command"
    key = argv[1]
    flags = parse_expire_flags(argv)
    when = parse_int(argv[2])
    if seconds:
        if when > INT64_MAX // 1000 or when < -(INT64_MAX // 1000):
            raise CommandError(invalid)
        when *= 1000
    base = ctx.now_ms if relative else 0
    if when > INT64_MAX - base:
        raise CommandError(invalid)
    when += base
    if ctx.lookup(key) is None:
        return 0
    if flags:
        current = ctx.db.expires.get(key)
        if flags & EX_NX and current is not None:
            return 0
        if flags & EX_XX and current is None:
            return 0
        if flags & EX_GT and (current is None or when <= current):
            return 0
        if flags & EX_LT and current is not None and when >= current:
            return 0
    if already_expired(ctx, when):
        delete_expired_and_propagate(ctx, key)
        return 1
    ctx.db.set_expire(key, when)
    if name != "pexpireat":
        ctx.rewrite([b"PEXPIREAT", key, str(when).encode()])
    ctx.notify("g", "expire", key)
    ctx.dirty += 1
    return 1


@command("expire", -3, "write fast", 1, 1, 1)
def expire_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return expire_generic(ctx, argv, True, True)


@command("pexpire", -3, "write fast", 1, 1, 1)
def pexpire_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return expire_generic(ctx, argv, False, True)


@command("expireat", -3, "write fast", 1, 1, 1)
def expireat_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return expire_generic(ctx, argv, True, False)


@command("pexpireat", -3, "write fast", 1, 1, 1)
def pexpireat_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return expire_generic(ctx, argv, False, False)


def ttl_generic(ctx: CommandContext, key: bytes, ms: bool, absolute: bool) -> Reply:
    if ctx.peek_read(key) is None:
        return -2
    when = ctx.db.expires.get(key)
    if when is None:
        return -1
    if absolute:
        return when if ms else when // 1000
    ttl = max(when - ctx.now_ms, 0)
    return ttl if ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast", 1, 1, 1)
def ttl_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return ttl_generic(ctx, argv[1], False, False)


@command("pttl", 2, "readonly fast", 1, 1, 1)
def pttl_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return ttl_generic(ctx, argv[1], True, False)


@command("expiretime", 2, "readonly fast", 1, 1, 1)
def expiretime_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return ttl_generic(ctx, argv[1], False, True)


@command("pexpiretime", 2, "readonly fast", 1, 1, 1)
def pexpiretime_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return ttl_generic(ctx, argv[1], True, True)


@command("persist", 2, "write fast", 1, 1, 1)
def persist_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.lookup(argv[1]) is None:
        return 0
    if ctx.db.persist(argv[1]):
        ctx.notify("g", "persist", argv[1])
        ctx.dirty += 1
        return 1
    return 0


# --- renaming, moving, copying -----------------------------------------------------------


def put(db: Database, src_key: bytes, key: bytes, value: Value, expire: int | None) -> None:
    """dbAdd + setExpire of a value moved or copied under ``key`` (a fresh entry: the TTL
    set afterwards does not shrink the embstr budget)."""
    db.set(key, reattach(src_key, key, value, False))
    if expire is not None:
        db.set_expire(key, expire)


def rename_generic(ctx: CommandContext, argv: list[bytes], nx: bool) -> Reply:
    src, dst = argv[1], argv[2]
    value = ctx.lookup(src)
    if value is None:
        raise CommandError(NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    expire = ctx.db.expires.get(src)
    if ctx.lookup(dst) is not None:
        if nx:
            return 0
        ctx.db.delete(dst)
    put(ctx.db, src, dst, value, expire)
    ctx.db.delete(src)
    ctx.notify("g", "rename_from", src)
    ctx.notify("g", "rename_to", dst)
    ctx.dirty += 1
    return 1 if nx else OK


@command("rename", 3, "write", 1, 2, 1)
def rename_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return rename_generic(ctx, argv, False)


@command("renamenx", 3, "write fast", 1, 2, 1)
def renamenx_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return rename_generic(ctx, argv, True)


@command("move", 3, "write fast", 1, 1, 1)
def move_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    dst = other_db(ctx, argv[2])
    src = ctx.db
    if dst is src:
        raise CommandError(SAME_OBJECT)
    value = ctx.lookup(key)
    if value is None:
        return 0
    expire = src.expires.get(key)
    if ctx.lookup(key, dst) is not None:
        return 0
    put(dst, key, key, value, expire)
    src.delete(key)
    ctx.notify("g", "move_from", key, src.id)
    ctx.notify("g", "move_to", key, dst.id)
    ctx.dirty += 1
    return 1


def copy_value(value: Value) -> Value:
    """A deep copy of a value (Valkey duplicates the object for COPY)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, deque):
        return deque(value)
    if isinstance(value, set):
        return set(value)
    if isinstance(value, HashValue):
        out = HashValue(value)
        out.field_expires = dict(value.field_expires)
        return out
    if isinstance(value, ZSetValue):
        zs = ZSetValue()
        for member, score in value.items():
            zs.add(member, score)
        return zs
    if isinstance(value, StreamValue):
        return value.copy()
    return OpaqueValue(value.rdb_type, value.payload, value.type_name, dict(value.extra))


@command("copy", -3, "write denyoom", 1, 2, 1)
def copy_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    src_key, dst_key = argv[1], argv[2]
    src = dst = ctx.db
    replace = False
    j = 3
    while j < len(argv):
        opt = argv[j].upper()
        if opt == b"REPLACE":
            replace = True
        elif opt == b"DB" and j + 1 < len(argv):
            dst = other_db(ctx, argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if src is dst and src_key == dst_key:
        raise CommandError(SAME_OBJECT)
    value = ctx.lookup_read(src_key)
    if value is None:
        return 0
    expire = src.expires.get(src_key)
    if ctx.lookup(dst_key, dst) is not None:
        if not replace:
            return 0
        dst.delete(dst_key)
    put(dst, src_key, dst_key, copy_value(value), expire)
    ctx.notify("g", "copy_to", dst_key, dst.id)
    ctx.dirty += 1
    return 1


# --- iteration ---------------------------------------------------------------------------


def glob_filter(pattern: bytes | None) -> bool:
    return pattern is not None and pattern != b"*"


@command("keys", 2, "readonly", 0, 0, 0)
def keys_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    pattern = argv[1]
    db = ctx.db
    out: list[Reply] = []
    for key in db.data:
        if glob_filter(pattern) and not stringmatch(pattern, key):
            continue
        if db.is_expired(key, ctx.now_ms) and ctx.expire_mode is not ExpireMode.KEEP:
            continue
        out.append(key)
    return out


SCAN_HASH_MASK = (1 << 62) - 1


def scan_position(key: bytes) -> int:
    """Where a key sits in SCAN order: fixed for the process, so a scan never misses a key
    that exists throughout (the cursor is the next position to visit)."""
    return (hash(key) & SCAN_HASH_MASK) + 1


# Per database, the keys sorted by position, rebuilt when a scan starts (cursor 0). Any
# snapshot taken after a scan began holds every key that exists for the whole scan, and
# keys deleted since are skipped, so one sort serves a whole scan instead of one per call.
_SNAPSHOTS: dict[int, tuple[Database, list[int], list[bytes]]] = {}
_MAX_SNAPSHOTS = 64


def _snapshot(db: Database, rebuild: bool) -> tuple[list[int], list[bytes]]:
    entry = _SNAPSHOTS.get(id(db))
    if rebuild or entry is None or entry[0] is not db:
        pairs = sorted((scan_position(k), k) for k in db.data)
        entry = (db, [p for p, _ in pairs], [k for _, k in pairs])
        _SNAPSHOTS.pop(id(db), None)
        _SNAPSHOTS[id(db)] = entry
        while len(_SNAPSHOTS) > _MAX_SNAPSHOTS:
            del _SNAPSHOTS[next(iter(_SNAPSHOTS))]
    return entry[1], entry[2]


def scan_batch(db: Database, cursor: int, count: int) -> tuple[list[bytes], int]:
    """Up to ``count`` live keys from ``cursor`` on (plus any sharing the last position),
    and the next cursor (0 when the scan is complete)."""
    positions, keys = _snapshot(db, cursor == 0)
    i = bisect.bisect_left(positions, cursor)
    out: list[bytes] = []
    while i < len(keys) and len(out) < count:
        if keys[i] in db.data:
            out.append(keys[i])
        i += 1
    while i < len(keys) and positions[i] == positions[i - 1]:
        if keys[i] in db.data:
            out.append(keys[i])
        i += 1
    return out, (positions[i - 1] + 1 if i < len(keys) else 0)


def parse_cursor(arg: bytes) -> int:
    if not arg.isdigit() or len(arg) > 20 or int(arg) >= 2**64:
        raise CommandError(INVALID_CURSOR)
    return int(arg)


@command("scan", -2, "readonly", 0, 0, 0)
def scan_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    cursor = parse_cursor(argv[1])
    count = 10
    pattern: bytes | None = None
    want_type: bytes | None = None
    j = 2
    while j < len(argv):
        opt = argv[j].upper()
        if j + 1 >= len(argv):
            raise CommandError(SYNTAX)
        arg = argv[j + 1]
        if opt == b"COUNT":
            count = parse_int(arg, NOT_INTEGER)
            if count < 1:
                raise CommandError(SYNTAX)
        elif opt == b"MATCH":
            pattern = arg
        elif opt == b"TYPE":
            if arg.lower() not in KNOWN_TYPES:
                raise CommandError(f"ERR unknown type name '{arg.decode('utf-8', 'replace')}'")
            want_type = arg.lower()
        else:
            raise CommandError(SYNTAX)
        j += 2
    db = ctx.db
    batch, next_cursor = scan_batch(db, cursor, count)
    out: list[Reply] = []
    for key in batch:
        if glob_filter(pattern) and pattern is not None and not stringmatch(pattern, key):
            continue
        if want_type is not None:
            # the type filter comes first: an expired key of another type is left alone
            stored = db.data.get(key)
            if stored is None or type_name(stored).encode() != want_type:
                continue
        if ctx.lookup(key) is None:
            continue
        out.append(key)
    return [str(next_cursor).encode(), out]


@command("randomkey", 1, "readonly", 0, 0, 0)
def randomkey_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    db = ctx.db
    tries = 0
    while True:
        key = db.random_key(ctx.rng)
        if key is None:
            return None
        if not db.is_expired(key, ctx.now_ms) or ctx.expire_mode is ExpireMode.KEEP:
            return key
        if ctx.expire_mode is ExpireMode.HIDE:
            tries += 1
            if tries > 100 or len(db.expires) == len(db.data):
                return key
            continue
        ctx.expire_if_needed(db, key)


# --- OBJECT ------------------------------------------------------------------------------

OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
]

# list-max-listpack-size below 0: the size class of a node (-1 = 4 KiB ... -5 = 64 KiB)
LIST_SIZE_CLASSES = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}


def _lp_entry_size(item: bytes) -> int:
    """Approximate bytes of one listpack entry (encoding header + data + back length)."""
    if is_int_encodable(item):
        v = int(item)
        size = (
            1
            if 0 <= v <= 127
            else 2
            if -4096 <= v < 4096
            else 3
            if -(2**15) <= v < 2**15
            else 4
            if -(2**23) <= v < 2**23
            else 5
            if -(2**31) <= v < 2**31
            else 9
        )
    else:
        n = len(item)
        size = (1 if n <= 63 else 2 if n <= 4095 else 5) + n
    return size + (1 if size <= 127 else 2 if size < 16383 else 3)


def quicklist_fields(value: deque[bytes], limits: EncodingLimits, compress_depth: int) -> str:
    """DEBUG OBJECT's quicklist figures, for nodes filled up to the configured limit."""
    sizes = [_lp_entry_size(item) for item in value]
    total = 7 + sum(sizes)
    fill = limits.list_fill
    if fill > 0:
        nodes = max(1, -(-len(value) // fill))
    else:
        nodes = max(1, -(-total // LIST_SIZE_CLASSES.get(fill, LISTPACK_MAX_BYTES)))
    return (
        f" ql_nodes:{nodes} ql_avg_node:{len(value) / nodes:.2f} ql_listpack_max:{fill} "
        f"ql_compressed:{int(compress_depth != 0)} ql_uncompressed_size:{total + 6 * nodes}"
    )


def object_encoding(
    value: Value, key: bytes | None = None, limits: EncodingLimits = DEFAULT_LIMITS
) -> str:
    """OBJECT ENCODING: the conversions a set or zset went through, else the value's content
    against the configured thresholds."""
    if isinstance(value, bytes):
        return string_encoding(value, key)
    if isinstance(value, deque):
        fill = limits.list_fill
        if fill > 0:
            small = len(value) <= fill
        else:
            size = 7 + sum(_lp_entry_size(item) for item in value)
            small = size <= LIST_SIZE_CLASSES.get(fill, LISTPACK_MAX_BYTES)
        return "listpack" if small else "quicklist"
    if isinstance(value, set):
        return set_encoding(value, limits)
    if isinstance(value, HashValue):
        small = len(value) <= limits.hash_entries and all(
            len(f) <= limits.hash_value and len(v) <= limits.hash_value for f, v in value.items()
        )
        return "listpack" if small and not value.field_expires else "hashtable"
    if isinstance(value, ZSetValue):
        return "skiplist" if zset_is_skiplist(value, limits) else "listpack"
    if isinstance(value, StreamValue):
        return "stream"
    return value.type_name


@command("object", -2, "readonly", 0, 0, 0)
def object_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = argv[1].lower()
    if sub == b"help" and len(argv) == 2:
        return [SimpleString(line) for line in OBJECT_HELP]
    if sub not in (b"encoding", b"freq", b"idletime", b"refcount", b"help"):
        raise CommandError(
            f"ERR unknown subcommand '{argv[1].decode('utf-8', 'replace')}'. Try OBJECT HELP."
        )
    if len(argv) != (2 if sub == b"help" else 3):
        raise CommandError(wrong_arity(f"object|{sub.decode()}"))
    key = argv[2]
    value = ctx.peek(key)
    if value is None:
        return None
    if sub == b"encoding":
        return object_encoding(value, key, encoding_limits(ctx)).encode()
    if sub == b"refcount":
        return 1  # 8.1 embeds the key in each stored object: none is shared
    lfu = _lfu_policy(ctx)
    db = ctx.db
    clock = db.clock
    stamp = db.stamp_of(key)
    if sub == b"idletime":
        if lfu:
            raise CommandError(LRU_NOT_SELECTED)
        return clock.idle_ms(stamp) // 1000
    if not lfu:
        raise CommandError(LFU_NOT_SELECTED)
    return clock.lfu_counter(stamp)


def _lfu_policy(ctx: CommandContext) -> bool:
    server = ctx.server
    return server is not None and "lfu" in server.config.get_str("maxmemory-policy")


__all__ = [
    "INT64_MIN",
    "LISTPACK_MAX_BYTES",
    "copy_value",
    "encoding_limits",
    "object_encoding",
]
