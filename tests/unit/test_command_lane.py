"""The command lane (Server.command_lane / run_in_lane) gives what Server.process gives: the same
replies, stream bytes, statistics and data, for plain commands and for the cases it hands back
to the general path (errors, rewrites, lazy expiry, another DB); and it is closed whenever one
of process's checks could refuse or change a command."""

from __future__ import annotations

import re
import time

from tests.differential import encode_argv
from tests.unit.test_stream_batching import primary
from valsync.commands import ClientState
from valsync.config import Config
from valsync.net.replication import ReplicationService
from valsync.resp.reply import Reply, encode
from valsync.server import Server

SCRIPT: list[list[bytes]] = [
    [b"SET", b"a", b"1"],
    [b"GET", b"a"],
    [b"get", b"missing"],
    [b"INCR", b"a"],
    [b"LPUSH", b"l", b"x", b"y"],
    [b"HSET", b"h", b"f", b"v"],
    [b"ZADD", b"z", b"1", b"m"],
    [b"GET", b"l"],  # WRONGTYPE from the handler
    [b"GET"],  # arity: rejected before the call
    [b"NOSUCH", b"x"],
    [b"SET", b"a", b"2", b"GET"],  # rewritten for the stream
    [b"GETSET", b"a", b"3"],
    [b"SET", b"t", b"v", b"PX", b"1"],
    [b"SLEEP"],  # not a command: the harness waits for the key above to expire
    [b"GET", b"t"],  # lazy expiry, propagated as its own command
    [b"SELECT", b"1"],
    [b"SET", b"b", b"1"],  # another DB: the stream selects it
    [b"SELECT", b"0"],
    [b"DEL", b"a", b"b"],
    [b"BLPOP", b"l", b"0"],  # data there: no block
    [b"APPEND", b"s", b"abc"],
    [b"SETRANGE", b"s", b"1", b"Z"],
]


def run(lane: bool) -> tuple[list[bytes], bytes, dict[str, object], dict[bytes, object], int]:
    server, repl, client, parser = primary()
    replies = []
    laned = 0
    for argv in SCRIPT + SCRIPT:  # the second time, every command's name is known
        if argv == [b"SLEEP"]:
            time.sleep(0.01)
            continue
        parser.feed(encode_argv(argv))
        framed = parser.next_argv()
        assert framed == argv
        table = server.command_lane(client) if lane else {}
        spec = table.get(argv[0])
        if spec is not None and len(argv) in spec.argc:
            reply = server.run_in_lane(client, spec, argv, server.streaming)
            laned += 1
        else:
            reply = server.process(client, argv)
        out = bytearray()
        encode(reply, out, client.resp)  # type: ignore[arg-type]
        replies.append(bytes(out))
        repl.flush_stream()
    backlog = repl.backlog
    assert backlog is not None
    stats = {
        "processed": server.stats.total_commands_processed,
        "errors": server.stats.total_error_replies,
        "client commands": client.commands,
        "dirty": server.dirty,
        "expired": server.stats.expired_keys,
        "commands": {
            name: (stat.calls, stat.failed, stat.rejected, sum(stat.histogram.values()))
            for name, stat in server.cmdstats.commands.items()
        },
        "errorstats": dict(server.cmdstats.errors),
        "last command": client.last_command,
        "offset": client.last_write_offset,
    }
    data = {
        b"%d:%s" % (db.id, key): value
        for db in server.keyspace.dbs
        for key, value in db.data.items()
    }
    return replies, masked(backlog.read_from(1)), stats, data, laned


def masked(stream: bytes) -> bytes:
    """The stream without the absolute expiry time SET PX is propagated with (it differs
    between two runs)."""
    return re.sub(rb"PXAT\r\n\$13\r\n\d{13}", b"PXAT", stream)


def test_the_lane_answers_streams_and_counts_as_process_does() -> None:
    through_process = run(lane=False)
    through_lane = run(lane=True)
    assert through_lane[0] == through_process[0]
    assert through_lane[1] == through_process[1]
    assert through_lane[2] == through_process[2]
    assert through_lane[3].keys() == through_process[3].keys()
    assert through_lane[4] >= 20  # the data commands with the right arity, once known
    # the script did reach the cases handed back to the general path
    assert b"WRONGTYPE" in b"".join(through_lane[0])
    assert b"UNLINK" in through_lane[1] or b"DEL" in through_lane[1]
    assert b"PXAT" in through_lane[1]


