"""Evaluations on a live `cairn server` (SQLite and PostgreSQL), run by the server's own job
engine, read back through the stock mlflow 3 client: the seed's three payloads and eval-hub's
shape (experiment naming with the prefix, tags, parent and nested runs, params, metrics,
artifacts), an external runner's report, the SSE stream read with httpx; a server killed with
SIGKILL mid-benchmark completes the job after its restart (the benchmark runs again, its run
and records are not doubled); two server processes on one PostgreSQL database never run the
same benchmark twice.

The live servers load the test-only provider ``quick_test`` (:mod:`tests.eval_quick`) through
``CAIRN_EVAL_PROVIDER_MODULES``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cairn.cli import main
from tests.compat.server import CairnServer, start_server
from tests.compat.test_stock_client import run_workflow_script
from tests.conftest import BACKENDS
from tests.databases import fresh_postgres_database

pytestmark = pytest.mark.compat
EV = "/api/v1/evaluations"
PREFIX = "live-evals"
QUICK = "quick_test"
SETTINGS = {
    "CAIRN_EVAL_PROVIDER_MODULES": "tests.eval_quick",
    "CAIRN_EVAL_EXPERIMENT_PREFIX": PREFIX,
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}
WAIT_S = 60.0
RESTART_WAIT_S = 180.0
"""After a SIGKILL the benchmark's lease (60 s) expires before the engine runs it again."""
TIMEOUT_S = 300


def _wait(what: str, probe: Callable[[], Any], seconds: float = WAIT_S) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s", pytrace=False)
        time.sleep(0.1)


@contextlib.contextmanager
def _server(backend: str, uri: str, workdir: Path, **env: str) -> Iterator[CairnServer]:
    runs = start_server(backend, uri, workdir, extra_env={**SETTINGS, **env})
    try:
        yield next(runs)
    finally:
        runs.close()


@contextlib.contextmanager
def _store(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'cairn.db'}"
    else:
        with fresh_postgres_database() as uri:
            yield uri


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _finished(client: httpx.Client, job_id: str, seconds: float = WAIT_S) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = _ok(client.get(f"{EV}/jobs/{job_id}"))
        return job if job["state"] not in ("pending", "running") else None

    found: dict[str, Any] = _wait(f"job {job_id} ending", probe, seconds)
    return found


def _read(server: CairnServer, experiment: str, cwd: Path) -> dict[str, Any]:
    out = run_workflow_script(
        server, "mlflow3", "_evaluations_read", cwd, TIMEOUT_S, {"EVAL_EXPERIMENT": experiment}
    )
    found: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return found


