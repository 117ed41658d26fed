"""Handlers for MLflow tracing (/mlflow/traces/*): trace info from 3.x (``StartTraceV3``) and
2.x clients, reads with spans, search, tags, deletion, links to runs, assessments, trace
metrics and the trace data file. Served under /api/2.0 and /api/3.0 (and /ajax-api).

A 3.x client (≥ 3.4 servers) sends each trace's spans to ``POST /v1/traces`` (OTLP, see
:mod:`cairn.server.mlflow.otlp`) and its info here when the trace ends; it reads the trace
back with ``GET /traces/get`` or ``/traces/batchGet``. A 2.x client starts and ends a trace
here and uploads its spans as ``traces.json`` under the trace's ``mlflow.artifactLocation``.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from cairn.access import policy as p
from cairn.entities.access import Permission, ResourceType
from cairn.entities.errors import CairnError
from cairn.entities.numbers import decimal
from cairn.entities.traces import Aggregation, MetricQuery
from cairn.server import wire
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.mlflow.messages import IdList, Int64, KeyValue, Message
from cairn.server.mlflow.trace_wire import (
    assessment_json,
    get,
    parse_assessment,
    parse_mask,
    parse_trace_info,
    span_json,
    trace_info_json,
    trace_info_v2_json,
)
from cairn.server.state import identity, readable, traces
from cairn.server.wire import json_response

READ, EDIT = Permission.READ, Permission.EDIT


class StartTrace(Message):
    """POST /mlflow/traces: ``{"trace": {"trace_info": …}}`` (3.x, StartTraceV3) or the 2.x
    ``experiment_id``, ``timestamp_ms``, ``request_metadata``, ``tags``."""

    trace: dict[str, Any] | None = None
    experiment_id: str | None = None
    timestamp_ms: Int64 | None = None
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []


class EndTrace(Message):
    """PATCH /mlflow/traces/{request_id} (2.x)"""

    timestamp_ms: Int64 | None = None
    status: str | int | None = None
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []


class TraceRef(Message):
    """A trace named by the path or by ``trace_id`` / ``request_id``."""

    trace_id: str | None = None
    request_id: str | None = None
    allow_partial: bool = False


class BatchGet(Message):
    """GET /mlflow/traces/batchGet, POST /mlflow/traces/batchGetInfos"""

    trace_ids: IdList = []
    experiment_ids: IdList = []
    """When given, only traces in these experiments (a client resolves an empty list itself)."""


class SearchV2(Message):
    """GET /mlflow/traces (2.x search)"""

    experiment_ids: IdList = []
    filter: str | None = None
    max_results: Int64 = 100
    order_by: list[str] = []
    page_token: str | None = None


class SearchV3(Message):
    """POST /mlflow/traces/search"""

    locations: list[dict[str, Any]] = []
    experiment_ids: IdList = []
    filter: str | None = None
    max_results: Int64 = 100
    order_by: list[str] = []
    page_token: str | None = None


class SetTraceTag(Message):
    """PATCH /mlflow/traces/{trace_id}/tags"""

    key: str
    value: str | None = None


class DeleteTraceTag(Message):
    """DELETE /mlflow/traces/{trace_id}/tags"""

    key: str | None = None


class DeleteTraces(Message):
    """POST /mlflow/traces/delete-traces"""

    experiment_id: str
    max_timestamp_millis: Int64 | None = None
    max_traces: Int64 | None = None
    request_ids: IdList = []
    trace_ids: IdList = []


class LinkTracesToRun(Message):
    """POST /mlflow/traces/link-to-run"""

    trace_ids: IdList = []
    run_id: str


class AssessmentBody(Message):
    """POST /mlflow/traces/{trace_id}/assessments, PATCH …/assessments/{assessment_id}"""

    assessment: dict[str, Any] | None = None
    update_mask: str | dict[str, Any] | None = None


class NoBody(Message):
    """GET / DELETE of one assessment, the trace data file."""

    request_id: str | None = None


class AggregationIn(Message):
    aggregation_type: str | int
    percentile_value: float | None = None


class QueryTraceMetrics(Message):
    """POST /mlflow/traces/metrics"""

    experiment_ids: IdList = []
    view_type: str | int = "TRACES"
    metric_name: str
    aggregations: list[AggregationIn] = []
    dimensions: IdList = []
    filters: IdList = []
    time_interval_seconds: Int64 | None = None
    start_time_ms: Int64 | None = None
    end_time_ms: Int64 | None = None


def _path_id(request: Request) -> str:
    found: str = request.path_params["trace_id"]
    return found


def _ref(request: Request, msg: TraceRef) -> str:
    found = request.path_params.get("trace_id") or msg.trace_id or msg.request_id
    if not found:
        raise CairnError.invalid("Missing value for required parameter 'trace_id'")
    return str(found)


def _trace_json(trace: Any) -> wire.Json:
    return {
        "trace_info": trace_info_json(trace.info),
        "spans": [span_json(s) for s in trace.spans],
    }


async def start(request: Request, msg: StartTrace) -> wire.Json:
    service = traces(request)
    if msg.trace is not None:
        info = parse_trace_info(get(msg.trace, "trace_info"))
        stored = await run_in_threadpool(service.start_trace, info)
        return {"trace": {"trace_info": trace_info_json(stored)}}
    if not msg.experiment_id:
        raise CairnError.invalid("Missing value for required parameter 'experiment_id'")
    stored = await run_in_threadpool(
        service.start_trace_v2,
        msg.experiment_id,
        msg.timestamp_ms,
        [(m.key, m.value) for m in msg.request_metadata],
        [(t.key, t.value) for t in msg.tags],
    )
    return {"trace_info": trace_info_v2_json(stored)}


async def end(request: Request, msg: EndTrace) -> wire.Json:
    stored = await run_in_threadpool(
        traces(request).end_trace_v2,
        _path_id(request),
        msg.timestamp_ms,
        msg.status,
        [(m.key, m.value) for m in msg.request_metadata],
        [(t.key, t.value) for t in msg.tags],
    )
    return {"trace_info": trace_info_v2_json(stored)}


async def get_info(request: Request, msg: TraceRef) -> wire.Json:
    info = await run_in_threadpool(traces(request).get_info, _ref(request, msg))
    return {"trace": {"trace_info": trace_info_json(info)}}


async def get_info_v2(request: Request, msg: TraceRef) -> wire.Json:
    info = await run_in_threadpool(traces(request).get_info, _ref(request, msg))
    return {"trace_info": trace_info_v2_json(info)}


async def get_trace(request: Request, msg: TraceRef) -> wire.Json:
    trace = await run_in_threadpool(traces(request).get_trace, _ref(request, msg))
    return {"trace": _trace_json(trace)}


async def batch_get(request: Request, msg: BatchGet) -> wire.Json:
    found = await run_in_threadpool(
        traces(request).batch_get, msg.trace_ids, msg.experiment_ids or None
    )
    return {"traces": [_trace_json(t) for t in found]}


async def batch_get_infos(request: Request, msg: BatchGet) -> wire.Json:
    found = await run_in_threadpool(
        traces(request).batch_get_infos, msg.trace_ids, msg.experiment_ids or None
    )
    return {"trace_infos": [trace_info_json(i) for i in found]}


async def _readable(request: Request, asked: list[str]) -> list[str] | None:
    """The asked experiments the caller may read; None when that leaves nothing to search."""
    if not asked:
        raise CairnError.invalid("Missing value for required parameter 'experiment_ids'")
    ids = await run_in_threadpool(readable, request, ResourceType.EXPERIMENT, asked)
    if not ids and not identity(request).unrestricted:
        return None
    return ids


async def search_v3(request: Request, msg: SearchV3) -> wire.Json:
    asked = list(msg.experiment_ids)
    for location in msg.locations:
        experiment = get(location, "mlflow_experiment") or {}
        eid = get(experiment, "experiment_id") if isinstance(experiment, dict) else None
        if eid is None:
            raise CairnError.invalid(
                "Invalid locations: only MLflow experiment locations are supported"
            )
        asked.append(str(eid))
    ids = await _readable(request, asked)
    if ids is None:
        return {}
    page = await run_in_threadpool(
        traces(request).search, ids, msg.filter, msg.order_by, msg.max_results, msg.page_token
    )
    return wire.page("traces", [trace_info_json(i) for i in page.items], page.next_page_token)


async def search_v2(request: Request, msg: SearchV2) -> wire.Json:
    ids = await _readable(request, [e for x in msg.experiment_ids for e in x.split(",") if e])
    if ids is None:
        return {}
    page = await run_in_threadpool(
        traces(request).search, ids, msg.filter, msg.order_by, msg.max_results, msg.page_token
    )
    return wire.page("traces", [trace_info_v2_json(i) for i in page.items], page.next_page_token)


async def set_tag(request: Request, msg: SetTraceTag) -> wire.Json:
    await run_in_threadpool(traces(request).set_tag, _path_id(request), msg.key, msg.value)
    return {}


async def delete_tag(request: Request, msg: DeleteTraceTag) -> wire.Json:
    key = msg.key or request.query_params.get("key") or ""
    await run_in_threadpool(traces(request).delete_tag, _path_id(request), key)
    return {}


async def delete_traces(request: Request, msg: DeleteTraces) -> wire.Json:
    count = await run_in_threadpool(
        traces(request).delete_traces,
        msg.experiment_id,
        msg.max_timestamp_millis,
        msg.max_traces,
        [*msg.request_ids, *msg.trace_ids],
    )
    return {"traces_deleted": count}


async def link_to_run(request: Request, msg: LinkTracesToRun) -> wire.Json:
    await run_in_threadpool(traces(request).link_to_run, msg.trace_ids, msg.run_id)
    return {}


async def create_assessment(request: Request, msg: AssessmentBody) -> wire.Json:
    if msg.assessment is None:
        raise CairnError.invalid("Missing value for required parameter 'assessment'")
    x = parse_assessment(msg.assessment, _path_id(request))
    stored = await run_in_threadpool(traces(request).create_assessment, x)
    return {"assessment": assessment_json(stored)}


def _assessment_id(request: Request) -> str:
    found: str = request.path_params["assessment_id"]
    return found


async def get_assessment(request: Request, msg: NoBody) -> wire.Json:
    found = await run_in_threadpool(
        traces(request).get_assessment, _path_id(request), _assessment_id(request)
    )
    return {"assessment": assessment_json(found)}


async def update_assessment(request: Request, msg: AssessmentBody) -> wire.Json:
    if msg.assessment is None:
        raise CairnError.invalid("Missing value for required parameter 'assessment'")
    changes = parse_assessment(msg.assessment, _path_id(request))
    fields = parse_mask(msg.update_mask)
    found = await run_in_threadpool(
        traces(request).update_assessment,
        _path_id(request),
        _assessment_id(request),
        changes,
        fields,
    )
    return {"assessment": assessment_json(found)}


async def delete_assessment(request: Request, msg: NoBody) -> wire.Json:
    await run_in_threadpool(
        traces(request).delete_assessment, _path_id(request), _assessment_id(request)
    )
    return {}


VIEW_TYPES = {"0": "TRACES", "1": "SPANS", "2": "ASSESSMENTS"}
AGGREGATION_TYPES = {"0": "COUNT", "1": "SUM", "2": "AVG", "3": "PERCENTILE", "4": "MIN"}
AGGREGATION_TYPES["5"] = "MAX"


async def query_metrics(request: Request, msg: QueryTraceMetrics) -> wire.Json:
    ids = await _readable(request, list(msg.experiment_ids))
    if ids is None:
        return {}
    view = str(msg.view_type).upper()
    query = MetricQuery(
        experiment_ids=[n for i in ids if (n := decimal(i, signed=True)) is not None],
        view_type=VIEW_TYPES.get(view, view),
        metric_name=msg.metric_name,
        aggregations=[
            Aggregation(
                AGGREGATION_TYPES.get(str(a.aggregation_type), str(a.aggregation_type).upper()),
                a.percentile_value,
            )
            for a in msg.aggregations
        ],
        dimensions=list(msg.dimensions),
        filters=list(msg.filters),
        time_interval_seconds=msg.time_interval_seconds,
        start_time_ms=msg.start_time_ms,
        end_time_ms=msg.end_time_ms,
    )
    points = await run_in_threadpool(traces(request).metrics, query)
    return {
        "data_points": [
            {"metric_name": d.metric_name, "dimensions": d.dimensions, "values": d.values}
            for d in points
        ]
    }


async def trace_artifact(request: Request, msg: NoBody) -> Response:
    trace_id = msg.request_id or request.query_params.get("trace_id")
    if not trace_id:
        raise CairnError.invalid("Missing value for required parameter 'request_id'")
    data: wire.Json = await run_in_threadpool(traces(request).trace_data, trace_id)
    disposition = {"Content-Disposition": "attachment; filename=traces.json"}
    return json_response(data, headers=disposition)


class FilterCorrelation(Message):
    """POST /mlflow/traces/calculate-filter-correlation"""

    experiment_ids: IdList = []
    filter_string1: str = ""
    filter_string2: str = ""
    base_filter: str | None = None


async def filter_correlation(request: Request, msg: FilterCorrelation) -> wire.Json:
    ids = await _readable(request, list(msg.experiment_ids))
    if ids is None:
        ids = []
    found: wire.Json = await run_in_threadpool(
        traces(request).filter_correlation,
        ids,
        msg.filter_string1,
        msg.filter_string2,
        msg.base_filter,
    )
    # protobuf's JSON spells a NaN double "NaN"
    return {k: ("NaN" if isinstance(v, float) and math.isnan(v) else v) for k, v in found.items()}


TRACE = "/traces/{trace_id}"
ASSESSMENT = TRACE + "/assessments/{assessment_id}"
TRACE_READ = p.trace(READ)
TRACE_EDIT = p.trace(EDIT)
BY_LIST = p.trace(READ, "trace_ids")


def _both(*args: Any, **kwargs: Any) -> list[Endpoint]:
    """The endpoint under /api/2.0 and /api/3.0 (MLflow's clients use either)."""
    return [Endpoint(*args, **{**kwargs, "version": version}) for version in ("2.0", "3.0")]


ENDPOINTS = [
    *_both(
        ("POST",),
        "/traces",
        StartTrace,
        start,
        "Record a trace's info (3.x: StartTraceV3 with trace.trace_info; 2.x: StartTrace)",
        need=p.experiment(
            EDIT, "experiment_id", "trace.trace_info.trace_location.mlflow_experiment.experiment_id"
        ),
    ),
    *_both(
        ("GET",),
        "/traces",
        SearchV2,
        search_v2,
        "Search traces (2.x): experiment_ids, filter, order_by, page_token",
        need=p.USER_READ,
    ),
    *_both(
        ("POST",),
        "/traces/search",
        SearchV3,
        search_v3,
        "Search traces: locations, filter on attributes/tags/metadata/spans, order_by, paging",
        need=p.USER_READ,
    ),
    *_both(("GET",), "/traces/get", TraceRef, get_trace, "Get a trace with its spans", TRACE_READ),
    *_both(
        ("GET",),
        "/traces/batchGet",
        BatchGet,
        batch_get,
        "Get traces with their spans",
        need=BY_LIST,
    ),
    *_both(
        ("POST",),
        "/traces/batchGetInfos",
        BatchGet,
        batch_get_infos,
        "Get the infos of traces",
        need=BY_LIST,
    ),
    *_both(
        ("POST",),
        "/traces/delete-traces",
        DeleteTraces,
        delete_traces,
        "Delete traces of an experiment by id or by age",
        need=p.experiment(EDIT, "experiment_id"),
    ),
    *_both(
        ("POST",),
        "/traces/link-to-run",
        LinkTracesToRun,
        link_to_run,
        "Link traces to a run",
        need=p.experiment(
            EDIT,
            "run_id",
            names=p.Names.RUN_ID,
            also=p.trace(EDIT, "trace_ids").checks,
        ),
    ),
    *_both(
        ("POST",),
        "/traces/metrics",
        QueryTraceMetrics,
        query_metrics,
        "Trace metrics: counts, latencies and assessment values by dimension and time",
        need=p.experiment(READ, "experiment_ids"),
    ),
    *_both(
        ("POST",),
        "/traces/calculate-filter-correlation",
        FilterCorrelation,
        filter_correlation,
        "How two trace filters co-occur (counts and NPMI)",
        need=p.experiment(READ, "experiment_ids"),
    ),
    *_both(("GET",), TRACE, TraceRef, get_info, "Get a trace's info (3.x)", TRACE_READ),
    *_both(("PATCH",), TRACE, EndTrace, end, "End a trace (2.x)", TRACE_EDIT),
    *_both(
        ("GET",), TRACE + "/info", TraceRef, get_info_v2, "Get a trace's info (2.x)", TRACE_READ
    ),
    *_both(("PATCH",), TRACE + "/tags", SetTraceTag, set_tag, "Set a trace tag", TRACE_EDIT),
    *_both(
        ("DELETE",), TRACE + "/tags", DeleteTraceTag, delete_tag, "Delete a trace tag", TRACE_EDIT
    ),
    *_both(
        ("POST",),
        TRACE + "/assessments",
        AssessmentBody,
        create_assessment,
        "Log an assessment (feedback or expectation) on a trace",
        need=TRACE_EDIT,
    ),
    *_both(("GET",), ASSESSMENT, NoBody, get_assessment, "Get an assessment", TRACE_READ),
    *_both(
        ("PATCH",),
        ASSESSMENT,
        AssessmentBody,
        update_assessment,
        "Update an assessment (update_mask)",
        need=TRACE_EDIT,
    ),
    *_both(("DELETE",), ASSESSMENT, NoBody, delete_assessment, "Delete an assessment", TRACE_EDIT),
    Endpoint(
        ("GET",),
        "/get-trace-artifact",
        NoBody,
        trace_artifact,
        "The trace data file (traces.json: the spans) of a trace",
        need=p.trace(READ, "request_id", "trace_id"),
    ),
]
