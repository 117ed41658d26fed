"""`cairn demo` into a fresh folder, twice; then `cairn server` on that folder shows it all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.server import CairnServer, start_server
from tests.databases import fresh_postgres_database
from tests.examples.conftest import Api, run_script, script_env


def test_demo_fills_the_embedded_store_and_can_run_again(tmp_path: Path) -> None:
    env = script_env()
    first = run_script(["-m", "cairn", "demo"], tmp_path, env)
    assert "Done. 17 runs in 4 experiments" in first, first
    # as the datasets page counts them: distinct datasets, and how often runs logged them
    assert "7 datasets (used 9 times)" in first, first
    # a second demo adds runs and versions next to the first ones (short curves this time)
    second = run_script(["-m", "cairn", "demo", "--curve-steps", "50"], tmp_path, env)
    assert "Done." in second, second
    store = tmp_path / "cairn-data"
    servers = start_server(
        "sqlite", f"sqlite:///{store / 'cairn.db'}", tmp_path / "server",
        extra_args=["--artifacts-destination", str(store / "artifacts")],
    )  # fmt: skip
    server = next(servers)
    api = Api(server.url)
    try:
        experiments = api.post("/api/2.0/mlflow/experiments/search", {"max_results": 100})
        names = {e["name"] for e in experiments["experiments"]}  # type: ignore[attr-defined]
        assert {
            "lims-contamination", "ml-security-training", "lims-sweep", "training-curves"
        } <= names  # fmt: skip
        assert len(api.runs("lims-contamination")) == 4
        assert len(api.runs("ml-security-training")) == 4
        assert len(api.runs("lims-sweep")) == 20
        curves = api.runs("training-curves")
        assert len(curves) == 6
        long_runs = [
            r for r in curves
            if {p["key"]: p["value"] for p in r["data"]["params"]}["steps"] == "20000"  # type: ignore[index]
        ]  # fmt: skip
        assert len(long_runs) == 3
        history = api.get(
            "/api/2.0/mlflow/metrics/get-history",
            run_id=long_runs[0]["info"]["run_id"],  # type: ignore[index]
            metric_key="train_loss",
            max_results=25000,
        )
        steps = [m["step"] for m in history["metrics"]]  # type: ignore[attr-defined]
        assert steps == list(range(20_000))

        lims = {
            v["version"]: v["current_stage"] for v in api.versions("lims_contamination_detector")
        }
        assert lims == {"1": "Archived", "2": "Archived", "3": "Archived", "4": "Production"}
        prompts = api.versions("security_prompt_classifier")
        assert len(prompts) == 4
        assert [v for v in prompts if v["current_stage"] == "Production"]
        assert len(api.versions("lims_sweep_best")) == 2

        datasets = api.get("/api/v1/datasets", max_results=1000)["datasets"]
        by_name = {d["name"]: d for d in datasets}  # type: ignore[attr-defined]
        assert len(by_name) == 7  # both demos logged the same data: still 7 datasets
        assert {
            "lims-samples-train", "lims-samples-test", "lims-sweep-train",
            "tfidf-word-logreg_training_data", "tfidf-char-logreg_validation_data",
        } <= set(by_name)  # fmt: skip
        # the same data logged by both demos is one dataset used by several runs
        assert by_name["lims-samples-train"]["run_count"] == 4
        detail = api.get(f"/api/v1/datasets/{by_name['lims-samples-train']['dataset_id']}")
        assert len(detail["runs"]) == 4  # type: ignore[arg-type]
        assert detail["model_versions"]  # lineage: the versions registered from those runs
    finally:
        api.close()
        servers.close()


@pytest.fixture
def postgres_server(tmp_path: Path) -> Iterator[CairnServer]:
    """A server of its own (the examples' shared one would see the demo's runs)."""
    with fresh_postgres_database() as uri:
        yield from start_server("postgres", uri, tmp_path / "server")


@pytest.mark.postgres
def test_demo_into_a_server_on_postgres(postgres_server: CairnServer, tmp_path: Path) -> None:
    """--tracking-uri sends everything to the server; nothing lands in ./cairn-data."""
    out = run_script(
        ["-m", "cairn", "demo", "--tracking-uri", postgres_server.url, "--curve-steps", "500"],
        tmp_path,
        script_env(),
    )
    assert f"Cairn demo → {postgres_server.url}" in out, out
    assert "Done. 17 runs in 4 experiments" in out, out
    assert not (tmp_path / "cairn-data").exists()
    api = Api(postgres_server.url)
    try:
        curves = api.runs("training-curves")
        assert len(curves) == 3
        history = api.get(
            "/api/2.0/mlflow/metrics/get-history",
            run_id=curves[0]["info"]["run_id"],  # type: ignore[index]
            metric_key="learning_rate",
        )
        assert len(history["metrics"]) == 500  # type: ignore[arg-type]
        stages = {v["current_stage"] for v in api.versions("lims_contamination_detector")}
        assert "Production" in stages
        assert api.datasets("ml-security-training")
    finally:
        api.close()
