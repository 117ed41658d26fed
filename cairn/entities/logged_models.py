"""MLflow 3 logged models: a model logged from a run (or on its own), with its files under
``<experiment artifact location>/models/<model_id>/artifacts``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class LoggedModelStatus(StrEnum):
    LOGGED_MODEL_STATUS_UNSPECIFIED = "LOGGED_MODEL_STATUS_UNSPECIFIED"
    LOGGED_MODEL_PENDING = "LOGGED_MODEL_PENDING"
    LOGGED_MODEL_READY = "LOGGED_MODEL_READY"
    LOGGED_MODEL_UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"


#: the protobuf enum numbers, which protobuf's JSON parser also accepts
STATUS_NUMBERS = {
    "0": LoggedModelStatus.LOGGED_MODEL_STATUS_UNSPECIFIED,
    "1": LoggedModelStatus.LOGGED_MODEL_PENDING,
    "2": LoggedModelStatus.LOGGED_MODEL_READY,
    "3": LoggedModelStatus.LOGGED_MODEL_UPLOAD_FAILED,
}


@dataclass(slots=True)
class ModelMetric:
    """A metric point of a logged model (``model.data.metrics``)."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    status: str
    model_type: str | None
    source_run_id: str | None
    status_message: str | None
    lifecycle_stage: str
    creation_time: int
    last_updated_time: int
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)


ModelMetricPoint = tuple[str, str, float, int, int, str | None, str | None]
"""A metric to attach to a logged model:
``(model_id, key, value, timestamp, step, dataset_name, dataset_digest)``."""
