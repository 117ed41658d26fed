"""MLflow 3 logged models, their tags, params and metrics, and runs' model outputs (SQL only)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.logged_models import LoggedModel, LoggedModelStatus, ModelMetric
from cairn.entities.tracking import LifecycleStage
from cairn.store import events
from cairn.store import experiments as experiment_store
from cairn.store import runs as run_store
from cairn.store.schema import (
    experiments,
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    run_outputs,
)
from cairn.store.sql import AnyRow, now_ms, upsert_insert

lm = logged_models.c


def new_model_id() -> str:
    return f"m-{uuid.uuid4().hex}"


def create(
    conn: Connection,
    experiment_id: int,
    name: str,
    source_run_id: str | None,
    model_type: str | None,
    tags: dict[str, str],
    params: dict[str, str],
    model_id: str | None = None,
) -> LoggedModel:
    """Create a logged model; ``model_id`` is its id when the caller chose one (an import),
    refused when another model has it."""
    state = conn.execute(
        select(experiments.c.lifecycle_stage, experiments.c.artifact_location).where(
            experiments.c.experiment_id == experiment_id
        )
    ).first()
    if state is None:
        raise CairnError.not_found(f"No Experiment with id={experiment_id} exists")
    if state[0] != LifecycleStage.ACTIVE:
        raise CairnError.invalid(
            f"Experiment {experiment_id} is deleted; restore it before logging models in it"
        )
    # as MLflow: the source run is recorded as given, it need not exist on this server
    if model_id is None:
        model_id = new_model_id()
    elif conn.execute(select(lm.id).where(lm.model_id == model_id)).first() is not None:
        raise CairnError.exists(f"A logged model with model_id={model_id} already exists")
    root = experiment_store.artifact_location_of(experiment_id, state[1]).rstrip("/")
    now = now_ms()
    pk = conn.execute(
        logged_models.insert()
        .values(
            model_id=model_id,
            experiment_id=experiment_id,
            name=name,
            artifact_location=f"{root}/models/{model_id}/artifacts",
            status=LoggedModelStatus.LOGGED_MODEL_PENDING.value,
            model_type=model_type,
            source_run_id=source_run_id,
            lifecycle_stage=LifecycleStage.ACTIVE.value,
            creation_time=now,
            last_updated_time=now,
        )
        .returning(lm.id)
    ).scalar_one()
    _set_tags(conn, pk, tags)
    _add_params(conn, pk, params)
    after = {
        "name": name,
        "status": LoggedModelStatus.LOGGED_MODEL_PENDING.value,
        "model_type": model_type,
        "source_run_id": source_run_id,
        "tags": tags,
        "params": params,
    }
    events.record(conn, _change("logged_model.create", model_id, experiment_id, after=after))
    return load(conn, [_row(conn, model_id)])[0]


def _change(
    action: str,
    model_id: str,
    experiment_id: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> Change:
    eid = str(experiment_id)
    return Change(action, EntityType.LOGGED_MODEL, model_id, eid, before=before, after=after)


def _record(
    conn: Connection,
    action: str,
    row: AnyRow,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a change to the logged model of ``row`` in the current write."""
    events.record(conn, _change(action, row.model_id, row.experiment_id, before, after))


def _row(conn: Connection, model_id: str, allow_deleted: bool = False) -> AnyRow:
    row = conn.execute(select(logged_models).where(lm.model_id == model_id)).first()
    if row is None or (not allow_deleted and row.lifecycle_stage != LifecycleStage.ACTIVE):
        raise CairnError.not_found(f"Logged model with ID '{model_id}' not found.")
    return row


def resolve(conn: Connection, model_id: str, allow_deleted: bool = False) -> int:
    """The surrogate key of an existing (by default: not deleted) logged model."""
    pk: int = _row(conn, model_id, allow_deleted).id
    return pk


def get(conn: Connection, model_id: str, allow_deleted: bool = False) -> LoggedModel:
    return load(conn, [_row(conn, model_id, allow_deleted)])[0]


