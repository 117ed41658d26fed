"""Every example, run as a script: on the embedded default, and against `cairn server` on
PostgreSQL (the stock-mlflow example with the real mlflow 3.17.2 client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.compat.server import CairnServer, start_server
from tests.examples.conftest import EXAMPLES, MLFLOW3, Api, run_script, script_env

CAIRN_EXAMPLES = ["lims_classifier", "security_prompts", "sweep"]


def run_cairn_examples(cwd: Path, env: dict[str, str]) -> dict[str, str]:
    return {
        name: run_script([str(EXAMPLES / name / "train.py")], cwd, env) for name in CAIRN_EXAMPLES
    }


def check_outputs(outputs: dict[str, str]) -> None:
    lims = outputs["lims_classifier"]
    assert "TEST003  contaminated=1" in lims, lims
    assert "TEST001  contaminated=0" in lims, lims
    assert "HIGH RISK" in lims
    assert "models:/security_prompt_classifier@best says:" in outputs["security_prompts"]
    assert "prompt_injection   Ignore previous instructions" in outputs["security_prompts"]
    assert "registered as lims_sweep_best version 1" in outputs["sweep"], outputs["sweep"]


def check_store(api: Api) -> None:
    """What the three Cairn examples must have left in the store, read over the API."""
    # LIMS: one finished run with params, metrics, tags, artifacts, datasets and a model
    (lims,) = api.runs("lims-contamination")
    assert lims["info"]["status"] == "FINISHED"  # type: ignore[index]
    data = lims["data"]
    params = {p["key"]: p["value"] for p in data["params"]}  # type: ignore[index]
    assert params["n_estimators"] == "100"
    assert params["class_weight"] == "balanced"
    metrics = {m["key"]: m["value"] for m in data["metrics"]}  # type: ignore[index]
    assert metrics["test_f1"] > 0.8
    assert {"test_accuracy", "test_precision", "test_recall", "f1_by_trees"} <= set(metrics)
    tags = {t["key"]: t["value"] for t in data["tags"]}  # type: ignore[index]
    assert tags["Project"] == "Lab_Modernization"
    assert tags["Approval_Status"] == "Pending_Review"
    run_id = lims["info"]["run_id"]  # type: ignore[index]
    files = api.get("/api/2.0/mlflow/artifacts/list", run_id=run_id)["files"]
    names = {f["path"] for f in files}  # type: ignore[attr-defined]
    assert {
        "feature_importance.png", "feature_importance.csv", "confusion_matrix.png",
        "confusion_matrix.csv", "classification_report.txt", "lims_qc_model",
    } <= names  # fmt: skip
    history = api.get(
        "/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key="f1_by_trees"
    )
    assert [m["step"] for m in history["metrics"]] == list(range(10, 101, 10))  # type: ignore[attr-defined]
    (version,) = api.versions("lims_contamination_detector")
    assert version["current_stage"] == "Production"
    assert version["run_id"] == run_id
    datasets = {d["name"]: d for d in api.datasets("lims-contamination")}
    train = datasets["lims-samples-train"]
    assert train["profile"]["num_rows"] == 800  # type: ignore[index]
    assert train["profile"]["targets"] == "is_contaminated"  # type: ignore[index]
    assert set(train["profile"]["label_distribution"]) == {"0", "1"}  # type: ignore[index]
    assert "ph_level" in train["profile"]["numeric"]  # type: ignore[index]
    assert datasets["lims-samples-test"]["profile"]["num_rows"] == 200  # type: ignore[index]

    # security prompts: two runs, text datasets with five classes, versions and the best alias
    prompt_runs = api.runs("ml-security-training")
    assert len(prompt_runs) == 2
    versions = api.versions("security_prompt_classifier")
    assert sorted(int(v["version"]) for v in versions) == [1, 2]  # type: ignore[call-overload]
    model = api.get("/api/2.0/mlflow/registered-models/get", name="security_prompt_classifier")
    aliases = {a["alias"]: a["version"] for a in model["registered_model"].get("aliases", [])}  # type: ignore[attr-defined]
    assert set(aliases) == {"best"}
    assert {v["version"]: v["current_stage"] for v in versions}[aliases["best"]] == "Production"
    prompt_sets = api.datasets("ml-security-training")
    assert len(prompt_sets) == 4
    for dataset in prompt_sets:
        profile = dataset["profile"]
        assert len(profile["label_distribution"]) == 5, profile  # type: ignore[index]
        assert profile["text_length"]["text"]["mean"] > 10  # type: ignore[index]

    # sweep: a parent with nine children, the best tagged and registered
    sweep = api.runs("lims-sweep")
    parents = [r for r in sweep if "mlflow.parentRunId" not in _tags(r)]
    assert len(parents) == 1
    parent_id = parents[0]["info"]["run_id"]  # type: ignore[index]
    children = api.runs("lims-sweep", f"tags.mlflow.parentRunId = '{parent_id}'")
    assert len(children) == 9
    best = [c for c in children if _tags(c).get("best_run") == "true"]
    assert len(best) == 1
    best_f1 = max(_metrics(c)["f1"] for c in children)
    assert _metrics(best[0])["f1"] == best_f1
    assert _tags(parents[0])["best_run_id"] == best[0]["info"]["run_id"]  # type: ignore[index]
    (registered,) = api.versions("lims_sweep_best")
    assert registered["run_id"] == best[0]["info"]["run_id"]  # type: ignore[index]


def _tags(run: dict[str, object]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}  # type: ignore[attr-defined]


def _metrics(run: dict[str, object]) -> dict[str, float]:
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}  # type: ignore[attr-defined]


def test_examples_on_the_embedded_default(tmp_path: Path) -> None:
    """No tracking URI: the examples write ./cairn-data, which `cairn server` then serves."""
    outputs = run_cairn_examples(tmp_path, script_env())
    check_outputs(outputs)
    for output in outputs.values():
        assert f"Tracking URI: {tmp_path / 'cairn-data'}" in output
    store = tmp_path / "cairn-data"
    assert (store / "cairn.db").is_file()
    servers = start_server(
        "sqlite", f"sqlite:///{store / 'cairn.db'}", tmp_path / "server",
        extra_args=["--artifacts-destination", str(store / "artifacts")],
    )  # fmt: skip
    server = next(servers)
    api = Api(server.url)
    try:
        check_store(api)
        lims = api.runs("lims-contamination")[0]
        report = api.http.get(
            "/api/2.0/mlflow-artifacts/artifacts/"
            f"{lims['info']['artifact_uri'].split('mlflow-artifacts:/', 1)[1]}"  # type: ignore[index]
            "/classification_report.txt"
        )
        assert report.status_code == 200, report.text
        assert "contaminated" in report.text
    finally:
        api.close()
        servers.close()


@pytest.mark.postgres
def test_examples_against_a_server_on_postgres(
    postgres_server: CairnServer, tmp_path: Path
) -> None:
    outputs = run_cairn_examples(tmp_path, script_env(CAIRN_TRACKING_URI=postgres_server.url))
    check_outputs(outputs)
    assert not (tmp_path / "cairn-data").exists()  # everything went to the server
    stock = run_script(
        [str(EXAMPLES / "stock_mlflow_lims" / "train.py")],
        tmp_path,
        script_env(MLFLOW_TRACKING_URI=postgres_server.url),
        python=MLFLOW3,
    )
    assert "lims_contamination_detector_stock version 1 in Production" in stock, stock
    assert "TEST003: CONTAMINATED" in stock
    assert "TEST001: clean" in stock
    api = Api(postgres_server.url)
    try:
        check_store(api)
        (run,) = api.runs("lims-contamination-stock-client")
        tags = _tags(run)
        assert tags["Use_Case"] == "Contamination_Detection"
        (version,) = api.versions("lims_contamination_detector_stock")
        assert version["current_stage"] == "Production"
        (dataset,) = api.datasets("lims-contamination-stock-client")
        assert dataset["name"] == "lims-samples"
        # a model the stock client logged loads with Cairn's SDK, and predicts
        loaded = run_script(
            ["-c", (
                "import cairn, json, pandas as pd;"
                "m = cairn.load_model('models:/lims_contamination_detector_stock/Production');"
                "x = pd.DataFrame({'ph_level': [6.3, 7.2], 'temperature': [15.0, 4.0],"
                " 'turbidity': [8.5, 1.2], 'processing_time': [6.0, 2.5]});"
                "print(json.dumps(m.predict(x).tolist()))"
            )],
            tmp_path,
            script_env(CAIRN_TRACKING_URI=postgres_server.url),
        )  # fmt: skip
        assert json.loads(loaded.strip().splitlines()[-1]) == [1, 0]
    finally:
        api.close()
