"""String commands: replies, errors, encodings and dirty counting (expected values observed on
valkey-server 8.1.8)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.unit.cmdutil import Harness
from valsync.commands import ClientState, CommandContext, ExpireMode, execute
from valsync.commands.strings import (
    EMBSTR_LIMIT,
    STORED_AS_GIVEN,
    EmbStr,
    RawStr,
    attach,
    format_long_double,
    parse_long_double,
    round_long_double,
)
from valsync.resp.reply import OK, ErrorReply, SimpleString

NOW = 1_700_000_000_000
WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INT = ErrorReply("ERR value is not an integer or out of range")
SYNTAX = ErrorReply("ERR syntax error")


@pytest.fixture
def h() -> Harness:
    return Harness(now_ms=NOW)


def test_set_get_basics(h: Harness) -> None:
    assert h.run("SET", "k", "v") == OK
    assert h.run("GET", "k") == b"v"
    assert h.run("GET", "nokey") is None
    assert h.run("SET", "k", "w", "NX") is None
    assert h.run("SET", "k", "w", "XX") == OK
    assert h.run("SET", "x", "w", "XX") is None
    assert h.run("SET", "k", "z", "GET") == b"w"
    assert h.run("SET", "new", "z", "NX", "GET") is None
    assert h.run("GET", "new") == b"z"


@pytest.mark.parametrize(
    "args",
    [
        ("NX", "XX"),
        ("EX", "10", "KEEPTTL"),
        ("EX", "10", "PX", "10"),
        ("EX",),
        ("FOO",),
        ("IFEQ", "x", "NX"),
        ("PERSIST",),
    ],
)
def test_set_syntax_errors(h: Harness, args: tuple[str, ...]) -> None:
    assert h.run("SET", "k", "v", *args) == SYNTAX


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("EX", "0"), ErrorReply("ERR invalid expire time in 'set' command")),
        (("EX", "-1"), ErrorReply("ERR invalid expire time in 'set' command")),
        (("EX", "9223372036854775807"), ErrorReply("ERR invalid expire time in 'set' command")),
        (("PX", "9223372036854775807"), ErrorReply("ERR invalid expire time in 'set' command")),
        (("EX", "abc"), NOT_INT),
    ],
)
def test_set_expire_errors(h: Harness, args: tuple[str, ...], reply: ErrorReply) -> None:
    assert h.run("SET", "k", "v", *args) == reply


def test_set_expiry_forms(h: Harness) -> None:
    h.run("SET", "k", "v", "EX", "100")
    assert h.keyspace[0].expires[b"k"] == NOW + 100_000
    h.run("SET", "k", "v", "PXAT", "99999999999999")
    assert h.keyspace[0].expires[b"k"] == 99999999999999
    h.run("SET", "k", "w", "KEEPTTL")
    assert h.keyspace[0].expires[b"k"] == 99999999999999
    h.run("SET", "k", "w")
    assert b"k" not in h.keyspace[0].expires


def test_set_past_expiry(h: Harness) -> None:
    assert h.run("SET", "k", "v", "EXAT", "1") == OK
    assert h.run("EXISTS", "k") == 0
    h.run("SET", "k", "v")
    assert h.run("SET", "k", "w", "PXAT", "1", "GET") == b"v"
    assert h.run("EXISTS", "k") == 0


def test_set_ifeq(h: Harness) -> None:
    assert h.run("SET", "k", "v", "IFEQ", "x") is None
    h.run("SET", "k", "v")
    assert h.run("SET", "k", "w", "IFEQ", "v") == OK
    assert h.run("SET", "k", "z", "IFEQ", "nope") is None
    assert h.run("SET", "k", "z", "IFEQ", "w", "GET") == b"w"
    h.keyspace[0].set(b"l", set([b"a"]))
    assert h.run("SET", "l", "v", "IFEQ", "x") == WRONGTYPE


def test_setnx_setex_psetex(h: Harness) -> None:
    assert h.run("SETNX", "k", "v") == 1
    assert h.run("SETNX", "k", "w") == 0
    assert h.run("SETEX", "k", "10", "v") == OK
    assert h.keyspace[0].expires[b"k"] == NOW + 10_000
    assert h.run("SETEX", "k", "0", "v") == ErrorReply("ERR invalid expire time in 'setex' command")
    assert h.run("PSETEX", "k", "-1", "v") == ErrorReply(
        "ERR invalid expire time in 'psetex' command"
    )


def test_wrongtype(h: Harness) -> None:
    h.keyspace[0].set(b"s", {b"a"})
    for cmd in (
        ("GET", "s"),
        ("SET", "s", "v", "GET"),
        ("INCR", "s"),
        ("APPEND", "s", "x"),
        ("STRLEN", "s"),
        ("GETRANGE", "s", "0", "1"),
        ("SETRANGE", "s", "0", "x"),
        ("GETDEL", "s"),
        ("GETEX", "s"),
        ("GETSET", "s", "v"),
        ("INCRBYFLOAT", "s", "1"),
    ):
        assert h.run(*cmd) == WRONGTYPE, cmd
    assert h.run("MGET", "s", "nokey") == [None, None]
    assert h.run("SET", "s", "v") == OK


def test_mset_msetnx(h: Harness) -> None:
    assert h.run("MSET", "a", "1", "b") == ErrorReply(
        "ERR wrong number of arguments for 'mset' command"
    )
    assert h.run("MSET", "a", "1", "b", "2") == OK
    assert h.run("MGET", "a", "b", "c") == [b"1", b"2", None]
    assert h.run("MSETNX", "a", "1", "c", "3") == 0
    assert h.run("MSETNX", "c", "3", "d", "4") == 1


def test_counters(h: Harness) -> None:
    assert h.run("INCR", "n") == 1
    assert h.run("INCRBY", "n", "10") == 11
    assert h.run("DECRBY", "n", "20") == -9
    assert h.run("DECR", "n") == -10
    assert h.run("INCRBY", "n", "x") == NOT_INT
    h.run("SET", "n", "9223372036854775807")
    assert h.run("INCR", "n") == ErrorReply("ERR increment or decrement would overflow")
    assert h.run("DECRBY", "n", "-9223372036854775808") == ErrorReply(
        "ERR decrement would overflow"
    )
    for bad in (" 1", "01", "1.0", "", "abc", "-0"):
        h.run("SET", "n", bad)
        assert h.run("INCR", "n") == NOT_INT, bad


def test_counter_keeps_ttl(h: Harness) -> None:
    h.run("SET", "n", "5", "EX", "100")
    h.run("INCR", "n")
    assert h.run("PTTL", "n") == 100_000


@pytest.mark.parametrize(
    ("start", "incr", "result"),
    [
        (None, "0.1", b"0.1"),
        ("0.1", "0.2", b"0.3"),
        (None, "1.0e-20", b"0"),
        (None, "-0.0", b"0"),
        (None, "3", b"3"),
        ("10.5", "-0.5", b"10"),
        (None, "5.", b"5"),
        (None, ".5", b"0.5"),
        (None, "0x10", b"16"),
        ("1", "1e308", b"99999999999999999996685879655845645660560099847415567" + b"?" * 300),
    ],
)
def test_incrbyfloat(h: Harness, start: str | None, incr: str, result: bytes) -> None:
    if start is not None:
        h.run("SET", "f", start)
    reply = h.run("INCRBYFLOAT", "f", incr)
    if len(result) > 300:
        assert isinstance(reply, bytes) and reply.startswith(result.rstrip(b"?"))
    else:
        assert reply == result


def test_incrbyfloat_long_double_exactness() -> None:
    assert format_long_double(parse_long_double(b"1e308")).startswith(
        b"99999999999999999996685879655845645660560099847415567207797047994921734868838061872"
    )
    assert round_long_double(Fraction(1, 3)) != Fraction(1, 3)


def test_incrbyfloat_errors(h: Harness) -> None:
    not_float = ErrorReply("ERR value is not a valid float")
    assert h.run("INCRBYFLOAT", "f", "abc") == not_float
    assert h.run("INCRBYFLOAT", "f", " 1") == not_float
    assert h.run("INCRBYFLOAT", "f", "nan") == not_float
    assert h.run("INCRBYFLOAT", "f", "1_0") == not_float
    assert h.run("INCRBYFLOAT", "f", "inf") == ErrorReply(
        "ERR increment would produce NaN or Infinity"
    )
    h.run("SET", "f", "x")
    assert h.run("INCRBYFLOAT", "f", "1") == not_float


def test_incrbyfloat_propagates_set_keepttl(h: Harness) -> None:
    h.run("INCRBYFLOAT", "f", "1.5")
    assert h.propagated[-1] == (0, [b"SET", b"f", b"1.5", b"KEEPTTL"])


def test_append_strlen_ranges(h: Harness) -> None:
    assert h.run("APPEND", "s", "hello") == 5
    assert h.run("APPEND", "s", " world") == 11
    assert h.run("STRLEN", "s") == 11
    assert h.run("STRLEN", "nokey") == 0
    assert h.run("GETRANGE", "s", "0", "4") == b"hello"
    assert h.run("GETRANGE", "s", "-5", "-1") == b"world"
    assert h.run("GETRANGE", "s", "0", "-100") == b"h"
    assert h.run("GETRANGE", "s", "-1", "-2") == b""
    assert h.run("GETRANGE", "s", "5", "1") == b""
    assert h.run("SUBSTR", "s", "6", "100") == b"world"
    assert h.run("GETRANGE", "nokey", "0", "1") == b""


def test_setrange(h: Harness) -> None:
    assert h.run("SETRANGE", "s", "3", "ab") == 5
    assert h.run("GET", "s") == b"\0\0\0ab"
    assert h.run("SETRANGE", "s", "0", "xy") == 5
    assert h.run("GET", "s") == b"xy\0ab"
    assert h.run("SETRANGE", "nokey", "5", "") == 0
    assert h.run("EXISTS", "nokey") == 0
    assert h.run("SETRANGE", "s", "0", "") == 5
    assert h.run("SETRANGE", "s", "-1", "x") == ErrorReply("ERR offset is out of range")
    assert h.run("SETRANGE", "s", "536870912", "x") == ErrorReply(
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    )


def test_getdel_getex_getset(h: Harness) -> None:
    h.run("SET", "k", "v")
    assert h.run("GETEX", "k", "EX", "100") == b"v"
    assert h.run("PTTL", "k") == 100_000
    assert h.run("GETEX", "k", "PERSIST") == b"v"
    assert h.run("TTL", "k") == -1
    assert h.run("GETEX", "k", "EX", "0") == ErrorReply(
        "ERR invalid expire time in 'getex' command"
    )
    assert h.run("GETEX", "nokey", "EX", "abc") is None
    assert h.run("GETEX", "k", "EX", "1", "PX", "1") == SYNTAX
    assert h.run("GETEX", "k", "PXAT", "1") == b"v"
    assert h.run("EXISTS", "k") == 0
    assert h.run("GETSET", "k", "a") is None
    assert h.run("GETSET", "k", "b") == b"a"
    assert h.run("GETDEL", "k") == b"b"
    assert h.run("GETDEL", "k") is None


@pytest.mark.parametrize(
    ("key", "value", "extra", "encoding"),
    [
        ("k", "123", (), "int"),
        ("k", "-9223372036854775808", (), "int"),
        ("k", "9223372036854775808", (), "embstr"),
        ("k", "01", (), "embstr"),
        ("k", "a" * 40, (), "embstr"),
        ("k", "a" * 41, (), "raw"),
        ("k", "a" * 40, ("EX", "100"), "embstr"),
        ("k" * 30, "a" * 11, (), "embstr"),
        ("k" * 30, "a" * 12, (), "raw"),
    ],
)
def test_string_encodings(
    h: Harness, key: str, value: str, extra: tuple[str, ...], encoding: str
) -> None:
    h.run("SET", key, value, *extra)
    assert h.run("OBJECT", "ENCODING", key) == encoding.encode()


def test_overwriting_volatile_key_shrinks_embstr_budget(h: Harness) -> None:
    h.run("SET", "k", "x", "EX", "100")
    h.run("SET", "k", "a" * 32)
    assert h.run("OBJECT", "ENCODING", "k") == b"embstr"
    h.run("SET", "k", "x", "EX", "100")
    h.run("SET", "k", "a" * 33, "KEEPTTL")
    assert h.run("OBJECT", "ENCODING", "k") == b"raw"
    h.run("SET", "j", "a" * 40, "EX", "100")
    h.run("RENAME", "j", "k")
    assert h.run("OBJECT", "ENCODING", "k") == b"embstr"


def test_encodings_of_derived_strings(h: Harness) -> None:
    h.run("APPEND", "a", "12")
    assert h.run("OBJECT", "ENCODING", "a") == b"int"
    h.run("APPEND", "a", "3")
    assert h.run("OBJECT", "ENCODING", "a") == b"raw"
    assert isinstance(h.keyspace[0].data[b"a"], RawStr)
    h.run("INCRBYFLOAT", "f", "3")
    assert h.run("OBJECT", "ENCODING", "f") == b"embstr"
    assert isinstance(h.keyspace[0].data[b"f"], EmbStr)
    h.run("SETRANGE", "r", "0", "1")
    assert h.run("OBJECT", "ENCODING", "r") == b"raw"
    h.run("INCR", "a")
    assert h.run("OBJECT", "ENCODING", "a") == b"int"


def test_replica_hides_expired_without_deleting() -> None:
    h = Harness(now_ms=NOW, mode=ExpireMode.HIDE)
    h.keyspace[0].set(b"k", b"v")
    h.keyspace[0].set_expire(b"k", NOW - 1)
    assert h.run("GET", "k") is None
    assert b"k" in h.keyspace[0].data
    assert h.propagated == []


def test_replica_applies_past_expiry_without_deleting() -> None:
    """checkAlreadyExpired is false on a replica: the primary's DEL will follow."""
    h = Harness(now_ms=NOW, mode=ExpireMode.KEEP)
    assert h.run("SET", "k", "v", "PXAT", "1") == OK
    assert b"k" in h.keyspace[0].data


