"""Shared pieces of the side-by-side benchmarks: start servers, poll INFO, RSS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.realvalkey import ServerProcess, start_valkey, start_valsync  # noqa: E402

__all__ = [
    "ROOT",
    "ServerProcess",
    "ensure_redis_benchmark",
    "record",
    "rss_bytes",
    "start_valkey",
    "start_valsync",
    "wait_info",
]


def ensure_redis_benchmark() -> str:
    path = shutil.which("redis-benchmark")
    if path is None:
        subprocess.run(["bash", str(ROOT / "tools" / "ensure-debian-packages.sh")], check=True)
        path = shutil.which("redis-benchmark")
    if path is None:
        raise SystemExit("redis-benchmark is not available (Debian package redis-tools)")
    return path


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def children_rss(pid: int) -> int:
    total = 0
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for child in f.read().split():
                total += rss_bytes(int(child))
    except OSError:
        pass
    return total


def wait_info(client: object, field: str, value: str, timeout: float = 600) -> float:
    """Seconds until INFO shows ``field:value``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        text = client.execute_command("INFO", "all")  # type: ignore[attr-defined]
        if isinstance(text, bytes):
            text = text.decode()
        if isinstance(text, dict):
            if str(text.get(field)) == value:
                return time.monotonic() - t0
        elif f"{field}:{value}" in text:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise TimeoutError(field)


RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / ".bench-results.jsonl"))
"""Where each benchmark appends its rows for ``summary.py`` (``make bench`` empties it)."""


def record(
    row: str, unit: str, valkey: float, valsync: float, target: str, ratio: float | None = None
) -> None:
    """One row of the issue's table: both servers' figures, their ratio (valsync / valkey
    unless given) and the target (``">= 0.30"`` or ``"<= 2"``; ``"bounded"`` for a lag)."""
    entry = {
        "row": row,
        "unit": unit,
        "valkey": valkey,
        "valsync": valsync,
        "ratio": ratio if ratio is not None else (valsync / valkey if valkey else 0.0),
        "target": target,
        "load": os.getloadavg()[0],
        "time": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    with RESULTS.open("a") as f:
        f.write(json.dumps(entry) + "\n")
