"""HyperLogLog commands (Valkey's ``hyperloglog.c``): PFADD, PFCOUNT, PFMERGE, PFDEBUG and
PFSELFTEST, on strings that are byte for byte the ones Valkey stores.

Theory of operation:

1. An HLL is a string: a 16-byte header (``HYLL``, the encoding byte, three zero bytes, the
   cached cardinality as 8 little-endian bytes whose top bit marks it stale), then 16384
   registers of 6 bits, either *dense* (packed little-endian, 12288 bytes) or *sparse*
   (run-length opcodes: ZERO ``00xxxxxx`` for 1-64 zero registers, XZERO ``01xxxxxx
   yyyyyyyy`` for 1-16384, VAL ``1vvvvvxx`` for 1-4 registers of value 1-32).
2. An element hashes with MurmurHash64A (seed ``0xadc83b19``): the low 14 bits pick the
   register, the run of zeros above them (plus one) is the candidate value.
3. Sparse updates follow Valkey's in-place edit exactly (split the covering opcode, then try
   to merge adjacent VALs in a window of five opcodes from the one before it), because the
   resulting bytes are what DEBUG DIGEST, GET and the RDB show. :class:`SparseRegisters`
   holds the opcodes as a list with their first register indexes, so an update is a bisect
   rather than a walk over the bytes; the state decoded for the string a command stored is
   kept for the next command on it. A value above 32, or growth past
   ``hll-sparse-max-bytes``, converts to dense.
4. The estimate is Ertl's improved estimator over the register histogram, in doubles, rounded
   like ``llroundl``; PFCOUNT of one key stores it in the header (a change Valkey propagates).
"""

from __future__ import annotations

import math
import random
import re
import struct
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from operator import itemgetter

from valsync.commands.context import CommandContext
from valsync.commands.errors import WRONGTYPE, CommandError
from valsync.commands.registry import command
from valsync.commands.strings import RawStr
from valsync.resp.reply import OK, ErrorReply, Reply, SimpleString

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
INVALID_HLL = "INVALIDOBJ Corrupted HLL object detected"

HLL_P = 14
HLL_Q = 64 - HLL_P
HLL_REGISTERS = 1 << HLL_P
HLL_BITS = 6
HLL_HDR_SIZE = 16
HLL_DENSE_BYTES = HLL_REGISTERS * HLL_BITS // 8
HLL_DENSE_SIZE = HLL_HDR_SIZE + HLL_DENSE_BYTES
DENSE, SPARSE = 0, 1
HLL_SPARSE_MAX_BYTES = 3000
SPARSE_VAL_MAX_VALUE = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
SPARSE_XZERO_MAX_LEN = 16384
ALPHA_INF = 0.721347520444481703680
CACHE_STALE = 0x80  # top bit of the cardinality's last byte

MURMUR_M = 0xC6A4A7935BD1E995
MURMUR_SEED = 0xADC83B19
U64 = (1 << 64) - 1


def murmurhash64a(data: bytes, seed: int = MURMUR_SEED) -> int:
    """MurmurHash2, 64-bit version, little-endian words (Valkey's ``MurmurHash64A``)."""
    m = MURMUR_M
    n = len(data)
    h = (seed ^ (n * m)) & U64
    blocks = n >> 3
    for k in struct.unpack_from(f"<{blocks}Q", data):
        k = (k * m) & U64
        k ^= k >> 47
        h ^= (k * m) & U64
        h = (h * m) & U64
    if n & 7:
        h ^= int.from_bytes(data[blocks * 8 :], "little")
        h = (h * m) & U64
    h ^= h >> 47
    h = (h * m) & U64
    return h ^ (h >> 47)


def pattern_length(element: bytes) -> tuple[int, int]:
    """hllPatLen: (register index, length of the 0...01 run above the index bits)."""
    h = murmurhash64a(element)
    rest = (h >> HLL_P) | (1 << HLL_Q)
    return h & (HLL_REGISTERS - 1), (rest & -rest).bit_length()


class CorruptHll(Exception):
    """The sparse representation does not cover exactly 16384 registers."""