def test_dirty_counts() -> None:
    ks = Harness().keyspace
    client = ClientState(id=1)

    def dirty(*args: str) -> int:
        ctx = CommandContext(ks, client, NOW)
        execute(ctx, [a.encode() for a in args])
        return ctx.dirty

    assert dirty("SET", "a", "1") == 1
    assert dirty("SET", "a", "1", "NX") == 0
    assert dirty("MSET", "a", "1", "b", "2") == 2
    assert dirty("GET", "a") == 0
    assert dirty("SETRANGE", "a", "0", "") == 0
    assert dirty("INCR", "x") == 1


def test_simple_string_reply_type(h: Harness) -> None:
    assert isinstance(h.run("SET", "a", "1"), SimpleString)


@pytest.mark.parametrize(
    ("key", "value", "encoding"),
    [(b"k", b"x" * 40, b"embstr"), (b"kk", b"x" * 40, b"raw"), (b"k", b"x" * 44, b"raw")],
)
def test_plain_bytes_from_elsewhere_obey_embedding(
    h: Harness, key: bytes, value: bytes, encoding: bytes
) -> None:
    """Strings stored by others (the RDB loader) get the encoding Valkey's load would give."""
    h.keyspace[0].set(key, value)
    assert h.run("OBJECT", "ENCODING", key) == encoding


def test_plain_set_skips_attach_only_where_attach_keeps_the_value_as_given() -> None:
    """SET's hot path stores a key and value of at most STORED_AS_GIVEN bytes together without
    calling attach(): attach returns such a value itself, whatever its content or a TTL."""
    assert STORED_AS_GIVEN < EMBSTR_LIMIT
    for key_len in range(STORED_AS_GIVEN + 1):
        for value_len in range(STORED_AS_GIVEN + 1 - key_len):
            digits = b"9" * value_len
            signed = [b"-" + digits[1:], b"0" + digits[1:]] if value_len else []
            for value in [b"x" * value_len, digits, *signed]:
                for has_expire in (False, True):
                    assert attach(b"k" * key_len, value, has_expire) is value
    # one byte more and a non-integer value may have to turn raw
    assert type(attach(b"k" * 30, b"x" * (STORED_AS_GIVEN - 29), True)) is RawStr
