"""The model registry: registered models, versions, tags, stages, aliases (SQL only).

Versions, aliases and events reference ``registered_models.id``, so a rename is one UPDATE.
Every change of a version's existence, stage or alias, and every rename, adds a
``model_events`` row (the promotion history) in the same transaction. Every change at all
records one change event (:func:`change`): entity ``registered_model`` (id = the name) or
``model_version`` (id = ``name/version``), with ``model_name`` set.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.registry import EventKind, ModelVersion, RegisteredModel, Stage
from cairn.store import events
from cairn.store import logged_models as logged_model_store
from cairn.store.prepared import Prepared
from cairn.store.registry_load import latest_per_stage, load_models, load_versions
from cairn.store.schema import (
    logged_models,
    model_aliases,
    model_events,
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)
from cairn.store.sql import AnyRow, now_ms, upsert_insert

rm, mv = registered_models.c, model_versions.c


MODEL_BY_NAME = Prepared(select(registered_models).where(rm.name == bindparam("name")))


def model_row(conn: Connection, name: str) -> AnyRow:
    found = MODEL_BY_NAME.named(conn, name=name)
    if not found:
        raise CairnError.not_found(f"Registered Model with name={name} not found")
    row: AnyRow = found[0]
    return row


def version_row(conn: Connection, model: AnyRow, version: int) -> AnyRow:
    row = conn.execute(
        select(model_versions).where(mv.model_id == model.id, mv.version == version)
    ).first()
    if row is None:
        raise CairnError.not_found(
            f"Model Version (name={model.name}, version={version}) not found"
        )
    return row


def record(
    conn: Connection,
    model: AnyRow,
    version: int | None,
    kind: EventKind,
    from_value: str | None,
    to_value: str | None,
    actor: str | None,
    *,
    name: str | None = None,
) -> None:
    """Add one promotion-history event for ``model``."""
    conn.execute(
        model_events.insert().values(
            model_id=model.id,
            model_name=name or model.name,
            version=version,
            kind=kind.value,
            from_value=from_value,
            to_value=to_value,
            actor=actor,
            time=now_ms(),
        )
    )


def change(
    conn: Connection,
    action: str,
    name: str,
    version: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record one change event of model ``name`` (or of its ``version``) in this write."""
    if version is None:
        entity_type, entity_id = EntityType.REGISTERED_MODEL, name
    else:
        entity_type, entity_id = EntityType.MODEL_VERSION, f"{name}/{version}"
    events.record(
        conn, Change(action, entity_type, entity_id, model_name=name, before=before, after=after)
    )


def _touch(conn: Connection, model_id: int, now: int) -> None:
    conn.execute(update(registered_models).where(rm.id == model_id).values(last_updated_time=now))


# ---------------------------------------------------------------------- registered models
def create_model(
    conn: Connection, name: str, description: str | None, tags: dict[str, str]
) -> RegisteredModel:
    if conn.execute(select(rm.id).where(rm.name == name)).first():
        raise CairnError.exists(f"Registered Model (name={name}) already exists.")
    now = now_ms()
    try:
        model_id = conn.execute(
            registered_models.insert()
            .values(
                name=name,
                description=description,
                creation_time=now,
                last_updated_time=now,
                next_version=1,
            )
            .returning(rm.id)
        ).scalar_one()
    except IntegrityError as exc:  # a concurrent create won the race for the name
        raise CairnError.exists(f"Registered Model (name={name}) already exists.") from exc
    if tags:
        conn.execute(
            registered_model_tags.insert(),
            [{"model_id": model_id, "key": k, "value": v} for k, v in tags.items()],
        )
    after = {"name": name, "description": description, "tags": tags}
    change(conn, "registered_model.create", name, after=after)
    return get_model(conn, name)


def get_model(conn: Connection, name: str) -> RegisteredModel:
    return load_models(conn, [model_row(conn, name)])[0]


