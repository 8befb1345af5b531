"""The reader against dumps written by real Valkey 8.1.8 and 9.1.2 (tests/vectors/rdb).

Each ``.rdb`` has a ``.json`` describing every key exactly; matching them proves the reader
decodes every encoding Valkey writes today, and the replication payloads prove it loads
what a primary streams to a replica.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from valsync.keyspace import HashValue, Keyspace, StreamValue, Value, ZSetValue
from valsync.rdb import RdbError, RdbReader, load_rdb_bytes, tools
from valsync.rdb.stream import encode_stream_payload
from valsync.rdb.writer import dump_rdb_bytes, encode_string

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "rdb"
DUMPS = sorted(VECTORS.glob("*.rdb"))
PAYLOADS = sorted((VECTORS / "primary-to-fake-replica").glob("*.rdb"))


def _bytes(v: Any) -> bytes:
    return bytes.fromhex(v["hex"]) if isinstance(v, dict) else v.encode()


def _expected_value(entry: dict[str, Any]) -> Any:
    v = entry["value"]
    kind = entry["type"]
    if kind == "string":
        return _bytes(v)
    if kind == "list":
        return deque(_bytes(e) for e in v)
    if kind == "set":
        return {_bytes(e) for e in v}
    if kind == "hash":
        h = HashValue({_bytes(f): _bytes(x) for f, x in v.items()})
        for f, ms in entry.get("field_expiry_ms", {}).items():
            if ms != -1:
                h.field_expires[_bytes(f)] = ms
        return h
    if kind == "zset":
        z = ZSetValue()
        for m, s in v:
            z.add(_bytes(m), float(s))
        return z
    return None


def _check_against_json(data: bytes, desc: dict[str, Any]) -> None:
    order: list[tuple[int, bytes]] = []
    seen: dict[tuple[int, bytes], tuple[Value, int | None]] = {}

    def on_key(db: int, key: bytes, value: Value, expire: int | None) -> None:
        order.append((db, key))
        seen[(db, key)] = (value, expire)

    reader = RdbReader(on_key=on_key)
    reader.feed(data)
    result = reader.finish()
    assert result.version == desc["rdb_version"]
    assert list(result.aux) == [a["key"] for a in desc["aux_fields_in_order"]]
    for a in desc["aux_fields_in_order"]:
        assert result.aux[a["key"]] == a["value"].encode()
    assert [f.decode() for f in result.functions] == desc["functions"]
    if "key_order_in_file" in desc:
        assert order == [(db, k.encode()) for db, k in desc["key_order_in_file"]]
    if "resizedb_hints" in desc:
        assert result.resize_hints == [
            (h["db"], h["resize_keys"], h["resize_expires"]) for h in desc["resizedb_hints"]
        ]
    assert result.checksum == int(desc["crc64_computed_over_magic_to_eof_opcode"], 16)
    assert len(seen) == len(desc["keys"])
    for entry in desc["keys"]:
        value, expire = seen[(entry["db"], entry["key"].encode())]
        assert expire == entry.get("expire_ms")
        if entry["type"] == "stream":
            assert isinstance(value, StreamValue)
            described = entry["value"]
            assert [
                [f"{ms}-{seq}", [x.decode() for x in pairs]] for (ms, seq), pairs in value.items()
            ] == described["entries"]
            assert [g.decode() for g in value.groups] == described["groups"]
            detail = entry["rdb_detail"]
            assert value.length == detail["length"]
            assert value.entries_added == detail["entries_added"]
            for g in detail["groups"]:
                group = value.groups[g["name"].encode()]
                assert group.entries_read & (2**64 - 1) == g["entries_read"]
                assert len(group.pel) == g["pel"]
            payload = encode_stream_payload(value)
            record = bytes((entry["rdb_type"],)) + encode_string(entry["key"].encode()) + payload
            off = entry["offset_in_file"]
            assert data[off : off + len(record)] == record
            following = [k["offset_in_file"] for k in desc["keys"] if k["offset_in_file"] > off]
            assert data[off + len(record)] in (0xFE, 0xFF, 0xFC) or off + len(record) in following
        else:
            assert value == _expected_value(entry), entry["key"]
            if isinstance(value, HashValue):
                assert value.field_expires == _expected_value(entry).field_expires


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.name)
def test_vector_matches_its_description(path: Path) -> None:
    desc = json.loads(path.with_suffix(".json").read_text())
    _check_against_json(path.read_bytes(), desc)


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.name)
def test_replication_payload_loads(path: Path) -> None:
    """The payloads carry the same dataset as the alltypes dumps, plus the repl-* aux fields."""
    result = load_rdb_bytes(path.read_bytes())
    assert result.version == 11
    assert result.checksum_verified
    assert set(result.aux) >= {"repl-id", "repl-offset", "repl-stream-db"}
    assert len(result.aux["repl-id"]) == 40
    reference = load_rdb_bytes((VECTORS / "valkey-8.1.8-alltypes.rdb").read_bytes()).keyspace
    for mine, ref in zip(result.keyspace.dbs, reference.dbs, strict=True):
        assert mine.data == ref.data
        assert mine.expires == ref.expires


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.name)
def test_payload_fed_in_small_chunks_completes_at_its_length(path: Path) -> None:
    """With ``$<len>`` framing the reader knows the size and is done at the last byte."""
    data = path.read_bytes()
    reader = RdbReader(total_size=len(data))
    for i in range(0, len(data), 100):
        assert not reader.done
        reader.feed(data[i : i + 100])
    assert reader.done
    assert reader.bytes_consumed == len(data)
    assert reader.finish().keys_loaded == 24


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.name)
def test_vector_rewrites_to_the_same_data(path: Path) -> None:
    """What valsync writes back from a real dump (streams verbatim) loads to the same data."""
    first = load_rdb_bytes(path.read_bytes())
    version = 80 if first.version == 80 else 11
    again = load_rdb_bytes(
        dump_rdb_bytes(first.keyspace, version=version, functions=first.functions)
    )
    assert again.functions == first.functions
    for a, b in zip(first.keyspace.dbs, again.keyspace.dbs, strict=True):
        assert a.data == b.data
        assert a.expires == b.expires


def test_tools_check_and_dump() -> None:
    ok, message = tools.check_file(VECTORS / "valkey-8.1.8-alltypes.rdb")
    assert ok, message
    assert "24 keys" in message
    desc = json.loads((VECTORS / "valkey-8.1.8-alltypes.json").read_text())
    records = list(tools.dump_file(VECTORS / "valkey-8.1.8-alltypes.rdb"))
    assert [(r["db"], r["key"]) for r in records] == [tuple(k) for k in desc["key_order_in_file"]]
    by_key = {r["key"]: r for r in records}
    for entry in desc["keys"]:
        record = by_key[entry["key"]]
        assert record["type"] == entry["type"]
        assert record["expiry"] == entry.get("expire_ms")
        if entry["type"] != "stream":
            assert record["value"] == entry["value"], entry["key"]
    json.dumps(records)


def test_tools_check_reports_corruption(tmp_path: Path) -> None:
    data = bytearray((VECTORS / "valkey-8.1.8-alltypes.rdb").read_bytes())
    data[200] ^= 0x55
    bad = tmp_path / "bad.rdb"
    bad.write_bytes(bytes(data))
    ok, message = tools.check_file(bad)
    assert not ok
    assert "checksum" in message or "byte" in message
    ok, message = tools.check_file(tmp_path / "missing.rdb")
    assert not ok


def test_field_expiry_dump_lists_field_ttls() -> None:
    records = list(tools.dump_file(VECTORS / "valkey-9.1.2-hash-field-expiry.rdb"))
    assert records[0]["field_expiry_ms"] == [["b", 4102444800456]]


def test_wrong_trailer_reported_like_valkey() -> None:
    """Valkey: ``Wrong RDB checksum expected: (<computed>) but got (<stored>)``."""
    data = bytearray((VECTORS / "valkey-8.1.8-alltypes.rdb").read_bytes())
    data[-1] ^= 0x01
    with pytest.raises(
        RdbError,
        match=r"Wrong RDB checksum expected: \(1866a6ddaeb7dd0a\) but got \(1966a6ddaeb7dd0a\)",
    ):
        load_rdb_bytes(bytes(data))


@pytest.mark.parametrize("name", ["valkey-8.1.8-alltypes.rdb", "valkey-9.1.2-alltypes.rdb"])
def test_key_records_are_byte_identical_to_valkeys(name: str) -> None:
    """Same encodings, same LZF output: each key record valsync writes appears in Valkey's dump.

    Sets keep Valkey's insertion or hash order, which a Python set does not share, so only
    their type and key are compared.
    """
    data = (VECTORS / name).read_bytes()
    loaded = load_rdb_bytes(data).keyspace
    for db in loaded.dbs:
        if not db.data:
            continue
        single = Keyspace()
        for key, value in db.data.items():
            single[0].data = {key: value}
            record = dump_rdb_bytes(single, aux={})[9 + 5 : -9]
            if isinstance(value, set) and len(value) > 1:
                assert record[: 1 + len(encode_string(key))] in data, key
            else:
                assert record in data, key


@pytest.mark.parametrize(
    "name",
    [
        "valkey-8.1.8-empty.rdb",
        "valkey-9.1.2-empty.rdb",
        "valkey-8.1.8-function-and-key.rdb",
        "valkey-9.1.2-function-and-key.rdb",
        "valkey-8.1.8-rdbchecksum-no.rdb",
        "valkey-9.1.2-hash-field-expiry.rdb",
    ],
)
def test_whole_dump_rewrites_byte_identical(name: str) -> None:
    """Given the same aux values, valsync writes exactly the file Valkey wrote."""
    data = (VECTORS / name).read_bytes()
    loaded = load_rdb_bytes(data)
    blob = dump_rdb_bytes(
        loaded.keyspace,
        version=loaded.version,
        aux=loaded.aux,
        functions=loaded.functions,
        checksum=data[-8:] != bytes(8),
    )
    assert blob == data
