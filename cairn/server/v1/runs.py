"""Cairn's runs API for the web UI: many runs side by side in one response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission
from cairn.server.state import compare
from cairn.server.v1.schemas import RunOut, run_fields
from cairn.services.compare import MAX_RUNS, ComparedRun

READ = Permission.READ
router = APIRouter(prefix="/api/v1", tags=["runs"])


class ComparedRunOut(RunOut):
    experiment_name: str | None
    tags: dict[str, str]
    metric_steps: dict[str, int] = Field(
        description="The step of each metric's latest value: a chart can skip fetching the "
        "history of metrics every run logged at step 0 only"
    )


class RunComparison(BaseModel):
    runs: list[ComparedRunOut]


class CompareRequest(BaseModel):
    run_ids: list[str] = Field(description=f"1 to {MAX_RUNS} run ids, from any experiments")

    model_config = ConfigDict(extra="forbid")


def _out(found: list[ComparedRun]) -> RunComparison:
    return RunComparison(
        runs=[
            ComparedRunOut.model_validate(
                {
                    **run_fields(c.run),
                    "experiment_name": c.experiment_name,
                    "tags": c.run.tags,
                    "metric_steps": {m.key: m.step for m in c.run.metrics},
                }
            )
            for c in found
        ]
    )


_DOC = (
    f"Up to {MAX_RUNS} runs, across experiments, in the order asked (duplicates dropped), "
    "with params, tags and the latest value of each metric, loaded with a handful of queries "
    "whatever the number of runs. An unknown run id is 404."
)


@router.post(
    "/runs/compare",
    response_model=RunComparison,
    summary="Runs side by side (params, metrics, tags)",
    description=_DOC,
)
@requires(p.run(READ, "run_ids", "run_id", required=False))
async def compare_runs_post(request: Request, body: CompareRequest) -> RunComparison:
    return _out(await run_in_threadpool(compare(request).compare_runs, body.run_ids))


@router.get(
    "/runs/compare",
    response_model=RunComparison,
    summary="Runs side by side (params, metrics, tags), ids in the query",
    description=_DOC + " Ids as repeated `run_id` keys or comma-separated.",
)
@requires(p.run(READ, "run_ids", "run_id", required=False))
async def compare_runs_get(
    request: Request, run_id: Annotated[list[str] | None, Query()] = None
) -> RunComparison:
    ids = [part for item in run_id or [] for part in item.split(",") if part]
    return _out(await run_in_threadpool(compare(request).compare_runs, ids))
