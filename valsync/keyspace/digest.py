"""DEBUG DIGEST / DEBUG DIGEST-VALUE, byte-compatible with Valkey's.

Test suites (and operators) compare a replica with its primary by these SHA1 digests, so
valsync must produce the very bytes Valkey does for the same data. The scheme, as Valkey
defines it:

* ``xor(d, data)``: ``d ^= SHA1(data)``, order-free (set members, hash fields, keys).
* ``mix(d, data)``: ``d = SHA1(d ^ SHA1(data))``, order-sensitive (lists, stream entries).
* A key's digest starts at zero, mixes the key name, the type code as a big-endian u32,
  then the value; a key with a TTL xors in the literal ``!!expire!!`` (not the time).
* Each zset member / hash field gets its own zeroed sub-digest (mix member then score text,
  or field then value) that is xored in; zset scores are printed the way Valkey's
  ``fpconv_dtoa`` (Grisu2) prints them, which is reproduced here.
* The dataset digest, per non-empty DB, mixes the DB id (big-endian u32) into the result,
  then xors in every key's digest. Logically expired keys still count: Valkey walks the
  raw dict, so ``now_ms`` only matters for hash fields (see :func:`digest_value`).
* Streams are stored as raw RDB payloads (``OpaqueValue.payload`` = what follows the type
  byte); their entries are decoded from it so the digest matches Valkey's. Module values
  cannot be digested the way the module would, so theirs differ.
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque

import lzf

from valsync.fpconv import fpconv_dtoa
from valsync.keyspace.database import Keyspace
from valsync.keyspace.values import HashValue, Value, ZSetValue

ZERO_DIGEST = "0" * 40

_U64 = (1 << 64) - 1
_EXPIRE_MARK = b"!!expire!!"

# Valkey's object type codes (server.h), mixed in ahead of each value.
_OBJ_STRING, _OBJ_LIST, _OBJ_SET, _OBJ_ZSET, _OBJ_HASH, _OBJ_MODULE, _OBJ_STREAM = range(7)


def _sha1_int(data: bytes) -> int:
    return int.from_bytes(hashlib.sha1(data).digest(), "big")


def _mix(digest: int, data: bytes) -> int:
    """Order-sensitive step: SHA1 of (digest xor SHA1(data)); digests are 160-bit ints."""
    return _sha1_int((digest ^ _sha1_int(data)).to_bytes(20, "big"))


def _sub_digest(first: bytes, second: bytes) -> bytes:
    """A zset member/score or hash field/value pair's own digest, as 20 bytes."""
    return _mix(_mix(0, first), second).to_bytes(20, "big")


# --- score formatting: Valkey prints zset scores with Grisu2 (fpconv_dtoa) -------------


def format_score(score: float) -> str:
    """A zset score as Valkey's digest prints it: the same Grisu2 text as its replies."""
    if score != score:
        return "-nan" if struct.pack(">d", score)[0] & 0x80 else "nan"
    return fpconv_dtoa(score)


# --- streams: walk the entries inside the RDB payload ----------------------------------

_STREAM_DELETED = 1
_STREAM_SAMEFIELDS = 2


