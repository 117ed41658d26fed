#!/usr/bin/env python3
"""Insight calls on one fresh ``cairn server`` (SQLite): an experiment of ``--runs`` runs
(five metrics each, mixed statuses, start and end times) and a registered model with
``--versions`` versions made from those runs, then ``--reps`` sequential calls (requests,
keep-alive) of each: the experiment summary (default metrics, and two named with
directions), the model's performance with trend and degradation, and a compare of three
models. Prints p50/p95 per call.

    .venv/bin/python benchmarks/insights_bench.py --runs 1000 --versions 100
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.registry_bench import timed  # noqa: E402
from benchmarks.run import start_cairn, stop  # noqa: E402

API = "/api/2.0/mlflow"
V1 = "/api/v1"
STATUSES = ("FINISHED",) * 8 + ("FAILED", "KILLED")


def seed(s: requests.Session, base: str, runs: int, versions: int) -> str:
    b = base + API
    eid: str = s.post(f"{b}/experiments/create", json={"name": "bench"}).json()["experiment_id"]
    for name in ("m0", "m1", "m2"):
        s.post(f"{b}/registered-models/create", json={"name": name}).raise_for_status()
    for i in range(runs):
        start = 1_700_000_000_000 + i * 60_000
        body = {"experiment_id": eid, "run_name": f"r{i}", "start_time": start}
        run_id = s.post(f"{b}/runs/create", json=body).json()["run"]["info"]["run_id"]
        acc = 0.5 + (i * 37 % 50) / 100
        metrics = {
            "accuracy": acc,
            "f1": acc - 0.05,
            "loss": 1 - acc,
            "latency_ms": 10 + i % 13,
            "epoch": 3 + i % 5,
        }
        points = [{"key": k, "value": v, "timestamp": start, "step": 3} for k, v in metrics.items()]
        s.post(f"{b}/runs/log-batch", json={"run_id": run_id, "metrics": points}).raise_for_status()
        end = start + 30_000 + (i * 7919 % 600_000)
        update = {"run_id": run_id, "status": STATUSES[i % len(STATUSES)], "end_time": end}
        s.post(f"{b}/runs/update", json=update).raise_for_status()
        if i < versions * 3:
            version = {"name": f"m{i % 3}", "source": f"runs:/{run_id}/model", "run_id": run_id}
            s.post(f"{b}/model-versions/create", json=version).raise_for_status()
    return eid


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--versions", type=int, default=100, help="versions per model (three models)")
    p.add_argument("--reps", type=int, default=50)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cairn-insightsbench-"))
    proc, base = start_cairn(work, str(work / "art"))
    try:
        s = requests.Session()
        s.headers["Content-Type"] = "application/json"
        eid = seed(s, base, args.runs, args.versions)
        v1 = base + V1
        results = {
            f"experiment summary ({args.runs} runs, default metrics)": timed(
                s, "GET", f"{v1}/experiments/{eid}/summary", args.reps
            ),
            f"experiment summary ({args.runs} runs, accuracy:max,loss:min)": timed(
                s,
                "GET",
                f"{v1}/experiments/{eid}/summary",
                args.reps,
                params={"metrics": "accuracy:max,loss:min"},
            ),
            f"model performance ({args.versions} versions)": timed(
                s, "GET", f"{v1}/models/m0/performance", args.reps
            ),
            "models compare (3 models)": timed(
                s,
                "GET",
                f"{v1}/models/compare",
                args.reps,
                params={"model_names": "m0,m1,m2", "stage": "latest"},
            ),
        }
        print(
            json.dumps({"runs": args.runs, "versions": args.versions, "results": results}, indent=2)
        )
        return 0
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
