"""Provider ``cairn`` against the demos' real registered models (the security prompt
classifier and the LIMS contamination detector, trained and registered the demos' way), on
SQLite and PostgreSQL, with the example datasets the provider ships."""

from __future__ import annotations

import json
import math
import shutil
from importlib import resources as package_files
from pathlib import Path
from typing import Any

import pytest

from cairn.entities.errors import CairnError
from cairn.evals import cairn_model
from cairn.evals.provider import BenchmarkContext, Cancelled, ModelSpec
from cairn.ml.models import load_model_dir
from tests.evals.conftest import Stack
from tests.evals.models import (
    LIMS,
    LIMS_REGRESSOR,
    SECURITY,
    register_lims,
    register_lims_regressor,
    register_security_classifier,
)

PROVIDER = cairn_model.PROVIDER


def shipped(name: str, stack: Stack) -> str:
    """Copy an example dataset the provider ships into the data root; its relative path."""
    source = package_files.files("cairn.evals") / "data" / name
    with package_files.as_file(source) as path:
        shutil.copy(path, stack.data_root / name)
    return name


def model(stack: Stack, name: str, uri_tail: str = "latest") -> ModelSpec:
    uri = f"models:/{name}/{uri_tail}"
    version = stack.services["registry"].resolve_uri(uri)
    return ModelSpec(uri, registered_name=name, registered_version=version.version)


def context(
    stack: Stack, tmp_path: Path, benchmark: str, config: dict[str, Any], spec: ModelSpec
) -> BenchmarkContext:
    lines: list[str] = []
    ctx = BenchmarkContext("ev-test", 0, benchmark, config, spec, tmp_path / "work",
                           stack.resources, log=lines.append)  # fmt: skip
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    return ctx


def test_classification_of_the_security_classifier(stack: Stack, tmp_path: Path) -> None:
    register_security_classifier(stack)
    spec = model(stack, SECURITY)
    config = {"dataset_path": shipped("security_prompts.csv", stack), "target": "label"}
    PROVIDER.validate("classification", config, spec)
    result = PROVIDER.run(context(stack, tmp_path, "classification", config, spec))
    assert result.primary_metric == "f1"
    metrics = result.metrics
    for key in ("accuracy", "precision", "recall", "f1", "f1_benign", "recall_jailbreak",
                "precision_code_injection", "support_system_extraction"):  # fmt: skip
        assert key in metrics, key
    assert 0.5 < metrics["accuracy"] <= 1.0
    assert sum(metrics[k] for k in metrics if k.startswith("support_")) == 100
    # the numbers are scikit-learn's on the model's own predictions
    from sklearn.metrics import f1_score

    frame = __import__("pandas").read_csv(stack.data_root / "security_prompts.csv")
    loaded = load_model_dir(stack.resources.model_dir(spec, tmp_path / "again"))
    expected = f1_score(frame["label"], loaded.predict(frame[["text"]]), average="macro")
    assert math.isclose(metrics["f1"], expected)
    matrix = json.loads(result.artifacts["confusion_matrix.json"].read_text())
    assert sorted(matrix["labels"]) == sorted(
        ["benign", "code_injection", "jailbreak", "prompt_injection", "system_extraction"]
    )
    assert sum(map(sum, matrix["matrix"])) == 100
    assert result.artifacts["confusion_matrix.png"].read_bytes()[:4] == b"\x89PNG"
    predictions = result.artifacts["predictions.csv"].read_text().splitlines()
    assert predictions[0] == "text,label,prediction"
    assert len(predictions) == 101
    assert result.params["rows"] == "100"


def test_lims_classification_binary_and_regression(stack: Stack, tmp_path: Path) -> None:
    register_lims(stack)
    register_lims_regressor(stack)
    data = shipped("lims_samples.csv", stack)
    spec = model(stack, LIMS, "Production")
    config = {"dataset_path": data, "target": "is_contaminated", "positive_label": 1,
              "max_rows": 150}  # fmt: skip
    result = PROVIDER.run(context(stack, tmp_path / "c", "classification", config, spec))
    assert result.params["average"] == "binary"
    assert result.params["rows"] == "150"
    assert {"f1_0", "f1_1", "support_1"} <= set(result.metrics)
    assert result.metrics["f1"] == pytest.approx(result.metrics["f1_1"])
    reg_spec = model(stack, LIMS_REGRESSOR, "1")
    config = {"dataset_path": data, "target": "processing_time"}
    info = next(b for b in PROVIDER.benchmarks() if b.id == "regression")
    assert info.lower_is_better
    result = PROVIDER.run(context(stack, tmp_path / "r", "regression", config, reg_spec))
    assert result.primary_metric == "rmse"
    m = result.metrics
    assert m["rmse"] == pytest.approx(math.sqrt(m["mse"]))
    assert 0 < m["mae"] < 3
    assert m["r2"] > 0
    assert "predictions.csv" in result.artifacts


