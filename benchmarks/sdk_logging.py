#!/usr/bin/env python3
"""A training loop of ``log_metric`` calls: Cairn's SDK against the stock mlflow 3.17.2 client.

Starts one fresh ``cairn server`` (SQLite, benchmarks/run.py's ``start_cairn``) and, one after
the other, each in its own fresh interpreter:

  cairn          ``cairn.log_metric`` (queued; a background thread sends log-batch requests)
  mlflow-async   ``mlflow.log_metric`` with MLFLOW_ENABLE_ASYNC_LOGGING=true
  mlflow-sync    ``mlflow.log_metric`` in its default synchronous mode (one request per call)

Each child times the loop itself and then the time until everything is flushed (cairn.flush /
mlflow.flush_async_logging; nothing for sync mode), then ends the run. The parent reads every
metric history back with metrics/get-history and checks that all points are there.

The synchronous mlflow loop takes minutes for 100,000 calls, so by default it runs
``--sync-points`` (10,000) calls and the table shows the figure extrapolated linearly to
``--points``, marked "extrapolated". ``--sync-points 100000`` measures it fully.

Also times ``import cairn`` (and the first use of the SDK, which imports httpx) against
``import mlflow``: the best of 5 fresh interpreters each.

    python benchmarks/sdk_logging.py                      # 100,000 points
    python benchmarks/sdk_logging.py --points 20000 --sync-points 2000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    kind, url, experiment, points = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if kind == "cairn":
        import cairn as lib
    else:
        import mlflow as lib
    lib.set_tracking_uri(url)
    lib.set_experiment(experiment)
    run = lib.start_run()
    log_metric = lib.log_metric
    t0 = time.perf_counter()
    for step in range(points):
        log_metric("loss", 1.0 / (step + 1), step=step)
    t1 = time.perf_counter()
    if kind == "cairn":
        lib.flush()
    elif os.environ.get("MLFLOW_ENABLE_ASYNC_LOGGING") == "true":
        lib.flush_async_logging()
    t2 = time.perf_counter()
    lib.end_run()
    print(json.dumps({"run_id": run.info.run_id, "loop_s": t1 - t0, "flush_s": t2 - t1}))
    """
)

IMPORT_TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CAIRN_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    env.update(extra)
    return env


def run_child(python: str, kind: str, url: str, points: int, extra: dict[str, str]) -> dict:
    experiment = f"sdk-bench-{kind}-{time.time_ns()}"
    done = subprocess.run(
        [
            python,
            "-c",
            CHILD,
            "cairn" if kind == "cairn" else "mlflow",
            url,
            experiment,
            str(points),
        ],
        env=child_env(extra),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def count_points(url: str, run_id: str) -> int:
    import cairn

    steps = {m.step for m in cairn.Client(url).get_metric_history(run_id, "loss")}
    return len(steps)


def import_time(python: str, stmt: str, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        out = subprocess.run(
            [python, "-c", IMPORT_TIMER.format(stmt=stmt)],
            env=child_env({}),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
        best = min(best, float(out.strip().splitlines()[-1]))
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--points", type=int, default=100_000, help="log_metric calls per loop")
    p.add_argument(
        "--sync-points",
        type=int,
        default=10_000,
        help="calls for the synchronous mlflow loop (extrapolated to --points when fewer)",
    )
    p.add_argument("--mlflow-venv", type=Path, default=ROOT / ".venvs" / "mlflow3")
    p.add_argument("--skip-imports", action="store_true", help="do not time the imports")
    args = p.parse_args()
    mlflow_python = str(args.mlflow_venv / "bin" / "python")
    if not Path(mlflow_python).exists():
        print(f"{mlflow_python} is missing: run `make compat-venvs`", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="bench-sdk-"))
    proc, url = start_cairn(workdir, str(workdir / "artifacts"))
    rows: list[tuple[str, int, dict, int]] = []
    try:
        cases = [
            ("cairn", sys.executable, args.points, {}),
            ("mlflow-async", mlflow_python, args.points, {"MLFLOW_ENABLE_ASYNC_LOGGING": "true"}),
            ("mlflow-sync", mlflow_python, min(args.sync_points, args.points), {}),
        ]
        for kind, python, points, extra in cases:
            print(f"== {kind}: {points:,} log_metric calls", file=sys.stderr, flush=True)
            result = run_child(python, kind, url, points, extra)
            rows.append((kind, points, result, count_points(url, result["run_id"])))
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nlog_metric loop, {args.points:,} points, one fresh cairn server (SQLite)\n")
    print(f"{'client':<14}{'calls':>9}{'loop s':>10}{'µs/call':>9}{'flush s':>9}"
          f"{'loop+flush s':>14}{'points stored':>15}")  # fmt: skip
    loops: dict[str, float] = {}
    ok = True
    for kind, points, result, stored in rows:
        scale = args.points / points
        loop, flush = result["loop_s"] * scale, result["flush_s"] * scale
        loops[kind] = loop
        note = f"  (measured {points:,}, extrapolated ×{scale:g})" if scale != 1 else ""
        print(
            f"{kind:<14}{args.points:>9,}{loop:>10.2f}{loop / args.points * 1e6:>9.1f}"
            f"{flush:>9.2f}{loop + flush:>14.2f}{stored:>9,}/{points:,}{note}"
        )
        ok = ok and stored == points
    print(
        f"\ncairn loop vs mlflow sync: {loops['mlflow-sync'] / loops['cairn']:.0f}× faster "
        f"(target ≥50×); vs mlflow async: {loops['mlflow-async'] / loops['cairn']:.1f}× faster "
        "(target ≥5×)"
    )
    print("all points present" if ok else "MISSING POINTS")

    if not args.skip_imports:
        print("\nimport time, best of 5 fresh interpreters")
        for label, python, stmt in [
            ("import cairn", sys.executable, "import cairn"),
            ("import cairn + SDK (httpx)", sys.executable, "import cairn; cairn.log_metric"),
            ("import mlflow", mlflow_python, "import mlflow"),
        ]:
            print(f"  {label:<28}{import_time(python, stmt) * 1000:>8.1f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
