"""Fixtures shared by the integration tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.differential import ReplicaStream
from tests.realvalkey import ServerProcess, start_valkey


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test started; each is ended by pid afterwards (resumed first if SIGSTOPped)."""
    started: list[ServerProcess] = []
    yield started
    for server in reversed(started):
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGCONT)
        server.stop()


@pytest.fixture(scope="module")
def valkey8_streamed() -> Iterator[tuple[ServerProcess, ReplicaStream]]:
    """A real 8.1.8 for differential tests, with a SYNC replica stream of what it propagates."""
    with start_valkey("8.1.8", "--repl-diskless-sync", "no") as server:
        stream = ReplicaStream(server.port)
        try:
            yield server, stream
        finally:
            stream.close()
