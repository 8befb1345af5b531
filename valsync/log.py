"""Valkey's log lines, so operators and log-grepping test suites read valsync like valkey-server.

A line is ``pid:role dd Mon yyyy hh:mm:ss.mmm <c> message`` where ``role`` is ``M`` (primary),
``S`` (replica), ``C`` (a forked child) or ``X`` (sentinel), and ``<c>`` is the level mark:
debug ``.``, verbose ``-``, notice ``*``, warning ``#``.

Every write opens the log file, appends with one ``os.write`` and closes it again, as Valkey
does per line. No Python-level buffer or lock is involved, so a forked child (the RDB writer)
can keep logging through the same object without inheriting a half-written buffer; the role
switches to ``C`` by itself in a process other than the one that created the log.
"""

from __future__ import annotations

import os
import time
from typing import TextIO

__all__ = ["LEVELS", "ServerLog", "format_line", "timestamp"]

#: Valkey's verbosity levels, lowest first (``nothing`` silences everything).
LEVELS: dict[str, int] = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
_MARKS = {0: ".", 1: "-", 2: "*", 3: "#"}
# Fixed C-locale month names: strftime("%b") would follow the process locale, Valkey's don't.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def timestamp(now: float) -> str:
    """``27 Nov 2026 03:40:21.321``: Valkey's local-time stamp with milliseconds."""
    tm = time.localtime(now)
    ms = int((now - int(now)) * 1000) % 1000
    return (
        f"{tm.tm_mday:02d} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year} "
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{ms:03d}"
    )


def format_line(pid: int, role: str, level: str, msg: str, now: float) -> str:
    """One complete log line (with the newline), kept pure so tests can pin it."""
    return f"{pid}:{role} {timestamp(now)} {_MARKS[LEVELS[level]]} {msg}\n"


class ServerLog:
    """Valkey-format logger writing to stdout, a file (appending) or a test stream.

    Args:
        level: minimum level written (``debug``/``verbose``/``notice``/``warning``/``nothing``).
        logfile: path to append to; empty means stdout, as with Valkey's ``logfile ""``.
        pid: fixed pid to print; ``None`` prints the calling process's pid (a forked child
            then shows its own pid and role ``C``, like Valkey).
    """

    def __init__(self, level: str = "notice", logfile: str = "", pid: int | None = None) -> None:
        self._level = _level_number(level)
        self._logfile = logfile
        self._pid = pid
        self._owner_pid = os.getpid()
        self._role = "M"
        self._stream: TextIO | None = None

    @property
    def level(self) -> str:
        return next(name for name, n in LEVELS.items() if n == self._level)

    @property
    def logfile(self) -> str:
        return self._logfile

    @property
    def role(self) -> str:
        """The role mark printed now: ``C`` in a forked child, else the one set."""
        if self._pid is None and os.getpid() != self._owner_pid:
            return "C"
        return self._role

    def set_role(self, ch: str) -> None:
        """``M`` as a primary, ``S`` once REPLICAOF points somewhere, ``C`` in a child."""
        if ch not in ("M", "S", "C", "X"):
            raise ValueError(f"unknown log role {ch!r}")
        self._role = ch

    def set_level(self, level: str) -> None:
        self._level = _level_number(level)

    def set_logfile(self, path: str) -> None:
        self._logfile = path

    def redirect(self, stream: TextIO | None) -> None:
        """Send lines to ``stream`` instead of stdout/the file (tests); ``None`` undoes it."""
        self._stream = stream

    def enabled(self, level: str) -> bool:
        """Whether a message at ``level`` would be written (skip building costly ones)."""
        return LEVELS[level] >= self._level and LEVELS[level] < LEVELS["nothing"]

    def log(self, level: str, msg: str) -> None:
        if not self.enabled(level):
            return
        pid = self._pid if self._pid is not None else os.getpid()
        self.raw_write(format_line(pid, self.role, level, msg, time.time()))

    def debug(self, msg: str) -> None:
        self.log("debug", msg)

    def verbose(self, msg: str) -> None:
        self.log("verbose", msg)

    def notice(self, msg: str) -> None:
        self.log("notice", msg)

    def warning(self, msg: str) -> None:
        self.log("warning", msg)

    def raw_write(self, text: str) -> None:
        """Write ``text`` verbatim with a single unbuffered write (fork-safe, level ignored).

        Errors are swallowed: like Valkey, a log that cannot be opened loses the line rather
        than taking the server down.
        """
        if self._stream is not None:
            self._stream.write(text)
            self._stream.flush()
            return
        data = text.encode("utf-8", "surrogateescape")
        try:
            if not self._logfile:
                _write_all(1, data)
                return
            fd = os.open(self._logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        except OSError:
            pass


def _level_number(level: str) -> int:
    try:
        return LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
