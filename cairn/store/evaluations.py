"""Evaluation jobs, their benchmarks and logs, and users' benchmark collections (SQL only).

Every change of state records one change event in the same transaction: ``evaluation_job.*``
(``create``, ``start``, ``benchmark``, ``finish``, ``cancel``, ``delete``) and
``evaluation_collection.*``. A benchmark's phase and progress fraction and the log lines are
telemetry, like a job's heartbeat: written without an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cairn.entities.access import Visibility
from cairn.entities.errors import CairnError
from cairn.entities.evaluations import (
    BenchmarkState,
    EvaluationBenchmark,
    EvaluationJob,
    JobFilter,
    JobState,
    LogLine,
    Shape,
    UserCollection,
)
from cairn.entities.events import Change, EntityType
from cairn.store import events
from cairn.store.paging import keyset_page
from cairn.store.schema import (
    evaluation_benchmarks,
    evaluation_collections,
    evaluation_jobs,
    evaluation_logs,
    experiments,
    jobs,
)
from cairn.store.sql import AnyRow, now_ms
from cairn.store.visibility import experiment_key, restrict

j, b, lg, col = (
    evaluation_jobs.c,
    evaluation_benchmarks.c,
    evaluation_logs.c,
    evaluation_collections.c,
)

SELECT_JOBS = select(evaluation_jobs, experiments.c.name.label("experiment_name")).outerjoin(
    experiments, experiments.c.experiment_id == j.experiment_id
)


def dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _load(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return default


def _benchmark(row: AnyRow) -> EvaluationBenchmark:
    results = _load(row.results, None)
    return EvaluationBenchmark(
        index=int(row.idx),
        benchmark_id=row.benchmark_id,
        provider_id=row.provider_id,
        config=_load(row.config, {}),
        weight=float(row.weight),
        primary_metric=row.primary_metric,
        lower_is_better=bool(row.lower_is_better),
        threshold=None if row.threshold is None else float(row.threshold),
        state=BenchmarkState(row.state),
        phase=row.phase,
        progress=None if row.progress is None else float(row.progress),
        run_id=row.run_uuid,
        results=None if results is None else {k: float(v) for k, v in results.items()},
        primary_score=None if row.primary_score is None else float(row.primary_score),
        passed=None if row.passed is None else bool(row.passed),
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _job(row: AnyRow, benchmarks: list[EvaluationBenchmark]) -> EvaluationJob:
    return EvaluationJob(
        id=int(row.id),
        job_id=row.job_id,
        state=JobState(row.state),
        shape=Shape(row.shape),
        request=_load(row.request, {}),
        model_name=row.model_name,
        experiment_id=str(row.experiment_id),
        experiment_name=row.experiment_name or "",
        registered_name=row.registered_name,
        registered_version=row.registered_version,
        model_server=row.model_server,
        model_url=row.model_url,
        parent_run_id=row.parent_run_uuid,
        collection_id=row.collection_id,
        tags=_load(row.tags, {}),
        overall_score=None if row.overall_score is None else float(row.overall_score),
        passed=None if row.passed is None else bool(row.passed),
        error=row.error,
        created_by=row.created_by,
        created_at=int(row.created_at),
        started_at=row.started_at,
        finished_at=row.finished_at,
        benchmarks=benchmarks,
    )


def _with_benchmarks(conn: Connection, rows: Sequence[AnyRow]) -> list[EvaluationJob]:
    if not rows:
        return []
    ids = [int(row.id) for row in rows]
    found: dict[int, list[EvaluationBenchmark]] = {i: [] for i in ids}
    for brow in conn.execute(
        select(evaluation_benchmarks).where(b.job.in_(ids)).order_by(b.job, b.idx)
    ).all():
        found[int(brow.job)].append(_benchmark(brow))
    return [_job(row, found[int(row.id)]) for row in rows]


def _summary(job: EvaluationJob) -> dict[str, Any]:
    return {
        "state": job.state.value,
        "model_name": job.model_name,
        "parent_run_id": job.parent_run_id,
        "overall_score": job.overall_score,
        "passed": job.passed,
        "benchmarks": [
            {"benchmark_id": x.benchmark_id, "provider_id": x.provider_id, "state": x.state.value}
            for x in job.benchmarks
        ],
    }


def record(
    conn: Connection,
    action: str,
    job: EvaluationJob,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    events.record(
        conn,
        Change(
            action,
            EntityType.EVALUATION_JOB,
            job.job_id,
            experiment_id=job.experiment_id,
            model_name=job.registered_name,
            before=before,
            after=after,
        ),
    )


# ------------------------------------------------------------------------------- jobs
def create_job(
    conn: Connection, values: dict[str, Any], benchmarks: Sequence[dict[str, Any]]
) -> EvaluationJob:
    """Insert a job (``values``: the columns of :data:`evaluation_jobs` but ``id``) and its
    benchmarks (each the columns of :data:`evaluation_benchmarks` but ``job``)."""
    pk = int(conn.execute(insert(evaluation_jobs).values(**values).returning(j.id)).scalar_one())
    if benchmarks:
        conn.execute(insert(evaluation_benchmarks), [{**row, "job": pk} for row in benchmarks])
    job = get_by_pk(conn, pk)
    record(conn, "evaluation_job.create", job, None, _summary(job))
    return job


def get_by_pk(conn: Connection, pk: int) -> EvaluationJob:
    row = conn.execute(SELECT_JOBS.where(j.id == pk)).first()
    if row is None:
        raise CairnError.not_found(f"Evaluation job {pk} not found")
    return _with_benchmarks(conn, [row])[0]


def find(conn: Connection, job_id: str) -> EvaluationJob | None:
    row = conn.execute(SELECT_JOBS.where(j.job_id == job_id)).first()
    return None if row is None else _with_benchmarks(conn, [row])[0]


def get(conn: Connection, job_id: str) -> EvaluationJob:
    found = find(conn, job_id)
    if found is None:
        raise CairnError.not_found(f"Evaluation job '{job_id[:60]}' not found")
    return found


def token_hash(conn: Connection, job_id: str) -> str | None:
    """The stored digest of the job's runner token (None: no such job, or no token)."""
    row = conn.execute(select(j.runner_token_hash).where(j.job_id == job_id)).first()
    return None if row is None else row[0]


