"""Cairn: experiment tracking and model lifecycle, wire-compatible with MLflow.

``import cairn`` is cheap: the SDK (httpx, and pandas/NumPy only where a call needs them) is
imported on first use of one of the names below.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from cairn._version import __version__ as __version__

if TYPE_CHECKING:  # the names' types, for mypy ("X as X": re-exported); _LAZY is what runs
    from cairn.client.batching import ReplayResult as ReplayResult
    from cairn.client.batching import replay_spool as replay_spool
    from cairn.client.client import Client as Client
    from cairn.client.entities import Experiment as Experiment
    from cairn.client.entities import Metric as Metric
    from cairn.client.entities import ModelInfo as ModelInfo
    from cairn.client.entities import ModelVersion as ModelVersion
    from cairn.client.entities import RegisteredModel as RegisteredModel
    from cairn.client.entities import Run as Run
    from cairn.client.entities import RunData as RunData
    from cairn.client.entities import RunInfo as RunInfo
    from cairn.client.errors import CairnClientError as CairnClientError
    from cairn.client.errors import CairnConfigError as CairnConfigError
    from cairn.client.errors import CairnConnectionError as CairnConnectionError
    from cairn.client.errors import CairnRestError as CairnRestError
    from cairn.client.errors import CairnUsageError as CairnUsageError
    from cairn.client.errors import DeliveryError as DeliveryError
    from cairn.client.errors import MissingDependencyError as MissingDependencyError
    from cairn.client.fluent import ActiveRun as ActiveRun
    from cairn.client.fluent import active_run as active_run
    from cairn.client.fluent import end_run as end_run
    from cairn.client.fluent import flush as flush
    from cairn.client.fluent import load_model as load_model
    from cairn.client.fluent import log_artifact as log_artifact
    from cairn.client.fluent import log_artifacts as log_artifacts
    from cairn.client.fluent import log_dataset as log_dataset
    from cairn.client.fluent import log_dict as log_dict
    from cairn.client.fluent import log_figure as log_figure
    from cairn.client.fluent import log_image as log_image
    from cairn.client.fluent import log_metric as log_metric
    from cairn.client.fluent import log_metrics as log_metrics
    from cairn.client.fluent import log_model as log_model
    from cairn.client.fluent import log_param as log_param
    from cairn.client.fluent import log_params as log_params
    from cairn.client.fluent import log_table as log_table
    from cairn.client.fluent import log_text as log_text
    from cairn.client.fluent import search_runs as search_runs
    from cairn.client.fluent import set_experiment as set_experiment
    from cairn.client.fluent import set_tag as set_tag
    from cairn.client.fluent import set_tags as set_tags
    from cairn.client.fluent import set_tracking_uri as set_tracking_uri
    from cairn.client.fluent import start_run as start_run
    from cairn.client.state import get_tracking_uri as get_tracking_uri

    CairnError = CairnClientError

# The public names and the module each comes from, imported on first use: the one runtime list
# (__all__ and __getattr__ read it; tests/client/test_import_floors.py checks that it matches
# the block above).
_LAZY: dict[str, str] = {
    name: module
    for module, names in {
        "cairn.client.batching": "ReplayResult replay_spool",
        "cairn.client.client": "Client",
        "cairn.client.entities": """
            Experiment Metric ModelInfo ModelVersion RegisteredModel Run RunData RunInfo
        """,
        "cairn.client.errors": """
            CairnClientError CairnConfigError CairnConnectionError CairnRestError CairnUsageError
            DeliveryError MissingDependencyError
        """,
        "cairn.client.fluent": """
            ActiveRun active_run end_run flush load_model log_artifact log_artifacts log_dataset
            log_dict log_figure log_image log_metric log_metrics log_model log_param log_params
            log_table log_text search_runs set_experiment set_tag set_tags set_tracking_uri
            start_run
        """,
        "cairn.client.state": "get_tracking_uri",
    }.items()
    for name in names.split()
}
# former names, kept working: old -> current
_ALIASES = {"CairnError": "CairnClientError"}

__all__ = sorted([*_LAZY, *_ALIASES, "__version__"])


def __getattr__(name: str) -> Any:
    current = _ALIASES.get(name, name)
    module = _LAZY.get(current)
    if module is None:
        raise AttributeError(f"module 'cairn' has no attribute '{name}'")
    value = getattr(import_module(module), current)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
