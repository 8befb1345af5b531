"""Incremental, sans-IO RDB loader.

Theory of operation: bytes go in with :meth:`RdbReader.feed` in any chunking; each complete
record (an opcode, or a key with its value) is decoded as soon as all of its bytes are there
and stored into a *fresh* :class:`~valsync.keyspace.Keyspace` (or handed to ``on_key``).
A record cut by a chunk boundary is retried from its first byte once enough bytes arrived;
the retry threshold grows geometrically so a huge value is not re-parsed per chunk.
:meth:`RdbReader.finish` ends the stream: it raises :class:`RdbError` unless the EOF opcode
and the checksum were seen, so a corrupt or cut dump never half-loads, the caller swaps the
keyspace in only on success. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from struct import unpack_from
from typing import TypeVar

import lzf
from sortedcontainers import SortedList

from valsync.keyspace import HashValue, Keyspace, Value, ZSetValue
from valsync.rdb import format as F
from valsync.rdb import intset, listpack, ziplist
from valsync.rdb.format import CRC64, EncodingError, RdbError

KeyCallback = Callable[[int, bytes, Value, "int | None"], None]

_MAX_GROWTH = 64 << 20
_T = TypeVar("_T")
_LZF_MAX_RATIO = 100


class _Short(Exception):
    """More bytes are needed; ``need`` is the buffer position that must be available."""

    def __init__(self, need: int) -> None:
        self.need = need


class _Corrupt(Exception):
    """Malformed data at buffer position ``pos`` (converted to :class:`RdbError`)."""

    def __init__(self, reason: str, pos: int) -> None:
        self.reason = reason
        self.pos = pos


@dataclass(frozen=True, slots=True)
class RdbKey:
    """One decoded key, for pull-style consumers (:meth:`RdbReader.next_event`)."""

    db: int
    key: bytes
    value: Value
    expire_ms: int | None


@dataclass
class RdbLoadResult:
    """A fully loaded dump: the new keyspace and everything else the file carried."""

    keyspace: Keyspace
    version: int
    aux: dict[str, bytes]
    functions: list[bytes]
    keys_loaded: int
    checksum: int
    checksum_verified: bool
    resize_hints: list[tuple[int, int, int]] = field(default_factory=list)
    trailing: bytes = b""


def _key_repr(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


def _read_len(buf: bytes, p: int) -> tuple[int, int]:
    b = buf[p]
    kind = b >> 6
    if kind == 0:
        return b & 0x3F, p + 1
    if kind == 1:
        return ((b & 0x3F) << 8) | buf[p + 1], p + 2
    if b == 0x80:
        if p + 5 > len(buf):
            raise _Short(p + 5)
        return int.from_bytes(buf[p + 1 : p + 5], "big"), p + 5
    if b == 0x81:
        if p + 9 > len(buf):
            raise _Short(p + 9)
        return int.from_bytes(buf[p + 1 : p + 9], "big"), p + 9
    raise _Corrupt(f"bad length encoding 0x{b:02x}", p)


def _read_string(buf: bytes, p: int) -> tuple[bytes, int]:
    b = buf[p]
    kind = b >> 6
    if kind == 0:
        n = b & 0x3F
        p += 1
    elif kind == 1:
        n = ((b & 0x3F) << 8) | buf[p + 1]
        p += 2
    elif kind == 2:
        n, p = _read_len(buf, p)
    elif b == 0xC0:
        v = buf[p + 1]
        return b"%d" % (v - 256 if v > 127 else v), p + 2
    elif b == 0xC1 or b == 0xC2:
        w = 2 if b == 0xC1 else 4
        if p + 1 + w > len(buf):
            raise _Short(p + 1 + w)
        return b"%d" % int.from_bytes(buf[p + 1 : p + 1 + w], "little", signed=True), p + 1 + w
    elif b == 0xC3:
        return _read_lzf(buf, p)
    else:
        raise _Corrupt(f"unknown string encoding 0x{b:02x}", p)
    q = p + n
    if q > len(buf):
        raise _Short(q)
    return buf[p:q], q


def _read_lzf(buf: bytes, p: int) -> tuple[bytes, int]:
    start = p
    clen, p = _read_len(buf, p + 1)
    olen, p = _read_len(buf, p)
    q = p + clen
    if q > len(buf):
        raise _Short(q)
    if olen == 0 or clen == 0 or olen > clen * _LZF_MAX_RATIO + 64:
        raise _Corrupt(f"bad LZF lengths (compressed {clen}, original {olen})", start)
    try:
        out = lzf.decompress(buf[p:q], olen)
    except ValueError:
        out = None
    if out is None or len(out) != olen:
        raise _Corrupt("invalid LZF compressed string", start)
    return bytes(out), q


def _read_double_text(buf: bytes, p: int) -> tuple[float, int]:
    n = buf[p]
    if n == 253:
        return float("nan"), p + 1
    if n == 254:
        return float("inf"), p + 1
    if n == 255:
        return float("-inf"), p + 1
    q = p + 1 + n
    if q > len(buf):
        raise _Short(q)
    try:
        return float(buf[p + 1 : q]), q
    except ValueError:
        raise _Corrupt("bad text double", p) from None


def _make_zset(pairs: list[tuple[bytes, float]]) -> ZSetValue:
    z = ZSetValue()
    scores = dict(pairs)
    if len(scores) == len(pairs):
        z.scores = scores
        z.index = SortedList((s, m) for m, s in pairs)
    else:
        for m, s in pairs:
            z.add(m, s)
    return z


def _pairs(items: list[bytes], what: str, pos: int) -> list[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise _Corrupt(f"{what} holds an odd number of elements", pos)
    it = iter(items)
    return list(zip(it, it, strict=True))


def _zset_from_flat(items: list[bytes], pos: int) -> ZSetValue:
    try:
        return _make_zset([(m, float(s)) for m, s in _pairs(items, "zset", pos)])
    except ValueError:
        raise _Corrupt("bad zset score", pos) from None


def _read_value(rdb_type: int, buf: bytes, p: int, key: bytes) -> tuple[Value, int]:
    """Decode one value of ``rdb_type`` at ``p``; returns it and the position after it."""
    start = p
    try:
        if rdb_type == F.TYPE_STRING:
            return _read_string(buf, p)
        if rdb_type in (F.TYPE_LIST, F.TYPE_SET, F.TYPE_HASH):
            n, p = _read_len(buf, p)
            items: list[bytes] = []
            for _ in range(n * 2 if rdb_type == F.TYPE_HASH else n):
                s, p = _read_string(buf, p)
                items.append(s)
            if p > len(buf):
                raise _Short(p)
            if rdb_type == F.TYPE_LIST:
                return deque(items), p
            if rdb_type == F.TYPE_SET:
                return set(items), p
            return HashValue(_pairs(items, "hash", start)), p
        if rdb_type == F.TYPE_ZSET_2:
            n, p = _read_len(buf, p)
            zpairs: list[tuple[bytes, float]] = []
            for _ in range(n):
                m, p = _read_string(buf, p)
                if p + 8 > len(buf):
                    raise _Short(p + 8)
                zpairs.append((m, unpack_from("<d", buf, p)[0]))
                p += 8
            return _make_zset(zpairs), p
        if rdb_type == F.TYPE_ZSET:
            n, p = _read_len(buf, p)
            zpairs = []
            for _ in range(n):
                m, p = _read_string(buf, p)
                score, p = _read_double_text(buf, p)
                zpairs.append((m, score))
            return _make_zset(zpairs), p
        if rdb_type == F.TYPE_HASH_2:
            n, p = _read_len(buf, p)
            h = HashValue()
            for _ in range(n):
                f, p = _read_string(buf, p)
                v, p = _read_string(buf, p)
                if p + 8 > len(buf):
                    raise _Short(p + 8)
                when = int.from_bytes(buf[p : p + 8], "little", signed=True)
                p += 8
                h[f] = v
                if when != -1:
                    h.expire_field(f, when)
            return h, p
        if rdb_type == F.TYPE_LIST_QUICKLIST_2:
            n, p = _read_len(buf, p)
            lst: deque[bytes] = deque()
            for _ in range(n):
                container, p = _read_len(buf, p)
                blob_pos = p
                blob, p = _read_string(buf, p)
                if container == F.QUICKLIST_NODE_PLAIN:
                    lst.append(blob)
                elif container == F.QUICKLIST_NODE_PACKED:
                    lst.extend(_blob(listpack.decode, blob, blob_pos))
                else:
                    raise _Corrupt(f"bad quicklist container {container}", blob_pos)
            return lst, p
        if rdb_type == F.TYPE_LIST_QUICKLIST:
            n, p = _read_len(buf, p)
            lst = deque()
            for _ in range(n):
                blob_pos = p
                blob, p = _read_string(buf, p)
                lst.extend(_blob(ziplist.decode, blob, blob_pos))
            return lst, p
        if rdb_type in F.STREAM_TYPES:
            from valsync.rdb.stream import StreamFormatError, read_stream

            try:
                return read_stream(buf, p, rdb_type)
            except StreamFormatError as err:
                raise _Corrupt(str(err), start) from None
        if rdb_type in (F.TYPE_MODULE_2, F.TYPE_MODULE_PRE_GA):
            raise _Corrupt(
                f"module value (type {rdb_type}) of key '{_key_repr(key)}' is not supported", start
            )
        blob, p = _read_string(buf, p)
        if rdb_type == F.TYPE_SET_INTSET:
            return {b"%d" % v for v in _blob(intset.decode, blob, start)}, p
        if rdb_type == F.TYPE_SET_LISTPACK:
            return set(_blob(listpack.decode, blob, start)), p
        if rdb_type == F.TYPE_HASH_LISTPACK:
            return HashValue(_pairs(_blob(listpack.decode, blob, start), "hash", start)), p
        if rdb_type == F.TYPE_ZSET_LISTPACK:
            return _zset_from_flat(_blob(listpack.decode, blob, start), start), p
        if rdb_type == F.TYPE_LIST_ZIPLIST:
            return deque(_blob(ziplist.decode, blob, start)), p
        if rdb_type == F.TYPE_ZSET_ZIPLIST:
            return _zset_from_flat(_blob(ziplist.decode, blob, start), start), p
        if rdb_type == F.TYPE_HASH_ZIPLIST:
            return HashValue(_pairs(_blob(ziplist.decode, blob, start), "hash", start)), p
        if rdb_type == F.TYPE_HASH_ZIPMAP:
            return HashValue(_pairs(_blob(ziplist.decode_zipmap, blob, start), "hash", start)), p
    except IndexError:
        raise _Short(len(buf) + 1) from None
    raise _Corrupt(f"unknown type {rdb_type}", start - 1)


def _blob(decode: Callable[[bytes], list[_T]], blob: bytes, pos: int) -> list[_T]:
    try:
        return decode(blob)
    except EncodingError as err:
        raise _Corrupt(str(err), pos) from None


_VALUE_TYPES = frozenset(
    {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
)


def decode_object(data: bytes, key: bytes = b"") -> tuple[Value, int]:
    """One value from its type byte and encoding (a key record without its key, the body of
    a DUMP payload); returns it and the bytes it took. Raises RdbError when malformed or cut;
    ``key`` only names the key in errors."""
    try:
        rdb_type = data[0]
        if rdb_type not in _VALUE_TYPES:
            raise _Corrupt(f"unknown type {rdb_type}", 0)
        value, end = _read_value(rdb_type, data, 1, key)
        if end > len(data):
            raise _Short(end)
    except (IndexError, _Short):
        raise RdbError("truncated", len(data)) from None
    except _Corrupt as exc:
        raise RdbError(exc.reason, exc.pos) from None
    return value, end


class RdbReader:
    """Feed an RDB stream in any chunking; :meth:`finish` returns the loaded result.

    Args:
        keyspace: where keys go; a fresh ``Keyspace(databases)`` when omitted, so a failed
            load never touches live data.
        databases: how many DBs SELECTDB may address.
        on_key: when given, called as ``on_key(db, key, value, expire_ms)`` for every key
            instead of storing it (for ``rdb dump`` and streaming consumers).
        verify_checksum: check the CRC-64 trailer (a stored 0 is never checked, as in Valkey).
        total_size: the payload length when known (``$<len>`` transfers), so the last
            records are decoded as soon as they arrive.
        events: queue every key as an :class:`RdbKey` for :meth:`next_event` instead of
            storing it.
    """

    def __init__(
        self,
        keyspace: Keyspace | None = None,
        *,
        databases: int = 16,
        on_key: KeyCallback | None = None,
        verify_checksum: bool = True,
        total_size: int | None = None,
        events: bool = False,
    ) -> None:
        if events and on_key is not None:
            raise ValueError("events and on_key are exclusive")
        self._events: deque[RdbKey] = deque()
        if events:
            on_key = self._queue_key
        self.keyspace = keyspace if keyspace is not None else Keyspace(databases)
        self.databases = len(self.keyspace)
        self.version = 0
        self.aux: dict[str, bytes] = {}
        self.functions: list[bytes] = []
        self.resize_hints: list[tuple[int, int, int]] = []
        self.keys_loaded = 0
        self.done = False
        self.checksum = 0
        self.checksum_verified = False
        self.trailing = b""
        self._on_key = on_key
        self._verify = verify_checksum
        self._total = total_size
        self._buf = b""
        self._pos = 0
        self._base = 0
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._need = F.MAGIC_LEN
        self._crc = 0
        self._crc_from = 0
        self._db = 0
        self._expire: int | None = None
        self._failed: RdbError | None = None

    def _queue_key(self, db: int, key: bytes, value: Value, expire_ms: int | None) -> None:
        self._events.append(RdbKey(db, key, value, expire_ms))

    def next_event(self) -> RdbKey | None:
        """The next decoded key (``events=True``), or None until more bytes are fed."""
        return self._events.popleft() if self._events else None

    @property
    def bytes_consumed(self) -> int:
        """Bytes of the stream decoded so far (complete records only)."""
        return self._base + self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> int:
        """Add bytes; returns how many keys this call decoded. Raises RdbError on corruption."""
        if self._failed is not None:
            raise self._failed
        if not data:
            return 0
        chunk = bytes(data)
        if self.done:
            self.trailing += chunk
            return 0
        self._pending.append(chunk)
        self._pending_len += len(chunk)
        if self._base + len(self._buf) + self._pending_len < self._need:
            return 0
        self._join()
        return self._run(final=False)

    def finish(self) -> RdbLoadResult:
        """End of stream: the result, or RdbError when the dump is cut or corrupt."""
        if self._failed is not None:
            raise self._failed
        if not self.done:
            self._join()
            self._run(final=True)
        return RdbLoadResult(
            keyspace=self.keyspace,
            version=self.version,
            aux=self.aux,
            functions=self.functions,
            keys_loaded=self.keys_loaded,
            checksum=self.checksum,
            checksum_verified=self.checksum_verified,
            resize_hints=self.resize_hints,
            trailing=self.trailing,
        )

    def _join(self) -> None:
        buf, pos = self._buf, self._pos
        if pos > self._crc_from:
            self._crc = CRC64.calc(memoryview(buf)[self._crc_from : pos], self._crc)
        rest = buf[pos:] if pos < len(buf) else b""
        if self._pending:
            if not rest and len(self._pending) == 1:
                rest = self._pending[0]
            else:
                rest = rest + b"".join(self._pending)
        self._buf = rest
        self._base += pos
        self._pos = 0
        self._crc_from = 0
        self._pending = []
        self._pending_len = 0

    def _error(self, reason: str, pos: int, where: str = "") -> RdbError:
        offset = self._base + pos
        self._failed = RdbError(reason + where, offset, f"{reason} at byte {offset}{where}")
        return self._failed

    def _key_at(self, buf: bytes, start: int) -> str:
        """`` in key 'x'`` for a key record at ``start`` when its name can be read."""
        try:
            if buf[start] in _VALUE_TYPES:
                key, _ = _read_string(buf, start + 1)
                return f" in key '{_key_repr(key)}'"
        except (IndexError, _Short, _Corrupt):
            pass
        return ""

    def _header(self, buf: bytes) -> None:
        """Accept what Valkey 8.1.8 / 9.1.2 accept in strict mode: REDIS 1..11 and VALKEY080."""
        magic = buf[: F.MAGIC_LEN]
        if magic.startswith(b"REDIS") and magic[5:].isdigit():
            version = int(magic[5:])
            ok = 1 <= version <= F.RDB_VERSION
        elif magic.startswith(b"VALKEY") and magic[6:].isdigit():
            version = int(magic[6:])
            ok = version == F.RDB_VERSION_VALKEY
        else:
            reason = "Wrong signature trying to load DB from file"
            self._failed = RdbError(reason, 0, reason)
            raise self._failed
        if not ok:
            reason = f"Can't handle RDB format version {version}"
            self._failed = RdbError(reason, 0, reason)
            raise self._failed
        self.version = version

    def _run(self, final: bool) -> int:
        buf = self._buf
        end = len(buf)
        p = self._pos
        if self.version == 0:
            if end < F.MAGIC_LEN:
                if final:
                    raise self._error("truncated", end, " in the header")
                self._need = F.MAGIC_LEN
                return 0
            self._header(buf)
            p = F.MAGIC_LEN
        on_key = self._on_key
        dbi = self._db
        db = self.keyspace.dbs[dbi]
        data, expires = db.data, db.expires
        expire = self._expire
        nkeys = 0
        start = p
        read_string = _read_string
        try:
            while True:
                start = p
                t = buf[p]
                if t == 0 and on_key is None:
                    if expire is None:
                        # a run of short strings without expiry (the bulk of many dumps);
                        # ``start`` follows each record so that a cut one is retried alone
                        n0 = nkeys
                        while True:
                            key_at = p + 2
                            kb = buf[key_at - 1]
                            if kb >= 64:
                                break
                            q = key_at + kb
                            vb = buf[q]
                            if vb >= 64:
                                break
                            val_at = q + 1
                            r = val_at + vb
                            if r > end:
                                raise _Short(r)
                            data[buf[key_at:q]] = buf[val_at:r]
                            nkeys += 1
                            p = start = r
                            if buf[r]:
                                break
                        if nkeys != n0:
                            continue
                    b = buf[p + 1]
                    if b < 64:
                        q = p + 2 + b
                        key = buf[p + 2 : q]
                    else:
                        key, q = read_string(buf, p + 1)
                    b = buf[q]
                    if b < 64:
                        p = q + 1 + b
                        val: Value = buf[q + 1 : p]
                    else:
                        val, p = read_string(buf, q)
                    if p > end:
                        raise _Short(p)
                    data[key] = val
                    if expire is not None:
                        expires[key] = expire
                        expire = None
                    nkeys += 1
                    continue
                if t < F.OPCODE_SLOT_INFO:
                    if t not in _VALUE_TYPES:
                        raise _Corrupt(f"unknown type {t}", p)
                    key, q = read_string(buf, p + 1)
                    val, p = _read_value(t, buf, q, key)
                    if p > end:
                        raise _Short(p)
                    if on_key is not None:
                        on_key(dbi, key, val, expire)
                    else:
                        data[key] = val
                        if expire is not None:
                            expires[key] = expire
                    expire = None
                    nkeys += 1
                elif t == F.OPCODE_EXPIRETIME_MS:
                    p += 9
                    if p > end:
                        raise _Short(p)
                    expire = int.from_bytes(buf[start + 1 : p], "little", signed=True)
                elif t == F.OPCODE_SELECTDB:
                    n, p = _read_len(buf, p + 1)
                    if n >= self.databases:
                        raise _Corrupt(
                            f"SELECTDB {n} is beyond the {self.databases} databases configured",
                            start,
                        )
                    dbi = n
                    db = self.keyspace.dbs[dbi]
                    data, expires = db.data, db.expires
                elif t == F.OPCODE_RESIZEDB:
                    nk, q = _read_len(buf, p + 1)
                    ne, p = _read_len(buf, q)
                    self.resize_hints.append((dbi, nk, ne))
                elif t == F.OPCODE_AUX:
                    k, q = read_string(buf, p + 1)
                    v, p = read_string(buf, q)
                    if p > end:
                        raise _Short(p)
                    self.aux[k.decode("utf-8", "backslashreplace")] = v
                elif t == F.OPCODE_FUNCTION2:
                    lib, p = read_string(buf, p + 1)
                    if p > end:
                        raise _Short(p)
                    self.functions.append(lib)
                elif t == F.OPCODE_EXPIRETIME:
                    p += 5
                    if p > end:
                        raise _Short(p)
                    expire = int.from_bytes(buf[start + 1 : p], "little") * 1000
                elif t == F.OPCODE_IDLE:
                    _, p = _read_len(buf, p + 1)
                elif t == F.OPCODE_FREQ:
                    p += 2
                elif t == F.OPCODE_SLOT_INFO:
                    _, q = _read_len(buf, p + 1)
                    _, q = _read_len(buf, q)
                    _, p = _read_len(buf, q)
                elif t == F.OPCODE_EOF:
                    self._eof(buf, p, final)
                    p = self._pos
                    break
                elif t == F.OPCODE_MODULE_AUX:
                    raise _Corrupt("module aux data (opcode 0xF7) is not supported", p)
                else:
                    raise _Corrupt("pre-GA function data (opcode 0xF6) is not supported", p)
                if p > end:
                    raise _Short(p)
        except (IndexError, _Short) as exc:
            p = start
            if final:
                raise self._error("truncated", end, self._key_at(buf, start)) from None
            need = exc.need if isinstance(exc, _Short) else end + 1
            need = max(need, end + 1, end + min(end - start, _MAX_GROWTH))
            if self._total is not None:
                need = max(min(need, self._total - self._base), end + 1)
            self._need = self._base + need
        except _Corrupt as exc:
            raise self._error(exc.reason, exc.pos, self._key_at(buf, start)) from None
        finally:
            if not self.done:
                self._pos = p
            self._db = dbi
            self._expire = expire
            self.keys_loaded += nkeys
        return nkeys

    def _eof(self, buf: bytes, p: int, final: bool) -> None:
        crc_end = p + 1
        if self.version >= 5:
            if crc_end + 8 > len(buf):
                raise _Short(crc_end + 8)
            stored = int.from_bytes(buf[crc_end : crc_end + 8], "little")
            computed = CRC64.calc(memoryview(buf)[self._crc_from : crc_end], self._crc)
            self.checksum = computed
            if stored != 0 and self._verify:
                if stored != computed:
                    raise self._error(
                        f"bad checksum: Wrong RDB checksum expected: ({computed:x}) "
                        f"but got ({stored:x})",
                        crc_end,
                    )
                self.checksum_verified = True
            crc_end += 8
        self.done = True
        self.trailing = buf[crc_end:]
        self._pos = crc_end
        self._crc_from = crc_end


def load_rdb_bytes(
    data: bytes | bytearray | memoryview,
    *,
    keyspace: Keyspace | None = None,
    databases: int = 16,
    on_key: KeyCallback | None = None,
    verify_checksum: bool = True,
) -> RdbLoadResult:
    """Load a whole dump held in memory (keyword arguments as for :class:`RdbReader`)."""
    reader = RdbReader(
        keyspace, databases=databases, on_key=on_key, verify_checksum=verify_checksum
    )
    reader._buf = bytes(data)
    reader._run(final=True)
    return reader.finish()
