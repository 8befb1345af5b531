"""The replica's applier stores a run of plain SETs at once (``Server.apply_sets_from_primary``):
the same keyspace, access stamps, TTLs, value encodings, stats, offsets and proxied bytes as
the command-by-command path, whatever the stream holds and however it is cut into reads."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from valsync.app import build_server
from valsync.config import Config
from valsync.log import ServerLog
from valsync.replication.stream import ReplicationStreamReader
from valsync.resp.reply import encode_command
from valsync.server import Server

KEYS = [b"k%d" % i for i in range(6)] + [b"long-key-" + b"x" * 30]
VALUES = [b"v", b"123", b"-7", b"0", b"", b"y" * 30, b"z" * 60, b"12345678901234567890123"]
PLAIN_SET = st.tuples(
    st.sampled_from([b"SET", b"set"]), st.sampled_from(KEYS), st.sampled_from(VALUES)
)
COMMAND = st.one_of(
    PLAIN_SET,
    PLAIN_SET,
    PLAIN_SET,
    PLAIN_SET,
    PLAIN_SET,
    PLAIN_SET,
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.sampled_from(VALUES), st.just(b"KEEPTTL")),
    st.tuples(st.just(b"PEXPIREAT"), st.sampled_from(KEYS), st.just(b"99999999999999")),
    st.tuples(st.just(b"Set"), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.tuples(st.just(b"DEL"), st.sampled_from(KEYS)),
    st.tuples(st.just(b"SELECT"), st.sampled_from([b"0", b"1"])),
    st.just((b"MULTI",)),
    st.tuples(st.just(b"INCR"), st.just(b"counter")),
)


def make_server(tmp: Path, *extra: str) -> tuple[Server, Any]:
    config = Config.from_args(["--port", "0", "--dir", str(tmp), "--save", "", *extra])
    server = build_server(config, ServerLog(level="nothing"))
    service: Any = server.repl
    driver = service.primary
    driver.host, driver.port = "127.0.0.1", 1
    service.create_backlog(0)
    return server, driver


def apply_stream(server: Server, driver: Any, data: bytes, cuts: list[int]) -> int:
    client = server.new_client(addr="127.0.0.1:1")
    client.is_primary_link = True
    client.authenticated = True

    async def run() -> int:
        reader = ReplicationStreamReader(0)
        raw = driver._unproxied = bytearray()
        driver._applied_unproxied = 0
        last = 0
        for cut in [*sorted(cuts), len(data)]:
            chunk = data[last:cut]
            last = cut
            raw += chunk
            reader.receive_data(chunk)
            await driver._apply(reader, raw, client)
        return int(reader.applied_offset)

    return trio.run(run)


def state(server: Server) -> dict[str, object]:
    dbs = server.keyspace.dbs[:2]
    repl: Any = server.repl
    stat = server.cmdstats.commands.get("set")
    return {
        "data": [{k: (type(v).__name__, v) for k, v in db.data.items()} for db in dbs],
        "expires": [dict(db.expires) for db in dbs],
        "stamps": [dict(db.stamps) for db in dbs],
        "dirty_keys": [set(db.dirty) if db.dirty is not None else None for db in dbs],
        "dirty": server.dirty,
        "processed": server.stats.total_commands_processed,
        "set_calls": stat.calls if stat is not None else 0,
        "backlog": repl.backlog.read_from(repl.backlog.first_byte_offset),
    }


def run_both(tmp: Path, data: bytes, cuts: list[int], *extra: str) -> None:
    results = []
    for bulk in (True, False):
        server, driver = make_server(tmp, *extra)
        server.keyspace.dbs[0].clock.stamp = 77
        server.keyspace.dbs[0].clock.lru_clock = 77
        server.keyspace.dbs[0].clock.rng = random.Random(7)  # LFU's counter draws alike
        if not bulk:
            server.apply_sets_from_primary = lambda *_args: False  # type: ignore[method-assign]
        offset = apply_stream(server, driver, data, cuts)
        results.append({"offset": offset, **state(server)})
    assert results[0] == results[1]


def wire(commands: list[tuple[bytes, ...]]) -> bytes:
    return b"".join(encode_command(list(c)) for c in commands)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(COMMAND, min_size=1, max_size=40),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=4),
)
def test_runs_of_sets_apply_as_one_by_one(
    tmp_path_factory: pytest.TempPathFactory, commands: list[tuple[bytes, ...]], cuts: list[int]
) -> None:
    # a MULTI holds the applied offset until its EXEC: the last one may stay open
    closed: list[tuple[bytes, ...]] = []
    for command in commands:
        closed.append(command)
        if command == (b"MULTI",):
            closed += [(b"SET", b"t", b"1"), (b"SET", b"t", b"2")]
            if len(closed) % 3:
                closed.append((b"EXEC",))
    data = wire(closed)
    run_both(tmp_path_factory.mktemp("s"), data, [c for c in cuts if c <= len(data)])


def test_long_run_with_ttls_and_big_values(tmp_path: Path) -> None:
    rng = random.Random(5)
    commands: list[tuple[bytes, ...]] = []
    for i in range(3000):
        key = b"key:%d" % rng.randrange(500)
        if i % 97 == 0:
            commands.append((b"PEXPIREAT", key, b"99999999999999"))
        else:
            commands.append((b"SET", key, rng.choice(VALUES)))
    data = wire(commands)
    run_both(tmp_path, data, [len(data) // 3, len(data) // 2])


def test_lfu_and_keyspace_events_take_the_full_path(tmp_path: Path) -> None:
    data = wire([(b"SET", b"a", b"1"), (b"SET", b"b", b"2"), (b"SET", b"a", b"3")] * 5)
    run_both(tmp_path, data, [], "--maxmemory-policy", "allkeys-lfu")
    run_both(tmp_path, data, [], "--notify-keyspace-events", "KEA")
