"""CLIENT REPLY ON/OFF/SKIP and INFO server's fields, compared with real valkey 8.1.8."""

from __future__ import annotations

import socket
import time

import pytest

from tests.differential import encode_argv
from tests.integration.support import connect
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
