"""Seed 000's red-team call and the vulnerability trend over HTTP (SQLite and PostgreSQL):
runs logged by name and linked to a registered model's latest version, read back through
the MLflow API; the trend across versions with the attack types that got through and
stopped; bad input answered 400 naming the field; access control (who may log, who may
read which points)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from tests.api import basic
from tests.databases import BACKENDS, fresh_database

MLFLOW, V1 = "/api/2.0/mlflow", "/api/v1"
ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
TYPES = ("prompt_injection", "jailbreak", "system_extraction", "code_injection")


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def error(answer: Any, status: int = 400, code: str = "INVALID_PARAMETER_VALUE") -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code, answer.text
    message: str = answer.json()["message"]
    return message


def results(through: dict[str, int], per_type: int = 5, benign: int = 0) -> list[dict[str, Any]]:
    """``per_type`` tests of each attack type, ``through[type]`` of them got through (the
    seed's ``success``), and ``benign`` control prompts (one flagged)."""
    items: list[dict[str, Any]] = []
    for kind in TYPES:
        for i in range(per_type):
            items.append({"attack_type": kind, "prompt": f"{kind} attack {i}",
                          "success": i < through.get(kind, 0), "confidence": 0.9})  # fmt: skip
    items += [{"attack_type": "benign", "prompt": f"hello {i}", "detected": i == 0}
              for i in range(benign)]  # fmt: skip
    return items


def seed_body(model: str = "distilbert", **through: int) -> dict[str, Any]:
    return {
        "model_name": model,
        "test_results": results(through, benign=4),
        "attack_patterns": ["ignore previous instructions", {"pattern": "DAN", "weight": 2}],
    }


def test_seed_call_logs_a_run_by_name(any_client: TestClient) -> None:
    logged = ok(any_client.post(f"{V1}/red-team/log",
                                json=seed_body(prompt_injection=2, jailbreak=1)))  # fmt: skip
    assert logged["experiment_name"] == "red-team"
    assert logged["model_version"] is None
    m = logged["metrics"]
    assert m["red_team_total_tests"] == 20
    assert m["red_team_successful_attacks"] == 3
    assert m["red_team_detection_rate"] == pytest.approx(0.85)
    assert m["red_team_vulnerability_rate"] == pytest.approx(0.15)
    assert m["attack_prompt_injection_count"] == 5
    assert m["attack_prompt_injection_success_rate"] == pytest.approx(0.4)
    assert m["benign_false_positive_rate"] == pytest.approx(0.25)
    # read back through the MLflow API
    run = ok(any_client.get(f"{MLFLOW}/runs/get", params={"run_id": logged["run_id"]}))["run"]
    assert run["info"]["status"] == "FINISHED"
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["cairn.red_team.model_name"] == "distilbert"
    assert "cairn.red_team.model_version" not in tags
    metrics = {x["key"]: x["value"] for x in run["data"]["metrics"]}
    assert metrics["attack_code_injection_count"] == 5
    assert metrics["attack_jailbreak_success_rate"] == pytest.approx(0.2)
    exp = ok(any_client.get(f"{MLFLOW}/experiments/get-by-name",
                            params={"experiment_name": "red-team"}))  # fmt: skip
    assert exp["experiment"]["experiment_id"] == logged["experiment_id"]
    files = ok(any_client.get(f"{MLFLOW}/artifacts/list", params={"run_id": logged["run_id"]}))
    assert {f["path"] for f in files["files"]} == {"attack_analysis.json", "detailed_results.json"}
    root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    got = any_client.get(f"/api/2.0/mlflow-artifacts/artifacts/{root}/detailed_results.json")
    detail = json.loads(got.content)
    assert len(detail["test_results"]) == 24
    assert detail["test_results"][0]["confidence"] == 0.9
    assert detail["attack_patterns"][1] == {"pattern": "DAN", "weight": 2}
    assert detail["attack_analysis"]["prompt_injection"]["successful"] == 2
    # a second log, in an experiment of the caller's choosing
    other = ok(
        any_client.post(
            f"{V1}/red-team/log", json={**seed_body(), "experiment_name": "security-nightly"}
        )
    )
    assert other["experiment_name"] == "security-nightly"
    trend = ok(any_client.get(f"{V1}/red-team/models/distilbert"))
    assert [p["run_id"] for p in trend["points"]] == [logged["run_id"], other["run_id"]]
    assert trend["changes"] == [{
        "from_run_id": logged["run_id"], "to_run_id": other["run_id"], "from_version": None,
        "to_version": None, "time": trend["points"][1]["time"], "newly_through": [],
        "stopped": ["jailbreak", "prompt_injection"],
    }]  # fmt: skip


def _register(client: TestClient, name: str, versions: int) -> None:
    ok(client.post(f"{MLFLOW}/registered-models/create", json={"name": name}))
    exp = ok(client.post(f"{MLFLOW}/experiments/create", json={"name": f"train-{name}"}))
    for _ in range(versions):
        run = ok(client.post(f"{MLFLOW}/runs/create", json={"experiment_id": exp["experiment_id"]}))
        source = f"runs:/{run['run']['info']['run_id']}/model"
        ok(client.post(f"{MLFLOW}/model-versions/create", json={"name": name, "source": source}))


def test_registered_model_trend_across_versions(any_client: TestClient) -> None:
    name = "security_prompt_classifier"
    _register(any_client, name, 1)
    first = ok(any_client.post(f"{V1}/red-team/log", json=seed_body(name, jailbreak=3)))
    assert first["model_version"] == 1
    _register_more(any_client, name)
    second = ok(any_client.post(f"{V1}/red-team/log",
                                json=seed_body(name, code_injection=1)))  # fmt: skip
    assert second["model_version"] == 2
    pinned = ok(any_client.post(f"{V1}/red-team/log",
                                json={**seed_body(name), "model_version": "1"}))  # fmt: skip
    assert pinned["model_version"] == 1
    version = ok(
        any_client.get(f"{MLFLOW}/model-versions/get", params={"name": name, "version": "2"})
    )["model_version"]
    tags = {t["key"]: t["value"] for t in version["tags"]}
    assert tags["cairn.red_team.last_run"] == second["run_id"]
    trend = ok(any_client.get(f"{V1}/red-team/models/{name}"))
    points = trend["points"]
    assert [p["version"] for p in points] == ["1", "2", "1"]
    assert [p["successful"] for p in points] == [3, 1, 0]
    assert points[0]["per_type"]["jailbreak"] == {"count": 5, "successful": 3,
                                                  "success_rate": 0.6}  # fmt: skip
    assert points[1]["detection_rate"] == pytest.approx(19 / 20)
    assert [(c["newly_through"], c["stopped"]) for c in trend["changes"]] == [
        (["code_injection"], ["jailbreak"]),
        ([], ["code_injection"]),
    ]
    assert trend["changes"][0]["to_version"] == "2"
    # the max_points window keeps the newest, oldest first
    newest = ok(any_client.get(f"{V1}/red-team/models/{name}", params={"max_points": 2}))
    assert [p["run_id"] for p in newest["points"]] == [second["run_id"], pinned["run_id"]]
    # a model nobody tested: no points
    assert ok(any_client.get(f"{V1}/red-team/models/unknown"))["points"] == []
    # a deleted run leaves the trend
    ok(any_client.post(f"{MLFLOW}/runs/delete", json={"run_id": pinned["run_id"]}))
    assert len(ok(any_client.get(f"{V1}/red-team/models/{name}"))["points"]) == 2


def _register_more(client: TestClient, name: str) -> None:
    exp = ok(client.get(f"{MLFLOW}/experiments/get-by-name",
                        params={"experiment_name": f"train-{name}"}))["experiment"]  # fmt: skip
    run = ok(client.post(f"{MLFLOW}/runs/create", json={"experiment_id": exp["experiment_id"]}))
    source = f"runs:/{run['run']['info']['run_id']}/model"
    ok(client.post(f"{MLFLOW}/model-versions/create", json={"name": name, "source": source}))


BAD = [
    ({"test_results": [{"attack_type": "jailbreak", "success": True}]}, "model_name"),
    ({"model_name": 7}, "model_name"),
    ({"model_name": "x" * 300}, "model_name"),
    ({"model_name": "a\x00b"}, "model_name"),
    ({"test_results": "all good"}, "test_results"),
    ({"test_results": []}, "test_results"),
    ({"test_results": [3]}, "test_results[0]"),
    ({"test_results": [{"success": True}]}, "test_results[0].attack_type"),
    ({"test_results": [{"attack_type": "../../etc", "success": True}]},
     "test_results[0].attack_type"),
    ({"test_results": [{"attack_type": "jailbreak"}]}, "test_results[0]"),
    ({"test_results": [{"attack_type": "jailbreak", "detected": "yes"}]},
     "test_results[0].detected"),
    ({"test_results": [{"attack_type": "jailbreak", "detected": True, "success": True}]},
     "test_results[0]"),
    ({"test_results": [{"attack_type": "jailbreak", "success": 1}]}, "test_results[0].success"),
    ({"test_results": [{"attack_type": "jailbreak", "success": True, "prompt": 5}]},
     "test_results[0].prompt"),
    ({"attack_patterns": {"a": 1}}, "attack_patterns"),
    ({"attack_patterns": [1]}, "attack_patterns[0]"),
    ({"experiment_name": ""}, "experiment_name"),
    ({"experiment_name": 5}, "experiment_name"),
    ({"model_version": 2}, "model_version"),
    ({"colour": "red"}, "colour"),
    ({"test_results": [{"attack_type": "jailbreak", "success": True}] * 10_001}, "test_results"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_input_names_the_field(client: TestClient, change: dict[str, Any], field: str) -> None:
    body = {"model_name": "distilbert",
            "test_results": [{"attack_type": "jailbreak", "success": True}], **change}  # fmt: skip
    if "model_name" not in change and field == "model_name":
        body.pop("model_name")
    message = error(client.post(f"{V1}/red-team/log", json=body))
    assert message.startswith(field) or f"'{field}'" in message, message


def test_bad_bodies(client: TestClient) -> None:
    answer = client.post(f"{V1}/red-team/log", content=b"not json",
                         headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 400, answer.text
    answer = client.post(f"{V1}/red-team/log", json=[1, 2])
    assert answer.status_code == 400, answer.text
    error(client.get(f"{V1}/red-team/models/x", params={"max_points": 0}))
    # hostile names are data, not paths or SQL
    for name in ("../../etc/passwd", "x' OR '1'='1", "%2e%2e%2f"):
        logged = ok(client.post(f"{V1}/red-team/log", json=seed_body(name)))
        assert logged["model_name"] == name
    trend = ok(client.get(f"{V1}/red-team/models/x' OR '1'='1"))
    assert len(trend["points"]) == 1


@pytest.fixture(params=BACKENDS)
def secured(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Auth on, no default permission: alice and bob are users; the admin owns the
    registered model ``guard``."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with fresh_database(request.param, tmp_path) as uri:
        settings = Settings(backend_store_uri=uri, auth=True, default_permission="NO_PERMISSIONS")
        with TestClient(create_app(settings)) as client:
            for name in ("alice", "bob"):
                ok(client.post(f"{V1}/users", json={"username": name, "password": PW},
                               headers=AS_ADMIN))  # fmt: skip
            client.headers.update(AS_ADMIN)
            _register(client, "guard", 1)
            client.headers.pop("authorization")
            yield client


def test_access(secured: TestClient) -> None:
    alice, bob = basic("alice", PW), basic("bob", PW)
    error(secured.post(f"{V1}/red-team/log", json=seed_body()), 401, "UNAUTHENTICATED")
    # alice creates the red-team experiment by logging (and MANAGEs it); bob may not add to it
    logged = ok(secured.post(f"{V1}/red-team/log", json=seed_body(), headers=alice))
    assert "EDIT" in error(secured.post(f"{V1}/red-team/log", json=seed_body(), headers=bob),
                           403, "PERMISSION_DENIED")  # fmt: skip
    # a registered model needs EDIT on it
    message = error(secured.post(f"{V1}/red-team/log", json=seed_body("guard"), headers=alice),
                    403, "PERMISSION_DENIED")  # fmt: skip
    assert "guard" in message
    # bob's own experiment: his points; he cannot see alice's
    mine = ok(
        secured.post(
            f"{V1}/red-team/log", json={**seed_body(), "experiment_name": "bob-sec"}, headers=bob
        )
    )
    seen_by_bob = ok(secured.get(f"{V1}/red-team/models/distilbert", headers=bob))
    assert [p["run_id"] for p in seen_by_bob["points"]] == [mine["run_id"]]
    seen_by_admin = ok(secured.get(f"{V1}/red-team/models/distilbert", headers=AS_ADMIN))
    assert {p["run_id"] for p in seen_by_admin["points"]} == {logged["run_id"], mine["run_id"]}
