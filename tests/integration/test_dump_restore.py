"""DUMP and RESTORE against valkey-server 8.1.8 (and 9.1.2), byte for byte.

Payloads are compared byte for byte wherever Valkey's in-memory encoding is fixed by the
content (strings, lists, listpack hashes, sorted sets, intsets); sets kept as listpack or
hashtable and hashtable hashes iterate in an order valsync does not reproduce, so those are
checked by restoring each side's payload on the other and comparing ``DEBUG DIGEST-VALUE``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.differential import Differ, RawClient, ReplicaStream
from tests.realvalkey import ServerProcess, start_valkey
from valsync.keyspace.digest import digest_value
from valsync.rdb.format import CRC64

# (key, commands creating it, byte-identical payload expected)
DATASET: list[tuple[str, list[list[str | int]], bool]] = [
    ("str", [["SET", "str", "hello"]], True),
    ("int", [["SET", "int", "12345"]], True),
    ("bigint", [["SET", "bigint", "9223372036854775807"]], True),
    ("neg", [["SET", "neg", "-42"]], True),
    ("lzf", [["SET", "lzf", "a" * 300]], True),
    ("bin", [["SET", "bin", "\x00\x01\xff\r\n"]], True),
    ("appended", [["SET", "appended", "x"], ["APPEND", "appended", "yz"]], True),
    ("list", [["RPUSH", "list", "a", "b", "1", "-7", "x" * 70]], True),
    ("biglist", [["RPUSH", "biglist", *[f"element-{i}" * 3 for i in range(1500)]]], True),
    ("plainlist", [["RPUSH", "plainlist", "a", "p" * 9000, "b"]], True),
    ("hash", [["HSET", "hash", "f1", "v1", "f2", "2", "f3", "x" * 30]], True),
    ("intset", [["SADD", "intset", *range(-3, 40)]], True),
    ("zset", [["ZADD", "zset", "1.5", "a", "-2", "b", "0", "c", "1e30", "d"]], True),
    ("bigzset", [["ZADD", "bigzset", *[x for i in range(200) for x in (i / 7, f"m{i}")]]], True),
    ("lpset", [["SADD", "lpset", "a", "b", "c", "1"]], False),
    ("bigset", [["SADD", "bigset", *[f"member{i}" for i in range(300)]]], False),
    ("bighash", [["HSET", "bighash", *[x for i in range(600) for x in (f"f{i}", f"v{i}")]]], False),
    ("longhash", [["HSET", "longhash", "f", "v" * 100]], False),
    (
        "stream",
        [
            ["XADD", "stream", "1-1", "f", "v"],
            ["XADD", "stream", "2-0", "a", "1", "b", "2"],
            ["XGROUP", "CREATE", "stream", "g", "0"],
        ],
        True,
    ),
]


@pytest.fixture(scope="module")
def server8() -> Iterator[ServerProcess]:
    with start_valkey("8.1.8", "--repl-diskless-sync", "no") as server:
        yield server


@pytest.fixture(scope="module")
def server9() -> Iterator[ServerProcess]:
    with start_valkey("9.1.2") as server:
        yield server


def _bulk(raw: bytes) -> bytes:
    assert raw.startswith(b"$"), raw
    return raw.split(b"\r\n", 1)[1][:-2]


def _populate(d: Differ) -> None:
    d.reset()
    for _key, commands, _same in DATASET:
        for cmd in commands:
            d.check(*cmd)


@pytest.mark.parametrize("resp", [2, 3])
def test_dump_payloads_match_valkey(server8: ServerProcess, resp: int) -> None:
    d = Differ(server8, resp=resp)
    try:
        _populate(d)
        for key, _cmds, same in DATASET:
            mine, theirs = d.both("DUMP", key)
            if same:
                assert mine == theirs, (key, mine[:80], theirs[:80])
            else:
                assert mine.split(b"\r\n", 1)[0].startswith(b"$"), key
        d.check("DUMP", "missing")
        d.check_digest()
    finally:
        d.close()


def test_payloads_cross_restore_with_equal_digests(
    server8: ServerProcess, server9: ServerProcess
) -> None:
    """Each side's payload restored on the other holds the same value (DEBUG DIGEST-VALUE)."""
    d = Differ(server8)
    real9 = RawClient(server9.port)
    try:
        _populate(d)
        real9.call("FLUSHALL")
        for key, _cmds, _same in DATASET:
            mine = d.harness.run("DUMP", key)
            assert isinstance(mine, bytes)
            theirs = _bulk(d.real.call("DUMP", key))
            assert d.real.call("RESTORE", f"v:{key}", 0, mine) == b"+OK\r\n", key
            assert d.harness.wire("RESTORE", f"k:{key}", 0, theirs) == b"+OK\r\n", key
            assert real9.call("RESTORE", key, 0, mine) == b"+OK\r\n", key
            nine = _bulk(real9.call("DUMP", key))
            assert nine[-10:-8] == b"P\x00"  # 9.x writes RDB 80, which valsync accepts
            assert d.harness.wire("RESTORE", f"n:{key}", 0, nine) == b"+OK\r\n", key
            want = d.real.call("DEBUG", "DIGEST-VALUE", key)
            assert d.real.call("DEBUG", "DIGEST-VALUE", f"v:{key}") == want, key
            for name in (key, f"k:{key}", f"n:{key}"):
                assert _digest_value(d, name) == want, (key, name)
            assert real9.call("DEBUG", "DIGEST-VALUE", key) == want, key
    finally:
        d.close()
        real9.close()


