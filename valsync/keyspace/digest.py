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


def _cached_powers() -> list[tuple[int, int]]:
    """Normalised 64-bit approximations (rounded to nearest) of 10**(-348 + 8*i)."""
    out: list[tuple[int, int]] = []
    for i in range(87):
        k = -348 + 8 * i
        num, den = (10**k, 1) if k >= 0 else (1, 10**-k)
        e = num.bit_length() - den.bit_length() - 64
        while True:
            n, d = (num, den << e) if e >= 0 else (num << -e, den)
            if n >= d << 64:
                e += 1
            elif n < d << 63:
                e -= 1
            else:
                break
        q, r = divmod(n, d)
        if 2 * r >= d:
            q += 1
        out.append((q, e))
    return out


_POWERS = _cached_powers()
_TENS = [10**i for i in range(19, -1, -1)]


def _fp_multiply(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """High 64 bits of the 128-bit product, rounded, as the C code's split multiply gives."""
    return ((a[0] * b[0] + (1 << 63)) >> 64) & _U64, a[1] + b[1] + 64


def _grisu2(d: float) -> tuple[str, int]:
    """Digits and decimal exponent K (value ~= digits * 10**K) of a finite, non-zero |d|."""
    bits = struct.unpack("<Q", struct.pack("<d", d))[0]
    frac = bits & 0x000FFFFFFFFFFFFF
    bexp = (bits >> 52) & 0x7FF
    hidden = 1 << 52
    if bexp:
        frac += hidden
        exp = bexp - 1075
    else:
        exp = -1074
    # boundaries
    up_f, up_e = (frac << 1) + 1, exp - 1
    while not up_f & (hidden << 1):
        up_f <<= 1
        up_e -= 1
    up_f = (up_f << 10) & _U64
    up_e -= 10
    l_shift = 2 if frac == hidden else 1
    lo_f, lo_e = (frac << l_shift) - 1, exp - l_shift
    lo_f = (lo_f << (lo_e - up_e)) & _U64
    # normalise w
    w_f, w_e = frac, exp
    while not w_f & hidden:
        w_f <<= 1
        w_e -= 1
    w_f = (w_f << 11) & _U64
    w_e -= 11
    # cached power: the same starting guess and walk as Valkey, since two may fit
    idx = (int(-(up_e + 87) * 0.30102999566398114) + 348) // 8
    while True:
        cur = up_e + _POWERS[idx][1] + 64
        if cur < -60:
            idx += 1
        elif cur > -32:
            idx -= 1
        else:
            break
    cp = _POWERS[idx]
    k = -348 + idx * 8
    w = _fp_multiply((w_f, w_e), cp)
    upper = _fp_multiply((up_f, up_e), cp)
    lower = _fp_multiply((lo_f, lo_e), cp)
    lower = ((lower[0] + 1) & _U64, lower[1])
    upper = ((upper[0] - 1) & _U64, upper[1])
    return _generate_digits(w, upper, lower, -k)


def _round_digit(digits: list[int], delta: int, rem: int, kappa: int, frac: int) -> None:
    while (
        rem < frac
        and ((delta - rem) & _U64) >= kappa
        and (((rem + kappa) & _U64) < frac or ((frac - rem) & _U64) > ((rem + kappa - frac) & _U64))
    ):
        digits[-1] -= 1
        rem = (rem + kappa) & _U64


def _generate_digits(
    w: tuple[int, int], upper: tuple[int, int], lower: tuple[int, int], big_k: int
) -> tuple[str, int]:
    wfrac = (upper[0] - w[0]) & _U64
    delta = (upper[0] - lower[0]) & _U64
    shift = -upper[1]
    one = 1 << shift
    part1 = upper[0] >> shift
    part2 = upper[0] & (one - 1)
    digits: list[int] = []
    kappa = 10
    for div in _TENS[10:20]:
        digit = part1 // div
        if digit or digits:
            digits.append(digit)
        part1 -= digit * div
        kappa -= 1
        tmp = ((part1 << shift) + part2) & _U64
        if tmp <= delta:
            _round_digit(digits, delta, tmp, (div << shift) & _U64, wfrac)
            return "".join(map(str, digits)), big_k + kappa
    unit_idx = 18
    while True:
        part2 = (part2 * 10) & _U64
        delta = (delta * 10) & _U64
        kappa -= 1
        digit = part2 >> shift
        if digit or digits:
            digits.append(digit)
        part2 &= one - 1
        if part2 < delta:
            _round_digit(digits, delta, part2, one, (wfrac * _TENS[unit_idx]) & _U64)
            return "".join(map(str, digits)), big_k + kappa
        unit_idx -= 1


def format_score(score: float) -> str:
    """A zset score as Valkey's digest prints it (Grisu2 digits, Valkey's layout rules)."""
    sign = "-" if struct.pack(">d", score)[0] & 0x80 else ""
    if score == 0.0:
        return sign + "0"
    if score != score:
        return sign + "nan"
    if score in (float("inf"), float("-inf")):
        return sign + "inf"
    digits, k = _grisu2(score)
    nd = len(digits)
    exp = abs(k + nd - 1)
    if k >= 0 and exp < nd + 7:
        return sign + digits + "0" * k
    if k < 0 and (k > -7 or exp < 4):
        offset = nd + k
        if offset <= 0:
            return sign + "0." + "0" * -offset + digits
        return sign + digits[:offset] + "." + digits[offset:]
    digits = digits[: min(nd, 18 - len(sign))]
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    esign = "-" if k + len(digits) - 1 < 0 else "+"
    return f"{sign}{mant}e{esign}{exp}"


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
