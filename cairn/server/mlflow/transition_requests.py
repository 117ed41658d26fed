"""MLflow's Databricks-era transition requests (/mlflow/transition-requests/*), served by the
promotion approvals: a request names a model version and a target stage; approving it (by an
approver, not its creator) applies the move, rejecting or deleting it closes it.

Answers follow that API's shapes: a request is ``{creation_timestamp, to_stage, user_id,
comment, available_actions}`` and approve/reject answer an ``activity``. Cairn adds the
request's ``id`` (the /api/v1/approval-requests id).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import Identity, Permission
from cairn.entities.approvals import ApprovalRequest, RequestState
from cairn.entities.errors import CairnError
from cairn.server import wire
from cairn.server.mlflow import registry_messages as m
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.state import approvals, identity
from cairn.services.approvals import ApprovalService

ACTIVITY = {
    RequestState.APPROVED: "APPROVED_REQUEST",
    RequestState.REJECTED: "REJECTED_REQUEST",
    RequestState.CANCELLED: "CANCELLED_REQUEST",
    RequestState.PENDING: "REQUESTED_TRANSITION",
}


def transition_request(service: ApprovalService, who: Identity, r: ApprovalRequest) -> wire.Json:
    actions = []
    if service.can_approve(who, r):
        actions += ["APPROVE_TRANSITION_REQUEST", "REJECT_TRANSITION_REQUEST"]
    if r.state is RequestState.PENDING and who.username == r.requested_by:
        actions.append("CANCEL_TRANSITION_REQUEST")
    return {
        "id": str(r.id),
        "creation_timestamp": r.requested_at,
        "to_stage": r.target_stage,
        "user_id": r.requested_by,
        "comment": r.comment or "",
        "available_actions": actions,
    }


def activity(r: ApprovalRequest) -> wire.Json:
    return {
        "id": str(r.id),
        "activity_type": ACTIVITY[r.state],
        "to_stage": r.target_stage,
        "user_id": r.decided_by or r.requested_by,
        "comment": r.decision_comment or "",
        "creation_timestamp": r.requested_at,
        "last_updated_timestamp": r.decided_at or r.requested_at,
    }


async def create(request: Request, msg: m.CreateTransitionRequest) -> wire.Json:
    service, who = approvals(request), identity(request)
    made = await run_in_threadpool(service.ask, who, msg.name, msg.version, msg.stage, msg.comment)
    return {"request": await run_in_threadpool(transition_request, service, who, made)}


async def list_requests(request: Request, msg: m.ListTransitionRequests) -> wire.Json:
    service, who = approvals(request), identity(request)

    def read() -> wire.Json:
        found, _ = service.list_requests("pending", msg.name, 1000, version=msg.version)
        return {"requests": [transition_request(service, who, r) for r in reversed(found)]}

    return await run_in_threadpool(read)


async def approve(request: Request, msg: m.DecideTransitionRequest) -> wire.Json:
    service, who = approvals(request), identity(request)
    await run_in_threadpool(service.check_approver, who, msg.name)
    rid = await run_in_threadpool(service.pending_id, msg.name, msg.version, msg.stage)
    done = await run_in_threadpool(
        service.approve, who, rid, msg.comment, msg.archive_existing_versions
    )
    return {"activity": activity(done)}


async def reject(request: Request, msg: m.DecideTransitionRequest) -> wire.Json:
    service, who = approvals(request), identity(request)
    await run_in_threadpool(service.check_approver, who, msg.name)
    rid = await run_in_threadpool(service.pending_id, msg.name, msg.version, msg.stage)
    done = await run_in_threadpool(service.reject, who, rid, msg.comment)
    return {"activity": activity(done)}


async def delete(request: Request, msg: m.DeleteTransitionRequest) -> wire.Json:
    query = request.query_params
    name = msg.name or query.get("name")
    version = msg.version or query.get("version")
    stage = msg.stage or query.get("stage")
    creator = msg.creator or query.get("creator")
    comment = msg.comment or query.get("comment")
    for field, value in (("name", name), ("version", version), ("stage", stage)):
        if not value:
            raise CairnError.invalid(f"Missing value for required parameter '{field}'.")
    service, who = approvals(request), identity(request)
    rid = await run_in_threadpool(service.pending_id, name, version, stage, creator)
    await run_in_threadpool(service.cancel, who, rid, comment)
    return {}


TR = "/transition-requests"
READ, EDIT = Permission.READ, Permission.EDIT
DECIDE = p.model(EDIT)
"""Approving and rejecting here: EDIT on the model (as every MLflow write), then the approver
check (MANAGE, or the policy's role) before anything else. /api/v1's routes need only the
approver check."""

ENDPOINTS = [
    Endpoint(
        ("POST",),
        f"{TR}/create",
        m.CreateTransitionRequest,
        create,
        "Ask for a model version's stage transition (an approval request)",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("GET",),
        f"{TR}/list",
        m.ListTransitionRequests,
        list_requests,
        "Pending transition requests of a model version",
        need=p.model(READ),
    ),
    Endpoint(
        ("POST",),
        f"{TR}/approve",
        m.DecideTransitionRequest,
        approve,
        "Approve a pending transition request (applies it)",
        need=DECIDE,
    ),
    Endpoint(
        ("POST",),
        f"{TR}/reject",
        m.DecideTransitionRequest,
        reject,
        "Reject a pending transition request",
        need=DECIDE,
    ),
    Endpoint(
        ("DELETE",),
        f"{TR}/delete",
        m.DeleteTransitionRequest,
        delete,
        "Withdraw a pending transition request (its creator or a MANAGE holder)",
        need=p.model(EDIT),
    ),
]
