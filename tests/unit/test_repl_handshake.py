"""ReplicaHandshake replayed against every capture where a real Valkey replica connected.

For each connection the configuration (port, announce ip, auth, dual-channel, version, PSYNC
arguments) is read from what the real replica sent; the machine, fed the primary's bytes in
arbitrary chunks, must send exactly the same bytes and report the same PSYNC outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.replvec import frame_all, names, vec
from valsync.replication import (
    CachedPrimary,
    Continue,
    DualChannelSyncReply,
    FullResyncReply,
    HandshakeConfig,
    HandshakeEvent,
    HandshakeFailed,
    HandshakeNotice,
    HandshakeState,
    Keepalive,
    RemoteProtocolError,
    ReplicaHandshake,
    SendBytes,
    SyncFallback,
    TryLater,
    psync_command,
)


@dataclass
class Case:
    config: HandshakeConfig
    cached: CachedPrimary | None
    failover: bool
    expected_sent: bytes
    s2c: bytes


def load_case(c2s_name: str) -> Case | None:
    c2s = vec(c2s_name)
    reqs = frame_all(c2s)
    if not reqs or reqs[0].argv != [b"PING"]:
        return None
    port = 0
    ip = user = auth = version = None
    dual = False
    cached = None
    failover = False
    consumed = 0
    for req in reqs:
        consumed += req.nbytes
        name = req.argv[0].upper()
        if name == b"AUTH":
            auth = req.argv[-1].decode()
            user = req.argv[1].decode() if len(req.argv) == 3 else None
        elif name == b"REPLCONF":
            opt = req.argv[1].lower()
            if opt in (b"rdb-channel", b"set-rdb-client-id", b"rdb-only"):
                return None
            if opt == b"listening-port":
                port = int(req.argv[2])
            elif opt == b"ip-address":
                ip = req.argv[2].decode()
            elif opt == b"capa":
                dual = b"dual-channel" in req.argv
            elif opt == b"version":
                version = req.argv[2].decode()
        elif name == b"PSYNC":
            if req.argv[1] != b"?":
                cached = CachedPrimary(req.argv[1].decode(), int(req.argv[2]) - 1)
            failover = len(req.argv) > 3
            break
    else:
        return None
    assert version is not None
    s2c = vec(c2s_name.replace(".c2s.", ".s2c."))
    expected = c2s[:consumed]
    if b"\r\n-ERR" in s2c[:400]:
        expected += b"SYNC\r\n"
    cfg = HandshakeConfig(port, version, ip, user, auth, dual)
    return Case(cfg, cached, failover, expected, s2c)


ALL_C2S = [
    n
    for pattern in (
        "replica-to-fake-primary/*.c2s.bin",
        "real-pairs/*.c2s.bin",
        "replica-quirks/*.c2s.bin",
        "failover/*.c2s.bin",
        "restart/*.c2s.bin",
    )
    for n in names(pattern)
]
CASES = {n: c for n in ALL_C2S if (c := load_case(n)) is not None}


def test_enough_cases_found() -> None:
    assert len(CASES) >= 35


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def drive(case: Case, chunks: list[bytes]) -> tuple[ReplicaHandshake, bytes, list[HandshakeEvent]]:
    hs = ReplicaHandshake(case.config, case.cached, failover=case.failover)
    sent = bytearray(hs.initiate())
    events: list[HandshakeEvent] = []
    for chunk in chunks:
        for ev in hs.receive_data(chunk):
            events.append(ev)
            if isinstance(ev, SendBytes):
                sent += ev.data
    return hs, bytes(sent), events


def expected_outcome(case: Case, hs: ReplicaHandshake) -> tuple[HandshakeEvent, bytes]:
    """Independently find the PSYNC reply line in the primary's bytes."""
    s2c = case.s2c
    replies = 1 + hs.handshake_commands()[1].__len__()
    pos = 0
    for _ in range(replies):
        pos = s2c.index(b"\n", pos) + 1
    while s2c[pos : pos + 1] == b"\n":
        pos += 1
    end = s2c.index(b"\r\n", pos)
    line = s2c[pos:end].decode()
    rest = s2c[end + 2 :]
    if line.startswith("+FULLRESYNC"):
        _, rid, off = line.split()
        return FullResyncReply(rid, int(off)), rest
    if line.startswith("+CONTINUE"):
        return Continue(line.split()[1] if " " in line else None), rest
    if line == "+DUALCHANNELSYNC":
        return DualChannelSyncReply(), rest
    if line.startswith("-LOADING"):
        return TryLater(line), rest
    assert line.startswith("-ERR")
    return SyncFallback(line), rest


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=12))
def test_replay_against_real_primary_bytes(name: str, cuts: list[int]) -> None:
    case = CASES[name]
    hs, sent, events = drive(case, split(case.s2c, cuts))
    assert sent == case.expected_sent
    assert hs.done and hs.state is HandshakeState.DONE
    outcome, rest = expected_outcome(case, hs)
    terminal = [e for e in events if not isinstance(e, SendBytes | Keepalive | HandshakeNotice)]
    assert terminal == [outcome]
    assert hs.unused_data == rest
    assert hs.psync_sent == psync_command(case.cached, failover=case.failover)


