"""CLIENT REPLY ON/OFF/SKIP and INFO server's fields, compared with real valkey 8.1.8."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from tests.differential import encode_argv
from tests.integration.support import child_pids, connect, info, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _session(server: ServerProcess, commands: list[list[str]], resp3: bool = False) -> bytes:
    """Everything the server answers to a pipeline, read until it goes quiet."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        if resp3:
            sock.sendall(encode_argv(["HELLO", "3"]))
            time.sleep(0.2)
            sock.recv(65536)
        sock.sendall(b"".join(encode_argv(c) for c in commands) + encode_argv(["PING", "end"]))
        data = b""
        while not data.endswith(b"end\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


SEQUENCE = [
    ["SET", "a", "1"],
    ["CLIENT", "REPLY", "OFF"],
    ["GET", "a"],
    ["NOSUCHCOMMAND"],
    ["CLIENT", "REPLY", "ON"],
    ["GET", "a"],
    ["CLIENT", "REPLY", "SKIP"],
    ["GET", "a"],
    ["INCR", "a"],
    ["CLIENT", "REPLY", "SKIP"],
    ["CLIENT", "REPLY", "ON"],
    ["CLIENT", "REPLY", "bogus"],
]


@pytest.mark.parametrize("resp3", [False, True])
def test_client_reply_like_valkey(servers: list[ServerProcess], resp3: bool) -> None:
    ours, theirs = start_valsync(), start_valkey("8.1.8")
    servers += [ours, theirs]
    assert _session(ours, SEQUENCE, resp3) == _session(theirs, SEQUENCE, resp3)


def test_pubsub_messages_still_arrive_with_reply_off(servers: list[ServerProcess]) -> None:
    replies = []
    for server in (start_valsync(), start_valkey("8.1.8")):
        servers.append(server)
        commands = [
            ["CLIENT", "REPLY", "OFF"],
            ["SUBSCRIBE", "ch"],
            ["PSUBSCRIBE", "c*"],
            ["CLIENT", "REPLY", "ON"],
        ]
        replies.append(_session(server, commands, resp3=True))
    assert replies[0] == replies[1]


def test_info_server_fields_like_valkey(servers: list[ServerProcess]) -> None:
    ours, theirs = start_valsync(), start_valkey("8.1.8")
    servers += [ours, theirs]
    mine = list(connect(ours).info("server"))
    real = list(connect(theirs).info("server"))
    assert [f for f in mine if f != "valsync"] == real


def _redis_compat(server: ServerProcess) -> list[object]:
    """``extended-redis-compatibility``: HELLO, INFO's mode field and a shared error."""
    c = connect(server)
    out: list[object] = []
    for value in ("yes", "no"):
        c.config_set("extended-redis-compatibility", value)
        flat = c.execute_command("HELLO", "2")
        hello = dict(zip(flat[::2], flat[1::2], strict=True))
        out.append((hello[b"server"], hello[b"version"]))
        out.append(sorted(k for k in info(c, "server") if k.endswith("_mode")))
    c.config_set("extended-redis-compatibility", "yes")
    c.config_set("save", "900 1")
    c.config_set("rdb-key-save-delay", 10_000_000)
    c.set("x", "x")
    c.bgsave()
    for pid in wait_until(lambda: child_pids(server), what="the save child"):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, what="reaped")
    try:
        c.set("x", "y")
    except Exception as err:  # noqa: BLE001 - the error text is what is compared
        out.append(str(err))
    return out


def test_extended_redis_compatibility_like_valkey() -> None:
    results = []
    for start in (start_valsync, lambda *args: start_valkey("8.1.8", *args)):
        with start("--enable-debug-command", "yes") as server:
            results.append(_redis_compat(server))
    assert results[0] == results[1]
    assert results[1][0] == (b"redis", b"7.2.4")
