"""A short seeded chaos run (tools/chaos/run.py): faults under load, then convergence and no
lost write. ``make chaos`` runs the same driver for ten minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECONDS = os.environ.get("CHAOS_SECONDS", "20")


def test_short_chaos_run_loses_nothing_and_converges() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "chaos" / "run.py"),
            "--seed",
            "11",
            "--seconds",
            SECONDS,
            "--fault-every",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("CHAOS-RESULT ")]
    assert lines, proc.stdout + proc.stderr
    result = json.loads(lines[-1].removeprefix("CHAOS-RESULT "))
    assert proc.returncode == 0, (result, proc.stderr[-4000:])
    assert result["converged"], result
    assert result["writes_lost"] == 0 and result["writes_acked_lost"] == 0, result
    assert result["writes_acked"] > 0, result
    assert not any(result["list_elements_extra"].values()), result
    assert not any(result["replica_stream_errors"].values()), result
    assert result["faults_total"] >= 5, result
    final = result["final"]
    assert len(set(final["digests"].values())) == 1, final
    assert len(set(final["offsets"].values())) == 1, final