def experiment_of(conn: Connection, job_id: str) -> str | None:
    row = conn.execute(select(j.experiment_id).where(j.job_id == job_id)).first()
    return None if row is None else str(row[0])


def page(
    conn: Connection,
    where: JobFilter,
    visibility: Visibility,
    max_results: int,
    token: str | None,
    fingerprint: str,
) -> tuple[list[EvaluationJob], str | None]:
    """Newest first, keyset paged on the job's id; only jobs of experiments the caller may
    read."""
    query = SELECT_JOBS
    if where.state is not None:
        query = query.where(j.state == where.state.value)
    if where.model is not None:
        query = query.where((j.model_name == where.model) | (j.registered_name == where.model))
    if where.experiment_id is not None:
        query = query.where(j.experiment_id == where.experiment_id)
    if where.tag is not None:
        pair = dump({where.tag[0]: where.tag[1]})[1:-1]  # '"key":"value"'
        query = query.where(j.tags.contains(pair, autoescape=True))
    query = restrict(query, visibility, j.experiment_id, experiment_key, experiments.c.name)
    rows, next_token = keyset_page(conn, query, [(j.id, False)], max_results, token, fingerprint)
    return _with_benchmarks(conn, rows), next_token


def update_job(
    conn: Connection,
    job: EvaluationJob,
    values: dict[str, Any],
    action: str | None,
    *,
    expect: Sequence[JobState] | None = None,
) -> EvaluationJob | None:
    """Change columns of a job; with ``action`` record it as that event (before/after: the
    changed columns). ``expect``: only when the job is in one of these states (None when it
    was not: someone else moved it first)."""
    stmt = update(evaluation_jobs).where(j.id == job.id)
    if expect is not None:
        stmt = stmt.where(j.state.in_([s.value for s in expect]))
    if conn.execute(stmt.values(**values)).rowcount != 1:
        return None
    after = get_by_pk(conn, job.id)
    if action is not None:
        shown = {k: v for k, v in values.items() if k not in ("request", "runner_token_hash")}
        before = {k: getattr(job, _ATTR.get(k, k), None) for k in shown}
        record(conn, action, after, _plain(before), _plain(shown))
    return after


_ATTR = {"parent_run_uuid": "parent_run_id"}


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.value if isinstance(v, JobState | BenchmarkState) else v) for k, v in values.items()
    }