def _digest_value(d: Differ, key: str) -> bytes:
    """``DEBUG DIGEST-VALUE key``'s reply as valsync computes it."""
    db = d.harness.keyspace[0]
    k = key.encode()
    text = digest_value(db.data.get(k), db.expires.get(k), d.harness.now_ms)
    return b"*1\r\n+%s\r\n" % text.encode()


def _payload(body: bytes, version: int) -> bytes:
    head = body + version.to_bytes(2, "little")
    return head + CRC64.calc(head).to_bytes(8, "little")


@pytest.mark.parametrize("resp", [2, 3])
def test_restore_errors_match_valkey(server8: ServerProcess, resp: int) -> None:
    d = Differ(server8, resp=resp)
    try:
        d.reset()
        d.check("SET", "s", "v")
        good = _bulk(d.check("DUMP", "s"))
        for args in (
            ["RESTORE", "s", 0, good],
            ["RESTORE", "n", 0, b"short"],
            ["RESTORE", "n", 0, good[:-1] + bytes([good[-1] ^ 1])],
            ["RESTORE", "n", 0, _payload(b"\x00\x05hello", 12)],
            ["RESTORE", "n", 0, _payload(b"\x00\x05hello", 0)],
            ["RESTORE", "n", 0, _payload(b"\x00\x05hel", 11)],
            ["RESTORE", "n", 0, _payload(b"\x2a\x05hello", 11)],
            ["RESTORE", "n", 0, _payload(b"\x0b\x00", 11)],
            ["RESTORE", "n", -1, good],
            ["RESTORE", "n", "x", good],
            ["RESTORE", "s", -1, good],
            ["RESTORE", "n", 0, good, "IDLETIME", -1],
            ["RESTORE", "n", 0, good, "IDLETIME", "x"],
            ["RESTORE", "n", 0, good, "FREQ", 256],
            ["RESTORE", "n", 0, good, "FREQ", 1, "IDLETIME", 1],
            ["RESTORE", "n", 0, good, "IDLETIME"],
            ["RESTORE", "n", 0, good, "BOGUS"],
            ["RESTORE", "n", 0, good, "REPLACE", "ABSTTL", "IDLETIME", 10],
            ["RESTORE", "m", 0, good, "FREQ", 100],
            ["RESTORE", "s", 0, good, "REPLACE"],
            ["RESTORE", "s", 1, good, "REPLACE", "ABSTTL"],
            ["RESTORE", "s", 1, good, "ABSTTL"],
            ["RESTORE", "t", 99999999999000, good, "ABSTTL"],
            ["RESTORE", "n"],
            ["DUMP"],
        ):
            d.check(*args)
        d.check("EXISTS", "s", "n", "m", "t")
        d.check("PEXPIRETIME", "t")
        d.check_digest()
    finally:
        d.close()


def test_restore_propagates_like_valkey(server8: ServerProcess) -> None:
    """RESTORE with a relative TTL propagates as ABSTTL; a past TTL with REPLACE as UNLINK."""
    d = Differ(server8)
    stream = ReplicaStream(server8.port)
    try:
        d.reset()
        d.check("SET", "s", "v")
        good = _bulk(d.check("DUMP", "s"))
        d.harness.propagated.clear()
        cases = [
            ["restore", "a", 0, good],
            ["restore", "b", 100000, good, "IDLETIME", 5],
            ["RESTORE", "c", 5000, good, "ABSTTL"],
            ["RESTORE", "s", 5000, good, "REPLACE", "ABSTTL"],
            ["RESTORE", "d", 99999999999000, good, "ABSTTL", "FREQ", 3],
        ]
        now = int(time.time() * 1000)
        for args in cases:
            d.check(*args)
        theirs = stream.read_commands(lambda argv: argv[1:2] == [b"d"])
        theirs = [argv for argv in theirs if argv[0].upper() in (b"RESTORE", b"UNLINK", b"DEL")]
        mine = [argv for _db, argv in d.harness.propagated]
        assert len(mine) == len(theirs), (mine, theirs)
        for m, t in zip(mine, theirs, strict=True):
            if m[0] == b"restore" and m[1] == b"b":
                # the absolute TTL is each server's own clock + 100 s
                assert abs(int(m[2]) - int(t[2])) < 5000 and int(t[2]) >= now + 100000
                m, t = m[:2] + m[3:], t[:2] + t[3:]
            assert m == t
    finally:
        stream.close()
        d.close()


@pytest.mark.parametrize("resp", [2, 3])
def test_hash_field_ttls_dump_as_valkey_9(server9: ServerProcess, resp: int) -> None:
    """A hash whose fields have TTLs needs RDB type 22, so its payload says RDB 80, as 9.1.2's."""
    d = Differ(server9, resp=resp)
    try:
        d.reset()
        d.check("HSET", "h", "a", "1")
        d.check("HSETEX", "h", "PXAT", 99999999999000, "FIELDS", 2, "b", "2", "c", "x" * 30)
        payload = _bulk(d.check("DUMP", "h"))
        assert payload[0] == 22 and payload[-10:-8] == b"P\x00"
        d.check("RESTORE", "h2", 0, payload)
        d.check("HPEXPIRETIME", "h2", "FIELDS", 3, "a", "b", "c")
        d.check_digest()
    finally:
        d.close()
