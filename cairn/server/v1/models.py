"""Cairn's model registry API: the promotion history of a registered model, the metrics of
its versions' source runs with their trend and a degradation verdict, and several models'
production (or latest) versions side by side.

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
from cairn.entities.access import Permission, ResourceType
from cairn.entities.insights import Direction, ModelTrend
from cairn.server.state import compare, registry, visible
from cairn.server.v1.experiments import MetricGoalOut
from cairn.server.v1.schemas import RunOut, VersionOut, run_out, version_out
from cairn.services.compare import MAX_MODELS
from cairn.services.insights import (
    DEFAULT_METRICS,
    DEFAULT_THRESHOLD,
    MAX_METRICS,
    MAX_THRESHOLD,
    parse_goals,
)

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


class VersionValueOut(BaseModel):
    version: int
    value: float

    model_config = ConfigDict(from_attributes=True)


class DegradationOut(BaseModel):
    metric: str
    direction: Direction
    best_version: int = Field(description="The version with the best value (earliest of ties)")
    best_value: float
    newest_version: int = Field(description="The newest version that has the metric")
    newest_value: float
    relative_drop: float | None = Field(
        description="How far the newest fell behind the best, relative to the best's "
        "magnitude (0.08 = 8 % worse); 0 when it is as good; null when the best is 0"
    )
    degraded: bool = Field(description="`relative_drop` is more than the threshold")

    model_config = ConfigDict(from_attributes=True)


class ModelTrendOut(BaseModel):
    metrics: list[MetricGoalOut]
    series: dict[str, list[VersionValueOut]] = Field(
        description="Per metric, its value on each version (the source run's latest value), "
        "in version order; versions without a readable source run or a finite value are absent"
    )
    threshold: float
    degraded: bool = Field(description="Some metric's newest value fell below its best")
    degradations: list[DegradationOut] = Field(description="The verdict per metric")

    model_config = ConfigDict(from_attributes=True)


class ModelPerformance(BaseModel):
    model: str
    versions: list[VersionPerformanceOut]
    trend: ModelTrendOut

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "distilbert",
                    "versions": [],
                    "trend": {
                        "metrics": [{"key": "eval_f1", "direction": "max", "guessed": True}],
                        "series": {
                            "eval_f1": [
                                {"version": 1, "value": 0.89},
                                {"version": 2, "value": 0.91},
                                {"version": 3, "value": 0.84},
                            ]
                        },
                        "threshold": 0.05,
                        "degraded": True,
                        "degradations": [
                            {
                                "metric": "eval_f1",
                                "direction": "max",
                                "best_version": 2,
                                "best_value": 0.91,
                                "newest_version": 3,
                                "newest_value": 0.84,
                                "relative_drop": 0.0769,
                                "degraded": True,
                            }
                        ],
                    },
                }
            ]
        }
    )


def trend_out(trend: ModelTrend) -> ModelTrendOut:
    return ModelTrendOut(
        metrics=[MetricGoalOut.model_validate(g) for g in trend.metrics],
        series={
            k: [VersionValueOut.model_validate(v) for v in vs] for k, vs in trend.series.items()
        },
        threshold=trend.threshold,
        degraded=trend.degraded,
        degradations=[DegradationOut.model_validate(d) for d in trend.degradations],
    )


class ModelPickOut(BaseModel):
    name: str
    version: VersionOut | None = Field(description="null when no version is in that stage")
    run: RunOut | None


class ModelComparison(BaseModel):
    stage: str
    models: list[ModelPickOut]


def _listed(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


@router.get(
    "/models/compare",
    response_model=ModelComparison,
    summary="Several models' production (or latest) versions with their runs side by side",
    description=(
        f"The models (1 to {MAX_MODELS}) named by `names` (comma-separated; `model_names` is "
        "the same) and/or repeated `name`: for each, the model's highest version in `stage` "
        "(default `Production`; `None`, `Staging`, `Archived` in any case, or `latest` for "
        "its highest version of all), with its source run's params and latest metrics (the "
        "run is null when its experiment is hidden from the caller). An unknown model is "
        "404.\n\nExample: `GET /api/v1/models/compare?model_names=distilbert,bert_base,"
        "roberta_base&stage=latest`"
    ),
)
@requires(
    p.model(
        READ,
        "name",
        required=False,
        also=(p.models_listed(READ, "names", "model_names"),),
    )
)
async def compare_models(
    request: Request,
    name: Annotated[list[str] | None, Query(description="A model name (repeatable)")] = None,
    names: Annotated[
        list[str] | None,
        Query(description="Model names, comma-separated", examples=["distilbert,bert_base"]),
    ] = None,
    model_names: Annotated[
        list[str] | None, Query(description="The same as `names` (the seed's spelling)")
    ] = None,
    stage: str = "Production",
) -> ModelComparison:
    listed = _listed(names) + _listed(model_names)
    field = "name" if name else ("names" if names else "model_names" if model_names else "names")
    picks = await run_in_threadpool(
        compare(request).compare_models,
        (name or []) + listed,
        stage,
        visible(request, ResourceType.EXPERIMENT),
        field,
    )
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
    summary="Every version of a model with its source run's metrics, trend and degradation",
    description=(
        "Versions oldest first, each with stage, aliases, creator and time, its source run "
        "(params and the latest value of each metric, or only the metrics named by repeated "
        "`metric` keys; null when the run's experiment is hidden from the caller) and the "
        "datasets that run used. `trend`: each chosen metric's value per version in version "
        "order, and a degradation verdict per metric: the newest version having the metric "
        "against the best version, flagged when it is worse by more than `threshold` "
        "(relative to the best's magnitude). An unknown model is 404.\n\n"
        "Example: `GET /api/v1/models/distilbert/performance?metrics=eval_f1:max&"
        "threshold=0.05`"
    ),
)
@requires(p.model(READ, "name"))
async def model_performance(
    request: Request,
    name: str,
    metric: Annotated[
        list[str] | None, Query(description="Only these metrics in each run (repeatable)")
    ] = None,
    metrics: Annotated[
        list[str] | None,
        Query(
            description=(
                "Metrics of the trend, comma-separated or repeated, each optionally with "
                "its direction (`eval_f1:max,eval_loss:min`; without one it is guessed from "
                f"the name). Default: the `metric` keys, else the {DEFAULT_METRICS} metrics "
                f"most source runs have. At most {MAX_METRICS}; a metric no source run has "
                "is a 400 naming `metrics`."
            ),
            examples=["eval_f1:max,eval_loss:min"],
        ),
    ] = None,
    threshold: Annotated[
        float,
        Query(
            description="Relative drop that counts as degradation (0.05 = 5 %)",
            ge=0,
            le=MAX_THRESHOLD,
            allow_inf_nan=False,
        ),
    ] = DEFAULT_THRESHOLD,
) -> ModelPerformance:
    goals = parse_goals(metrics or [])
    found = await run_in_threadpool(
        compare(request).model_performance,
        name,
        metric or [],
        goals,
        threshold,
        visible(request, ResourceType.EXPERIMENT),
    )
    return ModelPerformance(
        model=name,
        versions=[
            VersionPerformanceOut(
                version=version_out(f.version),
                run=None if f.run is None else run_out(f.run),
                datasets=[DatasetUseOut.model_validate(d) for d in f.datasets],
            )
            for f in found.versions
        ],
        trend=trend_out(found.trend),
    )
