"""The trio shell of the dashboard: one poller task per server, one redraw task.

rich's ``Live`` is used with ``auto_refresh=False`` and redrawn from a trio task: its own
auto-refresh runs in a thread, and a thread must never be alive when valsync forks its RDB
child (``valsync serve --dashboard`` runs this in the server process). Pollers catch every
connection failure and turn it into a "down" snapshot, then retry, so a server that goes away
is shown, never a traceback.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence

import trio
from rich.console import Console
from rich.live import Live

from valsync.dashboard.model import (
    History,
    ServerSnapshot,
    build_snapshot,
    down_snapshot,
    pending_snapshot,
)
from valsync.dashboard.render import render
from valsync.net.client import Reply, RespClient, RespConnectionError, RespError

#: Per-command deadline; a server that takes longer than this to answer INFO is shown as down.
POLL_TIMEOUT = 2.0
#: Reconnect backoff bounds for a server that is down.
RETRY_MIN = 0.25
RETRY_MAX = 2.0
#: Width used for ``--once`` when stdout is not a terminal (rich would assume 80).
PLAIN_WIDTH = 120

#: One pipelined round trip per poll. INFO sections are asked one by one because a server that
#: does not know a section answers it empty, where a multi-section INFO may be an error.
POLL_COMMANDS: list[tuple[bytes, ...]] = [
    (b"INFO", b"server"),
    (b"INFO", b"replication"),
    (b"INFO", b"persistence"),
    (b"INFO", b"stats"),
    (b"ROLE",),
    (b"CLIENT", b"LIST", b"TYPE", b"REPLICA"),
]


def snapshot_from_replies(
    host: str, port: int, taken_at: float, replies: list[Reply]
) -> ServerSnapshot:
    """Turn one pipelined poll into a snapshot; commands the server refused are left out."""
    info_parts = [r for r in replies[:4] if isinstance(r, bytes)]
    if not any(b"role:" in part for part in info_parts):
        err = replies[1]
        reason = str(err) if isinstance(err, RespError) else "INFO replication has no role"
        return down_snapshot(host, port, taken_at=taken_at, error=reason)
    client_list = replies[5] if isinstance(replies[5], bytes) else None
    return build_snapshot(
        host,
        port,
        taken_at=taken_at,
        info=b"\r\n".join(info_parts),
        role_reply=replies[4],
        client_list=client_list,
    )


class ServerPoller:
    """Keeps one connection to one server and the latest snapshot of it."""

    def __init__(self, host: str, port: int, *, timeout: float = POLL_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.latest = pending_snapshot(host, port, taken_at=trio.current_time())
        self._client: RespClient | None = None
        self._down_since: float | None = None

    async def poll_once(self) -> ServerSnapshot:
        """One poll; on any connection failure the snapshot says down and the socket is dropped."""
        try:
            if self._client is None:
                self._client = await RespClient.connect(self.host, self.port, timeout=self.timeout)
            replies = await self._client.pipeline(list(POLL_COMMANDS))
            snap = snapshot_from_replies(self.host, self.port, trio.current_time(), replies)
        except RespConnectionError as exc:
            await self.close()
            now = trio.current_time()
            if self._down_since is None:
                self._down_since = now
            snap = down_snapshot(
                self.host, self.port, taken_at=now, error=str(exc), down_for=now - self._down_since
            )
        else:
            self._down_since = None if snap.up else self._down_since
        self.latest = snap
        return snap

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with trio.CancelScope(shield=True):
                try:
                    await client.aclose()
                except (OSError, trio.BrokenResourceError):
                    pass

    async def run(self, interval: float, history: History) -> None:
        """Poll forever: every ``interval`` while up, with growing backoff while down."""
        backoff = RETRY_MIN
        try:
            while True:
                snap = await self.poll_once()
                history.record(snap)
                if snap.up:
                    backoff = RETRY_MIN
                    await trio.sleep(interval)
                else:
                    await trio.sleep(max(interval, backoff))
                    backoff = min(backoff * 2, RETRY_MAX)
        finally:
            await self.close()


def _default_console(once: bool) -> Console:
    if once and not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return Console(width=PLAIN_WIDTH)
    return Console()


async def poll_all_once(
    targets: Sequence[tuple[str, int]], *, poll_timeout: float = POLL_TIMEOUT
) -> list[ServerSnapshot]:
    """Poll every target once, concurrently; for ``--once`` and tests."""
    pollers = [ServerPoller(h, p, timeout=poll_timeout) for h, p in targets]
    async with trio.open_nursery() as nursery:
        for poller in pollers:
            nursery.start_soon(poller.poll_once)
    for poller in pollers:
        await poller.close()
    return [p.latest for p in pollers]


async def run_dashboard(
    targets: list[tuple[str, int]],
    *,
    refresh_hz: float = 4.0,
    once: bool = False,
    console: Console | None = None,
) -> None:
    """Show the dashboard until cancelled; with ``once``, print one frame and return.

    The caller owns cancellation (Ctrl-C handling for the CLI, the server's nursery for
    ``serve --dashboard``).
    """
    console = console or _default_console(once)
    if once:
        snaps = await poll_all_once(targets)
        console.print(render(snaps))
        return
    interval = 1.0 / refresh_hz if refresh_hz > 0 and math.isfinite(refresh_hz) else 0.25
    history = History()
    pollers = [ServerPoller(h, p) for h, p in targets]
    footer = f"refresh {refresh_hz:g} Hz  Ctrl-C quits"
    with Live(console=console, screen=True, auto_refresh=False, transient=True) as live:
        async with trio.open_nursery() as nursery:
            for poller in pollers:
                nursery.start_soon(poller.run, interval, history)
            while True:
                live.update(
                    render([p.latest for p in pollers], history, footer=footer), refresh=True
                )
                await trio.sleep(interval)
