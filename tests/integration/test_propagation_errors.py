"""A replica never drops a write silently: stream commands it cannot apply, as Valkey handles them.

A real 8.1.8 primary injects commands into its stream with ``DEBUG REPLICATE``; a valsync
replica, a real 8.1.8 replica and a valsync sub-replica of the valsync one (which gets the
stream as relayed) follow it. Both must log the same ``== CRITICAL ==`` lines,
count the same ``unexpected_error_replies``, keep applying the stream under
``propagation-error-behavior ignore``, and die of SIGABRT with Valkey's panic line under
``panic`` / ``panic-on-replicas`` (only while ``replica-read-only yes``).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator

import pytest

from tests.integration.support import connect, digest, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

# Injected commands that cannot apply on a replica, each with a different error path.
BAD_COMMANDS = [
    ["nosuchcmd", "a", "b"],  # unknown command
    ["set"],  # wrong arity
    ["lpush", "str", "a"],  # WRONGTYPE (a shared error object: logged with its "-")
    ["incr", "str"],  # addReplyError text: logged without "ERR "
    ["set", "k", "v", "bogus"],  # shared "-ERR syntax error"
    ["expire", "str", "10", "bogus"],
    ["object", "nosub", "str"],  # unknown subcommand of a container command
]


def _critical_lines(log: str) -> list[str]:
    return re.findall(r"(?:[#*] )(== CRITICAL ==.*|hide-user-data-from-log is on.*)$", log, re.M)


@pytest.fixture
def primary() -> Iterator[ServerProcess]:
    with start_valkey("8.1.8", "--repl-diskless-sync-delay", "0") as server:
        yield server


def _replica(kind: str, primary: ServerProcess, *extra: str) -> ServerProcess:
    args = ("--replicaof", "127.0.0.1", str(primary.port), *extra)
    if kind == "valkey":
        return start_valkey("8.1.8", *args)
    return start_valsync("--enable-debug-command", "yes", *args)


def test_errors_are_logged_counted_and_the_stream_goes_on(
    primary: ServerProcess, servers: list[ServerProcess]
) -> None:
    mine = _replica("valsync", primary)
    servers.append(mine)
    real = _replica("valkey", primary)
    servers.append(real)
    chained = _replica("valsync", mine)  # a sub-replica: the stream relayed by valsync
    servers.append(chained)
    p = connect(primary)
    p.set("str", "x")
    for r in (mine, real):
        wait_synced(p, connect(r))
    wait_synced(connect(mine), connect(chained))
    p.set("warm", "1")  # every backlog holds bytes, so each logs its backlog line
    for argv in BAD_COMMANDS:
        p.execute_command("DEBUG", "REPLICATE", *argv)
    p.set("after", "1")
    for r in (mine, real):
        wait_synced(p, connect(r))
        assert digest(connect(r)) == digest(p)
    wait_synced(connect(mine), connect(chained))
    assert digest(connect(chained)) == digest(p)
    stats_real = info(connect(real), "stats")
    assert stats_real["unexpected_error_replies"] == len(BAD_COMMANDS)
    for r in (mine, chained):
        stats = info(connect(r), "stats")
        assert stats["unexpected_error_replies"] == len(BAD_COMMANDS)
        assert stats["total_error_replies"] == stats_real["total_error_replies"]
    for r in (mine, real, chained):
        wait_until(lambda r=r: len(_critical_lines(r.log())) == 2 * len(BAD_COMMANDS), 10)
    assert _critical_lines(mine.log()) == _critical_lines(real.log())
    assert _critical_lines(chained.log()) == _critical_lines(real.log())


@pytest.mark.parametrize(
    ("behavior", "read_only", "panics"),
    [
        ("panic", "yes", True),
        ("panic-on-replicas", "yes", True),
        ("panic-on-replicas", "no", False),
        ("ignore", "yes", False),
    ],
)
def test_propagation_error_behavior(
    primary: ServerProcess,
    servers: list[ServerProcess],
    behavior: str,
    read_only: str,
    panics: bool,
) -> None:
    mine = _replica(
        "valsync",
        primary,
        "--propagation-error-behavior",
        behavior,
        "--replica-read-only",
        read_only,
    )
    servers.append(mine)
    p = connect(primary)
    wait_synced(p, connect(mine))
    p.execute_command("DEBUG", "REPLICATE", "nosuchcmd", "x")
    p.set("after", "1")
    if panics:
        wait_until(lambda: mine.proc.poll() is not None, 20, "the replica to panic")
        assert mine.proc.returncode == -signal.SIGABRT
        log = mine.log()
        assert (
            "Guru Meditation: This replica panicked sending an error to its primary after "
            "processing the command '<unknown>'"
        ) in log
        assert "!!! Software Failure. Press left mouse button to continue" in log
    else:
        wait_synced(p, connect(mine))
        assert connect(mine).get("after") == b"1"
        assert info(connect(mine), "stats")["unexpected_error_replies"] == 1
