"""Bitmap commands on strings (Valkey's ``bitops.c``): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
BITFIELD and BITFIELD_RO.

Bits are numbered from the most significant bit of byte 0, so a string read big-endian as one
integer is the bitmap: counting and searching use ``int.from_bytes``/``bit_count`` and
``bytes.lstrip`` rather than per-bit loops. Every string these commands write is stored
``raw`` (Valkey's ``dbUnshareStringValue`` and ``createObject`` make it so), even when the bits
did not change; only a change is propagated and notified.
"""

from __future__ import annotations

from dataclasses import dataclass

from valsync.commands.context import CommandContext
from valsync.commands.errors import SYNTAX, CommandError, parse_int
from valsync.commands.registry import command
from valsync.commands.strings import RawStr, get_string, proto_max_bulk_len
from valsync.resp.reply import Reply

BIT_OFFSET_ERROR = "ERR bit offset is not an integer or out of range"
BIT_VALUE_ERROR = "ERR bit is not an integer or out of range"
BITPOS_BIT_ERROR = "ERR The bit argument must be 1 or 0."
BITOP_NOT_ERROR = "ERR BITOP NOT must be called with a single source key."
BITFIELD_TYPE_ERROR = (
    "ERR Invalid bitfield type. Use something like i16 u8. "
    "Note that u64 is not supported but i64 is."
)
OVERFLOW_TYPE_ERROR = "ERR Invalid OVERFLOW type specified"
BITFIELD_RO_ERROR = "ERR BITFIELD_RO only supports the GET subcommand"

U64 = (1 << 64) - 1


def wrap64(value: int) -> int:
    """``value`` as C's int64_t arithmetic leaves it (two's complement wrap-around)."""
    return ((value + (1 << 63)) & U64) - (1 << 63)


def parse_bit_offset(ctx: CommandContext, arg: bytes, bits: int = 0) -> int:
    """getBitOffsetFromArgument: a bit offset below ``proto-max-bulk-len`` bytes; with ``bits``
    (BITFIELD) ``#n`` means ``n * bits``, multiplied as C's int64 does. The primary's stream
    is exempt from the limit, as Valkey's ``mustObeyClient``."""
    use_hash = bits > 0 and arg[:1] == b"#"
    offset = parse_int(arg[1:] if use_hash else arg, BIT_OFFSET_ERROR)
    if use_hash:
        offset = wrap64(offset * bits)
    if offset < 0 or (not ctx.client.is_primary_link and offset >> 3 >= proto_max_bulk_len(ctx)):
        raise CommandError(BIT_OFFSET_ERROR)
    return offset


def string_for_bit_write(ctx: CommandContext, key: bytes, max_bit: int) -> tuple[bytearray, bool]:
    """lookupStringForBitCommand: the key's bytes grown with zeros to hold ``max_bit``, and
    whether that created or grew it. A new key is stored at once (all zeros) and an existing
    one turns raw, whether or not the caller then changes a bit."""
    need = (max_bit >> 3) + 1
    current = get_string(ctx, key)
    db = ctx.db
    if current is None:
        db.set(key, RawStr(bytes(need)))
        return bytearray(need), True
    if type(current) is not RawStr:
        db.data[key] = RawStr(current)
    buf = bytearray(current)
    if len(buf) < need:
        buf.extend(bytes(need - len(buf)))
        return buf, True
    return buf, False


def store_bits(ctx: CommandContext, key: bytes, buf: bytearray, event: str = "setbit") -> None:
    """Replace the key's bytes (keeping its TTL) and tell watchers and subscribers."""
    ctx.db.data[key] = RawStr(buf)
    ctx.db.modified(key)
    ctx.notify("$", event, key)


# --- SETBIT / GETBIT ---------------------------------------------------------------------


@command("setbit", 4, "write denyoom", 1, 1, 1)
def setbit_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    offset = parse_bit_offset(ctx, argv[2])
    on = parse_int(argv[3], BIT_VALUE_ERROR)
    if on & ~1:
        raise CommandError(BIT_VALUE_ERROR)
    buf, grown = string_for_bit_write(ctx, argv[1], offset)
    byte, mask = offset >> 3, 0x80 >> (offset & 7)
    old = 1 if buf[byte] & mask else 0
    if grown or old != on:
        buf[byte] = (buf[byte] | mask) if on else (buf[byte] & ~mask)
        store_bits(ctx, argv[1], buf)
        ctx.dirty += 1
    return old


