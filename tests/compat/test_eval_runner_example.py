"""examples/eval_runner/runner.py against a live ``cairn server``: a job with ``external``
benchmarks is submitted, the example runner (a separate process speaking only HTTP with the
job's runner token) scores a JSONL file, runs lm-eval's dummy model on a local task, fails on a
missing file, and everything it reported is read back through MLflow's REST API."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.server import REPO, CairnServer, start_server
from tests.conftest import BACKENDS
from tests.databases import fresh_postgres_database

pytestmark = pytest.mark.compat

RUNNER = REPO / "examples" / "eval_runner" / "runner.py"
RUNNER_TIMEOUT_S = 300
ADMIN, ADMIN_PASSWORD = "admin", "the admin's long password for the runner test"


@contextlib.contextmanager
def _server(backend: str, workdir: Path) -> Iterator[CairnServer]:
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            uri = f"sqlite:///{workdir / 'cairn.db'}"
        else:
            uri = stack.enter_context(fresh_postgres_database())
        env = {"CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": ADMIN_PASSWORD}
        runs = start_server(backend, uri, workdir, ["--auth"], env)
        try:
            yield next(runs)
        finally:
            runs.close()


def _data(folder: Path) -> None:
    answers = [
        {"prediction": "Paris", "reference": "paris"},
        {"prediction": "4", "reference": "4"},
        {"prediction": "blue whale", "reference": "the blue whale"},
        {"prediction": "H2O", "reference": "h2o"},
    ]
    folder.mkdir(parents=True)
    (folder / "answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    tasks = folder / "tasks"
    tasks.mkdir()
    rows = [
        {"question": f"{i} + {i}?", "choices": [str(2 * i), str(2 * i + 1)], "answer": 0}
        for i in range(8)
    ]
    (tasks / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tasks / "tiny.yaml").write_text(
        "task: runner_tiny\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {tasks / 'tiny.jsonl'}\n"
        "test_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "{{question}}"\ndoc_to_choice: "{{choices}}"\ndoc_to_target: answer\n'
        "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
        "metadata:\n  version: 1.0\n"
    )


REQUEST: dict[str, Any] = {
    "model": {"server": "vllm", "name": "runner-test-model"},
    "benchmarks": [
        {
            "benchmark_id": "qa_exact",
            "provider_id": "external",
            "config": {"runner": "jsonl_score", "dataset_path": "answers.jsonl"},
        },
        {
            "benchmark_id": "runner_tiny",
            "provider_id": "external",
            "config": {"runner": "lm_eval", "model": "dummy", "task_yaml": "tasks/tiny.yaml"},
        },
        {
            "benchmark_id": "qa_missing",
            "provider_id": "external",
            "config": {"runner": "jsonl_score", "dataset_path": "missing.jsonl"},
        },
    ],
    "experiment": {"name": "runner-example", "tags": {"source": "runner-test"}},
}


def _artifacts(http: httpx.Client, run_id: str, path: str = "") -> set[str]:
    answer = http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": path})
    assert answer.status_code == 200, answer.text
    found: set[str] = set()
    for entry in answer.json().get("files", []):
        if entry.get("is_dir"):
            found |= _artifacts(http, run_id, entry["path"])
        else:
            found.add(entry["path"])
    return found


def _run(http: httpx.Client, run_id: str) -> dict[str, Any]:
    answer = http.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert answer.status_code == 200, answer.text
    run = answer.json()["run"]
    data = run.get("data", {})
    return {
        "status": run["info"]["status"],
        "metrics": {m["key"]: m["value"] for m in data.get("metrics", [])},
        "params": {p["key"]: p["value"] for p in data.get("params", [])},
        "tags": {t["key"]: t["value"] for t in data.get("tags", [])},
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_example_runner_reports_external_benchmarks(backend: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _data(data)
    with (
        _server(backend, tmp_path / "server") as server,
        httpx.Client(base_url=server.url, timeout=60, auth=(ADMIN, ADMIN_PASSWORD)) as http,
    ):
        submitted = http.post("/api/v1/evaluations", json=REQUEST)
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        token = job["runner_token"]
        assert [b["state"] for b in job["benchmarks"]] == ["pending"] * 3

        # the server requires users: the runner token is what lets the runner in
        url = f"{server.url}/api/v1/evaluations/jobs/{job['id']}"
        refused = httpx.get(url, headers={"Authorization": "Bearer not-the-token"})
        assert refused.status_code in (401, 403), refused.text
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
        env["CAIRN_EVAL_RUNNER_TOKEN"] = token  # the token from the environment, as in a Job
        env["HF_HOME"] = str(tmp_path / "hf-home")
        ran = subprocess.run(
            [sys.executable, str(RUNNER), "--server", server.url, "--job", job["id"],
             "--data-dir", str(data), "--workdir", str(tmp_path / "runner")],
            env=env, capture_output=True, text=True, timeout=RUNNER_TIMEOUT_S, check=False,
        )  # fmt: skip
        output = ran.stdout[-4000:] + ran.stderr[-4000:]
        assert ran.returncode == 1, output  # one benchmark failed, the others completed
        assert "runner on " in output

        final = http.get(f"/api/v1/evaluations/jobs/{job['id']}").json()
        assert final["state"] == "partially_failed", final
        exact, tiny, missing = final["benchmarks"]
        assert exact["state"] == "completed"
        assert exact["results"]["exact_match"] == 0.75
        assert exact["results"]["n_examples"] == 4.0
        assert tiny["state"] == "completed"
        assert 0.0 <= tiny["results"]["acc"] <= 1.0
        assert missing["state"] == "failed"
        assert "missing.jsonl" in missing["error"]

        run = _run(http, exact["run_id"])
        assert run["status"] == "FINISHED"
        assert run["metrics"]["exact_match"] == 0.75
        assert run["metrics"]["f1"] == pytest.approx((1 + 1 + 0.8 + 1) / 4)
        assert run["params"]["dataset_path"] == "answers.jsonl"
        assert {"results.json", "scores.jsonl"} <= _artifacts(http, exact["run_id"])

        run = _run(http, tiny["run_id"])
        assert run["status"] == "FINISHED"
        assert run["metrics"]["acc"] == tiny["results"]["acc"]
        assert run["params"]["lm_eval_version"] == "0.4.13"
        assert "results.json" in _artifacts(http, tiny["run_id"])

        run = _run(http, missing["run_id"])
        assert run["status"] == "FAILED"
        assert "missing.jsonl" in run["tags"]["cairn.eval.error"]

        logs = http.get(f"/api/v1/evaluations/jobs/{job['id']}/logs").json()["lines"]
        assert any("lm-eval finished" in line["line"] for line in logs)

        _a_cancelled_job_stops_the_runner(http, server.url, data, env, tmp_path)


def _a_cancelled_job_stops_the_runner(
    http: httpx.Client, url: str, data: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """DELETE on the job while the runner runs lm-eval: the runner sees it in its next report,
    stops lm-eval's process group and exits 1."""
    body = {
        "model": {"name": "runner-test-model"},
        "benchmarks": [REQUEST["benchmarks"][1]],
        "experiment": {"name": "runner-cancel"},
    }
    submitted = http.post("/api/v1/evaluations", json=body)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    env = dict(env, CAIRN_EVAL_RUNNER_TOKEN=job["runner_token"])
    log = tmp_path / "cancel-runner.log"
    with log.open("wb") as out:
        runner = subprocess.Popen(
            [sys.executable, str(RUNNER), "--server", url, "--job", job["id"],
             "--data-dir", str(data), "--workdir", str(tmp_path / "cancel-runner")],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "lm-eval started (pid " not in log.read_text():
            assert runner.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the runner did not start lm-eval in 60 s"
            time.sleep(0.1)
        cancelled = http.delete(f"/api/v1/evaluations/jobs/{job['id']}")
        assert cancelled.status_code == 200, cancelled.text
        assert runner.wait(timeout=60) == 1, log.read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(timeout=10)
    output = log.read_text()
    assert "was cancelled: stopping" in output
    pid = int(output.split("lm-eval started (pid ")[1].split(")")[0])
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert http.get(f"/api/v1/evaluations/jobs/{job['id']}").json()["state"] == "cancelled"
