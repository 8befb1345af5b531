"""Replication under write load, valsync vs valkey-server 8.1.8 side by side; prints ratios.

1. Catch-up: a replica of a valkey primary, in sync, then a burst of pipelined SETs sent to
   the primary; seconds until the replica's offset reaches the primary's (valkey replica vs
   valsync replica). Target: valsync <= 2x valkey's time.
2. Sustained: the same pair under ``redis-benchmark -P 16`` SET load for a fixed time, the
   replica's lag in bytes sampled every 0.1 s; bounded if the lag at the end is not above the
   lag half-way (it does not grow without bound).
3. A primary with one valkey replica attached: SET ``-P 16 -c 50`` ops/s of one primary
   process without and with the replica, in alternating rounds (medians), for valkey and
   valsync primaries. Target: valsync's with/without >= 0.9.

Every row is also recorded for ``summary.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import valkey
from common import (
    ServerProcess,
    ensure_redis_benchmark,
    record,
    start_valkey,
    start_valsync,
    wait_info,
)

BURST = 300_000
SECONDS = 10.0


def info_int(client: valkey.Valkey, field: str) -> int:
    text = client.execute_command("INFO", "replication")
    if isinstance(text, bytes):
        text = text.decode()
    if isinstance(text, dict):
        return int(text[field])
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(field)


def replica_of(kind: str, port: int) -> ServerProcess:
    args = ("--replicaof", "127.0.0.1", str(port))
    return start_valsync(*args) if kind == "valsync" else start_valkey("8.1.8", *args)


def wait_caught_up(primary: valkey.Valkey, replica: valkey.Valkey, timeout: float = 300) -> None:
    target = info_int(primary, "master_repl_offset")
    deadline = time.monotonic() + timeout
    while info_int(replica, "slave_repl_offset") < target:
        if time.monotonic() > deadline:
            raise TimeoutError("replica did not catch up")
        time.sleep(0.005)


def benchmark(port: int, *args: str, timeout: float = 900) -> float:
    """ops/s of one redis-benchmark SET run (``-r 100000``)."""
    out = subprocess.run(
        [ensure_redis_benchmark(), "-p", str(port), "-t", "set", "-r", "100000", "--csv", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    ).stdout
    return float(out.strip().splitlines()[-1].split(",")[1].strip('"'))


def with_pair(replica_kind: str, body: Callable[[ServerProcess, ServerProcess], float]) -> float:
    with start_valkey("8.1.8") as primary, replica_of(replica_kind, primary.port) as replica:
        r = valkey.Valkey(port=replica.port)
        wait_info(r, "master_link_status", "up")
        return body(primary, replica)


def catch_up(primary: ServerProcess, replica: ServerProcess) -> float:
    p, r = valkey.Valkey(port=primary.port), valkey.Valkey(port=replica.port)
    wait_caught_up(p, r)
    t0 = time.perf_counter()
    benchmark(primary.port, "-n", str(BURST), "-P", "16", "-c", "4")
    wait_caught_up(p, r)
    return time.perf_counter() - t0


def sustained(primary: ServerProcess, replica: ServerProcess) -> tuple[float, float]:
    """Sample the lag while the primary takes SETs; returns the lag (bytes) in the middle
    and at the end."""
    p, r = valkey.Valkey(port=primary.port), valkey.Valkey(port=replica.port)
    wait_caught_up(p, r)
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(info_int(p, "master_repl_offset") - info_int(r, "slave_repl_offset"))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    proc = subprocess.Popen(
        [ensure_redis_benchmark(), "-p", str(primary.port), "-t", "set", "-r", "100000"]
        + ["-P", "16", "-c", "4", "-n", "1000000000", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(SECONDS)
    finally:
        proc.kill()
        proc.wait()
        stop.set()
        sampler.join()
    half = samples[len(samples) // 2 : len(samples) // 2 + 5]
    tail = samples[-5:]
    mid, end = sum(half) / len(half), sum(tail) / len(tail)
    print(
        f"  lag bytes: max {max(samples):,}, middle {mid:,.0f}, end {end:,.0f} "
        f"({'bounded' if end <= max(mid * 1.5, 1_000_000) else 'growing'})"
    )
    return mid, end


WITH_REPLICA_REQUESTS = 1_000_000
WITH_REPLICA_ROUNDS = 3


def ops_without_and_with_replica(primary_kind: str) -> tuple[list[float], list[float]]:
    """SET ``-P 16 -c 50`` ops/s of one primary process, alone and with a valkey replica
    attached, in alternating rounds. One process serves every run: two starts of the same
    server differ by up to a fifth in speed here. Its 100,000 keys are written before the
    first run, so every run overwrites the same keys. Between rounds the replica goes and
    the backlog is freed (``repl-backlog-ttl 1``), so each run without a replica is one of
    a primary that never had one."""
    config = ("--repl-backlog-ttl", "1", "--repl-diskless-sync-delay", "0")
    start = (
        (lambda: start_valsync(*config))
        if primary_kind == "valsync"
        else lambda: start_valkey("8.1.8", *config)
    )
    args = ("-n", str(WITH_REPLICA_REQUESTS), "-P", "16", "-c", "50")
    without: list[float] = []
    with_: list[float] = []
    with start() as primary:
        client = valkey.Valkey(port=primary.port)
        benchmark(primary.port, "-n", "400000", "-P", "16", "-c", "4")
        for _ in range(WITH_REPLICA_ROUNDS):
            wait_info(client, "repl_backlog_active", "0", timeout=30)
            without.append(benchmark(primary.port, *args))
            with start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)) as replica:
                wait_info(valkey.Valkey(port=replica.port), "master_link_status", "up")
                with_.append(benchmark(primary.port, *args))
    return without, with_


def main() -> None:
    global BURST, SECONDS
    if len(sys.argv) > 1:
        BURST = int(sys.argv[1])
    if len(sys.argv) > 2:
        SECONDS = float(sys.argv[2])
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"catch-up of a burst of {BURST:,} pipelined SETs sent to a valkey 8.1.8 primary")
    base = with_pair("valkey", catch_up)
    mine = with_pair("valsync", catch_up)
    print(f"  valkey replica {base:.2f}s, valsync replica {mine:.2f}s, ratio {mine / base:.2f}")
    record(f"replica catch-up of a {BURST // 1000}k SET burst", "s", base, mine, "<= 2")
    print(f"sustained SET -P 16 -c 4 load on a valkey primary for {SECONDS:g}s")
    ends = {}
    for kind in ("valkey", "valsync"):
        print(f" {kind} replica:")
        mid, ends[kind] = with_pair(kind, sustained)
        if kind == "valsync":
            # <= 1: bounded as printed above (the end's lag within 1.5x the middle's, or
            # under 1 MB, a few pipelines)
            growth = ends[kind] / max(mid * 1.5, 1_000_000)
            record(
                "replica lag under sustained SET -P16 load",
                "bytes",
                ends["valkey"],
                ends[kind],
                "bounded",
                ratio=growth,
            )
    print(
        "SET -P 16 -c 50 on a primary, without and with one valkey 8.1.8 replica attached, "
        f"{WITH_REPLICA_ROUNDS} alternating rounds in one process (median of each)"
    )
    medians = {}
    for kind in ("valkey", "valsync"):
        # back to back, so a load from elsewhere weighs on both alike
        without, with_ = ops_without_and_with_replica(kind)
        medians[kind] = (statistics.median(without), statistics.median(with_))
        print(
            f"  {kind:8} without {', '.join(f'{x:,.0f}' for x in without)}; "
            f"with {', '.join(f'{x:,.0f}' for x in with_)}; "
            f"with/without (medians) {medians[kind][1] / medians[kind][0]:.3f}"
        )
    print(
        f"  valsync/valkey: without {medians['valsync'][0] / medians['valkey'][0]:.3f}, "
        f"with {medians['valsync'][1] / medians['valkey'][1]:.3f}"
    )
    mine = medians["valsync"][1] / medians["valsync"][0]
    record(
        "SET -P16 -c50 with/without one replica",
        "ratio",
        medians["valkey"][1] / medians["valkey"][0],
        mine,
        ">= 0.9",
        ratio=mine,
    )


if __name__ == "__main__":
    main()