# --- dense registers ---------------------------------------------------------------------


def dense_get(regs: bytearray, index: int) -> int:
    bit = index * HLL_BITS
    b, fb = bit >> 3, bit & 7
    return ((regs[b] >> fb) | (regs[b + 1] << (8 - fb))) & 63


def dense_set(regs: bytearray, index: int, value: int) -> None:
    """``regs`` carries one spare byte after the registers (Valkey's sds terminator)."""
    bit = index * HLL_BITS
    b, fb = bit >> 3, bit & 7
    regs[b] = (regs[b] & ~(63 << fb) & 0xFF) | ((value << fb) & 0xFF)
    regs[b + 1] = (regs[b + 1] & ~(63 >> (8 - fb)) & 0xFF) | (value >> (8 - fb))


def _table(f: Callable[[int], int]) -> bytes:
    """A ``bytes.translate`` table applying ``f`` to every byte value."""
    return bytes(f(i) & 0xFF for i in range(256))


_LOW6 = _table(lambda b: b & 63)
_HIGH2 = _table(lambda b: b >> 6)
_LOW4_UP2 = _table(lambda b: (b & 15) << 2)
_HIGH4 = _table(lambda b: b >> 4)
_LOW2_UP4 = _table(lambda b: (b & 3) << 4)
_HIGH6 = _table(lambda b: b >> 2)
_UP6 = _table(lambda r: (r & 3) << 6)
_DOWN2 = _table(lambda r: (r >> 2) & 15)
_UP4 = _table(lambda r: (r & 15) << 4)
_DOWN4 = _table(lambda r: (r >> 4) & 3)
_UP2 = _table(lambda r: (r & 63) << 2)


def _or(a: bytes, b: bytes) -> bytes:
    """Byte-wise OR of two equal-length strings whose set bits never overlap."""
    return (int.from_bytes(a, "big") | int.from_bytes(b, "big")).to_bytes(len(a), "big")


def dense_to_registers(dense: bytes | bytearray) -> bytearray:
    """The 16384 register values, one per byte (every 3 bytes hold 4 registers)."""
    b0, b1, b2 = bytes(dense[0:HLL_DENSE_BYTES:3]), bytes(dense[1::3]), bytes(dense[2::3])
    b1, b2 = b1[: len(b0)], b2[: len(b0)]
    out = bytearray(HLL_REGISTERS)
    out[0::4] = b0.translate(_LOW6)
    out[1::4] = _or(b0.translate(_HIGH2), b1.translate(_LOW4_UP2))
    out[2::4] = _or(b1.translate(_HIGH4), b2.translate(_LOW2_UP4))
    out[3::4] = b2.translate(_HIGH6)
    return out


def registers_to_dense(regs: bytes | bytearray) -> bytearray:
    """Pack register values (each below 64) into the dense layout, plus the spare byte."""
    r0, r1, r2, r3 = (bytes(regs[i::4]) for i in range(4))
    out = bytearray(HLL_DENSE_BYTES + 1)
    out[0:HLL_DENSE_BYTES:3] = _or(r0, r1.translate(_UP6))
    out[1:HLL_DENSE_BYTES:3] = _or(r1.translate(_DOWN2), r2.translate(_UP4))
    out[2:HLL_DENSE_BYTES:3] = _or(r2.translate(_DOWN4), r3.translate(_UP2))
    return out


# --- sparse registers --------------------------------------------------------------------

ZERO, XZERO, VAL = 0, 1, 2


class PromoteToDense(Exception):
    """A sparse update that Valkey performs by converting to dense first."""


# One opcode per match: XZERO takes the next byte too (none when the string ends there).
_OPCODE = re.compile(rb"[\x40-\x7f][\x00-\xff]?|[\x00-\x3f\x80-\xff]", re.DOTALL)


def _one_byte_opcode(byte: int) -> tuple[int, int, int]:
    if byte & 0x80:
        return VAL, ((byte >> 2) & 0x1F) + 1, (byte & 3) + 1
    return ZERO, 0, (byte & 0x3F) + 1