def load(conn: Connection, rows: Sequence[AnyRow]) -> list[LoggedModel]:
    """Whole logged models for ``rows`` of the logged_models table, in the same order."""
    by_pk = {
        r.id: LoggedModel(
            model_id=r.model_id,
            experiment_id=str(r.experiment_id),
            name=r.name,
            artifact_uri=r.artifact_location,
            status=r.status,
            model_type=r.model_type,
            source_run_id=r.source_run_id,
            status_message=r.status_message,
            lifecycle_stage=r.lifecycle_stage,
            creation_time=r.creation_time,
            last_updated_time=r.last_updated_time,
        )
        for r in rows
    }
    ids = list(by_pk)
    if not ids:
        return []
    t, p, m = logged_model_tags.c, logged_model_params.c, logged_model_metrics.c
    for pk, key, value in conn.execute(select(t.lm_id, t.key, t.value).where(t.lm_id.in_(ids))):
        by_pk[pk].tags[key] = value
    for pk, key, value in conn.execute(select(p.lm_id, p.key, p.value).where(p.lm_id.in_(ids))):
        by_pk[pk].params[key] = value
    metric_rows = conn.execute(
        select(
            m.lm_id,
            m.key,
            m.value,
            m.is_nan,
            m.timestamp,
            m.step,
            m.run_id,
            m.dataset_name,
            m.dataset_digest,
        )
        .where(m.lm_id.in_(ids))
        .order_by(m.lm_id, m.key, m.step, m.timestamp)
    )
    for pk, key, value, is_nan, ts, step, run_id, ds_name, ds_digest in metric_rows:
        by_pk[pk].metrics.append(
            ModelMetric(key, math.nan if is_nan else value, ts, step, run_id, ds_name, ds_digest)
        )
    return [by_pk[r.id] for r in rows]


def _touch(conn: Connection, pk: int) -> None:
    conn.execute(update(logged_models).where(lm.id == pk).values(last_updated_time=now_ms()))


def finalize(conn: Connection, model_id: str, status: LoggedModelStatus) -> LoggedModel:
    row = _row(conn, model_id)
    conn.execute(
        update(logged_models)
        .where(lm.id == row.id)
        .values(status=status.value, last_updated_time=now_ms())
    )
    if row.status != status.value:
        stages = ({"status": row.status}, {"status": status.value})
        _record(conn, "logged_model.finalize", row, *stages)
    return get(conn, model_id)


def _tag_values(conn: Connection, pk: int, keys: list[str]) -> dict[str, str]:
    t = logged_model_tags.c
    found = conn.execute(select(t.key, t.value).where(t.lm_id == pk, t.key.in_(keys))).all()
    return {key: value for key, value in found}


def set_tags(conn: Connection, model_id: str, tags: dict[str, str]) -> None:
    """Set tags of a logged model: one ``logged_model.set_tags`` event (earlier values of
    the tags it replaces before)."""
    if not tags:
        resolve(conn, model_id)
        return
    row = _row(conn, model_id)
    old = _tag_values(conn, row.id, list(tags))
    _set_tags(conn, row.id, tags)
    changed = {k: v for k, v in old.items() if v != tags[k]}
    before = {"tags": changed} if changed else None
    _record(conn, "logged_model.set_tags", row, before, {"tags": tags})


MODEL_VERSIONS_TAG = "mlflow.modelVersions"
"""The registered versions of a logged model, as MLflow keeps them: a JSON list of
``{"name": …, "version": …}``, appended to on each registration."""


def add_model_version(conn: Connection, model_id: str, name: str, version: int) -> None:
    """Note a registered version on its logged model (:data:`MODEL_VERSIONS_TAG`); nothing
    when the model is unknown or deleted (a version may name a model id it cannot see)."""
    row = conn.execute(select(logged_models).where(lm.model_id == model_id)).first()
    if row is None or row.lifecycle_stage != LifecycleStage.ACTIVE:
        return
    current = _tag_values(conn, row.id, [MODEL_VERSIONS_TAG]).get(MODEL_VERSIONS_TAG)
    try:
        listed = json.loads(current) if current else []
    except ValueError:
        listed = []
    if not isinstance(listed, list):
        listed = []
    listed.append({"name": name, "version": version})
    tags = {MODEL_VERSIONS_TAG: json.dumps(listed)}
    _set_tags(conn, row.id, tags)
    before = {"tags": {MODEL_VERSIONS_TAG: current}} if current else None
    _record(conn, "logged_model.set_tags", row, before, {"tags": tags})


