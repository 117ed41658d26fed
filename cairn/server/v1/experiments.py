"""Cairn's experiments summary for the web UI: run counts and last activity per experiment,
which MLflow's ``experiments/search`` does not give."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cairn.entities.errors import CairnError
from cairn.entities.tracking import parse_experiment_id
from cairn.server.state import tracking
from cairn.store import experiment_summary as store

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


class ExperimentSummaryList(BaseModel):
    experiments: list[ExperimentSummaryOut]


@router.get(
    "/experiments/summary",
    summary="Run counts and last activity of experiments",
    description=(
        "One entry per existing experiment among the `experiment_id` values asked for (repeat "
        f"the parameter, at most {store.MAX_IDS}), in the order asked; unknown ids are left "
        "out. Deleted runs are not counted."
    ),
    response_model=ExperimentSummaryList,
)
async def experiments_summary(
    request: Request, experiment_id: Annotated[list[str] | None, Query()] = None
) -> ExperimentSummaryList:
    experiment_id = experiment_id or []
    if len(experiment_id) > store.MAX_IDS:
        raise CairnError.invalid(
            f"Too many values for parameter 'experiment_id': {len(experiment_id)} "
            f"(at most {store.MAX_IDS})"
        )
    ids = [parse_experiment_id(value) for value in experiment_id]
    db = tracking(request).db
    found = await run_in_threadpool(db.read, lambda c: store.summarize(c, ids))
    return ExperimentSummaryList(
        experiments=[
            ExperimentSummaryOut(
                experiment_id=s.experiment_id,
                run_count=s.run_count,
                running_count=s.running_count,
                last_activity=s.last_activity,
            )
            for s in found
        ]
    )
