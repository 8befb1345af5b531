"""Dual-channel sync, replica side: the RDB channel and the main channel's resume, replayed
against captures of real 8.1.8/9.1.2 replicas (and real primaries, in ``real-pairs``)."""

from __future__ import annotations

import pytest

from tests.unit.replvec import frame_all, line_end, names, vec
from valsync.replication import (
    Continue,
    EndOffset,
    HandshakeConfig,
    HandshakeFailed,
    Keepalive,
    RdbChannelHandshake,
    RdbChunk,
    RdbEnd,
    RdbPayloadReceiver,
    ReplicaHandshake,
    SendBytes,
    endoff_frame,
    parse_endoff,
)

RDB_CHANNEL_CONNS = [
    n
    for n in names("replica-to-fake-primary/*dual-channel*.c2s.bin")
    + names("real-pairs/*dual-channel*.c2s.bin")
    if b"rdb-channel" in vec(n)
]


def config_from(c2s: bytes) -> tuple[HandshakeConfig, bool, int]:
    """(config, announce_version, bytes up to and including SYNC) from a real RDB channel."""
    port = 0
    ip = user = auth = None
    version = "8.1.8"
    announce_version = False
    consumed = 0
    for req in frame_all(c2s):
        consumed += req.nbytes
        if req.argv[0].upper() == b"AUTH":
            auth = req.argv[-1].decode()
            user = req.argv[1].decode() if len(req.argv) == 3 else None
        elif req.argv[0].upper() == b"REPLCONF":
            pairs = dict(zip(req.argv[1::2], req.argv[2::2], strict=True))
            if b"listening-port" in pairs:
                port = int(pairs[b"listening-port"])
            if b"version" in pairs:
                version = pairs[b"version"].decode()
                announce_version = True
            if b"ip-address" in pairs:
                ip = pairs[b"ip-address"].decode()
        elif req.argv == [b"SYNC"]:
            break
    return HandshakeConfig(port, version, ip, user, auth, True), announce_version, consumed


def test_found_rdb_channels() -> None:
    assert len(RDB_CHANNEL_CONNS) == 8


@pytest.mark.parametrize("name", RDB_CHANNEL_CONNS)
@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_rdb_channel_replay(name: str, chunk: int) -> None:
    c2s = vec(name)
    s2c = vec(name.replace(".c2s.", ".s2c."))
    cfg, announce_version, consumed = config_from(c2s)
    hs = RdbChannelHandshake(cfg, announce_version=announce_version)
    sent = bytearray(hs.initiate())
    events = []
    for i in range(0, len(s2c), chunk):
        for ev in hs.receive_data(s2c[i : i + chunk]):
            events.append(ev)
            if isinstance(ev, SendBytes):
                sent += ev.data
    assert bytes(sent) == c2s[:consumed]
    endoffs = [e for e in events if isinstance(e, EndOffset)]
    assert len(endoffs) == 1 and hs.done and not hs.failed
    end = line_end(s2c, b"$ENDOFF:")
    line = s2c[s2c.index(b"$ENDOFF:") : end]
    e = endoffs[0]
    assert endoff_frame(e.offset, e.replid, e.dbid, e.client_id) == line
    assert hs.unused_data == s2c[end:]
    # The payload follows on this connection.
    rx = RdbPayloadReceiver()
    rdb = b"".join(ev.data for ev in rx.receive_data(hs.unused_data) if isinstance(ev, RdbChunk))
    assert rx.done
    if name.startswith("replica-to-fake-primary"):
        assert rdb == vec("replica-to-fake-primary/fake-primary-sample.rdb")
    assert rdb[:5] in (b"REDIS", b"VALKE")


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in names("real-pairs/*dual-channel.conn1.c2s.bin")
        + names("replica-to-fake-primary/*dual-channel*.conn1.c2s.bin")
    ],
)
def test_main_channel_resume_after_endoff(name: str) -> None:
    c2s = vec(name)
    s2c = vec(name.replace(".c2s.", ".s2c."))
    rdb_conn = name.replace(".conn1.", ".conn2.").replace(".c2s.", ".s2c.")
    s2c_rdb = vec(rdb_conn)
    endoff = parse_endoff(
        s2c_rdb[s2c_rdb.index(b"$ENDOFF:") : line_end(s2c_rdb, b"$ENDOFF:") - 2].decode()
    )
    assert endoff is not None
    cfg = HandshakeConfig(1, "8.1.8")
    hs = ReplicaHandshake.for_dual_channel_main(cfg, endoff.client_id, endoff.replid, endoff.offset)
    sent = bytearray(hs.initiate())
    after = s2c[line_end(s2c, b"+DUALCHANNELSYNC") :]
    events = hs.receive_data(after)
    for ev in events:
        if isinstance(ev, SendBytes):
            sent += ev.data
    start = c2s.index(b"*3\r\n$8\r\nREPLCONF\r\n$17\r\nset-rdb-client-id")
    assert c2s[start:].startswith(bytes(sent))
    assert events[-1] == Continue(endoff.replid)
    assert hs.unused_data == after[line_end(after, b"+CONTINUE") :]


def test_rdb_channel_errors_and_keepalives() -> None:
    hs = RdbChannelHandshake(HandshakeConfig(7000, "9.1.2", primary_auth="x"))
    hs.initiate()
    assert hs.receive_data(b"+OK\r\n") == []
    assert hs.receive_data(b"+OK\r\n\n\n") == [SendBytes(b"SYNC\r\n"), Keepalive(), Keepalive()]
    evs = hs.receive_data(b"$ENDOFF:12 short 0\r\n")
    assert isinstance(evs[0], HandshakeFailed) and hs.failed
    hs = RdbChannelHandshake(HandshakeConfig(7000, "9.1.2"))
    hs.initiate()
    evs = hs.receive_data(b"-ERR Unrecognized REPLCONF option: rdb-channel\r\n")
    assert isinstance(evs[0], HandshakeFailed)
    main = ReplicaHandshake.for_dual_channel_main(HandshakeConfig(1, "8.1.8"), 5, "a" * 40, 0)
    main.initiate()
    assert isinstance(
        main.receive_data(b"-ERR Unrecognized RDB client id 5\r\n")[0], HandshakeFailed
    )
    assert parse_endoff("$ENDOFF:0 " + "a" * 40 + " -1 6") == EndOffset(0, "a" * 40, -1, 6)
    assert parse_endoff("$ENDOFF:0 " + "a" * 41 + " -1 6") is None
    assert parse_endoff("+OK") is None
    rx = RdbPayloadReceiver()
    assert isinstance(rx.receive_data(b"$0\r\n")[-1], RdbEnd)
