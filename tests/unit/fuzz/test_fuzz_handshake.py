"""Fuzzing the replica's handshake machines (``valsync.replication.handshake``) and the RDB
payload framing (``valsync.replication.rdb_transfer``) with mutated replies of real primaries.

Whatever a primary sends, the machines return events or raise ``RemoteProtocolError``; the
outcome does not depend on how the bytes were chunked; once done, every byte that followed
the last reply line is in ``unused_data``.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.fuzz.support import budget, chunked, guarded, mutated
from valsync.replication import (
    CachedPrimary,
    HandshakeConfig,
    RdbChannelHandshake,
    RdbPayloadReceiver,
    RemoteProtocolError,
    ReplicaHandshake,
)

VECTORS = [Path(__file__).parents[2] / "vectors", Path("/work/shared/vectors")]


def primary_replies() -> list[bytes]:
    """The first bytes real primaries (and the capture's fake primary) sent to a replica."""
    seeds = set()
    for root in VECTORS:
        for sub in ("primary-to-fake-replica", "replica-to-fake-primary"):
            for path in sorted((root / sub).glob("*.s2c.bin")) if root.exists() else []:
                seeds.add(path.read_bytes()[:600])
    seeds.update(
        [
            b"+PONG\r\n+OK\r\n+OK\r\n+OK\r\n\n\n+FULLRESYNC " + b"a" * 40 + b" 14\r\n$EOF:",
            b"-NOAUTH Authentication required.\r\n+OK\r\n-ERR x\r\n+OK\r\n+OK\r\n+CONTINUE\r\n",
            b"+OK\r\n+OK\r\n\n$ENDOFF:100 " + b"b" * 40 + b" 0 7\r\n$EOF:" + b"c" * 40 + b"\r\n",
        ]
    )
    return sorted(seeds)


SEEDS = primary_replies()
configs = st.builds(
    HandshakeConfig,
    listening_port=st.integers(0, 65535),
    version=st.sampled_from(["9.1.2", "8.1.8"]),
    announce_ip=st.none() | st.just("10.0.0.1"),
    primary_user=st.none() | st.just("repl"),
    primary_auth=st.none() | st.just("secret"),
    dual_channel=st.booleans(),
)
cuts = st.lists(st.integers(0, 1 << 12), max_size=5)


def feed(
    machine: ReplicaHandshake | RdbChannelHandshake, pieces: list[bytes]
) -> tuple[list[object], bytes]:
    """Every event the machine returns for ``pieces`` (a protocol error as the last one), and
    the bytes it kept for the next stage once done."""
    machine.initiate()
    events: list[object] = []
    try:
        for piece in pieces:
            events += machine.receive_data(piece)
    except RemoteProtocolError as err:
        events.append(("error", str(err)))
    if machine.done:
        assert len(machine.unused_data) <= sum(len(p) for p in pieces)
    return events, machine.unused_data if machine.done else b""


def run_main(
    config: HandshakeConfig, cached: CachedPrimary | None, dual_main: bool, pieces: list[bytes]
) -> tuple[list[object], bytes]:
    if dual_main:
        return feed(ReplicaHandshake.for_dual_channel_main(config, 7, "d" * 40, 99), pieces)
    return feed(ReplicaHandshake(config, cached), pieces)


@settings(max_examples=budget(200))
@given(
    mutated(SEEDS),
    configs,
    st.none() | st.builds(CachedPrimary, st.just("e" * 40), st.integers(-1, 2**40)),
    st.booleans(),
    cuts,
)
@example(b"+PONG\r\n+OK\r\n+OK\r\n+OK\r\n+FULLRESYNC " + b"a" * 40 + " ²\r\n".encode(),
         HandshakeConfig(6380, "9.1.2"), None, False, [])  # fmt: skip
def test_main_channel_handshake(
    data: bytes,
    config: HandshakeConfig,
    cached: CachedPrimary | None,
    dual_main: bool,
    cut: list[int],
) -> None:
    with guarded("replica-handshake"):
        whole = run_main(config, cached, dual_main, [data])
        assert run_main(config, cached, dual_main, chunked(data, cut)) == whole


def run_rdb_channel(
    config: HandshakeConfig, announce: bool, pieces: list[bytes]
) -> tuple[list[object], bytes]:
    return feed(RdbChannelHandshake(config, announce_version=announce), pieces)


@settings(max_examples=budget(150))
@given(mutated(SEEDS), configs, st.booleans(), cuts)
@example(b"+OK\r\n\n$ENDOFF:1_0 " + b"b" * 40 + b" 0 7\r\n", HandshakeConfig(1, "9.1.2"), False,
         [])  # fmt: skip
def test_rdb_channel_handshake(
    data: bytes, config: HandshakeConfig, announce: bool, cut: list[int]
) -> None:
    with guarded("rdb-channel-handshake"):
        whole = run_rdb_channel(config, announce, [data])
        assert run_rdb_channel(config, announce, chunked(data, cut)) == whole


def run_payload(pieces: list[bytes]) -> tuple[list[object], bytes, int]:
    receiver = RdbPayloadReceiver()
    body = bytearray()
    others: list[object] = []
    try:
        for piece in pieces:
            for ev in receiver.receive_data(piece):
                if type(ev).__name__ == "RdbChunk":
                    body += ev.data  # type: ignore[union-attr]
                elif type(ev).__name__ != "RdbKeepalive":
                    others.append(ev)
    except RemoteProtocolError as err:
        others.append(("error", str(err)))
    if receiver.size is not None:
        assert receiver.received <= receiver.size
    return others, bytes(body), receiver.received


payloads = st.one_of(
    mutated([b"\n\n$89\r\n" + bytes(range(89)) + b"*1\r\n$4\r\nPING\r\n"]),
    mutated([b"$EOF:" + b"m" * 40 + b"\r\nREDIS0011" + b"x" * 50 + b"m" * 40 + b"rest"]),
    mutated([b"-ERR BGSAVE failed\r\nafter"]),
)


@settings(max_examples=budget(150))
@given(payloads, cuts)
@example(b"$1099511627776\r\nREDIS", [])
@example(b"$" + b"9" * 5000 + b"\r\n", [])
def test_rdb_payload_framing(data: bytes, cut: list[int]) -> None:
    """A ``$<len>`` of 2^40 is just a long wait: nothing is allocated for it."""
    with guarded("rdb-payload-framing"):
        whole = run_payload([data])
        assert run_payload(chunked(data, cut)) == whole


def test_found_inputs_parse_as_c_does() -> None:
    """Crashers the fuzzers found, now parsed as Valkey's strtoll/sscanf would."""
    from valsync.replication import FullResyncReply, parse_endoff

    def fullresync_offset(tail: str) -> int:
        hs = ReplicaHandshake(HandshakeConfig(6380, "9.1.2"))
        hs.initiate()
        events = hs.receive_data(b"+PONG\r\n+OK\r\n+OK\r\n+OK\r\n")
        events = hs.receive_data(b"+FULLRESYNC " + b"a" * 40 + b" " + tail.encode() + b"\r\n")
        assert isinstance(events[-1], FullResyncReply)
        return events[-1].offset

    assert fullresync_offset("²") == 0  # a Unicode digit is no digit to strtoll
    assert fullresync_offset("12x") == 12
    assert fullresync_offset("9" * 5000) == 2**63 - 1
    assert fullresync_offset("-" + "9" * 30) == -(2**63)
    assert parse_endoff("$ENDOFF:1_0 " + "b" * 40 + " 0 7") is None
    assert parse_endoff("$ENDOFF:10 " + "b" * 40 + " 0 7") is not None
    receiver = RdbPayloadReceiver()
    try:
        receiver.receive_data(b"$" + b"9" * 5000 + b"\r\n")
    except RemoteProtocolError as err:
        assert "Bad RDB length line from PRIMARY" in str(err)
    else:
        raise AssertionError("a 5000-digit RDB length was accepted")