def _set_tags(conn: Connection, pk: int, tags: dict[str, str]) -> None:
    if not tags:
        return
    stmt = upsert_insert(conn, logged_model_tags)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["lm_id", "key"], set_={"value": stmt.excluded.value}
        ),
        [{"lm_id": pk, "key": k, "value": v} for k, v in tags.items()],
    )
    _touch(conn, pk)


def delete_tag(conn: Connection, model_id: str, key: str) -> None:
    row = _row(conn, model_id)
    old = _tag_values(conn, row.id, [key])
    t = logged_model_tags.c
    gone = conn.execute(delete(logged_model_tags).where(t.lm_id == row.id, t.key == key)).rowcount
    if not gone:
        raise CairnError.not_found(f"No tag with key '{key}' on logged model '{model_id}'")
    _touch(conn, row.id)
    _record(conn, "logged_model.delete_tag", row, before={"tags": old})


def add_params(conn: Connection, model_id: str, params: dict[str, str]) -> None:
    """Log params of a logged model: one ``logged_model.log_params`` event with the params
    that were new (none when every one was already there with the same value)."""
    row = _row(conn, model_id)
    new = _add_params(conn, row.id, params)
    if new:
        _record(conn, "logged_model.log_params", row, after={"params": new})


def _add_params(conn: Connection, pk: int, params: dict[str, str]) -> dict[str, str]:
    """Params of a logged model are write-once, like a run's: the same value again is fine.
    Returns those that were added."""
    if not params:
        return {}
    p = logged_model_params.c
    existing = dict(
        conn.execute(select(p.key, p.value).where(p.lm_id == pk, p.key.in_(list(params)))).all()
    )
    for key, old in existing.items():
        if old != params[key]:
            raise CairnError.invalid(
                f"Changing param values is not allowed. Param with key='{key}' was already "
                f"logged with value='{old}'; attempted new value '{params[key]}'."
            )
    new = {k: v for k, v in params.items() if k not in existing}
    if new:
        rows = [{"lm_id": pk, "key": k, "value": v} for k, v in new.items()]
        conn.execute(logged_model_params.insert(), rows)
        _touch(conn, pk)
    return new


def delete_model(conn: Connection, model_id: str) -> None:
    row = _row(conn, model_id)
    conn.execute(
        update(logged_models)
        .where(lm.id == row.id)
        .values(lifecycle_stage=LifecycleStage.DELETED.value, last_updated_time=now_ms())
    )
    stages = ({"lifecycle_stage": row.lifecycle_stage}, {"lifecycle_stage": "deleted"})
    _record(conn, "logged_model.delete", row, *stages)


def log_metrics(
    conn: Connection,
    run_uuid: str | None,
    points: Sequence[tuple[str, str, float, int, int, str | None, str | None]],
) -> None:
    """Attach metric points to logged models (``(model_id, key, value, timestamp, step,
    dataset_name, dataset_digest)``); an identical point again is a no-op."""
    pks: dict[str, int] = {}
    rows = []
    for model_id, key, value, ts, step, ds_name, ds_digest in points:
        if model_id not in pks:
            pks[model_id] = resolve(conn, model_id)
        nan = math.isnan(value)
        rows.append(
            {
                "lm_id": pks[model_id],
                "key": key,
                "value": 0.0 if nan else value,
                "is_nan": nan,
                "step": step,
                "timestamp": ts,
                "run_id": run_uuid,
                "dataset_name": ds_name,
                "dataset_digest": ds_digest,
            }
        )
    if rows:
        stmt = upsert_insert(conn, logged_model_metrics)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["lm_id", "key", "step", "timestamp"],
                set_={"value": stmt.excluded.value, "is_nan": stmt.excluded.is_nan},
            ),
            rows,
        )


def log_outputs(conn: Connection, run_uuid: str, models: Sequence[tuple[str, int]]) -> None:
    """Record that a run produced these logged models (``runs/outputs``)."""
    run = run_store.resolve_active(conn, run_uuid)
    for model_id, _step in models:
        resolve(conn, model_id)
    if models:
        stmt = upsert_insert(conn, run_outputs)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["run_id", "model_id"], set_={"step": stmt.excluded.step}
            ),
            [{"run_id": run.id, "model_id": m, "step": s} for m, s in models],
        )
        outputs = [{"model_id": m, "step": s} for m, s in models]
        run_store.record(conn, "run.log_outputs", run, after={"models": outputs})