def test_a_logged_dataset_by_name(stack: Stack, tmp_path: Path) -> None:
    register_lims(stack)
    path = stack.data_root / shipped("lims_samples.csv", stack)
    from cairn.entities.tracking import Dataset

    run = stack.services["tracking"].create_run("0")
    source = json.dumps({"uri": f"file://{path.resolve()}"})
    stack.services["tracking"].log_inputs(
        run.info.run_id, [(Dataset("lims-holdout", "f00d", "local", source), {})]
    )
    config = {"dataset": "lims-holdout", "target": "is_contaminated"}
    result = PROVIDER.run(context(stack, tmp_path, "classification", config, model(stack, LIMS)))
    assert result.params["rows"] == "200"


@pytest.mark.parametrize(
    ("benchmark", "config", "field"),
    [
        ("nope", {"dataset_path": "a.csv", "target": "y"}, "benchmark_id"),
        ("classification", {"dataset_path": "a.csv"}, "config.target"),
        ("classification", {"target": "y"}, "config.dataset_path"),
        ("classification", {"dataset_path": "a.csv", "dataset": "d", "target": "y"},
         "config.dataset_path"),
        ("classification", {"dataset_path": "a.csv", "target": "y", "average": "mean"},
         "config.average"),
        ("classification", {"dataset_path": "a.csv", "target": "y", "colour": 1},
         "config.colour"),
        ("classification", {"dataset_path": 7, "target": "y"}, "config.dataset_path"),
        ("regression", {"dataset_path": "a.csv", "target": "y", "max_rows": 0}, "config.max_rows"),
        ("regression", {"dataset_path": "a.csv", "target": "y", "max_rows": "5"},
         "config.max_rows"),
        ("classification", {"dataset_path": "a.csv", "target": "y", "positive_label": [1]},
         "config.positive_label"),
        ("regression", {"dataset_path": "a.csv", "target": "y", "positive_label": 1},
         "config.positive_label"),
    ],
)  # fmt: skip
def test_validate_names_the_field(benchmark: str, config: dict[str, Any], field: str) -> None:
    with pytest.raises(CairnError) as exc:
        PROVIDER.validate(benchmark, config, ModelSpec("models:/m/1"))
    assert exc.value.message.startswith(field), exc.value.message


def test_validate_refuses_a_model_that_is_not_registered() -> None:
    with pytest.raises(CairnError) as exc:
        PROVIDER.validate(
            "regression", {"dataset_path": "a.csv", "target": "y"}, ModelSpec("gpt-4o")
        )
    assert exc.value.message.startswith("model.name")


def test_run_errors_name_the_field(stack: Stack, tmp_path: Path) -> None:
    register_lims(stack)
    data = shipped("lims_samples.csv", stack)
    spec = model(stack, LIMS)
    cases = [
        ({"dataset_path": data, "target": "colour"}, "config.target"),
        ({"dataset_path": "../outside.csv", "target": "y"}, "dataset_path"),
        ({"dataset_path": "%2e%2e/outside.csv", "target": "y"}, "dataset_path"),
        ({"dataset_path": "/etc/passwd", "target": "y"}, "dataset_path"),
        ({"dataset_path": data, "target": "is_contaminated", "positive_label": "maybe"},
         "config.positive_label"),
    ]  # fmt: skip
    (stack.data_root / "notes.txt").write_text("hello")
    cases.append(({"dataset_path": "notes.txt", "target": "y"}, "config.dataset_path"))
    for i, (config, field) in enumerate(cases):
        with pytest.raises(CairnError) as exc:
            PROVIDER.run(context(stack, tmp_path / str(i), "classification", config, spec))
        assert exc.value.message.startswith(field), (config, exc.value.message)


def test_cancelled_before_scoring(stack: Stack, tmp_path: Path) -> None:
    register_lims(stack)
    config = {"dataset_path": shipped("lims_samples.csv", stack), "target": "is_contaminated"}
    ctx = context(stack, tmp_path, "classification", config, model(stack, LIMS))
    ctx.cancel_event.set()
    with pytest.raises(Cancelled):
        PROVIDER.run(ctx)


def test_jsonl_and_parquet_rows_score_like_csv(stack: Stack, tmp_path: Path) -> None:
    import pandas as pd

    register_lims(stack)
    frame = pd.read_csv(stack.data_root / shipped("lims_samples.csv", stack))
    frame.to_json(stack.data_root / "lims.jsonl", orient="records", lines=True)
    frame.to_parquet(stack.data_root / "lims.parquet")
    spec = model(stack, LIMS)
    scores = []
    for i, name in enumerate(("lims_samples.csv", "lims.jsonl", "lims.parquet")):
        config = {"dataset_path": name, "target": "is_contaminated", "max_rows": 120}
        result = PROVIDER.run(context(stack, tmp_path / str(i), "classification", config, spec))
        assert result.params["rows"] == "120"
        scores.append(result.metrics["f1"])
    assert scores[0] == scores[1] == scores[2]
