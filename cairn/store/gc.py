"""Finding and permanently removing what users deleted (SQL only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, delete, select

from cairn.entities.tracking import LifecycleStage
from cairn.store import experiments as experiment_store
from cairn.store import runs as run_store
from cairn.store.experiments import artifact_location_of
from cairn.store.run_data import INFO_COLUMNS, RunRow
from cairn.store.schema import experiments, runs


@dataclass(frozen=True, slots=True)
class DeletedRun:
    id: int
    run_uuid: str
    experiment_id: int
    artifact_uri: str | None


@dataclass(frozen=True, slots=True)
class DeletedExperiment:
    experiment_id: int
    name: str
    artifact_location: str


def deleted_runs(conn: Connection, before_ms: int) -> list[DeletedRun]:
    """Runs deleted before ``before_ms`` (including runs of deleted experiments)."""
    rows = conn.execute(
        select(runs.c.id, runs.c.run_uuid, runs.c.experiment_id, runs.c.artifact_uri)
        .where(runs.c.lifecycle_stage == LifecycleStage.DELETED)
        .where(runs.c.deleted_time.is_not(None), runs.c.deleted_time < before_ms)
        .order_by(runs.c.id)
    ).all()
    return [DeletedRun(r.id, r.run_uuid, r.experiment_id, r.artifact_uri) for r in rows]


def deleted_experiments(conn: Connection, before_ms: int) -> list[DeletedExperiment]:
    """Experiments deleted before ``before_ms`` (deletion sets last_update_time)."""
    rows = conn.execute(
        select(experiments.c.experiment_id, experiments.c.name, experiments.c.artifact_location)
        .where(experiments.c.lifecycle_stage == LifecycleStage.DELETED)
        .where(experiments.c.last_update_time < before_ms)
        .order_by(experiments.c.experiment_id)
    ).all()
    return [
        DeletedExperiment(
            r.experiment_id, r.name, artifact_location_of(r.experiment_id, r.artifact_location)
        )
        for r in rows
    ]


def purge_runs(conn: Connection, ids: Sequence[int]) -> None:
    """Remove runs with everything logged to them (the foreign keys cascade; on PostgreSQL a
    trigger does it for the metric points, migration 0019), one
    ``run.purge`` event each (events have no foreign keys: the runs' history stays)."""
    if ids:
        _record_purges(conn, runs.c.id.in_(list(ids)))
        conn.execute(delete(runs).where(runs.c.id.in_(list(ids))))


def _record_purges(conn: Connection, which: ColumnElement[bool]) -> None:
    found = conn.execute(select(*INFO_COLUMNS).where(which)).all()
    for row in found:
        before = {"name": row.name, "lifecycle_stage": row.lifecycle_stage}
        run_store.record(conn, "run.purge", RunRow._make(row), before=before)


def remaining_runs(conn: Connection, experiment_id: int) -> int:
    return len(conn.execute(select(runs.c.id).where(runs.c.experiment_id == experiment_id)).all())


def purge_experiment(conn: Connection, experiment_id: int) -> None:
    """Remove an experiment and all that is left of it; its name becomes free again. One
    ``experiment.purge`` event, and a ``run.purge`` for each run purged with it."""
    found = conn.execute(
        select(experiments.c.name, experiments.c.lifecycle_stage).where(
            experiments.c.experiment_id == experiment_id
        )
    ).first()
    if found is None:
        return
    _record_purges(conn, runs.c.experiment_id == experiment_id)
    conn.execute(delete(runs).where(runs.c.experiment_id == experiment_id))
    conn.execute(delete(experiments).where(experiments.c.experiment_id == experiment_id))
    before = {"name": found.name, "lifecycle_stage": found.lifecycle_stage}
    experiment_store.record(conn, "experiment.purge", experiment_id, before=before)
