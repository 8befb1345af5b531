"""``valsync rdb check`` / ``valsync rdb dump``: validate a dump, or print every key as JSON."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

from valsync.keyspace import HashValue, OpaqueValue, StreamValue, Value, ZSetValue, type_name
from valsync.rdb.format import RdbError
from valsync.rdb.reader import RdbReader, load_rdb_bytes

JsonValue = str | dict[str, str]


def _text(b: bytes) -> JsonValue:
    """Strings as JSON strings when valid UTF-8, else ``{"hex": ...}`` (the vectors' convention)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": b.hex()}


def value_to_json(value: Value) -> object:
    """A value in the shape the ``vectors/rdb/*.json`` files use."""
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, deque):
        return [_text(e) for e in value]
    if isinstance(value, set):
        return [_text(e) for e in sorted(value)]
    if isinstance(value, HashValue):
        if all(isinstance(_text(f), str) for f in value):
            return {f.decode(): _text(v) for f, v in value.items()}
        return [[_text(f), _text(v)] for f, v in value.items()]
    if isinstance(value, ZSetValue):
        return [[_text(m), s] for m, s in value.items()]
    if isinstance(value, StreamValue):
        return {
            "entries": [
                [f"{ms}-{seq}", [_text(x) for x in pairs]] for (ms, seq), pairs in value.items()
            ],
            "last_id": f"{value.last_id[0]}-{value.last_id[1]}",
            "groups": [_text(name) for name in value.groups],
        }
    assert isinstance(value, OpaqueValue)
    return {"rdb_type": value.rdb_type, "hex": value.payload.hex()}


def check_file(path: str | Path) -> tuple[bool, str]:
    """(True, summary) when the dump loads completely, else (False, the error)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        return False, f"cannot read {path}: {err}"
    try:
        result = load_rdb_bytes(data)
    except RdbError as err:
        return False, f"RDB check failed: {err}"
    crc = "verified" if result.checksum_verified else "not checked (stored as 0)"
    dbs = sum(1 for db in result.keyspace.dbs if db.data)
    return True, (
        f"RDB ok: version {result.version}, {result.keys_loaded} keys in {dbs} databases, "
        f"{len(result.functions)} function libraries, checksum {crc}"
    )


def dump_file(path: str | Path) -> Iterator[dict[str, object]]:
    """Every key in file order as ``{db, key, type, value, expiry}``; RdbError when corrupt.

    Keys are yielded only once the whole file has loaded, so a corrupt dump prints nothing.
    """
    records: list[dict[str, object]] = []

    def collect(db: int, key: bytes, value: Value, expire_ms: int | None) -> None:
        record: dict[str, object] = {
            "db": db,
            "key": _text(key),
            "type": type_name(value),
            "value": value_to_json(value),
            "expiry": expire_ms,
        }
        if isinstance(value, HashValue) and value.field_expires:
            record["field_expiry_ms"] = [[_text(f), ms] for f, ms in value.field_expires.items()]
        records.append(record)

    reader = RdbReader(on_key=collect)
    reader.feed(Path(path).read_bytes())
    reader.finish()
    yield from records
