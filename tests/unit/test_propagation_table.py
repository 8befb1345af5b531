"""What each string/key write propagates to replicas, as Valkey 8.1.8 rewrites it.

The table is checked twice: against valsync's Harness, and against a real valkey-server
8.1.8 read as a replica (``SYNC``), so the expectations are observed facts, not guesses.
``@+N`` stands for "the command's clock plus N ms"; ``SLEEP`` lets PX 10 keys expire.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.differential import RawClient, ReplicaStream
from tests.realvalkey import ServerProcess, start_valkey
from tests.unit.cmdutil import Harness

Cmd = tuple[str, ...]
Case = tuple[str, list[Cmd], Cmd, list[tuple[int, Cmd]]]
SLEEP: Cmd = ("SLEEP",)
GONE: list[Cmd] = [("SET", "k", "old", "PX", "10"), SLEEP]
FAR = "99999999999"  # seconds; year 5138
FAR_MS = "99999999999000"

CASES: list[Case] = [
    ("set", [], ("set", "k", "v"), [(0, ("set", "k", "v"))]),
    ("set-ex", [], ("SET", "k", "v", "EX", "100"), [(0, ("SET", "k", "v", "PXAT", "@+100000"))]),
    ("set-px", [], ("set", "k", "v", "px", "5000"), [(0, ("SET", "k", "v", "PXAT", "@+5000"))]),
    ("set-exat", [], ("SET", "k", "v", "EXAT", FAR), [(0, ("SET", "k", "v", "PXAT", FAR_MS))]),
    (
        "set-pxat-get",
        [],
        ("SET", "k", "v", "PXAT", FAR_MS, "GET"),
        [(0, ("SET", "k", "v", "PXAT", FAR_MS, "GET"))],
    ),
    ("set-get", [("SET", "k", "a")], ("set", "k", "v", "get"), [(0, ("set", "k", "v"))]),
    (
        "set-xx-get",
        [("SET", "k", "a")],
        ("SET", "k", "v", "XX", "GET"),
        [(0, ("SET", "k", "v", "XX"))],
    ),
    ("set-nx-fails", [("SET", "k", "a")], ("SET", "k", "v", "NX"), []),
    ("set-keepttl", [], ("SET", "k", "v", "KEEPTTL"), [(0, ("SET", "k", "v", "KEEPTTL"))]),
    ("set-exat-past-missing", [], ("SET", "k", "v", "EXAT", "1"), []),
    (
        "set-exat-past-existing",
        [("SET", "k", "a")],
        ("SET", "k", "v", "EXAT", "1"),
        [(0, ("UNLINK", "k"))],
    ),
    (
        "set-ifeq",
        [("SET", "k", "a")],
        ("SET", "k", "v", "IFEQ", "a"),
        [(0, ("SET", "k", "v", "IFEQ", "a"))],
    ),
    ("set-ifeq-fails", [("SET", "k", "a")], ("SET", "k", "v", "IFEQ", "b"), []),
    (
        "set-on-expired",
        GONE,
        ("SET", "k", "v", "NX"),
        [(0, ("UNLINK", "k")), (0, ("SET", "k", "v", "NX"))],
    ),
    ("setnx", [], ("setnx", "k", "v"), [(0, ("setnx", "k", "v"))]),
    ("setnx-fails", [("SET", "k", "a")], ("setnx", "k", "v"), []),
    ("setex", [], ("SETEX", "k", "10", "v"), [(0, ("SET", "k", "v", "PXAT", "@+10000"))]),
    ("psetex", [], ("PSETEX", "k", "1500", "v"), [(0, ("SET", "k", "v", "PXAT", "@+1500"))]),
    ("getset", [], ("GETSET", "k", "v"), [(0, ("SET", "k", "v"))]),
    ("getdel", [("SET", "k", "a")], ("getdel", "k"), [(0, ("DEL", "k"))]),
    ("getdel-missing", [], ("GETDEL", "k"), []),
    (
        "getex-ex",
        [("SET", "k", "a")],
        ("GETEX", "k", "EX", "100"),
        [(0, ("PEXPIREAT", "k", "@+100000"))],
    ),
    (
        "getex-pxat",
        [("SET", "k", "a")],
        ("GETEX", "k", "PXAT", FAR_MS),
        [(0, ("PEXPIREAT", "k", FAR_MS))],
    ),
    ("getex-past", [("SET", "k", "a")], ("GETEX", "k", "EXAT", "1"), [(0, ("UNLINK", "k"))]),
    (
        "getex-persist",
        [("SET", "k", "a", "EX", "100")],
        ("GETEX", "k", "PERSIST"),
        [(0, ("PERSIST", "k"))],
    ),
    ("getex-persist-noop", [("SET", "k", "a")], ("GETEX", "k", "PERSIST"), []),
    ("getex-plain", [("SET", "k", "a")], ("GETEX", "k"), []),
    ("get-expired", GONE, ("GET", "k"), [(0, ("UNLINK", "k"))]),
    ("mset", [], ("mset", "a", "1", "b", "2"), [(0, ("mset", "a", "1", "b", "2"))]),
    ("msetnx-fails", [("SET", "a", "1")], ("msetnx", "a", "1", "b", "2"), []),
    ("incr", [], ("incr", "n"), [(0, ("incr", "n"))]),
    ("incrby", [], ("incrby", "n", "5"), [(0, ("incrby", "n", "5"))]),
    ("incr-error", [("SET", "n", "x")], ("incr", "n"), []),
    (
        "incrbyfloat",
        [("SET", "f", "1")],
        ("INCRBYFLOAT", "f", "0.1"),
        [(0, ("SET", "f", "1.1", "KEEPTTL"))],
    ),
    ("append", [], ("append", "s", "x"), [(0, ("append", "s", "x"))]),
    ("setrange", [], ("setrange", "s", "2", "x"), [(0, ("setrange", "s", "2", "x"))]),
    ("setrange-empty", [("SET", "s", "a")], ("setrange", "s", "2", ""), []),
    ("del", [("SET", "a", "1")], ("del", "a", "b"), [(0, ("del", "a", "b"))]),
    ("del-none", [], ("del", "a", "b"), []),
    ("del-expired", GONE, ("DEL", "k"), [(0, ("UNLINK", "k"))]),
    ("unlink", [("SET", "a", "1")], ("unlink", "a"), [(0, ("unlink", "a"))]),
    ("expire", [("SET", "k", "a")], ("expire", "k", "50"), [(0, ("PEXPIREAT", "k", "@+50000"))]),
    ("pexpire", [("SET", "k", "a")], ("pexpire", "k", "50"), [(0, ("PEXPIREAT", "k", "@+50"))]),
    ("expireat", [("SET", "k", "a")], ("expireat", "k", FAR), [(0, ("PEXPIREAT", "k", FAR_MS))]),
    (
        "pexpireat-nx",
        [("SET", "k", "a")],
        ("pexpireat", "k", FAR_MS, "nx"),
        [(0, ("pexpireat", "k", FAR_MS, "nx"))],
    ),
    ("expire-gt-fails", [("SET", "k", "a")], ("EXPIRE", "k", "50", "GT"), []),
    ("expire-negative", [("SET", "k", "a")], ("EXPIRE", "k", "-1"), [(0, ("UNLINK", "k"))]),
    ("expire-zero", [("SET", "k", "a")], ("EXPIRE", "k", "0"), [(0, ("UNLINK", "k"))]),
    ("pexpireat-past", [("SET", "k", "a")], ("PEXPIREAT", "k", "1"), [(0, ("UNLINK", "k"))]),
    ("expire-missing", [], ("EXPIRE", "k", "10"), []),
    ("persist", [("SET", "k", "a", "EX", "100")], ("persist", "k"), [(0, ("persist", "k"))]),
    ("persist-noop", [("SET", "k", "a")], ("persist", "k"), []),
    ("rename", [("SET", "a", "1")], ("rename", "a", "b"), [(0, ("rename", "a", "b"))]),
    ("rename-same", [("SET", "a", "1")], ("rename", "a", "a"), []),
    ("renamenx-fails", [("SET", "a", "1"), ("SET", "b", "1")], ("renamenx", "a", "b"), []),
    ("move", [("SET", "a", "1")], ("move", "a", "1"), [(0, ("move", "a", "1"))]),
    (
        "move-dst-expired",
        [("SET", "a", "1"), ("SELECT", "1"), ("SET", "a", "x", "PX", "10"), ("SELECT", "0"), SLEEP],
        ("move", "a", "1"),
        [(1, ("UNLINK", "a")), (0, ("move", "a", "1"))],
    ),
    (
        "copy",
        [("SET", "a", "1")],
        ("copy", "a", "b", "db", "2"),
        [(0, ("copy", "a", "b", "db", "2"))],
    ),
    ("copy-fails", [("SET", "a", "1"), ("SET", "b", "1")], ("copy", "a", "b"), []),
    ("touch-expired", GONE, ("TOUCH", "k"), [(0, ("UNLINK", "k"))]),
    ("ttl-expired", GONE, ("TTL", "k"), [(0, ("UNLINK", "k"))]),
    ("exists-expired", GONE, ("EXISTS", "k"), [(0, ("UNLINK", "k"))]),
    ("mset-on-expired", GONE, ("mset", "k", "v"), [(0, ("UNLINK", "k")), (0, ("mset", "k", "v"))]),
    (
        "getset-on-expired",
        GONE,
        ("GETSET", "k", "v"),
        [(0, ("UNLINK", "k")), (0, ("SET", "k", "v"))],
    ),
    (
        "incr-on-expired",
        [("SET", "k", "1", "PX", "10"), SLEEP],
        ("incr", "k"),
        [(0, ("UNLINK", "k")), (0, ("incr", "k"))],
    ),
    ("expire-on-expired", GONE, ("EXPIRE", "k", "100"), [(0, ("UNLINK", "k"))]),
    ("persist-on-expired", GONE, ("PERSIST", "k"), [(0, ("UNLINK", "k"))]),
    (
        "rename-dst-expired",
        [("SET", "a", "1"), *GONE],
        ("rename", "a", "k"),
        [(0, ("UNLINK", "k")), (0, ("rename", "a", "k"))],
    ),
    (
        "copy-dst-expired",
        [("SET", "a", "1"), *GONE],
        ("copy", "a", "k"),
        [(0, ("UNLINK", "k")), (0, ("copy", "a", "k"))],
    ),
    ("keys-expired", GONE, ("KEYS", "*"), []),
    ("scan-expired", GONE, ("SCAN", "0"), [(0, ("UNLINK", "k"))]),
    ("randomkey-expired", GONE, ("RANDOMKEY",), [(0, ("UNLINK", "k"))]),
    ("object-expired", GONE, ("OBJECT", "ENCODING", "k"), [(0, ("UNLINK", "k"))]),
    ("type-expired", GONE, ("TYPE", "k"), [(0, ("UNLINK", "k"))]),
    ("mget-expired", GONE, ("MGET", "k"), [(0, ("UNLINK", "k"))]),
    ("strlen-expired", GONE, ("STRLEN", "k"), [(0, ("UNLINK", "k"))]),
    ("getrange-expired", GONE, ("GETRANGE", "k", "0", "1"), [(0, ("UNLINK", "k"))]),
    (
        "setrange-on-expired",
        GONE,
        ("setrange", "k", "0", "x"),
        [(0, ("UNLINK", "k")), (0, ("setrange", "k", "0", "x"))],
    ),
    (
        "append-on-expired",
        GONE,
        ("append", "k", "x"),
        [(0, ("UNLINK", "k")), (0, ("append", "k", "x"))],
    ),
    (
        "msetnx-on-expired",
        GONE,
        ("msetnx", "k", "x"),
        [(0, ("UNLINK", "k")), (0, ("msetnx", "k", "x"))],
    ),
    (
        "setex-on-expired",
        GONE,
        ("SETEX", "k", "10", "v"),
        [(0, ("UNLINK", "k")), (0, ("SET", "k", "v", "PXAT", "@+10000"))],
    ),
]

IDS = [c[0] for c in CASES]
TOLERANCE_MS = 3000
MARKER_DB = "9"  # markers live apart so RANDOMKEY and KEYS in db 0 never see them


def _argv(cmd: Cmd) -> list[bytes]:
    return [a.encode() for a in cmd]


def _matches(
    expected: list[tuple[int, Cmd]], got: list[tuple[int, list[bytes]]], now: int, tol: int
) -> bool:
    if len(expected) != len(got):
        return False
    for (edb, ecmd), (gdb, gargv) in zip(expected, got, strict=True):
        if edb != gdb or len(ecmd) != len(gargv):
            return False
        for e, g in zip(ecmd, gargv, strict=True):
            if e.startswith("@+"):
                if not g.isdigit() or abs(int(g) - (now + int(e[2:]))) > tol:
                    return False
            elif e.encode() != g:
                return False
    return True


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_harness_propagation(case: Case) -> None:
    _, setup, cmd, expected = case
    h = Harness()
    for step in setup:
        if step == SLEEP:
            h.now_ms += 50
        elif step[0] == "SELECT":
            h.client.db = int(step[1])
        else:
            h.run(*step)
    h.propagated.clear()
    h.run(*cmd)
    assert _matches(expected, h.propagated, h.now_ms, 0), h.propagated


@pytest.fixture(scope="module")
def primary() -> Iterator[tuple[ServerProcess, RawClient, ReplicaStream]]:
    server = start_valkey("8.1.8", "--repl-diskless-sync", "no")
    try:
        client = RawClient(server.port)
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        stream = ReplicaStream(server.port)
        yield server, client, stream
        stream.close()
        client.close()
    finally:
        server.stop()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_real_valkey_propagation(
    case: Case, primary: tuple[ServerProcess, RawClient, ReplicaStream]
) -> None:
    _, setup, cmd, expected = case
    _, client, stream = primary
    client.call("SELECT", "0")
    client.call("FLUSHALL")
    for step in setup:
        if step == SLEEP:
            time.sleep(0.05)
        else:
            client.call(*step)
    client.call("SELECT", MARKER_DB)
    client.call("SET", "__begin", "1")
    client.call("SELECT", "0")
    now = int(time.time() * 1000)
    client.call(*cmd)
    client.call("SELECT", MARKER_DB)
    client.call("SET", "__end", "1")
    entries = stream.read_commands(lambda a: a[:2] == [b"SET", b"__end"])
    got: list[tuple[int, list[bytes]]] = []
    dbid = int(MARKER_DB)
    started = False
    for argv in entries:
        if argv[0].upper() == b"SELECT":
            dbid = int(argv[1])
        elif argv[:2] == [b"SET", b"__begin"]:
            started = True
        elif argv[0].upper() in (b"MULTI", b"EXEC"):
            continue  # the wrapping of a write's several entries is the stream writer's job
        elif started and argv[:2] != [b"SET", b"__end"]:
            got.append((dbid, argv))
    client.call("SELECT", "0")
    assert _matches(expected, got, now, TOLERANCE_MS), (got, entries)
