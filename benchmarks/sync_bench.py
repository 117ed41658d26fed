#!/usr/bin/env python3
"""``cairn sync`` at the size issue 5 checks: 50 runs x 10,000 points with artifacts.

Builds an offline store through Cairn's services (``tests/sync/builder.py``), starts a fresh
``cairn server`` (SQLite, local artifacts) and measures:

1. the first sync (everything), then checks the destination point by point and byte by byte;
2. a second sync (must send nothing: zero writing requests);
3. on a second fresh server, a sync killed by PID once half the runs are recorded in the
   ledger, then the resumed sync, then the same full check and another no-op sync.

    python benchmarks/sync_bench.py                 # the issue's size
    python benchmarks/sync_bench.py --runs 5 --points 2000 --file-mb 0.1   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.run import start_cairn, stop  # noqa: E402
from cairn.sync import sync_store  # noqa: E402
from tests.sync.builder import (  # noqa: E402
    SourceStoreInfo,
    assert_destination_matches,
    build_store,
    env_without_cairn,
)
from tests.sync.conftest import Requests  # noqa: E402

KILL_WAIT_S = 600.0


def _complete_runs(root: Path) -> int:
    for path in (root / ".cairn-sync").glob("*.json"):
        if path.name.startswith("."):
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            return 0
        return sum(1 for r in doc.get("runs", {}).values() if r.get("complete"))
    return 0


def _check(url: str, info: SourceStoreInfo) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=120) as http:
        assert_destination_matches(http, info)
    return time.perf_counter() - started


def _timed_sync(source: Path, url: str) -> tuple[float, Requests, object]:
    seen = Requests()
    started = time.perf_counter()
    report = sync_store(str(source), url, request_hook=seen)
    return time.perf_counter() - started, seen, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--points", type=int, default=10_000, help="points per run")
    parser.add_argument("--file-mb", type=float, default=1.0, help="model file in every run")
    parser.add_argument("--big-mb", type=float, default=5.0, help="one extra file in run 0")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cairn-sync-bench-"))
    results: dict[str, object] = {"runs": args.runs, "points_per_run": args.points}
    servers = []
    try:
        started = time.perf_counter()
        info = build_store(
            work / "source",
            runs=args.runs,
            points=args.points,
            big_file_bytes=int(args.big_mb * 1024 * 1024),
            file_bytes_per_run=int(args.file_mb * 1024 * 1024),
            experiment="sync-bench",
        )
        results["build_s"] = round(time.perf_counter() - started, 2)
        results["points"] = info.total_points
        results["artifact_files"] = sum(len(r.files) for r in info.runs)
        results["artifact_bytes"] = info.total_bytes
        env = env_without_cairn()

        # 1 + 2: a full sync, then a sync with nothing to do
        (work / "dest1").mkdir()
        proc, url = start_cairn(work / "dest1", str(work / "dest1" / "artifacts"), env)
        servers.append(proc)
        seconds, seen, report = _timed_sync(info.root, url)
        results["first_sync_s"] = round(seconds, 2)
        results["first_sync_points_per_s"] = round(info.total_points / seconds)
        results["first_sync_requests"] = seen.total
        results["first_sync_points_sent"] = seen.metric_points
        results["first_sync_report"] = vars(report)
        results["first_sync_check_s"] = round(_check(url, info), 2)
        seconds, seen, report = _timed_sync(info.root, url)
        results["second_sync_s"] = round(seconds, 3)
        results["second_sync_requests"] = dict(seen.by_path)
        results["second_sync_writes"] = seen.writes
        results["second_sync_report"] = vars(report)
        stop(proc)
        servers.remove(proc)

        # 3: killed half-way, resumed (a fresh destination and a fresh ledger)
        shutil.rmtree(info.root / ".cairn-sync")
        (work / "dest2").mkdir()
        proc, url = start_cairn(work / "dest2", str(work / "dest2" / "artifacts"), env)
        servers.append(proc)
        started = time.perf_counter()
        sync = subprocess.Popen(
            [sys.executable, "-m", "cairn", "sync", str(info.root), "--to", url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + KILL_WAIT_S
        while _complete_runs(info.root) < args.runs // 2:
            if sync.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the sync ended (or stalled) before it could be killed")
            time.sleep(0.01)
        os.kill(sync.pid, signal.SIGKILL)
        sync.wait(timeout=30)
        results["killed_after_s"] = round(time.perf_counter() - started, 2)
        results["complete_runs_at_kill"] = _complete_runs(info.root)
        seconds, seen, report = _timed_sync(info.root, url)
        results["resumed_sync_s"] = round(seconds, 2)
        results["resumed_points_sent"] = seen.metric_points
        results["resumed_report"] = vars(report)
        results["resumed_check_s"] = round(_check(url, info), 2)
        _, seen, _ = _timed_sync(info.root, url)
        results["after_resume_writes"] = seen.writes
        print(json.dumps(results, indent=2))
    finally:
        for proc in servers:
            stop(proc)
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
