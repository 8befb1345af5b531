"""Time one dashboard frame (primary, two replicas, a fork), as `serve --dashboard` redraws it.

The view is redrawn a few times a second inside the server's own event loop, so a frame
should stay well under 50 ms. Not a timed test: timings move with the machine's load.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.unit.test_dashboard_render import wait_bgsave_fork  # noqa: E402
from valsync.dashboard.render import render  # noqa: E402


def main() -> None:
    snaps, history = wait_bgsave_fork()
    rounds = 50
    with open(os.devnull, "w") as sink:
        console = Console(width=140, file=sink, force_terminal=True)
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            for _ in range(rounds):
                console.print(render(snaps, history))
            best = min(best, (time.perf_counter() - start) / rounds)
    print(f"dashboard frame: {best * 1000:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
