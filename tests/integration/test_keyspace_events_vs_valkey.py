"""Keyspace notifications, event by event, against a real valkey-server 8.1.8.

Both servers run with the same ``notify-keyspace-events`` (all classes, and narrower sets) and
active expiry off, so that every ``expired`` event comes from a lookup and lands at the same
place in the stream. A subscriber on each side holds ``PSUBSCRIBE __key*__:*``. Hypothesis
draws command sequences over every data type (strings, generic key commands, lists, hashes,
sets, sorted sets, bitmaps, geo), with reads of missing keys and short TTLs; after each command the reply
and the ``pmessage`` frames the subscriber received are compared byte for byte.

A step with a 1 ms TTL is followed by a short sleep on both sides, so the key is past its TTL
on both servers when the next command looks at it. SPOP's reply is compared by length only
(which members it pops is chance); its events are compared as usual.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import RawClient
from tests.pubsub_wire import decode, drain, exchange
from tests.realvalkey import start_valkey, start_valsync

STRINGS = ["s1", "s2"]
LISTS = ["l1", "l2"]
HASHES = ["h1", "h2"]
SETS = ["S1", "S2"]
ZSETS = ["z1", "z2"]
ANY = STRINGS + LISTS + HASHES + SETS + ZSETS + ["missing"]


def k(pool: list[str]) -> st.SearchStrategy[str]:
    """Mostly a key of the right type; sometimes any key (WRONGTYPE, misses)."""
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), st.sampled_from(ANY))


def cmd(*parts: object) -> st.SearchStrategy[list[str]]:
    return st.tuples(
        *(p if isinstance(p, st.SearchStrategy) else st.just(str(p)) for p in parts)
    ).map(list)


VAL = st.sampled_from(["v", "1", "10", "x y", ""])
MEMBER = st.sampled_from(["a", "b", "c", "d"])
SCORE = st.sampled_from(["1", "2", "3", "-1", "1.5"])
TTL_SET = st.sampled_from([[], ["EX", "100"], ["PX", "1"], ["KEEPTTL"], ["NX"], ["XX"], ["GET"]])
EXPIRE_OPT = st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["LT"]])

STRING_COMMANDS = [
    st.tuples(k(STRINGS), VAL, TTL_SET).map(lambda t: ["SET", t[0], t[1], *t[2]]),
    cmd("SETNX", k(STRINGS), VAL),
    cmd("SETEX", k(STRINGS), "100", VAL),
    cmd("PSETEX", k(STRINGS), "1", VAL),
    cmd("GET", k(STRINGS)),
    cmd("GETSET", k(STRINGS), VAL),
    cmd("GETDEL", k(STRINGS)),
    st.tuples(
        k(STRINGS), st.sampled_from([[], ["EX", "100"], ["PERSIST"], ["PX", "1"], ["PXAT", "1"]])
    ).map(lambda t: ["GETEX", t[0], *t[1]]),
    cmd("MSET", k(STRINGS), VAL, k(STRINGS), VAL),
    cmd("MSETNX", k(STRINGS), VAL, k(STRINGS), VAL),
    cmd("INCR", k(STRINGS)),
    cmd("DECRBY", k(STRINGS), "3"),
    cmd("INCRBYFLOAT", k(STRINGS), "1.5"),
    cmd("APPEND", k(STRINGS), VAL),
    cmd("SETRANGE", k(STRINGS), st.sampled_from(["0", "2"]), VAL),
    cmd("STRLEN", k(STRINGS)),
    cmd("GETRANGE", k(STRINGS), "0", "-1"),
    cmd("MGET", k(STRINGS), k(STRINGS)),
]
KEY_COMMANDS = [
    cmd(st.sampled_from(["DEL", "UNLINK"]), k(ANY), k(ANY)),
    cmd("EXISTS", k(ANY)),
    cmd("TYPE", k(ANY)),
    cmd("TOUCH", k(ANY)),
    st.tuples(
        st.sampled_from(["EXPIRE", "PEXPIRE"]),
        k(ANY),
        st.sampled_from(["100", "0", "-5", "200"]),
        EXPIRE_OPT,
    ).map(lambda t: [t[0], t[1], t[2], *t[3]]),
    cmd("PEXPIRE", k(ANY), "1"),
    cmd("EXPIREAT", k(ANY), st.sampled_from(["1", "99999999999"])),
    cmd("PERSIST", k(ANY)),
    cmd("TTL", k(ANY)),
    cmd(st.sampled_from(["RENAME", "RENAMENX"]), k(ANY), k(ANY)),
    cmd("MOVE", k(ANY), "1"),
    st.tuples(k(ANY), k(ANY), st.sampled_from([[], ["REPLACE"], ["DB", "1"]])).map(
        lambda t: ["COPY", t[0], t[1], *t[2]]
    ),
]
LIST_COMMANDS = [
    cmd(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), k(LISTS), VAL, VAL),
    cmd("LPUSH", k(LISTS), VAL),
    cmd(st.sampled_from(["LPOP", "RPOP"]), k(LISTS)),
    cmd(st.sampled_from(["LPOP", "RPOP"]), k(LISTS), st.sampled_from(["1", "2", "10"])),
    cmd("LINSERT", k(LISTS), st.sampled_from(["BEFORE", "AFTER"]), VAL, "new"),
    cmd("LSET", k(LISTS), st.sampled_from(["0", "-1", "5"]), VAL),
    cmd("LTRIM", k(LISTS), st.sampled_from(["0", "1", "5"]), st.sampled_from(["0", "-1", "-5"])),
    cmd("LREM", k(LISTS), st.sampled_from(["0", "1", "-1"]), VAL),
    cmd("LMOVE", k(LISTS), k(LISTS), st.sampled_from(["LEFT", "RIGHT"]), "RIGHT"),
    cmd("RPOPLPUSH", k(LISTS), k(LISTS)),
    cmd("LMPOP", "2", k(LISTS), k(LISTS), "LEFT", "COUNT", st.sampled_from(["1", "3"])),
    cmd(st.sampled_from(["BLPOP", "BRPOP"]), k(LISTS), "0.01"),
    cmd("BLMOVE", k(LISTS), k(LISTS), "LEFT", "LEFT", "0.01"),
    cmd("LRANGE", k(LISTS), "0", "-1"),
    cmd("LLEN", k(LISTS)),
    cmd("LINDEX", k(LISTS), "0"),
]
HASH_COMMANDS = [
    cmd("HSET", k(HASHES), MEMBER, VAL),
    cmd("HSET", k(HASHES), MEMBER, VAL, MEMBER, VAL),
    cmd("HSETNX", k(HASHES), MEMBER, VAL),
    cmd("HMSET", k(HASHES), MEMBER, VAL),
    cmd("HDEL", k(HASHES), MEMBER, MEMBER),
    cmd("HINCRBY", k(HASHES), MEMBER, "2"),
    cmd("HINCRBYFLOAT", k(HASHES), MEMBER, "0.5"),
    cmd("HGET", k(HASHES), MEMBER),
    cmd("HMGET", k(HASHES), MEMBER, MEMBER),
    cmd("HGETALL", k(HASHES)),
    cmd("HLEN", k(HASHES)),
    cmd("HEXISTS", k(HASHES), MEMBER),
]
SET_COMMANDS = [
    cmd("SADD", k(SETS), MEMBER, MEMBER),
    cmd("SREM", k(SETS), MEMBER, MEMBER),
    cmd("SMOVE", k(SETS), k(SETS), MEMBER),
    cmd("SPOP", k(SETS)),
    cmd("SPOP", k(SETS), st.sampled_from(["0", "1", "10"])),
    cmd(st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k(SETS), k(SETS), k(SETS)),
    cmd("SISMEMBER", k(SETS), MEMBER),
    cmd("SCARD", k(SETS)),
]
ZSET_COMMANDS = [
    st.tuples(
        k(ZSETS), st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["CH"], ["INCR"]]), SCORE, MEMBER
    ).map(lambda t: ["ZADD", t[0], *t[1], t[2], t[3]]),
    cmd("ZINCRBY", k(ZSETS), SCORE, MEMBER),
    cmd("ZREM", k(ZSETS), MEMBER, MEMBER),
    cmd("ZREMRANGEBYSCORE", k(ZSETS), "-inf", st.sampled_from(["1", "2", "+inf"])),
    cmd("ZREMRANGEBYRANK", k(ZSETS), "0", st.sampled_from(["0", "-1"])),
    cmd("ZREMRANGEBYLEX", k(ZSETS), "-", st.sampled_from(["[b", "+"])),
    cmd(st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), k(ZSETS)),
    cmd(st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), k(ZSETS), st.sampled_from(["2", "10"])),
    cmd(st.sampled_from(["BZPOPMIN", "BZPOPMAX"]), k(ZSETS), "0.01"),
    cmd("ZMPOP", "2", k(ZSETS), k(ZSETS), "MIN", "COUNT", "2"),
    cmd(
        st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
        k(ZSETS),
        "2",
        k(ZSETS),
        k(ZSETS),
    ),
    cmd("ZRANGESTORE", k(ZSETS), k(ZSETS), "0", st.sampled_from(["0", "-1"])),
    cmd("ZSCORE", k(ZSETS), MEMBER),
    cmd("ZRANGE", k(ZSETS), "0", "-1"),
    cmd("ZCARD", k(ZSETS)),
]
BITMAP_COMMANDS = [
    cmd("SETBIT", k(STRINGS), st.sampled_from(["0", "7", "100"]), st.sampled_from(["0", "1"])),
    cmd("GETBIT", k(STRINGS), "3"),
    cmd("BITCOUNT", k(STRINGS)),
    cmd("BITOP", st.sampled_from(["AND", "OR", "NOT"]), k(STRINGS), k(STRINGS)),
    cmd("BITFIELD", k(STRINGS), "INCRBY", "u8", "0", "1"),
    cmd("BITFIELD_RO", k(STRINGS), "GET", "u8", "0"),
]
GEO_COMMANDS = [
    cmd("GEOADD", k(ZSETS), st.sampled_from(["13.36", "15.08"]), "38.1", MEMBER),
    cmd("GEOPOS", k(ZSETS), MEMBER),
    cmd("GEOSEARCHSTORE", k(ZSETS), k(ZSETS), "FROMLONLAT", "14", "38", "BYRADIUS", "500", "km"),
]
ALL_COMMANDS = STRING_COMMANDS + KEY_COMMANDS + LIST_COMMANDS + HASH_COMMANDS + SET_COMMANDS
ALL_COMMANDS += ZSET_COMMANDS + BITMAP_COMMANDS + GEO_COMMANDS


def _sides(version: str) -> Iterator[list[tuple[RawClient, RawClient]]]:
    servers = [start_valkey(version), start_valsync("--enable-debug-command", "yes")]
    sides = []
    for server in servers:
        client, subscriber = RawClient(server.port), RawClient(server.port)
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        exchange(subscriber, "PSUBSCRIBE", "__key*__:*")
        sides.append((client, subscriber))
    yield sides
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def pair() -> Iterator[list[tuple[RawClient, RawClient]]]:
    yield from _sides("8.1.8")


@pytest.fixture(scope="module")
def pair9() -> Iterator[list[tuple[RawClient, RawClient]]]:
    yield from _sides("9.1.2")


def _short_ttl(command: list[str]) -> bool:
    """A command that may give a key or field a 1 ms TTL."""
    millis = {"PX", "PSETEX", "PEXPIRE", "HPEXPIRE"}
    return "1" in command and any(word in millis for word in command)


def _run(sides: list[tuple[RawClient, RawClient]], classes: str, commands: list[list[str]]) -> None:
    for client, subscriber in sides:
        client.call("CONFIG", "SET", "notify-keyspace-events", classes)
        client.call("FLUSHALL")
        assert drain(subscriber) == []
    for command in commands:
        seen = []
        for client, subscriber in sides:
            reply = client.call(*command)
            if command[0] == "SPOP":
                decoded = decode(reply)
                reply = repr(len(decoded) if isinstance(decoded, list) else decoded).encode()
            seen.append((reply, drain(subscriber)))
        if _short_ttl(command):
            time.sleep(0.01)
        assert seen[1] == seen[0], f"{command}: valsync {seen[1]!r} != valkey {seen[0]!r}"


SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(commands=st.lists(st.one_of(ALL_COMMANDS), min_size=1, max_size=30))
def test_all_classes(pair: list[tuple[RawClient, RawClient]], commands: list[list[str]]) -> None:
    _run(pair, "AKEnm", commands)


@pytest.mark.parametrize("classes", ["KEA", "Kg$", "El", "Kh", "Esz", "KEx", "Kn", "Em"])
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(commands=st.lists(st.one_of(ALL_COMMANDS), min_size=1, max_size=20))
def test_narrower_class_sets(
    pair: list[tuple[RawClient, RawClient]], classes: str, commands: list[list[str]]
) -> None:
    _run(pair, classes, commands)


def test_active_expiry_sends_expired(pair: list[tuple[RawClient, RawClient]]) -> None:
    """Keys reaped by the active expiry cycle (not by a lookup) each send ``expired``."""
    events = []
    for client, subscriber in pair:
        client.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        client.call("FLUSHALL")
        drain(subscriber)
        for i in range(5):
            client.call("SET", f"t{i}", "v", "PX", "30")
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        deadline = time.monotonic() + 10
        while client.call("DBSIZE") != b":0\r\n" and time.monotonic() < deadline:
            time.sleep(0.05)
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        frames = [f for f in drain(subscriber) if b"expired" in f]
        events.append(sorted(frames))
    assert events[1] == events[0]
    assert len(events[0]) == 10


FIELD_TTL = st.sampled_from([["EX", "100"], ["PX", "1"], ["PXAT", "1"], ["KEEPTTL"], []])
FIELD_COMMANDS = [
    *HASH_COMMANDS,
    st.tuples(k(HASHES), FIELD_TTL, MEMBER, VAL).map(
        lambda t: ["HSETEX", t[0], *t[1], "FIELDS", "1", t[2], t[3]]
    ),
    st.tuples(
        k(HASHES), st.sampled_from([["EX", "100"], ["PX", "1"], ["PXAT", "1"], ["PERSIST"]]), MEMBER
    ).map(lambda t: ["HGETEX", t[0], *t[1], "FIELDS", "1", t[2]]),
    cmd("HGETDEL", k(HASHES), "FIELDS", "1", MEMBER),
    cmd(
        st.sampled_from(["HEXPIRE", "HPEXPIRE"]),
        k(HASHES),
        st.sampled_from(["100", "0"]),
        "FIELDS",
        "2",
        MEMBER,
        MEMBER,
    ),
    cmd("HPEXPIRE", k(HASHES), "1", "FIELDS", "1", MEMBER),
    cmd("HPERSIST", k(HASHES), "FIELDS", "1", MEMBER),
    cmd("HTTL", k(HASHES), "FIELDS", "1", MEMBER),
    cmd("MSETEX", "2", k(STRINGS), VAL, k(STRINGS), VAL, st.sampled_from(["EX", "PX"]), "100"),
    cmd("DELIFEQ", k(STRINGS), VAL),
    cmd("SET", k(STRINGS), VAL),
]


@SETTINGS
@given(commands=st.lists(st.one_of(FIELD_COMMANDS), min_size=1, max_size=30))
def test_hash_field_expiry_events_vs_912(
    pair9: list[tuple[RawClient, RawClient]], commands: list[list[str]]
) -> None:
    """Valkey 9's hash field TTL commands (hexpire, hpersist, hexpired...) and MSETEX/DELIFEQ
    against a real 9.1.2; lazily expired fields send nothing there, so they may not here."""
    _run(pair9, "AKEnm", commands)


def test_active_field_expiry_vs_912(pair9: list[tuple[RawClient, RawClient]]) -> None:
    """Fields reaped by the active cycle send ``hexpired`` (class x), then ``del`` (class g)
    for a hash they emptied."""
    events = []
    for client, subscriber in pair9:
        client.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        client.call("FLUSHALL")
        drain(subscriber)
        client.call("HSET", "h1", "a", "1", "b", "2")
        client.call("HSET", "h2", "a", "1")
        client.call("HPEXPIRE", "h1", "30", "FIELDS", "1", "a")
        client.call("HPEXPIRE", "h2", "30", "FIELDS", "1", "a")
        drain(subscriber)
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        deadline = time.monotonic() + 10
        while client.call("EXISTS", "h2") != b":0\r\n" and time.monotonic() < deadline:
            time.sleep(0.05)
        while client.call("HLEN", "h1") != b":1\r\n" and time.monotonic() < deadline:
            time.sleep(0.05)
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        events.append(sorted(drain(subscriber)))
    assert events[1] == events[0]
    assert len(events[0]) == 6
