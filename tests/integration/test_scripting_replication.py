"""Scripts and functions on the replication link, both ways, with real valkey 8.1.8 / 9.1.2.

* The stream a valsync primary propagates for scripts is the one a real 8.1.8 primary
  propagates (effects wrapped in MULTI/EXEC, SELECTs inside, nothing for read-only scripts,
  ``set_repl`` honoured), read with a raw ``SYNC``.
* A real replica of valsync and a valsync replica of a real primary end with equal digests
  after EVAL and FCALL writes; on a replica, writing scripts are refused as Valkey does.
"""

from __future__ import annotations

import pytest

from tests.differential import RawClient, ReplicaStream
from tests.integration.support import connect, digest, wait_synced
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

SCRIPTS: list[tuple[str, ...]] = [
    ("EVAL", "redis.call('set','e1','x'); redis.call('incr','e2')", "0"),
    ("EVAL", "return redis.call('get','e1')", "0"),
    ("EVAL", "redis.call('set', KEYS[1], ARGV[1])", "1", "e3", "v3"),
    ("EVAL", "redis.call('incr','e2'); return redis.pcall('incr','e1')", "0"),
    ("SELECT", "2"),
    ("EVAL", "redis.call('set','e1','x'); redis.call('select', 3); redis.call('incr','e2')", "0"),
    (
        "EVAL",
        "redis.call('set','x1','1'); redis.set_repl(redis.REPL_NONE); "
        "redis.call('set','x2','2'); redis.set_repl(redis.REPL_ALL); redis.call('set','x3','3')",
        "0",
    ),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'x1')", "0"),
    ("EVAL", "redis.call('rpush','l','a','b'); redis.call('lpop','l')", "0"),
    ("EVAL", "redis.call('flushdb')", "0"),
    ("SELECT", "0"),
    ("MULTI",),
    ("EVAL", "redis.call('set','m1','1')", "0"),
    ("SET", "m2", "2"),
    ("EXEC",),
    ("SET", "end", "1"),
]


def _stream_of(server: ServerProcess) -> list[list[bytes]]:
    stream = ReplicaStream(server.port)
    try:
        with RawClient(server.port) as client:
            for cmd in SCRIPTS:
                client.call(*cmd)
        return stream.read_commands(lambda argv: argv[:2] == [b"SET", b"end"])
    finally:
        stream.close()


def test_script_effects_stream_as_valkey(servers: list[ServerProcess]) -> None:
    mine = start_valsync("--repl-diskless-sync", "no")
    servers.append(mine)
    real = start_valkey("8.1.8", "--repl-diskless-sync", "no")
    servers.append(real)
    ours, theirs = _stream_of(mine), _stream_of(real)
    assert ours == theirs
    assert [b"MULTI"] in ours


def _writes(p: object) -> None:
    import valkey

    assert isinstance(p, valkey.Valkey)
    for i in range(20):
        p.eval("redis.call('set', KEYS[1], ARGV[1]); redis.call('incr', 'n')", 1, f"k{i}", i)
    p.eval("redis.call('hset', 'h', 'a', 1, 'b', 2); redis.call('zadd', 'z', 1, 'm')", 0)
    sha = p.script_load("return redis.call('lpush', KEYS[1], ARGV[1])")
    p.evalsha(sha, 1, "list", "x")


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_real_replica_of_valsync_applies_scripts(
    servers: list[ServerProcess], version: str
) -> None:
    primary = start_valsync("--enable-debug-command", "yes")
    servers.append(primary)
    replica = start_valkey(version, "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(replica)
    p, r = connect(primary), connect(replica)
    wait_synced(p, r)
    _writes(p)
    wait_synced(p, r)
    assert digest(r) == digest(p)
    assert int(p.get("n")) == 20


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_valsync_replica_of_real_primary_applies_scripts(
    servers: list[ServerProcess], version: str
) -> None:
    primary = start_valkey(version, "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    replica = start_valsync(
        "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", str(primary.port)
    )
    servers.append(replica)
    p, r = connect(primary), connect(replica)
    wait_synced(p, r)
    _writes(p)
    wait_synced(p, r)
    assert digest(r) == digest(p)
    # on a read-only replica, a script that writes is refused as a real 8.1.8 replica refuses
    # it (9.1.2 words its error differently)
    real_replica = start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(real_replica)
    wait_synced(p, connect(real_replica))
    with RawClient(replica.port) as mine, RawClient(real_replica.port) as theirs:
        for cmd in (
            ("EVAL", "return redis.call('set', 'a', 'b')", "0"),
            ("EVAL", "return redis.call('get', 'n')", "0"),
            ("EVAL", "#!lua\nreturn 1", "0"),
            ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'n')", "0"),
            ("EVAL_RO", "return redis.call('get', 'n')", "0"),
            ("EVAL", "return redis.call('get', 'n')", "0"),
        ):
            assert mine.call(*cmd) == theirs.call(*cmd), cmd


