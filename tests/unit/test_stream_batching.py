"""A client's plain writes reach the backlog as one run per read batch (feed_request), and
whatever reads the backlog or adds other stream bytes sees them first, in order."""

from __future__ import annotations

import trio
import trio.testing

from tests.differential import encode_argv
from valsync.commands import ClientState
from valsync.config import Config
from valsync.net.replica_link import ReplicaLink
from valsync.net.replication import SETTLE_BYTES, ReplicationService
from valsync.replication.replicas import ReplicaInfo, ReplicaState
from valsync.resp.request import RequestParser
from valsync.server import Server


def primary() -> tuple[Server, ReplicationService, ClientState, RequestParser]:
    server = Server(Config())
    server.repl = repl = ReplicationService(server)
    repl.create_backlog()
    client = server.new_client("127.0.0.1:1", "127.0.0.1:2", -1)
    parser = RequestParser()
    client.request_source = parser
    return server, repl, client, parser


def run_batch(server: Server, client: ClientState, parser: RequestParser, data: bytes) -> None:
    parser.feed(data)
    while (argv := parser.next_argv()) is not None:
        server.process(client, argv)


def test_a_batch_is_counted_at_once_and_appended_when_the_backlog_is_read() -> None:
    server, repl, client, parser = primary()
    select = encode_argv([b"SELECT", b"0"])
    writes = [encode_argv([b"SET", b"k%d" % i, b"v%d" % i]) for i in range(5)]
    run_batch(server, client, parser, b"".join(writes))
    # the first write selects the DB (encoded), the others are streamed as they were sent
    expected = select + b"".join(writes)
    assert repl.master_repl_offset == len(expected)
    assert client.last_write_offset == len(expected)
    backlog = repl.backlog
    assert backlog is not None
    assert backlog.end_offset == len(expected)
    assert backlog.read_from(1) == expected


def test_other_stream_bytes_keep_their_place_after_pending_requests() -> None:
    server, repl, client, parser = primary()
    first = encode_argv([b"SET", b"a", b"1"])
    second = encode_argv([b"SET", b"b", b"2"])
    run_batch(server, client, parser, first)
    run_batch(server, client, parser, second)  # a new buffer: a second run
    repl.feed_raw(b"*1\r\n$4\r\nping\r\n")
    third = encode_argv([b"SET", b"c", b"3"])
    run_batch(server, client, parser, third)
    repl.flush_stream()
    backlog = repl.backlog
    assert backlog is not None
    stream = backlog.read_from(1)
    assert (
        stream == encode_argv([b"SELECT", b"0"]) + first + second + b"*1\r\n$4\r\nping\r\n" + third
    )
    assert repl.master_repl_offset == backlog.end_offset == len(stream)


def test_a_rewritten_write_between_plain_ones_stays_in_order() -> None:
    server, repl, client, parser = primary()
    plain = encode_argv([b"SET", b"a", b"1"])
    rewritten = encode_argv([b"SET", b"b", b"2", b"EX", b"100"])  # propagated with PXAT
    after = encode_argv([b"SET", b"c", b"3"])
    run_batch(server, client, parser, plain + rewritten + after)
    backlog = repl.backlog
    assert backlog is not None
    stream = backlog.read_from(1)
    assert stream.startswith(encode_argv([b"SELECT", b"0"]) + plain)
    assert stream.endswith(after)
    assert b"PXAT" in stream[: -len(after)]
    assert repl.master_repl_offset == len(stream)


class SpanSource:
    """A client buffer as the parser offers it: the last request is ``buffer[start:end]``."""

    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer

    def last_span(self) -> tuple[bytearray, int, int]:
        return self.buffer, 0, len(self.buffer)


def test_a_flushed_batch_no_longer_depends_on_the_client_buffer() -> None:
    server, repl, client, parser = primary()
    run_batch(server, client, parser, encode_argv([b"SET", b"a", b"1"]))  # selects the DB
    repl.flush_stream()
    write = encode_argv([b"SET", b"b", b"2"])
    buffer = bytearray(write)
    repl.feed_request(0, SpanSource(buffer))  # type: ignore[arg-type]
    repl.flush_stream()
    buffer[:] = b"x" * len(buffer)  # the connection's next read reuses its buffer
    backlog = repl.backlog
    assert backlog is not None
    assert backlog.read_from(1).endswith(write)
    assert backlog.end_offset == repl.master_repl_offset


def test_batches_wait_for_a_busy_link_and_go_at_once_to_an_idle_one() -> None:
    async def scenario() -> None:
        server, repl, client, parser = primary()
        ours, peer = trio.testing.memory_stream_pair()
        info = ReplicaInfo(client_id=99, state=ReplicaState.ONLINE)
        link = ReplicaLink(
            ClientState(id=99),
            info,
            ours,  # type: ignore[arg-type]
            backlog=lambda: repl.backlog,
            on_idle=repl._link_idle,
        )
        repl.links[99] = link
        link.start_stream(repl.master_repl_offset + 1)
        first = [encode_argv([b"SET", b"k%d" % i, b"v"]) for i in range(3)]
        second = [encode_argv([b"LPUSH", b"l", b"%d" % i]) for i in range(3)]
        got = bytearray()
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(link.run, b"")
                await trio.testing.wait_all_tasks_blocked()  # it sent nothing and waits
                run_batch(server, client, parser, b"".join(first))
                repl.flush_stream()  # the link waited: the batch goes to it at once
                assert repl._backlog is not None
                assert repl._backlog.end_offset == repl.master_repl_offset
                run_batch(server, client, parser, b"".join(second))
                repl.flush_stream()  # the link has not run since: it takes this one later
                assert repl._backlog.end_offset < repl.master_repl_offset
                while len(got) < repl.master_repl_offset:
                    got += await peer.receive_some(65536)
                link.close()
        stream = encode_argv([b"SELECT", b"0"]) + b"".join(first) + b"".join(second)
        assert got == stream

    trio.run(scenario)


def test_pending_batches_settle_at_a_size_bound_without_any_reader() -> None:
    server, repl, client, parser = primary()
    write = encode_argv([b"SET", b"key", b"v" * 100])
    run_batch(server, client, parser, write)  # selects the DB: encoded, appended at once
    repl.flush_stream()
    assert repl._backlog is not None
    settled = repl._backlog.end_offset
    while repl._backlog.end_offset == settled:
        run_batch(server, client, parser, write)
        repl.flush_stream()
        assert repl.master_repl_offset - settled <= SETTLE_BYTES + len(write)
    assert repl._backlog.end_offset == repl.master_repl_offset
    assert repl.master_repl_offset - settled >= SETTLE_BYTES
