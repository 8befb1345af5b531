"""What every fuzzer shares: example budgets, a count of inputs tried, a watchdog against
hangs, a memory bound, and mutations of real inputs.

``make test`` runs each fuzzer with a modest budget; ``make fuzz`` sets ``VALSYNC_FUZZ=deep``
(the ``valsync-fuzz`` hypothesis profile) and multiplies every budget by
``VALSYNC_FUZZ_FACTOR`` (default 50).
"""

from __future__ import annotations

import io
import os
import signal
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from valsync.resp.reply import ErrorReply

if TYPE_CHECKING:
    from valsync.server import Server

DEEP = os.environ.get("VALSYNC_FUZZ") == "deep"
FACTOR = int(os.environ.get("VALSYNC_FUZZ_FACTOR", "50")) if DEEP else 1

TRIED: Counter[str] = Counter()
"""Inputs run per fuzzer in this session (printed in the terminal summary)."""

HUGE_LENGTHS = (2**31 - 1, 2**31, 2**32, 2**40, 2**63 - 1, 2**64 - 1)


def budget(examples: int) -> int:
    """``max_examples`` for a fuzzer: ``examples`` under ``make test``, more under ``make fuzz``."""
    return examples * FACTOR


class Hang(Exception):
    """An input took longer than the watchdog allows."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the running code after ``seconds`` (a loop that never ends)."""

    def fire(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def bounded_memory(limit: int) -> Iterator[None]:
    """Fail when the code allocates more than ``limit`` bytes at its peak (Python heap)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        if started:
            tracemalloc.stop()
    assert peak <= limit, f"peak allocation {peak} bytes for one input (limit {limit})"


@contextmanager
def guarded(name: str, *, seconds: float = 10.0, memory: int = 64 << 20) -> Iterator[None]:
    """One fuzz input: counted, under the watchdog and the memory bound."""
    TRIED[name] += 1
    with watchdog(seconds), bounded_memory(memory):
        yield


def _ascii_length(n: int) -> bytes:
    return str(n).encode()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], *, rdb_lengths: bool = False) -> bytes:
    """A real input with a few edits: bit flips, truncations, inserted or deleted bytes,
    overwritten runs, and length fields set huge (RDB length encodings with ``rdb_lengths``,
    else decimal text as RESP writes them)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite", "huge", "dup"])
        )
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif kind == "overwrite":
            run = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(run)] = run
        elif kind == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 64))]
        else:
            n = draw(st.sampled_from(HUGE_LENGTHS))
            if rdb_lengths:
                field = (
                    b"\x80" + min(n, 2**32 - 1).to_bytes(4, "big")
                    if draw(st.booleans())
                    else b"\x81" + min(n, 2**64 - 1).to_bytes(8, "big")
                )
            else:
                field = _ascii_length(n)
            data[pos : pos + len(field)] = field
    return bytes(data)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at the given positions (taken modulo its length)."""
    if not data:
        return []
    points = sorted({c % len(data) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


def fresh_server() -> tuple[Server, io.StringIO]:
    """A Server without the trio shell, its log captured (an internal error is logged)."""
    from valsync.config import Config
    from valsync.log import ServerLog
    from valsync.server import Server

    log = ServerLog(level="warning")
    out = io.StringIO()
    log.redirect(out)
    return Server(Config(), log), out


def assert_no_internal_error(reply: object, log: io.StringIO) -> None:
    """A handler bug shows as ``ERR internal error in ...`` and a logged traceback."""
    text = reply.text if isinstance(reply, ErrorReply) else ""
    assert "internal error" not in text, text
    assert "Internal error" not in log.getvalue(), log.getvalue()