@command("getbit", 3, "readonly fast", 1, 1, 1)
def getbit_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    offset = parse_bit_offset(ctx, argv[2])
    value = get_string(ctx, argv[1], read=True)
    byte = offset >> 3
    if value is None or byte >= len(value):
        return 0
    return 1 if value[byte] & (0x80 >> (offset & 7)) else 0


# --- BITCOUNT / BITPOS -------------------------------------------------------------------


def _unit_is_bit(arg: bytes) -> bool:
    unit = arg.lower()
    if unit == b"bit":
        return True
    if unit == b"byte":
        return False
    raise CommandError(SYNTAX)


@dataclass(frozen=True, slots=True)
class _ByteRange:
    """A BITCOUNT/BITPOS range as whole bytes [start, end], plus the masks of the bits of the
    first and last byte that lie outside a BIT range (set bits = outside)."""

    start: int
    end: int
    first_mask: int = 0
    last_mask: int = 0


def _byte_range(start: int, end: int, length: int, is_bit: bool) -> _ByteRange:
    total = length * 8 if is_bit else length
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = min(max(end, 0), total - 1)
    if is_bit and start <= end:
        first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
        last_mask = (1 << (7 - (end & 7))) - 1
        return _ByteRange(start >> 3, end >> 3, first_mask, last_mask)
    return _ByteRange(start, end)


def popcount(data: bytes | bytearray) -> int:
    return int.from_bytes(data, "big").bit_count()


@command("bitcount", -2, "readonly", 1, 1, 1)
def bitcount_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    argc = len(argv)
    if argc > 5:
        raise CommandError(SYNTAX)
    start = end = 0
    is_bit = False
    if argc >= 3:
        start = parse_int(argv[2])
        if argc == 5:
            is_bit = _unit_is_bit(argv[4])
        if argc >= 4:
            end = parse_int(argv[3])
    value = get_string(ctx, argv[1], read=True)
    if value is None:
        return 0
    if argc == 2:
        return popcount(value)
    if argc == 3:
        end = len(value) - 1
    if start < 0 and end < 0 and start > end:
        return 0
    rng = _byte_range(start, end, len(value), is_bit)
    if rng.start > rng.end:
        return 0
    count = popcount(value[rng.start : rng.end + 1])
    if rng.first_mask:
        count -= (value[rng.start] & rng.first_mask).bit_count()
    if rng.last_mask:
        count -= (value[rng.end] & rng.last_mask).bit_count()
    return count


def first_bit(data: bytes | bytearray, bit: int) -> int:
    """serverBitpos: the first ``bit`` in ``data``; none found is -1 for a 1 and the position
    just past the data for a 0 (the string continues with zeros)."""
    skip = b"\x00" if bit else b"\xff"
    rest = data.lstrip(skip)
    if not rest:
        return -1 if bit else len(data) * 8
    byte = rest[0] if bit else rest[0] ^ 0xFF
    return (len(data) - len(rest)) * 8 + 8 - byte.bit_length()


@command("bitpos", -3, "readonly", 1, 1, 1)
def bitpos_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    argc = len(argv)
    bit = parse_int(argv[2])
    if bit not in (0, 1):
        raise CommandError(BITPOS_BIT_ERROR)
    if argc > 6:
        raise CommandError(SYNTAX)
    start = end = 0
    is_bit = end_given = False
    if argc >= 4:
        start = parse_int(argv[3])
        if argc == 6:
            is_bit = _unit_is_bit(argv[5])
        if argc >= 5:
            end = parse_int(argv[4])
            end_given = True
    value = get_string(ctx, argv[1], read=True)
    if value is None:
        return -1 if bit else 0
    if argc == 3:
        rng = _ByteRange(0, len(value) - 1)
    else:
        rng = _byte_range(start, len(value) - 1 if argc == 4 else end, len(value), is_bit)
    if rng.start > rng.end:
        return -1
    pos, base, nbytes = _search_range(value, rng, bit)
    if end_given and bit == 0 and pos == nbytes * 8:
        return -1
    return pos if pos == -1 else pos + base * 8


