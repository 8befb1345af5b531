"""Primary side: REPLCONF, the SYNC/PSYNC decision, the cron, INFO and ROLE, against captures."""

from __future__ import annotations

import ast
import re
from dataclasses import replace

import pytest

from tests.unit.replvec import frame_all, line_end, meta, names, vec
from valsync.replication import (
    PING_BYTES,
    AttachToDiskBgsave,
    Capa,
    ChildKind,
    ContinuePartial,
    CronStart,
    DelayDiskless,
    DualChannelSync,
    FullResync,
    Ignore,
    PendingReplica,
    RdbTarget,
    Refuse,
    ReplicaInfo,
    ReplicaState,
    ReplicationBacklog,
    ReplicationIds,
    Req,
    ServerView,
    StartBgsave,
    SyncRequest,
    SyncStats,
    WaitingReplica,
    WaitNextBgsave,
    WaitReason,
    apply_replconf,
    decide_sync,
    diskless_cron_decision,
    fullresync_reply,
    info_replica_line,
    rdb_target,
    role_primary_reply,
    role_replica_reply,
)
from valsync.resp.reply import encode

A = "a" * 40
B = "b" * 40
NEW = "c" * 40


def request_for(info: ReplicaInfo, argv: list[bytes], **kw: object) -> SyncRequest:
    return SyncRequest(
        tuple(argv),
        capa=info.capa,
        req=info.req,
        rdb_only=info.rdb_only,
        associated_rdb_client_id=info.associated_rdb_client_id,
        **kw,  # type: ignore[arg-type]
    )


# --- psync-cases: the acceptance table on real primaries ------------------------------------


def psync_case_views(version: str) -> tuple[ServerView, ServerView, list[dict[str, object]]]:
    m = meta(f"psync-cases/psync-cases-{version}.json")
    ps = m["primary_state"]
    primary = ServerView(
        replid=ps["master_replid"],
        replid2="0" * 40,
        second_repl_offset=-1,
        master_repl_offset=ps["master_repl_offset"],
        next_replid=NEW,
        backlog_first_byte=ps["repl_backlog_first_byte_offset"],
        backlog_histlen=ps["repl_backlog_histlen"],
        has_other_replicas=True,
        diskless_sync=version == "9.1.2",
    )
    pr = m["promoted_replica_state"]
    promoted = ServerView(
        replid=pr["master_replid"],
        replid2=pr["master_replid2"],
        second_repl_offset=int(pr["second_repl_offset"]),
        master_repl_offset=int(pr["master_repl_offset"]),
        next_replid=NEW,
        backlog_first_byte=int(pr["repl_backlog_first_byte_offset"]),
        backlog_histlen=int(pr["repl_backlog_histlen"]),
        has_other_replicas=True,
    )
    return primary, promoted, m["cases"]


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_psync_cases_table(version: str) -> None:
    primary, promoted, cases = psync_case_views(version)
    assert len(cases) == 11
    for case in cases:
        title = str(case["case"])
        view = promoted if title.startswith("[promoted") else primary
        capa = Capa.NONE
        for word in case.get("capa", ["eof", "psync2"]):  # type: ignore[attr-defined]
            capa |= {"eof": Capa.EOF, "psync2": Capa.PSYNC2}[word]
        argv = tuple(w.encode() for w in str(case["request"]).split())
        decision = decide_sync(SyncRequest(argv, capa=capa), view)
        expected = str(case["reply_line"])
        after = str(case["bytes_after_reply_line"])
        if expected.startswith("+CONTINUE"):
            assert isinstance(decision.action, ContinuePartial), title
            assert decision.action.reply == expected.encode() + b"\r\n", title
            assert decision.stats == SyncStats(sync_partial_ok=1)
            if "new id" not in title:  # that case's extra bytes are a later ping
                assert decision.action.backlog_bytes == len(after), title
        else:
            assert isinstance(decision.action, FullResync), title
            assert not decision.action.create_backlog
            _, rid, off = expected.split()
            assert rid == view.replid
            if not title.startswith("[promoted"):  # pings moved the promoted one's offset
                assert fullresync_reply(view.replid, view.master_repl_offset) == (
                    expected.encode() + b"\r\n"
                )
            err = 0 if argv[1] == b"?" else 1
            assert decision.stats == SyncStats(sync_full=1, sync_partial_err=err), title


