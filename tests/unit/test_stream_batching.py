"""A client's plain writes reach the backlog as one run per read batch (feed_request), and
whatever reads the backlog or adds other stream bytes sees them first, in order."""

from __future__ import annotations

from tests.differential import encode_argv
from valsync.commands import ClientState
from valsync.config import Config
from valsync.net.replication import ReplicationService
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
