"""What MLflow's own REST suite (``make compat-suite``) found, held in Cairn's tests: MLflow's
wording on MLflow routes, the web UI's ajax endpoints, MLflow's step choice for
``get-history-bulk-interval``."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"


def _run(client: TestClient, name: str = "compat") -> tuple[str, str]:
    exp = client.post(f"{API}/experiments/create", json={"name": name}).json()["experiment_id"]
    run = client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"]
    return exp, run["info"]["run_id"]


def _bad(response: Any, text: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert text in body["message"], body


# ------------------------------------------------------------------ validation wording
def test_mlflow_routes_use_mlflow_validation_wording(client: TestClient) -> None:
    _, rid = _run(client)
    metric = {"run_id": rid, "key": "k", "value": 1, "timestamp": 1, "step": 1}
    _bad(
        client.post(f"{API}/runs/log-metric", json={**metric, "run_id": 31}),
        "Invalid value 31 for parameter 'run_id' supplied: ",
    )
    _bad(
        client.post(f"{API}/runs/log-metric", json={**metric, "step": "foo"}),
        "Invalid value \"foo\" for parameter 'step' supplied",
    )
    _bad(
        client.post(f"{API}/runs/log-metric", json={**metric, "key": None}),
        "Missing value for required parameter 'key'.",
    )
    _bad(client.post(f"{API}/experiments/create", json={}), "parameter 'name'.")
    _bad(
        client.post(f"{API}/experiments/create", json={"name": "x", "tags": "5"}),
        "Invalid value \"5\" for parameter 'tags' supplied",
    )
    _bad(
        client.post(f"{API}/runs/set-tag", json={"run_id": rid, "key": "k", "value": 41}),
        "Invalid value 41 for parameter 'value' supplied",
    )
    _bad(
        client.post(f"{API}/runs/log-batch", json={"run_id": rid, "metrics": [{"key": "m"}]}),
        "Missing value for required parameter 'metrics[0].value'",
    )
    _bad(
        client.post(f"{API}/runs/search", json={"max_results": 123456789}),
        "Invalid value 123456789 for parameter 'max_results' supplied: it must be between",
    )


def test_v1_routes_keep_cairn_wording(client: TestClient) -> None:
    response = client.post("/api/v1/alerts/rules", json={"name": 5, "kind": "stalled"})
    _bad(response, "Invalid value 5 for parameter 'name': ")
    assert "supplied" not in response.json()["message"]
    missing = client.post("/api/v1/alerts/rules", json={"kind": "stalled"})
    _bad(missing, "Missing value for required parameter 'name'")
    assert not missing.json()["message"].endswith(".")


@pytest.mark.parametrize(
    "url",
    [
        f"{API}/artifacts/list?run_id={{rid}}&path=../path",
        "/get-artifact?run_id={rid}&path=../path",
        "/model-versions/get-artifact?name=model&version=1&path=../path",
        f"{AJAX}/model-versions/get-artifact?name=model&version=1&path=..%2fpath",
    ],
)
def test_ui_artifact_routes_refuse_traversal_with_mlflow_message(
    client: TestClient, url: str
) -> None:
    _, rid = _run(client)
    response = client.get(url.format(rid=rid))
    assert response.status_code == 400
    assert response.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}


def test_proxy_routes_keep_cairn_detail(client: TestClient) -> None:
    response = client.get("/api/2.0/mlflow-artifacts/artifacts?path=a/../b")
    _bad(response, "'..' is not allowed")


# ------------------------------------------------------------------ metric history (UI)
def _log(client: TestClient, rid: str, points: list[dict[str, Any]]) -> None:
    for point in points:
        assert client.post(f"{API}/runs/log-metric", json={"run_id": rid, **point}).is_success


def test_get_history_bulk(client: TestClient) -> None:
    url = f"{AJAX}/metrics/get-history-bulk"
    _bad(client.get(url, params={"metric_key": "k"}), "must specify at least one run_id")
    many = {"run_id": [f"id_{i}" for i in range(101)], "metric_key": "k"}
    _bad(client.get(url, params=many), "cannot specify more than 100")
    _bad(client.get(url, params={"run_id": ["1"]}), "must specify a metric_key")
    exp, r1 = _run(client)
    r2 = client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]
    points = [
        {"key": "m", "timestamp": 1, "step": 3, "value": 12.0},
        {"key": "m", "timestamp": 1, "step": 2, "value": 10.0},
        {"key": "m", "timestamp": 1, "step": 3, "value": 11.0},
    ]
    _log(client, r1, points)
    _log(client, r2["run_id"], points[:1])
    got = client.get(url, params={"run_id": [r1, r2["run_id"]], "metric_key": "m"}).json()
    ordered = sorted(
        [{**p, "run_id": r1} for p in (points[1], points[2], points[0])]
        + [{**points[0], "run_id": r2["run_id"]}],
        key=lambda m: m["run_id"],
    )
    assert got["metrics"] == ordered
    limited = client.get(url, params={"run_id": [r1], "metric_key": "m", "max_results": 2})
    assert len(limited.json()["metrics"]) == 2


def test_bulk_interval_chooses_mlflows_steps(client: TestClient) -> None:
    url = f"{AJAX}/metrics/get-history-bulk-interval"
    exp, r1 = _run(client)
    _log(client, r1, [{"key": "m", "timestamp": 1, "step": i, "value": 1.0} for i in range(10)])

    def steps(params: dict[str, Any]) -> list[tuple[str, int]]:
        got = client.get(url, params={"metric_key": "m", "max_results": 5, **params})
        assert got.status_code == 200, got.text
        return [(m["run_id"], m["step"]) for m in got.json().get("metrics", [])]

    assert steps({"run_ids": [r1]}) == [(r1, s) for s in (0, 2, 4, 6, 8, 9)]
    assert steps({"run_ids": [r1], "start_step": 0, "end_step": 4}) == [(r1, s) for s in range(5)]
    r2 = client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]
    r2id = r2["run_id"]
    _log(client, r2id, [{"key": "m", "timestamp": 1, "step": i, "value": 1.0} for i in range(20)])
    wanted = [0, 4, 8, 9, 12, 16, 19]
    assert steps({"run_ids": [r1, r2id]}) == [(r1, s) for s in (0, 4, 8, 9)] + [
        (r2id, s) for s in wanted
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric_key": "k"}, "Missing value for required parameter 'run_ids'."),
        ({"run_ids": ["1"], "metric_key": "k", "max_results": 0}, "between 1 and 2500"),
        ({"run_ids": ["1"], "metric_key": ""}, "Missing value for required parameter 'metric_key'"),
        ({"run_ids": ["1"]}, "Missing value for required parameter 'metric_key'"),
        (
            {"run_ids": ["1"], "metric_key": "k", "start_step": 1, "end_step": 0},
            "end_step must be greater than start_step. ",
        ),
        ({"run_ids": ["1"], "metric_key": "k", "start_step": 1}, "both must be specified."),
        (
            {"run_ids": [f"r{i}" for i in range(101)], "metric_key": "k"},
            "must specify at most 100 run_ids.",
        ),
    ],
)
def test_bulk_interval_refusals(client: TestClient, params: dict[str, Any], message: str) -> None:
    _bad(client.get(f"{AJAX}/metrics/get-history-bulk-interval", params=params), message)


# ------------------------------------------------------------------ datasets, uploads
def test_search_datasets(client: TestClient) -> None:
    url = f"{AJAX}/experiments/search-datasets"
    _bad(client.post(url, json={}), "must specify at least one experiment_id.")
    _bad(client.post(url, json={"experiment_ids": [str(i) for i in range(21)]}), "more than 20")
    exp, rid = _run(client)
    dataset = {"name": "d", "digest": "x1", "source_type": "local", "source": "s"}
    inputs = [
        {"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "training"}]},
        {"dataset": {**dataset, "digest": "x2"}, "tags": []},
    ]
    assert client.post(f"{API}/runs/log-inputs", json={"run_id": rid, "datasets": inputs})
    found = client.post(url, json={"experiment_ids": [exp]}).json()["dataset_summaries"]
    assert sorted(found, key=lambda d: d["digest"]) == [
        {"experiment_id": exp, "name": "d", "digest": "x1", "context": "training"},
        {"experiment_id": exp, "name": "d", "digest": "x2"},
    ]


def test_upload_artifact(client: TestClient) -> None:
    url = f"{AJAX}/upload-artifact"
    _, rid = _run(client)
    _bad(client.post(url), "Request must specify run_uuid.")
    _bad(client.post(url, params={"run_uuid": rid}), "Request must specify path.")
    response = client.post(url, params={"run_uuid": rid, "path": "../t.txt"}, content=b"x")
    assert response.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}
    _bad(client.post(url, params={"run_uuid": rid, "path": "t.txt"}), "Request must specify data.")
    ok = client.post(url, params={"run_uuid": rid, "path": "d/t.txt"}, content=b"hello world")
    assert ok.status_code == 200, ok.text
    got = client.get("/get-artifact", params={"run_uuid": rid, "path": "d/t.txt"})
    assert got.text == "hello world"
    # a browser's cross-site upload is still refused by the request guard
    foreign = client.post(
        url,
        params={"run_uuid": rid, "path": "e.txt"},
        content=b"x",
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert foreign.status_code == 403


def test_logged_model_artifact_routes(client: TestClient) -> None:
    exp, _ = _run(client)
    model = client.post(f"{API}/logged-models", json={"experiment_id": exp}).json()["model"]
    model_id = model["info"]["model_id"]
    location = model["info"]["artifact_uri"]
    assert location.startswith("mlflow-artifacts:/")
    put = client.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{location.split(':', 1)[1].lstrip('/')}/MLmodel",
        content=f"model_id: {model_id}\n".encode(),
    )
    assert put.status_code == 200, put.text
    base = f"{AJAX}/logged-models/{model_id}/artifacts"
    listed = client.get(f"{base}/directories").json()
    assert [f["path"] for f in listed["files"]] == ["MLmodel"]
    file = client.get(f"{base}/files", params={"artifact_file_path": "MLmodel"})
    assert file.status_code == 200
    assert model_id in file.text
    assert client.get(f"{base}/files", params={"artifact_file_path": "../x"}).status_code == 400
    missing = client.get(f"{AJAX}/logged-models/m-nope/artifacts/directories")
    assert missing.status_code == 404


# ------------------------------------------------------------------ registry, logged models
def _version(client: TestClient, **body: Any) -> Any:
    return client.post(f"{API}/model-versions/create", json={"name": "model", **body})


def test_model_version_sources_inside_the_store(any_client: TestClient) -> None:
    client = any_client
    exp, rid = _run(client)
    run = client.get(f"{API}/runs/get", params={"run_id": rid}).json()["run"]["info"]
    assert client.post(f"{API}/registered-models/create", json={"name": "model"}).is_success
    inside = run["artifact_uri"].removeprefix("mlflow-")  # artifacts:/<exp>/<run>/artifacts
    for source in (
        inside,
        "mlflow-artifacts:/models",
        "mlflow-artifacts:/models///",
        "mlflow-artifacts://host:9000/models",
        "mlflow-artifacts://host:9000/models/artifact/..../",
    ):
        response = _version(client, source=source, run_id=rid)
        assert response.status_code == 200, (source, response.text)
    stored = _version(client, source=inside, run_id=rid).json()["model_version"]["version"]
    uri = client.get(
        f"{API}/model-versions/get-download-uri", params={"name": "model", "version": stored}
    ).json()["artifact_uri"]
    assert uri == run["artifact_uri"]
    for source in (
        "mlflow-artifacts://host:9000/models/../../../",
        "http://host:9000/models/../../../",
        "s3a://my_bucket/api/2.0/mlflow-artifacts/artifacts/../../../",
        "mlflow-artifacts://host:9000/models/..%2f..%2fartifacts",
        "mlflow-artifacts://host:9000/models/artifact%00",
        "artifacts:/../../etc",
        "file:///path/to/model",
    ):
        _bad(
            _version(client, source=source, run_id=rid), "If supplying a source as an http, https,"
        )
    _bad(_version(client, source=f"dbfs:/{rid}/a/../../x"), "Invalid model version source")


def test_version_of_logged_model_gets_its_run_and_the_model_versions_tag(
    any_client: TestClient,
) -> None:
    client = any_client
    exp, rid = _run(client)
    assert client.post(f"{API}/registered-models/create", json={"name": "model"}).is_success
    created = client.post(
        f"{API}/logged-models", json={"experiment_id": exp, "source_run_id": rid}
    ).json()["model"]["info"]
    model_id = created["model_id"]
    for _ in range(2):
        response = _version(client, source=f"models:/{model_id}", model_id=model_id)
        assert response.status_code == 200, response.text
        assert response.json()["model_version"]["run_id"] == rid
    tags = client.get(f"{API}/logged-models/{model_id}").json()["model"]["info"]["tags"]
    assert {
        "key": "mlflow.modelVersions",
        "value": '[{"name": "model", "version": 1}, {"name": "model", "version": 2}]',
    } in tags


def test_logged_model_source_run_need_not_exist_and_search_by_dataset(
    any_client: TestClient,
) -> None:
    client = any_client
    exp, rid = _run(client)
    free = client.post(f"{API}/logged-models", json={"experiment_id": exp, "source_run_id": "123"})
    assert free.status_code == 200, free.text
    assert free.json()["model"]["info"]["source_run_id"] == "123"
    other = client.post(f"{API}/logged-models", json={"experiment_id": exp}).json()["model"]
    metric = {"run_id": rid, "key": "acc", "value": 1, "timestamp": 1, "step": 0}
    scored = {**metric, "dataset_name": "ds", "dataset_digest": "123"}
    scored["model_id"] = other["info"]["model_id"]
    assert client.post(f"{API}/runs/log-metric", json=scored).is_success

    def found(datasets: list[dict[str, str]]) -> list[str]:
        body = {"experiment_ids": [exp], "datasets": datasets}
        models = client.post(f"{API}/logged-models/search", json=body).json().get("models", [])
        return [m["info"]["model_id"] for m in models]

    assert found([{"dataset_name": "ds", "dataset_digest": "123"}]) == [other["info"]["model_id"]]
    assert found([{"dataset_name": "ds"}]) == [other["info"]["model_id"]]
    assert found([{"dataset_name": "ds", "dataset_digest": "999"}]) == []
    assert len(found([])) == 2
    _bad(
        client.post(
            f"{API}/logged-models/search",
            json={"experiment_ids": [exp], "datasets": [{"dataset_digest": "1"}]},
        ),
        "datasets[0].dataset_name",
    )


def test_log_inputs_stores_model_inputs(any_client: TestClient) -> None:
    client = any_client
    exp, rid = _run(client)
    model_id = client.post(f"{API}/logged-models", json={"experiment_id": exp}).json()["model"][
        "info"
    ]["model_id"]
    body = {"run_id": rid, "models": [{"model_id": model_id}, {"model_id": model_id}]}
    assert client.post(f"{API}/runs/log-inputs", json=body).status_code == 200
    inputs = client.get(f"{API}/runs/get", params={"run_id": rid}).json()["run"]["inputs"]
    assert inputs == {"model_inputs": [{"model_id": model_id}]}
    _bad(
        client.post(f"{API}/runs/log-inputs", json={"run_id": rid, "models": [{"model_id": ""}]}),
        "models[0].model_id",
    )


# ------------------------------------------------------------------ multipart part URLs
@pytest.mark.parametrize("public_url", ["", "https://cairn.example.com/tracking"])
def test_multipart_part_urls_are_escaped_and_public(tmp_path: Any, public_url: str) -> None:
    from cairn.server.app import create_app
    from cairn.server.settings import Settings

    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'api.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        public_url=public_url,
    )
    with TestClient(create_app(settings)) as client:
        _, rid = _run(client)
        run = client.get(f"{API}/runs/get", params={"run_id": rid}).json()["run"]["info"]
        folder = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
        created = client.post(
            f"/api/2.0/mlflow-artifacts/mpu/create/{folder}",
            json={"path": "a#b?c%2fd e.bin", "num_parts": 2},
        )
        assert created.status_code == 200, created.text
        urls = [c["url"] for c in created.json()["credentials"]]
    base = public_url or "http://testserver"
    assert urls[0].startswith(f"{base}/api/2.0/mlflow-artifacts/mpu/part/")
    assert urls[0].endswith(f"/1/{folder}/a%23b%3Fc%252fd%20e.bin")


def test_public_url_setting_is_checked() -> None:
    from cairn.entities.errors import CairnError
    from cairn.server.settings import Settings

    assert Settings.from_env({"CAIRN_PUBLIC_URL": "https://x.example/p/"}).public_url == (
        "https://x.example/p"
    )
    for bad in ("ftp://x", "x.example", "https://u:p@x.example", "https://x.example/?a=1"):
        with pytest.raises(CairnError, match="CAIRN_PUBLIC_URL"):
            Settings.from_env({"CAIRN_PUBLIC_URL": bad})
