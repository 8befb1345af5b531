"""``RdbChildManager``: one fork child at a time, awaited without blocking trio.

The parent reads the child's progress pipe and, for socket targets, its RDB byte pipe through
``trio.lowlevel.FdStream``; it learns of the exit from the child's pidfd, then reaps it with
``waitpid``. An obsolete child is ended with SIGUSR1, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Awaitable, Callable

import trio

from valsync.rdb.child import (
    ChildBody,
    ChildBusy,
    ChildResult,
    ForkedChild,
    fork_child,
    parse_progress,
)

DATA_READ_SIZE = 256 * 1024


class RdbChildManager:
    """Forks the RDB child and awaits it; shared by BGSAVE and replication."""

    def __init__(self, close_in_child: Callable[[], list[int]] | None = None) -> None:
        self._close_in_child = close_in_child or (lambda: [])
        self.child: ForkedChild | None = None
        self.kind: str | None = None  # "disk" or "socket"
        self.started_at = 0.0
        self.keys_done = 0
        self.bytes_done = 0
        self.total_forks = 0
        self.last_fork_usec = 0
        self.cancelled = False
        self.in_child: Callable[[], None] | None = None
        """Run first in every forked child (``oom-score-adj``'s child class)."""

    @property
    def busy(self) -> bool:
        return self.child is not None

    def fork(self, body: ChildBody, kind: str, data_pipe: bool = False) -> ForkedChild:
        """Fork now, synchronously, so the snapshot is the dataset at this very point."""
        if self.child is not None:
            raise ChildBusy("Background save already in progress")
        t0 = time.perf_counter()
        child = fork_child(
            body,
            data_pipe=data_pipe,
            close_in_child=self._close_in_child(),
            in_child=self.in_child,
        )
        self.last_fork_usec = int((time.perf_counter() - t0) * 1_000_000)
        self.child, self.kind = child, kind
        self.total_forks += 1
        self.started_at = time.monotonic()
        self.keys_done = self.bytes_done = 0
        self.cancelled = False
        return child

    async def wait(
        self, child: ForkedChild, on_data: Callable[[bytes], Awaitable[None]] | None = None
    ) -> ChildResult:
        """Await the child forked by :meth:`fork`; a socket child's bytes go to ``on_data``."""
        progress_log = bytearray()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_progress, child.progress_fd, progress_log)
                if child.data_fd is not None:
                    nursery.start_soon(self._relay_data, child.data_fd, on_data)
                status = await self._wait_exit(child)
        except BaseException:
            self.kill()
            with trio.CancelScope(shield=True):
                await self._reap_after_kill(child)
            raise
        finally:
            os.close(child.pidfd)
            self.child, self.kind = None, None
        keys, nbytes, error = parse_progress(bytes(progress_log))
        code = os.waitstatus_to_exitcode(status)
        return ChildResult(
            ok=code == 0,
            exit_code=max(code, 0),
            signal=-code if code < 0 else 0,
            error=error,
            keys=max(keys, 0),
            bytes=max(nbytes, 0),
            seconds=time.monotonic() - self.started_at,
            cancelled=self.cancelled,
        )

    async def run(
        self,
        body: ChildBody,
        kind: str,
        on_data: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> ChildResult:
        """Fork ``body`` and wait for it."""
        child = self.fork(body, kind, data_pipe=on_data is not None)
        return await self.wait(child, on_data)

    async def _wait_exit(self, child: ForkedChild) -> int:
        await trio.lowlevel.wait_readable(child.pidfd)
        # the pidfd is readable only once the child exited: this waitpid returns at once
        _, status = os.waitpid(child.pid, 0)  # noqa: ASYNC222
        return status

    async def _reap_after_kill(self, child: ForkedChild) -> None:
        with trio.move_on_after(5):
            try:
                await trio.lowlevel.wait_readable(child.pidfd)
            except (OSError, trio.ClosedResourceError):
                pass
        try:
            os.waitpid(child.pid, 0)  # noqa: ASYNC222 - SIGKILLed above, reaped at once
        except ChildProcessError:
            pass

    async def _read_progress(self, fd: int, log: bytearray) -> None:
        stream = trio.lowlevel.FdStream(fd)
        async with stream:
            while True:
                data = await stream.receive_some(4096)
                if not data:
                    return
                log += data
                keys, nbytes, _ = parse_progress(bytes(log[-256:]))
                if keys >= 0:
                    self.keys_done, self.bytes_done = keys, nbytes
                if len(log) > 65536:
                    del log[:-4096]

    async def _relay_data(
        self, fd: int, on_data: Callable[[bytes], Awaitable[None]] | None
    ) -> None:
        stream = trio.lowlevel.FdStream(fd)
        async with stream:
            while True:
                data = await stream.receive_some(DATA_READ_SIZE)
                if not data:
                    return
                if on_data is not None:
                    await on_data(data)

    def kill(self) -> None:
        """End the running child: SIGUSR1 (Valkey's "obsolete child"), SIGKILL if it lingers."""
        child = self.child
        if child is None:
            return
        self.cancelled = True
        for sig in (signal.SIGUSR1, signal.SIGKILL):
            try:
                os.kill(child.pid, sig)
            except ProcessLookupError:
                return
