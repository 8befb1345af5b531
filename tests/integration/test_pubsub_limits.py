"""``client-output-buffer-limit pubsub``: a subscriber that never reads is cut, nobody else is.

The same scenario runs on a real valkey-server 8.1.8 and on valsync, and must end the same way:
the stalled subscriber is disconnected (``client_output_buffer_limit_disconnections`` +1 and
Valkey's log line describing it, with the name redacted), a subscriber that keeps reading gets every message, and a plain
client is untouched. The kernel's socket buffers hide a few MB, so the publisher sends well
past that; the stalled client shrinks its receive buffer first.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.differential import RawClient
from tests.pubsub_wire import decode, drain, exchange
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

PAYLOAD = b"m" * 65536
LOG_LINE = re.compile(
    r"Client id=\d+ .* name=\*redacted\* .* flags=P .* sub=1 .* user=\*redacted\* .* "
    r"(scheduled to be closed ASAP|closed) for overcoming of output buffer limits\."
)


def _start(kind: str, servers: list[ServerProcess]) -> ServerProcess:
    server = start_valkey("8.1.8") if kind == "valkey" else start_valsync()
    servers.append(server)
    return server


def _stalled_subscriber(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$7\r\nstalled\r\n")
    sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nfeed\r\n")
    return sock


def _stat(client: RawClient) -> int:
    text = decode(client.call("INFO", "stats"))
    assert isinstance(text, bytes)
    for line in text.decode().splitlines():
        if line.startswith("client_output_buffer_limit_disconnections:"):
            return int(line.split(":")[1])
    raise AssertionError("no client_output_buffer_limit_disconnections in INFO")


def _names(client: RawClient) -> set[str]:
    listing = decode(client.call("CLIENT", "LIST"))
    assert isinstance(listing, bytes)
    return {
        part[5:]
        for line in listing.decode().splitlines()
        for part in line.split()
        if part.startswith("name=")
    }


def _run(server: ServerProcess, limits: str, pause: float) -> tuple[object, ...]:
    admin = RawClient(server.port)
    admin.call("CONFIG", "SET", "client-output-buffer-limit", limits)
    reader = RawClient(server.port)
    exchange(reader, "SUBSCRIBE", "feed")
    stalled = _stalled_subscriber(server.port)
    plain = RawClient(server.port)
    plain.call("SET", "k", "v")
    for _ in range(100):
        if "stalled" in _names(admin):
            break
        time.sleep(0.02)
    received = sent = 0
    receivers: list[int] = []
    for burst in range(60):
        if _stat(admin) or burst == 59:
            break
        if pause and burst == 20:
            time.sleep(pause)
        for _ in range(8):
            receivers.append(int(admin.call("PUBLISH", "feed", PAYLOAD)[1:-2]))
            sent += 1
        received += sum(1 for f in drain(reader) if decode(f) == [b"message", b"feed", PAYLOAD])
    outcome = (
        _stat(admin),
        "stalled" in _names(admin),
        received == sent,
        set(receivers[:8]),
        receivers[-1],
        plain.call("GET", "k"),
        LOG_LINE.findall(server.log()),
    )
    for client in (admin, reader, plain):
        client.close()
    stalled.close()
    return outcome


@pytest.mark.parametrize(
    ("limits", "pause"),
    [("pubsub 1mb 0 0", 0.0), ("pubsub 0 256kb 1", 2.2)],
    ids=["hard", "soft"],
)
def test_stalled_subscriber_is_cut(servers: list[ServerProcess], limits: str, pause: float) -> None:
    outcomes = [_run(_start(kind, servers), limits, pause) for kind in ("valkey", "valsync")]
    assert outcomes[1] == outcomes[0]
    disconnections, still_listed, reader_got_all, first, last, get, logged = outcomes[0]
    assert disconnections == 1 and not still_listed and reader_got_all
    assert logged == ["scheduled to be closed ASAP" if pause == 0 else "closed"]
    assert first == {2} and last == 1 and get == b"$1\r\nv\r\n"
