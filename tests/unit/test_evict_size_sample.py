"""INFO's dataset size without a maxmemory: a large database is sized from a sample of keys
kept between calls (not a list of every key), and the sample follows deletions."""

from __future__ import annotations

from valsync.commands.memory import key_memory
from valsync.config import Config
from valsync.evict import EXACT_UP_TO, SIZE_SAMPLES
from valsync.server import Server


def test_large_database_sized_from_a_bounded_sample() -> None:
    server = Server(Config())
    data = server.keyspace.dbs[0].data
    n = EXACT_UP_TO * 4
    for i in range(n):
        data[b"key:%06d" % i] = b"value:%06d" % i  # every key the same size: the estimate is exact
    exact = sum(key_memory(k, v) for k, v in data.items())
    assert server.memory.keys_memory() == exact
    sample = server.memory._size_sample(server.keyspace.dbs[0])
    assert len(sample) == SIZE_SAMPLES and len(set(sample)) == SIZE_SAMPLES
    assert all(k in data for k in sample)
    for key in sample[: SIZE_SAMPLES * 3 // 4]:
        del data[key]
    assert server.memory.keys_memory() == exact * (n - SIZE_SAMPLES * 3 // 4) // n
    assert all(k in data for k in server.memory._size_sample(server.keyspace.dbs[0]))
