"""Experiments and their tags (SQL only; rules live in cairn.services)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.tracking import Experiment, LifecycleStage
from cairn.store import events
from cairn.store.schema import experiment_tags, experiments, runs
from cairn.store.sql import AnyRow, now_ms, upsert_insert

DEFAULT_ARTIFACT_ROOT = "mlflow-artifacts:"


def artifact_location_of(experiment_id: int, stored: str | None) -> str:
    return stored if stored else f"{DEFAULT_ARTIFACT_ROOT}/{experiment_id}"


def _entity(row: AnyRow, tags: dict[str, str]) -> Experiment:
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=artifact_location_of(row.experiment_id, row.artifact_location),
        lifecycle_stage=row.lifecycle_stage,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=tags,
    )


def load(conn: Connection, rows: Sequence[AnyRow]) -> list[Experiment]:
    ids = [r.experiment_id for r in rows]
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    if ids:
        for eid, key, value in conn.execute(
            select(
                experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value
            ).where(experiment_tags.c.experiment_id.in_(ids))
        ):
            tags[eid][key] = value
    return [_entity(r, tags[r.experiment_id]) for r in rows]


def get(conn: Connection, experiment_id: int) -> Experiment:
    row = conn.execute(
        select(experiments).where(experiments.c.experiment_id == experiment_id)
    ).first()
    if row is None:
        raise CairnError.not_found(f"No Experiment with id={experiment_id} exists")
    return load(conn, [row])[0]


def get_by_name(conn: Connection, name: str) -> Experiment:
    row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
    if row is None:
        raise CairnError.not_found(f"Could not find experiment with name '{name}'")
    return load(conn, [row])[0]


def create(
    conn: Connection,
    name: str,
    artifact_location: str | None,
    tags: dict[str, str],
    artifact_root: str = DEFAULT_ARTIFACT_ROOT,
) -> str:
    """Create an experiment; without an explicit location its artifacts go under
    ``<artifact_root>/<id>`` (``mlflow-artifacts:/<id>`` when the server proxies them)."""
    if conn.execute(select(experiments.c.experiment_id).where(experiments.c.name == name)).first():
        raise CairnError.exists(f"Experiment(name={name}) already exists.")
    now = now_ms()
    try:
        new_id = conn.execute(
            experiments.insert()
            .values(
                name=name,
                artifact_location=artifact_location or None,
                lifecycle_stage=LifecycleStage.ACTIVE,
                creation_time=now,
                last_update_time=now,
            )
            .returning(experiments.c.experiment_id)
        ).scalar_one()
    except IntegrityError as exc:  # a concurrent create won the race for the name
        raise CairnError.exists(f"Experiment(name={name}) already exists.") from exc
    if not artifact_location:
        conn.execute(
            update(experiments)
            .where(experiments.c.experiment_id == new_id)
            .values(artifact_location=f"{artifact_root.rstrip('/')}/{new_id}")
        )
    if tags:
        conn.execute(
            experiment_tags.insert(),
            [{"experiment_id": new_id, "key": k, "value": v} for k, v in tags.items()],
        )
    location = artifact_location or f"{artifact_root.rstrip('/')}/{new_id}"
    after = {"name": name, "artifact_location": location, "tags": tags}
    record(conn, "experiment.create", new_id, after=after)
    return str(new_id)


def record(
    conn: Connection,
    action: str,
    experiment_id: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a change to experiment ``experiment_id`` in the current write."""
    eid = str(experiment_id)
    change = Change(action, EntityType.EXPERIMENT, eid, eid, before=before, after=after)
    events.record(conn, change)


def settle_default_location(conn: Connection, artifact_root: str) -> None:
    """Give the Default experiment (created by the first migration) its artifact location."""
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == 0, experiments.c.artifact_location.is_(None))
        .values(artifact_location=f"{artifact_root.rstrip('/')}/0")
    )


def rename(conn: Connection, experiment_id: int, new_name: str) -> None:
    stage, old_name = _state(conn, experiment_id)
    if stage != LifecycleStage.ACTIVE:
        raise CairnError.invalid(f"Cannot rename experiment {experiment_id}: it is deleted")
    clash = conn.execute(
        select(experiments.c.experiment_id).where(experiments.c.name == new_name)
    ).scalar()
    if clash is not None and clash != experiment_id:
        raise CairnError.exists(f"Experiment(name={new_name}) already exists.")
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id)
        .values(name=new_name, last_update_time=now_ms())
    )
    if new_name != old_name:
        record(conn, "experiment.rename", experiment_id, {"name": old_name}, {"name": new_name})


