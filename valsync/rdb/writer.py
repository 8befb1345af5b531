"""RDB writer: walks a keyspace and yields the dump as chunks of about 64 KB.

It is a generator so a forked child can stream it into a pipe (or a file) while the caller
counts progress (:attr:`RdbWriter.keys_written`, :attr:`RdbWriter.bytes_written`). Encodings
follow what Valkey would hold in memory for each value at default limits, since Valkey's own
dumps mirror its in-memory encodings and a loader converts anything over its limits anyway.
Nothing here does I/O or reads a clock: ``ctime`` comes in through ``aux``.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Protocol, TypedDict, Unpack

import lzf

from valsync.keyspace import HashValue, OpaqueValue, StreamValue, Value, ZSetValue
from valsync.keyspace.database import Database
from valsync.rdb import format as F
from valsync.rdb import intset, listpack
from valsync.rdb.format import CRC64, RdbError, is_canonical_int
from valsync.rdb.stream import encode_stream_payload

CHUNK_SIZE = 64 * 1024

# Valkey writes the aux fields it knows in this order (rdbSaveInfoAuxFields).
AUX_ORDER = (
    "valkey-ver",
    "redis-bits",
    "ctime",
    "used-mem",
    "repl-stream-db",
    "repl-id",
    "repl-offset",
    "aof-base",
)

# Valkey estimates a listpack entry's overhead as 8 bytes when deciding to start a new node.
_QUICKLIST_ENTRY_OVERHEAD = 8
_EMPTY_LISTPACK = 7
# 1 for each first byte a string in integer form cannot start with.
_NOT_INT_LEAD = bytes(0 if c in b"-0123456789" else 1 for c in range(256))
# A short string record's type byte and key length, and a value's length, by length.
_SHORT_RECORD_HEAD = [bytes((F.TYPE_STRING, n)) for n in range(21)]
_SHORT_LEN = [bytes((n,)) for n in range(21)]
_SHORT_RECORD_MAX = 64
"""Bound on a short string record, expiry included (9 + 2 + 20 + 1 + 20 bytes)."""
_BATCH_KEYS = 256


@dataclass(frozen=True)
class EncodingLimits:
    """The ``*-max-listpack-*`` / ``set-max-intset-entries`` settings, Valkey's defaults."""

    list_max_listpack_bytes: int = F.LIST_MAX_LISTPACK_BYTES
    set_max_intset_entries: int = F.SET_MAX_INTSET_ENTRIES
    set_max_listpack_entries: int = F.SET_MAX_LISTPACK_ENTRIES
    set_max_listpack_value: int = F.SET_MAX_LISTPACK_VALUE
    zset_max_listpack_entries: int = F.ZSET_MAX_LISTPACK_ENTRIES
    zset_max_listpack_value: int = F.ZSET_MAX_LISTPACK_VALUE
    hash_max_listpack_entries: int = F.HASH_MAX_LISTPACK_ENTRIES
    hash_max_listpack_value: int = F.HASH_MAX_LISTPACK_VALUE


DEFAULT_LIMITS = EncodingLimits()


class WriterOptions(TypedDict, total=False):
    """Keyword arguments of :class:`RdbWriter`, for the helper functions."""

    version: int
    aux: Mapping[str, bytes | str | int] | None
    functions: Iterable[bytes]
    compression: bool
    checksum: bool
    limits: EncodingLimits
    on_key: Callable[[int], None] | None
    on_key_every: int
    chunk_size: int


class KeyspaceLike(Protocol):
    @property
    def dbs(self) -> list[Database]: ...


def encode_len(n: int) -> bytes:
    """RDB length: 6-bit, 14-bit big-endian, or 0x80/0x81 + 32/64-bit big-endian."""
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(s: bytes, compression: bool = True) -> bytes:
    """A string the way ``rdbSaveRawString`` stores it: int form, then LZF, then raw."""
    n = len(s)
    if n <= 11 and n and is_canonical_int(s):
        v = int(s)
        if -128 <= v <= 127:
            return b"\xc0" + v.to_bytes(1, "little", signed=True)
        if -32768 <= v <= 32767:
            return b"\xc1" + v.to_bytes(2, "little", signed=True)
        if -2147483648 <= v <= 2147483647:
            return b"\xc2" + v.to_bytes(4, "little", signed=True)
    if compression and n > 20:
        packed: bytes | None = lzf.compress(s, n - 4)
        if packed is not None and len(packed) <= n - 4:
            return b"\xc3" + encode_len(len(packed)) + encode_len(n) + packed
    if n < 64:
        return bytes((n,)) + s
    return encode_len(n) + s


