"""Cairn's experiments summaries for the web UI: run counts and last activity per experiment
(the experiments page), which MLflow's ``experiments/search`` does not give; and one
experiment's insights (runs by status, durations, best run per metric, metric trend)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission
from cairn.entities.insights import Direction
from cairn.server.state import insights, tracking
from cairn.services.insights import DEFAULT_METRICS, MAX_METRICS, MAX_TREND_POINTS
from cairn.services.tracking import MAX_SUMMARY_IDS

READ = Permission.READ
router = APIRouter(prefix="/api/v1", tags=["experiments"])


class ExperimentSummaryOut(BaseModel):
    experiment_id: str
    run_count: int
    """Runs that are not deleted."""
    running_count: int
    """Runs among them whose status is RUNNING."""
    last_activity: int | None
    """Milliseconds since the epoch: the latest run start or end, or the experiment's last
    update, whichever is later."""

    model_config = ConfigDict(from_attributes=True)


class ExperimentSummaryList(BaseModel):
    experiments: list[ExperimentSummaryOut]


@router.get(
    "/experiments/summary",
    summary="Run counts and last activity of experiments",
    description=(
        "One entry per existing experiment among the `experiment_id` values asked for (repeat "
        f"the parameter, at most {MAX_SUMMARY_IDS}), in the order asked; unknown ids are left "
        "out. Deleted runs are not counted."
    ),
    response_model=ExperimentSummaryList,
)
@requires(p.experiment(READ, "experiment_id", required=False))
async def experiments_summary(
    request: Request, experiment_id: Annotated[list[str] | None, Query()] = None
) -> ExperimentSummaryList:
    found = await run_in_threadpool(tracking(request).summarize_experiments, experiment_id or [])
    return ExperimentSummaryList(
        experiments=[ExperimentSummaryOut.model_validate(s) for s in found]
    )


METRICS_HELP = (
    "Metrics to rank and chart, comma-separated or repeated, each optionally with its "
    "direction: `acc:max,loss:min`. A metric without one gets the direction its name "
    "suggests (loss, error, mse, latency, time… go down; the rest go up). Default: the "
    f"{DEFAULT_METRICS} metrics most runs have. At most {MAX_METRICS}; a metric no run of "
    "the experiment has logged is a 400 naming `metrics`."
)


class MetricGoalOut(BaseModel):
    key: str
    direction: Direction = Field(description="`max`: higher is better; `min`: lower is better")
    guessed: bool = Field(description="The direction came from the metric's name")

    model_config = ConfigDict(from_attributes=True)


class DurationOut(BaseModel):
    """End minus start of the FINISHED runs, in milliseconds (nearest-rank percentiles)."""

    count: int
    min_ms: int | None
    median_ms: int | None
    p90_ms: int | None
    max_ms: int | None
    mean_ms: float | None

    model_config = ConfigDict(from_attributes=True)


class BestRunOut(BaseModel):
    metric: str
    direction: Direction
    run_id: str
    run_name: str | None
    value: float = Field(description="The run's latest value of the metric")
    step: int

    model_config = ConfigDict(from_attributes=True)


class TrendPointOut(BaseModel):
    run_id: str
    run_name: str | None
    start_time: int | None = Field(description="Milliseconds since the epoch")
    values: dict[str, float] = Field(
        description="Latest value per chosen metric; metrics the run lacks (or has as NaN or "
        "infinity) are absent"
    )

    model_config = ConfigDict(from_attributes=True)


class TrendOut(BaseModel):
    metrics: list[MetricGoalOut]
    points: list[TrendPointOut] = Field(
        description="Runs by start time, oldest first: every `stride`-th run with a value of "
        "one of the metrics, and the newest; at most `max_points`"
    )
    total_runs: int = Field(description="Runs with a finite value of one of the metrics")
    stride: int

    model_config = ConfigDict(from_attributes=True)


class ExperimentInsightsOut(BaseModel):
    experiment_id: str
    name: str
    run_count: int = Field(description="Runs that are not deleted")
    status_counts: dict[str, int] = Field(description="Runs per status (only those present)")
    duration: DurationOut
    best_runs: list[BestRunOut] = Field(description="Per metric, the run with the best value")
    trend: TrendOut

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "experiment_id": "1",
                    "name": "ML Security Training",
                    "run_count": 3,
                    "status_counts": {"FINISHED": 2, "FAILED": 1},
                    "duration": {
                        "count": 2,
                        "min_ms": 61000,
                        "median_ms": 61000,
                        "p90_ms": 95000,
                        "max_ms": 95000,
                        "mean_ms": 78000.0,
                    },
                    "best_runs": [
                        {
                            "metric": "eval_f1",
                            "direction": "max",
                            "run_id": "5f0c2a9e8d7b4c1e9a3f6b2d1c0e8f7a",
                            "run_name": "distilbert",
                            "value": 0.89,
                            "step": 3,
                        }
                    ],
                    "trend": {
                        "metrics": [{"key": "eval_f1", "direction": "max", "guessed": True}],
                        "points": [
                            {
                                "run_id": "5f0c2a9e8d7b4c1e9a3f6b2d1c0e8f7a",
                                "run_name": "distilbert",
                                "start_time": 1705314600000,
                                "values": {"eval_f1": 0.89},
                            }
                        ],
                        "total_runs": 1,
                        "stride": 1,
                    },
                }
            ]
        },
    )


@router.get(
    "/experiments/{experiment_id}/summary",
    summary="One experiment's runs by status, durations, best run per metric and trend",
    description=(
        "Run counts by status; the durations (end − start) of its FINISHED runs: count, "
        "min, median, 90th percentile, max, mean; per metric the run with the best latest "
        "value; and the metrics' trend: each run's latest value, runs ordered by start time, "
        f"thinned evenly to at most `max_points` (≤ {MAX_TREND_POINTS}). Deleted runs are "
        "left out, NaN and infinite values too. An unknown experiment is 404.\n\n"
        "Example: `GET /api/v1/experiments/1/summary?metrics=eval_accuracy:max,eval_loss:min`"
    ),
    response_model=ExperimentInsightsOut,
    responses={404: {"description": "No experiment with that id"}},
)
@requires(p.experiment(READ, "experiment_id"))
async def experiment_summary(
    request: Request,
    experiment_id: str,
    metrics: Annotated[
        list[str] | None,
        Query(description=METRICS_HELP, examples=["eval_accuracy:max,eval_loss:min"]),
    ] = None,
    max_points: Annotated[
        int, Query(description="Most runs in the trend", ge=2, le=MAX_TREND_POINTS)
    ] = MAX_TREND_POINTS,
) -> ExperimentInsightsOut:
    found = await run_in_threadpool(
        insights(request).experiment_summary, experiment_id, metrics or [], max_points
    )
    return ExperimentInsightsOut.model_validate(found)
