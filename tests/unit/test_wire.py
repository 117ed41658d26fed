"""cairn.wire: MLflow's JSON conventions, shared by the server, the SDK and cairn sync."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn import wire


@pytest.mark.parametrize(
    ("value", "text"), [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")]
)
def test_non_finite_numbers_are_strings_both_ways(value: float, text: str) -> None:
    assert wire.number(value) == text
    assert wire.metric_value(value) == text
    parsed = wire.parse_number(text)
    assert math.isnan(parsed) if math.isnan(value) else parsed == value


def test_finite_numbers_stay_numbers() -> None:
    assert wire.number(1.5) == 1.5
    assert wire.parse_number(2) == 2.0
    assert wire.parse_number("bogus") != wire.parse_number("bogus")  # NaN
    assert math.isnan(wire.parse_number(None))


def test_a_stored_nan_flag_wins_over_the_value() -> None:
    assert wire.metric_value(0.0, is_nan=True) == "NaN"
    assert wire.metric("loss", 0.0, 10, 3, True) == {
        "key": "loss",
        "value": "NaN",
        "timestamp": 10,
        "step": 3,
    }
    assert wire.metric("loss", 0.25, 10, 3)["value"] == 0.25


def test_key_value_lists() -> None:
    items = wire.kv({"a": "1", "b": ""})
    assert items == [{"key": "a", "value": "1"}, {"key": "b", "value": ""}]
    assert wire.kv_dict(items) == {"a": "1", "b": ""}
    assert wire.kv_dict([{"key": "c"}]) == {"c": ""}
    assert wire.kv_dict(None) == {}


def test_run_ids_from_either_field() -> None:
    assert wire.run_id({"run_id": "a", "run_uuid": "b"}) == "a"
    assert wire.run_id({"run_uuid": "b"}) == "b"
    assert wire.run_id({}) is None


@dataclass(frozen=True)
class _Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


def test_dataset_inputs_leave_out_what_is_unset() -> None:
    d = _Dataset("iris", "abc", "local", "/data/iris.csv", profile='{"rows": 3}')
    assert wire.dataset_input(d, {}) == {
        "dataset": {
            "name": "iris",
            "digest": "abc",
            "source_type": "local",
            "source": "/data/iris.csv",
            "profile": '{"rows": 3}',
        }
    }
    tagged = wire.dataset_input(d, {"mlflow.data.context": "train"})
    assert list(tagged) == ["tags", "dataset"]
    assert tagged["tags"] == [{"key": "mlflow.data.context", "value": "train"}]
    assert wire.dataset_values(d) == ["iris", "abc", "local", "/data/iris.csv", None, '{"rows": 3}']


def test_the_codec_is_a_leaf() -> None:
    """The SDK imports it: it must import nothing of Cairn's and no web framework."""
    tree = ast.parse(Path(wire.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "math", "collections.abc", "typing"}, imported
