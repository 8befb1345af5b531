"""Generic key commands and glob matching (expected values observed on valkey-server 8.1.8)."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.cmdutil import Harness
from valsync.commands import ExpireMode
from valsync.keyspace.glob import stringmatch
from valsync.keyspace.values import HashValue, ZSetValue
from valsync.resp.reply import OK, ErrorReply, SimpleString

NOW = 1_700_000_000_000
FAR_MS = 99_999_999_999_000
SYNTAX = ErrorReply("ERR syntax error")


@pytest.fixture
def h() -> Harness:
    return Harness(now_ms=NOW)


@pytest.mark.parametrize(
    ("pattern", "string", "result"),
    [
        (b"*", b"", False),
        (b"*", b"abc", True),
        (b"a*", b"abc", True),
        (b"a*c", b"abbbc", True),
        (b"a*c", b"abbbd", False),
        (b"?", b"a", True),
        (b"?", b"ab", False),
        (b"[ab]", b"b", True),
        (b"[^ab]", b"b", False),
        (b"[^ab]", b"c", True),
        (b"[a-c]", b"b", True),
        (b"[c-a]", b"b", True),
        (b"[a-c]", b"d", False),
        (b"\\*", b"*", True),
        (b"\\*", b"a", False),
        (b"[\\]]", b"]", True),
        (b"[", b"a", False),
        (b"[a", b"a", True),
        (b"[ab", b"b", True),
        (b"a\\", b"a\\", True),
        (b"**a", b"ba", True),
        (b"a**", b"a", True),
        (b"[a-]", b"-", False),
        (b"[-a]", b"-", True),
    ],
)
def test_glob(pattern: bytes, string: bytes, result: bool) -> None:
    assert stringmatch(pattern, string) is result


def test_glob_nocase() -> None:
    assert stringmatch(b"A[B-C]?", b"abx", nocase=True)
    assert not stringmatch(b"A", b"a")


def test_glob_pathological_is_fast() -> None:
    assert not stringmatch(b"a*" * 30 + b"b", b"a" * 60)


def test_del_unlink_exists_touch_type(h: Harness) -> None:
    h.run("MSET", "a", "1", "b", "2")
    assert h.run("EXISTS", "a", "a", "b", "c") == 3
    assert h.run("TOUCH", "a", "c") == 1
    assert h.run("TYPE", "a") == SimpleString("string")
    assert h.run("TYPE", "c") == SimpleString("none")
    h.keyspace[0].set(b"l", deque([b"x"]))
    h.keyspace[0].set(b"z", ZSetValue())
    h.keyspace[0].set(b"hh", HashValue())
    assert h.run("TYPE", "l") == SimpleString("list")
    assert h.run("TYPE", "z") == SimpleString("zset")
    assert h.run("TYPE", "hh") == SimpleString("hash")
    assert h.run("DEL", "a", "c") == 1
    assert h.run("UNLINK", "b", "b") == 1
    assert h.run("DEL", "a") == 0


def test_lazy_expiry_on_lookup(h: Harness) -> None:
    h.run("SET", "k", "v", "PX", "10")
    h.now_ms += 10
    assert h.run("EXISTS", "k") == 0
    assert h.propagated[-1] == (0, [b"UNLINK", b"k"])
    assert b"k" not in h.keyspace[0].data


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("foo",), "ERR Unsupported option foo"),
        (("NX", "XX"), "ERR NX and XX, GT or LT options at the same time are not compatible"),
        (("NX", "GT"), "ERR NX and XX, GT or LT options at the same time are not compatible"),
        (("GT", "LT"), "ERR GT and LT options at the same time are not compatible"),
    ],
)
def test_expire_option_errors(h: Harness, args: tuple[str, ...], reply: str) -> None:
    h.run("SET", "k", "v")
    assert h.run("EXPIRE", "k", "10", *args) == ErrorReply(reply)


def test_expire_range_errors(h: Harness) -> None:
    h.run("SET", "k", "v")
    for name, value in (
        ("expire", "9223372036854775807"),
        ("expire", "-9223372036854775808"),
        ("pexpire", "9223372036854775807"),
    ):
        assert h.run(name.upper(), "k", value) == ErrorReply(
            f"ERR invalid expire time in '{name}' command"
        )
    assert h.run("EXPIRE", "k", "x") == ErrorReply("ERR value is not an integer or out of range")


def test_expire_flags(h: Harness) -> None:
    h.run("SET", "k", "v")
    assert h.run("EXPIRE", "k", "100", "XX") == 0
    assert h.run("EXPIRE", "k", "100", "GT") == 0
    assert h.run("EXPIRE", "k", "100", "LT") == 1
    assert h.run("EXPIRE", "k", "200", "NX") == 0
    assert h.run("EXPIRE", "k", "200", "LT") == 0
    assert h.run("EXPIRE", "k", "200", "GT") == 1
    assert h.run("PTTL", "k") == 200_000
    assert h.run("EXPIRE", "nokey", "10") == 0


def test_expire_in_past_deletes(h: Harness) -> None:
    for cmd in (("EXPIRE", "k", "-1"), ("EXPIRE", "k", "0"), ("PEXPIREAT", "k", "1")):
        h.run("SET", "k", "v")
        assert h.run(*cmd) == 1
        assert h.run("EXISTS", "k") == 0
        assert h.propagated[-1] == (0, [b"UNLINK", b"k"])


def test_expire_in_past_on_replica_keeps_key() -> None:
    h = Harness(now_ms=NOW, mode=ExpireMode.KEEP)
    h.run("SET", "k", "v")
    assert h.run("PEXPIREAT", "k", "1") == 1
    assert h.keyspace[0].expires[b"k"] == 1


def test_ttl_family(h: Harness) -> None:
    assert h.run("TTL", "k") == -2
    h.run("SET", "k", "v")
    assert h.run("PTTL", "k") == -1
    assert h.run("EXPIRETIME", "k") == -1
    h.run("PEXPIRE", "k", "1499")
    assert h.run("TTL", "k") == 1
    h.run("PEXPIRE", "k", "1500")
    assert h.run("TTL", "k") == 2
    h.run("PEXPIREAT", "k", str(FAR_MS + 999))
    assert h.run("PEXPIRETIME", "k") == FAR_MS + 999
    assert h.run("EXPIRETIME", "k") == FAR_MS // 1000
    assert h.run("PERSIST", "k") == 1
    assert h.run("PERSIST", "k") == 0
    assert h.run("PERSIST", "nokey") == 0


def test_rename(h: Harness) -> None:
    assert h.run("RENAME", "a", "b") == ErrorReply("ERR no such key")
    h.run("SET", "a", "1", "PXAT", str(FAR_MS))
    assert h.run("RENAME", "a", "a") == OK
    assert h.run("RENAMENX", "a", "a") == 0
    assert h.run("RENAME", "a", "b") == OK
    assert h.run("PEXPIRETIME", "b") == FAR_MS
    h.run("SET", "c", "x")
    assert h.run("RENAMENX", "b", "c") == 0
    assert h.run("RENAMENX", "b", "d") == 1
    assert h.run("RENAME", "d", "c") == OK
    assert h.run("GET", "c") == b"1"
    assert h.run("PEXPIRETIME", "c") == FAR_MS


def test_rename_long_key_turns_raw(h: Harness) -> None:
    h.run("SET", "r", "hello")
    long_key = "r" * 55
    h.run("RENAME", "r", long_key)
    assert h.run("OBJECT", "ENCODING", long_key) == b"raw"


def test_move(h: Harness) -> None:
    h.run("SET", "a", "1", "PXAT", str(FAR_MS))
    assert h.run("MOVE", "a", "0") == ErrorReply("ERR source and destination objects are the same")
    assert h.run("MOVE", "a", "99") == ErrorReply("ERR DB index is out of range")
    assert h.run("MOVE", "a", "x") == ErrorReply("ERR value is not an integer or out of range")
    assert h.run("MOVE", "a", "3000000000") == ErrorReply(
        "ERR value is out of range, value must between -2147483648 and 2147483647"
    )
    assert h.run("MOVE", "a", "1") == 1
    assert h.run("MOVE", "a", "1") == 0
    assert h.keyspace[1].expires[b"a"] == FAR_MS
    h.run("SET", "a", "2")
    assert h.run("MOVE", "a", "1") == 0
    assert h.keyspace[1].data[b"a"] == b"1"


def test_copy(h: Harness) -> None:
    h.run("SET", "a", "1", "PXAT", str(FAR_MS))
    assert h.run("COPY", "a", "a") == ErrorReply("ERR source and destination objects are the same")
    assert h.run("COPY", "a", "b", "DB") == SYNTAX
    assert h.run("COPY", "a", "b", "FOO") == SYNTAX
    assert h.run("COPY", "a", "b", "DB", "99") == ErrorReply("ERR DB index is out of range")
    assert h.run("COPY", "nokey", "b") == 0
    assert h.run("COPY", "a", "b") == 1
    assert h.run("COPY", "a", "b") == 0
    assert h.run("COPY", "a", "a", "DB", "1") == 1
    assert h.keyspace[1].expires[b"a"] == FAR_MS
    h.run("SET", "c", "z")
    assert h.run("COPY", "c", "b", "REPLACE") == 1
    assert h.run("GET", "b") == b"z"
    assert h.run("TTL", "b") == -1


def test_copy_is_deep(h: Harness) -> None:
    h.keyspace[0].set(b"s", {b"a"})
    h.run("COPY", "s", "t")
    t = h.keyspace[0].data[b"t"]
    assert isinstance(t, set)
    t.add(b"b")
    assert h.keyspace[0].data[b"s"] == {b"a"}


def _sorted_keys(reply: object) -> list[bytes]:
    assert isinstance(reply, list)
    return sorted(k for k in reply if isinstance(k, bytes))


def test_keys(h: Harness) -> None:
    h.run("MSET", "a1", "x", "a2", "x", "b1", "x")
    h.run("SET", "gone", "x", "PX", "1")
    h.now_ms += 5
    assert _sorted_keys(h.run("KEYS", "a*")) == [b"a1", b"a2"]
    assert _sorted_keys(h.run("KEYS", "*")) == [b"a1", b"a2", b"b1"]
    assert h.run("KEYS", "?1") is not None


def _scan_all(h: Harness, *opts: str) -> list[bytes]:
    out: list[bytes] = []
    cursor = b"0"
    while True:
        reply = h.run("SCAN", cursor, *opts)
        assert isinstance(reply, list)
        next_cursor, keys = reply[0], reply[1]
        assert isinstance(next_cursor, bytes) and isinstance(keys, list)
        cursor = next_cursor
        out.extend(k for k in keys if isinstance(k, bytes))
        if cursor == b"0":
            return out


def test_scan_options(h: Harness) -> None:
    for i in range(30):
        h.run("SET", f"k{i}", "v")
    h.keyspace[0].set(b"s", {b"a"})
    assert sorted(_scan_all(h)) == sorted([f"k{i}".encode() for i in range(30)] + [b"s"])
    assert sorted(_scan_all(h, "COUNT", "3", "MATCH", "k1*")) == sorted(
        [b"k1"] + [f"k{i}".encode() for i in range(10, 20)]
    )
    assert _scan_all(h, "TYPE", "set") == [b"s"]
    assert h.run("SCAN", "abc") == ErrorReply("ERR invalid cursor")
    assert h.run("SCAN", "-1") == ErrorReply("ERR invalid cursor")
    assert h.run("SCAN", "0", "COUNT", "0") == SYNTAX
    assert h.run("SCAN", "0", "COUNT", "x") == ErrorReply(
        "ERR value is not an integer or out of range"
    )
    assert h.run("SCAN", "0", "MATCH") == SYNTAX
    assert h.run("SCAN", "0", "TYPE", "foo") == ErrorReply("ERR unknown type name 'foo'")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 60), min_size=1, max_size=40),
    st.lists(st.tuples(st.booleans(), st.integers(100, 160)), max_size=40),
    st.integers(1, 7),
)
def test_scan_never_misses_stable_keys(
    stable: list[int], churn: list[tuple[bool, int]], count: int
) -> None:
    """Keys present for the whole scan are returned whatever else is added or removed."""
    h = Harness(now_ms=NOW)
    for i in stable:
        h.run("SET", f"s{i}", "v")
    seen: set[bytes] = set()
    cursor = b"0"
    step = 0
    while True:
        reply = h.run("SCAN", cursor, "COUNT", str(count))
        assert isinstance(reply, list) and isinstance(reply[1], list)
        seen.update(k for k in reply[1] if isinstance(k, bytes))
        assert isinstance(reply[0], bytes)
        cursor = reply[0]
        if step < len(churn):
            add, n = churn[step]
            h.run("SET" if add else "DEL", f"c{n}", *(["v"] if add else []))
            step += 1
        if cursor == b"0":
            break
    assert {f"s{i}".encode() for i in stable} <= seen


def test_randomkey(h: Harness) -> None:
    assert h.run("RANDOMKEY") is None
    h.run("SET", "a", "1")
    assert h.run("RANDOMKEY") == b"a"
    h.run("SET", "b", "1", "PX", "1")
    h.now_ms += 5
    for _ in range(5):
        assert h.run("RANDOMKEY") == b"a"
    h.run("DEL", "a")
    assert h.run("RANDOMKEY") is None


def test_object(h: Harness) -> None:
    assert h.run("OBJECT", "ENCODING", "nokey") is None
    h.run("SET", "i", "5")
    assert h.run("OBJECT", "REFCOUNT", "i") == 1
    assert h.run("OBJECT", "IDLETIME", "i") == 0
    freq = h.run("OBJECT", "FREQ", "i")
    assert isinstance(freq, ErrorReply) and freq.text.startswith("ERR An LFU maxmemory policy")
    assert h.run("OBJECT", "ENCODING") == ErrorReply(
        "ERR wrong number of arguments for 'object|encoding' command"
    )
    assert h.run("OBJECT", "help", "x") == ErrorReply(
        "ERR wrong number of arguments for 'object|help' command"
    )
    assert h.run("OBJECT", "foo") == ErrorReply("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    help_reply = h.run("OBJECT", "HELP")
    assert isinstance(help_reply, list) and len(help_reply) == 15


@pytest.mark.parametrize(
    ("value", "encoding"),
    [
        ({b"1", b"2"}, b"intset"),
        ({b"1", b"a"}, b"listpack"),
        ({b"a" * 65}, b"hashtable"),
        ({str(i).encode() + b"x" for i in range(129)}, b"hashtable"),
        ({str(i).encode() for i in range(513)}, b"hashtable"),
        (deque([b"a"]), b"listpack"),
        (deque([b"a" * 100] * 100), b"quicklist"),
        (HashValue({b"f": b"v"}), b"listpack"),
        (HashValue({b"f": b"v" * 65}), b"hashtable"),
        (HashValue({str(i).encode(): b"v" for i in range(512)}), b"listpack"),
        (HashValue({str(i).encode(): b"v" for i in range(513)}), b"hashtable"),
        (deque([b"y" * 100] * 79), b"listpack"),
        (deque([b"y" * 100] * 81), b"quicklist"),
    ],
)
def test_object_encoding_other_types(h: Harness, value: object, encoding: bytes) -> None:
    h.keyspace[0].set(b"k", value)  # type: ignore[arg-type]
    assert h.run("OBJECT", "ENCODING", "k") == encoding


def test_zset_encoding(h: Harness) -> None:
    z = ZSetValue()
    z.add(b"a", 1.0)
    h.keyspace[0].set(b"z", z)
    assert h.run("OBJECT", "ENCODING", "z") == b"listpack"
    for i in range(200):
        z.add(str(i).encode(), float(i))
    assert h.run("OBJECT", "ENCODING", "z") == b"skiplist"
