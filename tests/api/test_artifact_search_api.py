"""Cairn's artifacts API: the artifacts of many runs, searched by path and filtered by type,
paged with bounded walks, refusing traversal, and following the caller's visibility."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.entities.access import ResourceType, Visibility
from cairn.services import artifact_search
from tests.api import root_app
from tests.api.test_filtered_listings import FixedPolicy, app_as  # noqa: F401 (fixture)

API = "/api/2.0/mlflow"
V1 = "/api/v1/artifacts"


def _experiment(client: TestClient, name: str) -> str:
    r = client.post(f"{API}/experiments/create", json={"name": name})
    assert r.status_code == 200, r.text
    eid: str = r.json()["experiment_id"]
    return eid


def _run(client: TestClient, eid: str, name: str, files: dict[str, bytes]) -> str:
    r = client.post(f"{API}/runs/create", json={"experiment_id": eid, "run_name": name})
    assert r.status_code == 200, r.text
    run_id: str = r.json()["run"]["info"]["run_id"]
    for path, data in files.items():
        url = f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts/{path}"
        r = client.put(url, content=data)
        assert r.status_code == 200, r.text
    return run_id


def _all(client: TestClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every artifact of a listing, one per page."""
    found: list[dict[str, Any]] = []
    token = None
    for _ in range(100):
        r = client.get(V1, params={**params, "max_results": 1, "page_token": token})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert len(doc["artifacts"]) <= 1
        found += doc["artifacts"]
        token = doc["next_page_token"]
        if not token:
            return found
    raise AssertionError("paging did not end")


SWEEP = {
    "model/MLmodel": b"flavors: {}\n",
    "model/model.pkl": b"x" * 100,
    "model/data/weights.bin": b"y" * 20,
    "plots/loss.png": b"\x89PNG",
    "config.yaml": b"lr: 0.1\n",
    "train.log": b"epoch 1\n",
    "classification_report.txt": b"f1 0.9\n",
    "notes.md": b"# Notes\n",
    "predictions.csv": b"a,b\n1,2\n",
    "demo.mp4": b"\0\0",
}


def test_artifacts_across_runs_by_type_and_search(any_client: TestClient) -> None:
    client = any_client
    first = _experiment(client, "sweep")
    second = _experiment(client, "other")
    old = _run(client, first, "old", {"config.yaml": b"lr: 1\n"})
    new = _run(client, first, "new", SWEEP)
    elsewhere = _run(client, second, "elsewhere", {"plots/roc.png": b"\x89PNG"})

    doc = client.get(V1, params={"experiment_id": first}).json()
    assert doc["next_page_token"] is None
    assert doc["scanned_runs"] == 2
    rows = [(a["run_id"], a["path"], a["type"]) for a in doc["artifacts"]]
    # newest run first, each run's entries in path order, the model folder as one entry
    assert rows == [
        (new, "classification_report.txt", "report"),
        (new, "config.yaml", "config"),
        (new, "demo.mp4", "media"),
        (new, "model", "model"),
        (new, "notes.md", "report"),
        (new, "plots/loss.png", "image"),
        (new, "predictions.csv", "data"),
        (new, "train.log", "log"),
        (old, "config.yaml", "config"),
    ]
    model = next(a for a in doc["artifacts"] if a["type"] == "model")
    assert model["is_dir"] is True
    assert (model["files"], model["file_size"]) == (3, len(b"flavors: {}\n") + 100 + 20)
    assert model["run_name"] == "new"
    assert model["experiment_name"] == "sweep"
    assert model["artifact_uri"].endswith(f"{new}/artifacts")
    loss = next(a for a in doc["artifacts"] if a["path"] == "plots/loss.png")
    assert (loss["is_dir"], loss["file_size"], loss["files"]) == (False, 4, 1)

    everywhere = client.get(V1).json()["artifacts"]
    assert [a["run_id"] for a in everywhere][0] == elsewhere
    assert {a["experiment_id"] for a in everywhere} == {first, second}

    images = client.get(V1, params={"type": "image"}).json()["artifacts"]
    assert sorted(a["path"] for a in images) == ["plots/loss.png", "plots/roc.png"]
    configs = client.get(V1, params={"type": "config", "experiment_id": first}).json()
    assert [a["run_id"] for a in configs["artifacts"]] == [new, old]
    found = client.get(V1, params={"q": "LOSS"}).json()["artifacts"]
    assert [a["path"] for a in found] == ["plots/loss.png"]
    under = client.get(V1, params={"path": "plots"}).json()["artifacts"]
    assert [a["path"] for a in under] == ["plots/roc.png", "plots/loss.png"]
    assert client.get(V1, params={"q": "nothing-like-this"}).json() == {
        "artifacts": [],
        "next_page_token": None,
        "scanned_runs": 3,
    }

    # one per page gives every entry once, in the same order, across run boundaries
    paged = _all(client, {"experiment_id": first})
    assert [(a["run_id"], a["path"]) for a in paged] == [(r[0], r[1]) for r in rows]
    paged = _all(client, {"type": "image"})
    assert [a["path"] for a in paged] == ["plots/roc.png", "plots/loss.png"]

    # deleted runs and the runs of deleted experiments are left out
    client.post(f"{API}/runs/delete", json={"run_id": old}).raise_for_status()
    left = client.get(V1, params={"experiment_id": first, "type": "config"}).json()
    assert [a["run_id"] for a in left["artifacts"]] == [new]
    client.post(f"{API}/experiments/delete", json={"experiment_id": second}).raise_for_status()
    images = client.get(V1, params={"type": "image"}).json()["artifacts"]
    assert [a["path"] for a in images] == ["plots/loss.png"]
    assert client.get(V1, params={"experiment_id": second}).status_code == 404


