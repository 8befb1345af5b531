"""A backlog far smaller than what flows through it: ten million times its size.

The size minimum (16 KiB) is lowered for the test so that the backlog is tiny (16 bytes);
its blocks keep their real size, so what flows through it is 160 MB in 700,000 appends of
command-sized chunks, and whole blocks are trimmed about ten thousand times. At sampled
points, and always right after a trim, the held bytes, the offsets and the PSYNC range check
must match a reference window of the stream.
"""

from __future__ import annotations

import random

import pytest

from valsync.replication import backlog as backlog_module
from valsync.replication.backlog import BLOCK_SIZE, ReplicationBacklog

SIZE = 16
WRAPS = 10_000_000


def check(backlog: ReplicationBacklog, window: bytearray, total: int) -> None:
    first = backlog.first_byte_offset
    assert backlog.end_offset == total
    assert SIZE <= backlog.histlen <= SIZE + BLOCK_SIZE
    assert first == total - backlog.histlen + 1
    held = backlog.read_from(first)
    assert held == window[len(window) - backlog.histlen :]
    assert backlog.can_serve(first) and not backlog.can_serve(first - 1)
    assert backlog.can_serve(total + 1) and not backlog.can_serve(total + 2)
    mid = first + backlog.histlen // 2
    assert backlog.read_from(mid) == held[mid - first :]
    with pytest.raises(ValueError):
        backlog.read_from(first - 1)


def test_tiny_backlog_wraps_ten_million_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backlog_module, "MIN_BACKLOG_SIZE", 1)
    start = 2**40  # a history that began long ago: offsets stay exact past 32 bits
    backlog = ReplicationBacklog(SIZE, start_offset=start)
    assert backlog.size == SIZE
    rng = random.Random(5)
    commands = [
        b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
        for k, v in ((b"key:%d" % i, b"v" * rng.randrange(1, 400)) for i in range(997))
    ]
    window = bytearray()  # the last bytes of the stream, at least one block plus SIZE
    total = start
    trims = 0
    n = 0
    while total - start < WRAPS * SIZE:
        chunk = commands[n % len(commands)]
        n += 1
        before = backlog.first_byte_offset
        backlog.append(chunk)
        total += len(chunk)
        window += chunk
        if len(window) > 4 * BLOCK_SIZE:
            del window[: len(window) - 2 * BLOCK_SIZE]
        if backlog.first_byte_offset != before:
            trims += 1
            check(backlog, window, total)
        elif n % 100_000 == 0:
            check(backlog, window, total)
    assert trims >= (total - start) // BLOCK_SIZE - 1, (trims, total - start)
    # one command bigger than several blocks
    big = bytes(rng.randrange(256) for _ in range(3 * BLOCK_SIZE + 7))
    backlog.append(big)
    total += len(big)
    window += big
    check(backlog, window, total)
    assert (total - start) // SIZE >= WRAPS
