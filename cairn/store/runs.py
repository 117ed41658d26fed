"""Runs: create, read, update, delete/restore, params and tags (SQL only)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.tracking import LifecycleStage, Run, RunInfo, RunStatus
from cairn.store import events
from cairn.store import experiments as experiment_store
from cairn.store.prepared import Prepared
from cairn.store.run_data import INFO_COLUMNS, RunRow, load_runs, run_info
from cairn.store.schema import experiments, params, run_tags, runs
from cairn.store.sql import dialect_insert, now_ms

RUN_NAME_TAG = "mlflow.runName"


RESOLVE = Prepared(select(*INFO_COLUMNS).where(runs.c.run_uuid == bindparam("run_uuid")))
RUN_PARAMS = Prepared(
    select(params.c.key, params.c.value).where(params.c.run_id == bindparam("run_id"))
)
INSERT_PARAMS = Prepared(params.insert(), ("run_id", "key", "value"))


def _tag_upsert(dialect: str) -> Any:
    stmt = dialect_insert(dialect, run_tags)
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
    )


UPSERT_TAGS = Prepared(_tag_upsert, ("run_id", "key", "value"))


def resolve(conn: Connection, run_uuid: str) -> RunRow:
    found = RESOLVE.first(conn, run_uuid=run_uuid)
    if found is None:
        raise CairnError.not_found(f"Run with id={run_uuid} not found")
    return RunRow(*found)


def resolve_active(conn: Connection, run_uuid: str) -> RunRow:
    row = resolve(conn, run_uuid)
    if row.lifecycle_stage != LifecycleStage.ACTIVE:
        raise CairnError.invalid(
            f"The run {run_uuid} must be in the 'active' state. Current state is "
            f"{row.lifecycle_stage}."
        )
    return row


def get(conn: Connection, run_uuid: str) -> Run:
    return load_runs(conn, [resolve(conn, run_uuid)])[0]


EXPERIMENT_STATE = Prepared(
    select(experiments.c.lifecycle_stage, experiments.c.artifact_location).where(
        experiments.c.experiment_id == bindparam("experiment_id")
    )
)
RUN_COLUMNS = (
    "run_uuid",
    "experiment_id",
    "name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
    "deleted_with_experiment",
)
INSERT_RUN = Prepared(
    runs.insert().values({c: bindparam(c) for c in RUN_COLUMNS}).returning(runs.c.id)
)


def create(
    conn: Connection,
    experiment_id: int,
    user_id: str | None,
    start_time: int | None,
    run_name: str,
    tags: dict[str, str],
    run_uuid: str | None = None,
) -> Run:
    """Create a run; ``run_uuid`` is its id when the caller chose one (an import), refused
    when another run has it."""
    state = EXPERIMENT_STATE.first(conn, experiment_id=experiment_id)
    if state is None:
        raise CairnError.not_found(f"No Experiment with id={experiment_id} exists")
    stage, location = state
    if stage != LifecycleStage.ACTIVE:
        raise CairnError.invalid(
            f"Experiment {experiment_id} is deleted; restore it before creating runs in it"
        )
    if run_uuid is None:
        run_uuid = uuid.uuid4().hex
    elif RESOLVE.first(conn, run_uuid=run_uuid) is not None:
        raise CairnError.exists(f"A run with run_id={run_uuid} already exists")
    root = experiment_store.artifact_location_of(experiment_id, location).rstrip("/")
    info = RunInfo(
        run_id=run_uuid,
        experiment_id=str(experiment_id),
        run_name=run_name,
        user_id=user_id,
        status=RunStatus.RUNNING,
        start_time=start_time if start_time is not None else now_ms(),
        end_time=None,
        artifact_uri=f"{root}/{run_uuid}/artifacts",
        lifecycle_stage=LifecycleStage.ACTIVE,
    )
    (new_id,) = INSERT_RUN.rows(
        conn,
        run_uuid=run_uuid,
        experiment_id=experiment_id,
        name=run_name,
        user_id=user_id,
        status=info.status,
        start_time=info.start_time,
        end_time=None,
        lifecycle_stage=info.lifecycle_stage,
        artifact_uri=info.artifact_uri,
        deleted_with_experiment=False,
    )[0]
    tags = {**tags, RUN_NAME_TAG: run_name}
    UPSERT_TAGS.many(conn, [(new_id, k, v) for k, v in tags.items()])
    after = {"name": run_name, "user_id": user_id, "start_time": info.start_time, "tags": tags}
    events.record(conn, _change("run.create", info.run_id, experiment_id, user_id, after=after))
    return Run(info=info, tags=tags)


def _change(
    action: str,
    run_uuid: str,
    experiment_id: int,
    user_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> Change:
    """A change to run ``run_uuid``; ``user_id`` (the run's ``mlflow.user``) is the claimed user."""
    return Change(
        action,
        EntityType.RUN,
        run_uuid,
        experiment_id=str(experiment_id),
        before=before,
        after=after,
        claimed_user=user_id,
    )


def record(
    conn: Connection,
    action: str,
    row: RunRow,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a change to the run of ``row`` in the current write."""
    events.record(
        conn, _change(action, row.run_uuid, row.experiment_id, row.user_id, before, after)
    )


def update_info(
    conn: Connection,
    run_uuid: str,
    status: str | None,
    end_time: int | None,
    run_name: str | None,
) -> RunInfo:
    row = resolve_active(conn, run_uuid)
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
    if end_time is not None:
        values["end_time"] = end_time
    if run_name:
        values["name"] = run_name
        _set_tags(conn, row.id, {RUN_NAME_TAG: run_name})
    if values:
        conn.execute(update(runs).where(runs.c.id == row.id).values(**values))
        old = row._asdict()
        changed = [k for k in values if old[k] != values[k]]
        if changed:
            before = {k: old[k] for k in changed}
            record(conn, "run.update", row, before, {k: values[k] for k in changed})
    return run_info(resolve(conn, run_uuid))


def set_lifecycle(conn: Connection, run_uuid: str, stage: LifecycleStage) -> None:
    row = resolve(conn, run_uuid)
    if stage == LifecycleStage.ACTIVE:
        exp_stage = conn.execute(
            select(experiments.c.lifecycle_stage).where(
                experiments.c.experiment_id == row.experiment_id
            )
        ).scalar()
        if exp_stage != LifecycleStage.ACTIVE:
            raise CairnError.invalid(
                f"Cannot restore run {run_uuid}: its experiment {row.experiment_id} is deleted; "
                "restore the experiment first"
            )
    conn.execute(
        update(runs)
        .where(runs.c.id == row.id)
        .values(
            lifecycle_stage=stage,
            deleted_time=now_ms() if stage == LifecycleStage.DELETED else None,
            deleted_with_experiment=False,
        )
    )
    if row.lifecycle_stage != stage:
        action = "run.delete" if stage == LifecycleStage.DELETED else "run.restore"
        stages = ({"lifecycle_stage": row.lifecycle_stage}, {"lifecycle_stage": str(stage)})
        record(conn, action, row, *stages)


def log_params(conn: Connection, run_id: int, run_uuid: str, values: dict[str, str]) -> None:
    """Insert params; an existing key with the same value is fine, a different value is not."""
    if not values:
        return
    logged = RUN_PARAMS.rows(conn, run_id=run_id)
    existing: dict[str, str] = {row[0]: row[1] for row in logged if row[0] in values}
    for key, old in existing.items():
        if old != values[key]:
            raise CairnError.invalid(
                f"Changing param values is not allowed. Param with key='{key}' was already "
                f"logged with value='{old}' for run ID='{run_uuid}'. Attempted logging new "
                f"value '{values[key]}'."
            )
    INSERT_PARAMS.many(conn, [(run_id, k, v) for k, v in values.items() if k not in existing])


def set_tags(conn: Connection, run_id: int, values: dict[str, str]) -> None:
    _set_tags(conn, run_id, values)
    if RUN_NAME_TAG in values:
        conn.execute(update(runs).where(runs.c.id == run_id).values(name=values[RUN_NAME_TAG]))


def tag_values(conn: Connection, run_id: int, keys: list[str]) -> dict[str, str]:
    """The current values of those of ``keys`` the run has."""
    rows = conn.execute(
        select(run_tags.c.key, run_tags.c.value)
        .where(run_tags.c.run_id == run_id)
        .where(run_tags.c.key.in_(keys))
    )
    return {key: value for key, value in rows}


def _set_tags(conn: Connection, run_id: int, values: dict[str, str]) -> None:
    UPSERT_TAGS.many(conn, [(run_id, k, v) for k, v in values.items()])


def delete_tag(conn: Connection, run_uuid: str, key: str) -> None:
    row = resolve_active(conn, run_uuid)
    old = conn.execute(
        select(run_tags.c.value).where(run_tags.c.run_id == row.id).where(run_tags.c.key == key)
    ).scalar()
    gone = conn.execute(
        delete(run_tags).where(run_tags.c.run_id == row.id).where(run_tags.c.key == key)
    ).rowcount
    if not gone:
        raise CairnError.not_found(f"No tag with name: {key} in run with id {run_uuid}")
    record(conn, "run.delete_tag", row, before={"tags": {key: old}})
