"""Cairn: experiment tracking and model lifecycle, wire-compatible with MLflow.

``import cairn`` is cheap: the SDK (httpx, and pandas/NumPy only where a call needs them) is
imported on first use of one of the names below.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from cairn._version import __version__

if TYPE_CHECKING:
    from cairn.client.batching import ReplayResult, replay_spool
    from cairn.client.client import Client
    from cairn.client.entities import (
        Experiment,
        Metric,
        ModelInfo,
        ModelVersion,
        RegisteredModel,
        Run,
        RunData,
        RunInfo,
    )
    from cairn.client.errors import (
        CairnConfigError,
        CairnConnectionError,
        CairnError,
        CairnRestError,
        CairnUsageError,
        DeliveryError,
        MissingDependencyError,
    )
    from cairn.client.fluent import (
        ActiveRun,
        active_run,
        end_run,
        flush,
        load_model,
        log_artifact,
        log_artifacts,
        log_dataset,
        log_dict,
        log_figure,
        log_image,
        log_metric,
        log_metrics,
        log_model,
        log_param,
        log_params,
        log_table,
        log_text,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from cairn.client.state import get_tracking_uri

_FLUENT = (
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
)
_ERRORS = (
    "CairnConfigError",
    "CairnConnectionError",
    "CairnError",
    "CairnRestError",
    "CairnUsageError",
    "DeliveryError",
    "MissingDependencyError",
)
_ENTITIES = (
    "Experiment",
    "Metric",
    "ModelInfo",
    "ModelVersion",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
)
_WHERE: dict[str, str] = {
    **dict.fromkeys(_FLUENT, "cairn.client.fluent"),
    **dict.fromkeys(_ERRORS, "cairn.client.errors"),
    **dict.fromkeys(_ENTITIES, "cairn.client.entities"),
    "Client": "cairn.client.client",
    "get_tracking_uri": "cairn.client.state",
    "ReplayResult": "cairn.client.batching",
    "replay_spool": "cairn.client.batching",
}

__all__ = [
    "ActiveRun",
    "CairnConfigError",
    "CairnConnectionError",
    "CairnError",
    "CairnRestError",
    "CairnUsageError",
    "Client",
    "DeliveryError",
    "Experiment",
    "Metric",
    "MissingDependencyError",
    "ModelInfo",
    "ModelVersion",
    "RegisteredModel",
    "ReplayResult",
    "Run",
    "RunData",
    "RunInfo",
    "__version__",
    "active_run",
    "end_run",
    "flush",
    "get_tracking_uri",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "replay_spool",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'cairn' has no attribute '{name}'")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