class _Reader:
    """A cursor over an RDB value payload (lengths and strings as the RDB format encodes them)."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise ValueError("truncated RDB payload")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def length(self) -> tuple[int, int | None]:
        """(length, None) or (0, special-encoding) for strings stored as ints or LZF."""
        b = self.take(1)[0]
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, None
        if kind == 1:
            return ((b & 0x3F) << 8) | self.take(1)[0], None
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), None
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), None
        if kind == 3:
            return 0, b & 0x3F
        raise ValueError(f"bad RDB length byte {b:#x}")

    def count(self) -> int:
        n, enc = self.length()
        if enc is not None:
            raise ValueError("expected a plain RDB length")
        return n

    def string(self) -> bytes:
        n, enc = self.length()
        if enc is None:
            return self.take(n)
        if enc in (0, 1, 2):
            size = 1 << enc
            return str(int.from_bytes(self.take(size), "little", signed=True)).encode()
        if enc == 3:
            clen = self.count()
            ulen = self.count()
            out: bytes = lzf.decompress(self.take(clen), ulen)
            return out
        raise ValueError(f"bad RDB string encoding {enc}")


def _listpack_items(lp: bytes) -> list[bytes | int]:
    """The elements of a listpack blob: ints stay ints, strings stay bytes."""
    items: list[bytes | int] = []
    pos = 6
    while True:
        b = lp[pos]
        if b == 0xFF:
            return items
        start = pos
        item: bytes | int
        if b < 0x80:
            item, pos = b, pos + 1
        elif b < 0xC0:
            n = b & 0x3F
            item, pos = lp[pos + 1 : pos + 1 + n], pos + 1 + n
        elif b < 0xE0:
            v = ((b & 0x1F) << 8) | lp[pos + 1]
            item, pos = (v - (1 << 13) if v >= 1 << 12 else v), pos + 2
        elif b < 0xF0:
            n = ((b & 0x0F) << 8) | lp[pos + 1]
            item, pos = lp[pos + 2 : pos + 2 + n], pos + 2 + n
        elif b == 0xF0:
            n = int.from_bytes(lp[pos + 1 : pos + 5], "little")
            item, pos = lp[pos + 5 : pos + 5 + n], pos + 5 + n
        else:
            size = {0xF1: 2, 0xF2: 3, 0xF3: 4, 0xF4: 8}.get(b)
            if size is None:
                raise ValueError(f"bad listpack encoding byte {b:#x}")
            item = int.from_bytes(lp[pos + 1 : pos + 1 + size], "little", signed=True)
            pos += 1 + size
        entry_len = pos - start
        pos += (
            1
            if entry_len < 128
            else 2
            if entry_len < 16384
            else 3
            if entry_len < 1 << 21
            else 4
            if entry_len < 1 << 28
            else 5
        )
        items.append(item)


def _as_bytes(item: bytes | int) -> bytes:
    return item if isinstance(item, bytes) else str(item).encode()


def _as_int(item: bytes | int) -> int:
    return item if isinstance(item, int) else int(item)


def _stream_digest(digest: int, payload: bytes) -> int:
    """Mix every live stream entry (id as ``ms.seq``, then field and value), in id order."""
    r = _Reader(payload)
    nodes = r.count()
    for _ in range(nodes):
        node_key = r.string()
        master_ms = int.from_bytes(node_key[:8], "big")
        master_seq = int.from_bytes(node_key[8:16], "big")
        items = _listpack_items(r.string())
        count, deleted, nmaster = (_as_int(x) for x in items[:3])
        master_fields = [_as_bytes(x) for x in items[3 : 3 + nmaster]]
        i = 3 + nmaster + 1  # past the master entry's terminating zero
        for _ in range(count + deleted):
            flags = _as_int(items[i])
            ms = master_ms + _as_int(items[i + 1])
            seq = master_seq + _as_int(items[i + 2])
            i += 3
            if flags & _STREAM_SAMEFIELDS:
                fields = master_fields
                values = [_as_bytes(x) for x in items[i : i + nmaster]]
                i += nmaster
            else:
                n = _as_int(items[i])
                pairs = [_as_bytes(x) for x in items[i + 1 : i + 1 + 2 * n]]
                fields, values = pairs[0::2], pairs[1::2]
                i += 1 + 2 * n
            i += 1  # lp-count
            if flags & _STREAM_DELETED:
                continue
            digest = _mix(digest, f"{ms}.{seq}".encode())
            for f, v in zip(fields, values, strict=True):
                digest = _mix(_mix(digest, f), v)
    return digest


# --- values ---------------------------------------------------------------------------

# Valkey's default zset-max-listpack-entries / -value: a zset within them is a listpack,
# which stores a score of -0 as the integer 0, so the digest then prints "0", not "-0".
_ZSET_LISTPACK_ENTRIES = 128
_ZSET_LISTPACK_VALUE = 64


def _type_code(value: Value) -> int:
    if isinstance(value, bytes):
        return _OBJ_STRING
    if isinstance(value, deque):
        return _OBJ_LIST
    if isinstance(value, set):
        return _OBJ_SET
    if isinstance(value, ZSetValue):
        return _OBJ_ZSET
    if isinstance(value, HashValue):
        return _OBJ_HASH
    return _OBJ_STREAM if value.type_name == "stream" else _OBJ_MODULE


def _zset_digest(digest: int, zset: ZSetValue) -> int:
    small = len(zset) <= _ZSET_LISTPACK_ENTRIES and all(
        len(m) <= _ZSET_LISTPACK_VALUE for m in zset.scores
    )
    for member, score in zset.scores.items():
        text = "0" if small and score == 0.0 else format_score(score)
        digest ^= _sha1_int(_sub_digest(member, text.encode()))
    return digest


def _value_digest(digest: int, value: Value, has_expire: bool, now_ms: int | None) -> int:
    """Continue ``digest`` with one value, as Valkey's per-object digest does."""
    digest = _mix(digest, _type_code(value).to_bytes(4, "big"))
    if isinstance(value, bytes):
        digest = _mix(digest, value)
    elif isinstance(value, deque):
        for item in value:
            digest = _mix(digest, item)
    elif isinstance(value, set):
        for member in value:
            digest ^= _sha1_int(member)
    elif isinstance(value, ZSetValue):
        digest = _zset_digest(digest, value)
    elif isinstance(value, HashValue):
        # Valkey 9 leaves field TTLs out of the digest but skips fields already expired.
        expires = value.field_expires if now_ms is not None else {}
        for field, val in value.items():
            when = expires.get(field)
            if when is not None and now_ms is not None and when <= now_ms:
                continue
            digest ^= _sha1_int(_sub_digest(field, val))
    elif value.type_name == "stream":
        try:
            digest = _stream_digest(digest, value.payload)
        except (ValueError, IndexError):
            # A payload we cannot walk still changes the digest when it changes.
            digest = _mix(digest, value.payload)
    else:
        # Module values: Valkey asks the module; we can only mix the raw payload.
        digest = _mix(digest, value.payload)
    if has_expire:
        digest ^= _sha1_int(_EXPIRE_MARK)
    return digest


def digest_value(value: Value | None, expire_ms: int | None, now_ms: int | None = None) -> str:
    """DEBUG DIGEST-VALUE for one key: 40 zeros for a missing key; the key name is not mixed.

    Only whether ``expire_ms`` is set matters (Valkey mixes a marker, not the time).
    ``now_ms`` drops hash fields whose own TTL has passed, as Valkey 9 does; without it
    every stored field counts.
    """
    if value is None:
        return ZERO_DIGEST
    return f"{_value_digest(0, value, expire_ms is not None, now_ms):040x}"


def digest_keyspace(keyspace: Keyspace, now_ms: int) -> str:
    """DEBUG DIGEST: every DB that holds keys (expired or not, as Valkey) folded into one."""
    final = 0
    for db in keyspace.dbs:
        if not db.data:
            continue
        final = _mix(final, db.id.to_bytes(4, "big"))
        for key, value in db.data.items():
            kd = _value_digest(_mix(0, key), value, key in db.expires, now_ms)
            final ^= _sha1_int(kd.to_bytes(20, "big"))
    return f"{final:040x}"
