#!/usr/bin/env python3
"""Evaluation hub timings on a fresh ``cairn server`` (SQLite, its own job engine).

- **submit latency**: ``--submits`` evaluation requests (the seed's shape, one benchmark of an
  external provider, so nothing runs meanwhile), one after another; p50 and p99 of the time to
  the 202 answer (target: under 50 ms);
- **baseline**: the same server's ``runs/create`` latency (a plain write), for scale;
- **job completion**: a ``--benchmarks``-benchmark job from the submit to the job's terminal
  state (target: 10 benchmarks under 10 s), twice: with the test-only ``quick_test`` provider
  (tests/eval_quick.py, loaded through ``CAIRN_EVAL_PROVIDER_MODULES``: the engine's own cost)
  and with the ``cairn`` provider, each benchmark a real classification of a registered
  TF-IDF + LogisticRegression prompt classifier on the 250-row security-prompt table
  (cairn/evals/data/security_prompts.csv): model download, load, predict, metrics, artifacts;
- **tracking while jobs drain** (``--drain-jobs``, default 100): the shared harness's
  ``log_metric_single`` scenario (../shared/bench/tracking_bench.py) against the idle server,
  then again right after that many one-benchmark ``cairn``-provider jobs were queued (target:
  latency within 20 % of idle); how many jobs were still unfinished when it ended is printed
  beside it, so the figure is known to have been taken while they ran.

    python benchmarks/eval_bench.py
    python benchmarks/eval_bench.py --submits 500 --benchmarks 20 --drain-jobs 200
    python benchmarks/eval_bench.py --only-drain --rounds 3   # idle/draining pairs, median
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
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402

EV = "/api/v1/evaluations"
MAX_WAIT_S = 300.0
HARNESS = ROOT.parent / "shared" / "bench" / "tracking_bench.py"
PROMPTS = ROOT / "cairn" / "evals" / "data" / "security_prompts.csv"
MODEL = "eval_bench_classifier"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def submit_latency(client: httpx.Client, count: int) -> dict[str, Any]:
    body = {
        "model": {"server": "vllm", "name": "meta-llama/llama-3.1-8b",
                  "configuration": {"temperature": 0.1}},
        "benchmarks": [{"benchmark_id": "faithfulness", "provider_id": "ragas",
                        "config": {"dataset_path": "./data/test.jsonl"}}],
        "experiment": {"name": "submit-bench", "tags": {"environment": "bench"}},
    }  # fmt: skip
    client.post(EV, json=body).raise_for_status()  # warm up (the experiment exists after it)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.post(EV, json=body)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 202:
            raise SystemExit(f"submit answered {answer.status_code}: {answer.text[:300]}")
    return {
        "submits": count,
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
        "max_ms": round(max(times), 2),
    }


def baseline(client: httpx.Client, count: int) -> dict[str, Any]:
    """The same server's ``runs/create``, one after another: what a plain write costs here."""
    eid = client.post("/api/2.0/mlflow/experiments/create", json={"name": "baseline"}).json()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.post("/api/2.0/mlflow/runs/create", json=eid).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
    }


def quick_benchmarks(count: int) -> list[dict[str, Any]]:
    return [{"benchmark_id": "echo", "provider_id": "quick_test",
             "config": {"score": i / count}} for i in range(count)]  # fmt: skip


def cairn_benchmarks(count: int) -> list[dict[str, Any]]:
    return [{"benchmark_id": "classification", "provider_id": "cairn",
             "config": {"dataset_path": PROMPTS.name, "target": "label"}}] * count  # fmt: skip


def register_classifier(base: str) -> None:
    """The prompt classifier, logged and registered through Cairn's SDK (version 1)."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    import cairn

    frame = pd.read_csv(PROMPTS)
    model = Pipeline([
        ("text", ColumnTransformer([("tfidf", TfidfVectorizer(), "text")])),
        ("clf", LogisticRegression(max_iter=500)),
    ])  # fmt: skip
    model.fit(frame[["text"]], frame["label"])
    cairn.set_tracking_uri(base)
    cairn.set_experiment("eval-bench-models")
    with cairn.start_run(run_name="prompt-classifier"):
        cairn.log_model(model, "model", registered_model_name=MODEL)


def completion(
    client: httpx.Client, benchmarks: list[dict[str, Any]], model: str
) -> dict[str, Any]:
    body = {"model": {"name": model}, "benchmarks": benchmarks,
            "experiment": {"name": "completion-bench"}}  # fmt: skip
    started = time.perf_counter()
    answer = client.post(EV, json=body)
    answer.raise_for_status()
    job_id = answer.json()["id"]
    while True:
        job = client.get(f"{EV}/jobs/{job_id}").json()
        if job["state"] not in ("pending", "running"):
            break
        if time.perf_counter() - started > MAX_WAIT_S:
            raise SystemExit(f"the job did not end within {MAX_WAIT_S:.0f} s")
        time.sleep(0.02)
    return {
        "benchmarks": len(benchmarks),
        "state": job["state"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def harness_single(
    base: str, work: Path, label: str, pid: int, quick: bool = False
) -> dict[str, Any]:
    """The shared harness's log_metric_single scenario against ``base``: its two figures."""
    out = work / f"{label}.json"
    subprocess.run(
        [sys.executable, str(HARNESS), "--url", base, "--label", label, "--scenario",
         "log_metric_single", "--server-pid", str(pid), "--quiet", "--json-out", str(out),
         *(["--quick"] if quick else [])],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800,
    )  # fmt: skip
    found = json.loads(out.read_text())["scenarios"]["log_metric_single"]["metrics"]
    return {
        phase: {
            "requests_per_s": round(found[phase]["requests_per_s"], 1),
            "p50_ms": round(found[phase]["latency"]["p50_ms"], 3),
            "mean_ms": round(found[phase]["latency"]["mean_ms"], 3),
        }
        for phase in ("sequential", "concurrent")
    }


