"""Promotion approvals: a registered model's promotion policy, approval requests (ask, list,
approve, reject, cancel) and rollback to the previous version of a stage.

Under a policy, moving a version to a covered stage or alias makes an approval request
unless an admin asks; approving applies the move once the required approvals are reached.
See docs/audit.md, "Promotion approvals".
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Identity, Permission, ResourceType
from cairn.entities.approvals import ApprovalRequest, PromotionPolicy
from cairn.server.state import approvals, identity, visible
from cairn.services.approvals import ApprovalService, Outcome

READ, EDIT, MANAGE = Permission.READ, Permission.EDIT, Permission.MANAGE
router = APIRouter(prefix="/api/v1", tags=["approvals"])


class EvidenceIn(BaseModel):
    """A required fact about the version: its source run's ``tag`` whose ``value`` must match,
    a ``metric`` whose latest value compares with ``op`` (``>=`` by default) to ``value``, or an
    ``evaluation``: a job of the evaluation collection ``key`` ran on this version and ended
    ``value`` (``passed``, the default: completed without failing its pass criteria; or
    ``completed``)."""

    kind: Literal["tag", "metric", "evaluation"]
    key: str = Field(description="The tag or metric key, or the evaluation collection's id")
    value: str | float | None = None
    op: Literal[">=", ">", "<=", "<", "=="] | None = None


class PolicyIn(BaseModel):
    stages: list[str] = Field(default_factory=list, description="Staging and/or Production")
    aliases: list[str] = Field(default_factory=list, description="e.g. champion")
    required_approvals: int = 1
    approver_role: str | None = Field(
        default=None, description="Approvers hold this role; null: MANAGE holders of the model"
    )
    evidence: list[EvidenceIn] = Field(default_factory=list)


class PolicyOut(BaseModel):
    model_name: str
    stages: list[str]
    aliases: list[str]
    required_approvals: int
    approver_role: str | None
    evidence: list[dict[str, Any]]
    updated_at: int
    updated_by: str


class VoteOut(BaseModel):
    actor: str
    time: int
    comment: str | None


class CheckOut(BaseModel):
    check: str
    ok: bool
    detail: str


class RequestOut(BaseModel):
    """An approval request. ``evidence`` is the policy's checks on the version as it is now;
    ``changes_since_request`` (pending requests) what changed since it was asked for."""

    id: str
    model_name: str
    version: str
    target: dict[str, str] = Field(description='{"stage": "Production"} or {"alias": "…"}')
    archive_existing_versions: bool
    state: Literal["pending", "approved", "rejected", "cancelled"]
    requested_by: str
    requested_at: int
    comment: str | None
    required_approvals: int
    approvals: list[VoteOut]
    decided_by: str | None
    decided_at: int | None
    decision_comment: str | None
    evidence: list[CheckOut]
    changes_since_request: list[str]
    can_approve: bool = Field(description="Whether the caller may approve it now")


class RequestList(BaseModel):
    requests: list[RequestOut]
    next_page_token: str | None = None


class Applied(BaseModel):
    """The move was made at once (no policy covers it, or the caller may bypass)."""

    applied: bool = True
    version: str


class MoveIn(BaseModel):
    stage: str | None = None
    alias: str | None = None
    archive_existing_versions: bool = False
    comment: str | None = None


class DecisionIn(BaseModel):
    comment: str | None = None


class RollbackIn(BaseModel):
    stage: str = "Production"
    comment: str | None = None


def policy_out(policy: PromotionPolicy) -> PolicyOut:
    return PolicyOut.model_validate(policy.to_json())


def request_out(service: ApprovalService, who: Identity, r: ApprovalRequest) -> RequestOut:
    return RequestOut(
        id=str(r.id),
        model_name=r.model_name,
        version=str(r.version),
        target=r.target,
        archive_existing_versions=r.archive_existing,
        state=r.state.value,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        comment=r.comment,
        required_approvals=r.required_approvals,
        approvals=[VoteOut(actor=v.actor, time=v.time, comment=v.comment) for v in r.approvals],
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        decision_comment=r.decision_comment,
        evidence=[CheckOut(**c.to_json()) for c in r.evidence],
        changes_since_request=r.changes_since_request,
        can_approve=service.can_approve(who, r),
    )


async def _outcome(request: Request, response: Response, outcome: Outcome) -> RequestOut | Applied:
    if outcome.request is None:
        return Applied(version=str(outcome.version))
    response.status_code = 201
    service, who = approvals(request), identity(request)
    return await run_in_threadpool(request_out, service, who, outcome.request)


MOVED: dict[int | str, dict[str, Any]] = {
    200: {"model": Applied, "description": "Moved at once"},
    201: {"model": RequestOut, "description": "An approval request was made (or found)"},
}


# -------------------------------------------------------------------------------- policy
@router.get(
    "/models/{name}/promotion-policy",
    response_model=PolicyOut,
    summary="A registered model's promotion policy",
    responses={404: {"description": "No such model, or it has no policy"}},
)
@requires(p.model(READ, "name"))
async def get_policy(request: Request, name: str) -> PolicyOut:
    return policy_out(await run_in_threadpool(approvals(request).get_policy, name))


@router.put(
    "/models/{name}/promotion-policy",
    response_model=PolicyOut,
    summary="Set a registered model's promotion policy (MANAGE on the model)",
    description=(
        "Which target `stages` and `aliases` need approval, how many approvals "
        "(`required_approvals`, 1 to 20), who approves (`approver_role`, or MANAGE holders "
        "when null; admins always may) and the `evidence` the version's source run must show."
    ),
)
@requires(p.model(MANAGE, "name"))
async def set_policy(request: Request, name: str, body: PolicyIn) -> PolicyOut:
    data = body.model_dump()
    data["evidence"] = [
        {k: v for k, v in e.items() if v is not None or k != "op"} for e in data["evidence"]
    ]
    found = await run_in_threadpool(approvals(request).set_policy, identity(request), name, data)
    return policy_out(found)


@router.delete(
    "/models/{name}/promotion-policy",
    status_code=204,
    summary="Remove a registered model's promotion policy (MANAGE on the model)",
)
@requires(p.model(MANAGE, "name"))
async def delete_policy(request: Request, name: str) -> Response:
    await run_in_threadpool(approvals(request).delete_policy, name)
    return Response(status_code=204)


# ------------------------------------------------------------------------------ requests
@router.post(
    "/models/{name}/versions/{version}/requests",
    response_model=RequestOut | Applied,
    summary="Ask to move a version to a stage or alias",
    description=(
        'Body `{"stage": "Production"}` or `{"alias": "champion"}`, with '
        "`archive_existing_versions` and a `comment`. Under a policy covering the target "
        "(and unless the caller is an admin) an approval request is made: 201 with it. "
        "Otherwise the move is made at once: 200 `{applied: true}`. A version lacking the "
        "policy's evidence is refused (400, the reasons in the message)."
    ),
    responses=MOVED,
)
@requires(p.model(EDIT, "name"))
async def create_request(
    request: Request, response: Response, name: str, version: str, body: MoveIn
) -> RequestOut | Applied:
    outcome = await run_in_threadpool(
        approvals(request).move,
        identity(request),
        name,
        version,
        body.stage,
        body.alias,
        body.archive_existing_versions,
        body.comment,
    )
    return await _outcome(request, response, outcome)


@router.get(
    "/approval-requests",
    response_model=RequestList,
    summary="Approval requests, newest first (of the models the caller may read)",
)
@requires(p.USER_READ)
async def list_requests(
    request: Request,
    state: str | None = Query(
        "pending", description="pending, approved, rejected, cancelled, or all"
    ),
    model_name: str | None = None,
    max_results: int = Query(100, ge=1, le=1000),
    page_token: str | None = None,
) -> RequestList:
    service, who = approvals(request), identity(request)

    def read() -> RequestList:
        found, token = service.list_requests(
            state,
            model_name,
            max_results,
            page_token,
            visibility=visible(request, ResourceType.REGISTERED_MODEL),
        )
        return RequestList(
            requests=[request_out(service, who, r) for r in found], next_page_token=token
        )

    return await run_in_threadpool(read)


@router.get(
    "/approval-requests/{request_id}",
    response_model=RequestOut,
    summary="One approval request",
)
@requires(p.USER_READ)
async def get_request(request: Request, request_id: str) -> RequestOut:
    service, who = approvals(request), identity(request)
    found = await run_in_threadpool(service.get_request, who, request_id)
    return await run_in_threadpool(request_out, service, who, found)


async def _decide(
    request: Request, verb: str, request_id: str, body: DecisionIn | None
) -> RequestOut:
    service, who = approvals(request), identity(request)
    act = {"approve": service.approve, "reject": service.reject, "cancel": service.cancel}[verb]
    found = await run_in_threadpool(act, who, request_id, body.comment if body else None)
    return await run_in_threadpool(request_out, service, who, found)


@router.post(
    "/approval-requests/{request_id}/approve",
    response_model=RequestOut,
    summary="Approve a request (the approval that reaches the required count applies it)",
    description=(
        "Approvers: MANAGE holders of the model (or the policy's role) and admins; the "
        "requester cannot approve their own request (403)."
    ),
)
@requires(p.USER_WRITE)
async def approve(request: Request, request_id: str, body: DecisionIn | None = None) -> RequestOut:
    return await _decide(request, "approve", request_id, body)


@router.post(
    "/approval-requests/{request_id}/reject",
    response_model=RequestOut,
    summary="Reject a request (approvers); the version stays where it is",
)
@requires(p.USER_WRITE)
async def reject(request: Request, request_id: str, body: DecisionIn | None = None) -> RequestOut:
    return await _decide(request, "reject", request_id, body)


@router.post(
    "/approval-requests/{request_id}/cancel",
    response_model=RequestOut,
    summary="Withdraw a request (its requester or a MANAGE holder of the model)",
)
@requires(p.USER_WRITE)
async def cancel(request: Request, request_id: str, body: DecisionIn | None = None) -> RequestOut:
    return await _decide(request, "cancel", request_id, body)


@router.post(
    "/models/{name}/rollback",
    response_model=RequestOut | Applied,
    summary="Restore the previous version of a stage, through the promotion policy",
    description=(
        "The version that was in `stage` (default Production) before the current one moves "
        "back there, archiving the current one: 200 `{applied: true, version}` or, under a "
        "policy, 201 with the approval request. No earlier version: 400 INVALID_STATE."
    ),
    responses=MOVED,
)
@requires(p.model(EDIT, "name"))
async def rollback(
    request: Request, response: Response, name: str, body: RollbackIn
) -> RequestOut | Applied:
    outcome = await run_in_threadpool(
        approvals(request).rollback, identity(request), name, body.stage, body.comment
    )
    return await _outcome(request, response, outcome)