def _cli(server: CairnServer, *args: str) -> str:
    env = {"MLFLOW_TRACKING_URI": server.url, "CAIRN_TRACKING_URI": None,
           "MLFLOW_TRACKING_USERNAME": None, "MLFLOW_TRACKING_TOKEN": None}  # fmt: skip
    done = CliRunner().invoke(main, ["evals", *args], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.stdout


def _quick(item: dict[str, Any], **config: Any) -> dict[str, Any]:
    """An lm-eval benchmark of the seed's payloads, run by the quick provider instead."""
    return {**item, "benchmark_id": "echo", "provider_id": QUICK,
            "config": {**item.get("config", {}), **config}}  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_seed_payloads_read_back_with_the_stock_client(backend: str, tmp_path: Path) -> None:
    arc = {"benchmark_id": "arc_easy", "provider_id": "lm_evaluation_harness",
           "config": {"num_fewshot": 0}}  # fmt: skip
    single = {
        "model": {"server": "vllm", "name": "meta-llama/llama-3.1-8b",
                  "configuration": {"temperature": 0.1, "max_tokens": 512}},
        "benchmarks": [_quick(arc, score=0.42)],
        "experiment": {"name": "arc-easy-evaluation",
                       "tags": {"environment": "testing", "model_family": "llama-3.1"}},
    }  # fmt: skip
    multi = {
        "model": {"server": "vllm", "name": "meta-llama/llama-3.1-8b"},
        "benchmarks": [
            _quick(arc, score=0.5),
            {"benchmark_id": "faithfulness", "provider_id": "ragas",
             "config": {"dataset_path": "./data/test.jsonl"}},
        ],
        "experiment": {"name": "comprehensive-evaluation",
                       "tags": {"evaluation_type": "comprehensive", "model_version": "v1.0"}},
    }  # fmt: skip
    collection = {
        "model": {"server": "vllm", "name": "meta-llama/llama-3.1-8b"},
        "experiment": {"name": "healthcare-certification",
                       "tags": {"environment": "production", "compliance": "healthcare",
                                "certification_level": "grade-a"}},
    }  # fmt: skip
    hub = {
        "model": {"name": "my-model", "url": "http://127.0.0.1:9/v1"},
        "benchmarks": [{"id": "echo", "provider_id": QUICK, "parameters": {"score": 0.9},
                        "pass_criteria": {"threshold": 0.8}}],
        "experiment": {"name": "ci-eval-7", "tags": [{"key": "build_id", "value": "7"}]},
    }  # fmt: skip
    with (
        _store(backend, tmp_path) as uri,
        _server(backend, uri, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        _ok(client.post(f"{EV}/collections", json={
            "id": "healthcare-certification", "name": "Healthcare",
            "benchmarks": [_quick(arc, score=0.2), _quick(arc, score=0.4)]}), 201)  # fmt: skip
        jobs = {
            name: _ok(client.post(path, json=body), 202)
            for name, path, body in (
                ("single", EV, single), ("multi", EV, multi),
                ("collection", EV, collection), ("hub", f"{EV}/jobs", hub),
            )
        }  # fmt: skip
        # the SSE stream of the single benchmark, read with httpx until the job ends
        states = []
        with client.stream("GET", f"{EV}/jobs/{jobs['single']['id']}/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    states.append(json.loads(line[6:])["state"])
                if len(states) > 1000:
                    break
        assert states[-1] == "completed"
        # the RAGAS benchmark's runner reports its result file
        runner = {"Authorization": f"Bearer {jobs['multi']['runner_token']}"}
        ragas = base64.b64encode(b'{"faithfulness": 0.8}').decode()
        _ok(client.post(f"{EV}/jobs/{jobs['multi']['id']}/events", headers=runner, json={
            "benchmark_id": "faithfulness", "state": "completed", "logs": ["scored"],
            "result_file": {"name": "ragas.json", "content_base64": ragas}}))  # fmt: skip
        done = {name: _finished(client, job["id"]) for name, job in jobs.items()}
        assert {name: job["state"] for name, job in done.items()} == dict.fromkeys(
            done, "completed"
        )
        assert done["multi"]["overall_score"] == pytest.approx(0.65)
        assert done["collection"]["overall_score"] == pytest.approx(0.3)
        assert done["hub"]["passed"] is True

        seen = _read(server, f"{PREFIX}_arc-easy-evaluation", tmp_path)
        assert seen["tags"]["environment"] == "testing"
        assert seen["tags"]["model_name"] == "meta-llama/llama-3.1-8b"
        assert seen["tags"]["model_server"] == "vllm"
        assert seen["tags"]["job_id"] == jobs["single"]["id"]
        assert "arc_easy" not in seen["tags"]["mlflow.note.content"]  # the quick benchmark
        assert "echo" in seen["tags"]["mlflow.note.content"]
        runs = {r["run_id"]: r for r in seen["runs"]}
        parent = runs[done["single"]["parent_run_id"]]
        child = runs[done["single"]["benchmarks"][0]["run_id"]]
        assert len(runs) == 2
        assert parent["name"] == f"eval-{jobs['single']['id']}"
        assert parent["parent"] is None
        assert parent["status"] == "FINISHED"
        assert parent["tags"]["cairn.eval.role"] == "request"
        assert parent["tags"]["model_family"] == "llama-3.1"
        assert parent["params"]["model.temperature"] == "0.1"
        assert parent["params"]["model.max_tokens"] == "512"
        assert parent["params"]["benchmarks"] == "echo"
        assert parent["metrics"] == {"overall_score": pytest.approx(0.42)}
        assert {"request.json", "logs/job.log"} <= set(parent["artifacts"])
        assert json.loads(parent["texts"]["request.json"])["experiment"]["name"] == (
            "arc-easy-evaluation"
        )
        assert child["parent"] == parent["run_id"]
        assert child["name"] == "echo"
        assert child["status"] == "FINISHED"
        assert child["tags"]["cairn.eval.benchmark_id"] == "echo"
        assert child["tags"]["cairn.eval.provider_id"] == QUICK
        assert child["params"]["config.num_fewshot"] == "0"
        assert child["metrics"] == pytest.approx(
            {"acc": 0.42, "acc_stderr": 0.01, "exact_match_strict-match": 0.42, "score": 0.42}
        )
        assert all(steps == [0] for steps in child["steps"].values())
        assert child["artifacts"] == ["logs/benchmark.log", "results.json", "samples.jsonl"]
        assert json.loads(child["texts"]["results.json"])["results"]["echo"]["score"] == 0.42

        multi_seen = _read(server, f"{PREFIX}_comprehensive-evaluation", tmp_path)
        by_name = {r["name"]: r for r in multi_seen["runs"]}
        assert set(by_name) == {f"eval-{jobs['multi']['id']}", "echo", "faithfulness"}
        assert by_name["faithfulness"]["metrics"] == {"faithfulness": pytest.approx(0.8)}
        assert by_name["faithfulness"]["tags"]["cairn.eval.provider_id"] == "ragas"
        assert "ragas.json" in by_name["faithfulness"]["artifacts"]
        assert multi_seen["tags"]["evaluation_type"] == "comprehensive"

        # the same jobs through `cairn evals`
        listed = json.loads(_cli(server, "list", "--state", "completed"))
        assert {j["id"] for j in listed} == {j["id"] for j in jobs.values()}
        shown = json.loads(_cli(server, "show", "--wait", jobs["single"]["id"]))
        assert shown["state"] == "completed"
        log_text = _cli(server, "logs", jobs["multi"]["id"])
        assert "[1] scored" in log_text
        assert log_text.strip().endswith("job completed")
        request_file = tmp_path / "request.json"
        request_file.write_text(json.dumps(hub), encoding="utf-8")
        made = json.loads(_cli(server, "submit", "--evalhub", str(request_file)))
        assert made["shape"] == "evalhub"
        assert "Deleted" in _cli(server, "cancel", "--hard-delete", made["id"])
        assert client.get(f"{EV}/jobs/{made['id']}").status_code == 404

        coll_seen = _read(server, f"{PREFIX}_healthcare-certification", tmp_path)
        assert len(coll_seen["runs"]) == 3
        assert coll_seen["tags"]["certification_level"] == "grade-a"
        hub_seen = _read(server, f"{PREFIX}_ci-eval-7", tmp_path)
        hub_parent = next(
            r for r in hub_seen["runs"] if r["run_id"] == done["hub"]["parent_run_id"]
        )
        assert hub_parent["metrics"] == {"overall_score": pytest.approx(0.9), "passed": 1.0}
        assert hub_parent["tags"]["build_id"] == "7"


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (an exited process nobody has reaped yet counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_a_server_killed_mid_benchmark_completes_the_job_after_restart(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'cairn.db'}"
    marker, pid_file = tmp_path / "attempts.txt", tmp_path / "child.pid"
    body = {"model": {"name": "m"}, "experiment": {"name": "crash"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK,
                            "config": {"sleep": 6, "score": 0.7, "marker": str(marker),
                                       "pid_file": str(pid_file)}}]}  # fmt: skip
    with (
        _server("sqlite", uri, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        job = _ok(client.post(EV, json=body), 202)
        _wait("the benchmark starting", lambda: marker.exists() and marker.read_text())
        pid = int(_wait("the child's pid", lambda: pid_file.exists() and pid_file.read_text()))
        assert pid != server.process.pid  # the benchmark runs in the evaluation process
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        # the orphaned evaluation process notices its worker is gone and ends
        _wait("the evaluation process ending", lambda: not _alive(pid))
    with (
        _server("sqlite", uri, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        stuck = _ok(client.get(f"{EV}/jobs/{job['id']}"))
        assert stuck["state"] == "running"  # until the dead worker's lease expires
        done = _finished(client, job["id"], RESTART_WAIT_S)
        assert done["state"] == "completed", done
        assert done["benchmarks"][0]["primary_score"] == pytest.approx(0.7)
        assert len(marker.read_text().splitlines()) == 2  # it ran again, once
        seen = _read(server, f"{PREFIX}_crash", tmp_path)
        assert len(seen["runs"]) == 2  # the re-run reused the benchmark's run
        child = next(r for r in seen["runs"] if r["parent"])
        assert child["status"] == "FINISHED"
        assert all(steps == [0] for steps in child["steps"].values())  # one point each
        logs = _ok(client.get(f"{EV}/jobs/{job['id']}/logs"))["lines"]
        assert sum("evaluating m on echo" in x["line"] for x in logs) == 1  # started afresh


@pytest.mark.postgres
def test_two_servers_on_one_database_never_run_a_benchmark_twice(tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    body = {"model": {"name": "m"}, "experiment": {"name": "two-workers"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK,
                            "config": {"sleep": 0.5, "score": i / 10, "marker": str(marker)}}
                           for i in range(8)]}  # fmt: skip
    with (
        fresh_postgres_database() as uri,
        _server("postgres", uri, tmp_path / "one") as first,
        _server("postgres", uri, tmp_path / "two") as second,
        httpx.Client(base_url=first.url, timeout=30) as client,
        httpx.Client(base_url=second.url, timeout=30) as other,
    ):
        jobs = [_ok(client.post(EV, json=body), 202)["id"] for _ in range(2)]
        jobs.append(_ok(other.post(EV, json=body), 202)["id"])
        for job_id in jobs:
            assert _finished(client, job_id, 120)["state"] == "completed"
        ran = marker.read_text().splitlines()
        assert len(ran) == len(set(ran)) == 24, ran