_OPS = {bytes((b,)): _one_byte_opcode(b) for b in range(256) if not 0x40 <= b < 0x80}
_CODES = {op: code for code, op in _OPS.items()}
_RUNS = {op: bytes((op[1],)) * op[2] for op in _OPS.values()}


def _xzero(token: bytes, ghost: int) -> tuple[int, int, int]:
    """An XZERO; a truncated one (a lone first byte) reads ``ghost`` as its second byte."""
    low = token[1] if len(token) > 1 else ghost
    return XZERO, 0, (((token[0] & 0x3F) << 8) | low) + 1


def _xzero_code(run: int) -> bytes:
    return bytes((0x40 | ((run - 1) >> 8), (run - 1) & 0xFF))


class SparseRegisters:
    """The opcodes of a sparse HLL as (kind, value, run length), with the first register
    each covers (``starts``), kept in step with the string itself (``body``, and each
    opcode's width in it), so that an edit is a bisect and a splice.

    A string edited by hand may end in the first byte of an XZERO. Valkey then reads the byte
    after the string (``ghost``: the NUL terminator, or what its own edit of that opcode
    left there) as the second one; ``truncated`` marks that case, which is re-decoded from
    the bytes after each edit rather than kept in step opcode by opcode."""

    __slots__ = ("ops", "starts", "widths", "body", "truncated")

    def __init__(self, body: bytes, ghost: int = 0) -> None:
        self._decode(body, ghost)

    def _decode(self, body: bytes, ghost: int) -> None:
        tokens = _OPCODE.findall(body)
        ops = list(map(_OPS.get, tokens))
        at = -1
        try:
            while True:  # XZEROs, whose two bytes are not in the table
                at = ops.index(None, at + 1)
                ops[at] = _xzero(tokens[at], ghost)
        except ValueError:
            pass
        self.truncated = bool(tokens) and len(tokens[-1]) == 1 and 0x40 <= tokens[-1][0] < 0x80
        self.ops: list[tuple[int, int, int]] = ops  # type: ignore[assignment]
        self.starts = list(accumulate(map(itemgetter(2), self.ops), initial=0))[:-1]
        self.widths = list(map(len, tokens))
        self.body = bytearray(body)

    @property
    def size(self) -> int:
        return len(self.body)

    def encode(self) -> bytes:
        return bytes(self.body)

    def _reload(self, overflowed: bool) -> None:
        """Decode a truncated string again after an edit. ``overflowed``: the edit split
        the truncated XZERO itself, and Valkey, counting it as two bytes, left the last byte
        written just past the end, where the next read of a truncated XZERO finds it."""
        ghost = self.body.pop() if overflowed else 0
        self._decode(bytes(self.body), ghost)

    def _offset(self, i: int) -> int:
        return sum(self.widths[:i])

    def total(self) -> int:
        return self.starts[-1] + self.ops[-1][2] if self.ops else 0

    def histogram(self) -> list[int]:
        hist = [0] * 64
        for _kind, value, run in self.ops:
            hist[value] += run
        return hist

    def registers(self) -> bytes:
        """hllSparseToDense's decoding: raises CorruptHll unless exactly 16384 registers."""
        regs = b"".join([_RUNS.get(op) or bytes(op[2]) for op in self.ops])
        if len(regs) != HLL_REGISTERS:
            raise CorruptHll
        return regs

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """hllSparseSet: 1 if the register rose to ``count``, 0 if it was already as high,
        -1 if no opcode covers ``index``; raises PromoteToDense where Valkey converts."""
        if count > SPARSE_VAL_MAX_VALUE:
            raise PromoteToDense
        ops, starts = self.ops, self.starts
        i = bisect_right(starts, index) - 1
        if i < 0 or index >= starts[i] + ops[i][2]:
            return -1
        kind, value, run = ops[i]
        first = starts[i]
        if kind == VAL and value >= count:
            return 0
        if (kind == VAL or kind == ZERO) and run == 1:
            ops[i] = (VAL, count, 1)
            self.body[self._offset(i)] = _CODES[ops[i]][0]
        else:
            tail = self.truncated and i == len(ops) - 1
            self._split(i, kind, value, first, first + run - 1, index, count, max_bytes)
            if self.truncated:
                # the new opcodes were written past the string's end by one byte
                self._reload(tail)
        if self._merge(max(i - 1, 0)) and self.truncated:
            self._reload(False)
        return 1

    def _split(
        self,
        i: int,
        kind: int,
        value: int,
        first: int,
        last: int,
        index: int,
        count: int,
        max_bytes: int,
    ) -> None:
        seq: list[tuple[int, int, int]] = []
        seq_starts: list[int] = []
        for lo, hi, is_target in (
            (first, index - 1, False),
            (index, index, True),
            (index + 1, last, False),
        ):
            if hi < lo:
                continue
            run = hi - lo + 1
            if is_target:
                op = (VAL, count, 1)
            elif kind == VAL:
                op = (VAL, value, run)
            else:
                op = (XZERO if run > SPARSE_ZERO_MAX_LEN else ZERO, 0, run)
            seq.append(op)
            seq_starts.append(lo)
        codes = [_CODES.get(op) or _xzero_code(op[2]) for op in seq]
        old_width = 2 if kind == XZERO else 1
        delta = sum(map(len, codes)) - old_width
        if delta > 0 and HLL_HDR_SIZE + self.size + delta > max_bytes:
            raise PromoteToDense
        offset = self._offset(i)
        self.body[offset : offset + self.widths[i]] = b"".join(codes)
        self.ops[i : i + 1] = seq
        self.starts[i : i + 1] = seq_starts
        self.widths[i : i + 1] = list(map(len, codes))

    def _merge(self, j: int) -> bool:
        """Valkey's step 4: merge equal adjacent VALs, scanning at most five opcodes."""
        ops = self.ops
        merged = False
        scan = 5
        while j < len(ops) and scan > 0:
            scan -= 1
            kind, value, run = ops[j]
            if kind != VAL:
                j += 1
                continue
            if j + 1 < len(ops):
                nkind, nvalue, nrun = ops[j + 1]
                if nkind == VAL and nvalue == value and run + nrun <= SPARSE_VAL_MAX_LEN:
                    ops[j] = (VAL, value, run + nrun)
                    del ops[j + 1]
                    del self.starts[j + 1]
                    del self.widths[j + 1]
                    offset = self._offset(j)
                    self.body[offset : offset + 2] = _CODES[ops[j]]
                    merged = True
                    continue
            j += 1
        return merged


