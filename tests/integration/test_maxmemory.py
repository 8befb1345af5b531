"""maxmemory and eviction, valsync beside a real valkey-server 8.1.8.

The same scripts run on both servers: OOM replies must match byte for byte (RESP2 and RESP3),
and every eviction policy must keep ``used_memory`` near the limit and evict the keys the
policy names on both. Replicas (real and valsync) of an evicting valsync primary must end
with its ``DEBUG DIGEST``; a valsync replica never evicts on its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import valkey

from tests.differential import RawClient, ReplicaStream
from tests.integration.support import connect, digest, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
SLACK = 4096  # maxmemory.tcl's tolerance over the limit


@pytest.fixture(scope="module")
def pair() -> Iterator[dict[str, ServerProcess]]:
    """One valsync and one real 8.1.8, each fresh for the module."""
    with (
        start_valsync("--enable-debug-command", "yes") as mine,
        start_valkey("8.1.8") as real,
    ):
        yield {"valsync": mine, "valkey": real}


def _reset(c: valkey.Valkey) -> None:
    c.config_set("maxmemory", 0)
    c.config_set("maxmemory-policy", "noeviction")
    c.config_set("lazyfree-lazy-eviction", "yes")
    c.execute_command("FLUSHALL", "SYNC")
    c.config_resetstat()


def _used(c: valkey.Valkey) -> int:
    return int(info(c, "memory")["used_memory"])


def _limit_above_now(c: valkey.Valkey, extra: int) -> int:
    limit = _used(c) + extra
    c.config_set("maxmemory", limit)
    return limit


OOM_SCRIPT: list[tuple[str, ...]] = [
    ("GET", "k1"),
    ("SET", "new", "v"),
    ("INCR", "counter"),
    ("APPEND", "k1", "more"),
    ("LPUSH", "list", "a"),
    ("DEL", "k2"),
    ("EXPIRE", "k3", "100"),
    ("MULTI",),
    ("GET", "k1"),
    ("SET", "x", "1"),
    ("EXEC",),
    ("MULTI",),
    ("GET", "k1"),
    ("EXEC",),
    ("EVAL", "#!lua\nreturn redis.call('set', KEYS[1], 'v')", "1", "s1"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "k1"),
    ("EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "s2"),
    ("EVAL", "return redis.call('get', KEYS[1])", "1", "k1"),
    ("OBJECT", "FREQ", "k1"),
    ("MEMORY", "USAGE", "missing"),
]


def _oom_transcript(server: ServerProcess, resp: int) -> list[bytes]:
    c = connect(server)
    _reset(c)
    for i in range(1, 4):
        c.set(f"k{i}", "value")
    c.config_set("maxmemory", 1)  # every byte is over: noeviction must refuse
    out = []
    with RawClient(server.port) as raw:
        if resp == 3:
            raw.call("HELLO", "3")
        for argv in OOM_SCRIPT:
            out.append(raw.call(*argv))
    c.config_set("maxmemory", 0)
    return out


@pytest.mark.parametrize("resp", [2, 3])
def test_oom_replies_match_valkey(pair: dict[str, ServerProcess], resp: int) -> None:
    mine = _oom_transcript(pair["valsync"], resp)
    theirs = _oom_transcript(pair["valkey"], resp)
    assert OOM in theirs  # the script does reach the limit on the reference
    for argv, a, b in zip(OOM_SCRIPT, mine, theirs, strict=True):
        assert a == b, f"{argv}: valsync {a!r} != valkey {b!r}"


def _fill(c: valkey.Valkey, limit: int, volatile_every: int, prefix: str) -> int:
    """Write keys of :data:`VALUE` (every ``volatile_every``-th one with a TTL, 0 = none)
    until used_memory is within :data:`SLACK` of ``limit``; returns how many were written."""
    n = 0
    for n in range(1, 20000):
        if volatile_every and n % volatile_every == 0:
            c.setex(f"{prefix}{n}", 10000 + n, VALUE)
        else:
            c.set(f"{prefix}{n}", VALUE)
        if n % 16 == 0 and _used(c) + SLACK > limit:
            break
    return n


VALUE = "x" * 200
ROOM = 1024 * 1024
"""Room given above the empty server: a real server's own buffers move its used_memory by
tens of KB, so the keys must weigh much more than that."""


POLICIES = [
    "allkeys-random",
    "allkeys-lru",
    "allkeys-lfu",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


@pytest.mark.parametrize("kind", ["valsync", "valkey"])
@pytest.mark.parametrize("policy", POLICIES)
def test_policy_keeps_limit_and_evicts_the_right_keys(
    pair: dict[str, ServerProcess], kind: str, policy: str
) -> None:
    c = connect(pair[kind])
    _reset(c)
    limit = _limit_above_now(c, ROOM)
    c.config_set("maxmemory-policy", policy)
    volatile = policy.startswith("volatile-")
    # odd keys persistent, even keys volatile; then as many new volatile keys again
    numkeys = _fill(c, limit, 2, "key:")
    assert numkeys > 10
    errors = 0
    for j in range(numkeys):
        try:
            c.setex(f"foo:{j}", 10000, VALUE)
        except valkey.exceptions.ResponseError as err:
            assert "used memory" in str(err)
            errors += 1
    stats = info(c, "stats")
    assert _used(c) < limit + SLACK
    assert errors == 0
    assert int(stats["evicted_keys"]) > 0
    if volatile:
        # only keys with a TTL go: every persistent key is still there
        persistent = [f"key:{j}" for j in range(1, numkeys + 1) if j % 2]
        assert c.exists(*persistent) == len(persistent)
    if policy == "volatile-ttl":
        # the nearest expiries go first (approximately: sampled): key:j had TTL 10000 + j
        volatile_keys = range(2, numkeys + 1, 2)
        gone = [j for j in volatile_keys if not c.exists(f"key:{j}")]
        kept = [j for j in volatile_keys if c.exists(f"key:{j}")]
        assert gone and kept
        assert sum(gone) / len(gone) < sum(kept) / len(kept) - numkeys / 8
    c.config_set("maxmemory", 0)


@pytest.mark.parametrize("kind", ["valsync", "valkey"])
def test_noeviction_and_volatile_without_candidates_refuse(
    pair: dict[str, ServerProcess], kind: str
) -> None:
    for policy in ("noeviction", "volatile-lru"):
        c = connect(pair[kind])
        _reset(c)
        limit = _limit_above_now(c, ROOM // 4)
        c.config_set("maxmemory-policy", policy)
        _fill(c, limit, 0, "p:")
        refused = 0
        for j in range(2000):
            try:
                c.set(f"more:{j}", VALUE)
            except valkey.exceptions.ResponseError as err:
                assert str(err) == OOM[1:-2].decode().removeprefix("OOM ")
                refused += 1
        assert refused > 0
        assert c.get("p:1") == VALUE.encode()  # reads still served
        assert int(info(c, "stats")["evicted_keys"]) == 0
        c.config_set("maxmemory", 0)


@pytest.mark.parametrize("kind", ["valsync", "valkey"])
def test_lru_keeps_recently_used_and_lfu_keeps_frequent(
    pair: dict[str, ServerProcess], kind: str
) -> None:
    for policy in ("allkeys-lru", "allkeys-lfu"):
        c = connect(pair[kind])
        _reset(c)
        c.config_set("maxmemory-policy", policy)
        c.config_set("maxmemory-samples", 10)
        if policy == "allkeys-lru":
            # RESTORE IDLETIME makes the first half look a minute idle: LRU must take those
            c.set("tmpl", "v" * 500)
            payload = c.dump("tmpl")
            c.delete("tmpl")
            for j in range(400):
                c.restore(f"k{j}", 0, payload, idletime=60 if j < 200 else 0)
        else:
            for j in range(400):
                c.set(f"k{j}", "v" * 500)
            for _ in range(10):
                for j in range(200, 400):
                    c.get(f"k{j}")
        used = _used(c)
        c.config_set("maxmemory", used - 50 * 1024)  # a hundred keys or so must go
        c.ping()  # eviction runs before a command
        survivors = [j for j in range(400) if c.exists(f"k{j}")]
        kept_hot = sum(1 for j in survivors if j >= 200)
        evicted = 400 - len(survivors)
        assert evicted > 10
        # the favoured half loses far fewer keys than the other half
        assert 200 - kept_hot < evicted / 4, (policy, evicted, kept_hot)
        c.config_set("maxmemory", 0)


def test_object_idletime_freq_and_no_touch_match_valkey(pair: dict[str, ServerProcess]) -> None:
    results: dict[str, list[Any]] = {}
    for kind, server in pair.items():
        c = connect(server)
        _reset(c)
        c.set("tmpl", "v")
        payload = c.dump("tmpl")
        c.restore("idle", 0, payload, idletime=1000)
        out: list[Any] = [c.object("idletime", "idle")]
        c.execute_command("CLIENT", "NO-TOUCH", "ON")
        c.get("idle")
        out.append(c.object("idletime", "idle") >= 1000)
        c.touch("idle")  # TOUCH touches even in no-touch mode
        out.append(c.object("idletime", "idle") <= 1)
        c.execute_command("CLIENT", "NO-TOUCH", "OFF")
        c.config_set("maxmemory-policy", "allkeys-lfu")
        c.restore("freq", 0, payload, frequency=100)
        out.append(c.object("freq", "freq"))
        c.set("new", "v")
        out.append(c.object("freq", "new"))
        for _ in range(200):
            c.get("new")
        out.append(c.object("freq", "new") > 5)
        for cmd in (("OBJECT", "IDLETIME", "new"), ("OBJECT", "FREQ", "nokey")):
            try:
                out.append(c.execute_command(*cmd))
            except valkey.exceptions.ResponseError as err:
                out.append(str(err))
        with RawClient(server.port) as raw:
            line = raw.call("DEBUG", "OBJECT", "freq").decode()
        fields = dict(kv.split(":", 1) for kv in line.strip().split()[1:])
        out.append(sorted(fields))
        out.append(int(fields["lfu_freq"]))
        _reset(c)
        try:
            c.object("freq", "new")
        except valkey.exceptions.ResponseError as err:
            out.append(str(err))
        results[kind] = out
    assert results["valsync"] == results["valkey"]
    assert results["valsync"][0] == 1000


def _evictions_streamed(server: ServerProcess, lazy: str) -> list[list[bytes]]:
    c = connect(server)
    _reset(c)
    c.config_set("lazyfree-lazy-eviction", lazy)
    c.config_set("notify-keyspace-events", "Ee")
    link = ReplicaStream(server.port)
    sub = connect(server).pubsub()
    sub.subscribe("__keyevent@0__:evicted")
    try:
        for j in range(3):
            c.set(f"asdf{j}", j)
        c.config_set("maxmemory-policy", "allkeys-lru")
        c.config_set("maxmemory", 1)
        wait_until(lambda: c.dbsize() == 0, what="every key evicted")
        c.config_set("maxmemory", 0)
        c.set("end", "1")
        got = link.read_commands(lambda a: a[:2] == [b"set", b"end"] or a[:2] == [b"SET", b"end"])
        events: set[bytes] = set()
        deadline = time.monotonic() + 5
        while len(events) < 3 and time.monotonic() < deadline:
            msg = sub.get_message(timeout=0.5)
            if msg and msg["type"] == "message":
                events.add(msg["data"])
        assert events == {b"asdf0", b"asdf1", b"asdf2"}
    finally:
        link.close()
        sub.close()
        c.config_set("notify-keyspace-events", "")
    return sorted([a[0].upper(), *a[1:]] for a in got if a[0].upper() not in (b"SELECT",))


@pytest.mark.parametrize("lazy", ["yes", "no"])
def test_evictions_propagate_like_valkey(lazy: str) -> None:
    with (
        start_valsync("--repl-diskless-sync", "no") as mine,
        start_valkey("8.1.8", "--repl-diskless-sync", "no") as real,
    ):
        ours = _evictions_streamed(mine, lazy)
        theirs = _evictions_streamed(real, lazy)
    assert ours == theirs
    assert [a for a in ours if a[0] in (b"DEL", b"UNLINK")] == [
        [b"UNLINK" if lazy == "yes" else b"DEL", b"asdf%d" % j] for j in range(3)
    ]


def test_replicas_match_an_evicting_primary(servers: list[ServerProcess]) -> None:
    primary = start_valsync("--enable-debug-command", "yes")
    servers.append(primary)
    real_replica = start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(real_replica)
    my_replica = start_valsync(
        "--replicaof", "127.0.0.1", str(primary.port), "--enable-debug-command", "yes"
    )
    servers.append(my_replica)
    p, r1, r2 = connect(primary), connect(real_replica), connect(my_replica)
    wait_synced(p, r1)
    wait_synced(p, r2)
    r2.config_set("maxmemory", 1)  # ignored on a replica (replica-ignore-maxmemory yes)
    r2.config_set("maxmemory-policy", "allkeys-random")
    # fill the backlog first: it counts in used_memory up to repl-backlog-size, as in Valkey
    p.config_set("repl-backlog-size", 1024 * 1024)
    p.set("filler", "f" * (2 * 1024 * 1024))
    p.delete("filler")
    wait_synced(p, r1)
    wait_synced(p, r2)
    limit = _limit_above_now(p, 200 * 1024)
    p.config_set("maxmemory-policy", "allkeys-lru")
    pipe = p.pipeline(transaction=False)
    for j in range(6000):
        pipe.set(f"k{j}", "v" * 40)
        if j % 3 == 0:
            pipe.expire(f"k{j}", 10000)
        if j % 500 == 0:
            pipe.execute()
    pipe.execute()
    assert int(info(p, "stats")["evicted_keys"]) > 1000
    wait_synced(p, r1)
    wait_synced(p, r2)
    assert digest(p) == digest(r1) == digest(r2)
    assert p.dbsize() == r1.dbsize() == r2.dbsize()
    assert int(info(r2, "stats")["evicted_keys"]) == 0
    assert _used(p) < limit + SLACK + int(info(p, "memory")["mem_not_counted_for_evict"])


def test_rss_stays_bounded_while_evicting(servers: list[ServerProcess]) -> None:
    server = start_valsync()
    servers.append(server)
    c = connect(server)
    c.config_set("maxmemory", 4 * 1024 * 1024)
    c.config_set("maxmemory-policy", "allkeys-random")
    value = "v" * 1000
    pipe = c.pipeline(transaction=False)
    for j in range(4000):
        pipe.set(f"warm{j}", value)
    pipe.execute()
    rss_before = int(info(c, "memory")["used_memory_rss"])
    for batch in range(20):  # 80 MB written in all, 20 times the limit
        for j in range(4000):
            pipe.set(f"k{batch}:{j}", value)
        pipe.execute()
    mem = info(c, "memory")
    assert int(mem["used_memory"]) < 4 * 1024 * 1024 + SLACK
    assert int(info(c, "stats")["evicted_keys"]) > 60000
    # the heap holds about the limit's worth of keys, not the 80 MB written
    assert int(mem["used_memory_rss"]) - rss_before < 24 * 1024 * 1024
    assert mem["maxmemory_human"] == "4.00M"
    assert mem["maxmemory_policy"] == "allkeys-random"


def test_info_memory_fields_match_valkey(pair: dict[str, ServerProcess]) -> None:
    fields = {}
    for kind, server in pair.items():
        c = connect(server)
        _reset(c)
        raw = c.execute_command("INFO", "memory")
        fields[kind] = list(raw) if isinstance(raw, dict) else []
    assert fields["valsync"] == fields["valkey"]


def test_oom_inside_multi_matches_valkey(pair: dict[str, ServerProcess]) -> None:
    """Queued denyoom commands flag the transaction; EXEC then aborts, as on 8.1.8."""
    outs: dict[str, list[bytes]] = {}
    for kind, server in pair.items():
        c = connect(server)
        _reset(c)
        c.set("a", "1")
        with RawClient(server.port) as raw:
            out = [raw.call("MULTI"), raw.call("INCR", "a")]
            c.config_set("maxmemory", 1)
            out += [raw.call("INCR", "a"), raw.call("GET", "a"), raw.call("EXEC")]
            out.append(raw.call("GET", "a"))
            c.config_set("maxmemory", 0)
            out += [raw.call("MULTI"), raw.call("INCR", "a")]
            c.config_set("maxmemory", 1)
            out.append(raw.call("EXEC"))
            c.config_set("maxmemory", 0)
        outs[kind] = out
    assert outs["valsync"] == outs["valkey"]


@pytest.mark.parametrize("kind", ["valsync", "valkey"])
def test_unread_replies_count_and_cause_eviction(pair: dict[str, ServerProcess], kind: str) -> None:
    """Subscribers that do not read hold their messages in the server: used_memory grows by
    them (mem_clients_normal) and keys are evicted to make room, as in maxmemory.tcl."""
    c = connect(pair[kind])
    _reset(c)
    for j in range(20):
        c.setrange(f"big{j}", 100_000, "x")
    c.config_set("maxmemory", _used(c) + 2 * 1024 * 1024)
    c.config_set("maxmemory-policy", "allkeys-lru")
    subscribers = [RawClient(pair[kind].port) for _ in range(10)]
    try:
        for sub in subscribers:
            sub.send("SUBSCRIBE", "chan")
        message = "m" * 100_000
        grew = False
        for _ in range(400):
            c.publish("chan", message)
            mem = info(c, "memory")
            grew = grew or int(mem["mem_clients_normal"]) > 100_000
            # both seen (a loaded machine can evict before the first INFO shows the buffers)
            if grew and int(info(c, "stats")["evicted_keys"]) > 0:
                break
        assert grew
        assert int(info(c, "stats")["evicted_keys"]) > 0
        assert c.dbsize() < 20
    finally:
        for sub in subscribers:
            sub.close()
        c.config_set("maxmemory", 0)


def test_populated_keys_age_like_valkeys(pair: dict[str, ServerProcess]) -> None:
    """DEBUG POPULATE's keys carry the time they were made (Valkey stamps each object): their
    idle time grows from it, and eviction by LRU sees them as that old."""
    idle: dict[str, list[int]] = {}
    for kind, server in pair.items():
        c = connect(server)
        _reset(c)
        c.execute_command("DEBUG", "POPULATE", 50)
        idle[kind] = []
    time.sleep(2.2)
    for kind, server in pair.items():
        c = connect(server)
        c.set("fresh", "v")
        idle[kind] = [c.object("idletime", "key:7"), c.object("idletime", "fresh")]
    for kind in pair:
        assert 1 <= idle[kind][0] <= 3, idle
        assert idle[kind][1] == 0
    assert abs(idle["valsync"][0] - idle["valkey"][0]) <= 1, idle
