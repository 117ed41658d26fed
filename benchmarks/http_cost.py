#!/usr/bin/env python3
"""Server CPU per sequential one-point ``POST /api/2.0/mlflow/runs/log-metric`` over HTTP.

``request_cost.py`` measures the app in process; this runs real ``cairn server`` processes
(uvicorn included) for each tree given, each on a fresh SQLite store, sends ``--requests``
one-point requests over one keep-alive connection after as many of warm-up, and reads the
server's CPU time (user + system, every thread) from ``/proc/<pid>/stat`` before and 1 s after
them: a figure that moves far less with the machine's load than requests/s. Trees alternate
order round by round; the table gives the median over rounds [each round].

    mkdir /tmp/before && git archive 99aa6cb | tar -x -C /tmp/before
    python benchmarks/http_cost.py --tree /tmp/before --tree . --rounds 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def one_tree(tree: Path, n: int, store: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "CAIRN_HOME": str(store)}
    proc, base = start_cairn(store, str(store / "artifacts"), env, cwd=tree)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30)

        def post(path: str, doc: dict[str, Any]) -> dict[str, Any]:
            conn.request(
                "POST", "/api/2.0/mlflow" + path, json.dumps(doc),
                {"Content-Type": "application/json"},
            )  # fmt: skip
            answer = conn.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{path}: {answer.status} {body[:300]!r}")
            found: dict[str, Any] = json.loads(body or b"{}")
            return found

        eid = post("/experiments/create", {"name": "cost"})["experiment_id"]
        rid = post("/runs/create", {"experiment_id": eid, "start_time": 1})["run"]["info"]["run_id"]

        def log(i: int) -> None:
            point = {"run_id": rid, "key": "loss", "value": i * 0.5, "timestamp": 1000 + i}
            post("/runs/log-metric", {**point, "step": i})

        for i in range(n):  # warm-up
            log(i)
        time.sleep(1.0)
        cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
        for i in range(n, 2 * n):
            log(i)
        wall = time.perf_counter() - wall0
        time.sleep(1.0)  # the job engine's share of these requests
        cpu = cpu_seconds(proc.pid) - cpu0
        conn.close()
        return {"server_cpu_us": cpu / n * 1e6, "wall_us": wall / n * 1e6}
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees: list[Path] = [t.resolve() for t in args.tree]
    results: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    for r in range(args.rounds):
        for tree in trees if r % 2 == 0 else trees[::-1]:
            with tempfile.TemporaryDirectory(prefix="cairn-http-cost-") as tmp:
                results[tree].append(one_tree(tree, args.requests, Path(tmp)))
    print("| tree | server CPU per request (µs) | wall per request (µs) |")
    print("|---|---|---|")
    for tree, rounds in results.items():
        cells = []
        for key in ("server_cpu_us", "wall_us"):
            values = [r[key] for r in rounds]
            cells.append(f"{statistics.median(values):,.0f} {[round(v) for v in values]}")
        print(f"| {tree} | {' | '.join(cells)} |")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
