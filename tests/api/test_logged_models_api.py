"""MLflow 3 logged models over the wire, as the 3.x client drives them (and 2.x log-model)."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

API = "/api/2.0/mlflow"


def _run(client: TestClient) -> tuple[str, str]:
    eid = client.post(f"{API}/experiments/create", json={"name": "lm"}).json()["experiment_id"]
    resp = client.post(f"{API}/runs/create", json={"experiment_id": eid, "start_time": 5})
    return eid, resp.json()["run"]["info"]["run_id"]


def _create(client: TestClient, eid: str, run_id: str, name: str = "model") -> dict[str, object]:
    resp = client.post(
        f"{API}/logged-models",
        json={
            "experiment_id": eid,
            "name": name,
            "source_run_id": run_id,
            "params": [{"key": "alpha", "value": "0.5"}],
            "tags": [{"key": "mlflow.user", "value": "me"}],
        },
    )
    assert resp.status_code == 200, resp.text
    model: dict[str, object] = resp.json()["model"]
    return model


def test_log_model_flow(any_client: TestClient) -> None:
    client = any_client
    eid, run_id = _run(client)
    model = _create(client, eid, run_id)
    info = model["info"]
    assert isinstance(info, dict)
    model_id = info["model_id"]
    assert model_id.startswith("m-")
    assert len(model_id) == 34
    assert info["artifact_uri"] == f"mlflow-artifacts:/{eid}/models/{model_id}/artifacts"
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert info["experiment_id"] == eid
    assert info["source_run_id"] == run_id
    assert info["tags"] == [{"key": "mlflow.user", "value": "me"}]
    assert isinstance(info["creation_timestamp_ms"], int)
    assert model["data"] == {"params": [{"key": "alpha", "value": "0.5"}]}

    out = {"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]}
    assert client.post(f"{API}/runs/outputs", json=out).json() == {}
    metric = {"key": "acc", "value": 0.9, "timestamp": 7, "step": 0, "model_id": model_id}
    metric |= {"dataset_name": "iris", "dataset_digest": "abc"}
    batch = {"run_id": run_id, "metrics": [metric]}
    client.post(f"{API}/runs/log-batch", json=batch).raise_for_status()
    one = {"run_id": run_id, "key": "f1", "value": "NaN", "timestamp": 8, "model_id": model_id}
    client.post(f"{API}/runs/log-metric", json=one).raise_for_status()
    client.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{eid}/models/{model_id}/artifacts/MLmodel",
        content=b"flavors: {}",
    ).raise_for_status()
    done = client.patch(
        f"{API}/logged-models/{model_id}",
        json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
    ).json()["model"]
    assert done["info"]["status"] == "LOGGED_MODEL_READY"
    versions = '[{"name": "m", "version": 1}, {"name": "m", "version": "1"}]'
    tags = {"tags": [{"key": "mlflow.modelVersions", "value": versions}]}
    assert client.patch(f"{API}/logged-models/{model_id}/tags", json=tags).json() == {}
    got = client.get(f"{API}/logged-models/{model_id}").json()["model"]
    assert {"key": "mlflow.modelVersions", "value": versions} in got["info"]["tags"]
    metrics = {m["key"]: m for m in got["data"]["metrics"]}
    assert metrics["acc"] == {
        "key": "acc",
        "value": 0.9,
        "timestamp": 7,
        "step": 0,
        "model_id": model_id,
        "run_id": run_id,
        "dataset_name": "iris",
        "dataset_digest": "abc",
    }
    assert metrics["f1"]["value"] == "NaN"
    resp = client.delete(f"{API}/logged-models/{model_id}/tags/mlflow.user")
    assert resp.status_code == 200, resp.text
    got = client.get(f"{API}/logged-models/{model_id}").json()["model"]
    assert [t["key"] for t in got["info"]["tags"]] == ["mlflow.modelVersions"]

    run = client.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["outputs"] == {"model_outputs": [{"model_id": model_id, "step": 0}]}
    search = {"experiment_ids": [eid], "filter": f"attributes.run_id = '{run_id}'"}
    runs = client.post(f"{API}/runs/search", json={"experiment_ids": [eid]}).json()["runs"]
    assert runs[0]["outputs"]["model_outputs"][0]["model_id"] == model_id
    assert search  # (the run filter profile is the runs one; outputs come with every run)

    found = client.post(
        f"{API}/logged-models/search", json={"experiment_ids": [eid], "filter": "name = 'model'"}
    ).json()
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    none = {"experiment_ids": [eid], "filter": "name = 'reports'"}
    assert client.post(f"{API}/logged-models/search", json=none).json() == {}

    inputs = {"run_id": run_id, "models": [{"model_id": model_id}]}
    assert client.post(f"{API}/runs/log-inputs", json=inputs).status_code == 200

    assert client.delete(f"{API}/logged-models/{model_id}").json() == {}
    assert client.get(f"{API}/logged-models/{model_id}").status_code == 404


def test_errors_and_methods(any_client: TestClient) -> None:
    client = any_client
    resp = client.get(f"{API}/logged-models/m-{'0' * 32}")
    assert resp.status_code == 404
    assert resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert client.put(f"{API}/logged-models/m-x").status_code == 405
    assert client.get("/ajax-api/2.0/mlflow/logged-models/m-x").status_code == 404
    eid, run_id = _run(client)
    model_id = _create(client, eid, run_id)["info"]["model_id"]  # type: ignore[index]
    bad = client.patch(f"{API}/logged-models/{model_id}", json={"status": "NOPE"})
    assert bad.status_code == 400
    params = {"params": [{"key": "beta", "value": "2"}]}
    assert client.post(f"{API}/logged-models/{model_id}/params", json=params).json() == {}
    got = client.get(f"{API}/logged-models/{model_id}").json()["model"]
    assert {"key": "beta", "value": "2"} in got["data"]["params"]
    bad_filter = {"experiment_ids": [eid], "filter": "nonsense ="}
    assert client.post(f"{API}/logged-models/search", json=bad_filter).status_code == 400
    unknown = {"run_id": run_id, "models": [{"model_id": "m-nope", "step": 0}]}
    assert client.post(f"{API}/runs/outputs", json=unknown).status_code == 404


def test_search_order_and_pages(any_client: TestClient) -> None:
    client = any_client
    eid, run_id = _run(client)
    ids = [_create(client, eid, run_id, f"m{i}")["info"]["model_id"] for i in range(3)]  # type: ignore[index]
    body: dict[str, object] = {
        "experiment_ids": [eid],
        "order_by": [{"field_name": "name", "ascending": False}],
        "max_results": 2,
    }
    first = client.post(f"{API}/logged-models/search", json=body).json()
    assert [m["info"]["name"] for m in first["models"]] == ["m2", "m1"]
    body["page_token"] = first["next_page_token"]
    second = client.post(f"{API}/logged-models/search", json=body).json()
    assert [m["info"]["model_id"] for m in second["models"]] == [ids[0]]
    assert "next_page_token" not in second


def test_log_model_history_tag(any_client: TestClient) -> None:
    client = any_client
    _, run_id = _run(client)
    doc = {
        "run_id": run_id,
        "artifact_path": "model",
        "utc_time_created": "2026-11-22 13:30:10.163674",
        "model_uuid": "10120afce78f452fafb4b104fc85c245",
        "flavors": {"sklearn": {"pickled_model": "model.pkl"}},
    }
    for _ in range(2):
        body = {"run_id": run_id, "model_json": json.dumps(doc)}
        assert client.post(f"{API}/runs/log-model", json=body).json() == {}
    run = client.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert json.loads(tags["mlflow.log-model.history"]) == [doc, doc]
    missing = {"run_id": run_id, "model_json": json.dumps({"run_id": run_id})}
    assert client.post(f"{API}/runs/log-model", json=missing).status_code == 400


def test_openapi_has_parametrised_paths(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    item = doc["paths"]["/api/2.0/mlflow/logged-models/{model_id}"]
    assert set(item) == {"get", "patch", "delete"}
    assert item["get"]["parameters"][0] == {
        "name": "model_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    assert "/api/v1/datasets/{dataset_id}" in doc["paths"]


def test_create_logged_model_with_chosen_id(any_client: TestClient) -> None:
    """Imports keep their source's logged-model ids: an optional model_id on create."""
    client = any_client
    eid, run_id = _run(client)
    chosen = "m-0123456789abcdef0123456789abcdef"
    body = {"experiment_id": eid, "name": "kept", "source_run_id": run_id, "model_id": chosen}
    resp = client.post(f"{API}/logged-models", json=body)
    assert resp.status_code == 200, resp.text
    info = resp.json()["model"]["info"]
    assert info["model_id"] == chosen
    assert info["artifact_uri"].endswith(f"/models/{chosen}/artifacts")
    assert client.get(f"{API}/logged-models/{chosen}").status_code == 200
    again = client.post(f"{API}/logged-models", json=body)
    assert again.status_code == 400, again.text
    assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    for bad in ("m-../../x", "0123456789abcdef0123456789abcdef", "m-" + "A" * 32, 7):
        resp = client.post(f"{API}/logged-models", json={**body, "model_id": bad})
        assert resp.status_code == 400, resp.text
        assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "model_id" in resp.json()["message"]