def _search_range(value: bytes, rng: _ByteRange, bit: int) -> tuple[int, int, int]:
    """BITPOS over a byte range with its edge masks: (position relative to ``base``, ``base``
    byte, bytes left in the last searched piece), in the shape Valkey's result check needs."""
    start, nbytes = rng.start, rng.end - rng.start + 1
    if rng.first_mask:
        byte = value[start]
        byte = byte & ~rng.first_mask if bit else byte | rng.first_mask
        if nbytes == 1 and rng.last_mask:
            byte = byte & ~rng.last_mask if bit else byte | rng.last_mask
        pos = first_bit(bytes((byte,)), bit)
        if nbytes == 1 or pos not in (-1, 8):
            return pos, start, nbytes
        start += 1
        nbytes -= 1
    whole = nbytes - (1 if rng.last_mask else 0)
    if whole > 0:
        pos = first_bit(value[start : start + whole], bit)
        if nbytes == whole or pos not in (-1, whole * 8):
            return pos, start, nbytes
        start += whole
        nbytes -= whole
    byte = value[rng.end]
    byte = byte & ~rng.last_mask & 0xFF if bit else byte | rng.last_mask
    return first_bit(bytes((byte,)), bit), start, nbytes


# --- BITOP -------------------------------------------------------------------------------

_BITOPS = {b"and": "and", b"or": "or", b"xor": "xor", b"not": "not"}


@command("bitop", -4, "write denyoom", 2, -1, 1)
def bitop_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    op = _BITOPS.get(argv[1].lower())
    if op is None:
        raise CommandError(SYNTAX)
    if op == "not" and len(argv) != 4:
        raise CommandError(BITOP_NOT_ERROR)
    target = argv[2]
    sources = [get_string(ctx, key, read=True) or b"" for key in argv[3:]]
    maxlen = max(len(s) for s in sources)
    if maxlen:
        ints = [int.from_bytes(s, "big") << (8 * (maxlen - len(s))) for s in sources]
        acc = ints[0]
        if op == "not":
            acc ^= (1 << (8 * maxlen)) - 1
        elif op == "and":
            for n in ints[1:]:
                acc &= n
        elif op == "or":
            for n in ints[1:]:
                acc |= n
        else:
            for n in ints[1:]:
                acc ^= n
        ctx.lookup(target)
        ctx.db.set(target, RawStr(acc.to_bytes(maxlen, "big")))
        ctx.notify("$", "set", target)
        ctx.dirty += 1
    elif ctx.db.delete(target):
        ctx.notify("g", "del", target)
        ctx.dirty += 1
    return maxlen


# --- BITFIELD ----------------------------------------------------------------------------

WRAP, SAT, FAIL = 0, 1, 2
_OVERFLOW = {b"wrap": WRAP, b"sat": SAT, b"fail": FAIL}
GET, SET, INCRBY = 0, 1, 2
_OPCODES = {b"get": (GET, 2), b"set": (SET, 3), b"incrby": (INCRBY, 3)}


@dataclass(frozen=True, slots=True)
class BitfieldOp:
    opcode: int
    signed: bool
    bits: int
    offset: int
    value: int
    overflow: int


def parse_bitfield_type(arg: bytes) -> tuple[bool, int]:
    """getBitfieldTypeFromArgument: ``i1``..``i64`` or ``u1``..``u63``."""
    signed = arg[:1] == b"i"
    if not signed and arg[:1] != b"u":
        raise CommandError(BITFIELD_TYPE_ERROR)
    bits = parse_int(arg[1:].split(b"\0", 1)[0], BITFIELD_TYPE_ERROR)
    if bits < 1 or bits > (64 if signed else 63):
        raise CommandError(BITFIELD_TYPE_ERROR)
    return signed, bits


def parse_bitfield_ops(ctx: CommandContext, argv: list[bytes]) -> list[BitfieldOp]:
    ops: list[BitfieldOp] = []
    overflow = WRAP
    j = 2
    while j < len(argv):
        remaining = len(argv) - j - 1
        sub = argv[j].lower()
        if sub == b"overflow" and remaining >= 1:
            kind = _OVERFLOW.get(argv[j + 1].lower())
            if kind is None:
                raise CommandError(OVERFLOW_TYPE_ERROR)
            overflow = kind
            j += 2
            continue
        opcode, nargs = _OPCODES.get(sub, (-1, 0))
        if opcode < 0 or remaining < nargs:
            raise CommandError(SYNTAX)
        signed, bits = parse_bitfield_type(argv[j + 1])
        offset = parse_bit_offset(ctx, argv[j + 2], bits)
        value = parse_int(argv[j + 3]) if opcode != GET else 0
        ops.append(BitfieldOp(opcode, signed, bits, offset, value, overflow))
        j += 1 + nargs
    return ops


