"""MLflow traces: a trace's info (its experiment, timing, state, tags, request metadata), its
spans (OpenTelemetry spans, one row each) and its assessments (feedback and expectations).

Ids keep MLflow's shapes: a trace id is ``tr-<32 hex>`` (the OpenTelemetry trace id in hex),
span ids are 16 hex digits, assessment ids are ``a-<32 hex>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TraceState(StrEnum):
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"


#: the protobuf enum numbers, and the 2.x status names, for the states
STATE_ALIASES = {
    "0": TraceState.STATE_UNSPECIFIED,
    "1": TraceState.OK,
    "2": TraceState.ERROR,
    "3": TraceState.IN_PROGRESS,
    "TRACE_STATUS_UNSPECIFIED": TraceState.STATE_UNSPECIFIED,
}

SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
SPANS_IN_STORE = "TRACKING_STORE"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
TRACE_NAME_TAG = "mlflow.traceName"
SOURCE_RUN_METADATA = "mlflow.sourceRun"
TRACE_INPUTS_METADATA = "mlflow.traceInputs"
TRACE_OUTPUTS_METADATA = "mlflow.traceOutputs"
SPAN_TYPE_ATTRIBUTE = "mlflow.spanType"
SPAN_INPUTS_ATTRIBUTE = "mlflow.spanInputs"
SPAN_OUTPUTS_ATTRIBUTE = "mlflow.spanOutputs"
REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId"

PREVIEW_CHARS = 1000
"""How much of a request or response a trace (and a span) keeps as its preview."""


@dataclass(slots=True)
class Span:
    """One OpenTelemetry span, decoded: ids in hex, times in ns, ``attributes`` as values
    (strings, numbers, booleans, lists, dicts), ``events`` as
    ``{"name", "time_unix_nano", "attributes"}``."""

    trace_id: str
    """The MLflow trace id (``tr-…``)."""
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int | None
    status_code: str = "STATUS_CODE_UNSET"
    status_message: str = ""
    kind: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    otel_trace_id: str = ""
    """The OpenTelemetry trace id, 32 hex digits."""

    @property
    def span_type(self) -> str | None:
        found = self.attributes.get(SPAN_TYPE_ATTRIBUTE)
        return found if isinstance(found, str) else None


@dataclass(slots=True)
class Assessment:
    assessment_id: str
    trace_id: str
    name: str
    kind: str
    """``feedback`` or ``expectation``."""
    value: Any
    source_type: str
    source_id: str | None
    create_time: int
    last_update_time: int
    span_id: str | None = None
    rationale: str | None = None
    error: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    overrides: str | None = None
    valid: bool = True
    serialized: dict[str, Any] | None = None
    """An expectation's ``serialized_value`` (format and text), when it came that way."""


@dataclass(slots=True)
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time: int
    """ms since the epoch."""
    execution_duration: int | None
    """ms; None while the trace is in progress."""
    state: str
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)


@dataclass(slots=True)
class Trace:
    info: TraceInfo
    spans: list[Span]


@dataclass(frozen=True, slots=True)
class Aggregation:
    kind: str
    percentile: float | None = None

    @property
    def label(self) -> str:
        return f"P{self.percentile}" if self.kind == "PERCENTILE" else self.kind


@dataclass(frozen=True, slots=True)
class MetricQuery:
    experiment_ids: Sequence[int]
    view_type: str
    metric_name: str
    aggregations: Sequence[Aggregation]
    dimensions: Sequence[str] = ()
    filters: Sequence[str] = ()
    time_interval_seconds: int | None = None
    start_time_ms: int | None = None
    end_time_ms: int | None = None


@dataclass(slots=True)
class DataPoint:
    metric_name: str
    dimensions: dict[str, str]
    values: dict[str, float]
