"""Glob patterns (KEYS, PUBSUB, CONFIG GET...) match exactly what Valkey's stringmatchlen
matches, abusive patterns included: KEYS compared with real valkey 8.1.8."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.support import connect
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

KEYS = ["a", "b", "ab", "ba", "abc", "a*b", "a?", "[a]", "a\\b", "-", "^a", "aaa", "AbC", "x]"]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with start_valsync() as ours, start_valkey("8.1.8") as theirs:
        for server in (ours, theirs):
            client = connect(server)
            for key in KEYS:
                client.set(key, 1)
        yield ours, theirs


def _keys(server: ServerProcess, pattern: bytes) -> list[bytes]:
    return sorted(connect(server).keys(pattern))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="abAC*?[]^-\\x", max_size=8))
def test_patterns_match_like_valkey(
    pair: tuple[ServerProcess, ServerProcess], pattern: str
) -> None:
    ours, theirs = pair
    assert _keys(ours, pattern.encode()) == _keys(theirs, pattern.encode())


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("a" * 40, "a*" * 20 + "b"),  # exponential without Valkey's early stop
        ("a" * 50000, "*?" * 50000),  # deeper than Valkey's nesting limit: no match
    ],
)
def test_abusive_patterns(
    pair: tuple[ServerProcess, ServerProcess], key: str, pattern: str
) -> None:
    for server in pair:
        client = connect(server)
        client.set(key, 1)
        assert client.keys(pattern) == []
        client.delete(key)
