"""stop-writes-on-bgsave-error: after a failed background save, writes and PING get Valkey's
``-MISCONF`` (Sentinel takes that PING reply as the instance being down), byte for byte
against a real valkey-server 8.1.8; a successful save lifts it."""

from __future__ import annotations

import os
import time

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

SCRIPT: list[tuple[str, ...]] = [
    ("PING",),
    ("SET", "a", "1"),
    ("GET", "k"),
    ("INCR", "n"),
    ("EVAL", "return redis.call('set','x','1')", "0"),
    ("EVAL", "return redis.call('get','k')", "0"),
    ("EVAL", "#!lua\nreturn redis.call('set','x','1')", "0"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"),
    ("MULTI",),
    ("GET", "k"),
    ("EXEC",),
    ("MULTI",),
    ("SET", "k", "2"),
    ("PING",),
    ("EXEC",),
    ("HELLO", "3"),
    ("PING",),
    ("SET", "a", "1"),
    ("HELLO", "2"),
    ("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"),
    ("SET", "a", "2"),
    ("PING",),
    ("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"),
    ("CONFIG", "SET", "save", ""),
    ("SET", "a", "3"),
    ("CONFIG", "SET", "save", "3600 1"),
    ("PING",),
]


def _failed_bgsave_then(server: ServerProcess) -> list[bytes]:
    out: list[bytes] = []
    with RawClient(server.port) as c:
        folder = c.call("CONFIG", "GET", "dir").split(b"\r\n")[4].decode()
        os.makedirs(os.path.join(folder, "taken"), exist_ok=True)
        c.call("SET", "k", "v")
        c.call("CONFIG", "SET", "save", "3600 1")
        c.call("CONFIG", "SET", "dbfilename", "taken")  # the rename onto a folder fails
        assert c.call("BGSAVE") == b"+Background saving started\r\n"
        for _ in range(200):
            if b"rdb_last_bgsave_status:err" in c.call("INFO", "persistence"):
                break
            time.sleep(0.05)
        for argv in SCRIPT:
            out.append(c.call(*argv))
        c.call("CONFIG", "SET", "dbfilename", "dump.rdb")
        c.call("SAVE")  # a save that works lifts the refusal
        out.append(c.call("PING"))
        out.append(c.call("SET", "after", "save"))
    return out


def test_misconf_like_valkey(servers: list[ServerProcess]) -> None:
    real = start_valkey("8.1.8", "--enable-protected-configs", "yes")
    ours = start_valsync("--enable-protected-configs", "yes")
    servers += [real, ours]
    theirs, mine = _failed_bgsave_then(real), _failed_bgsave_then(ours)
    for argv, t, m in zip([*SCRIPT, ("PING",), ("SET",)], theirs, mine, strict=True):
        if argv[0] == "HELLO":
            continue  # the client ids in the map differ by design
        assert m == t, f"{argv}: valsync {m!r} != valkey {t!r}"
    assert b"MISCONF" in theirs[0]
