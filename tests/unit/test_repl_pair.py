"""Primary cores and replica cores wired back to back in memory (h11's ConnectionPair idea).

A toy primary (backlog, IDs, encoder, REPLCONF, sync decision) and a toy replica (handshake,
payload receiver, stream reader) exchange bytes; the invariant checked throughout is the one
architecture.md asks for: the replica's applied offset equals the primary's offset after
the same bytes, across a full sync, a stream, a GETACK, a disconnection and a PSYNC.
"""

from __future__ import annotations

from valsync.commands.context import Propagated
from valsync.replication import (
    Capa,
    Continue,
    ContinuePartial,
    DelayDiskless,
    FullResync,
    FullResyncReply,
    HandshakeConfig,
    RdbChunk,
    RdbEnd,
    RdbPayloadReceiver,
    ReplicaHandshake,
    ReplicaInfo,
    ReplicaState,
    ReplicationBacklog,
    ReplicationIds,
    ReplicationStreamReader,
    SendBytes,
    ServerView,
    StreamEncoder,
    SyncRequest,
    apply_replconf,
    decide_sync,
    encode_ack,
    eof_mark_frame,
    fullresync_reply,
)
from valsync.replication.handshake import CachedPrimary
from valsync.resp.request import RequestParser

OLD_ID = "1" * 40
NEW_ID = "2" * 40
MARK = b"m" * 40
RDB = b"REDIS0011-not-really-an-rdb"


class ToyPrimary:
    def __init__(self) -> None:
        self.ids = ReplicationIds(OLD_ID)
        self.backlog: ReplicationBacklog | None = None
        self.encoder = StreamEncoder()
        self.parser = RequestParser()
        self.info = ReplicaInfo(client_id=1)
        self.out = bytearray()
        self.queue = bytearray()  # stream bytes waiting for the replica's first ACK

    def view(self) -> ServerView:
        bl = self.backlog
        return ServerView(
            self.ids.replid,
            self.ids.replid2,
            self.ids.second_repl_offset,
            self.ids.master_repl_offset,
            NEW_ID,
            backlog_first_byte=None if bl is None else bl.first_byte_offset,
            backlog_histlen=0 if bl is None else bl.histlen,
        )

    def propagate(self, unit: list[Propagated]) -> None:
        if self.backlog is None:
            return  # like replicationFeedReplicas: no backlog and no replica, no stream
        data = self.encoder.encode_unit(unit)
        self.ids.master_repl_offset = self.backlog.append(data)
        if self.info.state is ReplicaState.ONLINE and not self.info.start_stream_on_ack:
            self.out += data
        else:
            self.queue += data

    def feed(self, data: bytes) -> None:
        self.parser.feed(data)
        while (req := self.parser.next()) is not None:
            if not req.argv:
                continue
            name = req.argv[0].upper()
            if name == b"PING":
                self.out += b"+PONG\r\n"
            elif name == b"REPLCONF":
                res = apply_replconf(self.info, req.argv[1:], now=0)
                if res.reply is not None:
                    self.out += res.reply
                if res.ack and self.info.start_stream_on_ack:
                    self.info.start_stream_on_ack = False
                    self.out += self.queue
                    self.queue.clear()
            else:
                self.sync(req.argv)

    def sync(self, argv: list[bytes]) -> None:
        d = decide_sync(SyncRequest(tuple(argv), capa=self.info.capa), self.view())
        if isinstance(d.action, ContinuePartial):
            assert self.backlog is not None
            self.out += d.action.reply + self.backlog.read_from(d.action.offset)
            self.info.state = ReplicaState.ONLINE
            return
        assert isinstance(d.action, FullResync)
        assert d.action.plan == DelayDiskless()
        if d.action.create_backlog:
            self.ids.new_history(NEW_ID)
            self.backlog = ReplicationBacklog(1 << 20, self.ids.master_repl_offset)
        # The cron fires: snapshot now, at the current offset, socket target.
        self.encoder.reset_selected_db()
        self.out += fullresync_reply(self.ids.replid, self.ids.master_repl_offset)
        self.out += eof_mark_frame(MARK) + RDB + MARK
        self.info.state = ReplicaState.ONLINE
        self.info.start_stream_on_ack = True

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data


