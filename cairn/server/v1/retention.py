"""Retention over HTTP: the global and per-experiment retention policies, applying them
(admins, with a dry run), and the one-off ``POST /api/v1/cleanup?days_old=30``.

What a policy deletes and what it never touches is in docs/retention.md; the rules live in
:mod:`cairn.services.retention`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission, ResourceType
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.retention import FINISHED_STATUSES, KEEP_TAG, MAX_DAYS, RetentionPolicy
from cairn.server.state import identity, readable, retention
from cairn.services.retention import MAX_LIST, Limits

READ, MANAGE = Permission.READ, Permission.MANAGE
router = APIRouter(prefix="/api/v1", tags=["retention"])
NEVER = (
    f"Never deleted: runs still running (no end time), runs behind a registered model version "
    f"and runs tagged `{KEEP_TAG}` (any value)."
)


class RetentionPolicyIn(BaseModel):
    older_than_days: int = Field(
        ge=0,
        le=MAX_DAYS,
        description="Delete finished runs that ended more than this many days ago",
    )
    statuses: list[str] = Field(
        default_factory=list,
        max_length=len(FINISHED_STATUSES),
        description="Only runs of these statuses (FINISHED, FAILED, KILLED); empty: all three",
    )
    keep_newest: int = Field(
        default=0, ge=0, description="Keep this many of the newest finished runs per experiment"
    )
    enabled: bool = Field(
        default=True, description="Whether the scheduled retention job applies it"
    )


class RetentionPolicyOut(BaseModel):
    name: str = Field(description="`global` or `experiment:<id>`: events name the policy so")
    experiment_id: str | None = Field(description="null for the global policy")
    older_than_days: int
    statuses: list[str]
    keep_newest: int
    enabled: bool
    updated_at: int = Field(description="Milliseconds since the epoch")
    updated_by: str


class RetentionPolicyList(BaseModel):
    policies: list[RetentionPolicyOut]


class RetentionRunOut(BaseModel):
    run_id: str
    experiment_id: str
    status: str
    end_time: int
    policy: str
    reason: str = Field(description="Why it goes, e.g. `failed 45 days ago; global keeps 30 days`")


class RetentionPolicyReportOut(BaseModel):
    policy: str
    older_than_days: int
    cutoff: int = Field(description="Runs that ended before this time (ms) are old enough")
    deleted_runs: int
    kept_registered: int
    kept_tagged: int
    kept_newest: int
    remaining: int


class RetentionReportOut(BaseModel):
    """What was deleted (or, in a dry run, would be): totals, per policy, and the runs."""

    dry_run: bool
    deleted_runs: int = Field(description="Runs deleted (dry run: that would be deleted)")
    kept_registered: int = Field(description="Old enough, kept: behind a registered model version")
    kept_tagged: int = Field(description=f"Old enough, kept: tagged `{KEEP_TAG}`")
    kept_newest: int = Field(description="Old enough, kept: among the newest `keep_newest`")
    remaining: int = Field(description="Left for a later call by `max_runs`")
    policies: list[RetentionPolicyReportOut]
    runs: list[RetentionRunOut] = Field(description="The runs deleted, up to `limit`")
    truncated: bool = Field(description="More runs were deleted than listed")


def _out(policy: RetentionPolicy) -> RetentionPolicyOut:
    return RetentionPolicyOut.model_validate(policy.to_json())


DryRun = Annotated[bool, Query(description="List what would be deleted and change nothing")]
MaxRuns = Annotated[
    int | None,
    Query(ge=1, le=1_000_000, description="Delete at most this many runs in this call"),
]
Limit = Annotated[
    int, Query(ge=0, le=MAX_LIST, description="List at most this many runs in the answer")
]


# ------------------------------------------------------------------------------ policies
@router.get(
    "/retention/policies",
    response_model=RetentionPolicyList,
    summary="Retention policies",
    description="The global policy and the policies of the experiments the caller may read.",
)
@requires(p.USER_READ)
async def list_policies(request: Request) -> RetentionPolicyList:
    def read() -> list[RetentionPolicy]:
        found = retention(request).list_policies()
        ids = [x.experiment_id for x in found if x.experiment_id is not None]
        allowed = set(readable(request, ResourceType.EXPERIMENT, ids))
        return [x for x in found if x.experiment_id is None or x.experiment_id in allowed]

    return RetentionPolicyList(policies=[_out(x) for x in await run_in_threadpool(read)])


@router.get(
    "/retention/policies/global",
    response_model=RetentionPolicyOut,
    summary="The global retention policy",
    responses={404: {"description": "There is none"}},
)
@requires(p.USER_READ)
async def get_global(request: Request) -> RetentionPolicyOut:
    return _out(await run_in_threadpool(retention(request).get_policy, None))


@router.put(
    "/retention/policies/global",
    response_model=RetentionPolicyOut,
    summary="Set the global retention policy (admins)",
    description="Applies to every experiment without a policy of its own. " + NEVER,
)
@requires(p.ADMIN_WRITE)
async def set_global(request: Request, body: RetentionPolicyIn) -> RetentionPolicyOut:
    who = identity(request).username
    found = await run_in_threadpool(retention(request).set_policy, who, None, body.model_dump())
    return _out(found)


@router.delete(
    "/retention/policies/global", status_code=204, summary="Remove the global policy (admins)"
)
@requires(p.ADMIN_WRITE)
async def delete_global(request: Request) -> Response:
    await run_in_threadpool(retention(request).delete_policy, None)
    return Response(status_code=204)


@router.get(
    "/experiments/{experiment_id}/retention-policy",
    response_model=RetentionPolicyOut,
    summary="An experiment's retention policy",
    responses={404: {"description": "The experiment has no policy of its own"}},
)
@requires(p.experiment(READ, "experiment_id"))
async def get_experiment_policy(request: Request, experiment_id: str) -> RetentionPolicyOut:
    return _out(await run_in_threadpool(retention(request).get_policy, experiment_id))


@router.put(
    "/experiments/{experiment_id}/retention-policy",
    response_model=RetentionPolicyOut,
    summary="Set an experiment's retention policy (MANAGE on the experiment)",
    description=(
        "Replaces the global policy for this experiment (a disabled one keeps the global "
        "policy away too). " + NEVER
    ),
)
@requires(p.experiment(MANAGE, "experiment_id"))
async def set_experiment_policy(
    request: Request, experiment_id: str, body: RetentionPolicyIn
) -> RetentionPolicyOut:
    who = identity(request).username
    service = retention(request)
    found = await run_in_threadpool(service.set_policy, who, experiment_id, body.model_dump())
    return _out(found)


@router.delete(
    "/experiments/{experiment_id}/retention-policy",
    status_code=204,
    summary="Remove an experiment's retention policy (MANAGE on the experiment)",
)
@requires(p.experiment(MANAGE, "experiment_id"))
async def delete_experiment_policy(request: Request, experiment_id: str) -> Response:
    await run_in_threadpool(retention(request).delete_policy, experiment_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------ applying
def _report(found: Any) -> RetentionReportOut:
    return RetentionReportOut.model_validate(found.to_json())


@router.post(
    "/retention/run",
    response_model=RetentionReportOut,
    summary="Apply the retention policies now (admins)",
    description=(
        "Applies every enabled policy (or only `policy`, enabled or not), as the scheduled "
        "job does. Deleted runs are soft-deleted (`cairn gc` purges them later); each records "
        "a `run.delete` event by `system` naming the policy and who asked. " + NEVER
    ),
)
@requires(p.ADMIN_WRITE)
async def run_policies(
    request: Request,
    dry_run: DryRun = False,
    policy: Annotated[
        str | None, Query(max_length=64, description="`global` or `experiment:<id>`")
    ] = None,
    max_runs: MaxRuns = None,
    limit: Limit = 1000,
) -> RetentionReportOut:
    found = await run_in_threadpool(
        retention(request).run_policies,
        dry_run,
        identity(request).username,
        policy,
        Limits(max_runs, limit),
    )
    return _report(found)


@router.post(
    "/cleanup",
    response_model=RetentionReportOut,
    summary="Delete finished runs older than `days_old` days",
    description=(
        "A one-off cleanup, whatever the policies say: the finished runs (optionally only of "
        "`status`) of one experiment (MANAGE on it) or of all (admins) that ended more than "
        "`days_old` days ago. " + NEVER + " Soft delete: `cairn gc` purges them later."
    ),
)
@requires(p.experiment(MANAGE, "experiment_id", required=False))
async def cleanup(
    request: Request,
    days_old: Annotated[
        int, Query(ge=0, le=MAX_DAYS, description="Runs that ended more than this many days ago")
    ],
    dry_run: DryRun = False,
    experiment_id: Annotated[
        str | None, Query(max_length=32, description="Only this experiment")
    ] = None,
    status: Annotated[
        str | None,
        Query(max_length=64, description="FINISHED, FAILED and/or KILLED, comma-separated"),
    ] = None,
    keep_newest: Annotated[
        int, Query(ge=0, le=1_000_000, description="Keep the newest runs per experiment")
    ] = 0,
    max_runs: MaxRuns = None,
    limit: Limit = 1000,
) -> RetentionReportOut:
    who = identity(request)
    if experiment_id is None and not who.unrestricted:
        raise CairnError(
            "Only admins may clean up every experiment: give 'experiment_id' (MANAGE on it)",
            ErrorCode.PERMISSION_DENIED,
        )
    found = await run_in_threadpool(
        retention(request).cleanup,
        days_old,
        dry_run,
        experiment_id,
        status,
        keep_newest,
        who.username,
        Limits(max_runs, limit),
    )
    return _report(found)