def score_text(score: float) -> bytes:
    """A zset score as Valkey's ``d2string`` prints it into a listpack."""
    if math.isnan(score):
        return b"nan"
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if math.copysign(1.0, score) < 0 else b"0"
    if score.is_integer() and abs(score) <= (1 << 62):
        return b"%d" % int(score)
    return repr(score).encode()


def _aux_value(v: bytes | str | int) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, int):
        return b"%d" % v
    return v.encode()


def make_aux(
    *,
    ctime: int,
    used_mem: int = 0,
    valkey_ver: str = "8.1.8",
    repl_stream_db: int | None = None,
    repl_id: str | None = None,
    repl_offset: int | None = None,
    aof_base: int = 0,
) -> dict[str, bytes | str | int]:
    """Valkey's aux fields; the ``repl-*`` ones only when replication info is given."""
    aux: dict[str, bytes | str | int] = {
        "valkey-ver": valkey_ver,
        "redis-bits": 64,
        "ctime": ctime,
        "used-mem": used_mem,
    }
    if repl_id is not None:
        aux["repl-stream-db"] = repl_stream_db or 0
        aux["repl-id"] = repl_id
        aux["repl-offset"] = repl_offset or 0
    aux["aof-base"] = aof_base
    return aux


class RdbWriter:
    """One dump of a keyspace snapshot; iterate :meth:`chunks` to get its bytes.

    Args:
        keyspace: anything with ``.dbs`` (a list of :class:`Database`).
        version: 11 writes ``REDIS0011`` (loads on 8.x and 9.x); 80 writes ``VALKEY080`` (9.x
            only), the one format that can hold hashes with field TTLs (type 22).
        aux: aux fields; known ones are written in Valkey's order, any others after them.
        functions: function library sources, written as FUNCTION2 records.
        compression: ``rdbcompression``: LZF for strings over 20 bytes when it saves 4+ bytes.
        checksum: ``rdbchecksum``: the CRC-64 trailer, or 8 zero bytes.
        limits: encoding thresholds.
        on_key: called with the running key count after each key (``rdb-key-save-delay``
            hooks), or, with ``on_key_every`` (a power of 2) above 1, once a multiple of it is
            passed (progress reports: up to 255 keys later).
    """

    def __init__(
        self,
        keyspace: KeyspaceLike,
        *,
        version: int = F.RDB_VERSION,
        aux: Mapping[str, bytes | str | int] | None = None,
        functions: Iterable[bytes] = (),
        compression: bool = True,
        checksum: bool = True,
        limits: EncodingLimits = DEFAULT_LIMITS,
        on_key: Callable[[int], None] | None = None,
        on_key_every: int = 1,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if version not in (F.RDB_VERSION, F.RDB_VERSION_VALKEY):
            raise ValueError(f"valsync writes RDB version 11 or 80, not {version}")
        if on_key_every < 1 or on_key_every & (on_key_every - 1):
            raise ValueError("on_key_every is a power of 2")
        self.keyspace = keyspace
        self.version = version
        self.aux = dict(aux or {})
        self.functions = list(functions)
        self.compression = compression
        self.checksum = checksum
        self.limits = limits
        self.on_key = on_key
        self.on_key_mask = on_key_every - 1
        self.chunk_size = chunk_size
        self.keys_written = 0
        self.bytes_written = 0
        self.crc = 0
        self._crc = 0

    def _header(self) -> bytes:
        magic = (
            b"VALKEY080" if self.version == F.RDB_VERSION_VALKEY else b"REDIS%04d" % self.version
        )
        parts = [magic]
        names = [k for k in AUX_ORDER if k in self.aux] + [
            k for k in self.aux if k not in AUX_ORDER
        ]
        for name in names:
            parts.append(b"\xfa" + encode_string(name.encode(), self.compression))
            parts.append(encode_string(_aux_value(self.aux[name]), self.compression))
        for lib in self.functions:
            parts.append(b"\xf5" + encode_string(lib, self.compression))
        return b"".join(parts)

    def chunks(self) -> Iterator[bytes]:
        """The dump, in chunks of about ``chunk_size`` bytes; the last one ends with the CRC."""
        buf = bytearray(self._header())
        limit = self.chunk_size
        comp = self.compression
        encode_value = self._encode_value
        on_key = self.on_key
        on_key_mask = self.on_key_mask
        not_int_lead = _NOT_INT_LEAD
        short_head = _SHORT_RECORD_HEAD
        short_len = _SHORT_LEN
        self._crc = 0
        written = self.keys_written
        for dbi, db in enumerate(self.keyspace.dbs):
            data = db.data
            if not data:
                continue
            expires = db.expires
            n_exp = sum(1 for k in expires if k in data)
            buf += b"\xfe" + encode_len(dbi) + b"\xfb" + encode_len(len(data)) + encode_len(n_exp)
            items = iter(data.items())
            left = len(data)
            per_key = on_key is not None and not on_key_mask
            while left:
                # keys go in batches, counted and checked once per batch: a batch of short
                # records stops within one record of a chunk; any other record checks itself
                take = (
                    1
                    if per_key
                    else min(left, _BATCH_KEYS, 1 + (limit - len(buf)) // _SHORT_RECORD_MAX)
                )
                left -= take
                before = written
                skipped = 0
                for key, value in islice(items, take):
                    if type(value) is bytes:
                        if n_exp:
                            when = expires.get(key)
                            if when is not None:
                                buf += b"\xfc" + when.to_bytes(8, "little", signed=True)
                        kn = len(key)
                        vn = len(value)
                        # the common short string: no int form, too short for LZF, 1-byte lengths
                        if (
                            0 < kn < 21
                            and 0 < vn < 21
                            and not_int_lead[key[0]]
                            and not_int_lead[value[0]]
                        ):
                            buf += short_head[kn]
                            buf += key
                            buf += short_len[vn]
                            buf += value
                            continue
                        buf += b"\x00" + encode_string(key, comp) + encode_string(value, comp)
                    else:
                        enc = encode_value(dbi, key, value)
                        if enc is None:
                            skipped += 1
                            continue
                        if n_exp:
                            when = expires.get(key)
                            if when is not None:
                                buf += b"\xfc" + when.to_bytes(8, "little", signed=True)
                        buf += enc
                    if len(buf) >= limit:
                        yield self._take_chunk(buf)
                written += take - skipped
                self.keys_written = written
                if on_key is not None and written | on_key_mask != before | on_key_mask:
                    on_key(written)
                if len(buf) >= limit:
                    yield self._take_chunk(buf)
        self.keys_written = written
        buf += b"\xff"
        crc = CRC64.calc(buf, self._crc)
        self.crc = crc if self.checksum else 0
        buf += self.crc.to_bytes(8, "little")
        self.bytes_written += len(buf)
        yield bytes(buf)

    def _take_chunk(self, buf: bytearray) -> bytes:
        """``buf``'s bytes as the next chunk (counted in the CRC); ``buf`` is emptied."""
        chunk = bytes(buf)
        buf.clear()
        self._crc = CRC64.calc(chunk, self._crc)
        self.bytes_written += len(chunk)
        return chunk

    def _encode_value(self, dbi: int, key: bytes, value: Value) -> bytes | None:
        """Type byte, key and value of one non-string key; None for an empty container."""
        comp = self.compression
        lim = self.limits
        k = encode_string(key, comp)
        if isinstance(value, bytes):
            return b"\x00" + k + encode_string(value, comp)
        if isinstance(value, deque):
            if not value:
                return None
            return bytes((F.TYPE_LIST_QUICKLIST_2,)) + k + self._quicklist(value)
        if isinstance(value, set):
            if not value:
                return None
            return self._set(k, value)
        if isinstance(value, HashValue):
            if not value:
                return None
            return self._hash(dbi, key, k, value)
        if isinstance(value, ZSetValue):
            if not len(value):
                return None
            items = list(value.items())
            if len(items) <= lim.zset_max_listpack_entries and all(
                len(m) <= lim.zset_max_listpack_value for m, _ in items
            ):
                entries: list[bytes] = []
                for m, s in items:
                    entries.append(listpack.encode_entry(m))
                    entries.append(listpack.encode_entry(score_text(s)))
                blob = listpack.build(entries)
                return bytes((F.TYPE_ZSET_LISTPACK,)) + k + encode_string(blob, comp)
            pack = struct.Struct("<d").pack
            body = [bytes((F.TYPE_ZSET_2,)), k, encode_len(len(items))]
            for m, s in reversed(items):
                body.append(encode_string(m, comp))
                body.append(pack(s))
            return b"".join(body)
        if isinstance(value, StreamValue):
            return bytes((F.TYPE_STREAM_LISTPACKS_3,)) + k + encode_stream_payload(value, comp)
        if isinstance(value, OpaqueValue):
            if value.rdb_type == F.TYPE_MODULE_2:
                raise RdbError(
                    f"Can't store module key '{key.decode(errors='replace')}' (db {dbi})"
                )
            return bytes((value.rdb_type,)) + k + value.payload
        raise TypeError(f"cannot write a {type(value).__name__} value")

    def _quicklist(self, items: deque[bytes]) -> bytes:
        comp = self.compression
        limit = self.limits.list_max_listpack_bytes
        nodes: list[bytes] = []
        cur: list[bytes] = []
        cur_size = _EMPTY_LISTPACK
        for e in items:
            n = len(e)
            if n > limit:
                if cur:
                    nodes.append(b"\x02" + encode_string(listpack.build(cur), comp))
                    cur, cur_size = [], _EMPTY_LISTPACK
                nodes.append(b"\x01" + encode_string(e, comp))
                continue
            if cur and cur_size + n + _QUICKLIST_ENTRY_OVERHEAD > limit:
                nodes.append(b"\x02" + encode_string(listpack.build(cur), comp))
                cur, cur_size = [], _EMPTY_LISTPACK
            entry = listpack.encode_entry(e)
            cur.append(entry)
            cur_size += len(entry)
        if cur:
            nodes.append(b"\x02" + encode_string(listpack.build(cur), comp))
        return encode_len(len(nodes)) + b"".join(nodes)

    def _set(self, k: bytes, value: set[bytes]) -> bytes:
        comp = self.compression
        lim = self.limits
        if len(value) <= lim.set_max_intset_entries and all(is_canonical_int(m) for m in value):
            blob = intset.encode(int(m) for m in value)
            return bytes((F.TYPE_SET_INTSET,)) + k + encode_string(blob, comp)
        if len(value) <= lim.set_max_listpack_entries and all(
            len(m) <= lim.set_max_listpack_value for m in value
        ):
            blob = listpack.encode(value)
            return bytes((F.TYPE_SET_LISTPACK,)) + k + encode_string(blob, comp)
        body = [bytes((F.TYPE_SET,)), k, encode_len(len(value))]
        body.extend(encode_string(m, comp) for m in value)
        return b"".join(body)

    def _hash(self, dbi: int, key: bytes, k: bytes, value: HashValue) -> bytes:
        comp = self.compression
        lim = self.limits
        ttls = value.field_expires
        if ttls and any(f in value for f in ttls):
            if self.version != F.RDB_VERSION_VALKEY:
                raise RdbError(
                    f"Can't store key '{key.decode(errors='replace')}' (db {dbi}) in RDB version "
                    f"{self.version}: its hash fields have TTLs, which only RDB 80 can hold"
                )
            body = [bytes((F.TYPE_HASH_2,)), k, encode_len(len(value))]
            for f, v in value.items():
                body.append(encode_string(f, comp))
                body.append(encode_string(v, comp))
                body.append(ttls.get(f, -1).to_bytes(8, "little", signed=True))
            return b"".join(body)
        if len(value) <= lim.hash_max_listpack_entries and all(
            len(f) <= lim.hash_max_listpack_value and len(v) <= lim.hash_max_listpack_value
            for f, v in value.items()
        ):
            entries: list[bytes] = []
            for f, v in value.items():
                entries.append(listpack.encode_entry(f))
                entries.append(listpack.encode_entry(v))
            blob = listpack.build(entries)
            return bytes((F.TYPE_HASH_LISTPACK,)) + k + encode_string(blob, comp)
        body = [bytes((F.TYPE_HASH,)), k, encode_len(len(value))]
        for f, v in value.items():
            body.append(encode_string(f, comp))
            body.append(encode_string(v, comp))
        return b"".join(body)


def encode_object(
    value: Value,
    key: bytes = b"",
    dbi: int = 0,
    *,
    version: int = F.RDB_VERSION,
    compression: bool = True,
    limits: EncodingLimits = DEFAULT_LIMITS,
) -> bytes | None:
    """The type byte and encoding of one value, as a key record holds them without its key
    (the body of a DUMP payload); None for an empty container. ``key`` and ``dbi`` only
    name the key in errors."""
    writer = RdbWriter(_NO_DATABASES, version=version, compression=compression, limits=limits)
    record = writer._encode_value(dbi, key, value)
    if record is None:
        return None
    return record[:1] + record[1 + len(encode_string(key, compression)) :]


class _NoDatabases:
    @property
    def dbs(self) -> list[Database]:
        return []


_NO_DATABASES = _NoDatabases()


def iter_rdb(keyspace: KeyspaceLike, **kwargs: Unpack[WriterOptions]) -> Iterator[bytes]:
    """Chunks of a dump of ``keyspace`` (keyword arguments as for :class:`RdbWriter`)."""
    return RdbWriter(keyspace, **kwargs).chunks()


def write_rdb(
    keyspace: KeyspaceLike,
    out: Callable[[bytes], object] | bytearray,
    **kwargs: Unpack[WriterOptions],
) -> RdbWriter:
    """Write a whole dump into ``out`` (a bytearray or a callable taking each chunk)."""
    writer = RdbWriter(keyspace, **kwargs)
    sink = out.extend if isinstance(out, bytearray) else out
    for chunk in writer.chunks():
        sink(chunk)
    return writer


def dump_rdb_bytes(keyspace: KeyspaceLike, **kwargs: Unpack[WriterOptions]) -> bytes:
    """The whole dump as one bytes object."""
    out = bytearray()
    write_rdb(keyspace, out, **kwargs)
    return bytes(out)