def rename_model(conn: Connection, name: str, new_name: str, actor: str | None) -> RegisteredModel:
    model = model_row(conn, name)
    if new_name == name:
        return get_model(conn, name)
    if conn.execute(select(rm.id).where(rm.name == new_name)).first():
        raise CairnError.exists(f"Registered Model (name={new_name}) already exists.")
    conn.execute(
        update(registered_models)
        .where(rm.id == model.id)
        .values(name=new_name, last_updated_time=now_ms())
    )
    record(conn, model, None, EventKind.MODEL_RENAMED, name, new_name, actor, name=new_name)
    change(
        conn, "registered_model.rename", new_name, before={"name": name}, after={"name": new_name}
    )
    return get_model(conn, new_name)


def update_model(conn: Connection, name: str, description: str | None) -> RegisteredModel:
    model = model_row(conn, name)
    conn.execute(
        update(registered_models)
        .where(rm.id == model.id)
        .values(description=description, last_updated_time=now_ms())
    )
    if model.description != description:
        before, after = {"description": model.description}, {"description": description}
        change(conn, "registered_model.update", name, before=before, after=after)
    return get_model(conn, name)


def delete_model(conn: Connection, name: str, actor: str | None) -> None:
    """Delete a model with its versions, tags and aliases; its events stay (model_id NULL)."""
    model = model_row(conn, name)
    record(conn, model, None, EventKind.MODEL_DELETED, name, None, actor)
    versions = conn.execute(select(mv.version).where(mv.model_id == model.id)).scalars().all()
    before = {"name": name, "versions": [int(ver) for ver in versions]}
    change(conn, "registered_model.delete", name, before=before)
    # the whole history stays reachable under the name the model had last
    conn.execute(
        update(model_events).where(model_events.c.model_id == model.id).values(model_name=name)
    )
    conn.execute(delete(registered_models).where(rm.id == model.id))


def _model_tag(conn: Connection, model_id: int, key: str) -> str | None:
    t = registered_model_tags.c
    value: str | None = conn.execute(
        select(t.value).where(t.model_id == model_id, t.key == key)
    ).scalar_one_or_none()
    return value


def _tag_change(
    conn: Connection,
    action: str,
    name: str,
    version: int | None,
    key: str,
    old: str | None,
    new: str | None,
) -> None:
    """Record a tag set (``new`` given) or delete, unless it changed nothing."""
    if old == new:
        return
    before = None if old is None else {"tags": {key: old}}
    after = None if new is None else {"tags": {key: new}}
    change(conn, action, name, version, before, after)


def set_model_tag(conn: Connection, name: str, key: str, value: str) -> None:
    model = model_row(conn, name)
    old = _model_tag(conn, model.id, key)
    t = registered_model_tags.c
    stmt = upsert_insert(conn, registered_model_tags).values(
        model_id=model.id, key=key, value=value
    )
    conn.execute(
        stmt.on_conflict_do_update(index_elements=[t.model_id, t.key], set_={"value": value})
    )
    _tag_change(conn, "registered_model.set_tag", name, None, key, old, value)


def delete_model_tag(conn: Connection, name: str, key: str) -> None:
    model = model_row(conn, name)
    old = _model_tag(conn, model.id, key)
    t = registered_model_tags.c
    conn.execute(delete(registered_model_tags).where(t.model_id == model.id, t.key == key))
    _tag_change(conn, "registered_model.delete_tag", name, None, key, old, None)


