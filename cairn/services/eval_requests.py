"""Evaluation requests in both shapes, checked and brought into one normalised form.

``POST /api/v1/evaluations`` takes the seed's shape (``model{server, name, configuration}``,
``benchmarks[{benchmark_id, provider_id, config}]`` or ``collection``, ``experiment{name,
tags{}}``); ``POST /api/v1/evaluations/jobs`` takes eval-hub's (``model{name, url,
parameters}``, ``benchmarks[{id, provider_id, parameters, weight, primary_score{metric,
lower_is_better}, pass_criteria{threshold}}]``, ``experiment{name, tags[{key, value}]}``).
Both become an :class:`EvalRequest`. Every refusal is a 400 naming the field. Checks that need
the providers, the registry or the database are the service's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cairn.entities.errors import CairnError
from cairn.entities.evaluations import Shape
from cairn.evals.provider import ModelSpec
from cairn.services import validation as v

MAX_BENCHMARKS = 100
MAX_CONFIG_BYTES = 64 * 1024
MAX_TAGS = 100
MAX_TAG_VALUE = 5000
MAX_MODEL_NAME = 512
MAX_EXPERIMENT_NAME = 200
MAX_ID = 256
MAX_URL = 2048
EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
COLLECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


@dataclass
class BenchSpec:
    benchmark_id: str
    provider_id: str
    config: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    primary_metric: str | None = None
    lower_is_better: bool | None = None
    threshold: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "benchmark_id": self.benchmark_id,
            "provider_id": self.provider_id,
            "config": self.config,
            "weight": self.weight,
        }
        if self.primary_metric is not None or self.lower_is_better is not None:
            out["primary_score"] = {
                "metric": self.primary_metric,
                "lower_is_better": self.lower_is_better,
            }
        if self.threshold is not None:
            out["pass_criteria"] = {"threshold": self.threshold}
        return out


@dataclass
class EvalRequest:
    shape: Shape
    model: ModelSpec
    model_server: str | None
    benchmarks: list[BenchSpec]
    collection: str | None
    experiment_name: str | None
    """As the request gives it (without the prefix), or None."""
    tags: dict[str, str]
    threshold: float | None = None
    """Job-level ``pass_criteria.threshold`` on the overall score."""

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": self.shape.value,
            "model": {
                "name": self.model.name,
                "server": self.model_server,
                "url": self.model.url,
                "configuration": dict(self.model.configuration),
            },
            "benchmarks": [b.to_json() for b in self.benchmarks],
            "collection": self.collection,
            "experiment": {"name": self.experiment_name, "tags": self.tags},
            **({"pass_criteria": {"threshold": self.threshold}} if self.threshold else {}),
        }


def _object(value: Any, name: str, *, required: bool = False) -> dict[str, Any]:
    if value is None:
        if required:
            raise CairnError.invalid(f"Missing value for required field '{name}'")
        return {}
    if not isinstance(value, Mapping):
        raise CairnError.invalid(f"Invalid value for field '{name}': expected an object")
    return dict(value)


def _text(value: Any, name: str, *, required: bool = False, limit: int = MAX_ID) -> str | None:
    if value is None or value == "":
        if required:
            raise CairnError.invalid(f"Missing value for required field '{name}'")
        return None
    if not isinstance(value, str):
        raise CairnError.invalid(f"Invalid value for field '{name}': expected a string")
    if len(value) > limit:
        raise CairnError.invalid(f"Field '{name}' is longer than {limit} characters")
    if any(ord(ch) < 32 for ch in value):
        raise CairnError.invalid(f"Invalid value for field '{name}': control characters")
    return value


def _float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CairnError.invalid(f"Invalid value for field '{name}': expected a number")
    number = float(value)
    if not math.isfinite(number):
        raise CairnError.invalid(f"Invalid value for field '{name}': must be finite")
    return number


def _bool(value: Any, name: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise CairnError.invalid(f"Invalid value for field '{name}': expected true or false")
    return value


def sized(value: dict[str, Any], name: str, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:
        raise CairnError.invalid(f"Invalid value for field '{name}': {exc}") from None
    if size > limit:
        raise CairnError.invalid(f"Field '{name}' is larger than {limit // 1024} KB")
    return value


def benchmark(item: Any, name: str) -> BenchSpec:
    """One benchmark in either shape (``benchmark_id``/``id``, ``config``/``parameters``)."""
    body = _object(item, name, required=True)
    id_field = "benchmark_id" if "benchmark_id" in body else "id"
    bid = _text(body.get(id_field), f"{name}.{id_field}", required=True)
    pid = _text(body.get("provider_id"), f"{name}.provider_id", required=True)
    cfg_field = "config" if "config" in body else "parameters"
    config = sized(_object(body.get(cfg_field), f"{name}.{cfg_field}"), f"{name}.{cfg_field}")
    weight = _float(body.get("weight"), f"{name}.weight")
    if weight is not None and not 0 < weight <= 1e6:
        raise CairnError.invalid(f"Invalid value for field '{name}.weight': must be > 0")
    primary = _object(body.get("primary_score"), f"{name}.primary_score")
    metric = _text(primary.get("metric"), f"{name}.primary_score.metric", limit=v.MAX_KEY_LENGTH)
    lower = _bool(primary.get("lower_is_better"), f"{name}.primary_score.lower_is_better")
    criteria = _object(body.get("pass_criteria"), f"{name}.pass_criteria")
    threshold = _float(criteria.get("threshold"), f"{name}.pass_criteria.threshold")
    assert bid is not None
    assert pid is not None
    return BenchSpec(bid, pid, config, weight or 1.0, metric, lower, threshold)


def _benchmarks(value: Any, name: str = "benchmarks") -> list[BenchSpec]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CairnError.invalid(f"Invalid value for field '{name}': expected a list")
    if len(value) > MAX_BENCHMARKS:
        raise CairnError.invalid(f"Too many benchmarks in '{name}': at most {MAX_BENCHMARKS}")
    return [benchmark(item, f"{name}[{i}]") for i, item in enumerate(value)]


def _collection(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return _text(value.get("id"), "collection.id", required=True)
    return _text(value, "collection")


def check_tags(pairs: list[tuple[Any, Any]], name: str) -> dict[str, str]:
    if len(pairs) > MAX_TAGS:
        raise CairnError.invalid(f"Too many tags in '{name}': at most {MAX_TAGS}")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not key:
            raise CairnError.invalid(f"Invalid tag key in '{name}': expected a non-empty string")
        try:
            v.validate_key("Tag", key)
        except CairnError as exc:
            raise CairnError.invalid(f"Invalid tag key in '{name}': {exc.message}") from None
        if key.startswith(("mlflow.", "cairn.")):
            raise CairnError.invalid(
                f"Invalid tag key {key[:60]!r} in '{name}': 'mlflow.' and 'cairn.' are reserved"
            )
        if isinstance(value, bool | int | float) and not isinstance(value, str):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            raise CairnError.invalid(f"Invalid value of tag '{key[:60]}' in '{name}': a string")
        if len(value) > MAX_TAG_VALUE:
            raise CairnError.invalid(
                f"Value of tag '{key[:60]}' in '{name}' is longer than {MAX_TAG_VALUE} characters"
            )
        tags[key] = value
    return tags


def experiment_name(value: Any) -> str | None:
    name = _text(value, "experiment.name", limit=MAX_EXPERIMENT_NAME)
    if name is not None and not EXPERIMENT_NAME.fullmatch(name):
        raise CairnError.invalid(
            f"Invalid value {name[:80]!r} for field 'experiment.name': only letters, digits, "
            "'_', '-' and '.' are allowed"
        )
    return name


def _model(body: dict[str, Any], config_field: str) -> tuple[ModelSpec, str | None]:
    model = _object(body.get("model"), "model", required=True)
    name = _text(model.get("name"), "model.name", required=True, limit=MAX_MODEL_NAME)
    server = _text(model.get("server"), "model.server", limit=MAX_URL)
    url = _text(model.get("url"), "model.url", limit=MAX_URL)
    if url is not None and not url.startswith(("http://", "https://")):
        raise CairnError.invalid("Invalid value for field 'model.url': an http(s) URL")
    if url is None and server is not None and server.startswith(("http://", "https://")):
        url = server
    config = sized(
        _object(model.get(config_field), f"model.{config_field}"), f"model.{config_field}"
    )
    stack = None if server is None or server == url else server
    assert name is not None
    return ModelSpec(name=name, url=url, server=stack, configuration=config), server


def from_seed(body: Mapping[str, Any]) -> EvalRequest:
    """The seed's shape (``POST /api/v1/evaluations``)."""
    doc = dict(body)
    model, server = _model(doc, "configuration")
    experiment = _object(doc.get("experiment"), "experiment")
    tags_raw = _object(experiment.get("tags"), "experiment.tags")
    return EvalRequest(
        shape=Shape.SEED,
        model=model,
        model_server=server,
        benchmarks=_benchmarks(doc.get("benchmarks")),
        collection=_collection(doc.get("collection")),
        experiment_name=experiment_name(experiment.get("name")),
        tags=check_tags(list(tags_raw.items()), "experiment.tags"),
        threshold=_float(
            _object(doc.get("pass_criteria"), "pass_criteria").get("threshold"),
            "pass_criteria.threshold",
        ),
    )


