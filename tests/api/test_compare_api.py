"""Cairn's comparison API for the web UI: runs side by side, a model's versions with their
runs' metrics, several models' production or latest versions."""

from __future__ import annotations

import json
from typing import Any

from httpx import Response
from starlette.testclient import TestClient

API = "/api/2.0/mlflow"


def _ok(resp: Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def _error(resp: Response, status: int, code: str, names: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    assert names in body["message"], body


def _experiment(c: TestClient, name: str) -> str:
    eid: str = _ok(c.post(f"{API}/experiments/create", json={"name": name}))["experiment_id"]
    return eid


def _run(
    c: TestClient, eid: str, name: str, params: dict[str, str], metrics: dict[str, float]
) -> str:
    run_id: str = _ok(c.post(f"{API}/runs/create", json={"experiment_id": eid, "run_name": name}))[
        "run"
    ]["info"]["run_id"]
    batch = {
        "run_id": run_id,
        "params": [{"key": k, "value": v} for k, v in params.items()],
        "metrics": [{"key": k, "value": v, "timestamp": 1, "step": 0} for k, v in metrics.items()],
        "tags": [{"key": "team", "value": "lab"}],
    }
    _ok(c.post(f"{API}/runs/log-batch", json=batch))
    return run_id


def test_runs_compare_across_experiments(any_client: TestClient) -> None:
    c = any_client
    a, b = _experiment(c, "a"), _experiment(c, "b")
    r1 = _run(c, a, "one", {"lr": "0.1", "depth": "3"}, {"acc": 0.8})
    r2 = _run(c, b, "two", {"lr": "0.2"}, {"acc": 0.9, "loss": 0.3})
    _ok(
        c.post(
            f"{API}/runs/log-metric",
            json={"run_id": r2, "key": "odd", "value": "NaN", "timestamp": 1, "step": 0},
        )
    )

    body = _ok(c.post("/api/v1/runs/compare", json={"run_ids": [r2, r1, r2]}))
    runs = body["runs"]
    assert [r["run_id"] for r in runs] == [r2, r1]  # order asked, duplicates dropped
    two, one = runs
    assert two["experiment_id"] == b
    assert two["experiment_name"] == "b"
    assert one["experiment_name"] == "a"
    assert one["run_name"] == "one"
    assert one["params"] == {"lr": "0.1", "depth": "3"}
    assert two["metrics"] == {"acc": 0.9, "loss": 0.3, "odd": "NaN"}
    assert two["metric_steps"] == {"acc": 0, "loss": 0, "odd": 0}
    assert one["tags"]["team"] == "lab"
    assert one["status"] == "RUNNING"

    got = _ok(c.get("/api/v1/runs/compare", params=[("run_id", f"{r1},{r2}")]))
    assert [r["run_id"] for r in got["runs"]] == [r1, r2]
    again = _ok(c.get("/api/v1/runs/compare", params=[("run_id", r1), ("run_id", r2)]))
    assert again == got

    _error(
        c.post("/api/v1/runs/compare", json={"run_ids": [r1, "f" * 32]}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "f" * 32,
    )
    _error(
        c.post("/api/v1/runs/compare", json={"run_ids": []}),
        400,
        "INVALID_PARAMETER_VALUE",
        "run_ids",
    )
    _error(
        c.post("/api/v1/runs/compare", json={"run_ids": [f"{i:032x}" for i in range(101)]}),
        400,
        "INVALID_PARAMETER_VALUE",
        "run_ids",
    )
    _error(c.post("/api/v1/runs/compare", json={}), 400, "INVALID_PARAMETER_VALUE", "run_ids")
    _error(c.get("/api/v1/runs/compare"), 400, "INVALID_PARAMETER_VALUE", "run_ids")
    _error(
        c.post("/api/v1/runs/compare", json={"run_ids": "x"}),
        400,
        "INVALID_PARAMETER_VALUE",
        "'run_ids'",
    )
    # FastAPI's own validation of Cairn's routes answers in the one error shape too
    _error(
        c.get("/api/v1/datasets", params={"max_results": 0}),
        400,
        "INVALID_PARAMETER_VALUE",
        "'max_results'",
    )


def test_runs_compare_hundred_runs(client: TestClient) -> None:
    c = client
    eid = _experiment(c, "many")
    ids = [
        _run(c, eid, f"r{i}", {f"p{j}": str(i * j) for j in range(50)}, {"m": float(i)})
        for i in range(100)
    ]
    _ok(
        c.post(
            f"{API}/runs/log-metric",
            json={"run_id": ids[3], "key": "m", "value": 7.5, "timestamp": 2, "step": 12},
        )
    )
    runs = _ok(c.post("/api/v1/runs/compare", json={"run_ids": ids}))["runs"]
    assert runs[3]["metrics"] == {"m": 7.5}
    assert runs[3]["metric_steps"] == {"m": 12}
    assert [r["run_id"] for r in runs] == ids
    assert all(len(r["params"]) == 50 for r in runs)
    assert runs[7]["params"]["p3"] == "21"
    assert runs[42]["metrics"] == {"m": 42.0}


def _register(c: TestClient, name: str, run_id: str | None) -> str:
    body: dict[str, str] = {"name": name, "source": "mlflow-artifacts:/0/x/artifacts/model"}
    if run_id is not None:
        body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
    version: str = _ok(c.post(f"{API}/model-versions/create", json=body))["model_version"][
        "version"
    ]
    return version


def _stage(c: TestClient, name: str, version: str, stage: str) -> None:
    body = {"name": name, "version": version, "stage": stage, "archive_existing_versions": False}
    _ok(c.post(f"{API}/model-versions/transition-stage", json=body))


def test_model_performance_and_compare(any_client: TestClient) -> None:
    c = any_client
    eid = _experiment(c, "models")
    runs = [
        _run(c, eid, f"v{i}", {"depth": str(i)}, {"acc": 0.5 + i / 10, "loss": 1 - i / 10})
        for i in range(3)
    ]
    dataset = {
        "name": "iris",
        "digest": "abc",
        "source_type": "local",
        "source": json.dumps({"uri": "/iris.csv"}),
    }
    inputs = {
        "run_id": runs[1],
        "datasets": [
            {"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "training"}]}
        ],
    }
    _ok(c.post(f"{API}/runs/log-inputs", json=inputs))
    _ok(c.post(f"{API}/registered-models/create", json={"name": "clf"}))
    for r in runs:
        _register(c, "clf", r)
    _register(c, "clf", None)  # version 4: no source run
    _stage(c, "clf", "2", "production")
    _stage(c, "clf", "3", "Staging")
    alias = {"name": "clf", "alias": "champion", "version": "2"}
    _ok(c.post(f"{API}/registered-models/alias", json=alias))

    perf = _ok(c.get("/api/v1/models/clf/performance"))
    assert perf["model"] == "clf"
    versions = perf["versions"]
    assert [v["version"]["version"] for v in versions] == ["1", "2", "3", "4"]
    v2 = versions[1]
    assert v2["version"]["current_stage"] == "Production"
    assert v2["version"]["aliases"] == ["champion"]
    assert v2["version"]["run_id"] == runs[1]
    assert isinstance(v2["version"]["creation_timestamp"], int)
    assert v2["run"]["metrics"] == {"acc": 0.6, "loss": 0.9}
    assert v2["run"]["params"] == {"depth": "1"}
    assert v2["run"]["run_name"] == "v1"
    (used,) = v2["datasets"]
    assert (used["name"], used["digest"], used["context"]) == ("iris", "abc", "training")
    lineage = _ok(c.get(f"/api/v1/datasets/{used['dataset_id']}"))
    assert lineage["dataset"]["name"] == "iris"
    assert versions[0]["datasets"] == []
    assert versions[3]["run"] is None
    only = _ok(c.get("/api/v1/models/clf/performance", params={"metric": "acc"}))
    assert [v["run"]["metrics"] for v in only["versions"][:3]] == [
        {"acc": 0.5},
        {"acc": 0.6},
        {"acc": 0.7},
    ]
    _error(c.get("/api/v1/models/nope/performance"), 404, "RESOURCE_DOES_NOT_EXIST", "name=nope")

    _ok(c.post(f"{API}/registered-models/create", json={"name": "other"}))
    _register(c, "other", runs[0])
    _ok(c.post(f"{API}/registered-models/create", json={"name": "empty"}))
    names = [("name", "clf"), ("name", "other"), ("name", "empty")]
    prod = _ok(c.get("/api/v1/models/compare", params=names))
    assert prod["stage"] == "Production"
    clf, other, empty = prod["models"]
    assert clf["name"] == "clf"
    assert clf["version"]["version"] == "2"
    assert clf["run"]["params"] == {"depth": "1"}
    assert other["version"] is None
    assert other["run"] is None
    assert empty["version"] is None
    latest = _ok(c.get("/api/v1/models/compare", params=[*names, ("stage", "latest")]))
    assert [m["version"] and m["version"]["version"] for m in latest["models"]] == [
        "4",
        "1",
        None,
    ]
    assert latest["models"][0]["run"] is None
    assert latest["models"][1]["run"]["metrics"]["acc"] == 0.5
    staging = _ok(c.get("/api/v1/models/compare", params=[("name", "clf"), ("stage", "staging")]))
    assert staging["models"][0]["version"]["version"] == "3"

    _error(
        c.get("/api/v1/models/compare", params=[("name", "clf"), ("stage", "gold")]),
        400,
        "INVALID_PARAMETER_VALUE",
        "stage",
    )
    _error(c.get("/api/v1/models/compare"), 400, "INVALID_PARAMETER_VALUE", "name")
    _error(
        c.get("/api/v1/models/compare", params=[("name", "clf"), ("name", "ghost")]),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "ghost",
    )


def test_compare_routes_in_openapi(client: TestClient) -> None:
    paths = _ok(client.get("/openapi.json"))["paths"]
    assert "post" in paths["/api/v1/runs/compare"]
    assert "get" in paths["/api/v1/runs/compare"]
    assert "get" in paths["/api/v1/models/compare"]
    assert "get" in paths["/api/v1/models/{name}/performance"]
