"""Background jobs over HTTP (admins): list them by kind and state, read one, cancel it,
retry it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.jobs import Job
from cairn.server.state import jobs
from cairn.services.jobs import DEFAULT_PAGE, MAX_PAGE

router = APIRouter(prefix="/api/v1", tags=["jobs"])


class JobOut(BaseModel):
    id: int
    kind: str = Field(description="What the job does: `webhook.deliver`, `retention.run`…")
    payload: dict[str, Any] = Field(description="The job's input, as its cause wrote it")
    state: str = Field(description="`pending`, `running`, `succeeded`, `failed` or `cancelled`")
    attempts: int = Field(description="Attempts started so far")
    max_attempts: int = Field(description="Attempts allowed before the job is `failed`")
    lease_owner: str | None = Field(description="The worker running it (`host:pid:id`)")
    lease_expires: int | None = Field(
        description="When the worker's lease ends (ms); past it the reaper re-queues the job"
    )
    run_after: int = Field(description="Not run before this time (ms): a retry's backoff")
    result: dict[str, Any] | None = Field(description="What the handler returned")
    error: str | None = Field(description="The last attempt's error")
    key: str | None = Field(description="De-duplication key: one unfinished job per kind and key")
    created_at: int
    started_at: int | None = Field(description="When the last attempt started (ms)")
    finished_at: int | None
    updated_at: int
    cancel_requested: bool = Field(
        description="A cancel was asked for; a running job stops at its next check"
    )


class JobList(BaseModel):
    jobs: list[JobOut]
    next_page_token: str | None = None


def _out(job: Job) -> JobOut:
    return JobOut.model_validate(job.to_json())


JobId = Annotated[int, Path(ge=1, le=2**62, description="The job's id")]


@router.get(
    "/jobs",
    response_model=JobList,
    summary="Background jobs, newest first (admins)",
    description="Filter by `kind` (exact) and `state` (`pending`, `running`, `succeeded`, "
    "`failed`, `cancelled`). Paged by `page_token` (from `next_page_token`, tied to the "
    f"filters); `max_results` 1 to {MAX_PAGE}, default {DEFAULT_PAGE}.",
)
@requires(p.ADMIN_READ)
async def list_jobs(
    request: Request,
    kind: Annotated[str | None, Query(max_length=1024)] = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    max_results: int = DEFAULT_PAGE,
    page_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> JobList:
    page = await run_in_threadpool(jobs(request).page, kind, state, max_results, page_token)
    return JobList(jobs=[_out(j) for j in page.jobs], next_page_token=page.next_page_token)


@router.get("/jobs/{job_id}", response_model=JobOut, summary="One job (admins)")
@requires(p.ADMIN_READ)
async def get_job(request: Request, job_id: JobId) -> JobOut:
    return _out(await run_in_threadpool(jobs(request).get, job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a job (admins)",
    description="A pending job is `cancelled` at once. A running job is asked to stop "
    "(`cancel_requested`): its handler sees it at its next check and the job ends "
    "`cancelled`. A finished job is a 400 `INVALID_STATE`. Recorded as a `job.cancel` event.",
)
@requires(p.ADMIN_WRITE)
async def cancel_job(request: Request, job_id: JobId) -> JobOut:
    return _out(await run_in_threadpool(jobs(request).cancel, job_id))


@router.post(
    "/jobs/{job_id}/retry",
    response_model=JobOut,
    summary="Run a failed or cancelled job again (admins)",
    description="The job is `pending` again with its attempts counted afresh; other states "
    "are a 400 `INVALID_STATE`. Recorded as a `job.retry` event.",
)
@requires(p.ADMIN_WRITE)
async def retry_job(request: Request, job_id: JobId) -> JobOut:
    return _out(await run_in_threadpool(jobs(request).retry, job_id))