def update_benchmark(
    conn: Connection,
    job: EvaluationJob,
    index: int,
    values: dict[str, Any],
    *,
    expect: Sequence[BenchmarkState] | None = None,
    event: bool = True,
) -> bool:
    """Change columns of one benchmark (``results`` as a dict: stored as JSON); a change of
    ``state`` records ``evaluation_job.benchmark`` unless ``event`` is False. ``expect``: only
    from these states. False when the row was not in an expected state."""
    stored = dict(values)
    if "results" in stored and stored["results"] is not None:
        stored["results"] = dump(stored["results"])
    if "config" in stored:
        stored["config"] = dump(stored["config"])
    stmt = update(evaluation_benchmarks).where(b.job == job.id, b.idx == index)
    if expect is not None:
        stmt = stmt.where(b.state.in_([s.value for s in expect]))
    if conn.execute(stmt.values(**stored)).rowcount != 1:
        return False
    if event and "state" in values:
        old = next((x for x in job.benchmarks if x.index == index), None)
        record(
            conn,
            "evaluation_job.benchmark",
            job,
            {"index": index, "state": None if old is None else old.state.value},
            {
                "index": index,
                "state": str(values["state"]),
                **({"error": str(values["error"])[:500]} if values.get("error") else {}),
            },
        )
    return True


def delete_job(conn: Connection, job: EvaluationJob) -> None:
    conn.execute(delete(evaluation_logs).where(lg.job == job.id))
    conn.execute(delete(evaluation_benchmarks).where(b.job == job.id))
    conn.execute(delete(evaluation_jobs).where(j.id == job.id))
    record(conn, "evaluation_job.delete", job, _summary(job), None)


# ------------------------------------------------------------------------------- logs
MAX_LINE = 10_000


def append_logs(conn: Connection, job_pk: int, index: int | None, lines: Sequence[str]) -> int:
    """Append lines to a job's log; returns the last sequence number written. Two writers of
    one job (benchmarks on two workers) race for the numbers: the loser tries again."""
    if not lines:
        return 0
    now = now_ms()
    for _ in range(10):
        start = conn.execute(select(func.max(lg.seq)).where(lg.job == job_pk)).scalar() or 0
        rows = [
            {
                "job": job_pk,
                "seq": start + 1 + i,
                "time": now,
                "idx": index,
                "line": line[:MAX_LINE],
            }
            for i, line in enumerate(lines)
        ]
        savepoint = conn.begin_nested()
        try:
            conn.execute(insert(evaluation_logs), rows)
            savepoint.commit()
            return int(start + len(lines))
        except IntegrityError:
            savepoint.rollback()
    raise CairnError.invalid("The evaluation job's log is being written too fast: try again")


def read_logs(
    conn: Connection, job_pk: int, after: int, limit: int, index: int | None = None
) -> list[LogLine]:
    query = select(evaluation_logs).where(lg.job == job_pk, lg.seq > after)
    if index is not None:
        query = query.where(lg.idx == index)
    rows = conn.execute(query.order_by(lg.seq).limit(limit)).all()
    return [LogLine(int(r.seq), int(r.time), r.idx, r.line) for r in rows]


# ------------------------------------------------------------------------ collections
def _collection(row: AnyRow) -> UserCollection:
    return UserCollection(
        collection_id=row.collection_id,
        name=row.name,
        description=row.description,
        benchmarks=_load(row.benchmarks, []),
        created_by=row.created_by,
        created_at=int(row.created_at),
        updated_at=int(row.updated_at),
    )


