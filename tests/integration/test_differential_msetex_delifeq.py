"""MSETEX (9.1) and DELIFEQ (9.0) against valkey-server 9.1.2: replies and propagation.

These are commands a 9.1.2 primary streams to its replicas, so valsync must apply them as
9.1.2 does; their replies and rewrites are compared with 9.1.2's, byte for byte (a relative
expiry's absolute ``PXAT`` within the two clocks' skew).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.differential import Differ, ReplicaStream
from tests.realvalkey import ServerProcess, start_valkey

CASES: list[list[str | int]] = [
    ["MSETEX", 2, "a", "1", "b", "2"],
    ["MSETEX", 2, "a", "1", "b", "2", "NX"],
    ["MSETEX", 2, "a", "1", "c", "2", "XX"],
    ["MSETEX", 1, "a", "5", "XX", "EX", 100],
    ["msetex", 1, "c", "5", "nx", "px", 100000],
    ["MSETEX", 1, "a", "6", "KEEPTTL"],
    ["MSETEX", 1, "d", "6", "PXAT", 99999999999999],
    ["MSETEX", 1, "e", "6", "EXAT", 9223372036854775],
    ["MSETEX", 1, "a", "6", "EX", 0],
    ["MSETEX", 1, "a", "6", "EX", -1],
    ["MSETEX", 1, "a", "1", "EX", 9223372036854775],
    ["MSETEX", 1, "a", "1", "PX", 9223372036854775807],
    ["MSETEX", 1, "a", "1", "PXAT", 0],
    ["MSETEX", 1, "a", "1", "EX", "abc"],
    ["MSETEX", 0, "a", "6"],
    ["MSETEX", "x", "a", "6"],
    ["MSETEX", -1, "a", "6"],
    ["MSETEX", 9999999999, "a", "1"],
    ["MSETEX", 2, "a", "6"],
    ["MSETEX", 1, "a", "6", "b"],
    ["MSETEX", 1, "a", "6", "NX", "XX"],
    ["MSETEX", 1, "a", "6", "EX", 1, "PX", 1],
    ["MSETEX", 1, "a", "1", "KEEPTTL", "EX", 5],
    ["MSETEX", 1, "a", "1", "GET"],
    ["MSETEX", 1, "a", "1", "IFEQ", "1"],
    ["MSETEX", 1, "a"],
    ["MSETEX", 1, "a", "7", "EX", 10, "EX", 20],
    ["MSETEX", 1, "a", "1", "XX", "XX"],
    ["MSETEX", 1, "a", "1", "KEEPTTL", "KEEPTTL"],
    ["MSETEX", 2, "a", "1", "a", "2"],
    ["GET", "a"],
    ["MSETEX", 2, "a", "1", "EX", 5],
    ["LPUSH", "l", "x"],
    ["MSETEX", 1, "l", "1", "NX"],
    ["DELIFEQ", "l", "x"],
    ["MSETEX", 1, "l", "1", "XX"],
    ["DELIFEQ", "l", "1"],
    ["SET", "i", "123"],
    ["DELIFEQ", "i", "124"],
    ["DELIFEQ", "i", "123"],
    ["DELIFEQ", "missing", "1"],
    ["DELIFEQ", "a"],
    ["PTTL", "c"],
    ["TTL", "a"],
    ["EXISTS", "a", "b", "c", "d", "e", "i", "l", "EX"],
]


@pytest.fixture(scope="module")
def server9() -> Iterator[ServerProcess]:
    with start_valkey("9.1.2", "--repl-diskless-sync", "no") as server:
        yield server


def _same_propagation(mine: list[bytes], theirs: list[bytes]) -> bool:
    if len(mine) != len(theirs):
        return False
    for m, t in zip(mine, theirs, strict=True):
        if m != t and not (m.isdigit() and t.isdigit() and abs(int(m) - int(t)) < 2000):
            return False
    return True


@pytest.mark.parametrize("resp", [2, 3])
def test_replies_and_propagation_match_valkey_9(server9: ServerProcess, resp: int) -> None:
    d = Differ(server9, resp=resp)
    stream = ReplicaStream(server9.port)
    try:
        d.reset()
        d.harness.propagated.clear()
        for args in CASES:
            if args[0] in ("PTTL", "TTL"):
                mine, theirs = d.both(*args)
                assert abs(int(mine[1:-2]) - int(theirs[1:-2])) < 2000, (args, mine, theirs)
            else:
                d.check(*args)
        d.check("SET", "end", "1")
        theirs = [
            argv
            for argv in stream.read_commands(lambda argv: argv[1:2] == [b"end"])
            if argv[0].upper() not in (b"SELECT", b"FLUSHALL")
        ]
        mine = [argv for _db, argv in d.harness.propagated]
        assert len(mine) == len(theirs), (mine, theirs)
        for m, t in zip(mine, theirs, strict=True):
            assert _same_propagation(m, t), (m, t)
        d.check_digest()
    finally:
        stream.close()
        d.close()
