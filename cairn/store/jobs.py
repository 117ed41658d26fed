"""The jobs table in SQL: enqueue in the caller's transaction, claim under a lease, finish on
the lease, reap expired leases, and the outbox cursors and periodic schedule of the engine.

A job row is inserted in the transaction of whatever caused it (:func:`enqueue`), so it
exists exactly when that commits; once it has committed an after-commit hook hands its id to
the queue (the engine registers the hand-off per database with :func:`set_handoff`). Every
state move the engine makes is a conditional UPDATE (``WHERE state = … AND lease_owner = …``),
so two workers never both run one job and a late finish never overwrites a cancel. The
engine's own moves record no change event; a person's cancel or retry does.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import Change, EntityType
from cairn.entities.jobs import DEFAULT_MAX_ATTEMPTS, UNFINISHED, Job, JobQuery, JobState
from cairn.store import events
from cairn.store.db import after_commit
from cairn.store.schema import job_cursors, jobs, periodic_runs
from cairn.store.sql import AnyRow, now_ms, upsert_insert

j = jobs.c

MAX_ATTEMPTS_LIMIT = 100
MAX_KIND = 128
MAX_KEY = 256

KIND_ATTEMPTS: dict[str, int] = {}
"""The attempt limit each registered job kind declares (``cairn.jobs.registry`` fills it): what
:func:`enqueue` uses when the caller gives none."""

Handoff = Callable[[int, float], None]
"""``handoff(job_id, delay_seconds)``: give a committed job's id to the queue."""

_HANDOFF: weakref.WeakKeyDictionary[Engine, Handoff] = weakref.WeakKeyDictionary()


def set_handoff(engine: Engine, handoff: Handoff) -> None:
    """Hand the ids of jobs committed through ``engine`` (a database's write engine) to
    ``handoff`` from now on."""
    _HANDOFF[engine] = handoff


def clear_handoff(engine: Engine, handoff: Handoff) -> None:
    """Stop handing ids to ``handoff`` (if it is still the one): jobs committed then wait for
    a sweeper."""
    if _HANDOFF.get(engine) == handoff:
        del _HANDOFF[engine]


def _hand_after_commit(conn: Connection, job_id: int, delay: float = 0.0) -> None:
    handoff = _HANDOFF.get(conn.engine)
    if handoff is not None:
        after_commit(conn, lambda: handoff(job_id, delay))


