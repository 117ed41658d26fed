"""Datasets across experiments, for Cairn's own datasets API: listing with usage counts, and
lineage (the runs that used a dataset, and the model versions registered from those runs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, func, select

from cairn.entities.access import ALL, Visibility
from cairn.entities.datasets import DatasetRow, Lineage, RunUse, VersionUse
from cairn.entities.errors import CairnError
from cairn.entities.tracking import Page
from cairn.store.filters import CONTEXT_TAG
from cairn.store.paging import decode_token, encode_token, query_fingerprint
from cairn.store.schema import (
    datasets,
    experiments,
    input_tags,
    model_aliases,
    model_versions,
    registered_models,
    run_inputs,
    runs,
)
from cairn.store.sql import AnyRow
from cairn.store.visibility import condition, experiment_key, model_key, restrict

d = datasets.c


def _select() -> Select[Any]:
    uses = (
        select(func.count(run_inputs.c.id))
        .where(run_inputs.c.dataset_id == d.id)
        .scalar_subquery()
        .label("run_count")
    )
    return select(
        d.id,
        d.dataset_uuid,
        d.experiment_id,
        d.name,
        d.digest,
        d.source_type,
        d.source,
        d.schema,
        d.profile,
        uses,
    )


def _row(r: AnyRow) -> DatasetRow:
    return DatasetRow(
        r.dataset_uuid,
        str(r.experiment_id),
        r.name,
        r.digest,
        r.source_type,
        r.source,
        r.schema,
        r.profile,
        r.run_count,
    )


def list_datasets(
    conn: Connection,
    experiment_id: int | None,
    name: str | None,
    max_results: int,
    page_token: str | None,
    visibility: Visibility = ALL,
) -> Page[DatasetRow]:
    """A page of datasets, of the experiments ``visibility`` lets the caller read (a dataset
    belongs to one experiment, and only that experiment's runs use it)."""
    query = _select().order_by(d.id).limit(max_results + 1)
    if experiment_id is not None:
        query = query.where(d.experiment_id == experiment_id)
    if name is not None:
        query = query.where(d.name == name)
    e = experiments.c
    readable = condition(visibility, e.experiment_id, experiment_key, e.name)
    if readable is not None:
        query = query.where(d.experiment_id.in_(select(e.experiment_id).where(readable)))
    fingerprint = query_fingerprint("datasets", experiment_id, name)
    if page_token:
        (last,) = decode_token(page_token, fingerprint, 1)
        query = query.where(d.id > last)
    rows = conn.execute(query).all()
    token = None
    if len(rows) > max_results:
        rows = rows[:max_results]
        token = encode_token([rows[-1].id], fingerprint)
    return Page([_row(r) for r in rows], next_page_token=token)


def summaries(
    conn: Connection, experiment_ids: list[int], limit: int
) -> list[tuple[int, str, str, str]]:
    """(experiment id, name, digest, context) of the datasets runs of ``experiment_ids`` used,
    each combination once (context ``""`` when the input had none), newest datasets first."""
    context = input_tags.alias("context")
    rows = conn.execute(
        select(d.experiment_id, d.name, d.digest, func.coalesce(context.c.value, ""))
        .join(run_inputs, run_inputs.c.dataset_id == d.id)
        .outerjoin(
            context,
            (context.c.input_id == run_inputs.c.id) & (context.c.key == CONTEXT_TAG),
        )
        .where(d.experiment_id.in_(experiment_ids))
        .group_by(d.experiment_id, d.name, d.digest, context.c.value)
        .order_by(func.max(d.id).desc())
        .limit(limit)
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def lineage(
    conn: Connection,
    dataset_uuid: str,
    models: Visibility = ALL,
    experiments_: Visibility = ALL,
) -> Lineage:
    """A dataset, the runs that used it, and the versions registered from those runs of the
    registered models ``models`` lets the caller read. A dataset of an experiment that
    ``experiments_`` hides is not found, as in the list."""
    query = _select().where(d.dataset_uuid == dataset_uuid)
    e = experiments.c
    readable = condition(experiments_, e.experiment_id, experiment_key, e.name)
    if readable is not None:
        query = query.where(d.experiment_id.in_(select(e.experiment_id).where(readable)))
    found = conn.execute(query).first()
    if found is None:
        raise CairnError.not_found(f"Dataset '{dataset_uuid}' not found")
    context = (
        select(input_tags.c.value)
        .where(input_tags.c.input_id == run_inputs.c.id, input_tags.c.key == CONTEXT_TAG)
        .scalar_subquery()
    )
    used = conn.execute(
        select(runs.c.run_uuid, runs.c.name, context)
        .join(run_inputs, run_inputs.c.run_id == runs.c.id)
        .where(run_inputs.c.dataset_id == found.id)
        .order_by(runs.c.start_time, runs.c.run_uuid)
    ).all()
    run_uses = [RunUse(r[0], r[1], r[2]) for r in used]
    versions = _versions(conn, [r.run_id for r in run_uses], models)
    return Lineage(_row(found), run_uses, versions)


def _versions(conn: Connection, run_ids: list[str], models: Visibility) -> list[VersionUse]:
    if not run_ids:
        return []
    mv, rm = model_versions.c, registered_models.c
    query = (
        select(mv.model_id, rm.name, mv.version, mv.run_id, mv.current_stage, mv.status, mv.source)
        .join(registered_models, rm.id == mv.model_id)
        .where(mv.run_id.in_(run_ids))
        .order_by(rm.name, mv.version)
    )
    rows = conn.execute(restrict(query, models, rm.name, model_key)).all()
    out = {
        (r.model_id, r.version): VersionUse(
            r.name, str(r.version), r.run_id, r.current_stage, r.status, r.source
        )
        for r in rows
    }
    if out:
        al = model_aliases.c
        for model_id, version, alias in conn.execute(
            select(al.model_id, al.version, al.alias)
            .where(al.model_id.in_({k[0] for k in out}))
            .order_by(al.alias)
        ):
            if (model_id, version) in out:
                out[(model_id, version)].aliases.append(alias)
    return list(out.values())


def find(conn: Connection, ref: str, limit: int) -> list[DatasetRow]:
    """Datasets named ``ref`` or with digest ``ref``, newest first (at most ``limit``)."""
    query = _select().where((d.name == ref) | (d.digest == ref)).order_by(d.id.desc())
    return [_row(r) for r in conn.execute(query.limit(limit)).all()]
