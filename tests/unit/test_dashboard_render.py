"""Snapshot tests of dashboard frames, fed recorded and composed INFO texts.

Each scenario renders to ``Console(record=True, width=120)`` and is compared with the frame in
``tests/vectors/dashboard/<name>.txt``. To regenerate after a deliberate change of the view, run
with ``UPDATE_DASHBOARD_FRAMES=1`` and review the diff of those files by eye.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from valsync.dashboard.model import (
    History,
    ServerSnapshot,
    build_snapshot,
    down_snapshot,
    pending_snapshot,
)
from valsync.dashboard.render import render

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
INFO = VECTORS / "info"
FRAMES = VECTORS / "dashboard"
UPDATE = os.environ.get("UPDATE_DASHBOARD_FRAMES") == "1"


def _bytes(value: Any) -> Any:
    """JSON replies back to the types hiredis gives (bulk strings are bytes)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return [_bytes(v) for v in value]
    return value


def _during_sync(case: str, index: int) -> str:
    data = json.loads((INFO / "info-during-sync.json").read_text())
    info: str = data[case][index]["info"]
    return info


def _two_replicas() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((INFO / "info-two-replicas.json").read_text())[
        "two-replicas-primary-8.1.8"
    ]
    return data


def _real_fork() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((INFO / "real-wait-bgsave-fork.json").read_text())
    return data


def _from_capture(port: int, replies: dict[str, Any]) -> ServerSnapshot:
    info = "\r\n".join(
        replies[f"INFO {s}"] for s in ("server", "replication", "persistence", "stats")
    )
    return build_snapshot(
        "127.0.0.1",
        port,
        taken_at=10.0,
        info=info,
        role_reply=_bytes(replies["ROLE"]),
        client_list=replies["CLIENT LIST TYPE REPLICA"],
    )


def _composed(name: str, port: int, role_reply: Any = None) -> ServerSnapshot:
    text = (INFO / "composed" / f"{name}.txt").read_text()
    return build_snapshot("127.0.0.1", port, taken_at=10.0, info=text, role_reply=role_reply)


Scenario = tuple[list[ServerSnapshot], History | None]


def two_replicas_online() -> Scenario:
    d = _two_replicas()
    primary = build_snapshot(
        "127.0.0.1", 8101, taken_at=0, info=d["primary_info"], role_reply=_bytes(d["primary_role"])
    )
    replica = build_snapshot(
        "127.0.0.1",
        8102,
        taken_at=0,
        info=d["replica_8.1.8_info"],
        role_reply=_bytes(d["replica_role"]),
    )
    return [primary, replica], None


def wait_bgsave_fork() -> Scenario:
    d = _real_fork()
    ports = d["ports"]
    snaps = [
        _from_capture(ports[k], d[k]) for k in ("primary", "replica_online", "replica_waiting")
    ]
    return snaps, None


def dual_channel_bg_transfer() -> Scenario:
    case = "primary-8.1.8-replica-8.1.8-dual-channel"
    primary = build_snapshot("127.0.0.1", 8211, taken_at=0, info=_during_sync(case, 3))
    replica = build_snapshot(
        "127.0.0.1",
        8212,
        taken_at=0,
        info=_during_sync(case, 4),
        role_reply=[b"slave", b"127.0.0.1", 8211, b"sync", -1],
    )
    return [primary, replica], None


def send_bulk() -> Scenario:
    return [_composed("primary-send-bulk", 7001)], None


def online_lagging() -> Scenario:
    return [_composed("primary-lagging", 6379)], None


def link_down() -> Scenario:
    role = [b"slave", b"127.0.0.1", 7001, b"connect", -1]
    return [_composed("replica-link-down", 7002, role), _composed("replica-link-stale", 7003)], None


def sync_in_progress() -> Scenario:
    role = [b"slave", b"127.0.0.1", 7001, b"sync", -1]
    return [
        _composed("replica-sync-sized", 7002, role),
        _composed("replica-sync-diskless", 7003, role),
    ], None


def server_down() -> Scenario:
    d = _two_replicas()
    primary = build_snapshot("127.0.0.1", 8101, taken_at=0, info=d["primary_info"])
    down = down_snapshot(
        "127.0.0.1",
        8102,
        taken_at=0,
        error="connect to 127.0.0.1:8102: Connection refused",
        down_for=7.0,
    )
    pending = pending_snapshot("127.0.0.1", 8103, taken_at=0)
    return [primary, down, pending], None


