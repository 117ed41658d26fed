"""Cairn's artifacts API: the artifacts of many runs at once (one experiment's, or those of
every experiment the caller may read), searched by path and filtered by type. A run's own
files are listed and downloaded through MLflow's artifact routes."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import ResourceType
from cairn.server.state import artifact_search, visible
from cairn.services.artifact_search import MAX_RESULTS, ArtifactHit, ArtifactType

router = APIRouter(prefix="/api/v1", tags=["artifacts"])


class ArtifactOut(BaseModel):
    experiment_id: str
    experiment_name: str
    run_id: str
    run_name: str | None
    run_status: str
    run_start_time: int | None
    artifact_uri: str | None
    path: str
    is_dir: bool
    file_size: int | None
    type: ArtifactType
    files: int
    model_id: str | None = None


class ArtifactList(BaseModel):
    artifacts: list[ArtifactOut]
    next_page_token: str | None = None
    scanned_runs: int


def _out(hit: ArtifactHit) -> ArtifactOut:
    run = hit.run
    return ArtifactOut(
        experiment_id=str(run.experiment_id),
        experiment_name=run.experiment_name,
        run_id=run.run_id,
        run_name=run.run_name,
        run_status=run.status,
        run_start_time=run.start_time,
        artifact_uri=hit.artifact_uri,
        path=hit.path,
        is_dir=hit.is_dir,
        file_size=hit.file_size,
        type=hit.type,
        files=hit.files,
        model_id=hit.model_id,
    )


@router.get(
    "/artifacts",
    summary="Search the artifacts of the runs of one experiment or of all experiments",
    description=(
        "Newest runs first. `q` matches anywhere in the run-relative path (case-insensitive); "
        "`type` is one of model, image, config, log, report, data, media, other (a folder "
        "holding an `MLmodel` file is one `model` entry, and so is each MLflow 3 logged "
        "model a run produced: `model_id` set, `path` its name, `artifact_uri` where its "
        "files are); `path` limits the walk to one folder of each run. A request walks at "
        "most 200 runs: a page may come back short with a `next_page_token` when it ran out "
        "of runs to walk, and the listing goes on from there."
    ),
    response_model=ArtifactList,
)
@requires(p.USER_READ)
async def search_artifacts(
    request: Request,
    experiment_id: str | None = None,
    q: str | None = Query(None, description="Text to find in the artifact's path"),
    type: str | None = Query(
        None, description="model, image, config, log, report, data, media or other"
    ),
    path: str | None = Query(None, description="Only under this folder of each run"),
    max_results: int = Query(100, ge=1, le=MAX_RESULTS),
    page_token: str | None = None,
) -> ArtifactList:
    page = await run_in_threadpool(
        artifact_search(request).search,
        experiment_id,
        q,
        type,
        path,
        max_results,
        page_token,
        visibility=visible(request, ResourceType.EXPERIMENT),
    )
    return ArtifactList(
        artifacts=[_out(h) for h in page.items],
        next_page_token=page.next_page_token,
        scanned_runs=page.scanned_runs,
    )
