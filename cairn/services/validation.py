"""MLflow's rules for names, values and batch sizes, with Cairn's clearer messages."""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass

from cairn.entities.errors import CairnError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 5000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000

_NAME = re.compile(r"^[/\w.\- :]*$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def validate_key(kind: str, key: object) -> str:
    """A metric, param or tag name: MLflow's characters, no path tricks, at most 250 chars."""
    if not isinstance(key, str) or key == "":
        raise CairnError.invalid(f"{kind} name must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise CairnError.invalid(
            f"{kind} name '{key[:40]}…' is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}"
        )
    if not _NAME.match(key):
        raise CairnError.invalid(
            f"Invalid {kind.lower()} name '{key}': names may only contain letters, digits, "
            "underscores (_), dashes (-), periods (.), spaces, colons (:) and slashes (/)"
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith(("..", "/")):
        raise CairnError.invalid(
            f"Invalid {kind.lower()} name '{key}': names are also used as file paths and must "
            f"not resolve to another path (this one resolves to '{norm}')"
        )
    return key


NEW_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
NEW_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


def _chosen_id(value: object, field: str, shape: re.Pattern[str], described: str) -> str:
    """An id a client chose for a new object (an import), in MLflow's shape."""
    if not isinstance(value, str) or not shape.match(value):
        raise CairnError.invalid(
            f"Invalid value {str(value)[:40]!r} for parameter '{field}': {described}"
        )
    return value


def validate_new_run_id(run_id: object, field: str = "run_id") -> str:
    """A run id a client chose for a new run: 32 hex digits."""
    return _chosen_id(run_id, field, NEW_RUN_ID, "a new run's id is 32 lowercase hex digits")


def validate_new_model_id(model_id: object, field: str = "model_id") -> str:
    """A logged-model id a client chose: ``m-`` and 32 hex digits."""
    described = "a new logged model's id is 'm-' followed by 32 lowercase hex digits"
    return _chosen_id(model_id, field, NEW_MODEL_ID, described)


def validate_run_id(run_id: object, field: str = "run_id") -> str:
    if not isinstance(run_id, str) or not run_id:
        raise CairnError.invalid(f"Missing value for required parameter '{field}'")
    return run_id


@dataclass(frozen=True, slots=True)
class ValueLimits:
    """How long values are handled: truncated (MLflow's default) or rejected."""

    truncate: bool = True

    def param_value(self, key: str, value: object) -> str:
        return self._limit("Param", key, _as_str("param", key, value), MAX_PARAM_VALUE_LENGTH)

    def tag_value(self, key: str, value: object) -> str:
        return self._limit("Tag", key, _as_str("tag", key, value), MAX_TAG_VALUE_LENGTH)

    def experiment_tag_value(self, key: str, value: object) -> str:
        text = _as_str("tag", key, value)
        return self._limit("Experiment tag", key, text, MAX_EXPERIMENT_TAG_VALUE_LENGTH)

    def _limit(self, kind: str, key: str, value: str, limit: int) -> str:
        if len(value) <= limit:
            return value
        if self.truncate:
            return value[:limit]
        raise CairnError.invalid(
            f"{kind} '{key}' has a value of {len(value)} characters; the limit is {limit} "
            "(the server is configured to reject, not truncate, long values)"
        )


def _as_str(kind: str, key: str, value: object) -> str:
    if value is None:
        raise CairnError.invalid(f"Missing value for {kind} '{key}'")
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    raise CairnError.invalid(
        f"Value of {kind} '{key}' must be a string, got {type(value).__name__}"
    )


def validate_metric_value(key: str, value: float) -> float:
    if not isinstance(value, float | int) or isinstance(value, bool):
        raise CairnError.invalid(f"Metric '{key}' must have a numeric value, got {value!r}")
    return float(value) if not math.isnan(value) else math.nan


def validate_batch_sizes(n_metrics: int, n_params: int, n_tags: int) -> None:
    if n_metrics > MAX_METRICS_PER_BATCH:
        raise CairnError.invalid(
            f"A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics; "
            f"got {n_metrics}"
        )
    if n_params > MAX_PARAMS_TAGS_PER_BATCH:
        raise CairnError.invalid(
            f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params; "
            f"got {n_params}"
        )
    if n_tags > MAX_PARAMS_TAGS_PER_BATCH:
        raise CairnError.invalid(
            f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} tags; "
            f"got {n_tags}"
        )
    total = n_metrics + n_params + n_tags
    if total > MAX_ENTITIES_PER_BATCH:
        raise CairnError.invalid(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, "
            f"params and tags in total; got {total}"
        )


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise CairnError.invalid("Experiment name must be a non-empty string")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise CairnError.invalid(
            f"Experiment name is {len(name)} characters long; the limit is "
            f"{MAX_EXPERIMENT_NAME_LENGTH}"
        )
    return name