# --------------------------------------------------------------------------- versions
def create_version(
    conn: Connection, name: str, fields: dict[str, Any], tags: dict[str, str], actor: str | None
) -> ModelVersion:
    """A new version numbered from the model's ``next_version`` (numbers are never reused).

    ``fields``: source, run_id, run_link, description, user_id, logged_model_id,
    storage_location. A version of a logged model given without a run gets the logged
    model's source run, as MLflow 3's server does (``mlflow.<flavor>.log_model(...,
    registered_model_name=...)`` sends none)."""
    model = model_row(conn, name)
    if not fields.get("run_id") and fields.get("logged_model_id"):
        lm = logged_models.c
        fields = {
            **fields,
            "run_id": conn.execute(
                select(lm.source_run_id).where(lm.model_id == fields["logged_model_id"])
            ).scalar(),
        }
    now = now_ms()
    # the UPDATE locks the row until commit; then read what it wrote (MySQL has no UPDATE …
    # RETURNING)
    conn.execute(
        update(registered_models)
        .where(rm.id == model.id)
        .values(next_version=rm.next_version + 1, last_updated_time=now)
    )
    nxt = conn.execute(select(rm.next_version).where(rm.id == model.id)).scalar_one()
    version = int(nxt) - 1
    vid = conn.execute(
        model_versions.insert()
        .values(
            model_id=model.id,
            version=version,
            creation_time=now,
            last_updated_time=now,
            current_stage=Stage.NONE.value,
            status="READY",
            **fields,
        )
        .returning(mv.id)
    ).scalar_one()
    if tags:
        conn.execute(
            model_version_tags.insert(),
            [{"version_id": vid, "key": k, "value": v} for k, v in tags.items()],
        )
    record(conn, model, version, EventKind.VERSION_CREATED, None, Stage.NONE.value, actor)
    after = {k: fields.get(k) for k in ("source", "run_id", "description", "logged_model_id")}
    change(conn, "model_version.create", name, version, after={**after, "tags": tags})
    if fields.get("logged_model_id"):
        logged_model_store.add_model_version(conn, fields["logged_model_id"], name, version)
    return get_version(conn, name, version)


def get_version(conn: Connection, name: str, version: int) -> ModelVersion:
    model = model_row(conn, name)
    row = version_row(conn, model, version)
    return load_versions(conn, [row], {model.id: model.name})[0]


def storage_location(
    conn: Connection, name: str, version: int
) -> tuple[str | None, str, str | None]:
    """(storage_location, source, logged_model_id) of a version."""
    row = version_row(conn, model_row(conn, name), version)
    return row.storage_location, row.source, row.logged_model_id


def update_version(
    conn: Connection, name: str, version: int, description: str | None
) -> ModelVersion:
    row = version_row(conn, model_row(conn, name), version)
    conn.execute(
        update(model_versions)
        .where(mv.id == row.id)
        .values(description=description, last_updated_time=now_ms())
    )
    if row.description != description:
        before, after = {"description": row.description}, {"description": description}
        change(conn, "model_version.update", name, version, before, after)
    return get_version(conn, name, version)


def delete_version(conn: Connection, name: str, version: int, actor: str | None) -> None:
    model = model_row(conn, name)
    row = version_row(conn, model, version)
    a = model_aliases.c
    conn.execute(delete(model_aliases).where(a.model_id == model.id, a.version == version))
    conn.execute(delete(model_versions).where(mv.id == row.id))
    _touch(conn, model.id, now_ms())
    record(conn, model, version, EventKind.VERSION_DELETED, row.current_stage, None, actor)
    before = {"stage": row.current_stage, "source": row.source, "run_id": row.run_id}
    change(conn, "model_version.delete", name, version, before=before)


def _version_tag(conn: Connection, version_id: int, key: str) -> str | None:
    t = model_version_tags.c
    value: str | None = conn.execute(
        select(t.value).where(t.version_id == version_id, t.key == key)
    ).scalar_one_or_none()
    return value


def set_version_tag(conn: Connection, name: str, version: int, key: str, value: str) -> None:
    row = version_row(conn, model_row(conn, name), version)
    old = _version_tag(conn, row.id, key)
    t = model_version_tags.c
    stmt = upsert_insert(conn, model_version_tags).values(version_id=row.id, key=key, value=value)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=[t.version_id, t.key], set_={"value": value})
    )
    _tag_change(conn, "model_version.set_tag", name, version, key, old, value)


def delete_version_tag(conn: Connection, name: str, version: int, key: str) -> None:
    row = version_row(conn, model_row(conn, name), version)
    old = _version_tag(conn, row.id, key)
    t = model_version_tags.c
    conn.execute(delete(model_version_tags).where(t.version_id == row.id, t.key == key))
    _tag_change(conn, "model_version.delete_tag", name, version, key, old, None)


