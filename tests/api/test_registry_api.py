"""The model registry over HTTP: MLflow's wire shapes, DELETE bodies, error codes, history."""

from __future__ import annotations

import base64

from httpx import Response
from starlette.testclient import TestClient

API = "/api/2.0/mlflow"
SRC = "mlflow-artifacts:/0/abc/artifacts/model"


def _ok(resp: Response) -> dict[str, object]:
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def _error(resp: Response, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


def test_registry_wire_shapes(any_client: TestClient) -> None:
    c = any_client
    created = _ok(c.post(f"{API}/registered-models/create", json={"name": "m"}))
    rm = created["registered_model"]
    assert isinstance(rm, dict)
    assert set(rm) == {"name", "creation_timestamp", "last_updated_timestamp"}  # empty omitted
    run = _ok(c.post(f"{API}/runs/create", json={"experiment_id": "0"}))["run"]
    assert isinstance(run, dict)
    run_id = run["info"]["run_id"]
    body = {"name": "m", "source": f"runs:/{run_id}/model", "run_id": run_id}
    mv = _ok(c.post(f"{API}/model-versions/create", json=body))["model_version"]
    assert isinstance(mv, dict)
    assert mv["version"] == "1"
    assert mv["status"] == "READY"
    assert mv["current_stage"] == "None"
    assert mv["description"] == ""
    assert mv["run_link"] == ""
    assert mv["run_id"] == run_id
    assert isinstance(mv["creation_timestamp"], int)
    assert "tags" not in mv
    assert "aliases" not in mv
    tagged = {"name": "m", "source": SRC, "tags": [{"key": "k", "value": "v"}]}
    mv2 = _ok(c.post(f"{API}/model-versions/create", json=tagged))["model_version"]
    assert isinstance(mv2, dict)
    assert mv2["tags"] == [{"key": "k", "value": "v"}]
    _ok(
        c.post(
            f"{API}/registered-models/alias", json={"name": "m", "alias": "champ", "version": "2"}
        )
    )
    got = _ok(c.get(f"{API}/registered-models/get", params={"name": "m"}))["registered_model"]
    assert isinstance(got, dict)
    assert got["aliases"] == [{"alias": "champ", "version": "2"}]
    assert [v["version"] for v in got["latest_versions"]] == ["2"]
    by_alias = _ok(c.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "champ"}))
    assert by_alias["model_version"]["aliases"] == ["champ"]  # type: ignore[index]
    uri = _ok(c.get(f"{API}/model-versions/get-download-uri", params={"name": "m", "version": 1}))
    assert uri == {"artifact_uri": f"mlflow-artifacts:/0/{run_id}/artifacts/model"}
    moved = {"name": "m", "version": "1", "stage": "production", "archive_existing_versions": True}
    staged = _ok(c.post(f"{API}/model-versions/transition-stage", json=moved))
    assert staged["model_version"]["current_stage"] == "Production"  # type: ignore[index]
    latest = _ok(c.post(f"{API}/registered-models/get-latest-versions", json={"name": "m"}))
    assert [v["version"] for v in latest["model_versions"]] == ["1", "2"]  # type: ignore[attr-defined]
    latest = _ok(
        c.get(
            f"{API}/registered-models/get-latest-versions",
            params=[("name", "m"), ("stages", "Production"), ("stages", "Staging")],
        )
    )
    assert [v["version"] for v in latest["model_versions"]] == ["1"]  # type: ignore[attr-defined]
    upd = _ok(
        c.patch(
            f"{API}/model-versions/update", json={"name": "m", "version": "2", "description": "d"}
        )
    )
    assert upd["model_version"]["description"] == "d"  # type: ignore[index]
    rmu = _ok(c.patch(f"{API}/registered-models/update", json={"name": "m", "description": "x"}))
    assert rmu["registered_model"]["description"] == "x"  # type: ignore[index]
    _ok(c.post(f"{API}/registered-models/set-tag", json={"name": "m", "key": "t", "value": "1"}))
    search = _ok(
        c.get(
            f"{API}/registered-models/search",
            params={
                "filter": "name LIKE 'm%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
                "max_results": "100",
            },
        )
    )
    models = search["registered_models"]
    assert isinstance(models, list)
    assert [r["name"] for r in models] == ["m"]
    assert models[0]["tags"] == [{"key": "t", "value": "1"}]
    versions = _ok(
        c.get(
            f"{API}/model-versions/search", params={"filter": "name = 'm'", "max_results": "10000"}
        )
    )
    assert [v["version"] for v in versions["model_versions"]] == ["2", "1"]  # type: ignore[attr-defined]
    assert _ok(c.get(f"{API}/model-versions/search", params={"filter": "name = 'zz'"})) == {}
    renamed = _ok(c.post(f"{API}/registered-models/rename", json={"name": "m", "new_name": "m2"}))
    assert renamed["registered_model"]["name"] == "m2"  # type: ignore[index]


