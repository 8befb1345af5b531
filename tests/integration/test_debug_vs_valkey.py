"""DEBUG subcommands Valkey's test suite relies on, compared with real valkey 8.1.8."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.differential import RawClient
from tests.integration.support import connect, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

TYPES = "string integer double bignum null array set map attrib push verbatim true false nosuch"


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with start_valsync("--enable-debug-command", "yes") as ours:
        with start_valkey("8.1.8") as theirs:
            yield ours, theirs


@pytest.mark.parametrize("resp", [2, 3])
def test_debug_protocol_every_type(pair: tuple[ServerProcess, ServerProcess], resp: int) -> None:
    replies = []
    for server in pair:
        with RawClient(server.port) as client:
            if resp == 3:
                client.call("HELLO", "3")
            replies.append([client.call("DEBUG", "PROTOCOL", t) for t in TYPES.split()])
    assert replies[0] == replies[1]


def test_debug_switches_and_errors(pair: tuple[ServerProcess, ServerProcess]) -> None:
    commands = [
        ("DEBUG", "LOG", "hello from the test"),
        ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"),
        ("DEBUG", "REPLYBUFFER", "RESIZING", "0"),
        ("DEBUG", "DICT-RESIZING", "1"),
        ("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0"),
        ("DEBUG", "PAUSE-CRON", "0"),
        ("DEBUG", "ERROR", "MYERR a custom error"),
        ("DEBUG", "PAUSE-CRON", "x"),
        ("DEBUG", "NOSUCH", "1"),
    ]
    replies = []
    for server in pair:
        with RawClient(server.port) as client:
            replies.append([client.call(*cmd) for cmd in commands])
    assert replies[0] == replies[1]
    assert "DEBUG LOG: hello from the test" in pair[0].log()


def test_pause_cron_stops_active_expiry(pair: tuple[ServerProcess, ServerProcess]) -> None:
    ours = connect(pair[0])
    ours.execute_command("DEBUG", "PAUSE-CRON", "1")
    try:
        ours.set("short", "v", px=50)
        ours.execute_command("DEBUG", "SLEEP", "0.3")
        assert ours.dbsize() == 1  # nothing touched it and the cron is paused
    finally:
        ours.execute_command("DEBUG", "PAUSE-CRON", "0")
    wait_until(lambda: ours.dbsize() == 0, 5, "active expiry after the cron resumed")
