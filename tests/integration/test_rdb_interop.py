"""valsync's RDB codec against real valkey-server 8.1.8 and 9.1.2, in both directions.

valsync writes a dump with every type and encoding, a real server starts on it, and every key
read back through the client must match; then a real server is filled (DEBUG POPULATE plus
every type, field TTLs on 9.1.2), SAVEs, and valsync's reader must see the same data. A dump
valsync rewrites from Valkey's (streams decoded and re-encoded) must load back into Valkey
unchanged, consumer groups included.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import pytest

from tests.realvalkey import start_valkey
from valsync.keyspace import HashValue, Keyspace, StreamValue, ZSetValue
from valsync.rdb import dump_rdb_bytes, load_rdb_bytes, make_aux

FAR = 4102444800000
LIBRARY = b"#!lua name=mylib\nserver.register_function('myfunc', function(keys, args) return 1 end)"
VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "rdb"

Snapshot = dict[tuple[int, bytes], tuple[Any, ...]]


def _zset(pairs: dict[bytes, float]) -> ZSetValue:
    z = ZSetValue()
    for m, s in pairs.items():
        z.add(m, s)
    return z


def sample_keyspace(field_ttls: bool) -> Keyspace:
    """Every type, each on both sides of its encoding thresholds."""
    ks = Keyspace()
    d = ks[0].data
    d[b"str:int8"] = b"100"
    d[b"str:int32"] = b"-1234567890"
    d[b"str:bigint"] = b"12345678901234567"
    d[b"str:lead0"] = b"007"
    d[b"str:bin"] = b"\x00\x01\xff\r\n"
    d[b"str:lzf"] = b"valkey replication " * 20
    d[b"str:big"] = bytes(range(256)) * 80
    d[b"\xffbin\x00key"] = b"binary key"
    d[b"list:small"] = deque([b"a", b"1", b"-2", b"300", b"70000", b"x" * 100])
    d[b"list:ql"] = deque(b"item-%04d-abcdefghijklmnopqrst" % i for i in range(600))
    d[b"list:plain"] = deque([b"head", b"P" * 9000, b"tail"])
    d[b"set:intset"] = {b"%d" % i for i in range(-5, 507)}
    d[b"set:int-ht"] = {b"%d" % i for i in range(513)}
    d[b"set:lp"] = {b"m%d" % i for i in range(128)}
    d[b"set:ht"] = {b"m%d" % i for i in range(129)}
    d[b"set:longmember"] = {b"short", b"L" * 65}
    d[b"zset:lp"] = _zset({b"a": 1.0, b"b": 2.5, b"c": -3.0, b"inf": float("inf"), b"tiny": 1e-300})
    d[b"zset:sl"] = _zset({b"m%d" % i: i * 0.5 - 20 for i in range(129)})
    d[b"zset:longmember"] = _zset({b"M" * 65: 1.5, b"neg": -0.25})
    d[b"hash:lp"] = HashValue({b"f%d" % i: b"%d" % i for i in range(512)})
    d[b"hash:ht"] = HashValue({b"f%d" % i: b"v" for i in range(513)})
    d[b"hash:longvalue"] = HashValue({b"f": b"V" * 65, b"g": b"1"})
    d[b"exp:str"] = b"expires in 2100"
    ks[0].expires[b"exp:str"] = FAR
    d[b"exp:list"] = deque([b"x"])
    ks[0].expires[b"exp:list"] = FAR + 123
    ks[1].data[b"db1:key"] = b"db one"
    ks[15].data[b"db15:key"] = b"15"
    if field_ttls:
        h = HashValue({b"a": b"1", b"b": b"2", b"c": b"3"})
        h.field_expires[b"b"] = FAR + 456
        ks[2].data[b"hash:fexp"] = h
    return ks


def model_snapshot(ks: Keyspace) -> Snapshot:
    snap: Snapshot = {}
    for db in ks.dbs:
        for key, value in db.data.items():
            expire = db.expires.get(key, -1)
            if isinstance(value, bytes):
                item: tuple[Any, ...] = ("string", value)
            elif isinstance(value, deque):
                item = ("list", list(value))
            elif isinstance(value, set):
                item = ("set", value)
            elif isinstance(value, HashValue):
                ttls = {f: value.field_expires.get(f, -1) for f in value}
                item = ("hash", dict(value), ttls)
            elif isinstance(value, ZSetValue):
                item = ("zset", list(value.items()))
            else:
                assert isinstance(value, StreamValue)
                item = ("stream",)
            snap[(db.id, key)] = (*item, expire)
    return snap


def server_snapshot(client: Any, field_ttls: bool, streams: bool = False) -> Snapshot:
    """Every key of every DB as the client sees it; with ``streams``, also stream contents and
    OBJECT ENCODING (valsync's rewrite must land each key in the encoding Valkey had)."""
    snap: Snapshot = {}
    for dbi in range(16):
        client.execute_command("SELECT", dbi)
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            if kind == "string":
                item: tuple[Any, ...] = ("string", client.get(key))
            elif kind == "list":
                item = ("list", client.lrange(key, 0, -1))
            elif kind == "set":
                item = ("set", set(client.smembers(key)))
            elif kind == "hash":
                h = client.hgetall(key)
                fields = list(h)
                if field_ttls:
                    ttls = dict(
                        zip(
                            fields,
                            client.execute_command(
                                "HPEXPIRETIME", key, "FIELDS", len(fields), *fields
                            ),
                            strict=True,
                        )
                    )
                else:
                    ttls = dict.fromkeys(fields, -1)
                item = ("hash", h, ttls)
            elif kind == "zset":
                item = (
                    "zset",
                    [(m, float(s)) for m, s in client.zrange(key, 0, -1, withscores=True)],
                )
            elif kind == "stream" and streams:
                item = (
                    "stream",
                    client.xrange(key),
                    client.execute_command("XINFO", "STREAM", key, "FULL"),
                )
            else:
                item = (kind,)
            if streams:
                item = (*item, client.object("encoding", key))
            snap[(dbi, key)] = (*item, client.pexpiretime(key))
    client.execute_command("SELECT", 0)
    return snap


CASES = [("8.1.8", 11), ("9.1.2", 11), ("9.1.2", 80)]


@pytest.mark.parametrize(("server_version", "rdb_version"), CASES)
def test_valsync_dump_loads_in_valkey(
    tmp_path: Path, server_version: str, rdb_version: int
) -> None:
    ks = sample_keyspace(field_ttls=rdb_version == 80)
    stream = (
        load_rdb_bytes((VECTORS / "valkey-8.1.8-alltypes.rdb").read_bytes())
        .keyspace[0]
        .data[b"stream:s"]
    )
    ks[0].data[b"stream:s"] = stream
    blob = dump_rdb_bytes(
        ks, version=rdb_version, aux=make_aux(ctime=1795745293), functions=[LIBRARY]
    )
    (tmp_path / "dump.rdb").write_bytes(blob)
    with start_valkey(server_version, "--dbfilename", "dump.rdb", dir=tmp_path) as server:
        client: Any = server.client()
        assert client.dbsize() == len(ks[0].data)
        assert server_snapshot(client, field_ttls=server_version == "9.1.2") == model_snapshot(ks)
        assert client.xrange(b"stream:s") == [(b"1-1", {b"name": b"a"}), (b"1-2", {b"name": b"b"})]
        assert client.execute_command("FCALL", "myfunc", 0) == 1


def _populate(client: Any, field_ttls: bool) -> None:
    client.execute_command("DEBUG", "POPULATE", 300, "pop", 12)
    client.set("str:int", 12345)
    client.set("str:lzf", "valkey replication " * 20)
    client.set(b"str:bin\x00", b"\x00\xff\r\n")
    client.set("exp:str", "x", pxat=FAR)
    client.rpush("list:small", "a", "1", "-2", "70000")
    client.rpush("list:ql", *[f"item-{i:04d}-abcdefghijklmnopqrst" for i in range(600)])
    client.rpush("list:plain", "a", "P" * 9000, "b")
    client.sadd("set:intset", *range(-3, 300))
    client.sadd("set:lp", "apple", "banana")
    client.sadd("set:ht", *[f"m{i}" for i in range(200)])
    client.hset("hash:lp", mapping={"f1": "v1", "f2": "123", "f3": ""})
    client.hset("hash:ht", mapping={f"f{i}": "v" * (i % 70) for i in range(600)})
    client.zadd("zset:lp", {"a": 1, "b": 2.5, "c": -3})
    client.zadd("zset:sl", {f"m{i}": i / 3 for i in range(300)})
    client.xadd("stream:s", {"name": "a"}, id="1-1")
    client.xadd("stream:s", {"name": "b", "extra": "c"}, id="1-2")
    client.xgroup_create("stream:s", "g1", id="0")
    client.xreadgroup("g1", "alice", {"stream:s": ">"}, count=1)
    client.execute_command("FUNCTION", "LOAD", LIBRARY)
    client.execute_command("SELECT", 7)
    client.set("db7:key", "seven")
    client.expire("db7:key", 10**8)
    client.execute_command("SELECT", 0)
    if field_ttls:
        client.hset("hash:fexp", mapping={"a": "1", "b": "2", "c": "3"})
        client.execute_command("HPEXPIREAT", "hash:fexp", FAR + 456, "FIELDS", 1, "b")
        client.execute_command("HSETEX", "hash:fexp2", "PXAT", FAR, "FIELDS", 2, "x", "1", "y", "2")


@pytest.mark.parametrize("server_version", ["8.1.8", "9.1.2"])
def test_valkey_dump_loads_in_valsync_and_back(tmp_path: Path, server_version: str) -> None:
    field_ttls = server_version == "9.1.2"
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    with start_valkey(server_version, "--dbfilename", "dump.rdb", dir=source_dir) as server:
        client: Any = server.client()
        _populate(client, field_ttls)
        assert client.save()
        expected = server_snapshot(client, field_ttls)
        expected_full = server_snapshot(client, field_ttls, streams=True)
    result = load_rdb_bytes((source_dir / "dump.rdb").read_bytes())
    assert result.version == (80 if field_ttls else 11)
    assert result.functions == [LIBRARY]
    assert model_snapshot(result.keyspace) == expected

    again_dir = tmp_path / "again"
    again_dir.mkdir()
    blob = dump_rdb_bytes(
        result.keyspace, version=result.version, aux=make_aux(ctime=1), functions=result.functions
    )
    (again_dir / "dump.rdb").write_bytes(blob)
    with start_valkey(server_version, "--dbfilename", "dump.rdb", dir=again_dir) as server:
        client = server.client()
        assert server_snapshot(client, field_ttls, streams=True) == expected_full
        assert client.execute_command("FCALL", "myfunc", 0) == 1
