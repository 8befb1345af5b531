"""Forking the RDB child: the part of the recipe that is plain ``os`` (no trio, no sockets).

The child gets a point-in-time copy of the keyspace for free (copy-on-write). Before running
its body it undoes what it inherited from the trio parent: the signal wake-up fd, the Python
signal handlers, and descriptors it must not hold (listeners, other pipes' read ends). The body
is plain synchronous code; the child always leaves through ``os._exit``.
"""

from __future__ import annotations

import fcntl
import gc
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

PROGRESS_INTERVAL_KEYS = 1024
DATA_PIPE_SIZE = 1 << 20
"""A socket target's pipe holds this much (64 KB by default), so the child blocks less often
and the parent relays the RDB in fewer, larger reads."""


class ProgressWriter:
    """Child side of the progress pipe: ``keys bytes`` lines, and ``error ...`` on failure."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.keys = 0
        self.bytes = 0

    def report(self, keys: int, nbytes: int) -> None:
        self.keys, self.bytes = keys, nbytes
        self._write(f"{keys} {nbytes}\n")

    def error(self, message: str) -> None:
        self._write("error " + message.replace("\n", " ") + "\n")

    def _write(self, line: str) -> None:
        try:
            os.write(self.fd, line.encode())
        except OSError:
            pass


def parse_progress(data: bytes) -> tuple[int, int, str | None]:
    """Last ``keys bytes`` pair and any error message found in progress-pipe bytes."""
    keys = nbytes = -1
    error: str | None = None
    for line in data.split(b"\n"):
        if line.startswith(b"error "):
            error = line[6:].decode("utf-8", "replace")
        elif line:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                keys, nbytes = int(parts[0]), int(parts[1])
    return keys, nbytes, error


@dataclass
class ForkedChild:
    pid: int
    pidfd: int
    progress_fd: int
    data_fd: int | None


ChildBody = Callable[[int | None, ProgressWriter], None]


@dataclass
class ChildResult:
    ok: bool
    exit_code: int
    signal: int
    error: str | None
    keys: int
    bytes: int
    seconds: float
    cancelled: bool = False
    """Ended by the manager's ``kill`` (Valkey's SIGUSR1: not a save error)."""


class ChildBusy(Exception):
    """Another child is running (Valkey: one background child at a time)."""


class RdbChildren(Protocol):
    """The one-child-at-a-time fork manager as persistence sees it; the trio implementation
    (``valsync.net.rdb_child.RdbChildManager``) is given to :class:`Persistence` at assembly."""

    @property
    def busy(self) -> bool: ...

    kind: str | None
    child: ForkedChild | None
    started_at: float
    """``time.monotonic()`` when the running child was forked."""
    keys_done: int
    total_forks: int
    last_fork_usec: int
    in_child: Callable[[], None] | None

    def fork(self, body: ChildBody, kind: str, data_pipe: bool = False) -> ForkedChild: ...

    async def wait(
        self, child: ForkedChild, on_data: Callable[[bytes], Awaitable[None]] | None = None
    ) -> ChildResult: ...

    def kill(self) -> None: ...


RdbChildrenFactory = Callable[[Callable[[], list[int]]], RdbChildren]
"""Builds the manager from the callable that lists the descriptors a child must close."""


def fork_child(
    body: ChildBody,
    *,
    data_pipe: bool,
    close_in_child: list[int],
    in_child: Callable[[], None] | None = None,
) -> ForkedChild:
    """Fork; the child runs ``in_child()`` then ``body(data_write_fd, progress)`` and exits
    0 (1 on error)."""
    progress_r, progress_w = os.pipe()
    data_r, data_w = os.pipe() if data_pipe else (None, None)
    if data_w is not None:
        try:
            fcntl.fcntl(data_w, fcntl.F_SETPIPE_SZ, DATA_PIPE_SIZE)
        except OSError:
            pass
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (exercised by integration tests)
        code = 1
        progress = ProgressWriter(progress_w)
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            os.close(progress_r)
            if data_r is not None:
                os.close(data_r)
            for fd in close_in_child:
                try:
                    os.close(fd)
                except OSError:
                    pass
            if in_child is not None:
                in_child()
            body(data_w, progress)
            code = 0
        except BaseException as err:  # noqa: BLE001 - the child reports any failure and exits
            progress.error(f"{type(err).__name__}: {err}")
        finally:
            os._exit(code)
    gc.unfreeze()
    os.close(progress_w)
    if data_w is not None:
        os.close(data_w)
    return ForkedChild(pid, os.pidfd_open(pid), progress_r, data_r)