def transition_stage(
    conn: Connection,
    name: str,
    version: int,
    stage: Stage,
    archive_existing: bool,
    actor: str | None,
) -> ModelVersion:
    """Move a version to ``stage``; with ``archive_existing`` (Staging/Production only) the
    other versions in that stage go to Archived, each recorded as its own event."""
    model = model_row(conn, name)
    row = version_row(conn, model, version)
    now = now_ms()
    if archive_existing and stage in (Stage.STAGING, Stage.PRODUCTION):
        others = conn.execute(
            select(mv.id, mv.version)
            .where(mv.model_id == model.id, mv.current_stage == stage.value, mv.id != row.id)
            .order_by(mv.version)
        ).all()
        for other_id, other_version in others:
            conn.execute(
                update(model_versions)
                .where(mv.id == other_id)
                .values(current_stage=Stage.ARCHIVED.value, last_updated_time=now)
            )
            record(
                conn,
                model,
                other_version,
                EventKind.STAGE_TRANSITION,
                stage.value,
                Stage.ARCHIVED.value,
                actor,
            )
            _stage_change(conn, name, other_version, stage.value, Stage.ARCHIVED.value)
    if row.current_stage != stage.value:
        conn.execute(
            update(model_versions)
            .where(mv.id == row.id)
            .values(current_stage=stage.value, last_updated_time=now)
        )
        record(
            conn, model, version, EventKind.STAGE_TRANSITION, row.current_stage, stage.value, actor
        )
        _stage_change(conn, name, version, row.current_stage, stage.value)
    _touch(conn, model.id, now)
    return get_version(conn, name, version)


def _stage_change(conn: Connection, name: str, version: int, old: str, new: str) -> None:
    before, after = {"stage": old}, {"stage": new}
    change(conn, "model_version.transition_stage", name, version, before, after)


# ---------------------------------------------------------------------------- aliases
def _alias_version(conn: Connection, model: AnyRow, alias: str) -> int | None:
    """The version ``alias`` of ``model`` points at, or None."""
    a = model_aliases.c
    version: int | None = conn.execute(
        select(a.version).where(a.model_id == model.id, a.alias == alias)
    ).scalar_one_or_none()
    return version


def set_alias(
    conn: Connection,
    name: str,
    alias: str,
    version: int,
    actor: str | None,
    reason: dict[str, Any] | None = None,
) -> None:
    """Point ``alias`` at ``version`` (moving it if it pointed elsewhere). ``reason``: why,
    when Cairn moves it by itself (added to the change event's ``after``)."""
    model = model_row(conn, name)
    version_row(conn, model, version)
    old = _alias_version(conn, model, alias)
    if old == version:
        return
    if old is None:
        conn.execute(model_aliases.insert().values(model_id=model.id, alias=alias, version=version))
        record(conn, model, version, EventKind.ALIAS_SET, None, alias, actor)
        after = {"alias": alias, "version": version, **(reason or {})}
        change(conn, "model_version.set_alias", name, version, after=after)
    else:
        a = model_aliases.c
        conn.execute(
            update(model_aliases)
            .where(a.model_id == model.id, a.alias == alias)
            .values(version=version)
        )
        record(conn, model, version, EventKind.ALIAS_MOVED, str(old), alias, actor)
        before = {"alias": alias, "version": old}
        after = {"alias": alias, "version": version, **(reason or {})}
        change(conn, "model_version.set_alias", name, version, before, after)


def delete_alias(
    conn: Connection,
    name: str,
    alias: str,
    actor: str | None,
    reason: dict[str, Any] | None = None,
) -> None:
    """Remove ``alias``; ``reason`` as for :func:`set_alias` (the event's ``after``)."""
    model = model_row(conn, name)
    old = _alias_version(conn, model, alias)
    if old is None:
        return
    a = model_aliases.c
    conn.execute(delete(model_aliases).where(a.model_id == model.id, a.alias == alias))
    record(conn, model, old, EventKind.ALIAS_DELETED, alias, None, actor)
    before = {"alias": alias, "version": old}
    change(conn, "model_version.delete_alias", name, old, before=before, after=reason)


def get_by_alias(conn: Connection, name: str, alias: str) -> ModelVersion:
    version = _alias_version(conn, model_row(conn, name), alias)
    if version is None:
        raise CairnError.invalid(f"Registered model alias {alias} not found.")
    return get_version(conn, name, version)


def latest_versions(conn: Connection, name: str, stages: list[Stage] | None) -> list[ModelVersion]:
    model = model_row(conn, name)
    return latest_per_stage(conn, [model.id], {model.id: model.name}, stages)
