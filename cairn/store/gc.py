"""Finding and permanently removing what users deleted (SQL only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from cairn.entities.tracking import LifecycleStage
from cairn.store.experiments import artifact_location_of
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
    """Remove runs with everything logged to them (the foreign keys cascade)."""
    if ids:
        conn.execute(delete(runs).where(runs.c.id.in_(list(ids))))


def remaining_runs(conn: Connection, experiment_id: int) -> int:
    return len(conn.execute(select(runs.c.id).where(runs.c.experiment_id == experiment_id)).all())


def purge_experiment(conn: Connection, experiment_id: int) -> None:
    """Remove an experiment and all that is left of it; its name becomes free again."""
    conn.execute(delete(runs).where(runs.c.experiment_id == experiment_id))
    conn.execute(delete(experiments).where(experiments.c.experiment_id == experiment_id))