# --- an HLL value being worked on --------------------------------------------------------

# Decoded sparse HLLs by the identity of the string they were decoded from (kept alive by the
# entry, so an id is never reused while cached): a PFADD to a sparse key skips decoding the
# string the previous PFADD stored. An entry is taken (popped) by whoever decodes that string
# again, and put back only for a string that matches the state exactly.
_DECODED: dict[int, tuple[bytes, SparseRegisters]] = {}
_DECODED_MAX = 32


def _take_decoded(value: bytes) -> SparseRegisters | None:
    entry = _DECODED.pop(id(value), None)
    return entry[1] if entry is not None and entry[0] is value else None


def remember(value: bytes, hll: Hll) -> None:
    """Cache ``hll``'s sparse state as the decoding of ``value`` (which must be its bytes)."""
    sparse = hll.sparse
    if sparse is None or sparse.truncated:
        return
    if len(_DECODED) >= _DECODED_MAX:
        del _DECODED[next(iter(_DECODED))]
    _DECODED[id(value)] = (value, sparse)


class Hll:
    """A validated HLL string, decoded for updates; :meth:`to_bytes` re-encodes it."""

    __slots__ = ("header", "sparse", "dense")

    def __init__(self, value: bytes) -> None:
        self.header = bytearray(value[:HLL_HDR_SIZE])
        self.sparse: SparseRegisters | None = None
        self.dense: bytearray | None = None
        if value[4] == SPARSE:
            self.sparse = _take_decoded(value) or SparseRegisters(value[HLL_HDR_SIZE:])
        else:
            self.dense = bytearray(value[HLL_HDR_SIZE:]) + b"\0"

    @classmethod
    def empty(cls) -> Hll:
        """createHLLObject: sparse, one XZERO covering every register, cardinality 0."""
        return cls(b"HYLL" + bytes((SPARSE,)) + bytes(11) + b"\x7f\xff")

    def to_bytes(self) -> RawStr:
        if self.sparse is not None:
            return RawStr(bytes(self.header) + self.sparse.encode())
        assert self.dense is not None
        return RawStr(bytes(self.header) + bytes(self.dense[:HLL_DENSE_BYTES]))

    def to_dense(self) -> bool:
        """hllSparseToDense: True if converted; raises CorruptHll for a bad sparse HLL."""
        if self.sparse is None:
            return False
        self.dense = registers_to_dense(self.sparse.registers())
        self.sparse = None
        self.header[4] = DENSE
        return True

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """Raise register ``index`` to ``count``: 1 if it rose, 0 if not, -1 if corrupt."""
        if self.sparse is not None:
            try:
                changed = self.sparse.set(index, count, max_bytes)
                if changed == 1:
                    # hllSparseSet marks the cached cardinality stale at once (it shows when
                    # a later element finds the string corrupt)
                    self.invalidate_cache()
                return changed
            except PromoteToDense:
                try:
                    self.to_dense()
                except CorruptHll:
                    return -1
        dense = self.dense
        assert dense is not None
        if count > dense_get(dense, index):
            dense_set(dense, index, count)
            return 1
        return 0

    def add(self, element: bytes, max_bytes: int) -> int:
        index, count = pattern_length(element)
        return self.set(index, count, max_bytes)

    def registers(self) -> bytes | bytearray:
        if self.sparse is not None:
            return self.sparse.registers()
        assert self.dense is not None
        return dense_to_registers(self.dense)

    def invalidate_cache(self) -> None:
        self.header[15] |= CACHE_STALE

    def count(self) -> int:
        """hllCount; raises CorruptHll when a sparse HLL covers other than 16384 registers."""
        if self.sparse is not None:
            if self.sparse.total() != HLL_REGISTERS:
                raise CorruptHll
            return estimate(self.sparse.histogram())
        assert self.dense is not None
        return estimate(histogram(dense_to_registers(self.dense)))


