"""valsync.log: Valkey's line format, levels and fork-safe file appends."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from valsync.log import ServerLog, format_line, timestamp

# As printed by valkey-server 8.1.8: "8926:M 27 Nov 2026 03:40:21.321 # Fatal error, ..."
LINE = re.compile(
    r"^(\d+):([MSCX]) (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d:\d\d:\d\d\.\d{3}) ([.\-*#]) (.*)$"
)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_timestamp_is_valkeys(utc: None) -> None:
    assert timestamp(1795750821.321) == "27 Nov 2026 03:40:21.321"
    assert timestamp(0.0) == "01 Jan 1970 00:00:00.000"


def test_format_line(utc: None) -> None:
    line = format_line(8926, "M", "warning", "Fatal error", 1795750821.3219)
    assert line == "8926:M 27 Nov 2026 03:40:21.321 # Fatal error\n"
    marks = [
        format_line(1, "S", lv, "x", 0.0).split()[5]
        for lv in ("debug", "verbose", "notice", "warning")
    ]
    assert marks == [".", "-", "*", "#"]


def test_levels_filter_and_role() -> None:
    out = io.StringIO()
    log = ServerLog(level="verbose", pid=42)
    log.redirect(out)
    log.debug("hidden")
    log.verbose("v")
    log.set_role("S")
    log.notice("n")
    log.set_level("warning")
    log.notice("hidden too")
    log.warning("w")
    lines = out.getvalue().splitlines()
    assert [LINE.match(line).group(2, 7, 8) for line in lines] == [  # type: ignore[union-attr]
        ("M", "-", "v"),
        ("S", "*", "n"),
        ("S", "#", "w"),
    ]
    assert all(line.startswith("42:") for line in lines)
    log.set_level("nothing")
    log.warning("silent")
    assert len(out.getvalue().splitlines()) == 3
    with pytest.raises(ValueError):
        log.set_level("loud")


def test_appends_to_file(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("old\n")
    log = ServerLog(logfile=str(path))
    log.notice("hello")
    log.set_logfile(str(tmp_path / "other.log"))
    log.notice("there")
    lines = path.read_text().splitlines()
    assert lines[0] == "old"
    m = LINE.match(lines[1])
    assert m is not None and m.group(1) == str(os.getpid()) and m.group(8) == "hello"
    assert (tmp_path / "other.log").read_text().endswith("* there\n")


def test_unwritable_log_loses_the_line_quietly(tmp_path: Path) -> None:
    ServerLog(logfile=str(tmp_path / "no" / "such.log")).warning("dropped")


def test_forked_child_logs_with_role_c(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    log = ServerLog(logfile=str(path))
    pid = os.fork()
    if pid == 0:  # child: log and leave without running any Python cleanup
        try:
            log.notice("from child")
            log.raw_write("raw\n")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    log.notice("from parent")
    lines = path.read_text().splitlines()
    child = LINE.match(lines[0])
    assert child is not None and child.group(1, 2, 8) == (str(pid), "C", "from child")
    assert lines[1] == "raw"
    parent = LINE.match(lines[2])
    assert parent is not None and parent.group(2) == "M"
