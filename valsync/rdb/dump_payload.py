"""The DUMP/RESTORE payload: one value as an RDB key record holds it, then a footer.

Layout (Valkey's ``createDumpPayload``)::

    <type byte><value encoding> <RDB version: 2 bytes LE> <CRC-64 of all before: 8 bytes LE>

valsync writes RDB version 11, as 8.1.8 does, so its payloads load on 8.x and 9.x; a hash
whose fields have TTLs can only be encoded as type 22, which needs version 80 (9.x).
A payload is accepted when its version is one Valkey 8.1.8 accepts (0..11) or 80, which
9.x writes: valsync follows 9.x primaries, whose RESTOREs (and MIGRATEs) carry version 80.
"""

from __future__ import annotations

from valsync.keyspace import StreamValue, Value
from valsync.rdb import format as F
from valsync.rdb.format import CRC64, RdbError
from valsync.rdb.reader import decode_object
from valsync.rdb.writer import DEFAULT_LIMITS, EncodingLimits, encode_object

FOOTER_LEN = 10


def accepted_version(version: int) -> bool:
    return version <= F.RDB_VERSION or version == F.RDB_VERSION_VALKEY


def create_dump_payload(
    value: Value,
    key: bytes = b"",
    dbi: int = 0,
    *,
    compression: bool = True,
    limits: EncodingLimits = DEFAULT_LIMITS,
) -> bytes:
    """DUMP's reply for ``value`` (never an empty container: empty keys do not exist)."""
    version = F.RDB_VERSION
    try:
        body = encode_object(value, key, dbi, compression=compression, limits=limits)
    except RdbError:
        # only RDB 80 can hold hash fields with TTLs, as 9.x dumps them
        version = F.RDB_VERSION_VALKEY
        body = encode_object(
            value, key, dbi, version=version, compression=compression, limits=limits
        )
    if body is None:
        raise ValueError("an empty container has no DUMP payload")
    head = body + version.to_bytes(2, "little")
    return head + int(CRC64.calc(head)).to_bytes(8, "little")


def verify_dump_payload(payload: bytes, check_crc: bool = True) -> bool:
    """Valkey's ``verifyDumpPayload``: a footer, an accepted version, a matching CRC-64."""
    if len(payload) < FOOTER_LEN:
        return False
    version = int.from_bytes(payload[-FOOTER_LEN:-8], "little")
    if not accepted_version(version):
        return False
    if not check_crc:
        return True
    return bool(CRC64.calc(payload[:-8]) == int.from_bytes(payload[-8:], "little"))


def load_dump_payload(payload: bytes, key: bytes = b"") -> Value:
    """The value of a verified payload; RdbError when its body is malformed or empty."""
    value, _ = decode_object(payload[:-FOOTER_LEN], key)
    if not isinstance(value, bytes) and not _has_elements(value):
        raise RdbError("empty key")
    return value


def _has_elements(value: Value) -> bool:
    if isinstance(value, StreamValue):
        return True  # an empty stream is still a key (XADD then XDEL leaves one)
    try:
        return len(value) > 0  # type: ignore[arg-type]
    except TypeError:
        return True
