"""Promotion approvals over HTTP with access control on (SQLite and PostgreSQL): the policy
routes, MLflow's transition-stage and set-alias answering APPROVAL_REQUIRED, /api/v1 requests
(who may approve, reject, cancel), rollback, and MLflow's transition-requests routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.entities.events import EventQuery
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store import events
from cairn.store.db import Database
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database

ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
MLFLOW, V1 = "/api/2.0/mlflow", "/api/v1"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
USERS = ("alice", "bob", "carol", "dave")


def as_(name: str) -> dict[str, str]:
    return basic(name, PW)


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def error(answer: Any, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code, answer.text
    message: str = answer.json()["message"]
    return message


@pytest.fixture(params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Auth on; model ``churn`` (versions 1-3, each from its own run) made by the admin;
    alice may EDIT it, bob MANAGE, carol and dave only READ."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with fresh_database(request.param, tmp_path) as uri:
        with TestClient(create_app(Settings(backend_store_uri=uri, auth=True))) as client:
            for name in USERS:
                ok(client.post(f"{V1}/users", json={"username": name, "password": PW},
                               headers=AS_ADMIN))  # fmt: skip
            ok(client.post(f"{MLFLOW}/registered-models/create", json={"name": "churn"},
                           headers=AS_ADMIN))  # fmt: skip
            for name, level in (("alice", "EDIT"), ("bob", "MANAGE")):
                grant = {"permission": level}
                ok(client.put(f"{V1}/models/churn/permissions/{name}", json=grant,
                              headers=AS_ADMIN))  # fmt: skip
            for _ in range(3):
                run = ok(client.post(f"{MLFLOW}/runs/create", json={"experiment_id": "0"},
                                     headers=AS_ADMIN))["run"]["info"]  # fmt: skip
                body = {"name": "churn", "source": f"runs:/{run['run_id']}/model",
                        "run_id": run["run_id"]}  # fmt: skip
                ok(client.post(f"{MLFLOW}/model-versions/create", json=body, headers=AS_ADMIN))
            yield client


def stage_of(client: TestClient, version: int) -> str:
    found = ok(client.get(f"{MLFLOW}/model-versions/get", params={"name": "churn",
               "version": version}, headers=AS_ADMIN))  # fmt: skip
    stage: str = found["model_version"]["current_stage"]
    return stage


def transition(client: TestClient, who: str, version: int, archive: bool = False) -> Any:
    body = {"name": "churn", "version": str(version), "stage": "Production",
            "archive_existing_versions": archive}  # fmt: skip
    headers = AS_ADMIN if who == ADMIN else as_(who)
    return client.post(f"{MLFLOW}/model-versions/transition-stage", json=body, headers=headers)


POLICY = {"stages": ["Production"], "aliases": ["champion"], "required_approvals": 1}


def test_policy_routes_and_who_may_set_them(app: TestClient) -> None:
    base = f"{V1}/models/churn/promotion-policy"
    error(app.get(base, headers=as_("carol")), 404, "RESOURCE_DOES_NOT_EXIST")
    error(app.put(base, json=POLICY, headers=as_("alice")), 403, "PERMISSION_DENIED")
    set_ = ok(app.put(base, json={**POLICY, "evidence": [
        {"kind": "metric", "key": "f1", "value": 0.8}]}, headers=as_("bob")))  # fmt: skip
    assert set_["updated_by"] == "bob"
    assert set_["evidence"] == [{"kind": "metric", "key": "f1", "op": ">=", "value": 0.8}]
    assert ok(app.get(base, headers=as_("carol"))) == set_
    bad = app.put(base, json={**POLICY, "approver_role": "nobody"}, headers=as_("bob"))
    assert bad.status_code == 404, bad.text
    bad = app.put(base, json={**POLICY, "stages": ["Nowhere"]}, headers=as_("bob"))
    assert "Nowhere" in error(bad, 400, "INVALID_PARAMETER_VALUE")
    error(app.delete(base, headers=as_("alice")), 403, "PERMISSION_DENIED")
    assert app.delete(base, headers=as_("bob")).status_code == 204
    error(app.get(base, headers=as_("bob")), 404, "RESOURCE_DOES_NOT_EXIST")


def test_transition_under_a_policy_needs_an_approval(app: TestClient) -> None:
    ok(app.put(f"{V1}/models/churn/promotion-policy", json=POLICY, headers=as_("bob")))
    message = error(transition(app, "alice", 1), 409, "APPROVAL_REQUIRED")
    assert "approval request 1 " in message
    assert stage_of(app, 1) == "None"
    alias = {"name": "churn", "alias": "champion", "version": "1"}
    message = error(app.post(f"{MLFLOW}/registered-models/alias", json=alias,
                             headers=as_("alice")), 409, "APPROVAL_REQUIRED")  # fmt: skip
    assert "approval request 2 " in message

    listed = ok(app.get(f"{V1}/approval-requests", headers=as_("bob")))["requests"]
    assert [(r["id"], r["target"], r["can_approve"]) for r in listed] == [
        ("2", {"alias": "champion"}, True),
        ("1", {"stage": "Production"}, True),
    ]
    mine = ok(app.get(f"{V1}/approval-requests/1", headers=as_("alice")))
    assert (mine["requested_by"], mine["state"], mine["can_approve"]) == ("alice", "pending", False)
    assert mine["version"] == "1"
    assert mine["model_name"] == "churn"
    decide = f"{V1}/approval-requests/1"
    error(app.post(f"{decide}/approve", json={}, headers=as_("alice")), 403, "PERMISSION_DENIED")
    error(app.post(f"{decide}/approve", json={}, headers=as_("carol")), 403, "PERMISSION_DENIED")
    done = ok(app.post(f"{decide}/approve", json={"comment": "ok"}, headers=as_("bob")))
    assert (done["state"], done["decided_by"]) == ("approved", "bob")
    assert done["approvals"][0]["actor"] == "bob"
    assert stage_of(app, 1) == "Production"
    rejected = ok(app.post(f"{V1}/approval-requests/2/reject", json={"comment": "no"},
                           headers=as_("bob")))  # fmt: skip
    assert rejected["state"] == "rejected"
    model = ok(app.get(f"{MLFLOW}/registered-models/get", params={"name": "churn"},
                       headers=AS_ADMIN))["registered_model"]  # fmt: skip
    assert "aliases" not in model
    # an admin moves at once
    assert ok(transition(app, ADMIN, 2, archive=True))["model_version"]["current_stage"] == (
        "Production"
    )
    db: Database = root_app(app.app).state.db
    found = db.read(lambda c: events.search(c, EventQuery(model_name="churn", limit=100)))
    acts = [(e.action, e.entity_id, e.actor) for e in reversed(found)]
    assert ("approval_request.create", "1", "alice") in acts
    assert ("approval_request.approve", "1", "bob") in acts
    assert ("model_version.transition_stage", "churn/1", "bob") in acts
    assert ("approval_request.reject", "2", "bob") in acts
    assert ("policy.set", "churn", "bob") in acts
    assert ("model_version.transition_stage", "churn/2", ADMIN) in acts


def test_v1_requests_cancel_rollback_and_roles(app: TestClient) -> None:
    ok(app.put(f"{V1}/models/churn/promotion-policy", json=POLICY, headers=as_("bob")))
    ask = f"{V1}/models/churn/versions/1/requests"
    applied = ok(app.post(ask, json={"stage": "Staging"}, headers=as_("alice")))
    assert applied == {"applied": True, "version": "1"}
    error(app.post(ask, json={"stage": "Production"}, headers=as_("carol")), 403,
          "PERMISSION_DENIED")  # fmt: skip
    made = ok(app.post(ask, json={"stage": "Production", "comment": "go"},
                       headers=as_("alice")), 201)  # fmt: skip
    assert (made["state"], made["comment"], made["target"]) == (
        "pending",
        "go",
        {"stage": "Production"},
    )
    error(app.post(f"{V1}/approval-requests/{made['id']}/cancel", json={}, headers=as_("carol")),
          403, "PERMISSION_DENIED")  # fmt: skip
    gone = ok(app.post(f"{V1}/approval-requests/{made['id']}/cancel", headers=as_("alice")))
    assert gone["state"] == "cancelled"
    error(app.post(f"{V1}/approval-requests/{made['id']}/approve", json={}, headers=as_("bob")),
          400, "INVALID_STATE")  # fmt: skip

    # an approver role instead of MANAGE holders
    role = ok(app.post(f"{V1}/roles", json={"name": "approvers"}, headers=AS_ADMIN))
    ok(app.put(f"{V1}/roles/{role['id']}/members/dave", headers=AS_ADMIN))
    ok(app.put(f"{V1}/models/churn/promotion-policy", json={**POLICY, "approver_role":
               "approvers"}, headers=as_("bob")))  # fmt: skip
    for version in (1, 2):
        ok(transition(app, ADMIN, version, archive=True))
    rolled = ok(app.post(f"{V1}/models/churn/rollback", json={"stage": "Production"},
                         headers=as_("alice")), 201)  # fmt: skip
    assert (rolled["version"], rolled["archive_existing_versions"]) == ("1", True)
    assert (
        ok(app.get(f"{V1}/approval-requests/{rolled['id']}", headers=as_("bob")))["can_approve"]
        is False
    )
    error(app.post(f"{V1}/approval-requests/{rolled['id']}/approve", json={},
                   headers=as_("bob")), 403, "PERMISSION_DENIED")  # fmt: skip
    ok(app.post(f"{V1}/approval-requests/{rolled['id']}/approve", json={}, headers=as_("dave")))
    assert (stage_of(app, 1), stage_of(app, 2)) == ("Production", "Archived")
    history = ok(app.get(f"{V1}/models/churn/history", headers=as_("carol")))["events"]
    assert (history[0]["version"], history[0]["to"], history[0]["actor"]) == (
        "1",
        "Production",
        "dave",
    )
    states = ok(app.get(f"{V1}/approval-requests", params={"state": "all"},
                        headers=as_("carol")))["requests"]  # fmt: skip
    assert [r["state"] for r in states] == ["approved", "cancelled"]
    bad = app.get(f"{V1}/approval-requests", params={"state": "odd"}, headers=as_("carol"))
    assert "state" in error(bad, 400, "INVALID_PARAMETER_VALUE")
    error(app.get(f"{V1}/approval-requests/999", headers=as_("carol")), 404,
          "RESOURCE_DOES_NOT_EXIST")  # fmt: skip


def test_mlflow_transition_requests(app: TestClient) -> None:
    tr = f"{MLFLOW}/transition-requests"
    made = ok(app.post(f"{tr}/create", json={"name": "churn", "version": "1",
              "stage": "Production", "comment": "please"}, headers=as_("alice")))  # fmt: skip
    request = made["request"]
    assert (request["to_stage"], request["user_id"], request["comment"]) == (
        "Production", "alice", "please")  # fmt: skip
    assert request["available_actions"] == ["CANCEL_TRANSITION_REQUEST"]
    assert stage_of(app, 1) == "None"  # no policy: still a request
    listed = ok(app.get(f"{tr}/list", params={"name": "churn", "version": "1"},
                        headers=as_("bob")))["requests"]  # fmt: skip
    assert [(r["id"], r["available_actions"]) for r in listed] == [
        (request["id"], ["APPROVE_TRANSITION_REQUEST", "REJECT_TRANSITION_REQUEST"])
    ]
    decide = {"name": "churn", "version": "1", "stage": "Production",
              "archive_existing_versions": True, "comment": "ok"}  # fmt: skip
    error(app.post(f"{tr}/approve", json=decide, headers=as_("alice")), 403, "PERMISSION_DENIED")
    activity = ok(app.post(f"{tr}/approve", json=decide, headers=as_("bob")))["activity"]
    assert (activity["activity_type"], activity["user_id"]) == ("APPROVED_REQUEST", "bob")
    assert stage_of(app, 1) == "Production"
    error(app.post(f"{tr}/approve", json=decide, headers=as_("bob")), 404,
          "RESOURCE_DOES_NOT_EXIST")  # fmt: skip

    for version in ("2", "3"):
        ok(app.post(f"{tr}/create", json={"name": "churn", "version": version,
                    "stage": "Staging"}, headers=as_("alice")))  # fmt: skip
    rejected = ok(app.post(f"{tr}/reject", json={"name": "churn", "version": "2",
                  "stage": "Staging", "comment": "no"}, headers=as_("bob")))  # fmt: skip
    assert rejected["activity"]["activity_type"] == "REJECTED_REQUEST"
    query = {"name": "churn", "version": "3", "stage": "Staging", "creator": "bob"}
    error(app.delete(f"{tr}/delete", params=query, headers=as_("alice")), 404,
          "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    ok(app.delete(f"{tr}/delete", params={**query, "creator": "alice"}, headers=as_("alice")))
    assert ok(app.get(f"{tr}/list", params={"name": "churn", "version": "3"},
                      headers=as_("bob")))["requests"] == []  # fmt: skip
    assert (stage_of(app, 2), stage_of(app, 3)) == ("None", "None")
