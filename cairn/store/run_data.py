"""Loading whole runs (info, latest metrics, params, tags, dataset inputs) in bulk.

Used by get and by search: a page of 1,000 runs costs four queries, not four thousand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from cairn.entities.tracking import Dataset, DatasetInput, Metric, Run, RunInfo
from cairn.store.prepared import PreparedIn
from cairn.store.schema import (
    datasets,
    input_tags,
    latest_metrics,
    metric_keys,
    params,
    run_inputs,
    run_model_inputs,
    run_outputs,
    run_tags,
    runs,
)
from cairn.store.sql import AnyRow

INFO_COLUMNS = (
    runs.c.id,
    runs.c.run_uuid,
    runs.c.experiment_id,
    runs.c.name,
    runs.c.user_id,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.artifact_uri,
    runs.c.lifecycle_stage,
)


class RunRow(NamedTuple):
    """A run's own columns, in INFO_COLUMNS order."""

    id: int
    run_uuid: str
    experiment_id: int
    name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    lifecycle_stage: str


def run_info(row: AnyRow | RunRow) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.experiment_id),
        run_name=row.name,
        user_id=row.user_id,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
    )


PARAMS = PreparedIn(
    lambda ids: select(params.c.run_id, params.c.key, params.c.value).where(
        params.c.run_id.in_(ids)
    )
)
TAGS = PreparedIn(
    lambda ids: select(run_tags.c.run_id, run_tags.c.key, run_tags.c.value).where(
        run_tags.c.run_id.in_(ids)
    )
)
LATEST = PreparedIn(
    lambda ids: (
        select(
            latest_metrics.c.run_id,
            metric_keys.c.key,
            latest_metrics.c.value,
            latest_metrics.c.is_nan,
            latest_metrics.c.timestamp,
            latest_metrics.c.step,
        )
        .join(metric_keys, metric_keys.c.id == latest_metrics.c.key_id)
        .where(latest_metrics.c.run_id.in_(ids))
    )
)
INPUTS = PreparedIn(
    lambda ids: (
        select(
            run_inputs.c.id,
            run_inputs.c.run_id,
            datasets.c.name,
            datasets.c.digest,
            datasets.c.source_type,
            datasets.c.source,
            datasets.c.schema,
            datasets.c.profile,
        )
        .join(datasets, datasets.c.id == run_inputs.c.dataset_id)
        .where(run_inputs.c.run_id.in_(ids))
        .order_by(run_inputs.c.id)
    )
)

MODEL_INPUTS = PreparedIn(
    lambda ids: (
        select(run_model_inputs.c.run_id, run_model_inputs.c.model_id)
        .where(run_model_inputs.c.run_id.in_(ids))
        .order_by(run_model_inputs.c.run_id, run_model_inputs.c.model_id)
    )
)

OUTPUTS = PreparedIn(
    lambda ids: (
        select(run_outputs.c.run_id, run_outputs.c.model_id, run_outputs.c.step)
        .where(run_outputs.c.run_id.in_(ids))
        .order_by(run_outputs.c.run_id, run_outputs.c.step, run_outputs.c.model_id)
    )
)


def load_runs(conn: Connection, rows: Sequence[AnyRow | RunRow]) -> list[Run]:
    """Whole runs for ``rows`` (each with the INFO_COLUMNS first), in the same order.

    The hot path of a search page (100 runs, some 2,000 rows of params, tags and metrics):
    one pass over each query's rows, the columns unpacked by position."""
    by_id: dict[int, Run] = {}
    for row in rows:
        rid, uuid, experiment_id, name, user, status, start, end, uri, stage = row[:10]
        by_id[rid] = Run(
            RunInfo(uuid, str(experiment_id), name, user, status, start, end, uri, stage)
        )
    ids = list(by_id)
    if not ids:
        return []
    found_params, found_tags, latest, inputs, outputs, model_inputs = PreparedIn.rows_of_all(
        conn, (PARAMS, TAGS, LATEST, INPUTS, OUTPUTS, MODEL_INPUTS), ids
    )
    params = {run_id: run.params for run_id, run in by_id.items()}
    for run_id, key, value in found_params:
        params[run_id][key] = value
    tags = {run_id: run.tags for run_id, run in by_id.items()}
    for run_id, key, value in found_tags:
        tags[run_id][key] = value
    metrics = {run_id: run.metrics for run_id, run in by_id.items()}
    nan = math.nan
    for run_id, key, value, is_nan, timestamp, step in latest:
        metrics[run_id].append(Metric(key, nan if is_nan else value, timestamp, step))
    if inputs:
        _fill_inputs(conn, by_id, inputs)
    for run_id, model_id, step in outputs:
        by_id[run_id].outputs.append((model_id, step))
    for run_id, model_id in model_inputs:
        by_id[run_id].model_inputs.append(model_id)
    return [by_id[row[0]] for row in rows]


def _fill_inputs(conn: Connection, by_id: dict[int, Run], inputs: list[tuple[Any, ...]]) -> None:
    """``inputs``: the rows of INPUTS for the runs of ``by_id``."""
    found: dict[int, DatasetInput] = {}
    for input_id, run_id, name, digest, source_type, source, schema, profile in inputs:
        item = DatasetInput(Dataset(name, digest, source_type, source, schema, profile))
        found[input_id] = item
        by_id[run_id].inputs.append(item)
    if found:
        for input_id, key, value in conn.execute(
            select(input_tags.c.input_id, input_tags.c.key, input_tags.c.value).where(
                input_tags.c.input_id.in_(list(found))
            )
        ):
            found[input_id].tags[key] = value