def unfinished(client: httpx.Client, experiment_id: str) -> int:
    """The experiment's jobs pending or running now (every page)."""
    count = 0
    for state in ("pending", "running"):
        params: dict[str, Any] = {"state": state, "max_results": 100,
                                  "experiment_id": experiment_id}  # fmt: skip
        for _ in range(1000):
            answer = client.get(f"{EV}/jobs", params=params)
            answer.raise_for_status()
            page = answer.json()
            count += len(page["jobs"])
            if not page.get("next_page_token"):
                break
            params["page_token"] = page["next_page_token"]
    return count


def drain(
    client: httpx.Client, base: str, work: Path, pid: int, jobs: int, model: str, quick: bool
) -> dict[str, Any]:
    """log_metric_single idle, then while ``jobs`` one-benchmark jobs drain."""
    idle = harness_single(base, work, "idle", pid, quick)
    body = {"model": {"name": model}, "benchmarks": cairn_benchmarks(1),
            "experiment": {"name": "drain-bench"}}  # fmt: skip
    experiment_id = ""
    for _ in range(jobs):
        answer = client.post(EV, json=body)
        answer.raise_for_status()
        experiment_id = str(answer.json()["experiment_id"])
    queued = unfinished(client, experiment_id)
    busy = harness_single(base, work, "draining", pid, quick)
    left = unfinished(client, experiment_id)
    started = time.perf_counter()
    while unfinished(client, experiment_id) and time.perf_counter() - started < MAX_WAIT_S:
        time.sleep(0.5)
    ratios = {
        phase: round(busy[phase]["mean_ms"] / idle[phase]["mean_ms"], 3)
        for phase in ("sequential", "concurrent")
    }
    return {"jobs": jobs, "unfinished_when_measuring_began": queued,
            "unfinished_when_measuring_ended": left, "idle": idle, "draining": busy,
            "mean_latency_draining_over_idle": ratios,
            "load_average": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def drain_rounds(
    client: httpx.Client, base: str, work: Path, pid: int, args: argparse.Namespace, model: str
) -> dict[str, Any]:
    """``--rounds`` idle/draining pairs back to back (a shared machine's load moves between
    them: each pair is compared within itself), and the median ratio of each phase."""
    rounds = [
        drain(client, base, work, pid, args.drain_jobs, model, args.quick)
        for _ in range(max(1, args.rounds))
    ]
    ratios = [r["mean_latency_draining_over_idle"] for r in rounds]
    return {
        "rounds": rounds,
        "median_draining_over_idle": {
            phase: round(statistics.median(r[phase] for r in ratios), 3)
            for phase in ("sequential", "concurrent")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--benchmarks", type=int, default=10)
    parser.add_argument("--drain-jobs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="the harness's tiny sizes (smoke)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="idle/draining pairs measured back to back"
    )
    parser.add_argument(
        "--only-drain", action="store_true", help="skip the submit and completion figures"
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="the server with --no-worker and one `cairn worker` process at nice 10 beside it "
        "(instead of the server's own worker thread)",
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env["CAIRN_EVAL_PROVIDER_MODULES"] = "tests.eval_quick"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="cairn-eval-bench-") as tmp:
        work = Path(tmp)
        env["CAIRN_HOME"] = str(work / "home")
        data = work / "eval-data"
        data.mkdir()
        shutil.copy(PROMPTS, data / PROMPTS.name)
        env["CAIRN_EVAL_DATA_ROOT"] = str(data)
        worker: subprocess.Popen[bytes] | None = None
        if args.worker_process:
            env["CAIRN_RUN_JOBS"] = "false"
        proc, base = start_cairn(work, str(work / "artifacts"), env)
        if args.worker_process:
            worker = subprocess.Popen(
                ["nice", "-n", "10", sys.executable, "-m", "cairn", "worker",
                 "--backend-store-uri", f"sqlite:///{work / 'cairn.db'}",
                 "--artifacts-destination", str(work / "artifacts")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            register_classifier(base)
            model = f"models:/{MODEL}/1"
            report: dict[str, Any] = {"load_average_at_start": list(os.getloadavg())}
            with httpx.Client(base_url=base, timeout=60) as client:
                if not args.only_drain:
                    report["runs_create_baseline"] = baseline(client, args.submits)
                    report["submit"] = submit_latency(client, args.submits)
                    report["completion_quick_test"] = completion(
                        client, quick_benchmarks(args.benchmarks), "bench-model"
                    )
                    report["completion_cairn"] = completion(
                        client, cairn_benchmarks(args.benchmarks), model
                    )
                report["tracking_while_draining"] = drain_rounds(
                    client, base, work, proc.pid, args, model
                )
        finally:
            if worker is not None:
                stop(worker)
            stop(proc)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
