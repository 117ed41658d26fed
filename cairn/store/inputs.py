"""Dataset inputs of runs: each dataset stored once per (experiment, name, digest)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, select

from cairn.entities.tracking import Dataset
from cairn.store import runs as run_store
from cairn.store.filters import CONTEXT_TAG
from cairn.store.schema import datasets, input_tags, run_inputs, run_model_inputs
from cairn.store.sql import upsert_insert


def log_inputs(
    conn: Connection,
    run_uuid: str,
    inputs: Sequence[tuple[Dataset, dict[str, str]]],
    models: Sequence[str] = (),
) -> None:
    """Record dataset inputs (each dataset once per experiment) and logged-model inputs of a
    run: one ``run.log_inputs`` event."""
    run = run_store.resolve_active(conn, run_uuid)
    logged: list[dict[str, str | None]] = []
    for dataset, tags in inputs:
        logged.append(
            {"name": dataset.name, "digest": dataset.digest, "context": tags.get(CONTEXT_TAG)}
        )
        d = datasets.c
        found = conn.execute(
            select(d.id).where(
                d.experiment_id == run.experiment_id,
                d.name == dataset.name,
                d.digest == dataset.digest,
            )
        ).scalar()
        if found is None:
            found = conn.execute(
                datasets.insert()
                .values(
                    dataset_uuid=uuid.uuid4().hex,
                    experiment_id=run.experiment_id,
                    name=dataset.name,
                    digest=dataset.digest,
                    source_type=dataset.source_type,
                    source=dataset.source,
                    schema=dataset.schema,
                    profile=dataset.profile,
                )
                .returning(d.id)
            ).scalar_one()
        input_id = conn.execute(
            select(run_inputs.c.id).where(
                run_inputs.c.run_id == run.id, run_inputs.c.dataset_id == found
            )
        ).scalar()
        if input_id is None:
            input_id = conn.execute(
                run_inputs.insert()
                .values(run_id=run.id, dataset_id=found)
                .returning(run_inputs.c.id)
            ).scalar_one()
        if tags:
            stmt = upsert_insert(conn, input_tags)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["input_id", "key"], set_={"value": stmt.excluded.value}
                ),
                [{"input_id": input_id, "key": k, "value": v} for k, v in tags.items()],
            )
    if models:
        stmt = upsert_insert(conn, run_model_inputs)
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=["run_id", "model_id"]),
            [{"run_id": run.id, "model_id": m} for m in dict.fromkeys(models)],
        )
    if logged or models:
        after: dict[str, object] = {"datasets": logged}
        if models:
            after["models"] = list(dict.fromkeys(models))
        run_store.record(conn, "run.log_inputs", run, after=after)
