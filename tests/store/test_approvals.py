"""Promotion approvals on SQLite and PostgreSQL (real databases, the service and its store):
policy, request, evidence, self-approval refused, approve applies, reject leaves the stage,
concurrent approvals for one stage, changes since the request, rollback."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cairn.artifacts.uri import repository_for
from cairn.entities.access import AuthMethod, Identity
from cairn.entities.approvals import RequestState
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import EventQuery
from cairn.services.approvals import ApprovalService
from cairn.services.artifacts import ArtifactService
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService
from cairn.store import events
from cairn.store.db import Database

ALICE = Identity("alice", AuthMethod.PASSWORD, user_id=1)
BOB = Identity("bob", AuthMethod.PASSWORD, user_id=2)
CAROL = Identity("carol", AuthMethod.PASSWORD, user_id=3)
ADMIN = Identity("root", AuthMethod.PASSWORD, user_id=4, is_admin=True)
POLICY = {"stages": ["Production"], "aliases": ["champion"], "required_approvals": 1}


@pytest.fixture
def reg(database: Database, tmp_path: Path) -> RegistryService:
    return RegistryService(database, ArtifactService(repository_for(str(tmp_path))))


@pytest.fixture
def approvals(database: Database) -> ApprovalService:
    return ApprovalService(database)  # access control off: anyone signed in may approve


def _model(reg: RegistryService, tracking: TrackingService, versions: int = 2) -> list[str]:
    """Model ``m`` with ``versions`` versions, each from its own run; the run ids."""
    reg.create_model("m")
    run_ids = []
    for _ in range(versions):
        run = tracking.create_run("0")
        run_ids.append(run.info.run_id)
        reg.create_version("m", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return run_ids


def _code(exc: pytest.ExceptionInfo[CairnError]) -> ErrorCode:
    return exc.value.error_code


def test_policy_set_get_delete_and_validation(
    reg: RegistryService, approvals: ApprovalService
) -> None:
    reg.create_model("m")
    with pytest.raises(CairnError) as exc:
        approvals.get_policy("m")
    assert _code(exc) is ErrorCode.RESOURCE_DOES_NOT_EXIST
    body = {
        **POLICY,
        "stages": ["production", "Staging"],
        "evidence": [
            {"kind": "tag", "key": "Approval_Status", "value": "Approved"},
            {"kind": "metric", "key": "test_f1", "op": ">=", "value": 0.85},
        ],
    }
    policy = approvals.set_policy(ALICE, "m", body).to_json()
    assert policy["stages"] == ["Production", "Staging"]
    assert policy["updated_by"] == "alice"
    assert policy["approver_role"] is None
    assert policy["evidence"][1] == {"kind": "metric", "key": "test_f1", "op": ">=", "value": 0.85}
    assert approvals.get_policy("m").to_json() == policy
    for bad, field in (
        ({"stages": ["Archived"]}, "stage"),
        ({"stages": ["Production"], "required_approvals": 0}, "required_approvals"),
        ({"aliases": ["latest"]}, "alias"),
        ({"stages": []}, "stages"),
        ({"stages": ["Production"], "evidence": [{"kind": "metric", "key": "f", "op": "~"}]},
         "evidence[0].op"),
        ({"stages": ["Production"], "evidence": [{"kind": "x", "key": "f"}]}, "evidence[0].kind"),
    ):  # fmt: skip
        with pytest.raises(CairnError) as exc:
            approvals.set_policy(ALICE, "m", bad)
        assert _code(exc) is ErrorCode.INVALID_PARAMETER_VALUE
        assert field in exc.value.message
    approvals.delete_policy("m")
    with pytest.raises(CairnError) as exc:
        approvals.delete_policy("m")
    assert _code(exc) is ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_request_approve_applies_and_self_approval_is_refused(
    reg: RegistryService, approvals: ApprovalService, tracking: TrackingService, database: Database
) -> None:
    _model(reg, tracking)
    assert approvals.move(ALICE, "m", 1, stage="Production").request is None  # no policy
    approvals.set_policy(ALICE, "m", POLICY)
    with pytest.raises(CairnError) as exc:
        approvals.transition(ALICE, "m", 2, "Production", True)
    assert _code(exc) is ErrorCode.APPROVAL_REQUIRED
    assert "approval request 1 " in exc.value.message
    assert reg.get_version("m", 2).current_stage == "None"
    again = approvals.move(ALICE, "m", 2, stage="Production", archive_existing=True).request
    assert again is not None
    assert again.id == 1
    assert approvals.move(ALICE, "m", 2, stage="Staging").request is None  # not covered
    with pytest.raises(CairnError) as exc:
        approvals.approve(ALICE, 1, "me")
    assert _code(exc) is ErrorCode.PERMISSION_DENIED
    assert not approvals.can_approve(ALICE, approvals.get_request(ALICE, 1))
    assert approvals.can_approve(BOB, approvals.get_request(BOB, 1))
    done = approvals.approve(BOB, "1", "ship it")
    assert done.state is RequestState.APPROVED
    assert done.decided_by == "bob"
    assert [(v.actor, v.comment) for v in done.approvals] == [("bob", "ship it")]
    assert reg.get_version("m", 2).current_stage == "Production"
    assert reg.get_version("m", 1).current_stage == "Archived"
    with pytest.raises(CairnError) as exc:
        approvals.approve(CAROL, 1)
    assert _code(exc) is ErrorCode.INVALID_STATE
    actions = [
        (e.action, e.entity_id, e.actor)
        for e in database.read(lambda c: events.search(c, EventQuery(limit=3)))
    ]
    assert sorted(actions) == [
        ("approval_request.approve", "1", "local"),
        ("model_version.transition_stage", "m/1", "local"),
        ("model_version.transition_stage", "m/2", "local"),
    ]
    # admins bypass the policy
    assert approvals.move(ADMIN, "m", 1, stage="Production").request is None


def test_two_approvals_and_alias_and_reject_and_cancel(
    reg: RegistryService, approvals: ApprovalService, tracking: TrackingService
) -> None:
    _model(reg, tracking)
    approvals.set_policy(ALICE, "m", {**POLICY, "required_approvals": 2})
    with pytest.raises(CairnError) as exc:
        approvals.set_alias(ALICE, "m", "champion", 1)
    assert _code(exc) is ErrorCode.APPROVAL_REQUIRED
    first = approvals.list_requests(state="pending")[0][0]
    assert first.target == {"alias": "champion"}
    assert approvals.approve(BOB, first.id).state is RequestState.PENDING
    with pytest.raises(CairnError) as exc:
        approvals.approve(BOB, first.id)
    assert _code(exc) is ErrorCode.RESOURCE_ALREADY_EXISTS
    assert reg.get_model("m").aliases == {}
    assert approvals.approve(CAROL, first.id).state is RequestState.APPROVED
    assert reg.get_model("m").aliases == {"champion": 1}

    asked = approvals.move(ALICE, "m", 2, stage="Production", comment="please").request
    assert asked is not None
    assert asked.comment == "please"
    rejected = approvals.reject(BOB, asked.id, "not yet")
    assert (rejected.state, rejected.decision_comment) == (RequestState.REJECTED, "not yet")
    assert reg.get_version("m", 2).current_stage == "None"
    asked = approvals.move(ALICE, "m", 2, stage="Production").request
    assert asked is not None
    cancelled = approvals.cancel(ALICE, asked.id)
    assert cancelled.state is RequestState.CANCELLED
    states = [r.state.value for r in approvals.list_requests(model_name="m")[0]]
    assert states == ["cancelled", "rejected", "approved"]
    page, token = approvals.list_requests(max_results=2)
    assert len(page) == 2
    assert token is not None
    rest, token = approvals.list_requests(max_results=2, page_token=token)
    assert [r.id for r in rest] == [first.id]
    assert token is None


def test_evidence_is_required_and_changes_are_shown(
    reg: RegistryService, approvals: ApprovalService, tracking: TrackingService
) -> None:
    runs = _model(reg, tracking, 3)
    tracking.set_tag(runs[1], "Approval_Status", "Pending_Review")
    tracking.log_metric(runs[1], "test_f1", 0.9, 0, 0)
    approvals.set_policy(
        ALICE,
        "m",
        {
            **POLICY,
            "evidence": [
                {"kind": "tag", "key": "Approval_Status", "value": "Approved"},
                {"kind": "metric", "key": "test_f1", "op": ">=", "value": 0.85},
            ],
        },
    )
    with pytest.raises(CairnError) as exc:
        approvals.move(ALICE, "m", 2, stage="Production")
    assert _code(exc) is ErrorCode.INVALID_PARAMETER_VALUE
    assert "run tag Approval_Status = Approved is required" in exc.value.message
    assert "Pending_Review" in exc.value.message
    assert "test_f1" not in exc.value.message  # that one holds
    assert approvals.list_requests()[0] == []  # refused: nothing stored
    tracking.set_tag(runs[1], "Approval_Status", "Approved")
    request = approvals.move(ALICE, "m", 2, stage="Production").request
    assert request is not None
    assert [(e.ok, e.check) for e in request.evidence] == [
        (True, "run tag Approval_Status = Approved"),
        (True, "run metric test_f1 >= 0.85"),
    ]
    assert request.changes_since_request == []
    tracking.set_tag(runs[1], "note", "retrained")
    reg.transition_stage("m", 3, "Production")  # moves to Production without the policy
    seen = approvals.get_request(BOB, request.id).changes_since_request
    assert seen == [
        "run tag note was set to retrained",
        "version 3 was promoted to Production meanwhile",
    ]
    tracking.set_tag(runs[1], "Approval_Status", "Revoked")
    with pytest.raises(CairnError) as exc:
        approvals.approve(BOB, request.id)
    assert "no longer has the evidence" in exc.value.message
    assert approvals.get_request(BOB, request.id).approvals == []  # the vote rolled back


def test_concurrent_approvals_leave_one_version_in_production(
    reg: RegistryService, approvals: ApprovalService, tracking: TrackingService
) -> None:
    _model(reg, tracking, 2)
    approvals.set_policy(ALICE, "m", POLICY)
    ids = []
    for version in (1, 2):
        request = approvals.move(ALICE, "m", version, "Production", archive_existing=True).request
        assert request is not None
        ids.append(request.id)
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def approve(who: Identity, rid: int) -> None:
        try:
            barrier.wait()
            approvals.approve(who, rid)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=approve, args=(who, rid))
        for who, rid in zip((BOB, CAROL), ids, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    stages = {v.version: v.current_stage for v in reg.search_versions("name='m'").items}
    assert sorted(stages.values()) == ["Archived", "Production"]
    assert all(approvals.get_request(BOB, i).state is RequestState.APPROVED for i in ids)


def test_rollback_goes_through_the_policy(
    reg: RegistryService, approvals: ApprovalService, tracking: TrackingService
) -> None:
    _model(reg, tracking, 3)
    with pytest.raises(CairnError) as exc:
        approvals.rollback(ALICE, "m", "Production", None)
    assert _code(exc) is ErrorCode.INVALID_STATE
    for version in (1, 2, 3):
        reg.transition_stage("m", version, "Production", archive_existing=True)
    outcome = approvals.rollback(ALICE, "m", "Production", "bad release")
    assert (outcome.version, outcome.request) == (2, None)
    assert reg.get_version("m", 2).current_stage == "Production"
    assert reg.get_version("m", 3).current_stage == "Archived"
    approvals.set_policy(ALICE, "m", POLICY)
    outcome = approvals.rollback(ALICE, "m", "Production", None)
    assert outcome.version == 3
    assert outcome.request is not None
    assert outcome.request.archive_existing
    approvals.approve(BOB, outcome.request.id)
    assert reg.get_version("m", 3).current_stage == "Production"
    assert reg.get_version("m", 2).current_stage == "Archived"