def test_the_lane_is_open_for_data_commands_of_a_plain_client() -> None:
    server, _, client, _ = primary()
    server.process(client, [b"SET", b"k", b"v"])
    server.process(client, [b"CONFIG", b"GET", b"port"])
    table = server.command_lane(client)
    assert b"SET" in table
    # admin, container and scripting commands always take process
    assert b"CONFIG" not in table
    server.process(client, [b"EVAL", b"return 1", b"0"])
    assert b"EVAL" not in server.command_lane(client)


def test_the_lane_closes_whenever_a_check_of_process_could_apply() -> None:
    server, _, client, _ = primary()
    server.process(client, [b"SET", b"k", b"v"])
    assert server.command_lane(client)
    client.in_multi = True
    assert not server.command_lane(client)
    client.in_multi = False
    server.process(client, [b"CONFIG", b"SET", b"maxmemory", b"100mb"])
    assert not server.command_lane(client)
    server.process(client, [b"CONFIG", b"SET", b"maxmemory", b"0"])
    server.process(client, [b"CONFIG", b"SET", b"min-replicas-to-write", b"1"])
    assert not server.command_lane(client)
    server.process(client, [b"CONFIG", b"SET", b"min-replicas-to-write", b"0"])
    assert server.command_lane(client)
    server.process(client, [b"CLIENT", b"PAUSE", b"100000", b"WRITE"])
    assert not server.command_lane(client)
    server.process(client, [b"CLIENT", b"UNPAUSE"])
    assert server.command_lane(client)
    server.process(client, [b"CONFIG", b"SET", b"requirepass", b"secret"])
    other = server.new_client("127.0.0.1:3", "127.0.0.1:2", -1)
    assert not server.command_lane(other)
    server.process(other, [b"AUTH", b"secret"])
    assert server.command_lane(other)
    server.process(client, [b"CLIENT", b"TRACKING", b"on"])
    assert not server.command_lane(client)


