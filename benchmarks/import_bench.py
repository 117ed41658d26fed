#!/usr/bin/env python3
"""``cairn import mlruns`` at the size issue 20 names: an mlruns folder of 1,000 runs must
import in under 60 s.

Writes the folder in MLflow's file-store layout (``tests/sync/mlruns_builder.py``: per run
5 params, 2 tags, a metric of ``--points`` points and a small artifact), starts a fresh
``cairn server`` (SQLite, local artifacts), and measures the import, a second import (must
write nothing) and ``--verify``'s comparison.

    python benchmarks/import_bench.py                  # 1,000 runs x 100 points
    python benchmarks/import_bench.py --runs 50        # a smoke test
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402
from cairn.sync.imports import run_import, verify_import  # noqa: E402
from cairn.sync.mlflow_files import MlrunsSource  # noqa: E402
from tests.sync.builder import env_without_cairn  # noqa: E402
from tests.sync.conftest import Requests  # noqa: E402
from tests.sync.mlruns_builder import write_mlruns  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100, help="points per run")
    parser.add_argument("--file-bytes", type=int, default=10_000, help="one file per run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cairn-import-bench-"))
    results: dict[str, object] = {"runs": args.runs, "points_per_run": args.points}
    proc = None
    try:
        started = time.perf_counter()
        info = write_mlruns(
            work / "mlruns",
            experiment="import-bench",
            runs=args.runs,
            points=args.points,
            file_bytes=args.file_bytes,
        )
        results["write_s"] = round(time.perf_counter() - started, 2)
        (work / "dest").mkdir()
        proc, url = start_cairn(
            work / "dest", str(work / "dest" / "artifacts"), env_without_cairn()
        )

        started = time.perf_counter()
        report = run_import(MlrunsSource(info.root), url)
        seconds = time.perf_counter() - started
        results["import_s"] = round(seconds, 2)
        results["runs_per_s"] = round(args.runs / seconds, 1)
        results["points_per_s"] = round(info.points / seconds)
        results["failures"] = report.failures
        results["under_60_s"] = seconds < 60

        seen = Requests()
        started = time.perf_counter()
        run_import(MlrunsSource(info.root), url, request_hook=seen)
        results["second_import_s"] = round(time.perf_counter() - started, 2)
        results["second_import_writes"] = seen.writes

        started = time.perf_counter()
        differences = verify_import(MlrunsSource(info.root), url)
        results["verify_s"] = round(time.perf_counter() - started, 2)
        results["verify_differences"] = len(differences)
    finally:
        if proc is not None:
            stop(proc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
