"""MLflow's JSON conventions, in one place for the server, the SDK and ``cairn sync``.

* Metric values are JSON numbers, except NaN and the infinities, which are the strings
  ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; a reader takes either form.
* int64 fields (timestamps, steps) are written as JSON numbers; readers also accept them as
  strings, as protobuf's JSON mapping writes them (``int(...)`` and pydantic's lax mode do).
* Tags and params are lists of ``{"key", "value"}`` objects.
* A run's id is both ``run_id`` and ``run_uuid`` (older clients read the second).
* A dataset input is ``{"dataset": {name, digest, source_type, source, schema, profile},
  "tags": [{key, value}]}``; unset fields and empty lists are left out.

A leaf module: plain values and dicts only, nothing of Cairn's and no web framework, so the
SDK can use it without the server's entities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

Json = dict[str, Any]

NAN = "NaN"
INFINITY = "Infinity"
NEGATIVE_INFINITY = "-Infinity"
_PARSED = {NAN: math.nan, INFINITY: math.inf, NEGATIVE_INFINITY: -math.inf}

# the fields of a dataset, in MLflow's order (its digest and identity follow them)
DATASET_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")


def number(value: float) -> float | str:
    """The JSON form of a metric value: non-finite numbers as MLflow's strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return NAN
    return INFINITY if value > 0 else NEGATIVE_INFINITY


def metric_value(value: float, is_nan: bool = False) -> float | str:
    """:func:`number` for a stored point, which keeps NaN as a flag beside its value."""
    return NAN if is_nan else number(value)


def metric(key: str, value: float, timestamp: int, step: int, is_nan: bool = False) -> Json:
    """One metric point as MLflow writes it (``log-batch`` items, history entries)."""
    return {
        "key": key,
        "value": metric_value(value, is_nan),
        "timestamp": timestamp,
        "step": step,
    }


def parse_number(raw: Any) -> float:
    """A metric value as read from JSON: a number, or one of MLflow's strings (an unknown
    string or a missing value reads as NaN)."""
    if isinstance(raw, str):
        return _PARSED.get(raw, math.nan)
    return float(raw) if raw is not None else math.nan


def kv(items: Mapping[str, str]) -> list[Json]:
    """Tags or params as MLflow's list of ``{"key", "value"}`` objects."""
    return [{"key": k, "value": v} for k, v in items.items()]


def kv_dict(items: list[Json] | None) -> dict[str, str]:
    """The other way: a list of ``{"key", "value"}`` objects (or None) as a dict."""
    return {str(i["key"]): str(i.get("value", "")) for i in items or []}


def run_id(info: Mapping[str, Any]) -> str | None:
    """A run info's id: ``run_id``, or ``run_uuid`` from older servers."""
    found = info.get("run_id") or info.get("run_uuid")
    return None if found is None else str(found)


class DatasetFields(Protocol):
    """Anything with a dataset's fields (the server's entity, the SDK's record)."""

    @property
    def name(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def source_type(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def schema(self) -> str | None: ...
    @property
    def profile(self) -> str | None: ...


def dataset(d: DatasetFields) -> Json:
    """A dataset as MLflow's ``Dataset`` message (unset fields left out)."""
    out: Json = {}
    for name in DATASET_FIELDS:
        value = getattr(d, name)
        if value is not None:
            out[name] = value
    return out


def dataset_values(d: DatasetFields) -> list[str | None]:
    """A dataset's fields in :data:`DATASET_FIELDS` order."""
    return [getattr(d, name) for name in DATASET_FIELDS]


def dataset_input(d: DatasetFields, tags: Mapping[str, str]) -> Json:
    """A dataset input as MLflow's ``DatasetInput`` (its tags left out when there are none)."""
    out: Json = {"tags": kv(tags)} if tags else {}
    out["dataset"] = dataset(d)
    return out
