"""OBJECT ENCODING of sets and sorted sets, and the plain ZADD/HSET/LPUSH forms, against a
real valkey-server 8.1.8.

Valkey converts a set (intset -> listpack -> hashtable) and a zset (listpack -> skiplist) one
way only, against the ``*-max-*`` limits in force at the time; each scenario below runs the
same commands on both servers and every reply, OBJECT ENCODING and DEBUG HTSTATS-KEY's error
included, must be identical.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.realvalkey import ServerProcess, start_valkey, start_valsync

SCENARIOS: list[list[list[str]]] = [
    # intset -> listpack stays listpack after the string leaves (SINTER test in set.tcl)
    [["SADD", "s", "1", "2", "3", "a"], ["SREM", "s", "a"], ["OBJECT", "ENCODING", "s"]],
    # intset outgrowing set-max-intset-entries becomes a hashtable, not a listpack
    [
        ["CONFIG", "SET", "set-max-intset-entries", "4"],
        ["SADD", "s", "1", "2", "3"],
        ["OBJECT", "ENCODING", "s"],
        ["SADD", "s", "4", "5"],
        ["OBJECT", "ENCODING", "s"],
        ["SREM", "s", "5", "4", "3"],
        ["OBJECT", "ENCODING", "s"],
    ],
    # the configured listpack limits, and a set created with more arguments than they allow
    [
        ["CONFIG", "SET", "set-max-listpack-entries", "3"],
        ["CONFIG", "SET", "set-max-listpack-value", "5"],
        ["SADD", "s", "a", "b", "c"],
        ["OBJECT", "ENCODING", "s"],
        ["SADD", "s", "d"],
        ["OBJECT", "ENCODING", "s"],
        ["SREM", "s", "a", "b", "c"],
        ["OBJECT", "ENCODING", "s"],
        ["SADD", "t", "longvalue"],
        ["OBJECT", "ENCODING", "t"],
        ["SADD", "u", "x", "x", "x", "x"],
        ["OBJECT", "ENCODING", "u"],
        ["SMOVE", "s", "v", "d"],
        ["OBJECT", "ENCODING", "v"],
        ["DEBUG", "HTSTATS-KEY", "v"],
    ],
    # SPOP taking most of a hashtable set leaves the rest in a new, compact set
    [
        ["CONFIG", "SET", "set-max-listpack-entries", "4"],
        ["SADD", "s", *[str(i) + "x" for i in range(10)]],
        ["OBJECT", "ENCODING", "s"],
        ["SPOP", "s", "9"],
        ["OBJECT", "ENCODING", "s"],
    ],
    # zsets: the configured limits, and no way back from a skiplist
    [
        ["CONFIG", "SET", "zset-max-listpack-entries", "0"],
        ["ZADD", "z", "1", "a"],
        ["OBJECT", "ENCODING", "z"],
        ["CONFIG", "SET", "zset-max-listpack-entries", "128"],
        ["CONFIG", "SET", "zset-max-listpack-value", "4"],
        ["ZADD", "y", "1", "a"],
        ["OBJECT", "ENCODING", "y"],
        ["ZADD", "y", "2", "abcdef"],
        ["OBJECT", "ENCODING", "y"],
        ["ZREM", "y", "abcdef"],
        ["OBJECT", "ENCODING", "y"],
        ["ZUNIONSTORE", "w", "1", "y"],
        ["OBJECT", "ENCODING", "w"],
        ["ZADD", "x", "1", "a", "2", "b"],
        ["DEBUG", "HTSTATS-KEY", "x"],
        ["DEBUG", "HTSTATS-KEY", "nokey"],
    ],
    # the plain ZADD/HSET/LPUSH forms (digit scores, one pair): zeros, re-adds, updates,
    # scores at and past the largest finite digit string, a long member, wrong types
    [
        ["ZADD", "z", "0", "a"],
        ["ZADD", "z", "00", "a"],
        ["ZADD", "z", "5", "a"],
        ["ZADD", "z", "5", "a"],
        ["ZADD", "z", "007", "b"],
        ["ZADD", "z", "0", "c"],
        ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        ["ZADD", "z", "9" * 300, "d"],
        ["ZADD", "z", "9" * 309, "e"],
        ["ZADD", "z", "1" * 400, "e"],
        ["ZSCORE", "z", "d"],
        ["OBJECT", "ENCODING", "z"],
        ["ZADD", "z", "12", "x" * 65],
        ["OBJECT", "ENCODING", "z"],
        ["ZADD", "z", "0", "f"],
        ["ZADD", "z", "1", "f"],
        ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        ["SET", "s", "v"],
        ["ZADD", "s", "1", "m"],
        ["HSET", "s", "f", "v"],
        ["LPUSH", "s", "v"],
        ["HSET", "h", "f", "v"],
        ["HSET", "h", "f", "w"],
        ["HSET", "h", "g", "v" * 65],
        ["HGETALL", "h"],
        ["OBJECT", "ENCODING", "h"],
        ["LPUSH", "l", "a"],
        ["LPUSH", "l", "b"],
        ["LRANGE", "l", "0", "-1"],
        ["OBJECT", "ENCODING", "l"],
        ["CONFIG", "SET", "zset-max-listpack-entries", "0"],
        ["ZADD", "y", "0", "a"],
        ["OBJECT", "ENCODING", "y"],
    ],
]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    real = start_valkey("8.1.8")
    ours = start_valsync("--enable-debug-command", "yes")
    yield real, ours
    ours.stop()
    real.stop()


def _run(server: ServerProcess, commands: list[list[str]]) -> list[object]:
    client = server.client()
    client.execute_command("FLUSHALL")  # type: ignore[attr-defined]
    client.execute_command("CONFIG", "RESETSTAT")  # type: ignore[attr-defined]
    out: list[object] = []
    for argv in commands:
        try:
            reply = client.execute_command(*argv)  # type: ignore[attr-defined]
            out.append(len(reply) if argv[0] == "SPOP" else reply)  # which ones is chance
        except Exception as exc:  # the error text is part of the reply to compare
            out.append(f"error: {exc}")
    for name in (
        "set-max-intset-entries",
        "set-max-listpack-entries",
        "set-max-listpack-value",
        "zset-max-listpack-entries",
        "zset-max-listpack-value",
    ):
        default = {"set-max-intset-entries": "512"}.get(name, "128" if "entries" in name else "64")
        client.execute_command("CONFIG", "SET", name, default)  # type: ignore[attr-defined]
    client.close()  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("index", range(len(SCENARIOS)))
def test_encodings_match_valkey(servers: tuple[ServerProcess, ServerProcess], index: int) -> None:
    real, ours = servers
    commands = SCENARIOS[index]
    expected = _run(real, commands)
    got = _run(ours, commands)
    assert got == expected, list(zip(commands, expected, got, strict=True))