def test_a_page_walks_a_bounded_number_of_runs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = _experiment(client, "many")
    target = _run(client, eid, "target", {"wanted.png": b"\x89PNG"})
    for i in range(5):
        _run(client, eid, f"r{i}", {"other.txt": b"x"})
    monkeypatch.setattr(artifact_search, "MAX_RUNS_PER_PAGE", 2)
    monkeypatch.setattr(artifact_search, "RUN_BATCH", 1)

    pages = []
    token = None
    for _ in range(10):
        r = client.get(V1, params={"type": "image", **({"page_token": token} if token else {})})
        assert r.status_code == 200, r.text
        doc = r.json()
        pages.append((doc["scanned_runs"], [a["path"] for a in doc["artifacts"]]))
        token = doc["next_page_token"]
        if not token:
            break
    # 6 runs, 2 walked per request: the image is in the oldest run, on the third page
    assert pages == [(2, []), (2, []), (2, ["wanted.png"])]
    assert target


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"path": "../etc"}, "'..' is not allowed"),
        ({"path": "plots/%2e%2e/%2e%2e"}, "'..' is not allowed"),
        ({"path": "/abs"}, "must be relative"),
        ({"path": "a\\..\\b"}, "backslashes"),
        ({"type": "movies"}, "'type'"),
        ({"experiment_id": "x1"}, "'experiment_id'"),
        ({"q": "x" * 201}, "'q'"),
        ({"page_token": "bm90IGEgdG9rZW4"}, "page_token"),
        ({"max_results": 0}, "max_results"),
        ({"max_results": 501}, "max_results"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    _run(client, "0", "r", {"a.txt": b"a"})
    r = client.get(V1, params=params)
    assert r.status_code == 400, r.text
    doc = r.json()
    assert doc["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in doc["message"]


def test_a_token_belongs_to_its_query(client: TestClient) -> None:
    for name in ("a", "b"):
        _run(client, "0", name, {"x.txt": b"x"})
    token = client.get(V1, params={"max_results": 1}).json()["next_page_token"]
    assert token
    r = client.get(V1, params={"max_results": 1, "type": "log", "page_token": token})
    assert r.status_code == 400
    assert "different query" in r.json()["message"]


def test_an_unknown_experiment_is_a_404(client: TestClient) -> None:
    r = client.get(V1, params={"experiment_id": "987654"})
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_listing_follows_the_callers_visibility(
    app_as: tuple[TestClient, dict[str, Any]],  # noqa: F811 (fixture)
) -> None:
    client, made = app_as
    ids = made["experiments"]
    for name, eid in ids.items():
        _run(client, eid, name, {f"{name}.png": b"\x89PNG"})
    policy = FixedPolicy(
        {
            ResourceType.EXPERIMENT: Visibility(
                everything=False, allow_ids=frozenset({ids["exp-0"], ids["exp-2"]})
            ),
            ResourceType.REGISTERED_MODEL: Visibility(),
        }
    )
    root_app(client.app).state.access = policy
    found = _all(client, {})
    assert sorted(a["path"] for a in found) == ["exp-0.png", "exp-2.png"]
    r = client.get(V1, params={"experiment_id": ids["exp-1"]})
    assert r.status_code == 404  # hidden is not found, not empty


def test_a_runs_logged_models_are_model_entries(any_client: TestClient) -> None:
    client = any_client
    eid = _experiment(client, "mlflow3")
    run_id = _run(client, eid, "train", {"metrics.json": b"{}"})
    body = {"experiment_id": eid, "name": "classifier", "source_run_id": run_id}
    r = client.post(f"{API}/logged-models", json=body)
    assert r.status_code == 200, r.text
    info = r.json()["model"]["info"]
    model_id, location = info["model_id"], info["artifact_uri"]
    for path, data in {"MLmodel": b"flavors: {}\n", "model.pkl": b"z" * 50}.items():
        url = f"/api/2.0/mlflow-artifacts/artifacts/{eid}/models/{model_id}/artifacts/{path}"
        client.put(url, content=data).raise_for_status()

    found = client.get(V1, params={"experiment_id": eid}).json()["artifacts"]
    assert [(a["path"], a["type"], a["model_id"]) for a in found] == [
        ("metrics.json", "config", None),
        ("classifier", "model", model_id),
    ]
    model = found[1]
    assert (model["is_dir"], model["files"], model["file_size"]) == (True, 2, 12 + 50)
    assert model["artifact_uri"] == location
    assert model["run_id"] == run_id
    assert found[0]["artifact_uri"].endswith(f"{run_id}/artifacts")
    models = client.get(V1, params={"type": "model", "q": "classif"}).json()["artifacts"]
    assert [m["model_id"] for m in models] == [model_id]
    # a folder of the runs holds no logged models
    assert client.get(V1, params={"experiment_id": eid, "path": "x"}).json()["artifacts"] == []
