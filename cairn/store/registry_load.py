"""Loading registry rows as entities: versions with tags and aliases, models with tags,
aliases and their latest version per stage."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, select

from cairn.entities.registry import ModelVersion, RegisteredModel, Stage
from cairn.store.prepared import PreparedIn
from cairn.store.schema import (
    model_aliases,
    model_version_tags,
    model_versions,
    registered_model_tags,
)
from cairn.store.sql import AnyRow

mv = model_versions.c
_t, _a = model_version_tags.c, model_aliases.c
VERSION_TAGS = PreparedIn(
    lambda ids: select(_t.version_id, _t.key, _t.value).where(_t.version_id.in_(ids))
)
ALIASES = PreparedIn(
    lambda ids: (
        select(_a.model_id, _a.alias, _a.version).where(_a.model_id.in_(ids)).order_by(_a.alias)
    )
)


def load_versions(
    conn: Connection, rows: Sequence[AnyRow], names: dict[int, str]
) -> list[ModelVersion]:
    """Versions with their tags and aliases; ``names`` maps model ids to model names."""
    ids = [r.id for r in rows]
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    aliases: dict[tuple[int, int], list[str]] = {}
    if ids:
        for vid, key, value in VERSION_TAGS.rows(conn, ids):
            tags[vid][key] = value
        model_ids = sorted({r.model_id for r in rows})
        for mid, alias, ver in ALIASES.rows(conn, model_ids):
            aliases.setdefault((mid, ver), []).append(alias)
    return [
        ModelVersion(
            name=names[r.model_id],
            version=r.version,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            description=r.description,
            user_id=r.user_id,
            current_stage=r.current_stage,
            source=r.source,
            run_id=r.run_id,
            run_link=r.run_link,
            status=r.status,
            status_message=r.status_message,
            tags=tags[r.id],
            aliases=aliases.get((r.model_id, r.version), []),
            model_id=r.logged_model_id,
        )
        for r in rows
    ]


def load_models(conn: Connection, rows: Sequence[AnyRow]) -> list[RegisteredModel]:
    """Registered models with tags, aliases and their latest version per stage."""
    ids = [r.id for r in rows]
    names = {r.id: r.name for r in rows}
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
    latest: dict[int, list[ModelVersion]] = {i: [] for i in ids}
    if ids:
        t = registered_model_tags.c
        for mid, key, value in conn.execute(
            select(t.model_id, t.key, t.value).where(t.model_id.in_(ids))
        ):
            tags[mid][key] = value
        a = model_aliases.c
        for mid, alias, ver in conn.execute(
            select(a.model_id, a.alias, a.version).where(a.model_id.in_(ids)).order_by(a.alias)
        ):
            aliases[mid][alias] = ver
        ids_by_name = {n: i for i, n in names.items()}
        for version in latest_per_stage(conn, ids, names, None):
            latest[ids_by_name[version.name]].append(version)
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            description=r.description,
            tags=tags[r.id],
            aliases=aliases[r.id],
            latest_versions=latest[r.id],
        )
        for r in rows
    ]


def latest_per_stage(
    conn: Connection, model_ids: list[int], names: dict[int, str], stages: list[Stage] | None
) -> list[ModelVersion]:
    """The highest version in each stage (of ``stages``, or all), ordered by version."""
    wanted = (
        select(mv.model_id.label("mid"), func.max(mv.version).label("top"))
        .where(mv.model_id.in_(model_ids))
        .group_by(mv.model_id, mv.current_stage)
    )
    if stages is not None:
        wanted = wanted.where(mv.current_stage.in_([s.value for s in stages]))
    top = wanted.subquery()
    rows = conn.execute(
        select(model_versions)
        .join(top, (mv.model_id == top.c.mid) & (mv.version == top.c.top))
        .order_by(mv.model_id, mv.version)
    ).all()
    return load_versions(conn, rows, names)
