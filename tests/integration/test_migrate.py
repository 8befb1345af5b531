"""MIGRATE between valsync and real valkey-server 8.1.8, in both directions.

The same MIGRATE sequence runs from a valsync source and from a real 8.1.8 source, each into
its own real 8.1.8 target (with a password and an ACL user, for AUTH/AUTH2): the replies
must be equal byte for byte, the targets must end with equal ``DEBUG DIGEST``s, and each
source must propagate the same ``DEL``s. Then a real source migrates every type into a
valsync target.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.differential import RawClient, ReplicaStream
from tests.integration.support import populate_all_types, wait_until
from tests.realvalkey import ServerProcess, free_port, start_valkey, start_valsync

DATA: list[list[str | int]] = [
    ["SET", "s1", "v1"],
    ["SET", "s2", "v2"],
    ["SET", "ttl", "v", "PX", 100000000],
    ["RPUSH", "l", "a", "b", "c"],
    ["HSET", "h", "f", "v"],
    ["ZADD", "z", 1, "m"],
    ["SADD", "set", 1, 2, 3],
    ["SET", "busy", "source"],
    ["SET", "k1", "1"],
    ["SET", "k2", "2"],
    ["SET", "k3", "3"],
    ["SET", "c", "copy-me"],
    ["SET", "m1", "in-multi"],
]


def _cases(port: int, dead: int) -> list[list[str | int]]:
    h, p = "127.0.0.1", port
    auth = ["AUTH", "pw"]
    return [
        ["MIGRATE", h, p, "s1", 0, 5000],  # NOAUTH from the target
        ["MIGRATE", h, p, "s1", 0, 5000, "AUTH", "wrong"],
        ["MIGRATE", h, p, "s1", 0, 5000, *auth],
        ["MIGRATE", h, p, "ttl", 0, 5000, *auth],
        ["MIGRATE", h, p, "l", 3, 5000, "AUTH2", "u", "pw2"],
        ["MIGRATE", h, p, "busy", 0, 5000, *auth],  # BUSYKEY on the target
        ["MIGRATE", h, p, "busy", 0, 5000, *auth, "REPLACE"],
        ["MIGRATE", h, p, "c", 0, 5000, *auth, "COPY"],
        ["MIGRATE", h, p, "", 0, 5000, *auth, "KEYS", "k1", "nokey", "k2"],
        ["MIGRATE", h, p, "", 0, 5000, *auth, "REPLACE", "KEYS", "h", "z", "set", "k3"],
        ["MIGRATE", h, p, "nokey", 0, 5000, *auth],
        ["MIGRATE", h, p, "", 0, 5000, *auth, "KEYS", "nokey"],
        ["MIGRATE", h, p, "s2", 0, 5000, "KEYS", "s2"],
        ["MIGRATE", h, p, "s2", 0, 5000, "BOGUS"],
        ["MIGRATE", h, p, "s2", 0, 5000, "AUTH"],
        ["MIGRATE", h, p, "s2", 0, 5000, "AUTH2", "u"],
        ["MIGRATE", h, p, "s2", "x", 5000, *auth],
        ["MIGRATE", h, p, "s2", 0, "x", *auth],
        ["MIGRATE", h, dead, "s2", 0, 500],
        ["MIGRATE", h, "notaport", "s2", 0, 500],
        ["MIGRATE", h, p, "s2", 0],
        ["MULTI"],
        ["MIGRATE", h, p, "m1", 0, 5000, *auth],
        ["SET", "after", "1"],
        ["EXEC"],
        ["EXISTS", "s1", "s2", "ttl", "l", "busy", "c", "k1", "k2", "k3", "h", "z", "set", "m1"],
        ["SET", "end", "1"],
    ]


def _target() -> ServerProcess:
    server = start_valkey("8.1.8", "--requirepass", "pw")
    with RawClient(server.port) as c:
        c.call("AUTH", "pw")
        c.call("ACL", "SETUSER", "u", "on", ">pw2", "~*", "+@all")
        c.call("SET", "busy", "target")
    return server


@pytest.fixture
def stack(servers: list[ServerProcess]) -> Iterator[tuple[ServerProcess, ...]]:
    mine = start_valsync("--repl-diskless-sync", "no")
    servers.append(mine)
    real = start_valkey("8.1.8", "--repl-diskless-sync", "no")
    servers.append(real)
    t_mine, t_real = _target(), _target()
    servers += [t_mine, t_real]
    yield mine, real, t_mine, t_real


def test_migrate_from_valsync_matches_valkey(stack: tuple[ServerProcess, ...]) -> None:
    mine, real, t_mine, t_real = stack
    dead = free_port()
    replies: dict[str, list[bytes]] = {}
    streams: dict[str, list[list[bytes]]] = {}
    for name, source, target in (("valsync", mine, t_mine), ("valkey", real, t_real)):
        with RawClient(source.port) as c:
            stream = ReplicaStream(source.port)
            for cmd in DATA:
                c.call(*cmd)
            replies[name] = [c.call(*case) for case in _cases(target.port, dead)]
            streams[name] = [
                argv
                for argv in stream.read_commands(lambda argv: argv[1:2] == [b"end"])
                if argv[0].upper() in (b"DEL", b"UNLINK")
            ]
            stream.close()
    for case, ours, theirs in zip(_cases(0, 0), replies["valsync"], replies["valkey"], strict=True):
        assert ours == theirs, (case, ours, theirs)
    assert streams["valsync"] == streams["valkey"]
    digests = []
    for target in (t_mine, t_real):
        with RawClient(target.port) as c:
            c.call("AUTH", "pw")
            digests.append(c.call("DEBUG", "DIGEST"))
            assert c.call("PTTL", "ttl") != b":-1\r\n"
    assert digests[0] == digests[1]


def test_migrate_from_valkey_into_valsync(servers: list[ServerProcess]) -> None:
    source = start_valkey("8.1.8")
    servers.append(source)
    target = start_valsync("--enable-debug-command", "yes")
    servers.append(target)
    import valkey

    c = valkey.Valkey(port=source.port)
    populate_all_types(c, "m", big=True)
    keys = sorted(k.decode() for k in c.keys("*"))
    expected = {k: c.execute_command("DEBUG", "DIGEST-VALUE", k)[0] for k in keys}
    assert c.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
    assert c.dbsize() == 0
    t = valkey.Valkey(port=target.port)
    for k in keys:
        assert t.execute_command("DEBUG", "DIGEST-VALUE", k)[0] == expected[k], k
    assert t.pttl("m:ttl") > 0


def test_a_write_during_the_migration_is_not_lost(servers: list[ServerProcess]) -> None:
    """Other clients run while valsync waits for the target (Valkey would block them): a key
    written meanwhile, even in place, stays on the source instead of being deleted."""
    import signal
    import threading

    source = start_valsync("--repl-diskless-sync", "no")
    servers.append(source)
    target = start_valkey("8.1.8")
    servers.append(target)
    with RawClient(source.port) as c, RawClient(source.port) as other:
        c.call("RPUSH", "l", "a", "b")
        c.call("SET", "s", "v")
        stream = ReplicaStream(source.port)
        target.proc.send_signal(signal.SIGSTOP)
        try:
            c.send("MIGRATE", "127.0.0.1", target.port, "", 0, 10000, "KEYS", "l", "s")
            wait_until(lambda: b"cmd=migrate" in other.call("CLIENT", "LIST"), 10, "MIGRATE")
            done = threading.Timer(0.5, lambda: target.proc.send_signal(signal.SIGCONT))
            assert other.call("RPUSH", "l", "written-meanwhile") == b":3\r\n"
            done.start()
            assert c.read_reply() == b"+OK\r\n"
        finally:
            target.proc.send_signal(signal.SIGCONT)
        assert other.call("LRANGE", "l", 0, -1) == (
            b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$17\r\nwritten-meanwhile\r\n"
        )
        assert other.call("EXISTS", "s") == b":0\r\n"
        other.call("SET", "end", "1")
        dels = [
            argv
            for argv in stream.read_commands(lambda argv: argv[1:2] == [b"end"])
            if argv[0] == b"DEL"
        ]
        assert dels == [[b"DEL", b"s"]]
        stream.close()
