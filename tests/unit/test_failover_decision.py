"""FAILOVER's parsing, refusals and cron decision, without sockets."""

from __future__ import annotations

import pytest

from valsync.replication.failover import (
    Abort,
    FailoverRequest,
    FailoverState,
    FailoverSyntaxError,
    ReplicaView,
    SwitchTo,
    failover_step,
    parse_failover,
    refuse_failover,
)

B = ReplicaView("127.0.0.1", 7001, 100, True)
C = ReplicaView("127.0.0.1", 7002, 90, True)


def test_parse() -> None:
    assert parse_failover([b"FAILOVER", b"abort"]) == FailoverRequest(abort=True)
    assert parse_failover([b"FAILOVER", b"TIMEOUT", b"50", b"TO", b"h", b"7", b"FORCE"]) == (
        FailoverRequest(False, "h", 7, True, 50)
    )
    for bad, text in [
        ([b"FAILOVER", b"ABORT", b"x"], "ERR syntax error"),
        ([b"FAILOVER", b"TIMEOUT", b"0"], "ERR FAILOVER timeout must be greater than 0"),
        ([b"FAILOVER", b"TO", b"h", b"p"], "ERR value is not an integer or out of range"),
        ([b"FAILOVER", b"TIMEOUT", b"1", b"TIMEOUT", b"2"], "ERR syntax error"),
    ]:
        with pytest.raises(FailoverSyntaxError, match=text):
            parse_failover(bad)


def test_refusals_in_valkeys_order() -> None:
    go = FailoverRequest()
    assert refuse_failover(go, FailoverState.WAITING_FOR_SYNC, False, [B]) == (
        "ERR FAILOVER already in progress."
    )
    assert refuse_failover(go, FailoverState.NONE, True, [B]) == (
        "ERR FAILOVER is not valid when server is a replica."
    )
    assert refuse_failover(go, FailoverState.NONE, False, []) == (
        "ERR FAILOVER requires connected replicas."
    )
    offline = ReplicaView("127.0.0.1", 7003, 0, False)
    to_offline = FailoverRequest(host="127.0.0.1", port=7003)
    assert refuse_failover(to_offline, FailoverState.NONE, False, [offline]) == (
        "ERR FAILOVER target replica is not online."
    )
    assert refuse_failover(go, FailoverState.NONE, False, [B]) is None


def test_step_waits_switches_and_times_out() -> None:
    to_c = FailoverRequest(host="127.0.0.1", port=7002, timeout_ms=10, force=False)
    assert failover_step(to_c, 1000, 995, [B, C], 100) is None  # C is behind
    assert failover_step(to_c, 1000, 1000, [B, C], 100) == Abort(
        "Replica never caught up before timeout"
    )
    forced = FailoverRequest(host="127.0.0.1", port=7002, timeout_ms=10, force=True)
    step = failover_step(forced, 1000, 1001, [B, C], 100)
    assert isinstance(step, SwitchTo) and (step.host, step.port) == ("127.0.0.1", 7002)
    anyone = failover_step(FailoverRequest(), 0, 5, [C, B], 100)
    assert anyone == SwitchTo(
        "127.0.0.1", 7001, "Failover target 127.0.0.1:7001 is synced, failing over."
    )
