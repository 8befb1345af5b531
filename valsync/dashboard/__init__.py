"""Live replication dashboard for valsync and any Valkey: roles, offsets, replicas, lag, forks.

The model (:mod:`.model`) and the view (:mod:`.render`) are sans-IO; :mod:`.app` is the trio
shell. ``main_dashboard`` is the ``valsync dashboard`` / ``python -m valsync.dashboard`` entry.
"""

from __future__ import annotations

import argparse
import signal

import trio

from valsync.dashboard.app import poll_all_once, run_dashboard
from valsync.dashboard.model import (
    ForkInfo,
    History,
    LinkInfo,
    ReplicaInfo,
    ServerSnapshot,
    build_snapshot,
    down_snapshot,
    parse_info,
    pending_snapshot,
)
from valsync.dashboard.render import render, render_server

__all__ = [
    "ForkInfo",
    "History",
    "LinkInfo",
    "ReplicaInfo",
    "ServerSnapshot",
    "build_snapshot",
    "down_snapshot",
    "main_dashboard",
    "parse_info",
    "parse_target",
    "pending_snapshot",
    "poll_all_once",
    "render",
    "render_server",
    "run_dashboard",
]

DEFAULT_TARGET = "127.0.0.1:6379"


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``[v6addr]:PORT`` to ``(host, port)``."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port out of range: {text!r}")
    return host, port


async def _until_signal(targets: list[tuple[str, int]], hz: float, once: bool) -> None:
    """Run the dashboard, ending it cleanly on SIGINT/SIGTERM instead of a KeyboardInterrupt
    unwinding through rich's Live (which would leave the terminal in the alternate screen)."""
    async with trio.open_nursery() as nursery:

        async def watch_signals() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

        nursery.start_soon(watch_signals)
        await run_dashboard(targets, refresh_hz=hz, once=once)
        nursery.cancel_scope.cancel()


def main_dashboard(argv: list[str]) -> int:
    """``valsync dashboard [HOST:PORT ...] [--once] [--hz N]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="valsync dashboard", description=__doc__.splitlines()[0])
    parser.add_argument(
        "targets",
        nargs="*",
        type=parse_target,
        metavar="HOST:PORT",
        help=f"servers to watch (default {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--once", action="store_true", help="print one frame and exit (plain text when not a TTY)"
    )
    parser.add_argument("--hz", type=float, default=4.0, help="redraws per second (default 4)")
    args = parser.parse_args(argv)
    if not args.hz > 0:
        parser.error("--hz must be positive")
    targets: list[tuple[str, int]] = args.targets or [parse_target(DEFAULT_TARGET)]
    trio.run(_until_signal, targets, args.hz, args.once)
    return 0
