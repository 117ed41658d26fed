"""Metric alerts over HTTP with access control on (SQLite and PostgreSQL): rules CRUD for
admins and MANAGE holders only, bad input answered 400 naming the field, alerts listed to
readers of their experiment (state filter, keyset paging), the firing count, acknowledge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.entities.events import ACTING, SYSTEM_ACTOR
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.alert_jobs import evaluate_events
from cairn.store import events
from cairn.store.db import Database
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database

ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
MLFLOW, V1 = "/api/2.0/mlflow", "/api/v1"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
USERS = ("alice", "bob", "carol")


def as_(name: str) -> dict[str, str]:
    return basic(name, PW)


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def error(answer: Any, status: int, code: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    if code is not None:
        assert answer.json()["error_code"] == code, answer.text
    message: str = answer.json()["message"]
    return message


@pytest.fixture(params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Auth on, no default permission; experiment ``lims`` made by the admin: alice MANAGEs
    it, bob may READ it, carol has nothing."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with fresh_database(request.param, tmp_path) as uri:
        with TestClient(
            create_app(
                Settings(
                    backend_store_uri=uri,
                    auth=True,
                    default_permission="NO_PERMISSIONS",
                    run_jobs=False,  # the tests evaluate the change log themselves
                )
            )
        ) as client:
            for name in USERS:
                ok(client.post(f"{V1}/users", json={"username": name, "password": PW},
                               headers=AS_ADMIN))  # fmt: skip
            eid = ok(client.post(f"{MLFLOW}/experiments/create", json={"name": "lims"},
                                 headers=AS_ADMIN))["experiment_id"]  # fmt: skip
            for name, level in (("alice", "MANAGE"), ("bob", "READ")):
                ok(client.put(f"{V1}/experiments/{eid}/permissions/{name}",
                              json={"permission": level}, headers=AS_ADMIN))  # fmt: skip
            yield client


def evaluate(client: TestClient) -> None:
    """Run the alerts consumer over the whole log (as the job engine would, from cursor 0:
    evaluation is idempotent for what it already judged)."""
    db: Database = root_app(client.app).state.db
    token = ACTING.set(SYSTEM_ACTOR)
    try:
        db.write(lambda c: evaluate_events(c, list(events.walk(c, 0))))
    finally:
        ACTING.reset(token)


RULE = {"name": "loss high", "experiment_id": "1", "kind": "threshold", "metric": "val_loss",
        "op": ">", "value": 0.5}  # fmt: skip


def test_rules_crud_and_access(app: TestClient) -> None:
    # neither a reader nor a stranger may create; the manager and the admin may
    assert "MANAGE" in error(app.post(f"{V1}/alerts/rules", json=RULE, headers=as_("bob")), 403)
    error(app.post(f"{V1}/alerts/rules", json=RULE, headers=as_("carol")), 403)
    made = ok(app.post(f"{V1}/alerts/rules", json=RULE, headers=as_("alice")), 201)
    assert (made["kind"], made["created_by"], made["experiment_id"]) == ("threshold", "alice", "1")
    ok(app.post(f"{V1}/alerts/rules", json={**RULE, "name": "b"}, headers=AS_ADMIN), 201)
    # readers list them; others see none, and get 404 for one
    assert len(ok(app.get(f"{V1}/alerts/rules", headers=as_("bob")))["rules"]) == 2
    assert ok(app.get(f"{V1}/alerts/rules", headers=as_("carol")))["rules"] == []
    error(app.get(f"{V1}/alerts/rules/{made['id']}", headers=as_("carol")), 404)
    paged = ok(app.get(f"{V1}/alerts/rules", params={"max_results": 1}, headers=AS_ADMIN))
    assert len(paged["rules"]) == 1
    rest = ok(app.get(f"{V1}/alerts/rules", params={"page_token": paged["next_page_token"]},
                      headers=AS_ADMIN))  # fmt: skip
    assert [r["id"] for r in rest["rules"]] == [made["id"]]
    # changing and deleting: MANAGE only
    rid = made["id"]
    error(app.patch(f"{V1}/alerts/rules/{rid}", json={"value": 1}, headers=as_("bob")), 403)
    error(app.delete(f"{V1}/alerts/rules/{rid}", headers=as_("bob")), 403)
    changed = ok(app.patch(f"{V1}/alerts/rules/{rid}", json={"value": 0.7}, headers=as_("alice")))
    assert changed["value"] == 0.7
    assert app.delete(f"{V1}/alerts/rules/{rid}", headers=as_("alice")).status_code == 204
    error(app.get(f"{V1}/alerts/rules/{rid}", headers=AS_ADMIN), 404)
    # a model's versions: MANAGE on the model, which alice lacks until granted
    ok(app.post(f"{MLFLOW}/registered-models/create", json={"name": "churn"}, headers=AS_ADMIN))
    body = {"name": "f1 fell", "model_name": "churn", "kind": "drop", "metric": "test_f1",
            "value": 3}  # fmt: skip
    error(app.post(f"{V1}/alerts/rules", json=body, headers=as_("alice")), 403)
    stalled = {**body, "kind": "stalled", "minutes": 5}
    assert "'kind'" in error(app.post(f"{V1}/alerts/rules", json=stalled, headers=AS_ADMIN), 400)
    ok(app.put(f"{V1}/models/churn/permissions/alice", json={"permission": "MANAGE"},
               headers=AS_ADMIN))  # fmt: skip
    made = ok(app.post(f"{V1}/alerts/rules", json=body, headers=as_("alice")), 201)
    assert (made["model_name"], made["against"], made["measure"], made["direction"]) == (
        "churn", "best", "percent", "max",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"op": "=~"}, "op"),
        ({"value": "lots"}, "value"),
        ({"metric": "a" * 300}, "metric"),
        ({"filter": "tags.team = = 'x'"}, "filter"),
        ({"kind": "stalled", "minutes": -1}, "minutes"),
        ({"kind": "drop", "against": "worst"}, "against"),
        ({"kind": "bogus"}, "kind"),
        ({"experiment_id": "x1"}, "experiment_id"),
        ({"experiment_id": None}, "experiment_id"),
        ({"model_name": "m"}, "experiment_id"),
        ({"name": None}, "name"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_bad_input_names_the_field(app: TestClient, change: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in {**RULE, **change}.items() if v is not None}
    message = error(app.post(f"{V1}/alerts/rules", json=body, headers=AS_ADMIN), 400)
    assert f"'{field}'" in message


def test_hostile_input(app: TestClient) -> None:
    json_type = {**AS_ADMIN, "Content-Type": "application/json"}
    error(app.post(f"{V1}/alerts/rules", content=b"{", headers=json_type), 400)
    error(app.post(f"{V1}/alerts/rules", json=[1], headers=AS_ADMIN), 400)
    error(app.get(f"{V1}/alerts/rules/%00", headers=AS_ADMIN), 400)
    error(app.get(f"{V1}/alerts/rules/99999999999", headers=AS_ADMIN), 404)
    error(app.get(f"{V1}/alerts", params={"state": "burning"}, headers=AS_ADMIN), 400)
    error(app.get(f"{V1}/alerts", params={"page_token": "x"}, headers=AS_ADMIN), 400)
    error(app.post(f"{V1}/alerts/abc/acknowledge", json={}, headers=AS_ADMIN), 400)


def test_alerts_listed_to_readers(app: TestClient) -> None:
    ok(app.post(f"{V1}/alerts/rules", json=RULE, headers=as_("alice")), 201)
    runs = []
    for _ in range(3):
        run = ok(app.post(f"{MLFLOW}/runs/create", json={"experiment_id": "1"},
                          headers=as_("alice")))["run"]["info"]["run_id"]  # fmt: skip
        point = {"run_id": run, "key": "val_loss", "value": 0.9, "timestamp": 1, "step": 0}
        ok(app.post(f"{MLFLOW}/runs/log-metric", json=point, headers=as_("alice")))
        runs.append(run)
    evaluate(app)
    firing = ok(app.get(f"{V1}/alerts", params={"state": "firing"}, headers=as_("bob")))
    assert {a["subject_id"] for a in firing["alerts"]} == set(runs)
    assert ok(app.get(f"{V1}/alerts", headers=as_("carol")))["alerts"] == []
    assert ok(app.get(f"{V1}/alerts/count", headers=as_("bob")))["firing"] == 3
    assert ok(app.get(f"{V1}/alerts/count", headers=as_("carol")))["firing"] == 0
    page = ok(app.get(f"{V1}/alerts", params={"max_results": 2}, headers=as_("bob")))
    more = ok(app.get(f"{V1}/alerts", params={"page_token": page["next_page_token"]},
                      headers=as_("bob")))  # fmt: skip
    assert len(page["alerts"]) == 2
    assert len(more["alerts"]) == 1
    assert more["next_page_token"] is None
    one = page["alerts"][0]["id"]
    error(app.get(f"{V1}/alerts/{one}", headers=as_("carol")), 404)
    seen = ok(app.post(f"{V1}/alerts/{one}/acknowledge", json={}, headers=as_("bob")))
    assert seen["acknowledged_by"] == "bob"
    # resolving: one run's loss falls
    point = {"run_id": runs[0], "key": "val_loss", "value": 0.1, "timestamp": 2, "step": 1}
    ok(app.post(f"{MLFLOW}/runs/log-metric", json=point, headers=as_("alice")))
    evaluate(app)
    resolved = ok(app.get(f"{V1}/alerts", params={"state": "resolved"}, headers=AS_ADMIN))
    assert [a["subject_id"] for a in resolved["alerts"]] == [runs[0]]
    assert ok(app.get(f"{V1}/alerts/count", headers=AS_ADMIN))["firing"] == 2