class ToyReplica:
    def __init__(self, cached: CachedPrimary | None) -> None:
        self.hs = ReplicaHandshake(HandshakeConfig(7000, "8.1.8"), cached)
        self.rx: RdbPayloadReceiver | None = None
        self.reader: ReplicationStreamReader | None = None
        self.rdb = bytearray()
        self.out = bytearray(self.hs.initiate())
        self.replid = ""

    def feed(self, data: bytes) -> None:
        if not self.hs.done:
            for ev in self.hs.receive_data(data):
                if isinstance(ev, SendBytes):
                    self.out += ev.data
                elif isinstance(ev, FullResyncReply):
                    self.replid = ev.replid
                    self.start_offset = ev.offset
                    self.rx = RdbPayloadReceiver()
                elif isinstance(ev, Continue):
                    assert self.reader is not None
                    self.replid = ev.replid or self.replid
            if not self.hs.done:
                return
            data, self.hs.unused_data = self.hs.unused_data, b""
        if self.rx is not None:
            for rev in self.rx.receive_data(data):
                if isinstance(rev, RdbChunk):
                    self.rdb += rev.data
                elif isinstance(rev, RdbEnd):
                    self.reader = ReplicationStreamReader(self.start_offset)
                    self.out += encode_ack(self.start_offset)
            if not self.rx.done:
                return
            data, self.rx.unused_data = self.rx.unused_data, b""
            self.rx = None
        assert self.reader is not None
        self.reader.receive_data(data)
        while (cmd := self.reader.next_command()) is not None:
            if cmd.is_getack:
                self.out += encode_ack(self.reader.applied_offset)
            self.reader.command_done(cmd)

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data


def pump(p: ToyPrimary, r: ToyReplica) -> None:
    for _ in range(20):
        a = r.take()
        if a:
            p.feed(a)
        b = p.take()
        if b:
            r.feed(b)
        if not a and not b:
            return


def test_full_sync_stream_disconnect_and_partial_resync() -> None:
    p = ToyPrimary()
    p.propagate([Propagated(0, [b"SET", b"lost", b"1"])])  # no backlog yet: not produced
    assert p.ids.master_repl_offset == 0
    r = ToyReplica(None)
    pump(p, r)
    assert bytes(r.rdb) == RDB and r.replid == NEW_ID
    assert p.info.capa == Capa.EOF | Capa.PSYNC2 and p.info.listening_port == 7000
    p.propagate([Propagated(0, [b"SET", b"a", b"1"])])
    p.propagate([Propagated(3, [b"SET", b"b", b"2"]), Propagated(3, [b"INCR", b"c"])])
    p.propagate([Propagated(-1, [b"REPLCONF", b"GETACK", b"*"])])
    pump(p, r)
    assert r.reader is not None
    assert r.reader.applied_offset == p.ids.master_repl_offset
    assert p.info.ack_offset == p.ids.master_repl_offset - 37  # GETACK answered before itself
    # The link drops; writes continue; the replica resumes from its cached offset.
    cached = CachedPrimary(r.replid, r.reader.applied_offset)
    p.info = ReplicaInfo(client_id=2)
    p.propagate([Propagated(3, [b"DEL", b"b"])])
    p.propagate([Propagated(0, [b"DEL", b"a"])])
    r2 = ToyReplica(cached)
    r2.reader = ReplicationStreamReader(cached.offset)
    r2.replid = cached.replid
    pump(p, r2)
    assert r2.reader.applied_offset == p.ids.master_repl_offset
    assert r2.replid == NEW_ID