def test_psync_command_shapes() -> None:
    assert psync_command(None) == b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n"
    rid = "5ca1ab1e" * 5
    assert psync_command(CachedPrimary(rid, 1108)) == (
        b"*3\r\n$5\r\nPSYNC\r\n$40\r\n" + rid.encode() + b"\r\n$4\r\n1109\r\n"
    )


def started(cfg: HandshakeConfig | None = None) -> ReplicaHandshake:
    hs = ReplicaHandshake(cfg or HandshakeConfig(6380, "8.1.8", primary_auth="pw"))
    assert hs.initiate() == b"*1\r\n$4\r\nPING\r\n"
    return hs


def test_ping_errors_accepted_or_fatal() -> None:
    for ok in (b"-NOAUTH Authentication required.\r\n", b"-NOPERM x\r\n", b"+PONG\r\n"):
        hs = started()
        evs = hs.receive_data(ok)
        assert isinstance(evs[0], SendBytes)
        assert evs[0].data.startswith(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n")
    hs = started()
    evs = hs.receive_data(b"-ERR wrong\r\n")
    assert isinstance(evs[0], HandshakeFailed) and hs.state is HandshakeState.FAILED


def test_auth_error_fatal_replconf_error_tolerated() -> None:
    hs = started()
    hs.receive_data(b"+PONG\r\n")
    evs = hs.receive_data(b"-WRONGPASS invalid\r\n")
    assert isinstance(evs[0], HandshakeFailed)
    hs = started(HandshakeConfig(6380, "9.1.2"))
    hs.receive_data(b"+PONG\r\n")
    evs = hs.receive_data(b"-ERR unknown command\r\n" * 3)
    assert [type(e) for e in evs] == [HandshakeNotice, HandshakeNotice, HandshakeNotice, SendBytes]


def test_psync_replies_variants() -> None:
    def to_psync() -> ReplicaHandshake:
        hs = started(HandshakeConfig(6380, "9.1.2"))
        hs.receive_data(b"+PONG\r\n+OK\r\n+OK\r\n+OK\r\n")
        assert hs.state is HandshakeState.RECEIVE_PSYNC_REPLY
        return hs

    hs = to_psync()
    evs = hs.receive_data(b"\n\n+FULLRESYNC bad 12\r\n$5")
    assert evs[:2] == [Keepalive(), Keepalive()]
    assert evs[-1] == FullResyncReply("", -1)
    assert hs.unused_data == b"$5"
    hs = to_psync()
    assert hs.receive_data(b"+CONTINUE\r\n") == [Continue(None)]
    hs = to_psync()
    assert hs.receive_data(b"-NOMASTERLINK Can't SYNC\r\n") == [
        TryLater("-NOMASTERLINK Can't SYNC")
    ]
    hs = to_psync()
    evs = hs.receive_data(b"+WHAT\r\n")
    assert evs[-2:] == [SendBytes(b"SYNC\r\n"), SyncFallback("+WHAT")]
    assert hs.receive_data(b"more") == [] and hs.unused_data == b"more"


def test_line_too_long_and_misuse() -> None:
    hs = started()
    with pytest.raises(RemoteProtocolError):
        hs.receive_data(b"+" * (70 * 1024))
    with pytest.raises(RuntimeError):
        ReplicaHandshake(HandshakeConfig(1, "8.1.8")).receive_data(b"+PONG\r\n")
