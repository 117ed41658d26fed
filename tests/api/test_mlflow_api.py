"""The MLflow REST surface in-process: wire conventions and the one error shape."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

API = "/api/2.0/mlflow"


def _error(resp: Any, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


def _create_run(client: TestClient, exp: str = "0") -> str:
    resp = client.post(f"{API}/runs/create", json={"experiment_id": exp, "start_time": 5})
    assert resp.status_code == 200, resp.text
    run_id: str = resp.json()["run"]["info"]["run_id"]
    return run_id


def test_health_version_server_info(client: TestClient) -> None:
    assert client.get("/health").text == "OK"
    assert client.get("/version").text
    info = client.get("/api/3.0/mlflow/server-info").json()
    assert info["store_type"] == "SqlStore"


def test_run_wire_shape(any_client: TestClient) -> None:
    client = any_client
    run_id = _create_run(client)
    client.post(
        f"{API}/runs/log-batch",
        json={
            "run_id": run_id,
            "metrics": [
                {"key": "nan", "value": "NaN", "timestamp": "10", "step": "1"},
                {"key": "inf", "value": "Infinity", "timestamp": 10},
                {"key": "tiny", "value": 5e-324, "timestamp": 10},
            ],
            "params": [{"key": "p", "value": "1"}],
        },
    ).raise_for_status()
    for prefix in (API, "/ajax-api/2.0/mlflow"):
        run = client.get(f"{prefix}/runs/get", params={"run_id": run_id}).json()["run"]
        assert run["info"]["run_id"] == run["info"]["run_uuid"] == run_id
        assert run["info"]["experiment_id"] == "0"
        assert "end_time" not in run["info"]
        metrics = {m["key"]: m for m in run["data"]["metrics"]}
        assert metrics["nan"] == {"key": "nan", "value": "NaN", "timestamp": 10, "step": 1}
        assert metrics["inf"]["value"] == "Infinity"
        assert metrics["tiny"]["value"] == 5e-324
        assert run["inputs"] == {}
        assert run["outputs"] == {}
    # run_uuid alone also works (older clients)
    assert client.get(f"{API}/runs/get", params={"run_uuid": run_id}).status_code == 200


def test_empty_lists_are_omitted(client: TestClient) -> None:
    resp = client.post(f"{API}/runs/search", json={"experiment_ids": ["0"]})
    assert resp.json() == {}
    exp = client.get(f"{API}/experiments/get", params={"experiment_id": "0"}).json()
    assert "tags" not in exp["experiment"]


def test_unknown_things_are_404(client: TestClient) -> None:
    _error(
        client.get(f"{API}/runs/get", params={"run_id": "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    _error(
        client.get(f"{API}/experiments/get-by-name", params={"experiment_name": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _error(client.get(f"{API}/no/such/endpoint"), 404, "ENDPOINT_NOT_FOUND")
    _error(client.get(f"{API}/runs/create"), 405, "METHOD_NOT_ALLOWED")


def test_bad_input_is_400_naming_the_field(client: TestClient) -> None:
    run_id = _create_run(client)
    msg = _error(
        client.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "value" in msg
    msg = _error(
        client.post(
            f"{API}/runs/log-batch",
            json={"run_id": run_id, "metrics": [{"key": "m", "value": "abc", "timestamp": 1}]},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "metrics[0].value" in msg
    declared = {"Content-Type": "application/json"}  # a body of another type is 415
    msg = _error(
        client.post(f"{API}/runs/log-metric", content=b"{not json", headers=declared),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "JSON" in msg
    msg = _error(
        client.post(f"{API}/runs/log-metric", content=b"[1, 2]", headers=declared),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    msg = _error(
        client.post(
            f"{API}/runs/search", json={"experiment_ids": ["0"], "filter": "metrics.acc >> 0.5"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'>'" in msg
    msg = _error(
        client.get(f"{API}/experiments/get", params={"experiment_id": "abc"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "experiment_id" in msg
    msg = _error(
        client.post(f"{API}/experiments/create", json={"name": 5}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "name" in msg
    msg = _error(
        client.post(f"{API}/runs/update", json={"run_id": run_id, "status": "DONE"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "DONE" in msg
    msg = _error(
        client.post(
            f"{API}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [{"key": f"k{i}", "value": 1, "timestamp": 1} for i in range(1001)],
            },
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "1000" in msg
    msg = _error(
        client.post(
            f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "../../etc", "value": "x"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_duplicate_experiment_is_resource_already_exists(client: TestClient) -> None:
    assert client.post(f"{API}/experiments/create", json={"name": "dup"}).status_code == 200
    _error(
        client.post(f"{API}/experiments/create", json={"name": "dup"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )


def test_oversized_payload_is_413_and_stores_nothing(tmp_path: object) -> None:
    from pathlib import Path

    from cairn.server.app import create_app
    from cairn.server.settings import Settings

    assert isinstance(tmp_path, Path)
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'x.db'}", max_request_bytes=10_000
    )
    with TestClient(create_app(settings)) as client:
        run_id = _create_run(client)
        body = {"run_id": run_id, "params": [{"key": "big", "value": "x" * 20_000}]}
        _error(client.post(f"{API}/runs/log-batch", json=body), 413, "REQUEST_LIMIT_EXCEEDED")
        run = client.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
        assert "params" not in run["data"]


@pytest.mark.parametrize("view", ["ACTIVE_ONLY", "DELETED_ONLY", "ALL", "1", "3"])
def test_view_types_accept_names_and_numbers(client: TestClient, view: str) -> None:
    resp = client.post(f"{API}/experiments/search", json={"view_type": view})
    assert resp.status_code == 200, resp.text


def test_history_and_bulk_interval(client: TestClient) -> None:
    run_id = _create_run(client)
    metrics = [
        {"key": "loss", "value": i / 10, "timestamp": 100 + i, "step": i} for i in range(1000)
    ]
    client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    resp = client.get(
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "loss", "max_results": 600},
    )
    page = resp.json()
    assert len(page["metrics"]) == 600
    rest = client.get(
        f"{API}/metrics/get-history",
        params={
            "run_id": run_id,
            "metric_key": "loss",
            "page_token": page["next_page_token"],
            "max_results": 600,
        },
    ).json()
    assert len(rest["metrics"]) == 400
    assert "next_page_token" not in rest
    sampled = client.get(
        f"{API}/metrics/get-history-bulk-interval",
        params={"run_ids": [run_id], "metric_key": "loss", "max_results": 50},
    ).json()["metrics"]
    steps = [m["step"] for m in sampled]
    # MLflow's choice: one step every ceil(999 / 50) = 20 from the first, and the last
    assert steps == [*range(0, 1000, 20), 999]
    assert all(m["run_id"] == run_id for m in sampled)


def test_openapi_lists_mlflow_endpoints(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/api/2.0/mlflow/runs/log-batch" in doc["paths"]
    assert "post" in doc["paths"]["/api/2.0/mlflow/runs/search"]
    assert "/health" in doc["paths"]


def test_artifact_locations_proxied_or_direct(tmp_path: object) -> None:
    from pathlib import Path

    from cairn.server.app import create_app
    from cairn.server.settings import Settings

    assert isinstance(tmp_path, Path)
    for serve in (True, False):
        settings = Settings(
            backend_store_uri=f"sqlite:///{tmp_path / f'loc-{serve}.db'}",
            artifacts_destination=str(tmp_path / f"art-{serve}"),
            serve_artifacts=serve,
        )
        with TestClient(create_app(settings)) as client:
            eid = client.post(f"{API}/experiments/create", json={"name": "e"}).json()[
                "experiment_id"
            ]
            exp = client.get(f"{API}/experiments/get", params={"experiment_id": eid}).json()
            run = client.post(f"{API}/runs/create", json={"experiment_id": eid}).json()["run"]
            default = client.get(f"{API}/experiments/get", params={"experiment_id": "0"}).json()
            info = client.get("/api/3.0/mlflow/server-info").json()
        location = exp["experiment"]["artifact_location"]
        if serve:
            assert location == f"mlflow-artifacts:/{eid}"
            assert default["experiment"]["artifact_location"] == "mlflow-artifacts:/0"
        else:
            root = (tmp_path / "art-False").resolve().as_uri()
            assert location == f"{root}/{eid}"
            assert default["experiment"]["artifact_location"] == f"{root}/0"
        assert run["info"]["artifact_uri"] == f"{location}/{run['info']['run_id']}/artifacts"
        assert info["multipart_uploads_enabled"] is serve


def test_create_run_with_chosen_id(any_client: TestClient) -> None:
    """Imports keep their source's run ids: runs/create takes an optional run_id."""
    client = any_client
    chosen = "0123456789abcdef0123456789abcdef"
    body = {"experiment_id": "0", "start_time": 7, "run_id": chosen}
    resp = client.post(f"{API}/runs/create", json=body)
    assert resp.status_code == 200, resp.text
    info = resp.json()["run"]["info"]
    assert info["run_id"] == chosen
    assert info["start_time"] == 7
    assert info["artifact_uri"].endswith(f"/{chosen}/artifacts")
    got = client.get(f"{API}/runs/get", params={"run_id": chosen}).json()["run"]["info"]
    assert got["run_id"] == chosen
    again = client.post(f"{API}/runs/create", json=body)
    assert again.status_code == 400, again.text
    assert again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert chosen in again.json()["message"]
    for bad in ("../../etc", "ABCDEF0123456789ABCDEF0123456789", "12", "x" * 5000, 12):
        body = {"experiment_id": "0", "run_id": bad}
        resp = client.post(f"{API}/runs/create", json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "run_id" in resp.json()["message"]


def test_search_page_wire_shape(any_client: TestClient) -> None:
    """Every field of a page of runs as runs/search answers it, each run with its own data:
    info with and without its optional fields, params (one of 6,000 characters), tags,
    finite and non-finite latest metrics, dataset inputs with tags, model inputs, a deleted
    run, and the same run as runs/get answers it."""
    client = any_client
    exp = client.post(f"{API}/experiments/create", json={"name": "shape"}).json()
    eid = exp["experiment_id"]
    full = client.post(
        f"{API}/runs/create",
        json={"experiment_id": eid, "start_time": 7, "run_name": "full", "user_id": "ann"},
    ).json()["run"]["info"]
    rid = full["run_id"]
    long_value = "v" * 6000
    client.post(
        f"{API}/runs/log-batch",
        json={
            "run_id": rid,
            "metrics": [
                {"key": "a", "value": 0.25, "timestamp": 11, "step": 3},
                {"key": "a", "value": 0.5, "timestamp": 12, "step": 4},
                {"key": "nan", "value": "NaN", "timestamp": 13, "step": 0},
                {"key": "up", "value": "Infinity", "timestamp": 14, "step": 0},
                {"key": "down", "value": "-Infinity", "timestamp": 15, "step": 0},
            ],
            "params": [{"key": "long", "value": long_value}, {"key": "p", "value": "1"}],
            "tags": [{"key": "t", "value": "x"}],
        },
    ).raise_for_status()
    dataset = {"name": "d", "digest": "x1", "source_type": "local", "source": "s"}
    context = [{"key": "mlflow.data.context", "value": "training"}]
    model = client.post(f"{API}/logged-models", json={"experiment_id": eid}).json()["model"]
    model_id = model["info"]["model_id"]
    client.post(
        f"{API}/runs/log-inputs",
        json={
            "run_id": rid,
            "datasets": [{"dataset": dataset, "tags": context}],
            "models": [{"model_id": model_id}],
        },
    ).raise_for_status()
    client.post(
        f"{API}/runs/update", json={"run_id": rid, "status": "FINISHED", "end_time": 20}
    ).raise_for_status()
    bare = client.post(f"{API}/runs/create", json={"experiment_id": eid}).json()["run"]["info"]
    gone = client.post(f"{API}/runs/create", json={"experiment_id": eid, "start_time": 1})
    gone_id = gone.json()["run"]["info"]["run_id"]
    client.post(
        f"{API}/runs/log-batch",
        json={"run_id": gone_id, "params": [{"key": "p", "value": "2"}]},
    ).raise_for_status()
    client.post(f"{API}/runs/delete", json={"run_id": gone_id}).raise_for_status()

    body = {"experiment_ids": [eid], "run_view_type": "ALL", "order_by": ["metrics.a DESC"]}
    page = client.post(f"{API}/runs/search", json=body).json()
    assert set(page) == {"runs"}
    first, *others = page["runs"]
    full_info = {
        "run_id": rid,
        "run_uuid": rid,
        "experiment_id": eid,
        "status": "FINISHED",
        "lifecycle_stage": "active",
        "run_name": "full",
        "user_id": "ann",
        "start_time": 7,
        "end_time": 20,
        "artifact_uri": full["artifact_uri"],
    }
    assert {k: first[k] for k in ("info", "inputs", "outputs")} == {
        "info": full_info,
        "inputs": {
            "dataset_inputs": [{"dataset": dataset, "tags": context}],
            "model_inputs": [{"model_id": model_id}],
        },
        "outputs": {},
    }
    assert set(first["data"]) == {"metrics", "params", "tags"}
    # the lists' order is not part of MLflow's contract: compare them sorted
    assert sorted(first["data"]["metrics"], key=lambda m: str(m["key"])) == sorted(
        [
            {"key": "a", "value": 0.5, "timestamp": 12, "step": 4},
            {"key": "nan", "value": "NaN", "timestamp": 13, "step": 0},
            {"key": "up", "value": "Infinity", "timestamp": 14, "step": 0},
            {"key": "down", "value": "-Infinity", "timestamp": 15, "step": 0},
        ],
        key=lambda m: str(m["key"]),
    )
    assert sorted(first["data"]["params"], key=lambda p: str(p["key"])) == [
        {"key": "long", "value": long_value},
        {"key": "p", "value": "1"},
    ]
    user_tags = [t for t in first["data"]["tags"] if not t["key"].startswith("mlflow.")]
    assert user_tags == [{"key": "t", "value": "x"}]
    # the runs without the metric: the newest start first, the deleted one included
    assert [r["info"]["run_id"] for r in others] == [bare["run_id"], gone_id]
    by_id = {r["info"]["run_id"]: r for r in others}
    named = ("run_name", "user_id")  # generated by the server
    assert {k: v for k, v in by_id[gone_id]["info"].items() if k not in named} == {
        "run_id": gone_id,
        "run_uuid": gone_id,
        "experiment_id": eid,
        "status": "RUNNING",
        "lifecycle_stage": "deleted",
        "start_time": 1,
        "artifact_uri": gone.json()["run"]["info"]["artifact_uri"],
    }
    assert by_id[gone_id]["data"]["params"] == [{"key": "p", "value": "2"}]
    assert by_id[gone_id]["inputs"] == by_id[gone_id]["outputs"] == {}
    assert "metrics" not in by_id[bare["run_id"]]["data"]
    assert "params" not in by_id[bare["run_id"]]["data"]
    # a page of runs/search holds the same run as runs/get
    for run in page["runs"]:
        got = client.get(f"{API}/runs/get", params={"run_id": run["info"]["run_id"]}).json()
        assert got["run"] == run
    # active only: the deleted run is left out
    active = client.post(f"{API}/runs/search", json={**body, "run_view_type": "ACTIVE_ONLY"})
    assert [r["info"]["run_id"] for r in active.json()["runs"]] == [rid, bare["run_id"]]
