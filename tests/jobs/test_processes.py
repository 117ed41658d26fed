"""Jobs across processes: two `cairn worker` processes never run one job twice, and a
`cairn server` killed with SIGKILL while jobs are pending runs them after its restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection

from cairn.entities.jobs import JobState
from cairn.jobs.engine import JobEngine
from cairn.jobs.queue import JobQueue
from cairn.store import jobs as job_store
from cairn.store.db import Database
from cairn.store.sql import now_ms
from tests.client.servers import free_port, server_on
from tests.compat.server import _server_env, _stop
from tests.jobs.conftest import Setup, wait_for


def _states(db: Database, ids: list[int]) -> list[JobState]:
    return db.read(lambda c: [job_store.get(c, i).state for i in ids])  # type: ignore[union-attr]


def _all(db: Database, ids: list[int], state: JobState) -> bool:
    return all(s == state for s in _states(db, ids))


@contextmanager
def worker_process(store_uri: str, queue_uri: str, workdir: Path) -> Iterator[None]:
    command = [
        sys.executable, "-m", "cairn", "worker", "--backend-store-uri", store_uri,
        "--queue-uri", queue_uri, "--threads", "2",
    ]  # fmt: skip
    log_path = workdir / f"worker-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=_server_env(workdir / "home"), stdout=log, stderr=log
        )
    try:
        yield
    finally:
        _stop(process)
        assert process.returncode == 0, log_path.read_text()


@pytest.mark.parametrize("which", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_worker_processes_never_run_one_job_twice(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    setup: Setup = request.getfixturevalue(f"{which}_setup")
    producer = setup.engine(start=False)
    producer.start(work=False)  # only hands ids to the queue, as a --no-worker server
    ids = setup.db.write(
        lambda c: [job_store.enqueue(c, "jobs.noop", {"sleep": 0.02}) for _ in range(120)]
    )
    producer.queue.close()
    with worker_process(setup.store_uri, setup.queue_uri, tmp_path):
        with worker_process(setup.store_uri, setup.queue_uri, tmp_path):
            wait_for(lambda: _all(setup.db, ids, JobState.SUCCEEDED), 120, "120 jobs")
    jobs = setup.db.read(lambda c: [job_store.get(c, i) for i in ids])
    assert all(job is not None and job.attempts == 1 for job in jobs)
    workers = {job.result["worker"] for job in jobs if job is not None and job.result}
    assert 1 <= len(workers) <= 2


def test_pending_jobs_survive_kill_9_of_the_server(tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 'cairn.db'}"
    port = free_port()
    with server_on(port, tmp_path) as url:
        assert url
        db = Database(store_uri)
        db.start()
        try:
            # handed to the server's queue, due in a few seconds
            producer = JobEngine(db, JobQueue(f"sqlite:///{tmp_path / 'cairn.queue.db'}"))
            producer.start(work=False)
            later = now_ms() + 4000
            handed = db.write(
                lambda c: (
                    [job_store.enqueue(c, "jobs.noop", {}, run_after=later)] * 1
                    + [job_store.enqueue(c, "jobs.noop", {}, run_after=later) for _ in range(19)]
                )
            )
            producer.stop()
            # committed, but their queue message never sent (a crash right after the commit)
            lost = db.write(lambda c: _noops(c, 5))
            server_pid = _server_pid(port)
            os.kill(server_pid, signal.SIGKILL)
            assert _all(db, handed + lost, JobState.PENDING)
        finally:
            db.close()
    with server_on(port, tmp_path):
        db = Database(store_uri)
        db.start()
        try:
            wait_for(lambda: _all(db, handed + lost, JobState.SUCCEEDED), 90, "the 25 jobs")
        finally:
            db.close()


def _noops(conn: Connection, n: int, run_after: int | None = None) -> list[int]:
    return [job_store.enqueue(conn, "jobs.noop", {}, run_after=run_after) for _ in range(n)]


def _server_pid(port: int) -> int:
    """The PID of the `cairn server` we started on ``port`` (listening there)."""
    found = subprocess.run(
        ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    marker = "pid="
    start = found.index(marker) + len(marker)
    return int(found[start : found.index(",", start)])
