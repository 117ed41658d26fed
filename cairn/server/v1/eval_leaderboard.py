"""The evaluation leaderboard over HTTP: ``GET /api/v1/evaluations/leaderboard``, benchmarks ×
models (or registered versions) with the latest completed primary score of each, and the
delta of each registered version against its model's champion. Rows come only from jobs
whose experiment (and registered model) the caller may read. See docs/evaluations.md."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import ResourceType
from cairn.server.state import eval_leaderboard, visible
from cairn.services.eval_leaderboard import DEFAULT_MODELS, MAX_MODELS, parse_names

router = APIRouter(prefix="/api/v1", tags=["evaluations"])


class BoardBenchmarkOut(BaseModel):
    benchmark_id: str
    provider_id: str = Field(description="The provider of its newest score")
    primary_metric: str | None = Field(description="The metric the score is")
    lower_is_better: bool


class BoardScoreOut(BaseModel):
    score: float = Field(description="The benchmark's primary score")
    job_id: str = Field(description="The evaluation job that produced it")
    run_id: str | None = Field(description="The benchmark's run")
    finished_at: int | None


class BoardRowOut(BaseModel):
    model_name: str = Field(description="The model as the request named it")
    registered_name: str | None = Field(description="The registered model, when it is one")
    registered_version: int | None
    scores: dict[str, BoardScoreOut] = Field(description="By benchmark id")
    delta_vs_champion: dict[str, float | None] = Field(
        description="By benchmark id: this score minus the champion version's (null when "
        "either is missing or the model is not registered)"
    )


class LeaderboardOut(BaseModel):
    benchmarks: list[BoardBenchmarkOut]
    rows: list[BoardRowOut] = Field(description="Best first on the first benchmark")
    champion: dict[str, int] = Field(
        description="Registered model → its champion version (the `champion` alias, else "
        "the newest Production version)"
    )


@router.get(
    "/evaluations/leaderboard",
    response_model=LeaderboardOut,
    summary="Benchmarks × models with the latest completed score of each",
    description=(
        "One row per model (or registered model version) and one column per benchmark, with "
        "the newest completed primary score. Rows are sorted by the first benchmark, best "
        "first (lowest when its metric is lower-is-better); rows without that score come "
        "last. `delta_vs_champion` compares each registered version with its model's "
        "`champion` alias (else its newest Production version). Only jobs whose experiment "
        "the caller may read count."
    ),
)
@requires(p.USER_READ)
async def leaderboard(
    request: Request,
    benchmarks: str | None = Query(
        None, max_length=10_000, description="Comma-separated benchmark ids (default: all)"
    ),
    models: str | None = Query(
        None,
        max_length=30_000,
        description="Comma-separated model names as requested, or registered model names",
    ),
    provider: str | None = Query(None, max_length=128, description="Only this provider"),
    max_models: int = Query(DEFAULT_MODELS, ge=1, le=MAX_MODELS, description="Rows at most"),
) -> LeaderboardOut:
    wanted = parse_names(benchmarks, "benchmarks")
    names = parse_names(models, "models")
    board = await run_in_threadpool(
        eval_leaderboard(request).leaderboard,
        wanted,
        names,
        provider or None,
        max_models,
        experiments=visible(request, ResourceType.EXPERIMENT),
        registered=visible(request, ResourceType.REGISTERED_MODEL),
    )
    return LeaderboardOut.model_validate(board.to_json())
