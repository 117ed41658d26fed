"""In-Cairn providers run in a child process (cairn/evals/child.py): at the lowest priority,
killed by its PID on cancel and on timeout, and a child that dies fails its benchmark with a
message, never leaves it running. The test plays the engine (a server without its worker)
and calls the benchmark handler itself; the provider is the test-only ``quick_test``."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.evals import child
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.evaluations import EvaluationService
from tests import eval_quick
from tests.api import root_app

EV = "/api/v1/evaluations"
WAIT_S = 120.0
"""Generous: at SCHED_IDLE a child on a machine busy with other work starts slowly."""


@pytest.fixture
def quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "home"))
    eval_quick.register()
    child.stop_child()  # a child another test left on this thread would be reused
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'child.db'}",
        artifacts_destination=str(tmp_path / "art"),
        run_jobs=False,
    )
    try:
        with TestClient(create_app(settings)) as client:
            yield client
    finally:
        child.stop_child()  # this thread's child, if a test left one
        eval_quick.unregister()


def service_of(client: TestClient) -> EvaluationService:
    found: EvaluationService = root_app(client.app).state.evaluations
    return found


def submit(client: TestClient, *configs: dict[str, Any]) -> str:
    body = {"model": {"name": "m"}, "experiment": {"name": "child"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": eval_quick.ID, "config": c}
                           for c in configs]}  # fmt: skip
    answer = client.post(EV, json=body)
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["id"]
    return job_id


def job(client: TestClient, job_id: str) -> dict[str, Any]:
    answer = client.get(f"{EV}/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT_S:.0f} s", pytrace=False)
        time.sleep(0.05)


def never() -> bool:
    return False


def test_a_benchmark_runs_in_a_child_at_the_lowest_priority_reused_for_the_next(
    quiet: TestClient, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    job_id = submit(quiet, {"score": 0.4, "pid_file": str(pid_file)}, {"pid_file": str(pid_file)})
    service = service_of(quiet)
    assert service.run_benchmark(job_id, 0, never) == {"state": "completed"}
    pid = int(pid_file.read_text())
    assert pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, pid) == child.CHILD_NICENESS
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    assert service.run_benchmark(job_id, 1, never) == {"state": "completed"}
    assert int(pid_file.read_text()) == pid  # imports are paid once per worker thread
    done = job(quiet, job_id)
    assert done["state"] == "completed"
    assert done["benchmarks"][0]["results"]["score"] == pytest.approx(0.4)
    logs = quiet.get(f"{EV}/jobs/{job_id}/logs").text
    assert f"started the evaluation process (pid {pid})" in logs
    # what the provider logged in the child reached the job's log through the worker
    assert "evaluating m on echo" in logs


def test_a_child_that_dies_fails_its_benchmark_with_a_message(
    quiet: TestClient, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    job_id = submit(quiet, {"crash": True, "pid_file": str(pid_file)}, {"score": 0.9})
    service = service_of(quiet)
    assert service.run_benchmark(job_id, 0, never) == {"state": "failed"}
    dead = int(pid_file.read_text())
    assert not alive(dead)
    bench = job(quiet, job_id)["benchmarks"][0]
    assert bench["state"] == "failed"
    assert (
        f"the evaluation process (pid {dead}) was killed by signal 9 (SIGKILL)" in (bench["error"])
    )
    assert "quick_test: about to crash" in bench["error"]  # its last stderr lines
    # the next benchmark gets a new child and completes
    assert service.run_benchmark(job_id, 1, never) == {"state": "completed"}
    done = job(quiet, job_id)
    assert done["state"] == "partially_failed"
    run = quiet.get("/api/2.0/mlflow/runs/get", params={"run_id": bench["run_id"]}).json()
    assert run["run"]["info"]["status"] == "FAILED"


def test_cancel_kills_the_child(quiet: TestClient, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    job_id = submit(quiet, {"sleep": 60, "pid_file": str(pid_file)})
    service = service_of(quiet)
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def handler() -> None:
        outcome.update(service.run_benchmark(job_id, 0, cancel.is_set))

    thread = threading.Thread(target=handler, daemon=True)
    thread.start()
    pid = int(wait_for("the child starting the benchmark", lambda: pid_file.exists()
                       and pid_file.read_text()))  # fmt: skip
    assert alive(pid)
    started = time.monotonic()
    cancel.set()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert time.monotonic() - started < 40  # not the 60 s the benchmark would have slept
    assert outcome == {"state": "cancelled"}
    assert not alive(pid)
    assert job(quiet, job_id)["benchmarks"][0]["state"] == "cancelled"
    child.stop_child()


def test_a_benchmark_past_its_timeout_is_stopped_and_failed(
    quiet: TestClient, tmp_path: Path
) -> None:
    job_id = submit(quiet, {"score": 0.1}, {"sleep": 60, "timeout_seconds": 3})
    service = service_of(quiet)
    assert service.run_benchmark(job_id, 0, never) == {"state": "completed"}  # a warm child
    started = time.monotonic()
    assert service.run_benchmark(job_id, 1, never) == {"state": "failed"}
    assert time.monotonic() - started < 40  # not the 60 s it would have slept
    logs = quiet.get(f"{EV}/jobs/{job_id}/logs").json()["lines"]
    found = [x["line"] for x in logs if x["line"].endswith(") runs the benchmark")]
    pid = int(found[-1].split("(pid ")[1].split(")")[0])
    assert not alive(pid)
    bench = job(quiet, job_id)["benchmarks"][1]
    assert "did not finish within 3 s (config.timeout_seconds)" in bench["error"]


@pytest.mark.parametrize("value", [0, -3, "soon", True, 10**9])
def test_a_bad_timeout_is_a_400_naming_the_field(quiet: TestClient, value: Any) -> None:
    body = {"model": {"name": "m"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": eval_quick.ID,
                            "config": {"timeout_seconds": value}}]}  # fmt: skip
    answer = quiet.post(EV, json=body)
    assert answer.status_code == 400, answer.text
    assert "benchmarks[0]" in answer.json()["message"]
    assert "config.timeout_seconds" in answer.json()["message"]


def test_the_default_timeout_comes_from_the_environment() -> None:
    assert child.timeout_seconds({}, {}) == child.DEFAULT_TIMEOUT_S
    assert child.timeout_seconds({}, {child.TIMEOUT_VARIABLE: "90"}) == 90.0
    assert child.timeout_seconds({"timeout_seconds": 5}, {child.TIMEOUT_VARIABLE: "90"}) == 5.0
    assert child.timeout_seconds({}, {child.TIMEOUT_VARIABLE: "never"}) == child.DEFAULT_TIMEOUT_S


# ------------------------------------------------------------------- external runners
def test_an_external_benchmark_without_a_report_in_time_fails(quiet: TestClient) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "runner"},
            "benchmarks": [{"benchmark_id": "b", "provider_id": "external",
                            "config": {"timeout_seconds": 1}},
                           {"benchmark_id": "c", "provider_id": "external"}]}  # fmt: skip
    answer = quiet.post(EV, json=body)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    service = service_of(quiet)
    assert service.reconcile() == []  # within its time
    time.sleep(1.2)
    assert service.reconcile() == [job_id]
    found = job(quiet, job_id)
    first, second = found["benchmarks"]
    assert first["state"] == "failed"
    assert (
        "did not report this benchmark's end within 1 s (config.timeout_seconds" in (first["error"])
    )
    assert second["state"] == "pending"  # the default limit (a day) has not passed
    assert service.reconcile() == []


def test_a_bad_external_timeout_is_a_400_naming_the_field(quiet: TestClient) -> None:
    body = {"model": {"name": "m"},
            "benchmarks": [{"benchmark_id": "b", "provider_id": "external",
                            "config": {"timeout_seconds": "later"}}]}  # fmt: skip
    answer = quiet.post(EV, json=body)
    assert answer.status_code == 400, answer.text
    assert "benchmarks[0]: config.timeout_seconds" in answer.json()["message"]
