#!/usr/bin/env python3
"""``cairn import mlflow`` against ``mlflow-export-import`` on the same data and machine: issue
20 asks for at least 10x as many metric points per second.

A stock MLflow 3.17.2 server (SQLite, proxied artifacts, its default 4 workers) is filled
through the stock client (``--runs`` runs of ``--points`` points over two metrics, 5 params,
3 tags and one small artifact each). Then, per round and alternating:

- **cairn**: ``cairn import mlflow --from SOURCE --to CAIRN`` into a fresh ``cairn server``;
- **mei**: mlflow-export-import's ``export-experiment`` then ``import-experiment`` into a fresh
  stock MLflow 3.17.2 server (what its users run to move an experiment between servers).

Both are timed from the command's start to its exit; points/s is the source's point count over
that time. Servers run one at a time besides the source.

    make bench-import-server                        # 50 runs x 10,000 points, 3 rounds
    python benchmarks/import_server_bench.py --runs 5 --points 1000 --rounds 1   # a smoke test

The stock MLflow comes from ``.venvs/mlflow3`` (``make compat-venvs``), mlflow-export-import
from ``.venvs/mlflow-export-import`` (``make bench-import-server`` makes it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLFLOW3 = ROOT / ".venvs" / "mlflow3"
MEI = ROOT / ".venvs" / "mlflow-export-import"
EXPERIMENT = "import-bench"
KEYS = ("loss", "accuracy")

# Run by the stock client's Python (``--fill``): no Cairn import here.
FILL = """
import os, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
url, name, runs, points, nbytes, folder = sys.argv[1:7]
runs, points, nbytes = int(runs), int(points), int(nbytes)
keys = ("loss", "accuracy")
client = MlflowClient(tracking_uri=url)
eid = client.create_experiment(name)
os.makedirs(folder, exist_ok=True)
blob = os.path.join(folder, "weights.bin")
with open(blob, "wb") as fh:
    fh.write(os.urandom(nbytes))
base = int(time.time() * 1000) - 10**7
for r in range(runs):
    run = client.create_run(eid, run_name=f"run-{r}", start_time=base + r,
                            tags={"team": "bench", "seed": str(r), "kind": "sweep"})
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"p{i}", str(r * 10 + i)) for i in range(5)])
    per_key = points // len(keys)
    batch = []
    for k, key in enumerate(keys):
        for step in range(per_key):
            batch.append(Metric(key, ((r + 1) * (step + 1) * (k + 2)) % 9973 / 9973.0,
                                base + r * 100000 + step, step))
            if len(batch) == 1000:
                client.log_batch(rid, metrics=batch)
                batch = []
    if batch:
        client.log_batch(rid, metrics=batch)
    client.log_artifact(rid, blob)
    client.set_terminated(rid, end_time=base + r * 100000 + per_key)
print(eid)
"""


@contextmanager
def stock_mlflow(workdir: Path) -> Iterator[str]:
    from tests.compat.server import start_stock_mlflow_server

    # MLflow's default of 4 worker processes, as `mlflow server` runs without --workers
    servers = start_stock_mlflow_server(workdir, extra_args=["--workers", "4"])
    server = next(servers)
    try:
        yield server.url
    finally:
        servers.close()


@contextmanager
def cairn(workdir: Path) -> Iterator[str]:
    from tests.compat.server import start_server

    servers = start_server("sqlite", f"sqlite:///{workdir / 'cairn.db'}", workdir)
    server = next(servers)
    try:
        yield server.url
    finally:
        servers.close()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env.update(extra)
    return env


def timed(command: list[str], env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("ab") as out:
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} exited with {done.returncode}; see {log}")
    return seconds


def round_cairn(work: Path, source: str, log: Path, mei: Path) -> float:
    with cairn(work) as url:
        command = [sys.executable, "-m", "cairn", "import", "mlflow", "--from", source]
        command += ["--to", url, "--state-dir", str(work / "state")]
        return timed(command, clean_env(PYTHONPATH=str(ROOT)), log)


def round_mei(work: Path, source: str, log: Path, mei: Path) -> float:
    dump = work / "dump"
    with stock_mlflow(work / "dest") as url:
        started = time.perf_counter()
        export = [str(mei / "bin" / "export-experiment"), "--experiment", EXPERIMENT]
        timed([*export, "--output-dir", str(dump)], clean_env(MLFLOW_TRACKING_URI=source), log)
        load = [str(mei / "bin" / "import-experiment"), "--experiment-name", EXPERIMENT]
        timed([*load, "--input-dir", str(dump)], clean_env(MLFLOW_TRACKING_URI=url), log)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--points", type=int, default=10_000, help="points per run")
    parser.add_argument("--file-bytes", type=int, default=100_000, help="one artifact per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["cairn", "mei"], help="measure one side only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--mei-venv", type=Path, default=MEI, help="mlflow-export-import's venv")
    args = parser.parse_args()
    for venv in (MLFLOW3, args.mei_venv):
        if not (venv / "bin" / "python").exists():
            raise SystemExit(f"{venv} is missing: run `make bench-import-server`")
    sys.path.insert(0, str(ROOT))

    work = Path(tempfile.mkdtemp(prefix="cairn-import-server-bench-"))
    log = work / "commands.log"
    total = args.runs * (args.points // len(KEYS)) * len(KEYS)
    results: dict[str, object] = {
        "runs": args.runs,
        "points": total,
        "load_before": os.getloadavg()[0],
    }
    times: dict[str, list[float]] = {"cairn": [], "mei": []}
    try:
        with stock_mlflow(work / "source") as source:
            started = time.perf_counter()
            fill = [str(MLFLOW3 / "bin" / "python"), "-c", FILL, source, EXPERIMENT]
            fill += [str(args.runs), str(args.points), str(args.file_bytes), str(work / "blob")]
            timed(fill, clean_env(), log)
            results["fill_s"] = round(time.perf_counter() - started, 1)
            sides = [args.only] if args.only else ["cairn", "mei"]
            for n in range(args.rounds):
                for side in sides if n % 2 == 0 else reversed(sides):
                    where = work / f"{side}-{n}"
                    run = round_cairn if side == "cairn" else round_mei
                    seconds = run(where, source, log, args.mei_venv)
                    times[side].append(seconds)
                    print(f"round {n + 1} {side}: {seconds:.1f} s", file=sys.stderr)
                    shutil.rmtree(where, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for side, got in times.items():
        if got:
            median = statistics.median(got)
            results[f"{side}_s"] = [round(s, 1) for s in got]
            results[f"{side}_points_per_s"] = round(total / median)
    if times["cairn"] and times["mei"]:
        results["ratio"] = round(
            statistics.median(times["mei"]) / statistics.median(times["cairn"]), 1
        )
    results["load_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
