"""RdbPayloadReceiver, ReplicationStreamReader and StreamEncoder against real captures.

The primary-to-fake-replica captures hold a real primary's bytes: handshake replies,
keepalives, ``+FULLRESYNC``, the RDB payload (extracted to ``session1.rdb``) and the stream
whose commands and offsets are decoded in ``meta.json``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.replvec import line_end, meta, vec
from valsync.commands.context import Propagated
from valsync.replication import (
    GETACK_BYTES,
    PING_BYTES,
    RdbAborted,
    RdbBegin,
    RdbChunk,
    RdbEnd,
    RdbEvent,
    RdbKeepalive,
    RdbPayloadReceiver,
    RemoteProtocolError,
    ReplicationStreamReader,
    StreamEncoder,
    disk_frame,
    encode_ack,
    eof_mark_frame,
)

PRIMARIES = [
    "primary-8.1.8-disk",
    "primary-8.1.8-diskless",
    "primary-9.1.2-disk",
    "primary-9.1.2-diskless",
]
FAKE_PRIMARY_SCENARIOS = [
    "replica-8.1.8-classic-eof",
    "replica-8.1.8-classic-disk",
    "replica-8.1.8-classic-eof-auth-announce-ip",
    "replica-9.1.2-classic-eof",
    "replica-9.1.2-classic-disk",
    "replica-9.1.2-classic-eof-auth-announce-ip",
]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def run_receiver(chunks: list[bytes]) -> tuple[list[RdbEvent], bytes, bytes]:
    """Feed chunks; returns (events, rdb bytes, every byte after the payload)."""
    rx = RdbPayloadReceiver()
    events: list[RdbEvent] = []
    rdb = bytearray()
    for chunk in chunks:
        for ev in rx.receive_data(chunk):
            events.append(ev)
            if isinstance(ev, RdbChunk):
                rdb += ev.data
    assert rx.done
    return events, bytes(rdb), rx.unused_data


def primary_session1(name: str) -> tuple[bytes, bytes, bytes, dict[str, object]]:
    """(bytes after +FULLRESYNC line, expected rdb, expected stream bytes, meta)."""
    s2c = vec(f"primary-to-fake-replica/{name}.session1.s2c.bin")
    rdb = vec(f"primary-to-fake-replica/{name}.session1.rdb")
    m = meta(f"primary-to-fake-replica/{name}.meta.json")
    after = s2c[line_end(s2c, b"+FULLRESYNC") :]
    payload = m["payload"]
    if payload["style"] == "eof":
        mark = payload["mark"].encode()
        framed = eof_mark_frame(mark) + rdb + mark
    else:
        framed = disk_frame(len(rdb)) + rdb
    start = after.index(framed)
    assert after[:start] == b"\n" * start
    return after, rdb, after[start + len(framed) :], m


@pytest.mark.parametrize("name", PRIMARIES)
@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=25))
def test_payload_from_real_primary_any_chunking(name: str, cuts: list[int]) -> None:
    after, rdb, stream, m = primary_session1(name)
    events, got_rdb, rest = run_receiver(split(after, cuts))
    assert got_rdb == rdb
    assert rest == stream
    begins = [e for e in events if isinstance(e, RdbBegin)]
    assert len(begins) == 1
    if m["payload"]["style"] == "eof":  # type: ignore[index]
        assert begins[0] == RdbBegin(None, m["payload"]["mark"].encode())  # type: ignore[index]
    else:
        assert begins[0] == RdbBegin(len(rdb), None)
    assert isinstance(events[-1], RdbEnd)


@pytest.mark.parametrize("name", PRIMARIES)
def test_payload_byte_at_a_time(name: str) -> None:
    after, rdb, stream, _ = primary_session1(name)
    events, got_rdb, rest = run_receiver([after[i : i + 1] for i in range(len(after))])
    assert got_rdb == rdb and rest == stream
    # Never emitted a chunk containing mark bytes: the total is exact.
    assert sum(len(e.data) for e in events if isinstance(e, RdbChunk)) == len(rdb)


@pytest.mark.parametrize("name", FAKE_PRIMARY_SCENARIOS)
@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=800), max_size=15))
def test_payload_from_fake_primary_any_chunking(name: str, cuts: list[int]) -> None:
    s2c = vec(f"replica-to-fake-primary/{name}.conn1.s2c.bin")
    rdb = vec("replica-to-fake-primary/fake-primary-sample.rdb")
    after = s2c[line_end(s2c, b"+FULLRESYNC") :]
    events, got_rdb, rest = run_receiver(split(after, cuts))
    assert got_rdb == rdb
    assert rest.startswith(b"*2\r\n$6\r\nSELECT\r\n")
    assert sum(isinstance(e, RdbKeepalive) for e in events) == after.index(b"$")


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_payload_after_sync_fallback_has_keepalives(version: str) -> None:
    s2c = vec(f"replica-quirks/psync-err-then-sync-{version}.conn1.s2c.bin")
    after = s2c[line_end(s2c, b"-ERR") :]
    events, got_rdb, rest = run_receiver([after])
    assert isinstance(events[0], RdbKeepalive)
    assert got_rdb == vec("replica-to-fake-primary/fake-primary-sample.rdb")
    assert rest.startswith(b"*2\r\n$6\r\nSELECT")


def test_error_line_aborts_and_garbage_raises() -> None:
    rx = RdbPayloadReceiver()
    assert rx.receive_data(b"\n-ERR BGSAVE failed\r\nx") == [
        RdbKeepalive(),
        RdbAborted("ERR BGSAVE failed"),
    ]
    assert rx.done and rx.unused_data == b"x"
    with pytest.raises(RemoteProtocolError):
        RdbPayloadReceiver().receive_data(b"+FOO\r\n")
    with pytest.raises(RemoteProtocolError):
        RdbPayloadReceiver().receive_data(b"$abc\r\n")


def test_mark_split_and_short_eof_header_is_a_length() -> None:
    mark = b"0123456789abcdef0123456789abcdef01234567"
    data = eof_mark_frame(mark) + b"RDBDATA" + mark + b"*1\r\n$4\r\nping\r\n"
    for i in range(len(data) + 1):
        _, rdb, rest = run_receiver([data[:i], data[i:]])
        assert rdb == b"RDBDATA" and rest == b"*1\r\n$4\r\nping\r\n"
    with pytest.raises(RemoteProtocolError):  # "$EOF:" with a short mark is not EOF framing
        RdbPayloadReceiver().receive_data(b"$EOF:abc\r\n")
    _, rdb, rest = run_receiver([disk_frame(0) + b"tail"])
    assert rdb == b"" and rest == b"tail"


# --- the stream --------------------------------------------------------------------------


def decoded(m: dict[str, object], key: str) -> list[tuple[int, list[bytes]]]:
    return [(off, [a.encode() for a in argv]) for off, argv in m[key]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", PRIMARIES)
def test_stream_reader_offsets_match_meta(name: str) -> None:
    _, _, stream, m = primary_session1(name)
    start = int(str(m["psync_reply"]).split()[2])
    reader = ReplicationStreamReader(start)
    got = []
    for i in range(0, len(stream), 7):
        reader.receive_data(stream[i : i + 7])
        while (cmd := reader.next_command()) is not None:
            got.append((cmd.start, cmd.argv))
            if cmd.is_getack:
                assert reader.applied_offset == cmd.start
            reader.command_done(cmd)
            if reader.in_multi:
                assert reader.applied_offset < cmd.end
    assert got == decoded(m, "stream1_commands")
    assert reader.read_offset == reader.applied_offset == m["stream1_end_offset"]


def units_from(commands: list[tuple[int, list[bytes]]]) -> list[list[Propagated]]:
    """Rebuild the execution units a primary propagated from a decoded stream."""
    units: list[list[Propagated]] = []
    db = -1
    tx: list[Propagated] | None = None
    for _, argv in commands:
        name = argv[0].lower()
        if name == b"select":
            db = int(argv[1])
        elif name == b"multi":
            tx = []
        elif name == b"exec":
            assert tx is not None
            units.append(tx)
            tx = None
        else:
            dbid = -1 if name in (b"ping", b"replconf") else db
            item = Propagated(dbid, argv)
            if tx is not None:
                tx.append(item)
            else:
                units.append([item])
    return units


@pytest.mark.parametrize("name", PRIMARIES)
def test_stream_encoder_reproduces_real_stream(name: str) -> None:
    _, _, stream, m = primary_session1(name)
    enc = StreamEncoder()
    enc.reset_selected_db()
    out = b"".join(enc.encode_unit(u) for u in units_from(decoded(m, "stream1_commands")))
    assert out == stream
    # Session 2 continues the same stream after +CONTINUE (no SELECT forced).
    s2c = vec(f"primary-to-fake-replica/{name}.session2.s2c.bin")
    tail = s2c[line_end(s2c, b"+CONTINUE") :]
    out2 = b"".join(enc.encode_unit(u) for u in units_from(decoded(m, "stream2_commands")))
    assert out2 == tail


def test_encoder_select_rules() -> None:
    enc = StreamEncoder()
    assert enc.encode_unit([Propagated(-1, [b"PING"])]) == b"*1\r\n$4\r\nPING\r\n"
    assert enc.encode_unit([Propagated(3, [b"DEL", b"k"])]).startswith(
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL"
    )
    assert enc.encode_unit([Propagated(3, [b"DEL", b"k"])]) == b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
    assert enc.ping() == PING_BYTES == b"*1\r\n$4\r\nping\r\n"
    assert enc.getack() == GETACK_BYTES
    assert enc.encode_unit([]) == b""
    enc.reset_selected_db()
    two = enc.encode_unit([Propagated(12, [b"SET", b"a", b"1"]), Propagated(12, [b"INCR", b"b"])])
    assert two == (
        b"*1\r\n$5\r\nMULTI\r\n*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n*1\r\n$4\r\nEXEC\r\n"
    )


@pytest.mark.parametrize(
    "name", ["replica-8.1.8-classic-eof-auth-announce-ip", "replica-9.1.2-classic-eof"]
)
def test_replica_acks_match_real_replica(name: str) -> None:
    """The ACK a real replica sent for GETACK equals our offset before the GETACK."""
    s2c = vec(f"replica-to-fake-primary/{name}.conn1.s2c.bin")
    c2s = vec(f"replica-to-fake-primary/{name}.conn1.c2s.bin")
    after = s2c[line_end(s2c, b"+FULLRESYNC") :]
    _, _, stream = run_receiver([after])
    reader = ReplicationStreamReader(1000)
    reader.receive_data(stream)
    acks = [encode_ack(1000)]
    while (cmd := reader.next_command()) is not None:
        if cmd.is_getack:
            acks.append(encode_ack(reader.applied_offset))
        reader.command_done(cmd)
    acks.append(encode_ack(reader.applied_offset))
    assert b"".join(acks) in c2s
    assert reader.applied_offset == 1108


def test_stream_reader_keepalive_multi_and_errors() -> None:
    r = ReplicationStreamReader(10)
    r.receive_data(b"\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n")
    multi = r.next_command()
    assert multi is not None and multi.start == 10 and r.keepalives == 1
    r.command_done(multi)
    assert r.in_multi and r.applied_offset == 10
    cmd = r.next_command()
    assert cmd is not None
    r.command_done(cmd)
    assert r.applied_offset == 10
    r.receive_data(b"*1\r\n$4\r\nEXEC\r\n")
    ex = r.next_command()
    assert ex is not None
    r.command_done(ex)
    assert not r.in_multi and r.applied_offset == r.read_offset == ex.end
    bad = ReplicationStreamReader(0)
    bad.receive_data(b"SET a b\r\n")
    with pytest.raises(RemoteProtocolError):
        bad.next_command()
    bad2 = ReplicationStreamReader(0)
    bad2.receive_data(b"*1\r\n+x\r\n")
    with pytest.raises(RemoteProtocolError):
        bad2.next_command()
    assert (
        encode_ack(50, 50)
        == b"*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n50\r\n$4\r\nFACK\r\n$2\r\n50\r\n"
    )


def test_discard_pending_transaction_rewinds_to_applied() -> None:
    r = ReplicationStreamReader(100)
    r.receive_data(b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n*1\r\n$4\r\nEX")
    for _ in range(2):
        cmd = r.next_command()
        assert cmd is not None
        r.command_done(cmd)
    assert r.read_offset == 100 + 15 + 21 and r.applied_offset == 100 and r.pending == 10
    r.discard_pending_transaction()
    assert (r.read_offset, r.applied_offset, r.pending, r.in_multi) == (100, 100, 0, False)