PIPELINES: list[list[list[bytes]]] = [
    [[b"SET", b"k%d" % i, b"v%d" % i] for i in range(16)],  # a run of plain SETs
    [[b"GET", b"k%d" % i] for i in range(12)] + [[b"GET", b"nokey"]] * 4,  # hits and misses
    [[b"SET", b"k1", b"x"], [b"SET", b"k2", b""], [b"set", b"k3", b"y"], [b"GET", b"k2"]],
    [[b"LPUSH", b"list", b"a"], [b"GET", b"k1"], [b"GET", b"list"], [b"GET", b"k3"]],  # WRONGTYPE
    [[b"SET", b"t", b"v", b"PX", b"100000"], [b"GET", b"t"], [b"GET", b"k1"]],  # a TTL
    [[b"SET", b"k4", b"a" * 40], [b"SET", b"k5", b"1"]],  # a raw string, an int
    [[b"SELECT", b"3"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"], [b"GET", b"a"]],
    [[b"SELECT", b"0"]] + [[b"LPUSH", b"q", b"e%d" % i] for i in range(8)],  # a run of LPUSH
    [[b"LPUSH", b"q2", b"a"], [b"LPUSH", b"k1", b"b"], [b"LPUSH", b"q", b"c"]],  # WRONGTYPE
    [[b"GET", b"k1"], [b"GET", b"k2"], [b"GET", b"q"], [b"GET", b"k3"], [b"GET", b"k4"]],
    [[b"HSET", b"h", b"f%d" % (i % 5), b"v%d" % i] for i in range(10)],  # new and old fields
    [[b"HSET", b"h", b"a", b"1"], [b"HSET", b"k1", b"a", b"1"], [b"hset", b"h", b"b", b"2"]],
    [[b"HSET", b"h2", b"x", b"1"], [b"HSET", b"h2", b"y", b"2"], [b"HSET", b"h", b"z", b"3"]],
]


def snapshot(server: Server, repl: ReplicationService) -> dict[str, object]:
    """What the two ways of running PIPELINES must agree on, besides replies and stream."""
    return {
        "processed": server.stats.total_commands_processed,
        "errors": server.stats.total_error_replies,
        "commands": {
            name: (stat.calls, stat.failed, sum(stat.histogram.values()))
            for name, stat in server.cmdstats.commands.items()
        },
        "data": sorted(
            (db.id, key, value) for db in server.keyspace.dbs for key, value in db.data.items()
        ),
        "stamped": sorted((db.id, key) for db in server.keyspace.dbs for key in db.stamps),
        "offset": repl.master_repl_offset,
    }


async def serve_pipelines(streaming: bool) -> tuple[list[bytes], bytes, dict[str, object]]:
    """PIPELINES sent to a real ClientConnection, each as one write."""
    import hiredis
    import trio

    from valsync.log import ServerLog
    from valsync.net.connection import ClientConnection

    server = Server(Config.from_args(["--port", "0"]), ServerLog(level="nothing"))
    server.repl = repl = ReplicationService(server)
    repl.create_backlog()
    ours, peer = trio.socket.socketpair()
    connection = ClientConnection(server, trio.SocketStream(ours))
    reader = hiredis.Reader()
    replies: list[bytes] = []
    runs = {"get": 0, "set": 0, "lpush": 0, "hset": 0}
    run_gets, run_sets, run_writes = server.run_gets, server.run_sets, server.run_writes

    def counted_gets(client: ClientState, run: list[list[bytes]]) -> list[Reply]:
        got = run_gets(client, run)
        runs["get"] += len(got) > 1
        return got

    def counted_sets(client: ClientState, run: list[list[bytes]], streaming: bool) -> list[Reply]:
        runs["set"] += 1
        return run_sets(client, run, streaming)

    def counted_writes(client: ClientState, run: list[list[bytes]], streaming: bool) -> list[Reply]:
        runs[run[0][0].decode().lower()] += 1
        return run_writes(client, run, streaming)

    server.run_gets = counted_gets  # type: ignore[method-assign]
    server.run_sets = counted_sets  # type: ignore[method-assign]
    server.run_writes = counted_writes  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.run)
        for pipeline in PIPELINES:
            await peer.send(b"".join(encode_argv(argv) for argv in pipeline))
            got = 0
            while got < len(pipeline):
                data = await peer.recv(1 << 16)
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    replies.append(repr(reply).encode())
                    got += 1
        peer.close()
    backlog = repl.backlog
    assert backlog is not None
    stats = snapshot(server, repl)
    # the runs did happen: SETs of the first pipeline and the third, GETs of the second and
    # the last (around a WRONGTYPE), LPUSHes of the last but two
    assert runs["set"] >= 2 and runs["get"] >= 2 and runs["lpush"] >= 1, runs
    assert runs["hset"] >= 2, runs
    return replies, masked(backlog.read_from(1)), stats


def one_by_one() -> tuple[list[bytes], bytes, dict[str, object]]:
    server, repl, client, parser = primary()
    reader_replies: list[bytes] = []
    import hiredis

    reader = hiredis.Reader()
    for pipeline in PIPELINES:
        for argv in pipeline:
            parser.feed(encode_argv(argv))
            assert parser.next_argv() == argv
            out = bytearray()
            encode(server.process(client, argv), out, client.resp)  # type: ignore[arg-type]
            reader.feed(bytes(out))
            reader_replies.append(repr(reader.gets()).encode())
            repl.flush_stream()
    backlog = repl.backlog
    assert backlog is not None
    stats = snapshot(server, repl)
    return reader_replies, masked(backlog.read_from(1)), stats


async def test_pipelined_runs_match_one_by_one() -> None:
    """Pipelined plain GETs, SETs, LPUSHes and HSETs run at once through the connection
    (Server.run_gets, run_sets, run_writes) reply, stream, store, touch and count as the same
    commands sent one by one."""
    piped = await serve_pipelines(streaming=True)
    single = one_by_one()
    assert piped[0] == single[0]
    assert piped[1] == single[1]
    assert piped[2] == single[2]
