"""Retention over HTTP with access control on (SQLite and PostgreSQL): seed 000's
``POST /api/v1/cleanup?days_old=30`` as written, dry run against real run, the policy routes
(MANAGE on the experiment, admins for the global policy and for applying them), the events,
and hostile input answered 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store.sql import now_ms
from tests.api import basic
from tests.databases import BACKENDS, fresh_database

ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
MLFLOW, V1 = "/api/2.0/mlflow", "/api/v1"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
DAY = 86_400_000


def as_(name: str) -> dict[str, str]:
    return basic(name, PW)


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def error(answer: Any, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code, answer.text
    message: str = answer.json()["message"]
    return message


class World:
    def __init__(self, client: TestClient):
        self.client = client
        self.exp = ok(self.post(f"{MLFLOW}/experiments/create", {"name": "lab"}))["experiment_id"]
        for name, level in (("alice", "MANAGE"), ("bob", "EDIT")):
            ok(self.post(f"{V1}/users", {"username": name, "password": PW}))
            grant = {"permission": level}
            path = f"{V1}/experiments/{self.exp}/permissions/{name}"
            ok(client.put(path, json=grant, headers=AS_ADMIN))

    def post(self, path: str, body: Any, headers: dict[str, str] = AS_ADMIN) -> Any:
        return self.client.post(path, json=body, headers=headers)

    def run(self, age_days: int | None = 40, status: str = "FINISHED", exp: str = "") -> str:
        info = ok(self.post(f"{MLFLOW}/runs/create", {"experiment_id": exp or self.exp}))
        run_id: str = info["run"]["info"]["run_id"]
        if age_days is not None:
            end = now_ms() - age_days * DAY
            body = {"run_id": run_id, "status": status, "end_time": end}
            ok(self.post(f"{MLFLOW}/runs/update", body))
        return run_id

    def stage(self, run_id: str) -> str:
        found = self.client.get(f"{MLFLOW}/runs/get", params={"run_id": run_id}, headers=AS_ADMIN)
        stage: str = ok(found)["run"]["info"]["lifecycle_stage"]
        return stage


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with fresh_database(request.param, tmp_path) as uri:
        with TestClient(create_app(Settings(backend_store_uri=uri, auth=True))) as client:
            yield World(client)


def test_seed_cleanup_call_as_written(world: World) -> None:
    old, failed = world.run(), world.run(status="FAILED")
    registered, tagged = world.run(), world.run()
    running, recent = world.run(age_days=None), world.run(age_days=3)
    ok(world.post(f"{MLFLOW}/registered-models/create", {"name": "churn"}))
    version = {"name": "churn", "source": f"runs:/{registered}/model", "run_id": registered}
    ok(world.post(f"{MLFLOW}/model-versions/create", version))
    ok(world.post(f"{MLFLOW}/runs/set-tag", {"run_id": tagged, "key": "cairn.keep", "value": "1"}))

    dry = ok(world.post(f"{V1}/cleanup?days_old=30&dry_run=true", None))
    assert dry["dry_run"] is True
    assert dry["deleted_runs"] == 2
    assert dry["kept_registered"] == 1
    assert dry["kept_tagged"] == 1
    assert {r["run_id"] for r in dry["runs"]} == {old, failed}
    assert all(r["experiment_id"] == world.exp for r in dry["runs"])
    assert world.stage(old) == "active"

    done = ok(world.post(f"{V1}/cleanup?days_old=30", None))  # the seed's call, as written
    assert done["dry_run"] is False
    assert done["deleted_runs"] == 2
    assert world.stage(old) == world.stage(failed) == "deleted"
    for kept in (registered, tagged, running, recent):
        assert world.stage(kept) == "active"

    found = ok(world.client.get(f"{V1}/audit", params={"action": "run.delete"},
                                headers=AS_ADMIN))["events"]  # fmt: skip
    assert {e["entity_id"] for e in found} == {old, failed}
    for event in found:
        assert event["actor"] == "system"
        assert event["after"]["retention_policy"] == "cleanup"
        assert event["after"]["requested_by"] == ADMIN


def test_cleanup_status_filter_and_experiment(world: World) -> None:
    failed, finished = world.run(status="FAILED"), world.run()
    other = ok(world.post(f"{MLFLOW}/experiments/create", {"name": "other"}))["experiment_id"]
    elsewhere = world.run(exp=other, status="FAILED")
    path = f"{V1}/cleanup?days_old=30&status=FAILED&experiment_id={world.exp}"
    out = ok(world.post(path, None, as_("alice")))  # MANAGE on the experiment is enough
    assert [r["run_id"] for r in out["runs"]] == [failed]
    assert world.stage(finished) == world.stage(elsewhere) == "active"


def test_cleanup_access(world: World) -> None:
    world.run()
    # every experiment: admins only
    msg = error(world.post(f"{V1}/cleanup?days_old=30", None, as_("alice")), 403,
                "PERMISSION_DENIED")  # fmt: skip
    assert "experiment_id" in msg
    # EDIT is not MANAGE
    path = f"{V1}/cleanup?days_old=30&experiment_id={world.exp}"
    error(world.post(path, None, as_("bob")), 403, "PERMISSION_DENIED")
    error(world.client.post(path), 401, "UNAUTHENTICATED")
    error(world.post(f"{V1}/retention/run?dry_run=true", None, as_("alice")), 403,
          "PERMISSION_DENIED")  # fmt: skip


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "days_old"),
        ("days_old=-1", "days_old"),
        ("days_old=99999999", "days_old"),
        ("days_old=ten", "days_old"),
        ("days_old=1e3", "days_old"),
        ("days_old=30&status=RUNNING", "status"),
        ("days_old=30&status=FINISHED,%27%3B%20DROP%20TABLE%20runs", "status"),
        ("days_old=30&experiment_id=..%2F1", "experiment_id"),
        ("days_old=30&experiment_id=" + "9" * 30, "experiment_id"),
        ("days_old=30&dry_run=maybe", "dry_run"),
        ("days_old=30&keep_newest=-1", "keep_newest"),
        ("days_old=30&limit=100001", "limit"),
        ("days_old=30&max_runs=0", "max_runs"),
    ],
)
def test_hostile_cleanup_input_is_a_400_naming_the_field(
    world: World, query: str, field: str
) -> None:
    msg = error(world.post(f"{V1}/cleanup?{query}", None), 400, "INVALID_PARAMETER_VALUE")
    assert field in msg


def test_unknown_experiment_is_a_404(world: World) -> None:
    msg = error(world.post(f"{V1}/cleanup?days_old=3&experiment_id=4242", None), 404,
                "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    assert "4242" in msg
    body = {"older_than_days": 3}
    error(world.client.put(f"{V1}/experiments/4242/retention-policy", json=body,
                           headers=AS_ADMIN), 404, "RESOURCE_DOES_NOT_EXIST")  # fmt: skip


def test_policy_routes_and_run(world: World) -> None:
    a, b = world.run(age_days=100), world.run(age_days=10, status="KILLED")
    path = f"{V1}/experiments/{world.exp}/retention-policy"
    error(world.client.get(path, headers=AS_ADMIN), 404, "RESOURCE_DOES_NOT_EXIST")
    body = {"older_than_days": 7, "statuses": ["killed"], "keep_newest": 0}
    error(world.client.put(path, json=body, headers=as_("bob")), 403, "PERMISSION_DENIED")
    made = ok(world.client.put(path, json=body, headers=as_("alice")))
    assert made["name"] == f"experiment:{world.exp}"
    assert made["statuses"] == ["KILLED"]
    assert made["updated_by"] == "alice"
    assert ok(world.client.get(path, headers=as_("bob")))["older_than_days"] == 7

    glob = f"{V1}/retention/policies/global"
    error(world.client.put(glob, json={"older_than_days": 1}, headers=as_("alice")), 403,
          "PERMISSION_DENIED")  # fmt: skip
    ok(world.client.put(glob, json={"older_than_days": 1}, headers=AS_ADMIN))
    listed = ok(world.client.get(f"{V1}/retention/policies", headers=as_("bob")))["policies"]
    assert [x["name"] for x in listed] == ["global", f"experiment:{world.exp}"]

    dry = ok(world.post(f"{V1}/retention/run?dry_run=true", None))
    assert dry["deleted_runs"] == 1
    assert dry["runs"][0]["run_id"] == b
    assert dry["runs"][0]["policy"] == f"experiment:{world.exp}"
    assert world.stage(b) == "active"
    done = ok(world.post(f"{V1}/retention/run", None))
    assert done["deleted_runs"] == 1
    assert world.stage(b) == "deleted"
    assert world.stage(a) == "active"  # the experiment's own policy only takes KILLED runs

    events = ok(world.client.get(f"{V1}/audit", params={
        "entity_type": "retention_policy"}, headers=as_("alice")))["events"]  # fmt: skip
    assert [e["action"] for e in events] == ["retention_policy.set"]  # alice sees hers only
    error(world.client.delete(path, headers=as_("bob")), 403, "PERMISSION_DENIED")
    ok(world.client.delete(path, headers=as_("alice")), 204)
    ok(world.client.delete(glob, headers=AS_ADMIN), 204)
    error(world.client.delete(glob, headers=AS_ADMIN), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "older_than_days"),
        ({"older_than_days": -1}, "older_than_days"),
        ({"older_than_days": "x"}, "older_than_days"),
        ({"older_than_days": 1, "statuses": ["RUNNING"]}, "statuses"),
        ({"older_than_days": 1, "statuses": "FAILED"}, "statuses"),
        ({"older_than_days": 1, "statuses": ["FAILED"] * 50}, "statuses"),
        ({"older_than_days": 1, "keep_newest": 10**12}, "keep_newest"),
        ({"older_than_days": 1, "enabled": "perhaps"}, "enabled"),
    ],
)
def test_hostile_policy_input(world: World, body: dict[str, Any], field: str) -> None:
    path = f"{V1}/experiments/{world.exp}/retention-policy"
    answer = world.client.put(path, json=body, headers=AS_ADMIN)
    assert field in error(answer, 400, "INVALID_PARAMETER_VALUE")


def test_run_unknown_policy_is_a_404(world: World) -> None:
    msg = error(world.post(f"{V1}/retention/run?policy=experiment:99", None), 404,
                "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    assert "policy" in msg


@pytest.mark.parametrize("value", ["..%2F1", "1%3B%20DROP%20TABLE%20runs", "9" * 30, "-1", "%00"])
def test_hostile_experiment_id_from_a_non_admin_is_a_4xx(world: World, value: str) -> None:
    answer = world.post(f"{V1}/cleanup?days_old=30&experiment_id={value}", None, as_("alice"))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "PERMISSION_DENIED")
    path = f"{V1}/experiments/{value}/retention-policy"
    answer = world.client.put(path, json={"older_than_days": 1}, headers=as_("alice"))
    assert 400 <= answer.status_code < 500, answer.text


def test_seed_call_without_access_control(any_client: TestClient) -> None:
    """The seed's client sends no credentials: with access control off the call works as is."""
    made = ok(any_client.post(f"{MLFLOW}/runs/create", json={"experiment_id": "0"}))
    run_id = made["run"]["info"]["run_id"]
    body = {"run_id": run_id, "status": "FINISHED", "end_time": now_ms() - 31 * DAY}
    ok(any_client.post(f"{MLFLOW}/runs/update", json=body))
    out = ok(any_client.post(f"{V1}/cleanup?days_old=30"))
    assert out["deleted_runs"] == 1
    assert out["runs"][0]["run_id"] == run_id
    events = ok(any_client.get(f"{V1}/audit", params={"action": "run.delete"}))["events"]
    assert events[0]["actor"] == "system"
    assert events[0]["after"]["requested_by"] == "local"
