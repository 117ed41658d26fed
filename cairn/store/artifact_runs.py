"""The runs an artifact listing across runs walks: active runs of active experiments the caller
may read, newest first (by the runs' own key, which only grows), in bounded batches; and the
MLflow 3 logged models those runs produced (stored apart from the runs' own files)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from cairn.entities.access import ALL, Visibility
from cairn.entities.tracking import LifecycleStage
from cairn.store.schema import experiments, logged_models, runs
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


@dataclass(frozen=True, slots=True)
class RunModel:
    """A logged model a run produced: its files live at ``artifact_location``."""

    run_id: str
    model_id: str
    name: str
    artifact_location: str


def run_models(conn: Connection, run_ids: list[str]) -> list[RunModel]:
    """The active logged models whose source run is one of ``run_ids``, by name then id."""
    if not run_ids:
        return []
    m = logged_models.c
    query = (
        select(m.source_run_id, m.model_id, m.name, m.artifact_location)
        .where(
            m.source_run_id.in_(run_ids),
            m.lifecycle_stage == LifecycleStage.ACTIVE.value,
        )
        .order_by(m.name, m.model_id)
    )
    return [RunModel(*row) for row in conn.execute(query)]
