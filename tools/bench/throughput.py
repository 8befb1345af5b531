"""redis-benchmark against valsync and valkey-server 8.1.8 side by side; prints ratios.

Also RSS after ``DEBUG POPULATE 1000000`` (the whole process's, and its growth over the
empty server's). Every row is also recorded for ``summary.py``. Targets on a 2-core machine: SET/GET ``-P 16 -c 4``
>= 0.30x Valkey's ops/s, the other types >= 0.25x, ``-c 50`` >= 0.30x; memory <= 2x Valkey's.
The two servers run back to back for each mode, so a load from elsewhere on the machine
weighs on both alike.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time

import valkey
from common import ensure_redis_benchmark, record, rss_bytes, start_valkey, start_valsync

TESTS = "set,get,lpush,hset,zadd"
REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
PIPELINED_FACTOR = 5
"""Pipelined tests send this many times more requests: at 200,000 Valkey's run lasts a quarter
of a second and its ops/s swung by a third between back-to-back runs."""


def bench(port: int, extra: list[str], requests: int = REQUESTS) -> dict[str, float]:
    out = subprocess.run(
        [
            ensure_redis_benchmark(),
            "-p",
            str(port),
            "-n",
            str(requests),
            "--csv",
            "-r",
            "100000",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    rows = list(csv.reader(io.StringIO(out)))
    result = {}
    for row in rows[1:]:
        if len(row) >= 2:
            result[row[0].split()[0].upper()] = float(row[1])
    return result


def main() -> None:
    print(
        f"redis-benchmark, {REQUESTS * PIPELINED_FACTOR} requests per -P16 test, {REQUESTS} per "
        f"-c50 test; load average {os.getloadavg()[0]:.1f}"
    )
    modes = {"-P16 -c4": ["-P", "16", "-c", "4"], "-c50": ["-c", "50"]}
    requests = {"-P16 -c4": REQUESTS * PIPELINED_FACTOR, "-c50": REQUESTS}
    results: dict[str, dict[str, dict[str, float]]] = {"valkey": {}, "valsync": {}}
    with start_valkey("8.1.8") as real, start_valsync("--enable-debug-command", "yes") as mine:
        servers = {"valkey": real, "valsync": mine}
        # back to back, test by test: a load from elsewhere weighs on both alike
        for mode, extra in modes.items():
            for test in TESTS.split(","):
                for name, server in servers.items():
                    ops = bench(server.port, [*extra, "-t", test], requests[mode])
                    results[name].setdefault(mode, {}).update(ops)
        for name, server in servers.items():
            c = valkey.Valkey(port=server.port)
            c.flushall()
            base = rss_bytes(server.pid)
            t0 = time.perf_counter()
            c.execute_command("DEBUG", "POPULATE", 1_000_000)
            results[name]["populate"] = {
                "seconds": time.perf_counter() - t0,
                "rss_mb": (rss_bytes(server.pid) - base) / 2**20,
                "total_rss_mb": rss_bytes(server.pid) / 2**20,
            }
    for mode in modes:
        print(f"\n{mode}:")
        print(f"{'test':8} {'valkey ops/s':>14} {'valsync ops/s':>14} {'ratio':>7}")
        for test, ops in results["valkey"][mode].items():
            mine_ops = results["valsync"][mode].get(test, 0.0)
            print(f"{test:8} {ops:14.0f} {mine_ops:14.0f} {mine_ops / ops:7.3f}")
            target = ">= 0.25" if mode == "-P16 -c4" and test not in ("SET", "GET") else ">= 0.30"
            record(f"{test} {mode}", "ops/s", ops, mine_ops, target)
    v, s = results["valkey"]["populate"], results["valsync"]["populate"]
    print(
        f"\nRSS after DEBUG POPULATE 1000000: valkey {v['total_rss_mb']:.0f} MB, valsync "
        f"{s['total_rss_mb']:.0f} MB, ratio {s['total_rss_mb'] / v['total_rss_mb']:.2f}"
    )
    record("RSS with 1M keys", "MB", v["total_rss_mb"], s["total_rss_mb"], "<= 2")
    record("RSS growth for 1M keys", "MB", v["rss_mb"], s["rss_mb"], "<= 2")
    print(
        f"RSS growth: valkey {v['rss_mb']:.0f} MB, valsync {s['rss_mb']:.0f} MB, "
        f"ratio {s['rss_mb'] / v['rss_mb']:.2f}"
    )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
