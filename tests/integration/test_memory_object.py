"""MEMORY and OBJECT FREQ/IDLETIME/HELP of a valsync process against valkey-server 8.1.8.

Replies are byte for byte where Valkey's are deterministic (help texts, errors, DOCTOR on a
small dataset, MALLOC-STATS, PURGE, OBJECT under each maxmemory policy); MEMORY USAGE is an
estimate, checked to land near 8.1.8's figure; MEMORY STATS must have 8.1.8's fields, in
order, with the same reply types.
"""

from __future__ import annotations

from collections.abc import Iterator

import hiredis
import pytest

from tests.differential import RawClient
from tests.realvalkey import start_valkey, start_valsync

SHAPES: list[list[str | int]] = [
    ["SET", "k", "v"],
    ["SET", "key10chars", "v" * 30],
    ["SET", "kint", "12345"],
    ["SET", "k100", "x" * 100],
    ["SET", "k1000", "x" * 1000],
    ["RPUSH", "l10", *[f"e{i}" for i in range(10)]],
    ["RPUSH", "l2000", *[f"element-{i}" for i in range(2000)]],
    ["HSET", "h10", *[x for i in range(10) for x in (f"f{i}", f"v{i}")]],
    ["HSET", "h1000", *[x for i in range(1000) for x in (f"f{i}", f"v{i}")]],
    ["SADD", "si", *range(10)],
    ["SADD", "ss", *[f"m{i}" for i in range(10)]],
    ["SADD", "sbig", *[f"m{i}" for i in range(1000)]],
    ["ZADD", "z10", *[x for i in range(10) for x in (i, f"m{i}")]],
    ["ZADD", "zbig", *[x for i in range(1000) for x in (i, f"m{i}")]],
]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[RawClient, RawClient]]:
    with start_valkey("8.1.8") as real, start_valsync() as mine:
        a, b = RawClient(mine.port), RawClient(real.port)
        try:
            yield a, b
        finally:
            a.close()
            b.close()


def _parse(raw: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


@pytest.mark.parametrize("resp", [2, 3])
def test_fixed_replies_match(pair: tuple[RawClient, RawClient], resp: int) -> None:
    mine, real = pair
    for c in (mine, real):
        c.call("HELLO", resp)
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.call("SET", "k", "v")
    for args in (
        ["MEMORY", "HELP"],
        ["MEMORY", "DOCTOR"],
        ["MEMORY", "MALLOC-STATS"],
        ["MEMORY", "PURGE"],
        ["MEMORY", "USAGE", "nokey"],
        ["MEMORY", "USAGE", "k", "SAMPLES", "x"],
        ["MEMORY", "USAGE", "k", "SAMPLES", "-1"],
        ["MEMORY", "USAGE", "k", "SAMPLES"],
        ["MEMORY", "USAGE", "k", "FOO"],
        ["MEMORY", "FOO"],
        ["MEMORY", "USAGE"],
        ["MEMORY", "HELP", "x"],
        ["MEMORY", "DOCTOR", "x"],
        ["OBJECT", "HELP"],
        ["OBJECT", "FREQ", "k"],
        ["OBJECT", "FREQ", "nokey"],
        ["OBJECT", "IDLETIME", "nokey"],
        ["OBJECT", "FOO", "k"],
        ["OBJECT", "FREQ"],
    ):
        assert mine.call(*args) == real.call(*args), args
    for c in (mine, real):
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        c.call("SET", "fresh", "v")
    for args in (["OBJECT", "FREQ", "fresh"], ["OBJECT", "IDLETIME", "k"]):
        assert mine.call(*args) == real.call(*args), args
    for c in (mine, real):
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_usage_estimates_and_stats_shape(pair: tuple[RawClient, RawClient]) -> None:
    mine, real = pair
    for c in (mine, real):
        c.call("HELLO", 2)
        c.call("FLUSHALL")
        for cmd in SHAPES:
            c.call(*cmd)
    for cmd in SHAPES:
        key = cmd[1]
        for extra in ([], ["SAMPLES", "0"]):
            ours = _parse(mine.call("MEMORY", "USAGE", key, *extra))
            theirs = _parse(real.call("MEMORY", "USAGE", key, *extra))
            assert isinstance(ours, int) and isinstance(theirs, int)
            assert abs(ours - theirs) <= max(16, theirs // 4), (key, extra, ours, theirs)
    for resp in (2, 3):
        for c in (mine, real):
            c.call("HELLO", resp)
        ours, theirs = _parse(mine.call("MEMORY", "STATS")), _parse(real.call("MEMORY", "STATS"))

        def shape(reply: object) -> list[tuple[object, str]]:
            items = (
                list(reply.items())
                if isinstance(reply, dict)
                else list(
                    zip(reply[::2], reply[1::2], strict=True)  # type: ignore[index]
                )
            )
            return [(k, type(v).__name__) for k, v in items]

        assert shape(ours) == shape(theirs), resp
