"""Cairn's experiments summary for the web UI: run counts and last activity per experiment,
which MLflow's ``experiments/search`` does not give."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission
from cairn.server.state import tracking
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
