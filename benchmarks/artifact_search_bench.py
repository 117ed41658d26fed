"""How long one page of ``GET /api/v1/artifacts`` takes on an experiment of 1,000 runs with five
artifacts each (a model folder among them), against a running server:

    python -m benchmarks.artifact_search_bench http://127.0.0.1:5000

Prints the median of five requests per query and how many runs each page walked (at most 200).
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

RUNS = 1000
FILES = ("plots/loss.png", "config.yaml", "model/MLmodel", "model/model.pkl", "train.log")
QUERIES = ("", "type=model", "q=nothing-matches", "type=image&max_results=500")


def main(url: str) -> None:
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port or 80)

    def call(method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        out = answer.read()
        if answer.status != 200:
            raise SystemExit(f"{method} {path}: {answer.status} {out[:200]!r}")
        return json.loads(out) if out else {}

    name = f"artifact-bench-{int(time.time())}"
    eid = call("POST", "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"]
    for i in range(RUNS):
        body = {"experiment_id": eid, "run_name": f"r{i}"}
        run = call("POST", "/api/2.0/mlflow/runs/create", body)["run"]["info"]["run_id"]
        for path in FILES:
            target = f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run}/artifacts/{path}"
            call("PUT", target, raw=b"x" * 100)
    for query in QUERIES:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            page = call("GET", f"/api/v1/artifacts?experiment_id={eid}&{query}")
            times.append(time.perf_counter() - start)
        median = sorted(times)[2] * 1000
        print(
            f"{query or '(all)'}: median {median:.0f} ms, {len(page['artifacts'])} artifacts, "
            f"{page['scanned_runs']} runs walked, more: {bool(page['next_page_token'])}"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000")
