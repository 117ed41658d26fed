"""Issue 6's chart check: one metric of 1,000,000 points (with a single-point spike) logged to
a fresh ``cairn server`` through the REST API, then, in headless Chromium, the time from
navigating to ``/metrics?runs=…&keys=…&x=step`` until the chart is drawn (the uPlot draw
hook's ``performance.now()``, measured from the navigation start), and whether the spike is
drawn (the plotted maximum equals the spike and the spike's pixel column is painted in the
series colour near the spike's height while a column far from it is not).

Needs the built UI (``make ui``) and Debian's Chromium; prints one line per repeat and the
median. ``python benchmarks/chart_bench.py [--points N] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402

API = "/api/2.0/mlflow"
BATCH = 1000


def log_series(base: str, points: int, spike_step: int, spike_value: float) -> str:
    session = requests.Session()
    created = session.post(
        f"{base}{API}/runs/create",
        json={"experiment_id": "0", "run_name": "million", "start_time": 1_700_000_000_000},
        timeout=30,
    )
    created.raise_for_status()
    run_id: str = created.json()["run"]["info"]["run_id"]
    t0 = 1_700_000_000_000
    for start in range(0, points, BATCH):
        metrics = [
            {
                "key": "loss",
                "value": spike_value if i == spike_step else 1.0 / (1 + i / 1000) + (i % 97) * 1e-3,
                "timestamp": t0 + i * 10,
                "step": i,
            }
            for i in range(start, min(points, start + BATCH))
        ]
        r = session.post(
            f"{base}{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}, timeout=60
        )
        r.raise_for_status()
    return run_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="print each request's timing")
    args = parser.parse_args()
    if not (ROOT / "cairn" / "server" / "static" / "index.html").exists():
        print("The UI is not built: run 'make ui' first", file=sys.stderr)
        return 2
    spike_step = args.points * 2 // 3 + 7
    spike_value = 50.0
    work = Path(tempfile.mkdtemp(prefix="cairn-chart-bench-"))
    proc, base = start_cairn(work, str(work / "artifacts"))
    try:
        t = time.perf_counter()
        run_id = log_series(base, args.points, spike_step, spike_value)
        print(f"logged {args.points:,} points in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        r = requests.get(
            f"{base}/api/v1/metrics/downsample",
            params={"run_id": run_id, "key": "loss", "width": 1400},
            timeout=60,
        )
        r.raise_for_status()
        api_ms = (time.perf_counter() - t) * 1000
        print(f"downsample API alone (width 1400): {api_ms:.0f} ms, {len(r.content):,} bytes")
        url = f"{base}/metrics?runs={run_id}&keys=loss&x=step"
        out = subprocess.run(
            [
                "node",
                "bench/chart_bench.mjs",
                url,
                str(spike_step),
                str(spike_value),
                str(args.repeats),
            ],
            cwd=ROOT / "web",
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if out.returncode != 0:
            print(out.stdout, out.stderr, file=sys.stderr)
            return 1
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        ok = True
        for i, row in enumerate(rows, 1):
            visible = (
                row["plotted_max"] == spike_value
                and row["spike_pixels"] > 0
                and row["far_pixels"] == 0
            )
            ok = ok and visible and not row["errors"]
            print(
                f"run {i}: drawn {row['drawn_ms']:.0f} ms after navigation start; "
                f"plotted max {row['plotted_max']} (spike {spike_value}); spike column "
                f"{row['spike_pixels']} px painted, far column {row['far_pixels']} px; "
                f"{row['buckets']} buckets; console errors {len(row['errors'])}"
            )
            if args.verbose:
                print("   requests (ms after navigation start):", "; ".join(row["requests"]))
        median = statistics.median(r["drawn_ms"] for r in rows)
        print(
            f"median of {len(rows)}: {median:.0f} ms to a drawn chart of {args.points:,} points "
            f"(target <= 1000 ms); spike visible in every run: {ok}"
        )
        return 0 if ok else 1
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
