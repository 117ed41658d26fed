"""Reads for comparison views (SQL only): many runs by id in a few queries, the versions of a
registered model with their source runs, and the datasets those runs used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from cairn.entities.registry import ModelVersion, Stage
from cairn.entities.tracking import Run
from cairn.store.filters import CONTEXT_TAG
from cairn.store.registry import model_row
from cairn.store.registry_load import latest_per_stage, load_versions
from cairn.store.run_data import INFO_COLUMNS, load_runs
from cairn.store.schema import (
    datasets,
    experiments,
    input_tags,
    model_versions,
    run_inputs,
    runs,
)

mv = model_versions.c


def runs_by_ids(conn: Connection, run_ids: Sequence[str]) -> tuple[list[Run], list[str]]:
    """The runs with these ids (any experiment, deleted ones included) in the order asked,
    with params, tags and latest metrics; and the ids that match no run. Five queries for
    up to 1,000 runs, whatever their number."""
    wanted = list(dict.fromkeys(run_ids))
    if not wanted:
        return [], []
    rows = conn.execute(select(*INFO_COLUMNS).where(runs.c.run_uuid.in_(wanted))).all()
    by_uuid = {row.run_uuid: row for row in rows}
    ordered = [by_uuid[u] for u in wanted if u in by_uuid]
    return load_runs(conn, ordered), [u for u in wanted if u not in by_uuid]


def experiment_names(conn: Connection, experiment_ids: Sequence[str]) -> dict[str, str]:
    """Names of these experiments (ids as strings), deleted ones included."""
    ids = sorted({int(i) for i in experiment_ids})
    if not ids:
        return {}
    e = experiments.c
    found = conn.execute(select(e.experiment_id, e.name).where(e.experiment_id.in_(ids)))
    return {str(eid): name for eid, name in found}


@dataclass(slots=True)
class DatasetUse:
    """A dataset a run used: its public id, name, digest and the input's context tag."""

    run_id: str
    dataset_id: str
    name: str
    digest: str
    context: str | None


def datasets_of_runs(conn: Connection, run_ids: Sequence[str]) -> list[DatasetUse]:
    """The datasets the runs with these ids used (two queries), in input order."""
    wanted = list(dict.fromkeys(run_ids))
    if not wanted:
        return []
    d, ri = datasets.c, run_inputs.c
    rows = conn.execute(
        select(ri.id, runs.c.run_uuid, d.dataset_uuid, d.name, d.digest)
        .join(runs, runs.c.id == ri.run_id)
        .join(datasets, d.id == ri.dataset_id)
        .where(runs.c.run_uuid.in_(wanted))
        .order_by(ri.id)
    ).all()
    contexts: dict[int, str] = {}
    if rows:
        t = input_tags.c
        for input_id, value in conn.execute(
            select(t.input_id, t.value).where(
                t.input_id.in_([r[0] for r in rows]), t.key == CONTEXT_TAG
            )
        ):
            contexts[input_id] = value
    return [
        DatasetUse(run_uuid, dataset_uuid, name, digest, contexts.get(input_id))
        for input_id, run_uuid, dataset_uuid, name, digest in rows
    ]


def model_versions_of(conn: Connection, name: str) -> list[ModelVersion]:
    """Every version of a registered model, oldest first, with tags and aliases."""
    model = model_row(conn, name)
    rows = conn.execute(
        select(model_versions).where(mv.model_id == model.id).order_by(mv.version)
    ).all()
    return load_versions(conn, rows, {model.id: model.name})


def pick_version(conn: Connection, name: str, stage: Stage | None) -> ModelVersion | None:
    """The highest version of a model in ``stage``, or its highest version of all when
    ``stage`` is None; None when there is no such version."""
    model = model_row(conn, name)
    names = {model.id: model.name}
    if stage is not None:
        found = latest_per_stage(conn, [model.id], names, [stage])
        return found[-1] if found else None
    row = conn.execute(
        select(model_versions).where(mv.model_id == model.id).order_by(mv.version.desc()).limit(1)
    ).first()
    return None if row is None else load_versions(conn, [row], names)[0]
