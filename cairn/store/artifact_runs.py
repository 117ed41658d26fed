"""The runs an artifact listing across runs walks: active runs of active experiments the caller
may read, newest first (by the runs' own key, which only grows), in bounded batches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from cairn.entities.access import ALL, Visibility
from cairn.entities.tracking import LifecycleStage
from cairn.store.schema import experiments, runs
from cairn.store.visibility import condition, experiment_key

r = runs.c
e = experiments.c


@dataclass(frozen=True, slots=True)
class RunRoot:
    """One run whose artifacts are listed: ``key`` orders runs (newest first, descending)."""

    key: int
    run_id: str
    run_name: str | None
    experiment_id: int
    experiment_name: str
    status: str
    start_time: int | None
    artifact_uri: str | None


def experiment_readable(conn: Connection, experiment_id: int, visibility: Visibility) -> bool:
    """Whether the active experiment exists and ``visibility`` lets the caller read it."""
    query = select(e.experiment_id).where(
        e.experiment_id == experiment_id, e.lifecycle_stage == LifecycleStage.ACTIVE.value
    )
    readable = condition(visibility, e.experiment_id, experiment_key, e.name)
    if readable is not None:
        query = query.where(readable)
    return conn.execute(query).first() is not None


def runs_before(
    conn: Connection,
    experiment_id: int | None,
    before: int | None,
    limit: int,
    visibility: Visibility = ALL,
) -> list[RunRoot]:
    """Up to ``limit`` runs with a key at most ``before`` (None: from the newest), newest
    first, of ``experiment_id`` or of every experiment ``visibility`` lets the caller read."""
    query = (
        select(
            r.id,
            r.run_uuid,
            r.name,
            r.experiment_id,
            e.name,
            r.status,
            r.start_time,
            r.artifact_uri,
        )
        .join(experiments, e.experiment_id == r.experiment_id)
        .where(
            r.lifecycle_stage == LifecycleStage.ACTIVE.value,
            e.lifecycle_stage == LifecycleStage.ACTIVE.value,
        )
        .order_by(r.id.desc())
        .limit(limit)
    )
    if experiment_id is not None:
        query = query.where(r.experiment_id == experiment_id)
    if before is not None:
        query = query.where(r.id <= before)
    readable = condition(visibility, e.experiment_id, experiment_key, e.name)
    if readable is not None:
        query = query.where(readable)
    return [RunRoot(*row) for row in conn.execute(query)]