def from_evalhub(body: Mapping[str, Any]) -> EvalRequest:
    """eval-hub's shape (``POST /api/v1/evaluations/jobs``)."""
    doc = dict(body)
    model, server = _model(doc, "parameters")
    experiment = _object(doc.get("experiment"), "experiment")
    raw = experiment.get("tags")
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            tag = _object(item, f"experiment.tags[{i}]", required=True)
            pairs.append((tag.get("key"), tag.get("value")))
    elif raw is not None:
        raise CairnError.invalid(
            "Invalid value for field 'experiment.tags': a list of {key, value}"
        )
    return EvalRequest(
        shape=Shape.EVALHUB,
        model=model,
        model_server=server,
        benchmarks=_benchmarks(doc.get("benchmarks")),
        collection=_collection(doc.get("collection")),
        experiment_name=experiment_name(experiment.get("name")),
        tags=check_tags(pairs, "experiment.tags"),
        threshold=_float(
            _object(doc.get("pass_criteria"), "pass_criteria").get("threshold"),
            "pass_criteria.threshold",
        ),
    )


def collection_id(value: Any, name: str = "id") -> str:
    text = _text(value, name, required=True, limit=128)
    assert text is not None
    if not COLLECTION_ID.fullmatch(text):
        raise CairnError.invalid(
            f"Invalid value {text[:80]!r} for field '{name}': letters, digits, '_', '-', '.'"
        )
    return text


def collection_body(body: Mapping[str, Any]) -> tuple[str, str, list[BenchSpec]]:
    """A user collection's name, description and benchmarks (seed or eval-hub item shape)."""
    name = _text(body.get("name"), "name", required=True)
    description = _text(body.get("description"), "description", limit=5000) or ""
    specs = _benchmarks(body.get("benchmarks"))
    if not specs:
        raise CairnError.invalid("Missing value for required field 'benchmarks'")
    assert name is not None
    return name, description, specs
