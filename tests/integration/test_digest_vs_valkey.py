"""The same data in a valsync Keyspace and in a real valkey-server must print the same
DEBUG DIGEST and DEBUG DIGEST-VALUE, since replicas are checked against primaries by them.

Values are built directly (no valsync commands), loaded into Valkey with plain commands,
and sized so every Valkey encoding occurs (listpack/quicklist, intset/listpack/hashtable,
listpack/skiplist), with integer-looking and binary strings, TTLs and several DBs.
"""

from __future__ import annotations

import math
import random
import struct
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest

from tests.realvalkey import ServerProcess, start_valkey
from valsync.keyspace import HashValue, Keyspace, Value, ZSetValue
from valsync.keyspace.digest import digest_keyspace, digest_value
from valsync.rdb.stream import decode_stream_payload

VERSIONS = ["8.1.8", "9.1.2"]
FAR_FUTURE_MS = int(time.time() * 1000) + 86_400_000

Entry = tuple[int, bytes, Value, int | None]


def client(server: ServerProcess, db: int = 0) -> Any:
    return server.client(db=db)


def score_arg(score: float) -> str:
    if math.isinf(score):
        return "inf" if score > 0 else "-inf"
    return repr(score)


def zset(pairs: list[tuple[bytes, float]]) -> ZSetValue:
    z = ZSetValue()
    for member, score in pairs:
        z.add(member, score)
    return z


def dataset() -> list[Entry]:
    """Every type, small and big, across DBs 0, 1, 5 and 15."""
    rng = random.Random(7)
    binary = bytes(range(256)) + b"\x00\r\n\xff"
    short_bin = b"\x00\xff\r\n\x80bin"
    odd_scores = [0.0, -1.5, 1e8, 1e-7, 1e21, 0.1, 1 / 3, 2.0**63, 5e-324, math.inf, -math.inf]
    odd_scores += [1.547182503134182e-78, 1626983080611305.8, 3.092535278770144e18]
    entries: list[Entry] = [
        (0, b"str", b"hello", None),
        (0, b"int", b"12345", None),
        (0, b"negint", b"-9223372036854775808", FAR_FUTURE_MS),
        (0, b"notint", b"007", None),
        (0, b"bigint", b"123456789012345678901234567890", None),
        (0, b"empty", b"", None),
        (0, binary, binary * 3, FAR_FUTURE_MS + 5),
        (0, b"large", b"x" * 20_000, None),
        (0, b"list", deque([b"a", b"1", b"-2", binary, b"", b"a"]), None),
        (0, b"biglist", deque(str(i).encode() * (i % 5 + 1) for i in range(3000)), FAR_FUTURE_MS),
        (0, b"intset", {b"1", b"-5", b"9223372036854775807", b"42"}, None),
        (0, b"smallset", {b"a", b"b", short_bin, b"7"}, None),
        (0, b"binset", {binary, b"x"}, None),
        (0, b"bigset", {f"m{i}".encode() for i in range(700)}, None),
        (0, b"zsmall", zset([(f"z{i}".encode(), s) for i, s in enumerate(odd_scores)]), None),
        (
            0,
            b"zbig",
            zset([(f"member:{i}".encode(), rng.uniform(-1e6, 1e6)) for i in range(400)]),
            FAR_FUTURE_MS,
        ),
        (0, b"zlongmember", zset([(b"y" * 100, 2.5), (b"12", 12.0)]), None),
        (0, b"hsmall", HashValue({b"f": b"v", b"n": b"12", short_bin: short_bin, b"": b""}), None),
        (0, b"hbig", HashValue({f"f{i}".encode(): str(i).encode() for i in range(1000)}), None),
        (0, b"hlongval", HashValue({b"f": b"v" * 200, binary: binary}), FAR_FUTURE_MS),
        (1, b"str", b"hello", None),
        (1, b"list", deque([b"x"]), FAR_FUTURE_MS),
        (5, b"set", {b"only"}, None),
        (5, b"z", zset([(b"a", 1.0), (b"b", 1.0), (b"c", -0.25)]), None),
        (15, b"h", HashValue({b"k": b"v"}), None),
    ]
    return entries


def load_into_valkey(server: ServerProcess, entries: list[Entry]) -> None:
    for db, key, value, expire in entries:
        c = client(server, db)
        if isinstance(value, bytes):
            c.set(key, value)
        elif isinstance(value, deque):
            items = list(value)
            for i in range(0, len(items), 500):
                c.rpush(key, *items[i : i + 500])
        elif isinstance(value, set):
            c.sadd(key, *value)
        elif isinstance(value, ZSetValue):
            args: list[Any] = []
            for member, score in value.items():
                args += [score_arg(score), member]
            c.execute_command("ZADD", key, *args)
        elif isinstance(value, HashValue):
            c.hset(key, mapping=dict(value))
            for field, when in value.field_expires.items():
                c.execute_command("HPEXPIREAT", key, when, "FIELDS", 1, field)
        else:
            raise AssertionError("streams are made on the server")
        if expire is not None:
            c.pexpireat(key, expire)


def add_streams(server: ServerProcess, entries: list[Entry]) -> None:
    """Streams are written with XADD and read back with DUMP, decoded by valsync's codec."""
    c = client(server, 1)
    c.execute_command("XADD", "stream", "1-1", "f", "v")
    c.execute_command("XADD", "stream", "1-2", "f", "w", "n", "-77")
    for i in range(350):
        c.execute_command("XADD", "bigstream", "*", "field", "v" * (i % 40), "n", i, "x", 10**15)
    ids = [e[0] for e in c.execute_command("XRANGE", "bigstream", "-", "+")][::9]
    c.execute_command("XDEL", "bigstream", *ids)
    c.execute_command("XGROUP", "CREATE", "stream", "g", "0")
    c.pexpireat("stream", FAR_FUTURE_MS)
    for key, expire in ((b"stream", FAR_FUTURE_MS), (b"bigstream", None)):
        dump = c.dump(key)
        entries.append((1, key, decode_stream_payload(dump[1:-10], dump[0]), expire))


