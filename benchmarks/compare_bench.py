#!/usr/bin/env python3
"""Compare view of 100 runs x 50 params in headless Chromium: time to interactive.

Starts a fresh ``cairn server`` (SQLite, the built web UI from ``make ui``), logs ``--runs``
runs over two experiments, each with ``--params`` params and four metrics (one with a
10-step history), then opens ``/compare?runs=<all ids>`` in Debian's Chromium
(benchmarks/compare_bench_browser.mjs, Playwright from web/node_modules) ``--rounds`` times,
each in a fresh browser context (empty cache), and prints the time from navigation start
until the params/metrics table has all its rows and all seven charts have drawn, per round
and the median. The target is 1.5 s.

    make ui && .venv/bin/python benchmarks/compare_bench.py
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402

API = "/api/2.0/mlflow"
TARGET_MS = 1500


def seed(base: str, runs: int, params: int) -> list[str]:
    s = requests.Session()
    b = base + API
    experiments = [
        s.post(f"{b}/experiments/create", json={"name": f"sweep-{x}"}).json()["experiment_id"]
        for x in ("a", "b")
    ]
    ids = []
    for i in range(runs):
        body = {"experiment_id": experiments[i % 2], "run_name": f"sweep-{i}", "start_time": i}
        run_id = s.post(f"{b}/runs/create", json=body).json()["run"]["info"]["run_id"]
        values = {f"param_{j:02d}": str((i * (j + 1)) % 7 if j < 10 else j) for j in range(params)}
        acc = 0.5 + (i * 37 % 50) / 100
        metrics = [
            {"key": "accuracy", "value": acc, "timestamp": 1, "step": 0},
            {"key": "f1", "value": acc - 0.05, "timestamp": 1, "step": 0},
            {"key": "latency_ms", "value": 10 + i % 13, "timestamp": 1, "step": 0},
        ] + [
            {"key": "loss", "value": (1 - acc) * (1 + 1 / (k + 1)), "timestamp": 1, "step": k}
            for k in range(10)
        ]
        items = [{"key": k, "value": v} for k, v in values.items()]
        for start in range(0, len(items), 100):
            batch = {"run_id": run_id, "params": items[start : start + 100]}
            s.post(f"{b}/runs/log-batch", json=batch).raise_for_status()
        batch = {"run_id": run_id, "metrics": metrics}
        s.post(f"{b}/runs/log-batch", json=batch).raise_for_status()
        ids.append(run_id)
    return ids


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--params", type=int, default=50)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    load = Path("/proc/loadavg")
    if load.exists():
        print(f"load average before: {' '.join(load.read_text().split()[:3])}")
    if not (ROOT / "cairn" / "server" / "static" / "index.html").exists():
        raise SystemExit("the web UI is not built: run 'make ui' first")
    work = Path(tempfile.mkdtemp(prefix="cairn-cmpbench-"))
    proc, base = start_cairn(work, str(work / "art"))
    try:
        t0 = time.perf_counter()
        ids = seed(base, args.runs, args.params)
        print(f"seeded {args.runs} runs x {args.params} params in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        api = requests.post(f"{base}/api/v1/runs/compare", json={"run_ids": ids}, timeout=60)
        api.raise_for_status()
        took = (time.perf_counter() - t0) * 1000
        print(f"POST /api/v1/runs/compare ({args.runs} runs): {took:.0f} ms")
        ids_file = work / "ids.txt"
        ids_file.write_text(",".join(ids))
        rows = args.params + 4
        out = subprocess.run(
            ["node", str(ROOT / "benchmarks" / "compare_bench_browser.mjs"), base, str(ids_file),
             str(rows), str(args.rounds)],
            check=True, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
        times = result["times_ms"]
        median = statistics.median(times)
        print(f"rounds (ms, navigation start -> table and 7 charts drawn): {times}")
        busy = result["main_thread_busy_ms"]
        print(
            f"browser main thread busy until then (ms): {busy}, "
            f"median {statistics.median(busy):.0f} ms"
        )
        verdict = "OK" if median <= TARGET_MS else "SLOW"
        print(f"median: {median:.0f} ms (target <= {TARGET_MS} ms): {verdict}")
        if result["console_errors"]:
            print(f"console errors: {result['console_errors']}")
            return 1
        return 0 if median <= TARGET_MS else 1
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
