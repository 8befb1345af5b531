"""The server's view of the codec: write a snapshot to a sink, load a dump into a new keyspace.

Used by SAVE/BGSAVE, the replication fork child and the replica's loader. The clock and the
per-key delay (``rdb-key-save-delay``) are supplied by the caller; nothing here touches trio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from valsync import VALKEY_COMPAT_VERSION
from valsync.keyspace import Keyspace
from valsync.rdb.format import RdbError
from valsync.rdb.reader import RdbReader
from valsync.rdb.writer import CHUNK_SIZE, RdbWriter, make_aux

__all__ = [
    "IncrementalLoad",
    "LoadedDump",
    "RdbError",
    "load_rdb_file",
    "snapshot_aux",
    "write_snapshot",
]

PROGRESS_EVERY_KEYS = 1024


class Progress(Protocol):
    bytes: int

    def report(self, keys: int, nbytes: int) -> None: ...


def snapshot_aux(
    repl: tuple[str, int, int] | None, used_mem: int = 0
) -> dict[str, bytes | str | int]:
    """Aux fields in Valkey's order; ``repl`` = (repl-id, repl-offset, repl-stream-db)."""
    if repl is None:
        return make_aux(ctime=int(time.time()), used_mem=used_mem, valkey_ver=VALKEY_COMPAT_VERSION)
    replid, offset, db = repl
    return make_aux(
        ctime=int(time.time()),
        used_mem=used_mem,
        valkey_ver=VALKEY_COMPAT_VERSION,
        repl_stream_db=db,
        repl_id=replid,
        repl_offset=offset,
    )


SLOW_SAVE_CHUNK = 4 * 1024


def write_snapshot(
    keyspace: Keyspace,
    write: Callable[[bytes], object],
    aux: dict[str, bytes | str | int],
    *,
    version: int = 11,
    compression: bool = True,
    checksum: bool = True,
    key_save_delay_us: int = 0,
    progress: Progress | None = None,
    include_keys: bool = True,
    functions: list[bytes] | None = None,
) -> int:
    """Write a whole dump through ``write``; returns the number of keys written."""
    delay = key_save_delay_us / 1_000_000 if key_save_delay_us > 0 else 0.0
    written = 0

    def on_key(n: int) -> None:
        if delay:
            time.sleep(delay)
        if progress is not None:
            progress.report(n, writer.bytes_written)

    source = keyspace if include_keys else Keyspace(len(keyspace))
    writer = RdbWriter(
        source,
        version=version,
        aux=aux,
        compression=compression,
        checksum=checksum,
        functions=functions or (),
        on_key=on_key if (delay or progress is not None) else None,
        # without a delay only every PROGRESS_EVERY_KEYS-th key is reported
        on_key_every=1 if delay else PROGRESS_EVERY_KEYS,
        # a slowed-down save (rdb-key-save-delay, a test hook) lets its bytes out a few KB at
        # a time: a replica is seen loading, and a lost one is noticed within seconds
        chunk_size=SLOW_SAVE_CHUNK if delay else CHUNK_SIZE,
    )
    for chunk in writer.chunks():
        write(chunk)
        written += len(chunk)
    if progress is not None:
        progress.bytes = written
    return writer.keys_written


@dataclass
class LoadedDump:
    keyspace: Keyspace
    aux: dict[str, bytes]
    keys: int
    version: int
    functions: list[bytes]

    @property
    def stream_db(self) -> int | None:
        raw = self.aux.get("repl-stream-db")
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None


class IncrementalLoad:
    """Feed RDB bytes as they arrive; :meth:`finish` returns the new keyspace (or raises)."""

    def __init__(self, databases: int = 16, verify_checksum: bool = True) -> None:
        self.reader = RdbReader(databases=databases, verify_checksum=verify_checksum)

    def feed(self, data: bytes) -> int:
        """Decode what can be decoded; returns how many keys this chunk completed."""
        return self.reader.feed(data)

    def finish(self) -> LoadedDump:
        result = self.reader.finish()
        return LoadedDump(
            result.keyspace, result.aux, result.keys_loaded, result.version, result.functions
        )


def load_rdb_file(
    path: Path | str, databases: int = 16, chunk: int = 1 << 22, verify_checksum: bool = True
) -> LoadedDump:
    """Load a dump file into a fresh keyspace; RdbError when it is truncated or corrupt."""
    loader = IncrementalLoad(databases, verify_checksum)
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            loader.feed(data)
    return loader.finish()
