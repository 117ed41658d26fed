#!/usr/bin/env python3
"""Issue 19's chart-view timing: Cairn's experiment chart view against MLflow 3.17.2's, over the
same 100 runs × 5 metrics × 10,000 points, in headless Chromium.

Fills one experiment in a fresh ``cairn server`` and in a stock ``mlflow server`` (each on
SQLite) through the same REST requests (``runs/create``, then ``runs/log-batch`` of 1,000
metrics: 200 steps of the 5 keys), one server filling at a time. Then, in one headless
Chromium, opens each UI's chart view in a fresh browser context (nothing cached), alternating
between the UIs round by round after one untimed load of each, and times from navigation
start until every chart has all its curves drawn (``web/bench/chart_view_timing.mjs``, which
defines "drawn" for each UI). Before each timed load it waits until the browser and both
servers have been idle for 300 ms.

    python benchmarks/chart_view_bench.py                       # both, 100 × 5 × 10,000
    python benchmarks/chart_view_bench.py --only cairn --repeats 9
    python benchmarks/chart_view_bench.py --store /tmp/cvb      # keep the filled stores

Filling MLflow takes about ten minutes on two cores (5,000 log-batch requests of 1,000
metrics at about 100 ms each); ``--store DIR`` keeps both servers' stores in DIR and reuses
them on the next run when they hold the same shape. Needs ``make ui``, Node with
``web/node_modules``, Chromium at /usr/bin/chromium and ``.venvs/mlflow3``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import stop  # noqa: E402
from benchmarks.ui_bench import API, Client, serve  # noqa: E402

TIMING = ROOT / "web" / "bench" / "chart_view_timing.mjs"
KEYS = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
BATCH = 1000
FILL_THREADS = 4
T0 = 1_790_000_000_000
ONE_WORKER = ("--workers", "1")
"""MLflow's server runs one uvicorn worker (its default is 4): on a busy machine uvicorn's
supervisor kills workers that miss its health check, and the requests they held fail."""


def value(key: str, run: int, step: int, points: int) -> float:
    """A training-like curve per key and run, with deterministic noise."""
    t = step / max(1, points - 1)
    noise = 0.02 * math.sin(step * 0.37 + run * 1.7) + 0.01 * math.sin(step * 0.051 + run)
    decay = math.exp(-t * (3 + run % 7))
    if key == "loss":
        return 0.1 + 2.0 * decay + noise
    if key == "val_loss":
        return 0.15 + 2.1 * decay + 1.5 * noise
    if key == "accuracy":
        return 0.98 - 0.8 * decay + noise / 2
    if key == "val_accuracy":
        return 0.95 - 0.8 * decay + noise
    return 1e-3 * (0.5 + 0.5 * math.cos(math.pi * t))  # learning_rate: cosine schedule


def points_of(
    run: int, start: int, stop: int, keys: list[str], points: int
) -> list[dict[str, Any]]:
    """The metrics of steps start..stop-1 of one run, every key at each step."""
    return [
        {
            "key": key,
            "value": value(key, run, step, points),
            "timestamp": T0 + run * 60_000 + step * 100,
            "step": step,
        }
        for step in range(start, min(points, stop))
        for key in keys
    ]


def create_runs(port: int, runs: int) -> tuple[str, list[str]]:
    """The experiment and its runs (finished), through the REST API."""
    client = Client(port)
    eid = str(client.post("/experiments/create", {"name": "chart-view-bench"})["experiment_id"])
    run_ids = []
    for i in range(runs):
        info = client.post(
            "/runs/create",
            {"experiment_id": eid, "run_name": f"run-{i:03d}", "start_time": T0 + i * 60_000},
        )["run"]["info"]
        run_ids.append(info["run_id"])
    return eid, run_ids


def log_rest(port: int, run_ids: list[str], keys: list[str], points: int) -> None:
    """Every point through ``runs/log-batch``, 1,000 metrics a request, 4 requests at a time."""
    client = Client(port)
    per_batch = max(1, BATCH // len(keys))

    def one(job: tuple[int, int]) -> None:
        i, start = job
        body = {
            "run_id": run_ids[i],
            "metrics": points_of(i, start, start + per_batch, keys, points),
        }
        client.post("/runs/log-batch", body)

    jobs = [(i, start) for i in range(len(run_ids)) for start in range(0, points, per_batch)]
    with ThreadPoolExecutor(FILL_THREADS) as pool:
        for future in [pool.submit(one, job) for job in jobs]:
            future.result()


def log_mlflow_sqlite(db: Path, run_ids: list[str], keys: list[str], points: int) -> None:
    """The same points written straight into MLflow's own tables (``metrics`` and
    ``latest_metrics``) while its server is stopped: through its REST API the 5,000 requests
    take 15 minutes on an idle 2-core machine and hours on a busy one."""
    with sqlite3.connect(db) as conn:
        for i, rid in enumerate(run_ids):
            rows = points_of(i, 0, points, keys, points)
            conn.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                [(m["key"], m["value"], m["timestamp"], rid, m["step"]) for m in rows],
            )
            conn.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, ?, 0, ?)",
                [
                    (m["key"], m["value"], m["timestamp"], m["step"], rid)
                    for m in rows[-len(keys) :]
                ],
            )


def finish_runs(port: int, run_ids: list[str], points: int) -> None:
    client = Client(port)
    for i, rid in enumerate(run_ids):
        end = T0 + i * 60_000 + points * 100
        client.post("/runs/update", {"run_id": rid, "status": "FINISHED", "end_time": end})


def fill(kind: str, folder: Path, args: argparse.Namespace) -> tuple[str, float]:
    """The experiment, filled; its id and the seconds taken."""
    started = time.perf_counter()
    proc, port = serve(kind, folder, args, ONE_WORKER if kind == "mlflow" else ())
    try:
        eid, run_ids = create_runs(port, args.runs)
        finish_runs(port, run_ids, args.points)
        if kind == "cairn" or args.mlflow_rest:
            log_rest(port, run_ids, KEYS, args.points)
    finally:
        stop(proc)
    if kind == "mlflow" and not args.mlflow_rest:
        log_mlflow_sqlite(folder / "mlflow.db", run_ids, KEYS, args.points)
    return eid, time.perf_counter() - started


def check_history(port: int, eid: str, points: int) -> int:
    """How many points the server answers for one run's first key (the fill's proof)."""
    client = Client(port)
    found = client.post("/runs/search", {"experiment_ids": [eid], "max_results": 1})
    rid = found["runs"][0]["info"]["run_id"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "GET", f"{API}/metrics/get-history?run_id={rid}&metric_key={KEYS[0]}&max_results={points}"
    )
    body = json.loads(conn.getresponse().read())
    conn.close()
    return len(body.get("metrics", []))


def page_url(kind: str, port: int, eid: str) -> str:
    if kind == "cairn":
        return f"http://127.0.0.1:{port}/experiments/{eid}?mode=charts"
    return f"http://127.0.0.1:{port}/#/experiments/{eid}/runs?compareRunsMode=CHART"


def time_uis(pages: list[tuple[str, str]], args: argparse.Namespace, pids: list[int]) -> Any:
    cmd = ["node", str(TIMING), "--repeats", str(args.repeats), "--pids", ",".join(map(str, pids))]
    cmd += ["--runs", str(args.runs), "--keys", str(len(KEYS)), "--viewport", args.viewport]
    cmd += ["--timeout", str(args.timeout)] + (["--verbose"] if args.verbose else [])
    for kind, url in pages:
        cmd += [kind, url]
    node = subprocess.run(
        cmd,
        cwd=ROOT / "web",
        capture_output=True,
        text=True,
        timeout=120 + (args.repeats + 2) * len(pages) * (args.timeout + 30),
        check=False,
    )
    sys.stderr.write(node.stderr)
    if node.returncode != 0:
        raise RuntimeError(f"chart_view_timing failed:\n{node.stdout}")
    return json.loads(node.stdout.strip().splitlines()[-1])


def prepared(kind: str, stack: contextlib.ExitStack, args: argparse.Namespace) -> Path:
    """The server's work folder: in --store (kept), or a temporary one."""
    if args.store is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"cvb-{kind}-")))
    folder: Path = args.store / kind
    shape = {"runs": args.runs, "keys": KEYS, "points": args.points}
    marker = folder / "filled.json"
    if folder.exists() and not (
        marker.exists() and json.loads(marker.read_text())["shape"] == shape
    ):
        shutil.rmtree(folder)  # another shape, or a fill that did not finish
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--points", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=["cairn", "mlflow"])
    p.add_argument("--store", type=Path, help="keep the filled stores here and reuse them")
    p.add_argument(
        "--mlflow-rest",
        action="store_true",
        help="log MLflow's points through its REST API too (slow), not into its tables",
    )
    p.add_argument("--fill-only", action="store_true", help="fill the --store and stop")
    p.add_argument("--viewport", default="1440x900")
    p.add_argument("--verbose", action="store_true", help="print each load's requests")
    p.add_argument(
        "--timeout", type=int, default=300, help="seconds a load may take (beyond: not drawn)"
    )
    p.add_argument("--mlflow-venv", type=Path, default=ROOT / ".venvs" / "mlflow3")
    args = p.parse_args()
    args.cairn_workers = None
    if args.fill_only and args.store is None:
        p.error("--fill-only needs --store")
    if not args.fill_only and not (ROOT / "cairn" / "server" / "static" / "index.html").exists():
        print("The UI is not built: run 'make ui' first", file=sys.stderr)
        return 2
    kinds = [args.only] if args.only else ["cairn", "mlflow"]
    with contextlib.ExitStack() as stack:
        pages: list[tuple[str, str]] = []
        pids: list[int] = []
        for kind in kinds:
            folder = prepared(kind, stack, args)
            marker = folder / "filled.json"
            if marker.exists():
                print(f"{kind}: reusing the filled store in {folder}", file=sys.stderr)
            else:
                eid, seconds = fill(kind, folder, args)
                shape = {"runs": args.runs, "keys": KEYS, "points": args.points}
                marker.write_text(json.dumps({"shape": shape, "experiment_id": eid}))
                print(
                    f"{kind}: filled {args.runs} runs x {len(KEYS)} metrics x "
                    f"{args.points:,} points in {seconds:.0f} s",
                    file=sys.stderr,
                )
            eid = json.loads(marker.read_text())["experiment_id"]
            if args.fill_only:
                continue
            proc, port = serve(kind, folder, args, ONE_WORKER if kind == "mlflow" else ())
            stack.callback(stop, proc)
            pids.append(proc.pid)
            found = check_history(port, eid, args.points)
            if found != args.points:
                raise RuntimeError(f"{kind} answers {found} points of {args.points} for one series")
            pages.append((kind, page_url(kind, port, eid)))
        if args.fill_only:
            return 0
        result = time_uis(pages, args, pids)
    load1, _, _ = os.getloadavg()
    print(
        f"Chart view drawn: {args.runs} runs x {len(KEYS)} metrics x {args.points:,} points; "
        f"{args.repeats} cold loads each at {args.viewport}; {platform.node()}, load {load1:.1f}"
    )
    print(f"{'UI':<8}{'best ms':>10}{'median ms':>12}   all")
    medians = {}
    for kind, row in zip(kinds, result["pages"], strict=True):
        # a load not drawn within the timeout counts as the timeout (a lower bound)
        ms = [args.timeout * 1000 if x is None else x for x in row["ms"]]
        medians[kind] = statistics.median(ms)
        late = "" if None not in row["ms"] else f" (> {args.timeout} s: not drawn in time)"
        each = ", ".join(">" * (y is None) + f"{x:.0f}" for x, y in zip(ms, row["ms"], strict=True))
        print(f"{kind:<8}{min(ms):>10.0f}{medians[kind]:>12.0f}   {each}{late}")
        for note in row.get("notes", [])[:1]:
            print(f"        {note}")
    if len(medians) == 2:
        bound = "at least " if None in result["pages"][kinds.index("mlflow")]["ms"] else ""
        print(f"MLflow / Cairn (median): {bound}{medians['mlflow'] / medians['cairn']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
