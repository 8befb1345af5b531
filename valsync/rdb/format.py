"""RDB constants: magic, opcodes, value types, string encodings, encoding limits, the CRC.

Numbers are Valkey's (``rdb.h``); section 10 of the replication protocol reference lists them.
"""

from __future__ import annotations

from typing import Final

import anycrc

from valsync.keyspace.canonical import is_canonical_int

RDB_VERSION: Final = 11
RDB_VERSION_VALKEY: Final = 80
MAGIC_LEN: Final = 9

OPCODE_SLOT_INFO: Final = 0xF4
OPCODE_FUNCTION2: Final = 0xF5
OPCODE_FUNCTION_PRE_GA: Final = 0xF6
OPCODE_MODULE_AUX: Final = 0xF7
OPCODE_IDLE: Final = 0xF8
OPCODE_FREQ: Final = 0xF9
OPCODE_AUX: Final = 0xFA
OPCODE_RESIZEDB: Final = 0xFB
OPCODE_EXPIRETIME_MS: Final = 0xFC
OPCODE_EXPIRETIME: Final = 0xFD
OPCODE_SELECTDB: Final = 0xFE
OPCODE_EOF: Final = 0xFF

TYPE_STRING: Final = 0
TYPE_LIST: Final = 1
TYPE_SET: Final = 2
TYPE_ZSET: Final = 3
TYPE_HASH: Final = 4
TYPE_ZSET_2: Final = 5
TYPE_MODULE_PRE_GA: Final = 6
TYPE_MODULE_2: Final = 7
TYPE_HASH_ZIPMAP: Final = 9
TYPE_LIST_ZIPLIST: Final = 10
TYPE_SET_INTSET: Final = 11
TYPE_ZSET_ZIPLIST: Final = 12
TYPE_HASH_ZIPLIST: Final = 13
TYPE_LIST_QUICKLIST: Final = 14
TYPE_STREAM_LISTPACKS: Final = 15
TYPE_HASH_LISTPACK: Final = 16
TYPE_ZSET_LISTPACK: Final = 17
TYPE_LIST_QUICKLIST_2: Final = 18
TYPE_STREAM_LISTPACKS_2: Final = 19
TYPE_SET_LISTPACK: Final = 20
TYPE_STREAM_LISTPACKS_3: Final = 21
TYPE_HASH_2: Final = 22

STREAM_TYPES: Final = frozenset(
    {TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3}
)

QUICKLIST_NODE_PLAIN: Final = 1
QUICKLIST_NODE_PACKED: Final = 2

ENC_INT8: Final = 0
ENC_INT16: Final = 1
ENC_INT32: Final = 2
ENC_LZF: Final = 3

# Valkey's default encoding thresholds (CONFIG GET, both 8.1.8 and 9.1.2).
LIST_MAX_LISTPACK_BYTES: Final = 8192
SET_MAX_INTSET_ENTRIES: Final = 512
SET_MAX_LISTPACK_ENTRIES: Final = 128
SET_MAX_LISTPACK_VALUE: Final = 64
ZSET_MAX_LISTPACK_ENTRIES: Final = 128
ZSET_MAX_LISTPACK_VALUE: Final = 64
HASH_MAX_LISTPACK_ENTRIES: Final = 512
HASH_MAX_LISTPACK_VALUE: Final = 64

CRC64 = anycrc.Model("CRC64-REDIS")

INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1

__all__ = ["is_canonical_int"]


class RdbError(Exception):
    """A dump that cannot be loaded (or a value that cannot be saved), with the byte offset.

    ``offset`` is the position in the RDB stream where the problem was seen (-1 when not about
    a position, e.g. a write error); ``reason`` is the message without the offset; ``str()``
    is the full message, e.g. ``unknown type 42 at byte 96``.
    """

    def __init__(self, reason: str, offset: int = -1, message: str | None = None) -> None:
        if message is None:
            message = reason if offset < 0 else f"{reason} at byte {offset}"
        super().__init__(message)
        self.reason = reason
        self.offset = offset


class EncodingError(ValueError):
    """A listpack, ziplist, intset or zipmap blob is malformed; the reader adds the offset."""
