"""SCRIPT DEBUG YES: the debugging session runs in a forked child, so its writes are lost.

The child owns the client's socket from then on: it runs the script under the debugger with
plain blocking I/O (no trio in a fork child), writes the script's reply and exits. The parent
drops the client without a reply, as Valkey does, and reaps the child from its cron.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Callable

from valsync.rdb.child import fork_child
from valsync.scripting.debugger import Transport

SEND_TIMEOUT_SECONDS = 5.0
"""Valkey's send timeout on a debugging client's socket."""
READ_SIZE = 1024


class BlockingFdTransport:
    """The client's socket as the child uses it: it may be non-blocking (the parent's
    setting is shared), so waits go through ``select``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                _, ready, _ = select.select([], [self.fd], [], SEND_TIMEOUT_SECONDS)
                if not ready:
                    return
                continue
            except OSError:
                return
            view = view[written:]

    def receive(self) -> bytes:
        while True:
            try:
                return os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                select.select([self.fd], [], [])
            except OSError:
                return b""


def _child_signals() -> None:
    """The child ignores the signals that stop the server, as Valkey's debugging child."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)


def fork_debug_session(
    fd: int, close_in_child: list[int], body: Callable[[Transport], None]
) -> tuple[int, list[int]]:
    """Fork a child that runs ``body`` over the client's socket ``fd``; the child's pid and
    the descriptors the parent closes once it has reaped it."""
    child = fork_child(
        lambda _data, _progress: body(BlockingFdTransport(fd)),
        data_pipe=False,
        close_in_child=close_in_child,
        in_child=_child_signals,
    )
    return child.pid, [child.pidfd, child.progress_fd]
