"""maxmemory-clients as valkey 8.1.8: a client whose query buffer, transaction or pending
output passes the limit is evicted (largest first); no-evict clients stay; CLIENT LIST shows
the memory the decision uses."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from tests.differential import RawClient, encode_argv
from tests.integration.support import wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

LIMIT = 1_000_000


@pytest.fixture(params=["valsync", "valkey"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    start = start_valsync if request.param == "valsync" else (lambda: start_valkey("8.1.8"))
    with start() as s:
        yield s


def _named(port: int, name: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(encode_argv(("CLIENT", "SETNAME", name)))
    assert sock.recv(100) == b"+OK\r\n"
    return sock


def _field(listing: str, name: str, field: str) -> int | None:
    for line in listing.splitlines():
        if f" name={name} " in line:
            match = re.search(rf" {field}=(\d+)", line)
            assert match is not None
            return int(match.group(1))
    return None


def _control(server: ServerProcess) -> RawClient:
    control = RawClient(server.port)
    assert control.call("CLIENT", "NO-EVICT", "ON") == b"+OK\r\n"
    assert control.call("CONFIG", "SET", "maxmemory-clients", str(LIMIT)) == b"+OK\r\n"
    return control


def test_partial_big_argument_is_counted_and_evicted(server: ServerProcess) -> None:
    control = _control(server)
    small = _named(server.port, "small")
    big = _named(server.port, "big")
    half = LIMIT // 2
    small.sendall(b"*1\r\n$%d\r\n" % half + b"v" * 1000)

    def listing() -> str:
        return control.call("CLIENT", "LIST").decode()

    wait_until(lambda: (_field(listing(), "small", "qbuf") or 0) > 0, what="small qbuf")
    text = listing()
    # room for the whole argument is taken as soon as its header arrived
    assert half <= (_field(text, "small", "tot-mem") or 0) < LIMIT
    assert _field(text, "small", "qbuf") == 1000
    big.sendall(b"*1\r\n$%d\r\n" % LIMIT + b"v" * 1000)
    wait_until(lambda: _field(listing(), "big", "tot-mem") is None, what="big evicted")
    assert _field(listing(), "small", "tot-mem") is not None
    assert b"\r\nevicted_clients:1\r\n" in control.call("INFO", "stats")
    small.close()
    big.close()


def _queue_sets(sock: socket.socket, value: bytes, count: int) -> bytes:
    """MULTI then ``count`` SETs, one at a time; what came back (less when closed)."""
    got = b""
    for argv in [(b"MULTI",)] + [(b"SET", b"k", value)] * count:
        try:
            sock.sendall(encode_argv(argv))
            reply = sock.recv(100)
        except OSError:
            break
        if not reply:
            break
        got += reply
    return got


def test_transaction_and_no_evict(server: ServerProcess) -> None:
    control = _control(server)
    kept = _named(server.port, "kept")
    kept.sendall(encode_argv(("CLIENT", "NO-EVICT", "ON")))
    assert kept.recv(100) == b"+OK\r\n"
    dropped = _named(server.port, "dropped")
    value = b"v" * (LIMIT // 4)
    # the no-evict client's transaction counts toward the limit but it stays
    assert _queue_sets(kept, value, 3) == b"+OK\r\n" + b"+QUEUED\r\n" * 3
    # its queued SETs take it over the limit: it goes, the no-evict client stays
    assert _queue_sets(dropped, value, 3).startswith(b"+OK\r\n")
    wait_until(
        lambda: _field(control.call("CLIENT", "LIST").decode(), "dropped", "tot-mem") is None,
        what="dropped evicted",
    )
    text = control.call("CLIENT", "LIST").decode()
    assert (_field(text, "kept", "multi-mem") or 0) > 3 * LIMIT // 4
    kept.close()
    dropped.close()
