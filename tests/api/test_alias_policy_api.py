"""The alias-policy routes over HTTP with access control on (SQLite and PostgreSQL): MANAGE
holders and admins read, set and remove it, others are refused; bad input is a 400 naming the
field; the consumer then moves the aliases, seen through MLflow's get-by-alias."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.model_policies import apply_model_policies
from cairn.store import events
from cairn.store.db import Database
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database

ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
MLFLOW, V1 = "/api/2.0/mlflow", "/api/v1"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
BASE = f"{V1}/models/churn/alias-policy"


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
    """Auth on; model ``churn`` with versions 1-2 (runs logging test_f1 0.7 and 0.6) made by
    the admin; alice may EDIT it, bob MANAGE, carol only READ."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with fresh_database(request.param, tmp_path) as uri:
        with TestClient(create_app(Settings(backend_store_uri=uri, auth=True))) as client:
            for name in ("alice", "bob", "carol"):
                ok(client.post(f"{V1}/users", json={"username": name, "password": PW},
                               headers=AS_ADMIN))  # fmt: skip
            ok(client.post(f"{MLFLOW}/registered-models/create", json={"name": "churn"},
                           headers=AS_ADMIN))  # fmt: skip
            for name, level in (("alice", "EDIT"), ("bob", "MANAGE")):
                ok(client.put(f"{V1}/models/churn/permissions/{name}",
                              json={"permission": level}, headers=AS_ADMIN))  # fmt: skip
            for value in (0.7, 0.6):
                run = ok(client.post(f"{MLFLOW}/runs/create", json={"experiment_id": "0"},
                                     headers=AS_ADMIN))["run"]["info"]["run_id"]  # fmt: skip
                metric = {"run_id": run, "key": "test_f1", "value": value, "timestamp": 1,
                          "step": 0}  # fmt: skip
                ok(client.post(f"{MLFLOW}/runs/log-metric", json=metric, headers=AS_ADMIN))
                body = {"name": "churn", "source": f"runs:/{run}/model", "run_id": run}
                ok(client.post(f"{MLFLOW}/model-versions/create", json=body, headers=AS_ADMIN))
            yield client


def consume(client: TestClient) -> None:
    """What the job engine does: hand the consumer the log in one write."""
    db: Database = root_app(client.app).state.db
    db.write(lambda c: apply_model_policies(c, list(events.walk(c, 0))))


def alias(client: TestClient, name: str) -> str | None:
    answer = client.get(f"{MLFLOW}/registered-models/alias", params={"name": "churn",
                        "alias": name}, headers=AS_ADMIN)  # fmt: skip
    if answer.status_code != 200:
        return None
    found: str = answer.json()["model_version"]["version"]
    return found


def test_routes_and_who_may_use_them(app: TestClient) -> None:
    error(app.get(BASE, headers=as_("bob")), 404, "RESOURCE_DOES_NOT_EXIST")
    body = {"latest": True, "best_metric": "test_f1"}
    for who in ("alice", "carol"):
        error(app.put(BASE, json=body, headers=as_(who)), 403, "PERMISSION_DENIED")
    set_ = ok(app.put(BASE, json=body, headers=as_("bob")))
    assert set_ | {"updated_at": 0} == {
        "model_name": "churn", "latest": True, "latest_alias": "latest",
        "best_metric": "test_f1", "best_direction": "max", "best_alias": "best",
        "updated_at": 0, "updated_by": "bob",
    }  # fmt: skip
    assert ok(app.get(BASE, headers=as_("bob"))) == set_
    assert ok(app.get(BASE, headers=AS_ADMIN)) == set_
    for who in ("alice", "carol"):
        error(app.get(BASE, headers=as_(who)), 403, "PERMISSION_DENIED")
        error(app.delete(BASE, headers=as_(who)), 403, "PERMISSION_DENIED")
    error(app.get(BASE, headers={}), 401, "UNAUTHENTICATED")
    # the consumer places the aliases: newest version, best f1 (version 1)
    consume(app)
    assert (alias(app, "latest"), alias(app, "best")) == ("2", "1")
    history = ok(app.get(f"{V1}/models/churn/history", headers=AS_ADMIN))
    assert {e["actor"] for e in history["events"] if e["kind"].startswith("alias")} == {"system"}
    assert app.delete(BASE, headers=as_("bob")).status_code == 204
    error(app.get(BASE, headers=as_("bob")), 404, "RESOURCE_DOES_NOT_EXIST")
    error(app.delete(BASE, headers=as_("bob")), 404, "RESOURCE_DOES_NOT_EXIST")
    assert alias(app, "best") == "1"  # removing the policy leaves the aliases...
    assert alias(app, "latest") is None  # ...but the reserved one, which nobody else may move
    error(app.put(f"{V1}/models/nope/alias-policy", json=body, headers=AS_ADMIN), 404,
          "RESOURCE_DOES_NOT_EXIST")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latest": "yes"}, "latest"),
        ({"latest": None}, "latest"),
        ({"latest": True, "latest_alias": 5}, "latest_alias"),
        ({"latest": True, "latest_alias": "v2"}, "latest_alias"),
        ({"best_metric": "a" * 300}, "best_metric"),
        ({"best_metric": ["f1"]}, "best_metric"),
        ({"best_metric": "f1", "best_direction": "up"}, "best_direction"),
        ({"best_metric": "f1", "best_alias": "bad alias"}, "best_alias"),
        ({"best_metric": "f1", "best_alias": "<script>"}, "best_alias"),
        ({"latest": False}, "latest"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    app: TestClient, body: dict[str, Any], field: str
) -> None:
    message = error(app.put(BASE, json=body, headers=as_("bob")), 400, "INVALID_PARAMETER_VALUE")
    assert field in message, message


def test_malformed_bodies(app: TestClient) -> None:
    headers = {**as_("bob"), "Content-Type": "application/json"}
    error(app.put(BASE, content=b"{not json", headers=headers), 400, "INVALID_PARAMETER_VALUE")
    error(app.put(BASE, content=b"[1, 2]", headers=headers), 400, "INVALID_PARAMETER_VALUE")


def test_policy_summary_says_which_policies_a_model_has_without_a_404(app: TestClient) -> None:
    summary = f"{V1}/models/churn/policy-summary"
    none = {"promotion_policy": False, "alias_policy": False, "metrics": []}
    assert ok(app.get(summary, headers=as_("carol"))) == none  # READ is enough
    ok(app.put(BASE, json={"best_metric": "test_f1"}, headers=as_("bob")))
    evidence = [
        {"kind": "metric", "key": "val_loss", "op": "<=", "value": 0.5},
        {"kind": "metric", "key": "test_f1", "value": 0.5},
        {"kind": "tag", "key": "qa", "value": "ok"},
    ]
    policy = {"stages": ["Production"], "required_approvals": 1, "evidence": evidence}
    ok(app.put(f"{V1}/models/churn/promotion-policy", json=policy, headers=as_("bob")))
    assert ok(app.get(summary, headers=as_("carol"))) == {
        "promotion_policy": True, "alias_policy": True, "metrics": ["test_f1", "val_loss"],
    }  # fmt: skip
    error(app.get(summary, headers={}), 401, "UNAUTHENTICATED")
    error(app.get(f"{V1}/models/nope/policy-summary", headers=AS_ADMIN), 404,
          "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
