"""The evaluation hub's pure rules: the job state from its benchmarks, pass/fail, the weighted
overall score, metric key naming, the experiment prefix, both request shapes, and the result
files the import-only providers read."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cairn.entities.errors import CairnError
from cairn.entities.evaluations import (
    BenchmarkState,
    JobState,
    Shape,
    final_state,
    passes,
    weighted_mean,
)
from cairn.evals.external import EXTERNAL, RAGAS, read_csv, read_json
from cairn.services.eval_requests import from_evalhub, from_seed
from cairn.services.evaluations import experiment_prefix, metric_key

C, F, X = BenchmarkState.COMPLETED, BenchmarkState.FAILED, BenchmarkState.CANCELLED


def test_the_job_state_from_its_benchmarks() -> None:
    assert final_state([C, C], cancelled=False) is JobState.COMPLETED
    assert final_state([F, F], cancelled=False) is JobState.FAILED
    assert final_state([C, F], cancelled=False) is JobState.PARTIALLY_FAILED
    assert final_state([C, X], cancelled=False) is JobState.CANCELLED
    assert final_state([C, C], cancelled=True) is JobState.CANCELLED


def test_pass_fail_and_the_weighted_score() -> None:
    assert passes(0.8, 0.7, lower_is_better=False) is True
    assert passes(0.8, 0.7, lower_is_better=True) is False
    assert passes(0.7, 0.7, lower_is_better=True) is True
    assert passes(None, 0.7, lower_is_better=False) is False
    assert passes(math.nan, 0.7, lower_is_better=False) is False
    assert passes(0.8, None, lower_is_better=False) is None
    assert weighted_mean([(0.5, 3.0), (1.0, 1.0)]) == pytest.approx(0.625)
    assert weighted_mean([(math.nan, 1.0), (0.4, 1.0)]) == pytest.approx(0.4)
    assert weighted_mean([]) is None


def test_metric_keys_as_logged() -> None:
    assert metric_key("acc,none") == "acc"
    assert metric_key("acc_stderr,none") == "acc_stderr"
    assert metric_key("exact_match,strict-match") == "exact_match_strict-match"
    assert metric_key("f1") == "f1"
    assert metric_key("weird{key}!") == "weird_key__"
    assert metric_key("") == "_"


def test_the_experiment_prefix() -> None:
    assert experiment_prefix({}) == "eval-hub"
    assert experiment_prefix({"MLFLOW_EXPERIMENT_PREFIX": "production-eval"}) == ("production-eval")
    both = {"MLFLOW_EXPERIMENT_PREFIX": "m", "CAIRN_EVAL_EXPERIMENT_PREFIX": "c"}
    assert experiment_prefix(both) == "c"


def test_both_request_shapes_normalise_alike() -> None:
    seed = from_seed(
        {
            "model": {"server": "http://127.0.0.1:8000/v1", "name": "m",
                      "configuration": {"temperature": 0.1}},
            "benchmarks": [{"benchmark_id": "b", "provider_id": "external",
                            "config": {"n": 1}, "weight": 2}],
            "experiment": {"name": "e", "tags": {"k": "v", "n": 3, "flag": True}},
        }
    )  # fmt: skip
    hub = from_evalhub(
        {
            "model": {"name": "m", "url": "http://127.0.0.1:8000/v1",
                      "parameters": {"temperature": 0.1}},
            "benchmarks": [{"id": "b", "provider_id": "external", "parameters": {"n": 1},
                            "weight": 2}],
            "experiment": {"name": "e", "tags": [{"key": "k", "value": "v"},
                                                 {"key": "n", "value": "3"},
                                                 {"key": "flag", "value": "true"}]},
        }
    )  # fmt: skip
    assert seed.shape is Shape.SEED
    assert hub.shape is Shape.EVALHUB
    assert seed.model.url == hub.model.url == "http://127.0.0.1:8000/v1"
    assert seed.model.server is None  # a URL given as the server is the model's url
    assert seed.benchmarks == hub.benchmarks
    assert seed.tags == hub.tags == {"k": "v", "n": "3", "flag": "true"}


def test_result_files_of_the_import_only_providers(tmp_path: Path) -> None:
    flat = tmp_path / "flat.json"
    flat.write_text('{"faithfulness": 0.9, "note": "text", "nested": {"a": 1}}')
    assert read_json(flat) == {"faithfulness": 0.9, "nested.a": 1.0}
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text('{"metrics": {"f1": 0.5}, "config": {"x": 1}}')
    assert read_json(wrapped) == {"f1": 0.5}
    lm = tmp_path / "lm.json"
    lm.write_text('{"results": {"arc_easy": {"acc,none": 0.7, "alias": "arc_easy"}}}')
    assert read_json(lm) == {"acc,none": 0.7}
    group = tmp_path / "group.json"
    group.write_text('{"results": {"a": {"acc,none": 0.1}, "b": {"acc,none": 0.2}}}')
    assert read_json(group) == {"a/acc,none": 0.1, "b/acc,none": 0.2}
    assert metric_key("a/acc,none") == "a/acc"
    rows = tmp_path / "rows.csv"
    rows.write_text("metric,value\nfaithfulness,0.8\nbad,x\n")
    assert read_csv(rows) == {"faithfulness": 0.8}
    wide = tmp_path / "wide.csv"
    wide.write_text("faithfulness,answer_relevancy\n0.8,0.6\n")
    assert read_csv(wide) == {"faithfulness": 0.8, "answer_relevancy": 0.6}
    result = RAGAS.report(wide)
    assert result.metrics == {"faithfulness": 0.8, "answer_relevancy": 0.6}
    assert result.artifacts == {"wide.csv": wide}
    other = tmp_path / "x.bin"
    other.write_bytes(b"\x00")
    with pytest.raises(CairnError, match="result_file"):
        EXTERNAL.report(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(CairnError, match="result_file"):
        EXTERNAL.report(broken)