def read_field(data: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    """The ``bits``-wide integer at bit ``offset`` (bits past the end read as zeros)."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    chunk = bytes(data[first : last + 1]).ljust(last - first + 1, b"\0")
    shift = len(chunk) * 8 - (offset & 7) - bits
    value = (int.from_bytes(chunk, "big") >> shift) & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def write_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    n = last - first + 1
    shift = n * 8 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    current = int.from_bytes(buf[first : last + 1], "big")
    current = (current & ~mask) | ((value << shift) & mask)
    buf[first : last + 1] = current.to_bytes(n, "big")


def unsigned_overflow(value: int, incr: int, bits: int, kind: int) -> tuple[int, int]:
    """checkUnsignedBitfieldOverflow with C's uint64/int64 arithmetic: (direction, the value
    to store on overflow). ``value`` is the uint64 being stored or incremented."""
    top = (1 << bits) - 1
    max_incr = wrap64(top - value)
    min_incr = wrap64(-value)
    if value > top or (incr > 0 and incr > max_incr):
        direction = 1
    elif incr < 0 and incr < min_incr:
        direction = -1
    else:
        return 0, 0
    if kind == SAT:
        return direction, top if direction > 0 else 0
    return direction, (value + incr) & top


def signed_overflow(value: int, incr: int, bits: int, kind: int) -> tuple[int, int]:
    """checkSignedBitfieldOverflow, including its int64 wrap-around in the range checks."""
    top = (1 << (bits - 1)) - 1
    bottom = -top - 1
    max_incr = wrap64(top - value)
    min_incr = wrap64(bottom - value)
    if (
        value > top
        or (bits != 64 and incr > max_incr)
        or (value >= 0 and incr > 0 and incr > max_incr)
    ):
        direction = 1
    elif (
        value < bottom
        or (bits != 64 and incr < min_incr)
        or (value < 0 and incr < 0 and incr < min_incr)
    ):
        direction = -1
    else:
        return 0, 0
    if kind == SAT:
        return direction, top if direction > 0 else bottom
    result = (value + incr) & U64
    if bits < 64:
        result &= (1 << bits) - 1
        if result >> (bits - 1):
            result -= 1 << bits
        return direction, result
    return direction, wrap64(result)


def _apply_write(buf: bytearray, op: BitfieldOp) -> tuple[Reply, bool]:
    """One SET or INCRBY: (its reply, whether the stored bits changed)."""
    old = read_field(buf, op.offset, op.bits, op.signed)
    if op.opcode == INCRBY:
        if op.signed:
            direction, limited = signed_overflow(old, op.value, op.bits, op.overflow)
        else:
            direction, limited = unsigned_overflow(old, op.value, op.bits, op.overflow)
        new = limited if direction else old + op.value
        reply = new
    else:
        stored = op.value if op.signed else op.value & U64
        if op.signed:
            direction, limited = signed_overflow(stored, 0, op.bits, op.overflow)
        else:
            direction, limited = unsigned_overflow(stored, 0, op.bits, op.overflow)
        new = limited if direction else stored
        reply = old
    if direction and op.overflow == FAIL:
        return None, False
    write_field(buf, op.offset, op.bits, new)
    return reply, old != new


def bitfield_generic(ctx: CommandContext, argv: list[bytes], readonly_command: bool) -> Reply:
    key = argv[1]
    ops = parse_bitfield_ops(ctx, argv)
    writes = [op for op in ops if op.opcode != GET]
    if not writes:
        value = get_string(ctx, key, read=True)
        data = b"" if value is None else value
        return [read_field(data, op.offset, op.bits, op.signed) for op in ops]
    if readonly_command:
        raise CommandError(BITFIELD_RO_ERROR)
    highest = max(op.offset + op.bits - 1 for op in writes)
    buf, grown = string_for_bit_write(ctx, key, highest)
    replies: list[Reply] = []
    changes = 0
    for op in ops:
        if op.opcode == GET:
            replies.append(read_field(buf, op.offset, op.bits, op.signed))
            continue
        reply, changed = _apply_write(buf, op)
        replies.append(reply)
        if reply is not None and (grown or changed):
            changes += 1
    if changes:
        store_bits(ctx, key, buf)
        ctx.dirty += changes
    elif grown:
        # every write failed its overflow check: the key keeps its new zeros, unannounced
        ctx.db.data[key] = RawStr(buf)
    return replies


@command("bitfield", -2, "write denyoom", 1, 1, 1)
def bitfield_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return bitfield_generic(ctx, argv, False)


@command("bitfield_ro", -2, "readonly fast", 1, 1, 1)
def bitfield_ro_command(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return bitfield_generic(ctx, argv, True)