def _state(conn: Connection, experiment_id: int) -> tuple[str, str]:
    """(lifecycle stage, name) of an experiment; not found if there is none."""
    row = conn.execute(
        select(experiments.c.lifecycle_stage, experiments.c.name).where(
            experiments.c.experiment_id == experiment_id
        )
    ).first()
    if row is None:
        raise CairnError.not_found(f"No Experiment with id={experiment_id} exists")
    return str(row.lifecycle_stage), str(row.name)


def _stage(conn: Connection, experiment_id: int) -> str:
    return _state(conn, experiment_id)[0]


def set_lifecycle(conn: Connection, experiment_id: int, stage: LifecycleStage) -> None:
    """Delete or restore an experiment; its runs follow it (and only those that followed)."""
    current = _stage(conn, experiment_id)
    if stage == LifecycleStage.DELETED and experiment_id == 0:
        raise CairnError.invalid("The Default experiment (id 0) cannot be deleted")
    if current == stage:
        if stage == LifecycleStage.DELETED:
            raise CairnError.invalid(f"Experiment {experiment_id} is already deleted")
        raise CairnError.invalid(f"Experiment {experiment_id} is not deleted; nothing to restore")
    now = now_ms()
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id)
        .values(lifecycle_stage=stage, last_update_time=now)
    )
    if stage == LifecycleStage.DELETED:
        followed = conn.execute(
            update(runs)
            .where(runs.c.experiment_id == experiment_id)
            .where(runs.c.lifecycle_stage == LifecycleStage.ACTIVE)
            .values(
                lifecycle_stage=LifecycleStage.DELETED,
                deleted_time=now,
                deleted_with_experiment=True,
            )
        )
    else:
        followed = conn.execute(
            update(runs)
            .where(runs.c.experiment_id == experiment_id)
            .where(runs.c.deleted_with_experiment.is_(True))
            .values(
                lifecycle_stage=LifecycleStage.ACTIVE,
                deleted_time=None,
                deleted_with_experiment=False,
            )
        )
    action = "experiment.delete" if stage == LifecycleStage.DELETED else "experiment.restore"
    after = {"lifecycle_stage": str(stage), "runs": int(followed.rowcount or 0)}
    record(conn, action, experiment_id, {"lifecycle_stage": current}, after)


def set_tag(conn: Connection, experiment_id: int, key: str, value: str) -> None:
    if _stage(conn, experiment_id) != LifecycleStage.ACTIVE:
        raise CairnError.invalid(f"Cannot set a tag on deleted experiment {experiment_id}")
    old = _tag(conn, experiment_id, key)
    stmt = upsert_insert(conn, experiment_tags).values(
        experiment_id=experiment_id, key=key, value=value
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["experiment_id", "key"], set_={"value": stmt.excluded.value}
        )
    )
    _touch(conn, experiment_id)
    before = {"tags": {key: old}} if old is not None else None
    record(conn, "experiment.set_tag", experiment_id, before, {"tags": {key: value}})


def _tag(conn: Connection, experiment_id: int, key: str) -> str | None:
    value = conn.execute(
        select(experiment_tags.c.value)
        .where(experiment_tags.c.experiment_id == experiment_id)
        .where(experiment_tags.c.key == key)
    ).scalar()
    return None if value is None else str(value)


def delete_tag(conn: Connection, experiment_id: int, key: str) -> None:
    if _stage(conn, experiment_id) != LifecycleStage.ACTIVE:
        raise CairnError.invalid(f"Cannot delete a tag of deleted experiment {experiment_id}")
    old = _tag(conn, experiment_id, key)
    gone = conn.execute(
        delete(experiment_tags)
        .where(experiment_tags.c.experiment_id == experiment_id)
        .where(experiment_tags.c.key == key)
    ).rowcount
    if not gone:
        raise CairnError.not_found(f"No tag with name: {key} in experiment {experiment_id}")
    _touch(conn, experiment_id)
    record(conn, "experiment.delete_tag", experiment_id, before={"tags": {key: old}})


def _touch(conn: Connection, experiment_id: int) -> None:
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == experiment_id)
        .values(last_update_time=now_ms())
    )
