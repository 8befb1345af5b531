"""Memory a server gives back: closed connections without waiting for the cycle collector,
freed heap pages after the keyspace is emptied."""

from __future__ import annotations

import gc
import weakref

import trio
from pytest import MonkeyPatch

from tests.unit.cmdutil import Harness
from valsync.commands import server_cmds
from valsync.commands.context import ClientState
from valsync.config import Config
from valsync.heap import release_free_memory
from valsync.log import ServerLog
from valsync.net.connection import ClientConnection
from valsync.server import Server


def test_a_closed_connection_is_freed_by_reference_counting() -> None:
    """The client state and the connection (its buffers, parser, context) go when the peer
    hangs up, not at the next full collection, which a busy server runs rarely."""

    async def serve_one() -> weakref.ref[ClientState]:
        server = Server(Config.from_args(["--port", "0"]), ServerLog())
        ours, peer = trio.socket.socketpair()
        connection = ClientConnection(server, trio.SocketStream(ours))
        client = weakref.ref(connection.client)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.run)
            await peer.send(b"SET k v\r\nGET k\r\n")
            replies = b""
            while len(replies) < len(b"+OK\r\n$1\r\nv\r\n"):
                replies += await peer.recv(100)
            assert replies == b"+OK\r\n$1\r\nv\r\n"
            peer.close()
        assert client() is connection.client
        return client

    gc.collect()
    gc.disable()
    try:
        client = trio.run(serve_one)
        assert client() is None
    finally:
        gc.enable()


def test_a_flush_that_empties_the_keyspace_releases_memory(monkeypatch: MonkeyPatch) -> None:
    """Only then: a full collection with a big dataset left would stall the server."""
    calls: list[bool] = []
    monkeypatch.setattr(server_cmds, "release_free_memory", lambda collect: calls.append(collect))
    h = Harness()
    h.run("SET", "a", "1")
    h.run("SELECT", "1")
    h.run("SET", "b", "1")
    h.run("FLUSHDB")
    assert calls == []  # db 0 still holds a key
    h.run("FLUSHALL")
    assert calls == [True]
    h.run("FLUSHALL")
    assert calls == [True]  # nothing was freed
    h.run("SET", "c", "1")
    h.run("FLUSHDB")
    assert calls == [True, True]


def test_release_free_memory_leaves_live_objects_intact() -> None:
    kept = [bytes([i % 256]) * 600 for i in range(2000)]
    del kept[::2]
    release_free_memory(collect=True)
    assert [k[0] for k in kept] == [i % 256 for i in range(1, 2000, 2)]
