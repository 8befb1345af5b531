"""A long-running script: -BUSY for others past busy-reply-threshold, SCRIPT/FUNCTION KILL,
UNKILLABLE after a write, SHUTDOWN NOSAVE; compared byte for byte with real valkey 8.1.8.

valsync runs the interpreter in a worker thread, so while a script loops the server keeps
answering (with -BUSY) and its replication link to a real replica stays up.
"""

from __future__ import annotations

import time

from tests.differential import RawClient
from tests.integration.support import connect, digest, link_up, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

LOOP = "local i = 0 while true do i = i + 1 end"
WRITE_THEN_LOOP = "redis.call('set', 'w', 1) local i = 0 while true do i = i + 1 end"
FUNCTION_LIB = (
    "#!lua name=busy\n"
    "redis.register_function{function_name='spin', callback=function() "
    "local i = 0 while true do i = i + 1 end end, flags={'no-writes'}}\n"
)
THRESHOLD_MS = 200


def _until_busy(client: RawClient) -> bytes:
    """PING until the server says BUSY (the script started and passed the threshold)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        reply = client.call("PING")
        if reply.startswith(b"-BUSY"):
            return reply
        time.sleep(THRESHOLD_MS / 1000)
    raise AssertionError("the script never turned busy")


def _busy_transcript(server: ServerProcess) -> list[bytes]:
    """What a second client sees while scripts loop, and what the looping clients get."""
    seen: list[bytes] = []
    with RawClient(server.port, timeout=20) as other:
        other.call("FUNCTION", "LOAD", FUNCTION_LIB)
        seen.append(other.call("SCRIPT", "KILL"))  # nothing runs yet
        for script, kill in ((LOOP, "SCRIPT"), ("FCALL spin", "FUNCTION")):
            with RawClient(server.port, timeout=20) as looping:
                if script.startswith("FCALL"):
                    looping.send("FCALL", "spin", "0")
                else:
                    looping.send("EVAL", script, "0")
                seen.append(_until_busy(other))
                seen.append(other.call("GET", "w"))
                wrong = "FUNCTION" if kill == "SCRIPT" else "SCRIPT"
                seen.append(other.call(wrong, "KILL"))
                seen.append(other.call(kill, "KILL"))
                seen.append(looping.read_reply())
                seen.append(other.call("PING"))
        with RawClient(server.port, timeout=20) as looping:
            looping.send("EVAL", WRITE_THEN_LOOP, "0")
            seen.append(_until_busy(other))
            seen.append(other.call("SCRIPT", "KILL"))
            seen.append(other.call("FUNCTION", "STATS"))
            other.send("SHUTDOWN", "NOSAVE")
            wait_until(lambda: server.proc.poll() is not None, what="server exit")
    return seen


def test_busy_script_as_valkey(servers: list[ServerProcess]) -> None:
    args = ("--busy-reply-threshold", str(THRESHOLD_MS))
    mine = start_valsync(*args)
    servers.append(mine)
    real = start_valkey("8.1.8", *args)
    servers.append(real)
    ours, theirs = _busy_transcript(mine), _busy_transcript(real)
    assert ours == theirs
    assert any(reply.startswith(b"-BUSY") for reply in ours)
    assert any(reply.startswith(b"-UNKILLABLE") for reply in ours)


def test_busy_script_keeps_the_replication_link(servers: list[ServerProcess]) -> None:
    primary = start_valsync("--enable-debug-command", "yes", "--busy-reply-threshold", "100")
    servers.append(primary)
    replica = start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port))
    servers.append(replica)
    p, r = connect(primary), connect(replica)
    p.set("before", 1)
    wait_synced(p, r)
    with RawClient(primary.port, timeout=30) as looping, RawClient(primary.port) as other:
        looping.send("EVAL", LOOP, "0")
        _until_busy(other)
        # longer than repl-timeout would not be needed: pings keep flowing meanwhile
        time.sleep(1.5)
        assert link_up(r)
        assert other.call("SCRIPT", "KILL") == b"+OK\r\n"
        assert looping.read_reply().startswith(b"-ERR Script killed by user with SCRIPT KILL.")
    p.eval("redis.call('set', 'after', 2); redis.call('incr', 'before')", 0)
    wait_synced(p, r)
    assert digest(r) == digest(p)
