"""The trio shell over in-memory streams: a replica link's ordering, the RDB child manager."""

from __future__ import annotations

import os

import trio
import trio.testing

from valsync.commands import ClientState
from valsync.net.rdb_child import RdbChildManager
from valsync.net.replica_link import CloseLink, ReplicaLink, WaitFirstAck
from valsync.rdb.child import ProgressWriter
from valsync.replication.backlog import BLOCK_SIZE, ReplicationBacklog
from valsync.replication.replicas import ReplicaInfo, ReplicaState


async def _read_until(stream: trio.abc.ReceiveStream, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = await stream.receive_some(65536)
        assert chunk, data
        data += chunk
    return data


async def test_stream_after_eof_payload_waits_for_the_first_ack() -> None:
    ours, peer = trio.testing.memory_stream_pair()
    info = ReplicaInfo(client_id=1, state=ReplicaState.WAIT_BGSAVE_END)
    backlog = ReplicationBacklog()
    link = ReplicaLink(ClientState(id=1), info, ours, backlog=lambda: backlog)  # type: ignore[arg-type]
    link.hold_stream_from(1)
    link.push(b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n$EOF:" + b"m" * 40 + b"\r\nRDB" + b"m" * 40)
    backlog.append(b"*1\r\n$4\r\nping\r\n")  # held: produced during the snapshot
    link.push(WaitFirstAck())
    link.start_stream()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(link.run, b"")
            got = await _read_until(peer, b"RDB" + b"m" * 40)
            with trio.move_on_after(0.2):
                extra = await peer.receive_some(100)
                raise AssertionError(f"stream sent before the ACK: {extra!r}")
            await peer.send_all(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n")
            assert await _read_until(peer, b"ping\r\n") == b"*1\r\n$4\r\nping\r\n"
            assert info.ack_offset == 0 and link.first_ack.is_set()
            link.push(CloseLink())
    assert got.startswith(b"+FULLRESYNC")


async def test_a_replica_is_sent_the_stream_from_the_backlog_which_it_pins() -> None:
    ours, peer = trio.testing.memory_stream_pair()
    info = ReplicaInfo(client_id=3, state=ReplicaState.ONLINE)
    backlog = ReplicationBacklog(size=BLOCK_SIZE)
    link = ReplicaLink(ClientState(id=3), info, ours, backlog=lambda: backlog)  # type: ignore[arg-type]
    link.start_stream(1)
    data = bytes(range(256)) * (BLOCK_SIZE // 256) * 8
    backlog.append(data)
    # nothing sent yet: the backlog keeps all of it for this replica
    assert backlog.histlen == len(data) and link.pending_stream_bytes == len(data)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(link.run, b"")
            got = bytearray()
            while len(got) < len(data):
                got += await peer.receive_some(65536)
            assert got == data
            await trio.testing.wait_all_tasks_blocked()
            link.close()
    # sent and unpinned: trimmed back to the configured size (plus at most one block)
    assert backlog.histlen <= 2 * BLOCK_SIZE


async def test_replica_commands_get_no_reply_and_acks_only_grow() -> None:
    ours, peer = trio.testing.memory_stream_pair()
    info = ReplicaInfo(client_id=2, state=ReplicaState.ONLINE)
    link = ReplicaLink(ClientState(id=2), info, ours)  # type: ignore[arg-type]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(link.run, b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n50\r\n")
            await peer.send_all(
                b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n10\r\n\n*1\r\n$4\r\nPING\r\n"
            )
            await trio.testing.wait_all_tasks_blocked()
            assert info.ack_offset == 50
            link.push(b"x")
            assert await peer.receive_some(10) == b"x"
            await peer.aclose()


async def test_rdb_child_manager_relays_bytes_and_reports_progress() -> None:
    manager = RdbChildManager()

    def body(data_fd: int | None, progress: ProgressWriter) -> None:
        assert data_fd is not None
        for i in range(100):
            os.write(data_fd, b"%04d" % i)
        progress.report(100, 400)

    received = bytearray()

    async def on_data(chunk: bytes) -> None:
        received.extend(chunk)

    with trio.fail_after(10):
        result = await manager.run(body, "socket", on_data)
    assert result.ok and result.keys == 100 and result.bytes == 400
    assert bytes(received) == b"".join(b"%04d" % i for i in range(100))
    assert not manager.busy and manager.total_forks == 1


async def test_a_failing_child_reports_its_error() -> None:
    manager = RdbChildManager()

    def body(data_fd: int | None, progress: ProgressWriter) -> None:
        raise OSError(28, "No space left on device")

    with trio.fail_after(10):
        result = await manager.run(body, "disk")
    assert not result.ok and result.exit_code == 1
    assert result.error is not None and "No space left" in result.error
