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
* A stream mixes each live entry in ID order: its ID as ``ms.seq``, then every field and
  value (consumer groups are left out, as in Valkey). Module values cannot be digested the
  way the module would, so theirs differ.
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque

from valsync.fpconv import fpconv_dtoa
from valsync.keyspace.database import Keyspace
from valsync.keyspace.stream import StreamValue
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
    if isinstance(value, StreamValue):
        return _OBJ_STREAM
    return _OBJ_MODULE


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
    elif isinstance(value, StreamValue):
        for entry in value.entries():
            digest = _mix(digest, b"%d.%d" % entry.id)
            for field, val in zip(entry.fields, entry.values, strict=True):
                digest = _mix(_mix(digest, field), val)
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
