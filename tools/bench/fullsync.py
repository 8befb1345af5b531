"""Full sync of 1M keys: time from REPLICAOF to ``master_link_status:up``, valsync vs valkey.

The replica is started first and told REPLICAOF once it answers, so a row times the sync
itself, not the replica process's start (an interpreter's imports against a C binary's exec).

1. valsync primary -> valkey 8.1.8 replica vs valkey -> valkey (disk and diskless).
   Peak RSS of valsync + its fork child during the sync is reported.
2. valkey primary -> valsync replica vs valkey -> valkey.
Target (issue 14): <= 1.5x in both roles. Every row is also recorded for ``summary.py``.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import valkey
from common import children_rss, record, rss_bytes, start_valkey, start_valsync, wait_info

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def primary_of(kind: str, diskless: str):  # type: ignore[no-untyped-def]
    args = ("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0")
    if kind == "valsync":
        return start_valsync("--enable-debug-command", "yes", *args)
    return start_valkey("8.1.8", *args)


def replica_server(kind: str):  # type: ignore[no-untyped-def]
    return start_valsync() if kind == "valsync" else start_valkey("8.1.8")


def timed_sync(primary_kind: str, replica_kind: str, diskless: str) -> tuple[float, float]:
    with primary_of(primary_kind, diskless) as primary:
        p = valkey.Valkey(port=primary.port)
        p.execute_command("DEBUG", "POPULATE", KEYS)
        peak = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_bytes(primary.pid) + children_rss(primary.pid))
                time.sleep(0.05)

        with replica_server(replica_kind) as replica:
            r = valkey.Valkey(port=replica.port)
            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                t0 = time.perf_counter()
                r.execute_command("REPLICAOF", "127.0.0.1", primary.port)
                wait_info(r, "master_link_status", "up")
                elapsed = time.perf_counter() - t0
            finally:
                stop.set()
                sampler.join()
        return elapsed, peak[0] / 2**20


def main() -> None:
    print(
        f"full sync of {KEYS} keys (time from REPLICAOF to master_link_status:up); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for diskless in ("no", "yes"):
        base, base_rss = timed_sync("valkey", "valkey", diskless)
        mine, mine_rss = timed_sync("valsync", "valkey", diskless)
        print(
            f"valsync->valkey vs valkey->valkey, diskless={diskless}: {mine:.2f}s vs {base:.2f}s, ratio {mine / base:.2f}; peak RSS primary+child {mine_rss:.0f} MB vs {base_rss:.0f} MB"
        )
        how = "diskless" if diskless == "yes" else "disk"
        record(f"full sync 1M keys, valsync primary ({how})", "s", base, mine, "<= 1.5")
    base, _ = timed_sync("valkey", "valkey", "yes")
    mine, _ = timed_sync("valkey", "valsync", "yes")
    print(
        f"valkey->valsync vs valkey->valkey, diskless=yes: {mine:.2f}s vs {base:.2f}s, ratio {mine / base:.2f}"
    )
    record("full sync 1M keys, valsync replica (diskless)", "s", base, mine, "<= 1.5")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