def _collection_change(
    conn: Connection, action: str, before: UserCollection | None, after: UserCollection | None
) -> None:
    found = after or before
    assert found is not None

    def body(c: UserCollection | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {"name": c.name, "description": c.description, "benchmarks": c.benchmarks}

    events.record(
        conn,
        Change(
            action,
            EntityType.EVALUATION_COLLECTION,
            found.collection_id,
            before=body(before),
            after=body(after),
        ),
    )


def list_collections(conn: Connection) -> list[UserCollection]:
    rows = conn.execute(
        select(evaluation_collections).order_by(col.collection_id).limit(1000)
    ).all()
    return [_collection(row) for row in rows]


def find_collection(conn: Connection, collection_id: str) -> UserCollection | None:
    row = conn.execute(
        select(evaluation_collections).where(col.collection_id == collection_id)
    ).first()
    return None if row is None else _collection(row)


def create_collection(
    conn: Connection,
    collection_id: str,
    name: str,
    description: str,
    benchmarks: list[dict[str, Any]],
    created_by: str,
) -> UserCollection:
    if find_collection(conn, collection_id) is not None:
        raise CairnError.exists(f"Collection '{collection_id}' already exists")
    now = now_ms()
    savepoint = conn.begin_nested()
    try:
        conn.execute(
            insert(evaluation_collections).values(
                collection_id=collection_id,
                name=name,
                description=description,
                benchmarks=dump(benchmarks),
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
        )
        savepoint.commit()
    except IntegrityError as exc:
        savepoint.rollback()
        raise CairnError.exists(f"Collection '{collection_id}' already exists") from exc
    made = find_collection(conn, collection_id)
    assert made is not None
    _collection_change(conn, "evaluation_collection.create", None, made)
    return made


def update_collection(
    conn: Connection,
    collection_id: str,
    name: str,
    description: str,
    benchmarks: list[dict[str, Any]],
) -> UserCollection:
    old = find_collection(conn, collection_id)
    if old is None:
        raise CairnError.not_found(f"Collection '{collection_id}' not found")
    conn.execute(
        update(evaluation_collections)
        .where(col.collection_id == collection_id)
        .values(
            name=name, description=description, benchmarks=dump(benchmarks), updated_at=now_ms()
        )
    )
    new = find_collection(conn, collection_id)
    assert new is not None
    _collection_change(conn, "evaluation_collection.update", old, new)
    return new


def delete_collection(conn: Connection, collection_id: str) -> None:
    old = find_collection(conn, collection_id)
    if old is None:
        raise CairnError.not_found(f"Collection '{collection_id}' not found")
    conn.execute(delete(evaluation_collections).where(col.collection_id == collection_id))
    _collection_change(conn, "evaluation_collection.delete", old, None)


def clear_logs(conn: Connection, job_pk: int, index: int) -> None:
    """Forget one benchmark's lines (a re-run after a crash writes them again)."""
    conn.execute(delete(evaluation_logs).where(lg.job == job_pk, lg.idx == index))


def stranded(conn: Connection, kind: str) -> list[tuple[str, int, str | None]]:
    """(job id, benchmark index, engine error) of the unfinished benchmarks whose engine job
    (kind ``kind``, key ``eval:<job id>:<index>``) has ended: failed after its attempts or
    cancelled, without the handler recording the benchmark's end."""
    rows = conn.execute(
        select(j.job_id, b.idx)
        .select_from(evaluation_benchmarks.join(evaluation_jobs, j.id == b.job))
        .where(b.state.in_([BenchmarkState.PENDING.value, BenchmarkState.RUNNING.value]))
        .order_by(j.id, b.idx)
        .limit(500)
    ).all()
    if not rows:
        return []
    keys = {f"eval:{row.job_id}:{row.idx}": (row.job_id, int(row.idx)) for row in rows}
    found: dict[str, tuple[int, str, str | None]] = {}
    for key_chunk in _chunks(sorted(keys), 200):
        for job in conn.execute(
            select(jobs.c.id, jobs.c.key, jobs.c.state, jobs.c.error).where(
                jobs.c.kind == kind, jobs.c.key.in_(key_chunk)
            )
        ).all():
            prior = found.get(job.key)
            if prior is None or int(job.id) > prior[0]:
                found[job.key] = (int(job.id), job.state, job.error)
    out: list[tuple[str, int, str | None]] = []
    for key, (_, state, error) in found.items():
        if state in ("failed", "cancelled"):
            job_id, idx = keys[key]
            out.append((job_id, idx, error))
    return out


def waiting(
    conn: Connection, provider_ids: Sequence[str], limit: int = 500
) -> list[tuple[str, int, dict[str, Any], int]]:
    """(job id, benchmark index, config, since) of the pending and running benchmarks of
    these providers, oldest first; ``since``: the benchmark's start, or its job's creation
    when it has not started."""
    if not provider_ids:
        return []
    rows = conn.execute(
        select(j.job_id, j.created_at, b.idx, b.config, b.started_at)
        .select_from(evaluation_benchmarks.join(evaluation_jobs, j.id == b.job))
        .where(
            b.state.in_([BenchmarkState.PENDING.value, BenchmarkState.RUNNING.value]),
            b.provider_id.in_(list(provider_ids)),
        )
        .order_by(j.id, b.idx)
        .limit(limit)
    ).all()
    return [
        (row.job_id, int(row.idx), orjson.loads(row.config),
         int(row.started_at if row.started_at is not None else row.created_at))
        for row in rows
    ]  # fmt: skip


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