def build_keyspace(entries: list[Entry]) -> Keyspace:
    ks = Keyspace()
    for db, key, value, expire in entries:
        ks[db].data[key] = value
        if expire is not None:
            ks[db].expires[key] = expire
    return ks


def debug_digest(server: ServerProcess) -> str:
    out = client(server).execute_command("DEBUG", "DIGEST")
    return out.decode() if isinstance(out, bytes) else str(out)


def digest_values(server: ServerProcess, db: int, keys: list[bytes]) -> list[str]:
    out = client(server, db).execute_command("DEBUG", "DIGEST-VALUE", *keys)
    return [d.decode() for d in out]


def assert_same(server: ServerProcess, ks: Keyspace, now_ms: int) -> None:
    for db in ks.dbs:
        keys = [*db.data, b"no-such-key"]
        mine = [digest_value(db.data.get(k), db.expires.get(k), now_ms) for k in keys]
        assert dict(zip(keys, mine, strict=True)) == dict(
            zip(keys, digest_values(server, db.id, keys), strict=True)
        )
    assert digest_keyspace(ks, now_ms) == debug_digest(server)


@pytest.fixture(params=VERSIONS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with start_valkey(request.param) as srv:
        yield srv


def test_empty_server_digest(server: ServerProcess) -> None:
    assert debug_digest(server) == "0" * 40 == digest_keyspace(Keyspace(), 0)


def test_dataset_digests_match(server: ServerProcess) -> None:
    entries = dataset()
    load_into_valkey(server, entries)
    add_streams(server, entries)
    c = client(server)
    encodings = {k: c.object("encoding", k) for k in (b"intset", b"smallset", b"bigset")}
    encodings |= {k: c.object("encoding", k) for k in (b"zsmall", b"zbig", b"hsmall", b"hbig")}
    assert encodings == {
        b"intset": b"intset",
        b"smallset": b"listpack",
        b"bigset": b"hashtable",
        b"zsmall": b"listpack",
        b"zbig": b"skiplist",
        b"hsmall": b"listpack",
        b"hbig": b"hashtable",
    }
    assert_same(server, build_keyspace(entries), int(time.time() * 1000))


def test_many_scores_match(server: ServerProcess) -> None:
    """Score text is the fragile part: random doubles, one listpack zset each, plus one skiplist."""
    rng = random.Random(11)
    scores: list[float] = [-0.0, 1e15, 1e16, 1e17, 123456789012.5, 1.5e-5, 2.0**53]
    while len(scores) < 1500:
        s = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if not math.isnan(s):
            scores.append(s)
        scores.append(round(rng.uniform(-1000, 1000), rng.randrange(0, 6)))
        scores.append(rng.randrange(-(10**9), 10**9) * 10.0 ** rng.randrange(-12, 12))
    c = client(server)
    pipe = c.pipeline(transaction=False)
    ks = Keyspace()
    for i, s in enumerate(scores):
        pipe.execute_command("ZADD", f"z{i}", score_arg(s), "m")
        ks[0].data[f"z{i}".encode()] = zset([(b"m", s)])
    pairs = [(f"m{i}".encode(), s) for i, s in enumerate(scores)]
    for i in range(0, len(pairs), 200):
        args: list[Any] = []
        for member, s in pairs[i : i + 200]:
            args += [score_arg(s), member]
        pipe.execute_command("ZADD", "all", *args)
    ks[0].data[b"all"] = zset(pairs)
    pipe.execute()
    assert c.object("encoding", "all") == b"skiplist"
    assert_same(server, ks, int(time.time() * 1000))


def test_hash_field_ttls_on_valkey_9() -> None:
    """Valkey 9: field TTLs leave the digest alone, but fields already expired drop out."""
    with start_valkey("9.1.2") as server:
        c = client(server)
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
        ks = Keyspace()
        far = FAR_FUTURE_MS

        c.execute_command("HSETEX", "hx", "PXAT", far, "FIELDS", 2, "a", "1", "b", "2")
        c.hset("hx", "c", "3")
        hx = HashValue({b"a": b"1", b"b": b"2", b"c": b"3"})
        hx.field_expires.update({b"a": far, b"b": far})
        ks[0].data[b"hx"] = hx

        big = HashValue({f"f{i}".encode(): b"v" * (i % 7) for i in range(600)})
        c.hset("hbig", mapping=dict(big))
        c.execute_command("HPEXPIREAT", "hbig", far + 1, "FIELDS", 3, "f1", "f2", "f3")
        c.execute_command("HEXPIRE", "hbig", 5000, "FIELDS", 1, "f4")
        big.field_expires.update({b"f1": far + 1, b"f2": far + 1, b"f3": far + 1})
        big.field_expires[b"f4"] = far - 1
        c.pexpireat("hbig", far)
        ks[0].data[b"hbig"] = big
        ks[0].expires[b"hbig"] = far

        c.hset("hgone", mapping={"keep": "k", "gone": "g"})
        c.execute_command("HPEXPIRE", "hgone", 1, "FIELDS", 1, "gone")
        gone = HashValue({b"keep": b"k", b"gone": b"g"})
        gone.field_expires[b"gone"] = int(time.time() * 1000) + 1
        ks[0].data[b"hgone"] = gone
        time.sleep(0.05)

        assert c.object("encoding", "hbig") == b"hashtable"
        assert c.hlen("hgone") == 2  # still stored, yet left out of the digest
        assert_same(server, ks, int(time.time() * 1000))
