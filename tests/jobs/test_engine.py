"""The engine on every store and queue: jobs run, retries and backoff, RetryLater, failure
after the attempt limit, cancellation (pending and running), leases and the reaper, lost
queue messages and the sweeper."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from cairn.entities.errors import CairnError
from cairn.entities.jobs import JobState
from cairn.jobs.registry import JobContext, RetryLater, job_kind
from cairn.store import jobs as job_store
from cairn.store.sql import now_ms
from tests.jobs.conftest import Setup, wait_for


def _job(setup: Setup, job_id: int) -> Any:
    return setup.db.read(lambda c: job_store.get(c, job_id))


def _state(setup: Setup, job_id: int, state: JobState) -> bool:
    return bool(_job(setup, job_id).state == state)


def test_jobs_run_once_with_their_result(setup: Setup, kind_name: str) -> None:
    runs: list[int] = []

    @job_kind(kind_name)
    def handler(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        runs.append(payload["n"])
        return {"double": payload["n"] * 2}

    setup.engine(workers=2)
    ids = setup.db.write(lambda c: [job_store.enqueue(c, kind_name, {"n": n}) for n in range(50)])
    wait_for(lambda: all(_state(setup, i, JobState.SUCCEEDED) for i in ids), what="50 jobs")
    assert sorted(runs) == list(range(50))
    job = _job(setup, ids[7])
    assert job.result == {"double": 14}
    assert job.attempts == 1
    assert job.lease_owner is None
    assert job.finished_at is not None


def test_a_job_exists_only_if_its_cause_committed(setup: Setup, kind_name: str) -> None:
    class Boom(Exception):
        pass

    def cause(conn: Any) -> None:
        job_store.enqueue(conn, kind_name, {"n": 1})
        raise Boom

    with pytest.raises(Boom):
        setup.db.write(cause)
    assert setup.db.read(lambda c: c.execute(text("SELECT count(*) FROM jobs")).scalar()) == 0


def test_a_key_deduplicates_unfinished_jobs(setup: Setup, kind_name: str) -> None:
    first = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}, key="k1"))
    again = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {"x": 1}, key="k1"))
    other = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}, key="k2"))
    assert first == again != other

    @job_kind(kind_name)
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        return None

    setup.engine()
    wait_for(lambda: _state(setup, first, JobState.SUCCEEDED), what="the keyed job")
    later = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}, key="k1"))
    assert later != first  # finished: the key is free again


def test_exceptions_retry_with_backoff_then_succeed(setup: Setup, kind_name: str) -> None:
    @job_kind(kind_name, max_attempts=3)
    def flaky(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        if ctx.attempt < 2:
            raise ValueError(f"attempt {ctx.attempt} fails")
        return {"attempt": ctx.attempt}

    setup.engine()
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    wait_for(lambda: _job(setup, job_id).attempts >= 1, what="the first attempt")
    wait_for(lambda: _job(setup, job_id).error is not None, what="the first failure")
    first = _job(setup, job_id)
    if first.state == JobState.PENDING:  # between attempts: a backoff of about 2 s
        assert first.run_after > first.updated_at
        assert "ValueError: attempt 1 fails" in (first.error or "")
    wait_for(lambda: _state(setup, job_id, JobState.SUCCEEDED), what="the retry")
    done = _job(setup, job_id)
    assert done.attempts == 2
    assert done.result == {"attempt": 2}
    assert done.error is None


def test_failed_after_max_attempts_with_the_error(setup: Setup, kind_name: str) -> None:
    @job_kind(kind_name, max_attempts=2)
    def broken(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise RuntimeError(f"broken on attempt {ctx.attempt}")

    setup.engine()
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    wait_for(lambda: _state(setup, job_id, JobState.FAILED), what="failure")
    job = _job(setup, job_id)
    assert job.attempts == 2
    assert job.error == "RuntimeError: broken on attempt 2"
    # an explicit limit wins over the kind's
    one = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}, max_attempts=1))
    wait_for(lambda: _state(setup, one, JobState.FAILED), what="failure after one attempt")
    assert _job(setup, one).attempts == 1


def test_retry_later_requeues_after_its_delay(setup: Setup, kind_name: str) -> None:
    @job_kind(kind_name, max_attempts=5)
    def waits(ctx: JobContext, payload: dict[str, Any]) -> dict[str, int]:
        if ctx.attempt == 1:
            raise RetryLater(0.2, "not yet")
        return {"attempt": ctx.attempt}

    setup.engine()
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    wait_for(lambda: _state(setup, job_id, JobState.SUCCEEDED), what="the second attempt")
    assert _job(setup, job_id).attempts == 2


def test_cancel_a_pending_job(setup: Setup, kind_name: str) -> None:
    ran = threading.Event()

    @job_kind(kind_name)
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        ran.set()

    setup.engine()
    later = now_ms() + 3_600_000
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}, run_after=later))
    job = setup.db.write(lambda c: job_store.cancel(c, job_id))
    assert job.state == JobState.CANCELLED
    # a claim of a cancelled job fails, whatever the queue delivers
    assert setup.db.write(lambda c: job_store.claim(c, job_id, "someone", 1000)) is None
    with pytest.raises(CairnError) as err:
        setup.db.write(lambda c: job_store.cancel(c, job_id))
    assert err.value.error_code == "INVALID_STATE"
    assert not ran.is_set()


def test_cancel_a_running_job(setup: Setup, kind_name: str) -> None:
    started = threading.Event()

    @job_kind(kind_name)
    def long_job(ctx: JobContext, payload: dict[str, Any]) -> dict[str, str]:
        started.set()
        for _ in range(3000):  # at most 60 s
            if ctx.cancelled():
                return {"stopped": "cancelled"}
            threading.Event().wait(0.02)
        return {"stopped": "never cancelled"}

    setup.engine(lease_seconds=3)
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    assert started.wait(60)
    job = setup.db.write(lambda c: job_store.cancel(c, job_id))
    assert job.state == JobState.RUNNING
    assert job.cancel_requested
    wait_for(lambda: _state(setup, job_id, JobState.CANCELLED), what="the cancel")
    assert _job(setup, job_id).result == {"stopped": "cancelled"}


def test_retry_a_failed_job(setup: Setup, kind_name: str) -> None:
    calls: list[int] = []

    @job_kind(kind_name, max_attempts=1)
    def once_broken(ctx: JobContext, payload: dict[str, Any]) -> None:
        calls.append(ctx.attempt)
        if len(calls) == 1:
            raise RuntimeError("first time")

    setup.engine()
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    wait_for(lambda: _state(setup, job_id, JobState.FAILED), what="failure")
    with pytest.raises(CairnError):  # only failed or cancelled jobs are retried
        setup.db.write(lambda c: job_store.retry(c, job_store.enqueue(c, kind_name, {})))
    job = setup.db.write(lambda c: job_store.retry(c, job_id))
    assert job.state == JobState.PENDING
    assert job.attempts == 0
    wait_for(lambda: _state(setup, job_id, JobState.SUCCEEDED), what="the retried job")


def test_an_expired_lease_is_reaped_and_run_again(setup: Setup, kind_name: str) -> None:
    results: list[str] = []

    @job_kind(kind_name, max_attempts=3)
    def handler(ctx: JobContext, payload: dict[str, Any]) -> dict[str, str]:
        results.append(ctx.worker)
        return {"by": ctx.worker}

    engine = setup.engine(start=False)
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    # a worker that died: it claimed the job with a lease that has run out
    dead = setup.db.write(lambda c: job_store.claim(c, job_id, "dead-worker", 1))
    assert dead is not None
    assert dead.attempts == 1
    wait_for(lambda: now_ms() > (dead.lease_expires or 0), what="the lease to expire")
    # its late finish no longer counts once the lease is gone to someone else
    requeued, failed = engine.reap()
    assert requeued == [job_id]
    assert failed == []
    assert not setup.db.write(lambda c: job_store.finish(c, job_id, "dead-worker", {}))
    engine.start()
    engine.sweep(grace=0)
    wait_for(lambda: _state(setup, job_id, JobState.SUCCEEDED), what="the re-run")
    job = _job(setup, job_id)
    assert job.attempts == 2
    assert job.result == {"by": engine.owner}
    assert results == [engine.owner]


def test_an_expired_lease_past_the_limit_fails(setup: Setup, kind_name: str) -> None:
    @job_kind(kind_name, max_attempts=1)
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        return None

    engine = setup.engine(start=False)
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    dead = setup.db.write(lambda c: job_store.claim(c, job_id, "dead-worker", 1))
    assert dead is not None
    wait_for(lambda: now_ms() > (dead.lease_expires or 0), what="the lease to expire")
    assert engine.reap() == ([], [job_id])
    job = _job(setup, job_id)
    assert job.state == JobState.FAILED
    assert "lease expired" in (job.error or "")


def test_a_lost_queue_message_is_swept(setup: Setup, kind_name: str) -> None:
    @job_kind(kind_name)
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        return None

    # committed with nobody to hand it to (as after a crash between commit and hand-off)
    job_id = setup.db.write(lambda c: job_store.enqueue(c, kind_name, {}))
    setup.engine()  # starting sweeps what is pending and due
    wait_for(lambda: _state(setup, job_id, JobState.SUCCEEDED), what="the swept job")


def test_two_engines_never_run_one_job_twice(setup: Setup, kind_name: str) -> None:
    runs: list[tuple[int, str]] = []
    lock = threading.Lock()

    @job_kind(kind_name)
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        with lock:
            runs.append((payload["n"], ctx.worker))

    setup.engine(workers=2)
    setup.engine(workers=2, db=setup.another_database())
    ids = setup.db.write(lambda c: [job_store.enqueue(c, kind_name, {"n": n}) for n in range(200)])
    wait_for(lambda: all(_state(setup, i, JobState.SUCCEEDED) for i in ids), what="200 jobs")
    assert sorted(n for n, _ in runs) == list(range(200))
    assert all(_job(setup, i).attempts == 1 for i in ids)