# --- the estimator -----------------------------------------------------------------------


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if previous == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if previous == z:
            return z / 3


def histogram(registers: bytes | bytearray) -> list[int]:
    """How many registers hold each value 0..63."""
    return [registers.count(value) for value in range(64)]


def estimate(histogram: list[int]) -> int:
    """Ertl's estimator over the register histogram, with Valkey's order of double operations."""
    m = float(HLL_REGISTERS)
    z = m * _tau((m - histogram[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    e = ALPHA_INF * m * m / z
    whole = math.floor(e)
    return int(whole + 1 if e - whole >= 0.5 else whole)


# --- commands ----------------------------------------------------------------------------


def sparse_max_bytes(ctx: CommandContext) -> int:
    server = ctx.server
    return HLL_SPARSE_MAX_BYTES if server is None else server.config.get_int("hll-sparse-max-bytes")


def check_hll(value: object) -> bytes:
    """isHLLObjectOrReply: the string if it is a well-formed HLL header, else the error."""
    if not isinstance(value, bytes):
        raise CommandError(WRONGTYPE)
    if (
        len(value) < HLL_HDR_SIZE
        or value[:4] != b"HYLL"
        or value[4] > SPARSE
        or (value[4] == DENSE and len(value) != HLL_DENSE_SIZE)
    ):
        raise CommandError(NOT_HLL)
    return value


def unshare(ctx: CommandContext, key: bytes, value: bytes) -> None:
    """dbUnshareStringValue: the value turns raw even when nothing else changes."""
    if type(value) is not RawStr:
        ctx.db.data[key] = RawStr(value)


def store_hll(ctx: CommandContext, key: bytes, hll: Hll) -> None:
    value = hll.to_bytes()
    ctx.db.data[key] = value
    ctx.db.modified(key)
    remember(value, hll)


@command("pfadd", -2, "write denyoom fast", 1, 1, 1)
def pfadd_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    key = argv[1]
    value = ctx.lookup(key)
    updated = 0
    if value is None:
        hll = Hll.empty()
        ctx.db.set(key, hll.to_bytes())
        updated = 1
    else:
        checked = check_hll(value)
        unshare(ctx, key, checked)
        hll = Hll(checked)
    max_bytes = sparse_max_bytes(ctx)
    for element in argv[2:]:
        result = hll.add(element, max_bytes)
        if result < 0:
            # Valkey edits in place: what was added before the corruption showed stays
            ctx.db.data[key] = hll.to_bytes()
            raise CommandError(INVALID_HLL)
        updated += result
    if updated:
        hll.invalidate_cache()
        store_hll(ctx, key, hll)
        ctx.notify("$", "pfadd", key)
        ctx.dirty += updated
    else:
        stored = ctx.db.data[key]
        assert isinstance(stored, bytes)
        remember(stored, hll)
    return 1 if updated else 0


_LANE_HIGH = int.from_bytes(b"\x80" * HLL_REGISTERS, "little")


def registers_max(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    """Register-wise maximum of two register arrays (values below 128), on whole integers:
    in each byte lane ``0x80 + b - a`` keeps its top bit exactly when ``b >= a``."""
    x, y = int.from_bytes(a, "little"), int.from_bytes(b, "little")
    pick_y = ((((y | _LANE_HIGH) - x) & _LANE_HIGH) >> 7) * 0xFF
    return ((y & pick_y) | (x & ~pick_y)).to_bytes(len(a), "little")


def union_registers(ctx: CommandContext, keys: list[bytes]) -> tuple[bytes, bool]:
    """The register-wise maximum of the HLLs at ``keys`` (missing keys are empty HLLs), and
    whether any of them is dense."""
    union: bytes | None = None
    any_dense = False
    for key in keys:
        value = ctx.lookup_read(key)
        if value is None:
            continue
        checked = check_hll(value)
        hll = Hll(checked)
        any_dense = any_dense or hll.dense is not None
        try:
            regs = hll.registers()
        except CorruptHll:
            raise CommandError(INVALID_HLL) from None
        remember(checked, hll)
        union = bytes(regs) if union is None else registers_max(union, regs)
    return (bytes(HLL_REGISTERS) if union is None else union), any_dense


@command("pfcount", -2, "readonly may_replicate", 1, -1, 1)
def pfcount_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if len(argv) > 2:
        union, _ = union_registers(ctx, argv[1:])
        return estimate(histogram(union))
    key = argv[1]
    value = ctx.lookup_read(key)
    if value is None:
        return 0
    checked = check_hll(value)
    unshare(ctx, key, checked)
    if not checked[15] & CACHE_STALE:
        return int.from_bytes(checked[8:16], "little")
    hll = Hll(checked)
    try:
        card = hll.count()
    except CorruptHll:
        raise CommandError(INVALID_HLL) from None
    hll.header[8:16] = card.to_bytes(8, "little")
    store_hll(ctx, key, hll)
    ctx.dirty += 1
    # a read-only command whose cache update Valkey still propagates (it bumped dirty)
    ctx.also_propagate(list(argv))
    return card


@command("pfmerge", -2, "write denyoom", 1, -1, 1)
def pfmerge_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    union, use_dense = union_registers(ctx, argv[1:])
    key = argv[1]
    value = ctx.lookup(key)
    if value is None:
        hll = Hll.empty()
        ctx.db.set(key, hll.to_bytes())
    else:
        assert isinstance(value, bytes)
        unshare(ctx, key, value)
        hll = Hll(value)
    if use_dense:
        try:
            hll.to_dense()
        except CorruptHll:
            raise CommandError(INVALID_HLL) from None
    if hll.dense is not None:
        current = dense_to_registers(hll.dense)
        hll.dense = registers_to_dense(registers_max(current, union))
    else:
        max_bytes = sparse_max_bytes(ctx)
        for index, count in enumerate(union):
            if count:
                hll.set(index, count, max_bytes)
    hll.invalidate_cache()
    store_hll(ctx, key, hll)
    ctx.notify("$", "pfadd", key)
    ctx.dirty += 1
    return OK


def decode_sparse(sparse: SparseRegisters) -> bytes:
    words = []
    for kind, value, run in sparse.ops:
        if kind == ZERO:
            words.append(f"z:{run}")
        elif kind == XZERO:
            words.append(f"Z:{run}")
        else:
            words.append(f"v:{value},{run}")
    return " ".join(words).encode()


@command("pfdebug", 3, "write denyoom admin", 2, 2, 1)
def pfdebug_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub, key = argv[1], argv[2]
    value = ctx.lookup(key)
    if value is None:
        raise CommandError("ERR The specified key does not exist")
    checked = check_hll(value)
    unshare(ctx, key, checked)
    hll = Hll(checked)
    name = sub.lower()
    if name in (b"getreg", b"todense"):
        try:
            converted = hll.to_dense()
        except CorruptHll:
            raise CommandError(INVALID_HLL) from None
        if converted:
            store_hll(ctx, key, hll)
            ctx.dirty += 1
        if name == b"todense":
            return 1 if converted else 0
        return list(hll.registers())
    if name == b"decode":
        if hll.sparse is None:
            raise CommandError("ERR HLL encoding is not sparse")
        return decode_sparse(hll.sparse)
    if name == b"encoding":
        return SimpleString("sparse" if hll.sparse is not None else "dense")
    shown = sub.split(b"\0", 1)[0].decode("utf-8", "replace")
    raise CommandError(f"ERR Unknown PFDEBUG subcommand '{shown}'")


SELFTEST_REGISTER_CYCLES = 3
SELFTEST_MAX_CARDINALITY = 100_000


@command("pfselftest", 1, "admin")
def pfselftest_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    """Valkey's self-test with smaller bounds (Python is slower than C): register packing
    round-trips, then dense and sparse HLLs fed the same elements agree and stay within six
    standard errors at each power of ten up to 100000."""
    rng = random.Random()
    for _ in range(SELFTEST_REGISTER_CYCLES):
        expected = bytes(rng.getrandbits(6) for _ in range(HLL_REGISTERS))
        dense = bytearray(HLL_DENSE_BYTES + 1)
        for index, value in enumerate(expected):
            dense_set(dense, index, value)
        got = dense_to_registers(dense)
        if got != expected or registers_to_dense(expected) != dense:
            bad = next((i for i in range(HLL_REGISTERS) if got[i] != expected[i]), 0)
            return ErrorReply(
                f"ERR TESTFAILED Register {bad} should be {expected[bad]} but is {got[bad]}"
            )
    dense_hll = Hll(b"HYLL" + bytes(12) + bytes(HLL_DENSE_BYTES))
    sparse_hll = Hll.empty()
    relerr = 1.04 / math.sqrt(HLL_REGISTERS)
    seed = rng.getrandbits(64)
    max_bytes = sparse_max_bytes(ctx)
    checkpoint = 1
    for j in range(1, SELFTEST_MAX_CARDINALITY + 1):
        element = struct.pack("<Q", j ^ seed)
        dense_hll.add(element, max_bytes)
        sparse_hll.add(element, max_bytes)
        if j != checkpoint:
            continue
        if j < max_bytes // 2 and sparse_hll.sparse is None:
            return ErrorReply("ERR TESTFAILED sparse encoding not used")
        card = dense_hll.count()
        if card != sparse_hll.count():
            return ErrorReply("ERR TESTFAILED dense/sparse disagree")
        max_error = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abs(checkpoint - card) > max_error:
            return ErrorReply(
                f"ERR TESTFAILED Too big error. card:{checkpoint} abserr:{abs(checkpoint - card)}"
            )
        checkpoint *= 10
    return OK
