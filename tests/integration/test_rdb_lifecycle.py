"""What a dump does across restarts, cancelled and failed saves: valsync next to real 8.1.8."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import valkey

from tests.differential import real_propagation
from tests.integration.support import child_pids, connect, digest, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _reply(c: valkey.Valkey, *args: object) -> object:
    try:
        return c.execute_command(*args)
    except valkey.ResponseError as err:
        return f"ERR: {err}"
    except valkey.BusyLoadingError as err:
        return f"LOADING: {err}"


def _cancel_and_flushall_transcript(server: ServerProcess) -> list[object]:
    c = connect(server)
    out = [_reply(c, "BGSAVE", "CANCEL"), _reply(c, "BGSAVE", "NOPE")]
    c.execute_command("DEBUG", "POPULATE", 2000)
    c.config_set("rdb-key-save-delay", 10000)
    out.append(_reply(c, "BGSAVE"))
    wait_until(lambda: child_pids(server), what="the save child")
    out.append(_reply(c, "BGSAVE"))
    out.append(_reply(c, "BGSAVE", "CANCEL"))
    wait_until(lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, what="cancelled")
    out.append(info(c, "persistence")["rdb_last_bgsave_status"])
    out.append(_reply(c, "BGSAVE", "CANCEL"))
    out.append(_reply(c, "BGSAVE"))
    wait_until(lambda: child_pids(server), what="the save child")
    out.append(_reply(c, "FLUSHALL"))
    wait_until(lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, what="aborted")
    out.append(info(c, "persistence")["rdb_last_bgsave_status"])
    out.append(info(c, "persistence")["rdb_changes_since_last_save"] > 999)
    out.append(not [p for p in Path(c.config_get("dir")["dir"]).iterdir() if "temp-" in p.name])
    return out


def test_bgsave_cancel_and_flushall_abort_the_child(tmp_path: Path) -> None:
    """BGSAVE CANCEL and FLUSHALL end the save child without marking the save as failed."""
    args = ("--enable-debug-command", "yes", "--save", "")
    for sub in ("real", "mine"):
        (tmp_path / sub).mkdir()
    with start_valkey("8.1.8", *args, dir=tmp_path / "real") as real:
        expected = _cancel_and_flushall_transcript(real)
    with start_valsync(*args, dir=tmp_path / "mine") as mine:
        assert _cancel_and_flushall_transcript(mine) == expected


def _misconf_transcript(server: ServerProcess) -> list[object]:
    c = connect(server)
    c.config_set("save", "900 1")
    c.config_set("rdb-key-save-delay", 10_000_000)
    c.set("x", "x")
    c.bgsave()
    os.kill(wait_until(lambda: child_pids(server), what="the save child")[0], signal.SIGKILL)
    wait_until(lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, what="reaped")
    out = [
        _reply(c, "GET", "x"),
        _reply(c, "SET", "x", "y"),
        _reply(c, "PING"),
        _reply(c, "EVAL", "return redis.call('set','x',1)", 1, "x"),
        _reply(c, "EVAL", "#!lua\nreturn redis.call('set','x',1)", 1, "x"),
        _reply(c, "EVAL", "#!lua flags=no-writes\nreturn redis.call('get','x')", 1, "x"),
    ]
    c.config_set("rdb-key-save-delay", 0)
    c.bgsave()
    wait_until(lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, what="saved")
    out.append(_reply(c, "SET", "x", "y"))
    return out


def test_failed_bgsave_refuses_writes_with_misconf(tmp_path: Path) -> None:
    args = ("--enable-debug-command", "yes")
    for sub in ("real", "mine"):
        (tmp_path / sub).mkdir()
    with start_valkey("8.1.8", *args, dir=tmp_path / "real") as real:
        expected = _misconf_transcript(real)
    with start_valsync(*args, dir=tmp_path / "mine") as mine:
        got = _misconf_transcript(mine)
    assert got == expected
    assert str(expected[1]).startswith("ERR: MISCONF")


def test_restarted_primary_expires_dump_keys_into_the_resumed_stream(tmp_path: Path) -> None:
    """Keys already expired in the dump are dropped at load and their DELs go into the
    backlog after the restored offset, so a real replica resumes by partial sync."""
    args = ("--enable-debug-command", "yes", "--save", "3600 1", "--repl-timeout", "3600")
    primary = start_valsync(*args, dir=tmp_path)
    port = primary.port
    with start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(port)) as replica:
        try:
            p, r = connect(primary), connect(replica)
            wait_synced(p, r)
            p.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
            for j in range(64):
                p.execute_command("SELECT", j % 16)
                p.execute_command("SET", j, "somevalue", "PX", 10)
            p.execute_command("SELECT", 0)
            p.set("kept", "value")
            time.sleep(0.05)
            wait_synced(p, r)
            offset = info(p)["master_repl_offset"]
            replid = info(p)["master_replid"]
            try:
                p.shutdown()
            except valkey.ConnectionError:
                pass
            primary.proc.wait(timeout=60)
        finally:
            primary.stop()
        with start_valsync(*args, dir=tmp_path, port=port) as again:
            p = connect(again)
            wait_until(lambda: info(r)["master_link_status"] == "up", 30, "replica back")
            rep = info(p)
            assert rep["master_replid2"] == replid
            assert rep["second_repl_offset"] == offset + 1
            assert rep["master_repl_offset"] == offset + rep["repl_backlog_histlen"] > offset
            assert info(p, "persistence")["rdb_last_load_keys_expired"] == 64
            assert info(p, "stats")["sync_partial_ok"] == 1
            wait_synced(p, r)
            assert digest(r) == digest(p)
            assert r.dbsize() == 1


FLUSHES = [
    ["SET", "a", "1"],
    ["SET", "b", "1"],
    ["FLUSHDB"],
    ["FLUSHDB"],
    ["EVAL", "redis.call('flushdb')", "0"],
    ["SET", "a", "1"],
    ["FLUSHALL"],
    ["FLUSHALL"],
    ["EVAL", "redis.call('flushall')", "0"],
]


def _flush_effects(server: ServerProcess) -> tuple[list[list[bytes]], list[int]]:
    c = connect(server)
    changes = []
    for argv in FLUSHES:
        c.execute_command(*argv)
        changes.append(info(c, "persistence")["rdb_changes_since_last_save"])
    return real_propagation(server.port, FLUSHES), changes


@pytest.mark.parametrize("save", ["", "3600 1 300 100"])
def test_flushes_count_removed_keys_and_always_propagate(save: str) -> None:
    """FLUSHDB/FLUSHALL add the keys they removed to the dirty count, and replicate even when
    there was nothing to remove (Valkey's forceCommandPropagation); with save points FLUSHALL
    saves at once, leaving no change unsaved."""
    args = ("--repl-diskless-sync", "no", "--save", save)
    with start_valkey("8.1.8", *args) as real:
        expected = _flush_effects(real)
    with start_valsync(*args) as mine:
        assert _flush_effects(mine) == expected
    assert expected[0].count([b"flushdb"]) + expected[0].count([b"FLUSHDB"]) == 3


def _replica(kind: str, *args: str) -> ServerProcess:
    if kind == "valsync":
        return start_valsync("--enable-debug-command", "yes", *args)
    return start_valkey("8.1.8", "--enable-debug-command", "yes", *args)


def _swapdb_transcript(replica_kind: str, primary_kind: str, same_history: bool) -> list[object]:
    """A swapdb diskless load: of a new history (-LOADING), cut by CLIENT KILL on the primary
    (old data back), then of the same history (async loading: old data served meanwhile)."""
    out: list[object] = []
    with _replica(primary_kind) as m, _replica(replica_kind) as r:
        cm, cr = connect(m), connect(r)
        cm.config_set("repl-diskless-sync", "yes")
        cm.config_set("repl-diskless-sync-delay", 0)
        cm.config_set("dual-channel-replication-enabled", "no")
        cr.config_set("dual-channel-replication-enabled", "no")
        cr.config_set("repl-diskless-load", "swapdb")
        cr.config_set("replica-read-only", "no")
        cr.config_set("loading-process-events-interval-bytes", 1024)
        cr.execute_command("DEBUG", "POPULATE", 50, "old", 10)
        cr.set("mykey", "myvalue")
        cm.execute_command("DEBUG", "POPULATE", 200, "new", 1000)
        cm.config_set("rdbcompression", "no")
        cm.config_set("rdb-key-save-delay", 20000)
        cr.execute_command("REPLICAOF", "127.0.0.1", m.port)
        wait_until(lambda: info(cr, "persistence")["loading"] == 1, 20, "loading")
        out.append(_reply(cr, "GET", "mykey"))
        cm.config_set("repl-diskless-sync-delay", 5)
        cm.execute_command("CLIENT", "KILL", "TYPE", "replica")
        wait_until(lambda: info(cr, "persistence")["loading"] == 0, 5, "load aborted")
        out += [_reply(cr, "GET", "mykey"), _reply(cr, "DBSIZE")]
        cm.config_set("rdb-key-save-delay", 0)
        wait_until(lambda: info(cr)["master_link_status"] == "up", 30, "synced")
        if not same_history:
            return out
        cr.set("mykey", "myvalue")
        cm.config_set("repl-diskless-sync-delay", 0)
        cm.config_set("rdb-key-save-delay", 20000)
        pipe = cm.pipeline(transaction=True)  # the replica must not resume before the writes
        pipe.execute_command("CLIENT", "KILL", "TYPE", "replica")
        pipe.config_set("repl-backlog-size", 16384)
        for j in range(4):
            pipe.set(f"fill{j}", "A" * 16384)
        pipe.execute()
        wait_until(lambda: info(cr, "persistence")["async_loading"] == 1, 20, "async loading")
        out += [
            info(cr, "persistence")["loading"],
            _reply(cr, "GET", "mykey"),
            _reply(cr, "DBSIZE"),
            _reply(cr, "REPLICAOF", "NO", "ONE"),
            _reply(cr, "CONFIG", "SET", "appendonly", "no"),
            _reply(cr, "CONFIG", "SET", "maxmemory-clients", "0"),
        ]
        cm.config_set("rdb-key-save-delay", 0)
        cm.execute_command("CLIENT", "KILL", "TYPE", "replica")
        wait_until(lambda: info(cr)["master_link_status"] == "up", 30, "synced again")
        out += [_reply(cr, "GET", "mykey"), _reply(cr, "DBSIZE")]
    return out


def test_swapdb_diskless_loads_against_real_valkey() -> None:
    expected = _swapdb_transcript("8.1.8", "8.1.8", same_history=True)
    assert _swapdb_transcript("valsync", "8.1.8", same_history=True) == expected
    # a primary killing the link while its fork child still holds the socket
    assert _swapdb_transcript("8.1.8", "valsync", same_history=False) == expected[:3]


def _cow_fields(server: ServerProcess) -> list[object]:
    c = connect(server)
    c.execute_command("DEBUG", "POPULATE", 3000, "key", 500)
    c.config_set("rdb-key-save-delay", 1000)
    c.bgsave()

    def grows() -> bool:
        for j in range(0, 3000, 7):
            c.setrange(f"key:{j}", 0, "B" * 500)
        p = info(c, "persistence")
        return p["current_cow_size"] > 0 and p["current_save_keys_processed"] > 0

    out: list[object] = [bool(wait_until(grows, 20, "COW reported"))]
    out.append(info(c, "persistence")["current_save_keys_total"])
    wait_until(lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, 30, "saved")
    p = info(c, "persistence")
    out += [p["current_cow_size"], p["current_cow_peak"], p["rdb_last_cow_size"] > 0]
    return out


def test_child_copy_on_write_is_reported() -> None:
    args = ("--enable-debug-command", "yes")
    with start_valkey("8.1.8", *args) as real:
        expected = _cow_fields(real)
    with start_valsync(*args) as mine:
        assert _cow_fields(mine) == expected
