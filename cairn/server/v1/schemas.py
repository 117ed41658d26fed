"""Response models shared by Cairn's own API routes (runs and models)."""

from __future__ import annotations

from pydantic import BaseModel

from cairn.entities.registry import ModelVersion
from cairn.entities.tracking import Run
from cairn.wire import number

Number = float | str
"""A metric value: a JSON number, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (as MLflow)."""


class VersionOut(BaseModel):
    name: str
    version: str
    current_stage: str
    aliases: list[str]
    description: str | None
    tags: dict[str, str]
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None
    source: str
    run_id: str | None
    status: str
    model_id: str | None


class RunOut(BaseModel):
    """A run with its params and the latest value of each metric, keyed by name."""

    run_id: str
    run_name: str | None
    experiment_id: str
    status: str
    lifecycle_stage: str
    user_id: str | None
    start_time: int | None
    end_time: int | None
    params: dict[str, str]
    metrics: dict[str, Number]


def version_out(v: ModelVersion) -> VersionOut:
    return VersionOut(
        name=v.name,
        version=str(v.version),
        current_stage=v.current_stage,
        aliases=v.aliases,
        description=v.description,
        tags=v.tags,
        creation_timestamp=v.creation_timestamp,
        last_updated_timestamp=v.last_updated_timestamp,
        user_id=v.user_id,
        source=v.source,
        run_id=v.run_id,
        status=v.status,
        model_id=v.model_id,
    )


def run_fields(run: Run) -> dict[str, object]:
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "user_id": info.user_id,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "params": run.params,
        "metrics": {m.key: number(m.value) for m in run.metrics},
    }


def run_out(run: Run) -> RunOut:
    return RunOut.model_validate(run_fields(run))
