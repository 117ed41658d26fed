#!/usr/bin/env python3
"""Registry latency against tracking latency, on one fresh ``cairn server``.

Creates a registered model with ``--versions`` versions (spread over the four stages), then
times, in the style of tracking_bench.py (requests, keep-alive, sequential): get-latest-versions,
search-model-versions (name filter, first page of 100 and all), registered-models/get, and the
tracking calls runs/get and runs/search (top 100) for comparison. Prints p50/p95 per call.

    python benchmarks/registry_bench.py --versions 1000
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402

API = "/api/2.0/mlflow"


def timed(
    session: requests.Session, method: str, url: str, reps: int, **kw: object
) -> dict[str, float]:
    lat = []
    for _ in range(reps):
        t0 = time.perf_counter()
        resp = session.request(method, url, timeout=60, **kw)  # type: ignore[arg-type]
        resp.content  # noqa: B018 - read the body inside the timing
        lat.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise SystemExit(f"{method} {url}: HTTP {resp.status_code} {resp.text[:200]}")
    lat.sort()
    return {
        "p50_ms": round(statistics.median(lat) * 1000, 2),
        "p95_ms": round(lat[int(len(lat) * 0.95) - 1] * 1000, 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--versions", type=int, default=1000)
    p.add_argument("--reps", type=int, default=50)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cairn-regbench-"))
    proc, base = start_cairn(work, str(work / "art"))
    try:
        s = requests.Session()
        s.headers["Content-Type"] = "application/json"
        b = base + API
        run = s.post(f"{b}/runs/create", json={"experiment_id": "0", "start_time": 1}).json()
        run_id = run["run"]["info"]["run_id"]
        s.post(
            f"{b}/runs/log-batch",
            json={
                "run_id": run_id,
                "params": [{"key": f"p{i}", "value": str(i)} for i in range(10)],
            },
        ).raise_for_status()
        s.post(f"{b}/registered-models/create", json={"name": "bench"}).raise_for_status()
        source = f"mlflow-artifacts:/0/{run_id}/artifacts/model"
        stages = ["Staging", "Production", "Archived"]
        for i in range(args.versions):
            s.post(
                f"{b}/model-versions/create",
                json={"name": "bench", "source": source, "run_id": run_id},
            ).raise_for_status()
            if i % 10 == 0:
                s.post(
                    f"{b}/model-versions/transition-stage",
                    json={
                        "name": "bench",
                        "version": str(i + 1),
                        "stage": stages[i % 3],
                        "archive_existing_versions": False,
                    },
                ).raise_for_status()
        results = {
            "registry: get-latest-versions": timed(
                s,
                "POST",
                f"{b}/registered-models/get-latest-versions",
                args.reps,
                json={"name": "bench"},
            ),
            "registry: search-model-versions (100)": timed(
                s,
                "GET",
                f"{b}/model-versions/search",
                args.reps,
                params={"filter": "name = 'bench'", "max_results": 100},
            ),
            f"registry: search-model-versions (all {args.versions})": timed(
                s,
                "GET",
                f"{b}/model-versions/search",
                max(5, args.reps // 5),
                params={"filter": "name = 'bench'", "max_results": 10000},
            ),
            "registry: registered-models/get": timed(
                s, "GET", f"{b}/registered-models/get", args.reps, params={"name": "bench"}
            ),
            "tracking: runs/get": timed(
                s, "GET", f"{b}/runs/get", args.reps, params={"run_id": run_id}
            ),
            "tracking: runs/search (top 100)": timed(
                s,
                "POST",
                f"{b}/runs/search",
                args.reps,
                json={"experiment_ids": ["0"], "max_results": 100},
            ),
        }
        print(json.dumps({"versions": args.versions, "results": results}, indent=2))
        return 0
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
