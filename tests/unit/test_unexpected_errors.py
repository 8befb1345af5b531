"""The decision for an error reply on a replication link (Valkey's afterErrorReply)."""

from __future__ import annotations

import pytest

from valsync.replication.unexpected_errors import (
    backlog_log_line,
    c_repr,
    error_as_logged,
    unexpected_error,
)


def test_error_text_as_valkey_logs_it() -> None:
    assert error_as_logged("ERR value is not an integer or out of range") == (
        "value is not an integer or out of range"
    )
    assert error_as_logged("ERR syntax error") == "-ERR syntax error"
    assert error_as_logged("WRONGTYPE Operation against a key holding the wrong kind of value") == (
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    assert error_as_logged("NOPROTO x") == "-NOPROTO x"


@pytest.mark.parametrize(
    ("behavior", "read_only", "to_primary", "panics"),
    [
        ("ignore", True, True, False),
        ("panic", True, True, True),
        ("panic-on-replicas", True, True, True),
        ("panic", False, True, False),
        ("panic", True, False, False),
    ],
)
def test_panic_only_on_a_read_only_replica(
    behavior: str, read_only: bool, to_primary: bool, panics: bool
) -> None:
    verdict = unexpected_error(
        "ERR unknown command 'x', with args beginning with: ",
        None,
        to_primary=to_primary,
        behavior=behavior,
        replica_read_only=read_only,
    )
    assert (verdict.panic is not None) is panics
    assert verdict.show_backlog is to_primary
    who = (
        "replica is sending an error to its primary"
        if to_primary
        else ("primary is sending an error to its replica")
    )
    assert verdict.warning.startswith(f"== CRITICAL == This {who}: 'unknown command 'x'")
    assert verdict.warning.endswith("after processing the command '<unknown>'")


def test_backlog_lines() -> None:
    assert backlog_log_line(b"x", True)[1].startswith("hide-user-data-from-log is on")
    level, line = backlog_log_line(b'*1\r\n$4\r\nping\r\n\x00\\"', False)
    assert (level, line) == (
        "notice",
        'Latest backlog is: \'"*1\\r\\n$4\\r\\nping\\r\\n\\x00\\\\\\""\'',
    )
    assert c_repr(b"a\tb") == '"a\\tb"'
