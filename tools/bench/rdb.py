"""SAVE and load of 1M keys (DEBUG POPULATE) in valsync vs valkey-server 8.1.8; ratios printed.

Targets: save <= 3x Valkey's time, load <= 4x.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import valkey
from common import record, start_valkey, start_valsync

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def measure(kind: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        directory = Path(d)
        start = (
            (lambda **kw: start_valkey("8.1.8", **kw))
            if kind == "valkey"
            else (lambda **kw: start_valsync("--enable-debug-command", "yes", **kw))
        )
        with start(dir=directory) as server:
            c = valkey.Valkey(port=server.port)
            c.execute_command("DEBUG", "POPULATE", KEYS)
            t0 = time.perf_counter()
            c.save()
            save = time.perf_counter() - t0
        t0 = time.perf_counter()
        with start(dir=directory) as server:
            c = valkey.Valkey(port=server.port)
            while True:
                try:
                    if c.dbsize() == KEYS:
                        break
                except valkey.BusyLoadingError:
                    pass
                time.sleep(0.01)
            load = time.perf_counter() - t0
    return save, load


def main() -> None:
    v_save, v_load = measure("valkey")
    s_save, s_load = measure("valsync")
    print(f"{KEYS} keys        valkey    valsync   ratio")
    print(f"SAVE          {v_save:8.2f}s {s_save:8.2f}s {s_save / v_save:7.2f}")
    print(
        f"load at start {v_load:8.2f}s {s_load:8.2f}s {s_load / v_load:7.2f}  (process start included)"
    )
    record("SAVE 1M keys", "s", v_save, s_save, "<= 3")
    record("load 1M keys at start", "s", v_load, s_load, "<= 4")


if __name__ == "__main__":
    main()
