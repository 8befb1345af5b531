"""INFO stats ``instantaneous_*`` rates under load, valsync next to a real valkey 8.1.8.

Rates depend on timing, so the test compares shapes, not numbers: both servers report the
same fields in the same order, a write load makes the same ones non-zero on each (commands,
client input/output, replication output on the primary, replication input on the replica),
and the command rate falls back to (almost) zero once the load stops, as Valkey's 1.6 s window does.
"""

from __future__ import annotations

import threading
import time

import valkey

from tests.integration.support import connect, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

RATES = (
    "instantaneous_ops_per_sec",
    "instantaneous_input_kbps",
    "instantaneous_output_kbps",
    "instantaneous_input_repl_kbps",
    "instantaneous_output_repl_kbps",
)


def stats_fields(c: valkey.Valkey) -> list[str]:
    return list(info(c, "stats"))


def nonzero_rates(c: valkey.Valkey) -> set[str]:
    stats = info(c, "stats")
    return {name for name in RATES if float(stats[name]) > 0}


def load_and_watch(primary: valkey.Valkey, replica: valkey.Valkey) -> tuple[set[str], set[str]]:
    """Rates that were non-zero during ~1.5 s of pipelined SETs, on each server."""
    stop = threading.Event()

    def write() -> None:
        c = valkey.Valkey(port=primary.connection_pool.connection_kwargs["port"])
        for _ in range(10_000):
            if stop.is_set():
                return
            pipe = c.pipeline(transaction=False)
            for i in range(50):
                pipe.set(f"k{i}", "x" * 100)
            pipe.execute()

    writer = threading.Thread(target=write)
    writer.start()
    seen_p: set[str] = set()
    seen_r: set[str] = set()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            time.sleep(0.3)
            seen_p |= nonzero_rates(primary)
            seen_r |= nonzero_rates(replica)
    finally:
        stop.set()
        writer.join()
    return seen_p, seen_r


def pair(servers: list[ServerProcess], kind: str) -> tuple[valkey.Valkey, valkey.Valkey]:
    start = start_valsync if kind == "valsync" else start_valkey
    primary = start() if kind == "valsync" else start_valkey("8.1.8")
    servers.append(primary)
    args = ("--replicaof", "127.0.0.1", str(primary.port))
    replica = start_valsync(*args) if kind == "valsync" else start_valkey("8.1.8", *args)
    servers.append(replica)
    p, r = connect(primary), connect(replica)
    wait_until(lambda: info(r)["master_link_status"] == "up", 60, "link up")
    wait_synced(p, r, timeout=60)
    return p, r


def test_instantaneous_rates_like_valkey(servers: list[ServerProcess]) -> None:
    results = {}
    for kind in ("valkey", "valsync"):
        p, r = pair(servers, kind)
        rates = [f for f in stats_fields(p) if f in RATES]
        seen_p, seen_r = load_and_watch(p, r)
        # the window is 16 samples of 100 ms: after 2 s without commands the rate is 0 again
        time.sleep(2.0)
        # (the replica's REPLCONF ACK, once a second, is the only command left)
        idle = info(p, "stats")["instantaneous_ops_per_sec"] <= 1
        results[kind] = (rates, seen_p, seen_r, idle)
    assert results["valsync"] == results["valkey"]
    rates, primary_seen, replica_seen, idle = results["valsync"]
    assert idle
    assert rates == list(RATES)
    assert {"instantaneous_output_repl_kbps", "instantaneous_ops_per_sec"} <= primary_seen
    assert "instantaneous_input_repl_kbps" in replica_seen
