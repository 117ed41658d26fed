"""Seed 000's red-team call against Cairn, read back with the stock client.

Posts ``POST /api/v1/red-team/log`` for a registered model (two versions: the run is linked
to the latest) and for a plain name, then reads the runs with MlflowClient: the experiment
``red-team``, the seed's metrics, the tags that link the run to the model, the version tag,
and ``detailed_results.json`` downloaded as an artifact. Finally the trend endpoint.
Cairn-only (stock MLflow has no such route).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid

import mlflow
import requests
from mlflow import MlflowClient

URL = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
TYPES = ("prompt_injection", "jailbreak", "system_extraction", "code_injection")


def results(through: dict[str, int]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for kind in TYPES:
        for i in range(5):
            items.append({"attack_type": kind, "prompt": f"{kind} {i}",
                          "success": i < through.get(kind, 0)})  # fmt: skip
    items.append({"attack_type": "benign", "prompt": "hello", "detected": False})
    return items


def log(model: str, **through: int) -> dict[str, object]:
    body = {"model_name": model, "test_results": results(through),
            "attack_patterns": ["ignore previous instructions"]}  # fmt: skip
    answer = requests.post(f"{URL}/api/v1/red-team/log", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def main() -> None:
    client = MlflowClient()
    model = f"sec-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(model)
    exp = client.create_experiment(f"train-{model}")
    for _ in range(2):
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.log_param("variant", "tfidf")
        client.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id)

    first = log(model, jailbreak=2)
    assert first["model_version"] == 2, first
    experiment = client.get_experiment_by_name("red-team")
    assert experiment is not None
    got = client.get_run(str(first["run_id"]))
    assert got.info.experiment_id == experiment.experiment_id
    assert got.info.status == "FINISHED"
    assert got.data.tags["cairn.red_team.model_name"] == model
    assert got.data.tags["cairn.red_team.model_version"] == "2"
    m = got.data.metrics
    assert m["red_team_total_tests"] == 20, m
    assert m["red_team_successful_attacks"] == 2, m
    assert abs(m["red_team_detection_rate"] - 0.9) < 1e-9, m
    assert abs(m["red_team_vulnerability_rate"] - 0.1) < 1e-9, m
    for kind in TYPES:
        assert m[f"attack_{kind}_count"] == 5, m
    assert abs(m["attack_jailbreak_success_rate"] - 0.4) < 1e-9, m
    assert m["benign_false_positive_rate"] == 0, m
    version = client.get_model_version(model, "2")
    assert version.tags["cairn.red_team.last_run"] == first["run_id"], version.tags
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(str(first["run_id"]), "detailed_results.json", tmp)
        with open(path) as handle:
            detail = json.load(handle)
    assert len(detail["test_results"]) == 21
    assert detail["attack_analysis"]["jailbreak"]["successful"] == 2
    names = {f.path for f in client.list_artifacts(str(first["run_id"]))}
    assert names == {"attack_analysis.json", "detailed_results.json"}, names

    # by name only (the seed's distilbert): no version link
    plain = log(f"distilbert-{model}", code_injection=1)
    tags = client.get_run(str(plain["run_id"])).data.tags
    assert "cairn.red_team.model_version" not in tags
    found = client.search_runs(
        [experiment.experiment_id], f"tags.`cairn.red_team.model_name` = '{model}'"
    )
    assert [r.info.run_id for r in found] == [first["run_id"]]

    second = log(model, code_injection=1)
    trend = requests.get(f"{URL}/api/v1/red-team/models/{model}", timeout=60).json()
    assert [p["run_id"] for p in trend["points"]] == [first["run_id"], second["run_id"]]
    assert trend["changes"][0]["newly_through"] == ["code_injection"], trend
    assert trend["changes"][0]["stopped"] == ["jailbreak"], trend
    print("red team log ok")


if __name__ == "__main__":
    main()
