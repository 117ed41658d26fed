"""Cairn's model registry API: the promotion history of a registered model, the metrics of
its versions' source runs, and several models' production (or latest) versions side by side.

Every version creation and deletion, stage transition, alias set/move/delete, rename and
model deletion is an event, newest first. A deleted model's events stay: its name answers
with them until a new model takes the name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission
from cairn.server.state import compare, registry
from cairn.server.v1.schemas import RunOut, VersionOut, run_out, version_out
from cairn.services.compare import MAX_MODELS

READ = Permission.READ
router = APIRouter(prefix="/api/v1", tags=["models"])


class ModelEventOut(BaseModel):
    """One change. Stage events: ``from``/``to`` are stages. Alias events: ``to`` (set,
    moved) or ``from`` (deleted) is the alias, ``version`` the version it points (pointed)
    to, and a move's ``from`` is the previous version. Renames: old and new name."""

    version: str | None
    kind: str
    from_: str | None = Field(default=None, alias="from")
    to: str | None
    actor: str | None
    time: int

    model_config = ConfigDict(populate_by_name=True)


class ModelHistory(BaseModel):
    model: str
    events: list[ModelEventOut]
    next_page_token: str | None = None


@router.get(
    "/models/{name}/history",
    response_model=ModelHistory,
    summary="Promotion history of a registered model, newest first",
    responses={404: {"description": "No model (and no deleted model's events) by that name"}},
)
@requires(p.model(READ, "name"))
async def model_history(
    request: Request,
    name: str,
    max_results: int = Query(100, ge=1, le=1000),
    page_token: str | None = None,
) -> ModelHistory:
    page = await run_in_threadpool(registry(request).history, name, max_results, page_token)
    events = [
        ModelEventOut(
            version=None if e.version is None else str(e.version),
            kind=e.kind,
            from_=e.from_value,
            to=e.to_value,
            actor=e.actor,
            time=e.time,
        )
        for e in page.items
    ]
    return ModelHistory(model=name, events=events, next_page_token=page.next_page_token)


class DatasetUseOut(BaseModel):
    dataset_id: str
    name: str
    digest: str
    context: str | None

    model_config = ConfigDict(from_attributes=True)


class VersionPerformanceOut(BaseModel):
    version: VersionOut
    run: RunOut | None = Field(description="The source run; null when none or deleted for good")
    datasets: list[DatasetUseOut]


class ModelPerformance(BaseModel):
    model: str
    versions: list[VersionPerformanceOut]


class ModelPickOut(BaseModel):
    name: str
    version: VersionOut | None = Field(description="null when no version is in that stage")
    run: RunOut | None


class ModelComparison(BaseModel):
    stage: str
    models: list[ModelPickOut]


@router.get(
    "/models/compare",
    response_model=ModelComparison,
    summary="Several models' production (or latest) versions with their runs side by side",
    description=(
        f"For each `name` (repeated, 1 to {MAX_MODELS}), the model's highest version in "
        "`stage` (default `Production`; `None`, `Staging`, `Archived` in any case, or `latest` "
        "for its highest version of all), with its source run's params and latest metrics. "
        "An unknown model is 404."
    ),
)
@requires(p.model(READ, "name", required=False))
async def compare_models(
    request: Request,
    name: Annotated[list[str] | None, Query()] = None,
    stage: str = "Production",
) -> ModelComparison:
    picks = await run_in_threadpool(compare(request).compare_models, name or [], stage)
    return ModelComparison(
        stage=stage,
        models=[
            ModelPickOut(
                name=p.name,
                version=None if p.version is None else version_out(p.version),
                run=None if p.run is None else run_out(p.run),
            )
            for p in picks
        ],
    )


@router.get(
    "/models/{name}/performance",
    response_model=ModelPerformance,
    summary="Every version of a model with its source run's latest metrics",
    description=(
        "Versions oldest first, each with stage, aliases, creator and time, its source run "
        "(params and the latest value of each metric, or only the metrics named by repeated "
        "`metric` keys) and the datasets that run used. An unknown model is 404."
    ),
)
@requires(p.model(READ, "name"))
async def model_performance(
    request: Request, name: str, metric: Annotated[list[str] | None, Query()] = None
) -> ModelPerformance:
    found = await run_in_threadpool(compare(request).model_performance, name, metric or [])
    return ModelPerformance(
        model=name,
        versions=[
            VersionPerformanceOut(
                version=version_out(f.version),
                run=None if f.run is None else run_out(f.run),
                datasets=[DatasetUseOut.model_validate(d) for d in f.datasets],
            )
            for f in found
        ],
    )
