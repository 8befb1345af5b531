"""SAVE / BGSAVE / load at start / faults, on a real valsync process; dumps checked by real Valkey."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import valkey

from tests.integration.support import child_pids, connect, digest, info, wait_until
from tests.realvalkey import start_valkey, start_valsync


def _populate(c: object) -> None:
    c.execute_command("DEBUG", "POPULATE", 20000)  # type: ignore[attr-defined]
    c.execute_command("DEBUG", "POPULATE", 100, "other", 5000)  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["8.1.8", "9.1.2"])
def test_save_loads_in_real_valkey_and_back(tmp_path: Path, version: str) -> None:
    with start_valsync("--enable-debug-command", "yes", dir=tmp_path) as mine:
        c = connect(mine)
        _populate(c)
        assert c.save()
        expected = digest(c)
    with start_valkey(version, "--dbfilename", "dump.rdb", dir=tmp_path) as real:
        assert digest(connect(real)) == expected
    with start_valsync("--enable-debug-command", "yes", dir=tmp_path) as again:
        c = connect(again)
        assert digest(c) == expected
        assert c.dbsize() == 20100


def test_bgsave_and_info_fields(tmp_path: Path) -> None:
    with start_valsync("--enable-debug-command", "yes", dir=tmp_path) as mine:
        c = connect(mine)
        _populate(c)
        c.config_set("rdb-key-save-delay", 100)
        assert c.bgsave()
        p = info(c, "persistence")
        assert p["rdb_bgsave_in_progress"] == 1
        with pytest.raises(Exception, match="Background save already in progress"):
            c.bgsave()
        c.config_set("rdb-key-save-delay", 0)
        wait_until(lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, 60, "bgsave end")
        p = info(c, "persistence")
        assert p["rdb_last_bgsave_status"] == "ok"
        assert p["rdb_changes_since_last_save"] == 0
        assert info(c, "stats")["total_forks"] == 1


def test_child_killed_keeps_old_dump(tmp_path: Path) -> None:
    with start_valsync("--enable-debug-command", "yes", dir=tmp_path) as mine:
        c = connect(mine)
        c.execute_command("DEBUG", "POPULATE", 1000)
        c.save()
        good = (tmp_path / "dump.rdb").read_bytes()
        c.execute_command("DEBUG", "POPULATE", 5000, "more")
        c.config_set("rdb-key-save-delay", 1000)
        c.bgsave()
        children = wait_until(
            lambda: child_pids(mine),
            what="fork child",
        )
        os.kill(children[0], signal.SIGKILL)
        wait_until(
            lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, what="child reaped"
        )
        assert info(c, "persistence")["rdb_last_bgsave_status"] == "err"
        assert (tmp_path / "dump.rdb").read_bytes() == good
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("temp-")]
        assert c.ping()


def test_corrupt_dump_refuses_start_and_is_left_alone(tmp_path: Path) -> None:
    with start_valsync("--enable-debug-command", "yes", dir=tmp_path) as mine:
        c = connect(mine)
        c.execute_command("DEBUG", "POPULATE", 100)
        c.save()
    dump = tmp_path / "dump.rdb"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "valsync",
            "serve",
            "--port",
            "0",
            "--dir",
            str(tmp_path),
            "--save",
            "",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode != 0
    assert "Fatal error loading the DB" in res.stdout + res.stderr
    assert dump.read_bytes() == bytes(data)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_disk_fails_save_and_keeps_old_dump(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(small)]).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here")
    try:
        with start_valsync(
            "--enable-debug-command", "yes", "--logfile", str(tmp_path / "log"), dir=small
        ) as mine:
            c = connect(mine)
            c.execute_command("DEBUG", "POPULATE", 100)
            assert c.save()
            good = (small / "dump.rdb").read_bytes()
            c.execute_command("DEBUG", "POPULATE", 20000, "big", 100)
            with pytest.raises(valkey.ResponseError):
                c.save()
            assert (small / "dump.rdb").read_bytes() == good
            c.bgsave()
            wait_until(
                lambda: info(c, "persistence")["rdb_bgsave_in_progress"] == 0, what="bgsave end"
            )
            assert info(c, "persistence")["rdb_last_bgsave_status"] == "err"
            assert (small / "dump.rdb").read_bytes() == good
            assert c.dbsize() == 20100
            time.sleep(0.1)
    finally:
        subprocess.run(["umount", "-l", str(small)])
