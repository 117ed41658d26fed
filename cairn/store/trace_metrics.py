"""Trace metrics (MLflow's ``traces/metrics``): counts, latencies and assessment values of the
traces, spans or assessments of some experiments, by dimension and time bucket.

The rows of the filtered traces are read once (bounded by :data:`MAX_ROWS`) and aggregated
here, so percentiles work the same on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from cairn.entities.errors import CairnError
from cairn.entities.traces import TRACE_NAME_TAG, DataPoint, MetricQuery
from cairn.store.schema import assessments, spans, trace_metadata, trace_tags, traces
from cairn.store.trace_search import matching_pks
from cairn.store.traces import loads

MAX_ROWS = 1_000_000
TOKEN_USAGE = "mlflow.trace.tokenUsage"
t = traces.c

METRICS = {
    "TRACES": ("trace_count", "latency", "input_tokens", "output_tokens", "total_tokens"),
    "SPANS": ("span_count", "latency"),
    "ASSESSMENTS": ("assessment_count", "assessment_value"),
}
DIMENSIONS = {
    "TRACES": ("trace_name", "trace_status"),
    "SPANS": ("span_name", "span_type", "span_status"),
    "ASSESSMENTS": ("assessment_name", "assessment_value"),
}
AGGREGATIONS = ("COUNT", "SUM", "AVG", "PERCENTILE", "MIN", "MAX")


def validate(q: MetricQuery) -> None:
    if q.view_type not in METRICS:
        raise CairnError.invalid(f"Invalid view_type '{q.view_type}'; valid: {', '.join(METRICS)}")
    if q.metric_name not in METRICS[q.view_type]:
        raise CairnError.invalid(
            f"Invalid metric_name '{q.metric_name}' for view_type {q.view_type}; valid: "
            + ", ".join(METRICS[q.view_type])
        )
    for d in q.dimensions:
        if d not in DIMENSIONS[q.view_type]:
            raise CairnError.invalid(
                f"Invalid dimension '{d}' for view_type {q.view_type}; valid: "
                + ", ".join(DIMENSIONS[q.view_type])
            )
    if not q.aggregations:
        raise CairnError.invalid("Missing value for required parameter 'aggregations'")
    for agg in q.aggregations:
        if agg.kind not in AGGREGATIONS:
            raise CairnError.invalid(
                f"Invalid aggregation_type '{agg.kind}'; valid: {', '.join(AGGREGATIONS)}"
            )
        if agg.kind == "PERCENTILE" and (agg.percentile is None or not 0 <= agg.percentile <= 100):
            raise CairnError.invalid(
                "Invalid percentile_value: PERCENTILE needs a value between 0 and 100"
            )
    if q.time_interval_seconds is not None and q.time_interval_seconds <= 0:
        raise CairnError.invalid("Invalid time_interval_seconds: must be positive")


def _rows(conn: Connection, q: MetricQuery) -> list[tuple[int, dict[str, str], float | None]]:
    """(time ms, dimensions, value) of each traced thing the query counts."""
    pks = matching_pks(conn, q.experiment_ids, q.filters)
    when: list[Any] = []
    if q.start_time_ms is not None:
        when.append(t.request_time >= q.start_time_ms)
    if q.end_time_ms is not None:
        when.append(t.request_time <= q.end_time_ms)
    out: list[tuple[int, dict[str, str], float | None]] = []
    if q.view_type == "TRACES":
        name = (
            select(trace_tags.c.value)
            .where(trace_tags.c.trace_pk == t.id, trace_tags.c.key == TRACE_NAME_TAG)
            .scalar_subquery()
        )
        usage = (
            select(trace_metadata.c.value)
            .where(trace_metadata.c.trace_pk == t.id, trace_metadata.c.key == TOKEN_USAGE)
            .scalar_subquery()
        )
        by_trace = select(
            t.request_time, t.execution_duration, t.state, name.label("name"), usage.label("usage")
        )
        tokens = q.metric_name.endswith("_tokens")
        for r in conn.execute(by_trace.where(t.id.in_(pks), *when).limit(MAX_ROWS)):
            dims = {"trace_name": r.name or "", "trace_status": r.state}
            value = _tokens(r.usage, q.metric_name) if tokens else r.execution_duration
            out.append((r.request_time, dims, value))
    elif q.view_type == "SPANS":
        s = spans.c
        by_span = select(s.start_ns, s.end_ns, s.name, s.span_type, s.status)
        by_span = by_span.where(s.trace_pk.in_(pks))
        if q.start_time_ms is not None:
            by_span = by_span.where(s.start_ns >= q.start_time_ms * 1_000_000)
        if q.end_time_ms is not None:
            by_span = by_span.where(s.start_ns <= q.end_time_ms * 1_000_000)
        for sr in conn.execute(by_span.limit(MAX_ROWS)):
            latency = None if sr.end_ns is None else (sr.end_ns - sr.start_ns) / 1e6
            status = str(sr.status).removeprefix("STATUS_CODE_")
            dims = {"span_name": sr.name, "span_type": sr.span_type or "", "span_status": status}
            out.append((sr.start_ns // 1_000_000, dims, latency))
    else:
        a = assessments.c
        by_assessment = select(a.create_time, a.name, a.value)
        by_assessment = by_assessment.where(a.trace_pk.in_(pks), a.valid)
        if q.start_time_ms is not None:
            by_assessment = by_assessment.where(a.create_time >= q.start_time_ms)
        if q.end_time_ms is not None:
            by_assessment = by_assessment.where(a.create_time <= q.end_time_ms)
        for ar in conn.execute(by_assessment.limit(MAX_ROWS)):
            value = loads(ar.value)
            number = _number(value)
            dims = {"assessment_name": ar.name, "assessment_value": _text(value)}
            out.append((ar.create_time, dims, number))
    return out


def _tokens(usage: str | None, metric_name: str) -> float | None:
    """``input_tokens`` / ``output_tokens`` / ``total_tokens`` of a trace's token usage
    metadata (``mlflow.trace.tokenUsage``, JSON), or None without it."""
    try:
        found = loads(usage) if usage else None
    except ValueError:
        return None
    return _number(found.get(metric_name)) if isinstance(found, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


AGGREGATE: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda v: sum(v) / len(v),
    "MIN": min,
    "MAX": max,
}


def query(conn: Connection, q: MetricQuery) -> list[DataPoint]:
    validate(q)
    counting = q.metric_name.endswith("_count")
    groups: dict[tuple[str, ...], list[float | None]] = {}
    interval_ms = (q.time_interval_seconds or 0) * 1000
    for when, dims, value in _rows(conn, q):
        key = tuple(dims[d] for d in q.dimensions)
        if interval_ms:
            bucket = when - when % interval_ms
            key = (datetime.fromtimestamp(bucket / 1000, tz=UTC).isoformat(), *key)
        groups.setdefault(key, []).append(value)
    names = (["time_bucket"] if interval_ms else []) + list(q.dimensions)
    points = []
    for key in sorted(groups):
        found = groups[key]
        numbers = [v for v in found if v is not None]
        values: dict[str, float] = {}
        for agg in q.aggregations:
            if agg.kind == "COUNT":
                values[agg.label] = float(len(found) if counting else len(numbers))
            elif numbers and agg.kind == "PERCENTILE":
                assert agg.percentile is not None
                values[agg.label] = _percentile(numbers, agg.percentile)
            elif numbers:
                values[agg.label] = float(AGGREGATE[agg.kind](numbers))
        if values:
            points.append(DataPoint(q.metric_name, dict(zip(names, key, strict=True)), values))
    return points
