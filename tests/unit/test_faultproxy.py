"""The fault proxy's decisions (sans-IO): what it sends and where it cuts."""

from __future__ import annotations

from tests.faultproxy import DOWN, UP, Cut, FaultPlan, LinkFaults, Send, Sleep


def sent(actions: list[object]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Send))


def test_cut_mid_rdb_counts_payload_after_fullresync_line() -> None:
    plan = FaultPlan()
    plan.set("cut_mid_rdb", rdb_bytes=10)
    link = LinkFaults(plan)
    assert sent(link.feed(UP, b"PSYNC ? -1\r\n", 0)) == b"PSYNC ? -1\r\n"
    first = link.feed(DOWN, b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n$20\r\n", 0)
    assert sent(first).endswith(b"$20\r\n") and not any(isinstance(a, Cut) for a in first)
    cut = link.feed(DOWN, b"REDIS0011" + b"x" * 11, 0)
    assert sent(cut) == b"REDIS"  # 5 header bytes + 5 here = 10 payload bytes
    assert isinstance(cut[-1], Cut) and plan.cuts == 1 and plan.mode == "pass"


def test_cut_mid_rdb_inside_the_fullresync_chunk() -> None:
    plan = FaultPlan()
    plan.set("cut_mid_rdb", rdb_bytes=3)
    actions = LinkFaults(plan).feed(DOWN, b"+FULLRESYNC id 7\r\n$EOF:abcdef", 0)
    assert sent(actions) == b"+FULLRESYNC id 7\r\n$EO" and isinstance(actions[-1], Cut)


def test_cut_mid_command_only_on_a_command_start() -> None:
    plan = FaultPlan()
    plan.set("cut_mid_command")
    link = LinkFaults(plan)
    assert sent(link.feed(DOWN, b"+CONTINUE\r\n", 0)) == b"+CONTINUE\r\n"
    actions = link.feed(DOWN, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", 0)
    assert sent(actions) == b"*3\r\n$" and isinstance(actions[-1], Cut)
    assert plan.cut_log == ["mid-command"]


def test_delay_bytewise_and_stall() -> None:
    plan = FaultPlan()
    link = LinkFaults(plan)
    plan.set("delay", delay=0.25)
    assert link.feed(UP, b"ab", 0) == [Sleep(0.25), Send(b"ab")]
    plan.set("bytewise")
    assert link.feed(DOWN, b"abc", 0) == [Send(b"a"), Send(b"b"), Send(b"c")]
    plan.set("stall", stall_until=10.0)
    assert link.feed(DOWN, b"x", 4.0) == [Sleep(6.0), Send(b"x")]
    assert link.feed(DOWN, b"y", 11.0) == [Send(b"y")]