# --- a primary session replayed from a fake replica's capture -------------------------------


class PrimarySim:
    """Just enough of a primary to answer a handshake with the sans-IO cores."""

    def __init__(self, view: ServerView) -> None:
        self.view = view
        self.stats = SyncStats()

    def session(self, c2s: bytes) -> tuple[bytes, object]:
        info = ReplicaInfo(client_id=1)
        out = bytearray()
        action: object = None
        for req in frame_all(c2s):
            name = req.argv[0].upper()
            if name == b"PING":
                out += b"+PONG\r\n"
            elif name == b"REPLCONF":
                res = apply_replconf(info, req.argv[1:], now=0)
                if res.reply is not None:
                    out += res.reply
            elif name in (b"PSYNC", b"SYNC"):
                d = decide_sync(request_for(info, req.argv), self.view)
                self.stats = SyncStats(
                    self.stats.sync_full + d.stats.sync_full,
                    self.stats.sync_partial_ok + d.stats.sync_partial_ok,
                    self.stats.sync_partial_err + d.stats.sync_partial_err,
                )
                action = d.action
                break
        return bytes(out), action


@pytest.mark.parametrize(
    "name",
    [
        "primary-8.1.8-disk",
        "primary-8.1.8-diskless",
        "primary-9.1.2-disk",
        "primary-9.1.2-diskless",
    ],
)
def test_real_primary_sessions(name: str) -> None:
    m = meta(f"primary-to-fake-replica/{name}.meta.json")
    diskless = "diskless" in name
    before = re.search(r"master_replid:(\w+)", m["info_before"])
    assert before is not None
    new_id = str(m["psync_reply"]).split()[1]
    sim = PrimarySim(
        ServerView(
            replid=before.group(1),
            replid2="0" * 40,
            second_repl_offset=-1,
            master_repl_offset=0,
            next_replid=new_id,
            diskless_sync=diskless,
        )
    )
    # session 1: PSYNC ? -1 on a primary that never had replicas
    s2c = vec(f"primary-to-fake-replica/{name}.session1.s2c.bin")
    replies, action = sim.session(vec(f"primary-to-fake-replica/{name}.session1.c2s.bin"))
    assert s2c.startswith(replies)
    assert isinstance(action, FullResync)
    assert action.create_backlog  # so the +FULLRESYNC ID is the new one, not info_before's
    assert new_id != before.group(1)
    if diskless:
        assert action.plan == DelayDiskless()
    else:
        assert action.plan == StartBgsave(RdbTarget.DISK, Capa.EOF | Capa.PSYNC2, Req.NONE)
    fr_off = int(str(m["psync_reply"]).split()[2])
    assert fullresync_reply(new_id, fr_off) in s2c

    # session 2: rebuild the backlog from the captured stream, then PSYNC <id> <end+1>
    backlog = ReplicationBacklog(10485760, start_offset=0)
    backlog.append(PING_BYTES * (fr_off // len(PING_BYTES)))
    after = s2c[line_end(s2c, b"+FULLRESYNC") :]
    end1 = int(m["stream1_end_offset"])
    stream1 = after[len(after) - (end1 - fr_off) :]
    backlog.append(stream1)
    s2c2 = vec(f"primary-to-fake-replica/{name}.session2.s2c.bin")
    tail = s2c2[line_end(s2c2, b"+CONTINUE") :]
    log = " ".join(m["primary_log_excerpt"])
    sent = re.search(r"Sending (\d+) bytes of backlog starting from offset (\d+)", log)
    assert sent is not None
    nbytes, start = int(sent.group(1)), int(sent.group(2))
    backlog.append(tail[:nbytes])
    sim.view = replace(
        sim.view,
        replid=new_id,
        master_repl_offset=backlog.end_offset,
        backlog_first_byte=backlog.first_byte_offset,
        backlog_histlen=backlog.histlen,
        has_other_replicas=False,
    )
    replies2, action2 = sim.session(vec(f"primary-to-fake-replica/{name}.session2.c2s.bin"))
    assert isinstance(action2, ContinuePartial)
    assert s2c2.startswith(replies2 + action2.reply)
    assert action2.offset == start and action2.backlog_bytes == nbytes
    assert backlog.read_from(action2.offset) == tail[:nbytes]

    # session 3: beyond the backlog -> full resync, counted as a partial error
    replies3, action3 = sim.session(vec(f"primary-to-fake-replica/{name}.session3.c2s.bin"))
    assert isinstance(action3, FullResync) and not action3.create_backlog
    assert sim.stats == SyncStats(
        int(m["stats"]["sync_full"]),
        int(m["stats"]["sync_partial_ok"]),
        int(m["stats"]["sync_partial_err"]),
    )


@pytest.mark.parametrize("name", names("replica-to-fake-primary/*.c2s.bin"))
def test_real_replicas_handshakes_are_accepted(name: str) -> None:
    """Every REPLCONF a real replica sends gets +OK and fills the record as Valkey would."""
    info = ReplicaInfo(client_id=9)
    replies = bytearray()
    n_replconf = 0
    for req in frame_all(vec(name)):
        if req.argv[0].upper() == b"REPLCONF" and req.argv[1].lower() != b"ack":
            n_replconf += 1
            res = apply_replconf(
                info,
                req.argv[1:],
                now=0,
                dual_channel_enabled=True,
                diskless_sync=True,
                rdb_client_exists=lambda cid: True,
            )
            assert res.reply is not None
            replies += res.reply
        elif req.argv[0].upper() in (b"PSYNC", b"SYNC"):
            break
    assert replies == b"+OK\r\n" * n_replconf
    assert info.version_text in ("8.1.8", "9.1.2") or info.version == 0
    assert info.listening_port > 0
    assert Capa.EOF in info.capa
    if "auth-announce-ip" in name:
        assert info.listening_port == 16379
        # 8.1.8 sends no ip-address on the RDB channel (section 5)
        assert info.ip == ("127.0.0.1" if b"ip-address" in vec(name) else "")
    if "dual-channel" in name and ".conn1." in name:
        assert Capa.DUAL_CHANNEL in info.capa
        d = decide_sync(
            request_for(info, [b"PSYNC", b"?", b"-1"]), ServerView(A, "0" * 40, -1, 0, NEW)
        )
        assert d.action == DualChannelSync() and d.stats == SyncStats()
    if info.rdb_channel:
        assert info.rdb_only and Capa.EOF in info.capa and Req.RDB_CHANNEL in info.req


# --- errors/error-replies.txt ---------------------------------------------------------------


def error_cases() -> list[tuple[str, list[tuple[bytes, bytes]]]]:
    text = vec("errors/error-replies.txt").decode()
    cases: list[tuple[str, list[tuple[bytes, bytes]]]] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("-- "):
            cases.append((s[3:], []))
        elif s.startswith(">> "):
            cases[-1][1].append((ast.literal_eval(s[3:]).encode("latin-1"), b""))
        elif s.startswith("<< ") and cases and cases[-1][1]:
            sent, _ = cases[-1][1][-1]
            cases[-1][1][-1] = (sent, ast.literal_eval(s[3:]).encode("latin-1"))
    return cases


def view_for(title: str) -> ServerView | None:
    if "primary link is down" in title:
        return ServerView(A, "0" * 40, -1, 0, NEW, is_replica=True, primary_link_up=False)
    if "sent to a replica" in title:
        return ServerView(A, "0" * 40, -1, 0, NEW, is_replica=True, primary_link_up=True)
    if "sent to a primary" in title or "non-numeric" in title or "filtered" in title:
        return ServerView(A, "0" * 40, -1, 0, NEW)
    if title.startswith("REPLCONF"):
        return ServerView(A, "0" * 40, -1, 0, NEW)
    return None


def test_error_replies_vectors() -> None:
    checked = 0
    for title, exchanges in error_cases():
        view = view_for(title)
        if view is None:
            continue
        info = ReplicaInfo(client_id=3)
        for sent, expected in exchanges:
            req = frame_all(sent)[0]
            name = req.argv[0].upper()
            if name == b"PING":
                got = b"+PONG\r\n"
            elif name == b"REPLCONF":
                res = apply_replconf(info, req.argv[1:], now=0)
                got = res.reply or b""
            else:
                d = decide_sync(request_for(info, req.argv), view)
                got = d.action.reply if isinstance(d.action, Refuse) else b"?"
            assert got == expected, title
            checked += 1
    assert checked >= 28  # both versions


def test_role_vectors() -> None:
    def wire(reply: object) -> bytes:
        out = bytearray()
        encode(reply, out)  # type: ignore[arg-type]
        return bytes(out)

    online = ReplicaInfo(1, listening_port=7962, ack_offset=42, state=ReplicaState.ONLINE)
    waiting = ReplicaInfo(2, listening_port=7963, state=ReplicaState.WAIT_BGSAVE_START)
    assert wire(role_primary_reply(42, [(online, "127.0.0.1"), (waiting, "127.0.0.1")])) == (
        b"*3\r\n$6\r\nmaster\r\n:42\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n7962\r\n$2\r\n42\r\n"
    )
    assert wire(role_primary_reply(0, [])) == b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
    assert wire(role_replica_reply("127.0.0.1", 1, "connect", -1)) == (
        b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n$7\r\nconnect\r\n:-1\r\n"
    )


def test_info_lines_match_captures() -> None:
    rdb_ch = ReplicaInfo(
        5,
        ip="",
        listening_port=8212,
        rdb_channel=True,
        rdb_only=True,
        state=ReplicaState.WAIT_BGSAVE_END,
    )
    main = ReplicaInfo(6, listening_port=8212, state=ReplicaState.BG_RDB_LOAD, ack_time=0)
    online = ReplicaInfo(
        7, listening_port=8102, ack_offset=50, ack_time=99, state=ReplicaState.ONLINE
    )
    assert info_replica_line(0, rdb_ch, "127.0.0.1", 100) == (
        "slave0:ip=127.0.0.1,port=8212,state=wait_bgsave,offset=0,lag=0,type=rdb-channel"
    )
    assert info_replica_line(1, main, "127.0.0.1", 100) == (
        "slave1:ip=127.0.0.1,port=8212,state=bg_transfer,offset=0,lag=0,type=main-channel"
    )
    assert info_replica_line(0, online, "127.0.0.1", 100) == (
        "slave0:ip=127.0.0.1,port=8102,state=online,offset=50,lag=1,type=replica"
    )
    done = ReplicaInfo(8, state=ReplicaState.RDB_TRANSMITTED)
    assert info_replica_line(0, done, "x", 0) is None
    assert info_replica_line(0, ReplicaInfo(9), "x", 0) is None
    assert ReplicaState.SEND_BULK.info_state == "send_bulk"


# --- REPLCONF details -------------------------------------------------------------------------


def test_replconf_ack_getack_and_options() -> None:
    info = ReplicaInfo(1)
    assert apply_replconf(info, [b"ACK", b"10"], now=5).reply is None
    assert info.ack_offset == 0  # not a replica yet: ignored
    info.state = ReplicaState.ONLINE
    res = apply_replconf(info, [b"ack", b"50", b"FACK", b"40"], now=7)
    assert res.reply is None and res.ack and info.ack_offset == 50 and info.aof_ack_offset == 40
    assert info.ack_time == 7
    apply_replconf(info, [b"ACK", b"20"], now=8)
    assert info.ack_offset == 50  # only increases
    res = apply_replconf(info, [b"GETACK", b"*"], now=8)
    assert res.reply is None and res.getack
    assert apply_replconf(info, [b"listening-port", b"x"], now=0).reply == (
        b"-ERR value is not an integer or out of range\r\n"
    )
    assert apply_replconf(info, [b"rdb-only", b"x"], now=0).reply == (
        b"-ERR value is not an integer or out of range\r\n"
    )
    assert apply_replconf(info, [b"rdb-channel", b"1"], now=0).reply == b"+OK\r\n"
    assert info.rdb_channel and info.req == Req.RDB_CHANNEL
    assert not info.req.filtered
    apply_replconf(info, [b"rdb-channel", b"0"], now=0)
    assert not info.rdb_channel and info.req == Req.NONE
    f = ReplicaInfo(2)
    assert apply_replconf(f, [b"rdb-filter-only", b""], now=0).reply == b"+OK\r\n"
    assert f.req == Req.EXCLUDE_DATA | Req.EXCLUDE_FUNCTIONS
    assert apply_replconf(f, [b"rdb-filter-only", b"functions"], now=0).reply == b"+OK\r\n"
    assert f.req == Req.EXCLUDE_DATA
    assert apply_replconf(f, [b"rdb-filter-only", b'"unbalanced'], now=0).reply == (
        b"-ERR Missing rdb-filter-only values\r\n"
    )
    d = ReplicaInfo(3)
    apply_replconf(
        d, [b"capa", b"dual-channel"], now=0, dual_channel_enabled=True, diskless_sync=False
    )
    assert Capa.DUAL_CHANNEL not in d.capa
    apply_replconf(
        d, [b"CAPA", b"DUAL-CHANNEL"], now=0, dual_channel_enabled=True, diskless_sync=True
    )
    assert Capa.DUAL_CHANNEL in d.capa
    # pairs before an error are applied, like Valkey
    e = ReplicaInfo(4)
    assert apply_replconf(e, [b"listening-port", b"7000", b"bogus", b"1"], now=0).reply == (
        b"-ERR Unrecognized REPLCONF option: bogus\r\n"
    )
    assert e.listening_port == 7000
    assert apply_replconf(e, [b"version", b"9.1.2"], now=0).reply == b"+OK\r\n"
    assert e.version == 0x090102
    assert apply_replconf(e, [b"version", b"9.1"], now=0).reply == (
        b"-ERR Unrecognized version format: 9.1\r\n"
    )
    for bad in (b"", b"1.2.256", b"1.2.3.4", b"v9.1.2", b"9.1.2 "):
        assert apply_replconf(e, [b"version", bad], now=0).reply != b"+OK\r\n"
    assert apply_replconf(e, [b"version", b"9..2"], now=0).reply == b"+OK\r\n"
    assert e.version == 0x090002  # like version2num: an empty part is 0
    assert (
        apply_replconf(
            e, [b"set-rdb-client-id", b"12"], now=0, rdb_client_exists={12}.__contains__
        ).reply
        == b"+OK\r\n"
    )
    assert e.associated_rdb_client_id == 12
    assert apply_replconf(e, [], now=0).reply == b"+OK\r\n"


# --- each branch of decide_sync ----------------------------------------------------------------

BASE = ServerView(
    A, "0" * 40, -1, 100, NEW, backlog_first_byte=1, backlog_histlen=100, has_other_replicas=True
)
EOFP2 = Capa.EOF | Capa.PSYNC2


def test_ignore_and_refusals_in_order() -> None:
    psync = (b"PSYNC", A.encode(), b"101")
    assert decide_sync(SyncRequest(psync, already_replica=True), BASE).action == Ignore()
    failing = replace(BASE, failover_in_progress=True, is_replica=True, primary_link_up=False)
    assert decide_sync(SyncRequest(psync), failing).action == Refuse(
        b"-NOMASTERLINK Can't SYNC while failing over\r\n"
    )
    down = replace(BASE, is_replica=True, primary_link_up=False)
    assert decide_sync(SyncRequest((b"SYNC",), pending_output=True), down).action == Refuse(
        b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n"
    )
    assert decide_sync(
        SyncRequest(psync, pending_output=True, req=Req.EXCLUDE_DATA), BASE
    ).action == Refuse(b"-ERR SYNC and PSYNC are invalid with pending output\r\n")
    assert decide_sync(SyncRequest(psync, req=Req.EXCLUDE_DATA), BASE).action == Refuse(
        b"-ERR Filtered replica requires EOF capability\r\n"
    )
    bad = (b"PSYNC", A.encode(), b"1x")
    assert decide_sync(SyncRequest(bad), BASE).action == Refuse(
        b"-ERR value is not an integer or out of range\r\n"
    )


def test_failover_psync() -> None:
    fo = (b"PSYNC", A.upper().encode(), b"101", b"failover")
    assert decide_sync(SyncRequest(fo), BASE).action == Refuse(
        b"-ERR PSYNC FAILOVER can't be sent to a master.\r\n"
    )
    replica = replace(BASE, is_replica=True, primary_link_up=False)
    wrong = (b"PSYNC", B.encode(), b"101", b"FAILOVER")
    assert decide_sync(SyncRequest(wrong), replica).action == Refuse(
        b"-ERR PSYNC FAILOVER replid must match my replid.\r\n"
    )
    # failover/*: the target promotes itself, then answers +CONTINUE <new id> (link state moot)
    d = decide_sync(SyncRequest(fo, capa=EOFP2), replica)
    assert d.promote
    assert d.action == ContinuePartial(f"+CONTINUE {NEW}\r\n".encode(), 101, 0)
    d = decide_sync(SyncRequest((b"PSYNC", A.encode(), b"102", b"FAILOVER"), capa=EOFP2), replica)
    assert d.promote and isinstance(d.action, FullResync)


def test_partial_and_dual_channel_and_main_channel() -> None:
    ok = decide_sync(
        SyncRequest((b"PSYNC", A.encode(), b"50"), capa=EOFP2, associated_rdb_client_id=4), BASE
    )
    assert ok.action == ContinuePartial(f"+CONTINUE {A}\r\n".encode(), 50, 51, bg_rdb_load=True)
    dual = decide_sync(
        SyncRequest((b"PSYNC", B.encode(), b"50"), capa=EOFP2 | Capa.DUAL_CHANNEL), BASE
    )
    assert dual.action == DualChannelSync() and dual.stats == SyncStats(sync_partial_err=1)
    assert dual.action.reply == b"+DUALCHANNELSYNC\r\n"
    nobl = replace(BASE, backlog_first_byte=None, backlog_histlen=0, has_other_replicas=False)
    d = decide_sync(SyncRequest((b"PSYNC", A.encode(), b"50"), capa=EOFP2), nobl)
    assert isinstance(d.action, FullResync) and d.action.create_backlog


def test_sync_is_pre_psync_full() -> None:
    d = decide_sync(SyncRequest((b"SYNC",), capa=Capa.EOF), replace(BASE, diskless_sync_delay=0))
    assert d.stats == SyncStats(sync_full=1)
    assert d.action == FullResync(
        False, StartBgsave(RdbTarget.SOCKET, Capa.EOF, Req.NONE), pre_psync=True
    )


def test_rdb_plans() -> None:
    sync = (b"SYNC",)
    w = WaitingReplica(7, EOFP2, Req.NONE, rdb_only=False, psync_initial_offset=80)
    disk = replace(BASE, child=ChildKind.RDB_DISK, waiting_bgsave_end=(w,))

    def plan(req: SyncRequest, view: ServerView) -> object:
        action = decide_sync(req, view).action
        assert isinstance(action, FullResync)
        return action.plan

    assert plan(SyncRequest(sync, capa=EOFP2 | Capa.DUAL_CHANNEL), disk) == AttachToDiskBgsave(
        7, 80, True
    )
    assert plan(SyncRequest(sync, capa=Capa.PSYNC2), disk) == WaitNextBgsave(
        WaitReason.CANNOT_ATTACH
    )
    assert plan(SyncRequest(sync, capa=EOFP2, req=Req.EXCLUDE_DATA), disk) == WaitNextBgsave(
        WaitReason.CANNOT_ATTACH
    )
    rdbonly_w = replace(disk, waiting_bgsave_end=(replace(w, rdb_only=True),))
    assert plan(SyncRequest(sync, capa=EOFP2), rdbonly_w) == WaitNextBgsave(
        WaitReason.CANNOT_ATTACH
    )
    assert plan(SyncRequest(sync, capa=EOFP2, rdb_only=True), rdbonly_w) == AttachToDiskBgsave(
        7, 80, False
    )
    assert plan(
        SyncRequest(sync, capa=EOFP2), replace(disk, waiting_bgsave_end=())
    ) == WaitNextBgsave(WaitReason.CANNOT_ATTACH)
    sock = replace(BASE, child=ChildKind.RDB_SOCKET)
    assert plan(SyncRequest(sync, capa=EOFP2), sock) == WaitNextBgsave(WaitReason.SOCKET_CHILD)
    assert plan(SyncRequest(sync, capa=EOFP2), BASE) == DelayDiskless()
    assert plan(SyncRequest(sync, capa=Capa.PSYNC2), BASE) == StartBgsave(
        RdbTarget.DISK, Capa.PSYNC2, Req.NONE
    )
    other = replace(BASE, child=ChildKind.OTHER)
    assert plan(SyncRequest(sync, capa=Capa.PSYNC2), other) == WaitNextBgsave(
        WaitReason.OTHER_CHILD
    )
    nodiskless = replace(BASE, diskless_sync=False)
    assert plan(SyncRequest(sync, capa=EOFP2), nodiskless) == StartBgsave(
        RdbTarget.DISK, EOFP2, Req.NONE
    )
    assert plan(SyncRequest(sync, capa=EOFP2, req=Req.EXCLUDE_DATA), nodiskless) == StartBgsave(
        RdbTarget.SOCKET, EOFP2, Req.EXCLUDE_DATA
    )


def test_rdb_target_rule() -> None:
    assert rdb_target(True, Capa.EOF, Req.NONE) is RdbTarget.SOCKET
    assert rdb_target(True, Capa.PSYNC2, Req.NONE) is RdbTarget.DISK
    assert rdb_target(False, Capa.EOF, Req.NONE) is RdbTarget.DISK
    assert rdb_target(False, Capa.EOF, Req.EXCLUDE_FUNCTIONS) is RdbTarget.SOCKET


def test_cron_decision() -> None:
    p1 = PendingReplica(1, EOFP2, Req.NONE, last_interaction=100)
    p2 = PendingReplica(2, Capa.EOF, Req.NONE, last_interaction=103)
    p3 = PendingReplica(3, EOFP2, Req.EXCLUDE_DATA, last_interaction=90)
    kw = dict(delay=5, max_replicas=0, diskless_sync=True, child_active=False)
    assert diskless_cron_decision([], 200, **kw) is None  # type: ignore[arg-type]
    assert diskless_cron_decision([p1, p2, p3], 104, **kw) is None  # type: ignore[arg-type]
    start = diskless_cron_decision([p1, p2, p3], 105, **kw)  # type: ignore[arg-type]
    assert start == CronStart((1, 2), RdbTarget.SOCKET, Capa.EOF, Req.NONE)
    kw2 = dict(kw, max_replicas=2)
    assert diskless_cron_decision([p1, p2], 101, **kw2) == CronStart(  # type: ignore[arg-type]
        (1, 2), RdbTarget.SOCKET, Capa.EOF, Req.NONE
    )
    kw3 = dict(kw, diskless_sync=False)
    assert diskless_cron_decision([p1], 100, **kw3) == CronStart(  # type: ignore[arg-type]
        (1,), RdbTarget.DISK, EOFP2, Req.NONE
    )
    kw4 = dict(kw, child_active=True)
    assert diskless_cron_decision([p1], 1000, **kw4) is None  # type: ignore[arg-type]


def info_field(info: str, name: str) -> str:
    found = re.search(rf"^{name}:(.*?)\r?$", info, re.M)
    assert found is not None, name
    return found.group(1)


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_failover_target_promotes_and_continues(version: str) -> None:
    """failover/*: the old primary's PSYNC <id> <off+1> FAILOVER on the target replica."""
    m = meta(f"failover/failover-{version}.meta.json")
    before, after = m["B_info_before"], m["B_info_after"]
    ids = ReplicationIds(
        info_field(before, "master_replid"),
        master_repl_offset=int(info_field(before, "master_repl_offset")),
    )
    view = ServerView(
        ids.replid,
        info_field(before, "master_replid2"),
        int(info_field(before, "second_repl_offset")),
        ids.master_repl_offset,
        next_replid=info_field(after, "master_replid"),
        backlog_first_byte=int(info_field(before, "repl_backlog_first_byte_offset")),
        backlog_histlen=int(info_field(before, "repl_backlog_histlen")),
        is_replica=True,
        primary_link_up=False,  # the old primary already turned itself into a replica
    )
    c2s = vec(f"failover/failover-{version}.A-to-B.conn1.c2s.bin")
    s2c = vec(f"failover/failover-{version}.A-to-B.conn1.s2c.bin")
    info = ReplicaInfo(client_id=1)
    out = bytearray()
    for req in frame_all(c2s):
        name = req.argv[0].upper()
        if name == b"PING":
            out += b"+PONG\r\n"
        elif name == b"REPLCONF":
            out += apply_replconf(info, req.argv[1:], now=0).reply or b""
        elif name == b"PSYNC":
            assert req.argv[3] == b"FAILOVER"
            d = decide_sync(request_for(info, req.argv), view)
            assert d.promote and isinstance(d.action, ContinuePartial)
            out += d.action.reply
            break
    assert s2c.startswith(bytes(out))
    ids.shift_replication_id(view.next_replid)
    assert (ids.replid, ids.replid2, str(ids.second_repl_offset)) == (
        info_field(after, "master_replid"),
        info_field(after, "master_replid2"),
        info_field(after, "second_repl_offset"),
    )


def test_promotion_without_backlog_creates_one() -> None:
    view = ServerView(A, "0" * 40, -1, 10, NEW, is_replica=True, has_other_replicas=True)
    d = decide_sync(SyncRequest((b"PSYNC", A.encode(), b"11", b"failover")), view)
    assert d.promote and isinstance(d.action, FullResync) and d.action.create_backlog


def test_refused_psync_says_why_as_valkey_logs_it() -> None:
    other = B
    view = ServerView(A, "0" * 40, -1, 1000, NEW, backlog_first_byte=500, backlog_histlen=501)
    name = "127.0.0.1:6380"

    def notices(replid: str, offset: int) -> tuple[str, ...]:
        argv = (b"PSYNC", replid.encode(), str(offset).encode())
        return decide_sync(SyncRequest(argv, replica_name=name), view).notices

    assert notices(A, 800) == ()
    assert notices("?", -1) == (f"Full resync requested by replica {name}",)
    assert notices(other, 800) == (
        "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for "
        f"'{other}', my replication IDs are '{A}' and '{'0' * 40}')",
    )
    assert notices(A, 100) == (
        f"Unable to partial resync with replica {name} for lack of backlog (Replica request "
        "was: 100).",
    )
    assert notices(A, 5000)[1].startswith(f"Warning: replica {name} tried to PSYNC")
