"""Fixtures shared by the integration tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.realvalkey import ServerProcess


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test started; each is ended by pid afterwards (resumed first if SIGSTOPped)."""
    started: list[ServerProcess] = []
    yield started
    for server in reversed(started):
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGCONT)
        server.stop()