def _dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _load(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _job(row: AnyRow) -> Job:
    return Job(
        id=int(row.id),
        kind=row.kind,
        payload=_load(row.payload) or {},
        state=JobState(row.state),
        attempts=int(row.attempts),
        max_attempts=int(row.max_attempts),
        lease_owner=row.lease_owner,
        lease_expires=row.lease_expires,
        run_after=int(row.run_after),
        result=_load(row.result),
        error=row.error,
        key=row.key,
        created_at=int(row.created_at),
        started_at=row.started_at,
        finished_at=row.finished_at,
        updated_at=int(row.updated_at),
        cancel_requested=bool(row.cancel_requested),
    )


def _check(kind: str, key: str | None, max_attempts: int | None) -> None:
    if not kind or len(kind) > MAX_KIND:
        raise CairnError.invalid(f"Invalid job kind: 1 to {MAX_KIND} characters")
    if key is not None and (not key or len(key) > MAX_KEY):
        raise CairnError.invalid(f"Invalid job key: 1 to {MAX_KEY} characters")
    if max_attempts is not None and not 0 < max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise CairnError.invalid(f"Invalid max_attempts: 1 to {MAX_ATTEMPTS_LIMIT}")


def _unfinished_with_key(conn: Connection, kind: str, key: str) -> int | None:
    found = conn.execute(
        select(j.id).where(j.kind == kind, j.key == key, j.state.in_([str(s) for s in UNFINISHED]))
    ).first()
    return None if found is None else int(found[0])


def find_unfinished(conn: Connection, kind: str, key: str) -> int | None:
    """The id of the pending or running job of ``kind`` with ``key``, if there is one."""
    return _unfinished_with_key(conn, kind, key)


def enqueue(
    conn: Connection,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    run_after: int | None = None,
    max_attempts: int | None = None,
) -> int:
    """Insert a pending job in the caller's transaction and hand its id to the queue once that
    commits. ``run_after``: not before this time (ms). ``key``: while a job of ``kind`` with
    this key is unfinished, enqueueing again returns that job's id instead."""
    _check(kind, key, max_attempts)
    if key is not None:
        existing = _unfinished_with_key(conn, kind, key)
        if existing is not None:
            return existing
    now = now_ms()
    due = max(now, run_after or now)
    values = {
        "kind": kind,
        "payload": _dump(payload),
        "state": str(JobState.PENDING),
        "attempts": 0,
        "max_attempts": max_attempts or KIND_ATTEMPTS.get(kind, DEFAULT_MAX_ATTEMPTS),
        "run_after": due,
        "key": key,
        "cancel_requested": False,
        "created_at": now,
        "updated_at": now,
    }
    if key is None:
        job_id = int(conn.execute(insert(jobs).values(**values).returning(j.id)).scalar_one())
    else:  # a concurrent enqueue of the same key: the unique index decides, the loser reads
        savepoint = conn.begin_nested()
        try:
            job_id = int(conn.execute(insert(jobs).values(**values).returning(j.id)).scalar_one())
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            existing = _unfinished_with_key(conn, kind, key)
            if existing is None:
                raise
            return existing
    _hand_after_commit(conn, job_id, (due - now) / 1000)
    return job_id


def get(conn: Connection, job_id: int) -> Job | None:
    row = conn.execute(select(jobs).where(j.id == job_id)).first()
    return None if row is None else _job(row)


def search(conn: Connection, query: JobQuery) -> list[Job]:
    """Jobs matching ``query``, newest first."""
    stmt = select(jobs)
    if query.kind is not None:
        stmt = stmt.where(j.kind == query.kind)
    if query.state is not None:
        stmt = stmt.where(j.state == str(query.state))
    if query.before_id is not None:
        stmt = stmt.where(j.id < query.before_id)
    stmt = stmt.order_by(j.id.desc()).limit(max(1, query.limit))
    return [_job(row) for row in conn.execute(stmt).all()]


def counts(conn: Connection) -> dict[str, int]:
    """How many jobs are in each state."""
    rows = conn.execute(select(j.state, func.count()).group_by(j.state)).all()
    return {str(state): int(n) for state, n in rows}


def oldest_pending(conn: Connection) -> int | None:
    """When the oldest job still waiting to be run was queued (ms), or None."""
    found = conn.execute(select(func.min(j.created_at)).where(j.state == JobState.PENDING)).scalar()
    return int(found) if found is not None else None


# --------------------------------------------------------------------------- the worker side
def claim(conn: Connection, job_id: int, owner: str, lease_ms: int) -> Job | None:
    """Take a due pending job under a lease (one more attempt); None when it is not pending,
    not due yet, or another worker took it first."""
    now = now_ms()
    taken = conn.execute(
        update(jobs)
        .where(j.id == job_id, j.state == str(JobState.PENDING), j.run_after <= now)
        .values(
            state=str(JobState.RUNNING),
            lease_owner=owner,
            lease_expires=now + lease_ms,
            attempts=j.attempts + 1,
            started_at=now,
            updated_at=now,
        )
    ).rowcount
    if taken != 1:
        return None
    return get(conn, job_id)


def heartbeat(conn: Connection, ids: Sequence[int], owner: str, lease_ms: int) -> set[int]:
    """Extend the leases ``owner`` holds on ``ids``; the ids among them whose cancel was
    requested (or whose lease ``owner`` lost)."""
    if not ids:
        return set()
    now = now_ms()
    conn.execute(
        update(jobs)
        .where(j.id.in_(list(ids)), j.lease_owner == owner, j.state == str(JobState.RUNNING))
        .values(lease_expires=now + lease_ms, updated_at=now)
    )
    held = conn.execute(
        select(j.id, j.cancel_requested).where(
            j.id.in_(list(ids)), j.lease_owner == owner, j.state == str(JobState.RUNNING)
        )
    ).all()
    keep = {int(row.id) for row in held if not row.cancel_requested}
    return set(ids) - keep


def _on_lease(job_id: int, owner: str) -> Any:
    return and_(j.id == job_id, j.lease_owner == owner, j.state == str(JobState.RUNNING))


def _cancelled_or(state: JobState) -> Any:
    """The state a lease finish writes: ``cancelled`` when a cancel was requested meanwhile."""
    return case((j.cancel_requested, str(JobState.CANCELLED)), else_=str(state))


def finish(conn: Connection, job_id: int, owner: str, result: dict[str, Any] | None) -> bool:
    """The job succeeded (or is cancelled, if that was asked meanwhile); False when ``owner``
    no longer holds its lease (the reaper gave it away: its outcome is the new holder's)."""
    now = now_ms()
    done = conn.execute(
        update(jobs)
        .where(_on_lease(job_id, owner))
        .values(
            state=_cancelled_or(JobState.SUCCEEDED),
            result=None if result is None else _dump(result),
            error=None,
            lease_owner=None,
            lease_expires=None,
            finished_at=now,
            updated_at=now,
        )
    ).rowcount
    return done == 1


def fail_attempt(
    conn: Connection, job_id: int, owner: str, error: str, retry_in: float | None
) -> JobState | None:
    """The attempt failed with ``error``. With attempts left and ``retry_in`` (seconds) not
    None, the job is pending again after that delay (and handed to the queue with it);
    otherwise it is ``failed``. None when ``owner`` no longer holds the lease."""
    now = now_ms()
    row = conn.execute(
        select(j.attempts, j.max_attempts, j.cancel_requested).where(_on_lease(job_id, owner))
    ).first()
    if row is None:
        return None
    error = error[:4000]
    common: dict[str, Any] = {
        "error": error,
        "lease_owner": None,
        "lease_expires": None,
        "updated_at": now,
    }
    if row.cancel_requested:
        state = JobState.CANCELLED
        common.update(finished_at=now)
    elif retry_in is not None and int(row.attempts) < int(row.max_attempts):
        state = JobState.PENDING
        common.update(run_after=now + int(retry_in * 1000))
    else:
        state = JobState.FAILED
        common.update(finished_at=now)
    conn.execute(update(jobs).where(_on_lease(job_id, owner)).values(state=str(state), **common))
    if state == JobState.PENDING:
        _hand_after_commit(conn, job_id, float(retry_in or 0))
    return state


def reap(conn: Connection, limit: int = 500) -> tuple[list[int], list[int]]:
    """Expired leases (their worker died or stalled): pending again when attempts are left,
    else failed. Returns (re-queued ids, failed ids)."""
    now = now_ms()
    rows = conn.execute(
        select(j.id, j.attempts, j.max_attempts, j.cancel_requested)
        .where(j.state == str(JobState.RUNNING), j.lease_expires < now)
        .order_by(j.id)
        .limit(limit)
    ).all()
    requeued: list[int] = []
    failed: list[int] = []
    for row in rows:
        expired = and_(j.id == row.id, j.state == str(JobState.RUNNING), j.lease_expires < now)
        values: dict[str, Any] = {"lease_owner": None, "lease_expires": None, "updated_at": now}
        if row.cancel_requested:
            values.update(state=str(JobState.CANCELLED), finished_at=now)
        elif int(row.attempts) < int(row.max_attempts):
            values.update(state=str(JobState.PENDING), run_after=now)
        else:
            values.update(
                state=str(JobState.FAILED),
                finished_at=now,
                error=f"the worker's lease expired on attempt {row.attempts} of "
                f"{row.max_attempts} (worker stopped or stalled)",
            )
        if conn.execute(update(jobs).where(expired).values(**values)).rowcount != 1:
            continue
        if values["state"] == str(JobState.PENDING):
            requeued.append(int(row.id))
            _hand_after_commit(conn, int(row.id))
        elif values["state"] == str(JobState.FAILED):
            failed.append(int(row.id))
    return requeued, failed


def overdue(conn: Connection, due_before: int, limit: int = 1000) -> list[int]:
    """Pending jobs due before ``due_before`` (ms): those whose queue message may be lost."""
    rows = conn.execute(
        select(j.id)
        .where(j.state == str(JobState.PENDING), j.run_after < due_before)
        .order_by(j.run_after, j.id)
        .limit(limit)
    ).all()
    return [int(row.id) for row in rows]


def rehand_overdue(conn: Connection, due_before: int, limit: int = 1000) -> list[int]:
    """Hand the :func:`overdue` jobs to the queue again once this (empty) write commits."""
    ids = overdue(conn, due_before, limit)
    for job_id in ids:
        _hand_after_commit(conn, job_id)
    return ids


# ------------------------------------------------------------------------- a person's moves
def _change(conn: Connection, action: str, before: Job, after: Job) -> None:
    events.record(
        conn,
        Change(
            action,
            EntityType.JOB,
            str(after.id),
            before={"state": str(before.state), "kind": before.kind},
            after={"state": str(after.state), "kind": after.kind},
        ),
    )


def _found(conn: Connection, job_id: int) -> Job:
    job = get(conn, job_id)
    if job is None:
        raise CairnError.not_found(f"Job {job_id} does not exist")
    return job


def cancel(conn: Connection, job_id: int) -> Job:
    """Cancel a job: a pending one at once; a running one is asked to stop (its handler sees
    it, and its lease finish writes ``cancelled``). A finished job is a 400."""
    for _ in range(5):  # a worker may take or finish it meanwhile: decide on what it is then
        job = _found(conn, job_id)
        now = now_ms()
        if job.state == JobState.PENDING:
            values: dict[str, Any] = {
                "state": str(JobState.CANCELLED),
                "cancel_requested": True,
                "finished_at": now,
            }
        elif job.state == JobState.RUNNING:
            if job.cancel_requested:
                return job
            values = {"cancel_requested": True}
        else:
            raise CairnError(
                f"Job {job_id} is {job.state}: only a pending or running job can be cancelled",
                ErrorCode.INVALID_STATE,
            )
        moved = conn.execute(
            update(jobs)
            .where(j.id == job_id, j.state == str(job.state))
            .values(updated_at=now, **values)
        ).rowcount
        if moved == 1:
            after = _found(conn, job_id)
            _change(conn, "job.cancel", job, after)
            return after
    raise CairnError(f"Job {job_id} kept changing state: try again", ErrorCode.INVALID_STATE)


def retry(conn: Connection, job_id: int) -> Job:
    """Run a failed or cancelled job again: pending now, its attempts counted afresh."""
    job = _found(conn, job_id)
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise CairnError(
            f"Job {job_id} is {job.state}: only a failed or cancelled job can be retried",
            ErrorCode.INVALID_STATE,
        )
    if job.key is not None and _unfinished_with_key(conn, job.kind, job.key) is not None:
        raise CairnError(
            f"Job {job_id} cannot be retried: another {job.kind} job with its key is unfinished",
            ErrorCode.INVALID_STATE,
        )
    now = now_ms()
    conn.execute(
        update(jobs)
        .where(j.id == job_id, j.state == str(job.state))
        .values(
            state=str(JobState.PENDING),
            attempts=0,
            cancel_requested=False,
            run_after=now,
            finished_at=None,
            started_at=None,
            updated_at=now,
        )
    )
    after = _found(conn, job_id)
    _change(conn, "job.retry", job, after)
    _hand_after_commit(conn, job_id)
    return after


# -------------------------------------------------------------------------- outbox cursors
def open_cursor(conn: Connection, name: str, start: int) -> None:
    """Create consumer ``name``'s cursor at event id ``start`` unless it exists."""
    conn.execute(
        upsert_insert(conn, job_cursors)
        .values(name=name, last_id=start, updated_at=now_ms())
        .on_conflict_do_nothing()
    )


def lock_cursor(conn: Connection, name: str) -> int | None:
    """Consumer ``name``'s last seen event id, locked until the transaction ends."""
    row = conn.execute(
        select(job_cursors.c.last_id).where(job_cursors.c.name == name).with_for_update()
    ).first()
    return None if row is None else int(row[0])


def move_cursor(conn: Connection, name: str, last_id: int) -> None:
    conn.execute(
        update(job_cursors)
        .where(job_cursors.c.name == name)
        .values(last_id=last_id, updated_at=now_ms())
    )


def cursors(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(job_cursors.c.name, job_cursors.c.last_id)).all()
    return {row.name: int(row.last_id) for row in rows}


# ------------------------------------------------------------------------- periodic schedule
def claim_periodic(conn: Connection, name: str, every_ms: int, owner: str) -> tuple[bool, int]:
    """Whether this caller takes this period's run of ``name`` (its row is due and the
    conditional UPDATE moving ``next_at`` one period on is this caller's), and when it is due
    next (ms)."""
    now = now_ms()
    conn.execute(
        upsert_insert(conn, periodic_runs)
        .values(name=name, next_at=now, owner=None)
        .on_conflict_do_nothing()
    )
    pr = periodic_runs.c
    taken = conn.execute(
        update(periodic_runs)
        .where(pr.name == name, pr.next_at <= now)
        .values(next_at=now + every_ms, owner=owner, last_started=now)
    ).rowcount
    next_at = conn.execute(select(pr.next_at).where(pr.name == name)).scalar_one()
    return taken == 1, int(next_at)


def due_periodics(conn: Connection) -> dict[str, int]:
    """When each periodic job that has run is due next (ms)."""
    pr = periodic_runs.c
    return {row.name: int(row.next_at) for row in conn.execute(select(pr.name, pr.next_at))}


def finish_periodic(conn: Connection, name: str, owner: str, error: str | None) -> None:
    pr = periodic_runs.c
    conn.execute(
        update(periodic_runs)
        .where(pr.name == name, pr.owner == owner)
        .values(last_finished=now_ms(), last_error=None if error is None else error[:4000])
    )


def periodic_schedule(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(periodic_runs).order_by(periodic_runs.c.name)).all()
    return [dict(row._mapping) for row in rows]
