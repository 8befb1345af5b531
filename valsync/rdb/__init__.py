"""The RDB format, sans-IO: an incremental reader, a chunked writer, and their blob codecs."""

from valsync.rdb.format import EncodingError, RdbError
from valsync.rdb.reader import RdbKey, RdbLoadResult, RdbReader, load_rdb_bytes
from valsync.rdb.writer import (
    DEFAULT_LIMITS,
    EncodingLimits,
    RdbWriter,
    dump_rdb_bytes,
    iter_rdb,
    make_aux,
    write_rdb,
)

__all__ = [
    "DEFAULT_LIMITS",
    "EncodingError",
    "EncodingLimits",
    "RdbError",
    "RdbKey",
    "RdbLoadResult",
    "RdbReader",
    "RdbWriter",
    "dump_rdb_bytes",
    "iter_rdb",
    "load_rdb_bytes",
    "make_aux",
    "write_rdb",
]