def sparklines() -> Scenario:
    """A primary whose offset grows unevenly over 12 polls a quarter second apart, with one
    replica falling behind and catching up: the write and lag sparklines."""
    base = (INFO / "composed" / "primary-lagging.txt").read_text()
    history = History()
    offset = 9_000_000
    snap = None
    steps = [0, 4096, 8192, 65536, 131072, 0, 0, 16384, 262144, 4096, 0, 1024]
    for i, step in enumerate(steps):
        offset += step
        replica_offset = offset - (step * 2)
        text = (
            base.replace("connected_slaves:3", "connected_slaves:2")
            .replace("master_repl_offset:9000000", f"master_repl_offset:{offset}")
            .replace("offset=9000000,lag=0", f"offset={offset},lag=0")
            .replace("offset=8950000,lag=3", f"offset={replica_offset},lag=1")
            .replace(
                "slave2:ip=10.0.0.4,port=6379,state=online,offset=6000000,lag=15,type=replica\n", ""
            )
        )
        snap = build_snapshot("127.0.0.1", 6379, taken_at=100.0 + i * 0.25, info=text)
        history.record(snap)
    assert snap is not None
    return [snap], history


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "two-replicas-online": two_replicas_online,
    "wait-bgsave-fork": wait_bgsave_fork,
    "dual-channel-bg-transfer": dual_channel_bg_transfer,
    "send-bulk": send_bulk,
    "online-lagging": online_lagging,
    "link-down": link_down,
    "sync-in-progress": sync_in_progress,
    "server-down": server_down,
    "sparklines": sparklines,
}


def frame_text(snaps: list[ServerSnapshot], history: History | None) -> str:
    console = Console(record=True, width=120, file=open(os.devnull, "w"), color_system="truecolor")
    with console.file:
        console.print(render(snaps, history))
        return console.export_text(styles=False)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_frame_matches_stored(name: str) -> None:
    snaps, history = SCENARIOS[name]()
    text = frame_text(snaps, history)
    path = FRAMES / f"{name}.txt"
    if UPDATE:
        path.write_text(text)
    assert path.exists(), (
        f"no stored frame {path}; run with UPDATE_DASHBOARD_FRAMES=1 and review it"
    )
    assert text == path.read_text()


def test_every_replica_state_is_covered() -> None:
    """The stored frames together show each state an operator meets during a sync."""
    frames = "".join((FRAMES / f"{name}.txt").read_text() for name in SCENARIOS)
    for word in (
        "wait_bgsave",
        "send_bulk",
        "online",
        "bg_transfer",
        "rdb-channel",
        "main-channel",
        "DOWN",
        "down (connect)",
        "full sync",
    ):
        assert word in frames, word


def _colours(snaps: list[ServerSnapshot]) -> dict[str, set[str]]:
    """Text of each styled segment to the colour names it is drawn in."""
    console = Console(width=120, file=open(os.devnull, "w"), color_system="truecolor")
    out: dict[str, set[str]] = {}
    with console.file:
        for seg in console.render(render(snaps)):
            if seg.style is not None and seg.style.color is not None and seg.text.strip():
                out.setdefault(seg.text.strip(), set()).add(seg.style.color.name)
    return out


def test_unhealthy_replicas_are_red() -> None:
    colours = _colours(online_lagging()[0])
    # 3 MB behind a 4 MiB backlog with no ACK for 15 s: red; 48 KiB and 3 s: yellow.
    assert colours["2.9 MiB"] == {"red"}
    assert colours["15s"] == {"red"}
    assert colours["3s"] == {"yellow"}
    assert colours["0s"] == {"green"}
    assert colours["online"] == {"green"}


def test_sync_states_are_yellow_and_down_is_red() -> None:
    colours = _colours(dual_channel_bg_transfer()[0] + server_down()[0])
    assert colours["wait_bgsave"] == {"yellow"}
    assert colours["bg_transfer"] == {"yellow"}
    assert "red" in colours["DOWN"]
    link = _colours(link_down()[0])
    assert link["down"] == {"red"}
    assert link["25s ago"] == {"red"}
