"""Cairn's datasets API: the datasets runs logged (``runs/log-inputs``), across experiments,
with their statistics and lineage (runs that used them, model versions registered from those
runs). The public id of a dataset is its uuid."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import ResourceType
from cairn.entities.datasets import DatasetRow
from cairn.server.state import datasets, visible
from cairn.services.datasets import MAX_RESULTS

router = APIRouter(prefix="/api/v1", tags=["datasets"])


class DatasetOut(BaseModel):
    dataset_id: str
    experiment_id: str
    name: str
    digest: str
    source_type: str
    source: Any
    schema_: Any = Field(default=None, alias="schema")
    profile: Any = None
    num_rows: int | None = None
    run_count: int

    model_config = ConfigDict(populate_by_name=True)


class DatasetList(BaseModel):
    datasets: list[DatasetOut]
    next_page_token: str | None = None


class RunUseOut(BaseModel):
    run_id: str
    run_name: str | None
    context: str | None

    model_config = ConfigDict(from_attributes=True)


class VersionUseOut(BaseModel):
    name: str
    version: str
    run_id: str
    current_stage: str
    status: str
    source: str
    aliases: list[str]

    model_config = ConfigDict(from_attributes=True)


class DatasetLineage(BaseModel):
    dataset: DatasetOut
    runs: list[RunUseOut]
    model_versions: list[VersionUseOut]


def _json(text: str | None) -> Any:
    """A JSON value when ``text`` is JSON (MLflow stores source, schema and profile as JSON
    strings), else the text itself."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _out(row: DatasetRow) -> DatasetOut:
    profile = _json(row.profile)
    num_rows = profile.get("num_rows") if isinstance(profile, dict) else None
    return DatasetOut(
        dataset_id=row.dataset_id,
        experiment_id=row.experiment_id,
        name=row.name,
        digest=row.digest,
        source_type=row.source_type,
        source=_json(row.source),
        schema_=_json(row.schema),
        profile=profile,
        num_rows=num_rows if isinstance(num_rows, int) else None,
        run_count=row.run_count,
    )


@router.get("/datasets", summary="List datasets across experiments", response_model=DatasetList)
@requires(p.USER_READ)
async def list_datasets(
    request: Request,
    experiment_id: str | None = None,
    name: str | None = None,
    max_results: int = Query(100, ge=1, le=MAX_RESULTS),
    page_token: str | None = None,
) -> DatasetList:
    page = await run_in_threadpool(
        datasets(request).list_datasets,
        experiment_id,
        name,
        max_results,
        page_token,
        visibility=visible(request, ResourceType.EXPERIMENT),
    )
    return DatasetList(datasets=[_out(r) for r in page.items], next_page_token=page.next_page_token)


@router.get(
    "/datasets/{dataset_id}",
    summary="A dataset with its lineage: runs that used it, model versions from those runs",
    response_model=DatasetLineage,
)
@requires(p.USER_READ)
async def get_dataset(request: Request, dataset_id: str) -> DatasetLineage:
    found = await run_in_threadpool(
        datasets(request).lineage,
        dataset_id,
        models=visible(request, ResourceType.REGISTERED_MODEL),
    )
    return DatasetLineage(
        dataset=_out(found.dataset),
        runs=[RunUseOut.model_validate(r) for r in found.runs],
        model_versions=[VersionUseOut.model_validate(v) for v in found.model_versions],
    )
