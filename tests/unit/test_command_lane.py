"""The command lane (Server.command_lane / run_in_lane) gives what Server.process gives: the same
replies, stream bytes, statistics and data, for plain commands and for the cases it hands back
to the general path (errors, rewrites, lazy expiry, another DB); and it is closed whenever one
of process's checks could refuse or change a command."""

from __future__ import annotations

import re
import time

from tests.differential import encode_argv
from valsync.commands import ClientState
from valsync.config import Config
from valsync.net.replication import ReplicationService
from valsync.resp.reply import encode
from valsync.resp.request import RequestParser
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


def primary() -> tuple[Server, ReplicationService, ClientState, RequestParser]:
    server = Server(Config())
    server.repl = repl = ReplicationService(server)
    repl.create_backlog()
    client = server.new_client("127.0.0.1:1", "127.0.0.1:2", -1)
    parser = RequestParser()
    client.request_source = parser
    return server, repl, client, parser


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
    # the absolute expiry time SET PX is propagated with differs between the two runs
    stream = re.sub(rb"PXAT\r\n\$13\r\n\d{13}", b"PXAT", backlog.read_from(1))
    return replies, stream, stats, data, laned


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
