"""Fuzzing the replica's stream applier: the primary's command stream, mutated, framed by
``ReplicationStreamReader`` and run by ``Server.process`` on the primary-link client, as
``valsync.net.replica_side`` does (minus the socket).

Bad framing ends in ``RemoteProtocolError`` (the link is dropped and resynced); a command
that does not apply answers an error; nothing raises anything else, and framing does not
depend on how the bytes were chunked.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.fuzz.support import (
    assert_no_internal_error,
    budget,
    chunked,
    fresh_server,
    guarded,
    mutated,
)
from valsync.replication import RemoteProtocolError, ReplicationStreamReader
from valsync.replication.stream import is_getack
from valsync.resp.reply import encode_command

VECTORS = Path(__file__).parents[2] / "vectors"

# What Valkey primaries propagate (rewritten forms: PXAT, SET KEEPTTL, SREM for SPOP...).
PROPAGATED = [
    [b"SELECT", b"0"],
    [b"SET", b"s", b"v", b"PXAT", b"4102444800000"],
    [b"MULTI"],
    [b"INCRBY", b"n", b"5"],
    [b"SET", b"f", b"1.5", b"KEEPTTL"],
    [b"EXEC"],
    [b"RPUSH", b"l", b"a", b"b", b"c"],
    [b"LTRIM", b"l", b"0", b"1"],
    [b"HSET", b"h", b"f", b"v", b"g", b"w"],
    [b"HPEXPIREAT", b"h", b"4102444800000", b"FIELDS", b"1", b"f"],
    [b"ZADD", b"z", b"1", b"a", b"2.5", b"b"],
    [b"SADD", b"t", b"x", b"y"],
    [b"SREM", b"t", b"x"],
    [b"XADD", b"x", b"1-1", b"f", b"v"],
    [b"XGROUP", b"CREATE", b"x", b"g", b"0"],
    [
        b"XCLAIM",
        b"x",
        b"g",
        b"c",
        b"0",
        b"1-1",
        b"TIME",
        b"0",
        b"RETRYCOUNT",
        b"1",
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        b"1-1",
    ],  # fmt: skip
    [b"PEXPIREAT", b"l", b"4102444800000"],
    [b"SETRANGE", b"s", b"2", b"xyz"],
    [b"PFADD", b"p", b"a", b"b"],
    [b"SETBIT", b"b", b"7", b"1"],
    [b"DEL", b"n"],
    [b"SELECT", b"9"],
    [b"RENAME", b"nokey", b"other"],
    [b"REPLCONF", b"GETACK", b"*"],
    [b"ping"],
    [b"FLUSHDB"],
]


def stream_seeds() -> list[bytes]:
    seeds = [b"".join(encode_command(argv) for argv in PROPAGATED)]
    for path in sorted((VECTORS / "primary-to-fake-replica").glob("*.session2.s2c.bin")):
        data = path.read_bytes()
        start = data.find(b"+CONTINUE")
        seeds.append(data[data.index(b"\n", start) + 1 :])
    return seeds


SEEDS = stream_seeds()


def frame(pieces: list[bytes]) -> list[object]:
    reader = ReplicationStreamReader(100)
    out: list[object] = []
    try:
        for piece in pieces:
            reader.receive_data(piece)
            while (argv := reader.next_argv()) is not None:
                out.append((argv, reader.command_start, reader.read_offset))
                reader.argv_done(argv)
                assert reader.applied_offset <= reader.read_offset
    except RemoteProtocolError as err:
        out.append(("error", str(err)))  # the link is dropped: what was buffered is moot
    else:
        out.append((reader.read_offset, reader.applied_offset, reader.pending, reader.in_multi))
    return out


def apply(data: bytes) -> None:
    server, log = fresh_server()
    client = server.new_client(addr="127.0.0.1:6379")
    client.is_primary_link = True
    client.authenticated = True
    reader = ReplicationStreamReader(0)
    reader.receive_data(data)
    server.applying_primary_stream = True
    try:
        while (argv := reader.next_argv()) is not None:
            if not is_getack(argv):
                reply = server.process(client, argv)
                assert_no_internal_error(reply, log)
            reader.argv_done(argv)
    except RemoteProtocolError:
        pass
    finally:
        server.applying_primary_stream = False


@settings(max_examples=budget(150))
@given(mutated(SEEDS), st.lists(st.integers(0, 1 << 12), max_size=5))
@example(b"*1\r\n$4\r\nping\r\n\n\r\n*0\r\n*-1\r\nset\r\n", [5])
def test_mutated_stream_applies_or_drops_the_link(data: bytes, cut: list[int]) -> None:
    with guarded("stream-applier"):
        assert frame(chunked(data, cut)) == frame([data])
        apply(data)
