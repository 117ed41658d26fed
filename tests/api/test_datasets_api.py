"""Cairn's datasets API: listing with statistics, and lineage down to model versions."""

from __future__ import annotations

import json

from sqlalchemy import Connection
from starlette.testclient import TestClient

from cairn.store.db import Database
from cairn.store.schema import model_aliases, model_versions, registered_models
from tests.api import root_app

API = "/api/2.0/mlflow"


def _run(client: TestClient, eid: str, name: str) -> str:
    body = {"experiment_id": eid, "run_name": name, "start_time": 5}
    run_id: str = client.post(f"{API}/runs/create", json=body).json()["run"]["info"]["run_id"]
    return run_id


def _log(client: TestClient, run_id: str, name: str, digest: str, context: str) -> None:
    profile = {"num_rows": 150, "labels": {"setosa": 50, "versicolor": 50, "virginica": 50}}
    dataset = {
        "name": name,
        "digest": digest,
        "source_type": "local",
        "source": json.dumps({"uri": f"/data/{name}.csv"}),
        "schema": json.dumps({"mlflow_colspec": [{"name": "x", "type": "double"}]}),
        "profile": json.dumps(profile),
    }
    body = {
        "run_id": run_id,
        "datasets": [
            {"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": context}]}
        ],
    }
    client.post(f"{API}/runs/log-inputs", json=body).raise_for_status()


def _register(db: Database, run_id: str) -> None:
    def write(conn: Connection) -> None:
        model = conn.execute(
            registered_models.insert()
            .values(name="iris", creation_time=1, last_updated_time=1, next_version=2)
            .returning(registered_models.c.id)
        ).scalar_one()
        conn.execute(
            model_versions.insert().values(
                model_id=model,
                version=1,
                creation_time=1,
                last_updated_time=1,
                current_stage="Production",
                source=f"runs:/{run_id}/model",
                run_id=run_id,
                status="READY",
            )
        )
        conn.execute(model_aliases.insert().values(model_id=model, alias="champion", version=1))

    db.write(write)


def test_datasets_listing_and_lineage(any_client: TestClient) -> None:
    client = any_client
    eid = client.post(f"{API}/experiments/create", json={"name": "ds"}).json()["experiment_id"]
    train, evaluate = _run(client, eid, "train"), _run(client, eid, "eval")
    _log(client, train, "iris", "d1", "training")
    _log(client, evaluate, "iris", "d1", "evaluation")
    _log(client, evaluate, "wine", "d2", "evaluation")
    _log(client, _run(client, "0", "other"), "iris", "d1", "training")

    listing = client.get("/api/v1/datasets", params={"experiment_id": eid}).json()
    by_name = {d["name"]: d for d in listing["datasets"]}
    assert set(by_name) == {"iris", "wine"}
    assert listing["next_page_token"] is None
    iris = by_name["iris"]
    assert iris["run_count"] == 2
    assert iris["num_rows"] == 150
    assert iris["profile"]["labels"]["setosa"] == 50
    assert iris["schema"] == {"mlflow_colspec": [{"name": "x", "type": "double"}]}
    assert iris["source"] == {"uri": "/data/iris.csv"}
    assert iris["experiment_id"] == eid
    everywhere = client.get("/api/v1/datasets", params={"name": "iris"}).json()["datasets"]
    assert len(everywhere) == 2

    first = client.get("/api/v1/datasets", params={"max_results": 2}).json()
    assert len(first["datasets"]) == 2
    assert first["next_page_token"]
    rest = client.get(
        "/api/v1/datasets", params={"max_results": 2, "page_token": first["next_page_token"]}
    ).json()
    assert len(rest["datasets"]) == 1
    assert rest["next_page_token"] is None

    db: Database = root_app(client.app).state.db
    _register(db, train)
    lineage = client.get(f"/api/v1/datasets/{iris['dataset_id']}").json()
    assert lineage["dataset"]["name"] == "iris"
    assert {(r["run_id"], r["run_name"], r["context"]) for r in lineage["runs"]} == {
        (train, "train", "training"),
        (evaluate, "eval", "evaluation"),
    }
    (version,) = lineage["model_versions"]
    assert version["name"] == "iris"
    assert version["version"] == "1"
    assert version["run_id"] == train
    assert version["aliases"] == ["champion"]
    assert version["current_stage"] == "Production"

    assert client.get("/api/v1/datasets/nope").status_code == 404
    assert client.get("/api/v1/datasets", params={"experiment_id": "x"}).status_code == 400
