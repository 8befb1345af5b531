"""The issue's table from the rows the benchmarks recorded (``common.record``).

A row measured more than once shows its worst ratio (the machine is shared: a load from
elsewhere only ever makes a ratio look worse or better by chance, so the worse one is reported)
and how many runs it had.
"""

from __future__ import annotations

import json
import sys

from common import RESULTS

ORDER = [
    "SET -P16 -c4",
    "GET -P16 -c4",
    "LPUSH -P16 -c4",
    "HSET -P16 -c4",
    "ZADD -P16 -c4",
    "SET -c50",
    "GET -c50",
    "LPUSH -c50",
    "HSET -c50",
    "ZADD -c50",
    "SET -P16 -c50 with/without one replica",
    "replica catch-up of a 300k SET burst",
    "replica lag under sustained SET -P16 load",
    "full sync 1M keys, valsync primary (disk)",
    "full sync 1M keys, valsync primary (diskless)",
    "full sync 1M keys, valsync replica (diskless)",
    "RSS with 1M keys",
    "RSS growth for 1M keys",
    "SAVE 1M keys",
    "load 1M keys at start",
]


def meets(ratio: float, target: str) -> bool:
    op, _, bound = target.partition(" ")
    if op == ">=":
        return ratio >= float(bound)
    if op == "<=":
        return ratio <= float(bound)
    return ratio <= 1.0  # "bounded": the lag at the end is not well above the middle's


def worse(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    higher_is_better = str(a["target"]).startswith(">=")
    ra, rb = float(a["ratio"]), float(b["ratio"])  # type: ignore[arg-type]
    return (a if ra <= rb else b) if higher_is_better else (a if ra >= rb else b)


def main() -> None:
    if not RESULTS.exists():
        sys.exit(f"no results in {RESULTS}: run the benchmarks first")
    rows: dict[str, dict[str, object]] = {}
    runs: dict[str, int] = {}
    for line in RESULTS.read_text().splitlines():
        entry = json.loads(line)
        name = entry["row"]
        rows[name] = worse(rows[name], entry) if name in rows else entry
        runs[name] = runs.get(name, 0) + 1
    names = [n for n in ORDER if n in rows] + sorted(n for n in rows if n not in ORDER)
    print(f"\n{'row':46} {'valkey':>12} {'valsync':>12} {'unit':>6} {'ratio':>7} {'target':>9}")
    for name in names:
        e = rows[name]
        ratio = float(e["ratio"])  # type: ignore[arg-type]
        verdict = "ok" if meets(ratio, str(e["target"])) else "MISSED"
        print(
            f"{name:46} {float(e['valkey']):12,.2f} {float(e['valsync']):12,.2f} "  # type: ignore[arg-type]
            f"{e['unit']!s:>6} {ratio:7.2f} {e['target']!s:>9}  {verdict}"
            f"  (runs {runs[name]}, load {float(e['load']):.1f}, {e['time']})"  # type: ignore[arg-type]
        )


if __name__ == "__main__":
    main()
