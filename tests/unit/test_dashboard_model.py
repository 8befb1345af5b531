"""The sans-IO model: INFO parsing, snapshots and the sparkline history."""

from __future__ import annotations

import json
from pathlib import Path

from valsync.dashboard.model import (
    History,
    build_snapshot,
    down_snapshot,
    parse_client_list,
    parse_info,
)
from valsync.dashboard.render import format_bytes, sparkline

INFO = Path(__file__).resolve().parent.parent / "vectors" / "info"


def _real() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(
        (INFO / "real-wait-bgsave-fork.json").read_text()
    )
    return data


def test_parse_info_flattens_sections_and_skips_headers() -> None:
    fields = parse_info(
        b"# Replication\r\nrole:master\r\n\r\n# Stats\r\ninstantaneous_ops_per_sec:7\r\n"
    )
    assert fields == {"role": "master", "instantaneous_ops_per_sec": "7"}


def test_primary_snapshot_from_real_capture() -> None:
    primary = _real()["primary"]
    info = "".join(
        str(primary[f"INFO {s}"]) for s in ("server", "replication", "persistence", "stats")
    )
    snap = build_snapshot(
        "127.0.0.1",
        1,
        taken_at=0.0,
        info=info,
        client_list=str(primary["CLIENT LIST TYPE REPLICA"]),
    )
    assert snap.role == "master" and snap.is_primary and snap.version == "8.1.8"
    assert snap.master_repl_offset == 26113
    assert (snap.backlog_size, snap.backlog_first_byte_offset, snap.backlog_histlen) == (
        10485760,
        1,
        26113,
    )
    assert [r.state for r in snap.replicas] == ["online", "wait_bgsave"]
    assert snap.replica_lag_bytes(snap.replicas[0]) == 0
    assert snap.replica_lag_bytes(snap.replicas[1]) is None  # not streaming yet: no lag to speak of
    assert snap.fork is not None
    assert (snap.fork.kind, snap.fork.keys_processed, snap.fork.keys_total) == ("rdb", 1, 200)
    assert snap.replica_clients == 2 and snap.replica_output_bytes == 16448


def test_replica_snapshot_link_and_role_state() -> None:
    replica = _real()["replica_waiting"]
    info = str(replica["INFO replication"])
    snap = build_snapshot(
        "127.0.0.1", 2, taken_at=0.0, info=info, role_reply=[b"slave", b"127.0.0.1", 1, b"sync", -1]
    )
    assert snap.link is not None
    assert (
        snap.link.status == "down" and snap.link.sync_in_progress and snap.link.role_state == "sync"
    )
    assert snap.link.sync_total_bytes == -1 and snap.fork is None and snap.replicas == ()


def test_missing_fields_are_none_not_errors() -> None:
    snap = build_snapshot("h", 1, taken_at=0.0, info="role:master\r\n")
    assert (
        snap.master_repl_offset is None and snap.backlog_size is None and snap.ops_per_sec is None
    )


def test_client_list_parsing() -> None:
    clients = parse_client_list(
        "id=3 addr=127.0.0.1:1 flags=S omem=10\nid=4 addr=x flags=N omem=0\n"
    )
    assert [c["flags"] for c in clients] == ["S", "N"]


def test_history_rate_from_offset_deltas_and_reset_on_new_replid() -> None:
    history = History(maxlen=4)

    def snap(t: float, offset: int, replid: str = "a" * 40) -> None:
        text = f"role:master\r\nmaster_replid:{replid}\r\nmaster_repl_offset:{offset}\r\n"
        history.record(build_snapshot("h", 1, taken_at=t, info=text))

    snap(0.0, 100)
    snap(0.5, 600)
    snap(1.0, 600)
    snap(1.5, 50, replid="b" * 40)  # failover / new history: no negative or bogus spike
    history.record(down_snapshot("h", 1, taken_at=2.0, error="gone"))
    snap(2.5, 60, replid="b" * 40)  # first poll after a gap has no rate either
    rates = [s.repl_bytes_per_sec for s in history.for_target("h:1")]
    assert rates == [0.0, None, None, None]  # ring of 4 keeps the newest; down is a gap


def test_sparkline_and_bytes_format() -> None:
    assert sparkline([0.0, 1.0, None, 0.5], width=4) == "▁█ ▅"
    assert sparkline([], width=3) == "   "
    assert (
        format_bytes(1023) == "1023 B"
        and format_bytes(10485760) == "10.0 MiB"
        and format_bytes(None) == "—"
    )


def test_valsync_is_told_apart_from_valkey() -> None:
    info = "# Server\r\nserver_name:valkey\r\nvalkey_version:8.1.8\r\nvalsync:1\r\n# Replication\r\nrole:master\r\n"
    snap = build_snapshot("h", 1, taken_at=0.0, info=info)
    assert snap.is_valsync and snap.version == "8.1.8"
    assert not build_snapshot(
        "h", 1, taken_at=0.0, info="valkey_version:8.1.8\r\nrole:master\r\n"
    ).is_valsync