LIB = (
    "#!lua name=lib\n"
    "redis.register_function('setit', function(keys, args) "
    "redis.call('set', keys[1], args[1]); return redis.call('incr', 'calls') end)\n"
    "redis.register_function{function_name='getit', callback=function(keys) "
    "return redis.call('get', keys[1]) end, flags={'no-writes'}}\n"
)
LIB2 = "#!lua name=lib2\nredis.register_function('two', function() return 2 end)\n"

FUNCTION_STREAM: list[tuple[str, ...]] = [
    ("FUNCTION", "LOAD", LIB),
    ("FCALL", "setit", "1", "a", "1"),
    ("FCALL", "getit", "1", "a"),
    ("FCALL_RO", "getit", "1", "a"),
    ("FUNCTION", "LOAD", "REPLACE", LIB),
    ("FUNCTION", "LOAD", "#!lua name=bad\nreturn 1"),
    ("FUNCTION", "LOAD", LIB2),
    ("FUNCTION", "DELETE", "lib2"),
    ("FUNCTION", "DELETE", "nosuch"),
    ("FUNCTION", "FLUSH"),
    ("SET", "end", "1"),
]


def test_function_commands_stream_as_valkey(servers: list[ServerProcess]) -> None:
    streams = []
    for server in (
        start_valsync("--repl-diskless-sync", "no"),
        start_valkey("8.1.8", "--repl-diskless-sync", "no"),
    ):
        servers.append(server)
        stream = ReplicaStream(server.port)
        with RawClient(server.port) as client:
            for cmd in FUNCTION_STREAM:
                client.call(*cmd)
        streams.append(stream.read_commands(lambda argv: argv[:2] == [b"SET", b"end"]))
        stream.close()
    assert streams[0] == streams[1]
    assert [b"FUNCTION", b"LOAD", LIB.encode()] in streams[0]


def _functions(c: object) -> list[bytes]:
    import valkey

    assert isinstance(c, valkey.Valkey)
    listing = c.execute_command("FUNCTION", "LIST", "WITHCODE")
    return sorted(lib["library_code"] if isinstance(lib, dict) else lib[-1] for lib in listing)


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_functions_reach_a_real_replica_of_valsync(
    servers: list[ServerProcess], version: str
) -> None:
    primary = start_valsync("--enable-debug-command", "yes")
    servers.append(primary)
    p = connect(primary)
    p.execute_command("FUNCTION", "LOAD", LIB)  # before the sync: travels in the RDB
    replica = start_valkey(version, "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(replica)
    r = connect(replica)
    wait_synced(p, r)
    assert _functions(r) == [LIB.encode()]
    p.execute_command("FUNCTION", "LOAD", LIB2)  # in the stream
    for i in range(10):
        p.execute_command("FCALL", "setit", 1, f"k{i}", i)
    wait_synced(p, r)
    assert _functions(r) == sorted([LIB.encode(), LIB2.encode()])
    assert digest(r) == digest(p)
    assert r.execute_command("FCALL_RO", "getit", 1, "k3") == b"3"


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_valsync_replica_of_real_primary_holds_functions(
    servers: list[ServerProcess], version: str, tmp_path: object
) -> None:
    primary = start_valkey(version, "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    p = connect(primary)
    p.execute_command("FUNCTION", "LOAD", LIB)
    replica = start_valsync(
        "--enable-debug-command", "yes", "--replicaof", "127.0.0.1", str(primary.port)
    )
    servers.append(replica)
    r = connect(replica)
    wait_synced(p, r)
    assert _functions(r) == [LIB.encode()]
    p.execute_command("FUNCTION", "LOAD", LIB2)
    for i in range(10):
        p.execute_command("FCALL", "setit", 1, f"k{i}", i)
    wait_synced(p, r)
    assert _functions(r) == sorted([LIB.encode(), LIB2.encode()])
    assert digest(r) == digest(p)
    assert r.execute_command("FCALL_RO", "getit", 1, "k3") == b"3"
    p.execute_command("FUNCTION", "DELETE", "lib2")
    p.set("marker", 1)
    wait_synced(p, r)
    assert _functions(r) == [LIB.encode()]


def test_functions_survive_a_restart(servers: list[ServerProcess], tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    first = start_valsync(dir=tmp_path)
    servers.append(first)
    c = connect(first)
    c.execute_command("FUNCTION", "LOAD", LIB)
    c.execute_command("FCALL", "setit", 1, "a", "x")
    c.save()
    first.stop()
    second = start_valsync(dir=tmp_path)
    servers.append(second)
    c = connect(second)
    assert _functions(c) == [LIB.encode()]
    assert c.execute_command("FCALL", "setit", 1, "b", "y") == 2
    # the same RDB loads in a real 8.1.8 with its functions
    c.save()
    second.stop()
    real = start_valkey("8.1.8", dir=tmp_path)
    servers.append(real)
    assert _functions(connect(real)) == [LIB.encode()]
