"""MLflow tracing: span ingest (OTLP batches), trace info from 3.x and 2.x clients, search,
tags, deletion, links to runs, assessments, trace metrics and the trace data a client
downloads. Rules here, one store transaction per call; the wire formats live in the routes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from cairn.artifacts.paths import join
from cairn.entities.errors import CairnError
from cairn.entities.traces import (
    ARTIFACT_LOCATION_TAG,
    REQUEST_ID_ATTRIBUTE,
    SPANS_IN_STORE,
    SPANS_LOCATION_TAG,
    STATE_ALIASES,
    Assessment,
    DataPoint,
    MetricQuery,
    Span,
    Trace,
    TraceInfo,
    TraceState,
)
from cairn.entities.tracking import Page, parse_experiment_id
from cairn.services import validation as v
from cairn.services.artifacts import ArtifactService
from cairn.store import trace_metrics, trace_search
from cairn.store import traces as store
from cairn.store.db import Database
from cairn.store.trace_search import search_traces

TRACE_ID = re.compile(r"^tr-[0-9a-f]{32}$")
HEX_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_SPANS_PER_BATCH = 10_000
MAX_BATCH_GET = 100
TRACE_DATA_FILE = "traces.json"
SOURCE_TYPES = ("SOURCE_TYPE_UNSPECIFIED", "HUMAN", "LLM_JUDGE", "CODE")


def parse_state(value: object, field: str = "state") -> str:
    text = "" if value is None else str(value).upper()
    if text == "":
        return TraceState.STATE_UNSPECIFIED.value
    text = STATE_ALIASES.get(text, text)
    try:
        return TraceState(text).value
    except ValueError:
        raise CairnError.invalid(
            f"Invalid value '{value}' for parameter '{field}'; valid: "
            + ", ".join(s.value for s in TraceState)
        ) from None


def check_trace_id(trace_id: object, field: str = "trace_id") -> str:
    if not isinstance(trace_id, str) or not trace_id:
        raise CairnError.invalid(f"Missing value for required parameter '{field}'")
    if len(trace_id) > 64:
        raise CairnError.invalid(f"Invalid value for parameter '{field}': longer than 64")
    return trace_id


def span_json(span: Span) -> dict[str, Any]:
    """A span as MLflow's trace data file holds it (``traces.json``): ids in base64,
    attribute values JSON-encoded."""
    import base64

    def b64(hex_id: str | None) -> str | None:
        return None if not hex_id else base64.b64encode(bytes.fromhex(hex_id)).decode()

    return {
        "trace_id": b64(span.otel_trace_id),
        "span_id": b64(span.span_id),
        "parent_span_id": b64(span.parent_span_id),
        "name": span.name,
        "start_time_unix_nano": span.start_ns,
        "end_time_unix_nano": span.end_ns,
        "events": [
            {
                "name": e.get("name", ""),
                "time_unix_nano": e.get("time_unix_nano", 0),
                "attributes": e.get("attributes", {}),
            }
            for e in span.events
        ],
        "status": {"code": span.status_code, "message": span.status_message},
        # the values as mlflow's clients dump them (json.dumps, ", " and ": " separators)
        "attributes": {
            k: json.dumps(value, ensure_ascii=False) for k, value in span.attributes.items()
        },
        "links": [],
    }


class TraceService:
    def __init__(
        self, db: Database, artifacts: ArtifactService, limits: v.ValueLimits | None = None
    ):
        self.db = db
        self.artifacts = artifacts
        self.limits = limits or v.ValueLimits()

    def _tags(self, tags: Iterable[tuple[str, object]]) -> dict[str, str]:
        return {v.validate_key("Tag", k): self.limits.tag_value(k, val) for k, val in tags}

    def _metadata(self, pairs: Iterable[tuple[str, object]]) -> dict[str, str]:
        out = {}
        for key, value in pairs:
            v.validate_key("Trace metadata", key)
            out[key] = "" if value is None else str(value)
        return out

    # ---- ingest ----

    def log_spans(
        self, experiment_id: object, spans: Sequence[Span], resource_tags: dict[str, str]
    ) -> list[str]:
        """Store one OTLP batch, all or nothing; the ids of its traces."""
        eid = parse_experiment_id(experiment_id, "x-mlflow-experiment-id")
        if not spans:
            return []
        if len(spans) > MAX_SPANS_PER_BATCH:
            raise CairnError.invalid(
                f"Too many spans in one request: {len(spans)} (at most {MAX_SPANS_PER_BATCH})"
            )
        for span in spans:
            if not HEX_ID.match(span.span_id):
                raise CairnError.invalid(f"Invalid span_id '{span.span_id[:40]}': 8 bytes")
            if span.start_ns < 0 or (span.end_ns is not None and span.end_ns < 0):
                raise CairnError.invalid(f"Invalid start/end time of span '{span.span_id}'")
            span.attributes.pop(REQUEST_ID_ATTRIBUTE, None)
            span.attributes[REQUEST_ID_ATTRIBUTE] = span.trace_id
        tags = {}
        for key, value in resource_tags.items():
            if key.startswith(("telemetry.sdk.", "mlflow.")) or not key:
                continue
            try:
                tags[v.validate_key("Tag", key)] = self.limits.tag_value(key, value)
            except CairnError:
                continue  # resource attributes are kept when they make valid tags
        return self.db.write(lambda c: store.log_spans(c, eid, spans, tags))

    def start_trace(self, info: TraceInfo) -> TraceInfo:
        check_trace_id(info.trace_id)
        parse_experiment_id(info.experiment_id, "trace_location.mlflow_experiment.experiment_id")
        info.state = parse_state(info.state)
        info.tags = self._tags(info.tags.items())
        info.metadata = self._metadata(info.metadata.items())
        return self.db.write(lambda c: store.start_trace(c, info))

    def start_trace_v2(
        self,
        experiment_id: object,
        timestamp_ms: int | None,
        metadata: Iterable[tuple[str, object]],
        tags: Iterable[tuple[str, object]],
    ) -> TraceInfo:
        eid = parse_experiment_id(experiment_id)
        info = TraceInfo(
            trace_id=store.new_trace_id(),
            experiment_id=str(eid),
            request_time=timestamp_ms or 0,
            execution_duration=None,
            state=TraceState.IN_PROGRESS.value,
            tags=self._tags(tags),
            metadata=self._metadata(metadata),
        )
        return self.db.write(lambda c: store.start_trace(c, info))

    def end_trace_v2(
        self,
        trace_id: str,
        timestamp_ms: int | None,
        status: object,
        metadata: Iterable[tuple[str, object]],
        tags: Iterable[tuple[str, object]],
    ) -> TraceInfo:
        check_trace_id(trace_id, "request_id")
        state = parse_state(status, "status")
        tag_map, meta = self._tags(tags), self._metadata(metadata)
        return self.db.write(
            lambda c: store.end_trace_v2(c, trace_id, timestamp_ms or 0, state, meta, tag_map)
        )

    # ---- reads ----

    def get_info(self, trace_id: str) -> TraceInfo:
        check_trace_id(trace_id)
        return self.db.read(lambda c: store.get_info(c, trace_id))

    def get_trace(self, trace_id: str) -> Trace:
        check_trace_id(trace_id)

        def read(c: Any) -> Trace:
            info = store.get_info(c, trace_id)
            return Trace(info, store.get_spans(c, [trace_id])[trace_id])

        return self.db.read(read)

    def batch_get(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[object] | None = None
    ) -> list[Trace]:
        if len(trace_ids) > MAX_BATCH_GET:
            raise CairnError.invalid(
                f"Too many trace_ids: {len(trace_ids)} (at most {MAX_BATCH_GET} per request)"
            )
        eids = None if experiment_ids is None else [parse_experiment_id(e) for e in experiment_ids]

        def read(c: Any) -> list[Trace]:
            infos = store.get_infos(c, trace_ids, eids)
            found = store.get_spans(c, [i.trace_id for i in infos])
            return [Trace(i, found[i.trace_id]) for i in infos]

        return self.db.read(read)

    def batch_get_infos(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[object] | None = None
    ) -> list[TraceInfo]:
        if len(trace_ids) > MAX_BATCH_GET:
            raise CairnError.invalid(
                f"Too many trace_ids: {len(trace_ids)} (at most {MAX_BATCH_GET} per request)"
            )
        eids = None if experiment_ids is None else [parse_experiment_id(e) for e in experiment_ids]
        return self.db.read(lambda c: store.get_infos(c, trace_ids, eids))

    def search(
        self,
        experiment_ids: Sequence[object],
        filter_text: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[TraceInfo]:
        eids = [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        return self.db.read(
            lambda c: search_traces(c, eids, filter_text, order_by, max_results, page_token)
        )

    def trace_data(self, trace_id: str) -> dict[str, Any]:
        """The trace's spans as MLflow's trace data file (``{"spans": [...]}``): from the store,
        or the file a client uploaded next to the trace (2.x clients, older servers)."""
        trace = self.get_trace(trace_id)
        if trace.spans or trace.info.tags.get(SPANS_LOCATION_TAG) == SPANS_IN_STORE:
            return {"spans": [span_json(s) for s in trace.spans]}
        location = trace.info.tags.get(ARTIFACT_LOCATION_TAG)
        if not location:
            raise CairnError.not_found(f"Trace '{trace_id}' has no span data")
        path = join(self.artifacts.repo_path_of(location, f"trace {trace_id}"), TRACE_DATA_FILE)
        if self.artifacts.repo.stat(path) is None:
            raise CairnError.not_found(f"Trace '{trace_id}' has no span data")
        raw = b"".join(self.artifacts.repo.read(path))
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise CairnError.invalid(f"The span data of trace '{trace_id}' is corrupted") from None
        if not isinstance(data, dict):
            raise CairnError.invalid(f"The span data of trace '{trace_id}' is corrupted")
        return data

    # ---- tags, deletion, runs ----

    def set_tag(self, trace_id: str, key: str, value: object) -> None:
        check_trace_id(trace_id)
        tags = self._tags([(key, value)])
        self.db.write(lambda c: store.set_tag(c, trace_id, key, tags[key]))

    def delete_tag(self, trace_id: str, key: str) -> None:
        check_trace_id(trace_id)
        if not key:
            raise CairnError.invalid("Missing value for required parameter 'key'")
        self.db.write(lambda c: store.delete_tag(c, trace_id, key))

    def delete_traces(
        self,
        experiment_id: object,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] = (),
    ) -> int:
        eid = parse_experiment_id(experiment_id)
        if trace_ids and (max_timestamp_millis is not None or max_traces):
            raise CairnError.invalid(
                "Either `max_timestamp_millis` or `request_ids` must be specified, not both"
            )
        if not trace_ids and max_timestamp_millis is None:
            raise CairnError.invalid(
                "Either `max_timestamp_millis` or `request_ids` must be specified."
            )
        if max_traces is not None and max_traces < 0:
            raise CairnError.invalid("Invalid value for parameter 'max_traces': negative")
        return self.db.write(
            lambda c: store.delete_traces(c, eid, max_timestamp_millis, max_traces, trace_ids)
        )

    def link_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        v.validate_run_id(run_id)
        if not trace_ids:
            return
        if len(trace_ids) > MAX_BATCH_GET:
            raise CairnError.invalid(
                f"Too many trace_ids: {len(trace_ids)} (at most {MAX_BATCH_GET} per request)"
            )
        self.db.write(lambda c: store.link_to_run(c, trace_ids, run_id))

    # ---- assessments ----

    def _check_assessment(self, x: Assessment) -> None:
        v.validate_key("Assessment", x.name)
        if x.kind not in ("feedback", "expectation"):
            raise CairnError.invalid(
                "An assessment needs exactly one of 'feedback' or 'expectation'"
            )
        if x.source_type not in SOURCE_TYPES:
            raise CairnError.invalid(
                f"Invalid value '{x.source_type}' for parameter 'source.source_type'; valid: "
                + ", ".join(SOURCE_TYPES)
            )

    def create_assessment(self, x: Assessment) -> Assessment:
        check_trace_id(x.trace_id)
        self._check_assessment(x)
        return self.db.write(lambda c: store.create_assessment(c, x))

    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment:
        return self.db.read(lambda c: store.get_assessment(c, trace_id, assessment_id))

    def update_assessment(
        self, trace_id: str, assessment_id: str, changes: Assessment, fields: Sequence[str]
    ) -> Assessment:
        known = {"name", "value", "error", "rationale", "metadata", "span_id", "valid"}
        for name in fields:
            if name not in known:
                raise CairnError.invalid(
                    f"Invalid update_mask path '{name}'; valid: {', '.join(sorted(known))}"
                )
        if "name" in fields:
            v.validate_key("Assessment", changes.name)
        return self.db.write(
            lambda c: store.update_assessment(c, trace_id, assessment_id, changes, fields)
        )

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        self.db.write(lambda c: store.delete_assessment(c, trace_id, assessment_id))

    # ---- metrics ----

    def filter_correlation(
        self,
        experiment_ids: Sequence[object],
        filter1: str,
        filter2: str,
        base_filter: str | None = None,
    ) -> dict[str, float | int]:
        """How two filters co-occur over the traces (of ``base_filter``): their counts and the
        normalized pointwise mutual information (NaN when either matches nothing; smoothed
        with half a trace added to each cell)."""
        eids = [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        if not filter1 or not filter2:
            raise CairnError.invalid("Missing value for required parameter 'filter_string1/2'")
        base = [base_filter] if base_filter else []

        def read(c: Any) -> tuple[int, int, int, int]:
            return (
                trace_search.count(c, eids, base),
                trace_search.count(c, eids, [*base, filter1]),
                trace_search.count(c, eids, [*base, filter2]),
                trace_search.count(c, eids, [*base, filter1, filter2]),
            )

        total, n1, n2, joint = self.db.read(read)
        return {
            "npmi": _npmi(total, n1, n2, joint),
            "npmi_smoothed": _npmi(total + 2, n1 + 1, n2 + 1, joint + 0.5),
            "filter1_count": n1,
            "filter2_count": n2,
            "joint_count": joint,
            "total_count": total,
        }

    def metrics(self, query: MetricQuery) -> list[DataPoint]:
        trace_metrics.validate(query)
        return self.db.read(lambda c: trace_metrics.query(c, query))


def _npmi(total: float, n1: float, n2: float, joint: float) -> float:
    if not total or not n1 or not n2:
        return math.nan
    if not joint:
        return -1.0
    p1, p2, p12 = n1 / total, n2 / total, joint / total
    if p12 >= 1.0:
        return 1.0
    return math.log(p12 / (p1 * p2)) / -math.log(p12)