def test_delete_with_json_body(any_client: TestClient) -> None:
    c = any_client
    _ok(
        c.post(
            f"{API}/registered-models/create",
            json={"name": "m", "tags": [{"key": "a", "value": "b"}]},
        )
    )
    for _ in range(3):
        _ok(c.post(f"{API}/model-versions/create", json={"name": "m", "source": SRC}))
    _ok(
        c.post(
            f"{API}/model-versions/set-tag",
            json={"name": "m", "version": "2", "key": "k", "value": "v"},
        )
    )
    _ok(
        c.request(
            "DELETE",
            f"{API}/model-versions/delete-tag",
            json={"name": "m", "version": "2", "key": "k"},
        )
    )
    _ok(c.request("DELETE", f"{API}/registered-models/delete-tag", json={"name": "m", "key": "a"}))
    _ok(
        c.post(
            f"{API}/registered-models/alias", json={"name": "m", "alias": "stale", "version": "1"}
        )
    )
    _ok(c.request("DELETE", f"{API}/registered-models/alias", json={"name": "m", "alias": "stale"}))
    assert (
        _ok(c.request("DELETE", f"{API}/model-versions/delete", json={"name": "m", "version": "3"}))
        == {}
    )
    _error(
        c.get(f"{API}/model-versions/get", params={"name": "m", "version": "3"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    again = _ok(c.post(f"{API}/model-versions/create", json={"name": "m", "source": SRC}))
    assert again["model_version"]["version"] == "4"  # type: ignore[index]
    got = _ok(c.get(f"{API}/registered-models/get", params={"name": "m"}))["registered_model"]
    assert isinstance(got, dict)
    assert "tags" not in got
    assert "aliases" not in got
    assert _ok(c.request("DELETE", f"{API}/registered-models/delete", json={"name": "m"})) == {}
    _error(
        c.get(f"{API}/registered-models/get", params={"name": "m"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )


def test_registry_errors(any_client: TestClient) -> None:
    c = any_client
    _error(
        c.get(f"{API}/registered-models/get", params={"name": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _ok(c.post(f"{API}/registered-models/create", json={"name": "m"}))
    msg = _error(
        c.post(f"{API}/registered-models/create", json={"name": "m"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    assert msg == "Registered Model (name=m) already exists."
    _error(
        c.get(f"{API}/model-versions/get", params={"name": "m", "version": "1"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    msg = _error(
        c.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "nope"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert msg == "Registered model alias nope not found."
    bad = c.post(f"{API}/model-versions/create", json={"name": "m", "source": "file:///etc/passwd"})
    assert "file:///etc/passwd" in _error(bad, 400, "INVALID_PARAMETER_VALUE")
    _error(c.post(f"{API}/registered-models/delete", json={"name": "m"}), 405, "METHOD_NOT_ALLOWED")


def test_history_endpoint_and_openapi(any_client: TestClient) -> None:
    c = any_client
    auth = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}
    _ok(c.post(f"{API}/registered-models/create", json={"name": "m"}))
    _ok(c.post(f"{API}/model-versions/create", json={"name": "m", "source": SRC}, headers=auth))
    _ok(
        c.post(
            f"{API}/model-versions/transition-stage",
            json={
                "name": "m",
                "version": "1",
                "stage": "Staging",
                "archive_existing_versions": False,
            },
        )
    )
    body = _ok(c.get("/api/v1/models/m/history"))
    events = body["events"]
    assert body["model"] == "m"
    assert isinstance(events, list)
    assert [e["kind"] for e in events] == ["stage_transition", "version_created"]
    assert events[0]["from"] == "None"
    assert events[0]["to"] == "Staging"
    assert events[1]["actor"] == "alice"
    assert events[1]["version"] == "1"
    assert isinstance(events[0]["time"], int)
    page = _ok(c.get("/api/v1/models/m/history", params={"max_results": 1}))
    assert len(page["events"]) == 1
    assert page["next_page_token"]
    _error(c.get("/api/v1/models/nope/history"), 404, "RESOURCE_DOES_NOT_EXIST")
    doc = c.get("/openapi.json").json()
    assert "/api/v1/models/{name}/history" in doc["paths"]
    assert f"{API}/registered-models/alias" in doc["paths"]
