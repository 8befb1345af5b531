"""Connection-level behaviour, valsync process vs real valkey-server 8.1.8, byte for byte.

MULTI/EXEC/DISCARD/WATCH (with a second connection breaking a WATCH), queued errors and
EXECABORT, SELECT/MOVE across databases, HELLO 3 switching the reply protocol, and the server
commands whose replies are deterministic. Both servers get the same script over raw sockets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

EXAMPLES = int(os.environ.get("SRV_EXAMPLES", "200"))
KEYS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    real = start_valkey("8.1.8")
    mine = start_valsync("--enable-debug-command", "yes")
    try:
        yield real, mine
    finally:
        mine.stop()
        real.stop()


key = st.sampled_from(KEYS)
value = st.sampled_from(["1", "2", "x", "10"])
plain_command = st.one_of(
    st.tuples(st.just("SET"), key, value),
    st.tuples(st.just("GET"), key),
    st.tuples(st.just("INCR"), key),
    st.tuples(st.just("LPUSH"), key, value),
    st.tuples(st.just("DEL"), key),
    st.tuples(st.just("EXISTS"), key),
    st.tuples(st.just("SELECT"), st.sampled_from(["0", "1", "2", "16", "x"])),
    st.tuples(st.just("MOVE"), key, st.sampled_from(["0", "1"])),
    st.tuples(st.just("DBSIZE")),
    st.tuples(st.just("PING")),
    st.tuples(st.just("ECHO"), value),
    st.tuples(st.just("NOSUCHCOMMAND"), key),
    st.tuples(st.just("GET")),
    st.tuples(st.just("MULTI")),
    st.tuples(st.just("EXEC")),
    st.tuples(st.just("DISCARD")),
    st.tuples(st.just("WATCH"), key),
    st.tuples(st.just("UNWATCH")),
)
step = st.one_of(
    plain_command.map(lambda c: ("main", c)),
    st.tuples(st.just("SET"), key, value).map(lambda c: ("other", c)),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(script=st.lists(step, min_size=1, max_size=25), resp3=st.booleans())
def test_transactions_and_connection_state(
    servers: tuple[ServerProcess, ServerProcess],
    script: list[tuple[str, tuple[str, ...]]],
    resp3: bool,
) -> None:
    replies: list[list[bytes]] = []
    for server in servers:
        with RawClient(server.port) as main, RawClient(server.port) as other:
            main.call("FLUSHALL")
            if resp3:
                main.call("HELLO", "3")
            got = []
            for who, cmd in script:
                got.append((main if who == "main" else other).call(*cmd))
            replies.append(got)
    assert replies[1] == replies[0]


@pytest.mark.parametrize(
    "cmd",
    [
        ("COMMAND", "COUNT", "x"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "x"),
        ("CONFIG", "GET", "repl-*"),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "NOSUCH"),
        ("DEBUG", "NOSUCH"),
        ("SELECT", "-1"),
        ("TYPE", "nokey"),
        ("HELLO", "4"),
        ("AUTH", "x"),
        ("ROLE",),
        ("WAIT", "0", "0"),
        ("DEBUG", "DIGEST"),
    ],
)
def test_server_command_replies(
    servers: tuple[ServerProcess, ServerProcess], cmd: tuple[str, ...]
) -> None:
    replies = []
    for server in servers:
        with RawClient(server.port) as c:
            c.call("FLUSHALL")
            replies.append(c.call(*cmd))
    if cmd[:2] == ("CONFIG", "GET") and cmd[2].endswith("*"):
        # the same directives, in any order
        assert sorted(replies[1].split(b"\r\n")) == sorted(replies[0].split(b"\r\n"))
    elif cmd == ("ROLE",):
        assert replies[1] == replies[0] == b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
    else:
        assert replies[1] == replies[0]
