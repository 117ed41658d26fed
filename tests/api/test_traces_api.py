"""Tracing over the wire, in-process on SQLite and PostgreSQL: OTLP ingest (protobuf, JSON,
gzip), the trace routes, search, assessments, metrics, the trace data file, bad input, change
events and access."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from starlette.testclient import TestClient

from cairn.entities.events import EventQuery
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store import events as event_store
from tests.api import basic, root_app

API2 = "/api/2.0/mlflow"
API3 = "/api/3.0/mlflow"
OTLP = "/v1/traces"
T0 = 1_767_225_600_000_000_000  # 2026-01-01 in ns


def otel_id(n: int, size: int) -> bytes:
    return n.to_bytes(size, "big")


def trace_id(n: int) -> str:
    return "tr-" + otel_id(n, 16).hex()


def attr(key: str, value: Any) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=value))


def span(
    trace: int,
    span_id: int,
    parent: int | None = None,
    name: str = "step",
    start: int = 0,
    ms: int = 5,
    status: int = Status.STATUS_CODE_OK,
    **attributes: Any,
) -> Span:
    out = Span(
        trace_id=otel_id(trace, 16),
        span_id=otel_id(span_id, 8),
        name=name,
        start_time_unix_nano=T0 + start * 1_000_000,
        end_time_unix_nano=T0 + (start + ms) * 1_000_000,
        status=Status(code=status),  # type: ignore[arg-type]
    )
    if parent is not None:
        out.parent_span_id = otel_id(parent, 8)
    out.attributes.extend(attr(k.replace("__", "."), v) for k, v in attributes.items())
    return out


def export(*spans: Span, service: str = "svc") -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(attr("service.name", service))
    rs.scope_spans.add().spans.extend(spans)
    data: bytes = request.SerializeToString()
    return data


def post_otlp(
    client: TestClient,
    eid: str,
    body: bytes,
    content_type: str = "application/x-protobuf",
    **h: str,
) -> Any:
    headers = {"content-type": content_type, "x-mlflow-experiment-id": eid, **h}
    return client.post(OTLP, content=body, headers=headers)


def ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json() if resp.content else {}
    return body


def error(resp: Any, status: int, code: str = "INVALID_PARAMETER_VALUE") -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


def experiment(client: TestClient, name: str = "traces") -> str:
    resp = client.post(f"{API2}/experiments/create", json={"name": name})
    eid: str = ok(resp)["experiment_id"]
    return eid


def search(client: TestClient, eid: str, filter_text: str = "", **extra: Any) -> list[str]:
    body = {"locations": [{"mlflow_experiment": {"experiment_id": eid}}], **extra}
    if filter_text:
        body["filter"] = filter_text
    found = ok(client.post(f"{API3}/traces/search", json=body)).get("traces", [])
    return [t["trace_id"] for t in found]


def two_traces(client: TestClient, eid: str) -> None:
    first = export(
        span(
            1,
            1,
            name="agent",
            ms=30,
            mlflow__spanType="AGENT",
            mlflow__spanInputs='{"q": 1}',
        ),
        span(1, 2, parent=1, name="retrieve", start=1, ms=10, mlflow__spanType="RETRIEVER"),
        span(1, 3, parent=1, name="llm", start=12, ms=15, model="gpt", tokens=42),
    )
    second = export(
        span(2, 4, name="agent", start=100, ms=80, status=Status.STATUS_CODE_ERROR),
        service="other",
    )
    ok(post_otlp(client, eid, first))
    ok(post_otlp(client, eid, second))


def test_otlp_protobuf_ingest_and_get(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    resp = post_otlp(client, eid, export(span(1, 1, name="root"), span(1, 2, parent=1, name="kid")))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/x-protobuf"
    trace = ok(client.get(f"{API3}/traces/get", params={"trace_id": trace_id(1)}))["trace"]
    info = trace["trace_info"]
    assert info["trace_id"] == trace_id(1)
    assert info["trace_location"]["mlflow_experiment"]["experiment_id"] == eid
    assert info["state"] == "OK"
    assert info["execution_duration"] == "0.005s"
    assert info["request_time"] == "2026-01-01T00:00:00.000Z"
    assert info["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert info["tags"]["mlflow.traceName"] == "root"
    assert info["tags"]["service.name"] == "svc"
    spans = {s["name"]: s for s in trace["spans"]}
    assert set(spans) == {"root", "kid"}
    assert spans["kid"]["parent_span_id"] == spans["root"]["span_id"]
    attrs = {a["key"]: a["value"] for a in spans["root"]["attributes"]}
    assert attrs["mlflow.traceRequestId"] == {"string_value": trace_id(1)}
    # the same trace through the other read paths
    got = ok(client.get(f"{API3}/traces/{trace_id(1)}"))["trace"]["trace_info"]
    assert got["trace_id"] == trace_id(1)
    batch = ok(client.get(f"{API3}/traces/batchGet", params={"trace_ids": [trace_id(1)]}))
    assert [len(t["spans"]) for t in batch["traces"]] == [2]
    scoped = {"trace_ids": [trace_id(1)], "experiment_ids": [eid]}
    assert len(ok(client.get(f"{API3}/traces/batchGet", params=scoped))["traces"]) == 1
    elsewhere = {"trace_ids": [trace_id(1)], "experiment_ids": [experiment(client, "elsewhere")]}
    assert ok(client.get(f"{API3}/traces/batchGet", params=elsewhere)) == {"traces": []}
    v2 = ok(client.get(f"{API2}/traces/{trace_id(1)}/info"))["trace_info"]
    assert v2["request_id"] == trace_id(1)
    assert v2["execution_time_ms"] == 5
    data = ok(
        client.get("/ajax-api/2.0/mlflow/get-trace-artifact", params={"request_id": trace_id(1)})
    )
    names = sorted(s["name"] for s in data["spans"])
    assert names == ["kid", "root"]
    root = next(s for s in data["spans"] if s["name"] == "root")
    assert json.loads(root["attributes"]["mlflow.traceRequestId"]) == trace_id(1)


def test_otlp_json_and_gzip(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": otel_id(7, 16).hex(),
                                "spanId": otel_id(1, 8).hex(),
                                "name": "json-root",
                                "kind": 1,
                                "startTimeUnixNano": str(T0),
                                "endTimeUnixNano": str(T0 + 2_000_000),
                                "attributes": [
                                    {"key": "n", "value": {"intValue": "3"}},
                                    {
                                        "key": "m",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "a", "value": {"boolValue": True}}
                                                ]
                                            }
                                        },
                                    },
                                ],
                                "events": [
                                    {"name": "ev", "timeUnixNano": str(T0 + 1), "attributes": []}
                                ],
                                "status": {"code": 1},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    resp = post_otlp(client, eid, json.dumps(doc).encode(), "application/json")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    zipped = gzip.compress(export(span(8, 1, name="gz-root")))
    ok(post_otlp(client, eid, zipped, **{"content-encoding": "gzip"}))
    zipped_json = gzip.compress(json.dumps(doc).encode())
    ok(post_otlp(client, eid, zipped_json, "application/json", **{"content-encoding": "gzip"}))
    trace = ok(client.get(f"{API3}/traces/get", params={"trace_id": trace_id(7)}))["trace"]
    (only,) = trace["spans"]
    attrs = {a["key"]: a["value"] for a in only["attributes"]}
    assert attrs["n"] == {"int_value": 3}
    assert attrs["m"] == {"kvlist_value": {"values": [{"key": "a", "value": {"bool_value": True}}]}}
    assert only["events"][0]["name"] == "ev"
    assert set(search(client, eid)) == {trace_id(7), trace_id(8)}


def test_otlp_bad_input_is_4xx_and_stores_nothing(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    other = experiment(client, "other")
    assert "protobuf" in error(post_otlp(client, eid, b"\xff\xff\xff\x00garbage"), 400)
    assert "gzip" in error(post_otlp(client, eid, b"not gzip", **{"content-encoding": "gzip"}), 400)
    assert "OTLP JSON" in error(post_otlp(client, eid, b"{nope", "application/json"), 400)
    error(post_otlp(client, eid, b"x", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    bad_id = export(span(1, 1))
    parsed = ExportTraceServiceRequest()
    parsed.ParseFromString(bad_id)
    parsed.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01\x02"
    assert "span_id" in error(post_otlp(client, eid, parsed.SerializeToString()), 400)
    # all or nothing: one bad span in a batch keeps none of it
    good_and_bad = ExportTraceServiceRequest()
    good_and_bad.ParseFromString(export(span(3, 1, name="fine"), span(3, 2, parent=1)))
    good_and_bad.resource_spans[0].scope_spans[0].spans[1].trace_id = b"\x00"
    error(post_otlp(client, eid, good_and_bad.SerializeToString()), 400)
    assert search(client, eid) == []
    # missing or unknown experiment, wrong experiment for an existing trace
    resp = client.post(
        OTLP, content=export(span(4, 1)), headers={"content-type": "application/x-protobuf"}
    )
    assert "x-mlflow-experiment-id" in error(resp, 400)
    error(post_otlp(client, "999999", export(span(4, 1))), 404, "RESOURCE_DOES_NOT_EXIST")
    error(post_otlp(client, "abc", export(span(4, 1))), 400)
    ok(post_otlp(client, eid, export(span(5, 1))))
    message = error(post_otlp(client, other, export(span(5, 2, parent=1))), 400)
    assert "belongs to experiment" in message
    # oversized, compressed or not (a gzip bomb inflates past the limit)
    small = Settings(backend_store_uri="sqlite:///:memory:").max_request_bytes
    bomb = gzip.compress(b"\x00" * (small + 10))
    error(
        post_otlp(client, eid, bomb, **{"content-encoding": "gzip"}), 413, "REQUEST_LIMIT_EXCEEDED"
    )
    error(post_otlp(client, eid, b"\x00" * (small + 10)), 413, "REQUEST_LIMIT_EXCEEDED")
    assert search(client, eid) == [trace_id(5)]


def test_start_trace_v3_completes_the_spans_trace(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    ok(post_otlp(client, eid, export(span(9, 1, name="root", ms=40))))
    info = {
        "trace_id": trace_id(9),
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": eid},
        },
        "request_time": "2026-01-01T00:00:00.000Z",
        "execution_duration": "0.040s",
        "state": "OK",
        "request_preview": '{"q": "hi"}',
        "response_preview": '"hello"',
        "trace_metadata": {"mlflow.sourceRun": "r-1", "mlflow.user": "me"},
        "tags": {"team": "red"},
    }
    out = ok(client.post(f"{API3}/traces", json={"trace": {"trace_info": info}}))
    stored = out["trace"]["trace_info"]
    assert stored["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert stored["tags"]["team"] == "red"
    assert stored["trace_metadata"]["mlflow.user"] == "me"
    assert stored["request_preview"] == '{"q": "hi"}'
    assert stored["tags"]["mlflow.artifactLocation"].endswith(
        f"/{eid}/traces/{trace_id(9)}/artifacts"
    )
    # a trace whose info comes first (no spans yet): stored, spans location not claimed
    info2 = {**info, "trace_id": trace_id(10), "tags": {}}
    stored2 = ok(client.post(f"{API3}/traces", json={"trace": {"trace_info": info2}}))["trace"][
        "trace_info"
    ]
    assert "mlflow.trace.spansLocation" not in stored2["tags"]
    bad = {**info, "trace_location": {"mlflow_experiment": {}}}
    error(client.post(f"{API3}/traces", json={"trace": {"trace_info": bad}}), 400)
    bad_time = {**info, "trace_id": trace_id(11), "request_time": "yesterday"}
    assert "request_time" in error(
        client.post(f"{API3}/traces", json={"trace": {"trace_info": bad_time}}), 400
    )
    bad_state = {**info, "trace_id": trace_id(11), "state": "SLEEPY"}
    assert "state" in error(
        client.post(f"{API3}/traces", json={"trace": {"trace_info": bad_state}}), 400
    )


def test_search_filters_order_and_pages(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    two_traces(client, eid)
    one, two = trace_id(1), trace_id(2)
    assert search(client, eid) == [two, one]  # newest first
    assert search(client, eid, order_by=["timestamp_ms ASC"]) == [one, two]
    assert search(client, eid, order_by=["execution_time_ms DESC"]) == [two, one]
    assert search(client, eid, "trace.status = 'ERROR'") == [two]
    assert search(client, eid, "status = 'OK'") == [one]
    assert search(client, eid, "tags.`service.name` = 'other'") == [two]
    assert search(client, eid, "tags.`service.name` LIKE 'ot%'") == [two]
    assert search(client, eid, "tags.`service.name` ILIKE 'SV%'") == [one]
    assert search(client, eid, "span.name = 'retrieve'") == [one]
    assert search(client, eid, "span.name LIKE 'ag%'") == [two, one]
    assert search(client, eid, "span.type = 'RETRIEVER'") == [one]
    assert search(client, eid, "span.attributes.model = 'gpt'") == [one]
    assert search(client, eid, "span.status = 'ERROR'") == [two]
    assert search(client, eid, "execution_time_ms > 50") == [two]
    assert search(client, eid, "name = 'agent' AND trace.status = 'OK'") == [one]
    assert search(client, eid, "span.name = 'llm' OR trace.status = 'ERROR'") == [two, one]
    ok(client.patch(f"{API2}/traces/{one}/tags", json={"key": "k", "value": "v"}))
    assert search(client, eid, "tags.k = 'v'") == [one]
    first = ok(
        client.post(f"{API3}/traces/search", json={"experiment_ids": [eid], "max_results": 1})
    )
    assert [t["trace_id"] for t in first["traces"]] == [two]
    rest = ok(
        client.post(
            f"{API3}/traces/search",
            json={
                "experiment_ids": [eid],
                "max_results": 1,
                "page_token": first["next_page_token"],
            },
        )
    )
    assert [t["trace_id"] for t in rest["traces"]] == [one]
    assert "next_page_token" not in rest
    v2 = ok(client.get(f"{API2}/traces", params={"experiment_ids": eid, "filter": "tags.k = 'v'"}))
    assert [t["request_id"] for t in v2["traces"]] == [one]
    assert "span." in error(
        client.post(
            f"{API3}/traces/search", json={"experiment_ids": [eid], "filter": "span.nope = 'x'"}
        ),
        400,
    )
    for hostile in ["span.`attributes.a\"b` = 'x'", "span.`attributes.a\\b` = 'x'"]:
        body = {"experiment_ids": [eid], "filter": hostile}
        assert "span attribute key" in error(client.post(f"{API3}/traces/search", json=body), 400)
    body = {"experiment_ids": [eid], "filter": "span.`attributes.a.b c` = 'x'"}
    assert search(client, eid, body["filter"]) == []
    error(
        client.post(f"{API3}/traces/search", json={"experiment_ids": [eid], "filter": "tags.k ="}),
        400,
    )
    error(
        client.post(
            f"{API3}/traces/search", json={"experiment_ids": [eid], "order_by": ["tags.k"]}
        ),
        400,
    )
    error(
        client.post(f"{API3}/traces/search", json={"experiment_ids": [eid], "page_token": "junk"}),
        400,
    )
    error(client.post(f"{API3}/traces/search", json={}), 400)


def test_text_search_and_filter_correlation(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    two_traces(client, eid)
    one, two = trace_id(1), trace_id(2)
    assert search(client, eid, "trace.text LIKE '%gpt%'") == [one]
    assert search(client, eid, "trace.text LIKE '%agent%'") == [two, one]
    assert search(client, eid, "trace.text ILIKE '%RETRIEVER%'") == [one]
    body = {
        "experiment_ids": [eid],
        "filter_string1": "span.name = 'llm'",
        "filter_string2": "trace.status = 'OK'",
    }
    found = ok(client.post(f"{API3}/traces/calculate-filter-correlation", json=body))
    assert found["total_count"] == 2
    assert (found["filter1_count"], found["filter2_count"], found["joint_count"]) == (1, 1, 1)
    assert found["npmi"] == 1.0
    none = {**body, "filter_string1": "tags.nothing = 'x'"}
    found = ok(client.post(f"{API3}/traces/calculate-filter-correlation", json=none))
    assert found["npmi"] == "NaN"
    bad = {**body, "filter_string1": "invalid.filter = 'x'"}
    assert "Invalid" in error(
        client.post(f"{API3}/traces/calculate-filter-correlation", json=bad), 400
    )
    resp = client.get("/ajax-api/2.0/mlflow/get-trace-artifact", params={"request_id": one})
    assert resp.headers["content-disposition"] == "attachment; filename=traces.json"
    attributes = next(s for s in resp.json()["spans"] if s["name"] == "agent")["attributes"]
    assert attributes["mlflow.spanType"] == '"AGENT"'


def test_tags_delete_and_link(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    two_traces(client, eid)
    one, two = trace_id(1), trace_id(2)
    ok(client.patch(f"{API2}/traces/{one}/tags", json={"key": "a", "value": "1"}))
    ok(client.request("DELETE", f"{API2}/traces/{one}/tags", json={"key": "a"}))
    error(
        client.request("DELETE", f"{API2}/traces/{one}/tags", json={"key": "a"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        client.patch(f"{API2}/traces/tr-{'0' * 32}/tags", json={"key": "a", "value": "1"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(client.patch(f"{API2}/traces/{one}/tags", json={"key": "../x", "value": "1"}), 400)
    run = ok(client.post(f"{API2}/runs/create", json={"experiment_id": eid}))["run"]["info"][
        "run_id"
    ]
    ok(client.post(f"{API2}/traces/link-to-run", json={"trace_ids": [two], "run_id": run}))
    assert search(client, eid, f"run_id = '{run}'") == [two]
    error(
        client.post(f"{API2}/traces/link-to-run", json={"trace_ids": [two], "run_id": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(client.post(f"{API2}/traces/delete-traces", json={"experiment_id": eid}), 400)
    both = {"experiment_id": eid, "request_ids": [one], "max_timestamp_millis": 5}
    error(client.post(f"{API2}/traces/delete-traces", json=both), 400)
    by_ids = {"experiment_id": eid, "request_ids": [one, "tr-unknown"]}
    assert ok(client.post(f"{API2}/traces/delete-traces", json=by_ids)) == {"traces_deleted": 1}
    error(
        client.get(f"{API3}/traces/get", params={"trace_id": one}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    by_age = {"experiment_id": eid, "max_timestamp_millis": T0 // 1_000_000 + 1000, "max_traces": 5}
    assert ok(client.post(f"{API2}/traces/delete-traces", json=by_age)) == {"traces_deleted": 1}
    assert search(client, eid) == []


def test_assessments_and_metrics(any_client: TestClient) -> None:
    client = any_client
    eid = experiment(client)
    two_traces(client, eid)
    one = trace_id(1)
    feedback = {
        "assessment_name": "helpful",
        "trace_id": one,
        "source": {"source_type": "HUMAN", "source_id": "me"},
        "feedback": {"value": 0.75},
        "rationale": "fine",
        "metadata": {"k": "v"},
    }
    made = ok(client.post(f"{API3}/traces/{one}/assessments", json={"assessment": feedback}))[
        "assessment"
    ]
    aid = made["assessment_id"]
    assert made["feedback"] == {"value": 0.75}
    assert made["source"]["source_id"] == "me"
    got = ok(client.get(f"{API3}/traces/{one}/assessments/{aid}"))["assessment"]
    assert got["rationale"] == "fine"
    assert got["metadata"] == {"k": "v"}
    assert got["valid"] is True
    change = {
        "assessment": {"feedback": {"value": 1.0}, "rationale": "better"},
        "update_mask": "feedback,rationale",
    }
    updated = ok(client.patch(f"{API3}/traces/{one}/assessments/{aid}", json=change))["assessment"]
    assert updated["feedback"] == {"value": 1.0}
    assert updated["rationale"] == "better"
    expectation = {
        "assessment_name": "expected",
        "source": {"source_type": "HUMAN"},
        "expectation": {"value": ["a", "b"]},
    }
    made = ok(client.post(f"{API3}/traces/{one}/assessments", json={"assessment": expectation}))
    serialized = made["assessment"]["expectation"]["serialized_value"]
    assert serialized["serialization_format"] == "JSON_FORMAT"
    assert json.loads(serialized["value"]) == ["a", "b"]
    info = ok(client.get(f"{API3}/traces/{one}"))["trace"]["trace_info"]
    assert sorted(a["assessment_name"] for a in info["assessments"]) == ["expected", "helpful"]
    bad_mask = {"assessment": {}, "update_mask": "trace_id"}
    error(client.patch(f"{API3}/traces/{one}/assessments/{aid}", json=bad_mask), 400)
    error(
        client.post(
            f"{API3}/traces/{one}/assessments", json={"assessment": {"assessment_name": "x"}}
        ),
        400,
    )
    error(
        client.post(
            f"{API3}/traces/{one}/assessments",
            json={"assessment": {**feedback, "source": {"source_type": "ROBOT"}}},
        ),
        400,
    )
    error(client.get(f"{API3}/traces/{one}/assessments/a-nope"), 404, "RESOURCE_DOES_NOT_EXIST")

    def metric(**body: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ok(
            client.post(f"{API3}/traces/metrics", json={"experiment_ids": [eid], **body})
        ).get("data_points", [])
        return found

    counts = metric(
        view_type="TRACES",
        metric_name="trace_count",
        aggregations=[{"aggregation_type": "COUNT"}],
        dimensions=["trace_status"],
    )
    assert {p["dimensions"]["trace_status"]: p["values"]["COUNT"] for p in counts} == {
        "OK": 1.0,
        "ERROR": 1.0,
    }
    latency = metric(
        view_type="TRACES",
        metric_name="latency",
        aggregations=[
            {"aggregation_type": "AVG"},
            {"aggregation_type": "PERCENTILE", "percentile_value": 50},
        ],
    )
    assert latency[0]["values"] == {"AVG": 55.0, "P50.0": 55.0}
    spans = metric(
        view_type="SPANS",
        metric_name="span_count",
        aggregations=[{"aggregation_type": "COUNT"}],
        dimensions=["span_name"],
    )
    assert {p["dimensions"]["span_name"]: p["values"]["COUNT"] for p in spans} == {
        "agent": 2.0,
        "retrieve": 1.0,
        "llm": 1.0,
    }
    scores = metric(
        view_type="ASSESSMENTS",
        metric_name="assessment_value",
        aggregations=[{"aggregation_type": "MAX"}],
        dimensions=["assessment_name"],
    )
    assert scores == [
        {
            "metric_name": "assessment_value",
            "dimensions": {"assessment_name": "helpful"},
            "values": {"MAX": 1.0},
        }
    ]
    filtered = metric(
        view_type="TRACES",
        metric_name="trace_count",
        aggregations=[{"aggregation_type": "COUNT"}],
        filters=["span.name = 'llm'"],
        time_interval_seconds=3600,
    )
    assert filtered == [
        {
            "metric_name": "trace_count",
            "dimensions": {"time_bucket": "2026-01-01T00:00:00+00:00"},
            "values": {"COUNT": 1.0},
        }
    ]
    error(
        client.post(
            f"{API3}/traces/metrics",
            json={
                "experiment_ids": [eid],
                "metric_name": "nope",
                "aggregations": [{"aggregation_type": "COUNT"}],
            },
        ),
        400,
    )
    ok(client.request("DELETE", f"{API3}/traces/{one}/assessments/{aid}"))
    error(client.get(f"{API3}/traces/{one}/assessments/{aid}"), 404, "RESOURCE_DOES_NOT_EXIST")
    usage = '{"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}'
    info = {
        "trace_id": one,
        "trace_location": {"mlflow_experiment": {"experiment_id": eid}},
        "request_time": "2026-01-01T00:00:00Z",
        "state": "OK",
        "trace_metadata": {"mlflow.trace.tokenUsage": usage},
    }
    ok(client.post(f"{API3}/traces", json={"trace": {"trace_info": info}}))
    tokens = metric(
        view_type="TRACES",
        metric_name="total_tokens",
        aggregations=[{"aggregation_type": "SUM"}, {"aggregation_type": "COUNT"}],
    )
    assert tokens[0]["values"] == {"SUM": 15.0, "COUNT": 1.0}


def test_version_is_the_mlflow_api_version_and_cairns_own_is_elsewhere(
    client: TestClient,
) -> None:
    from cairn._version import __version__

    assert client.get("/version").text == "3.9.0"  # mlflow 3.x exports spans to ≥ 3.4
    assert ok(client.get("/api/v1/version")) == {
        "version": __version__,
        "mlflow_api_version": "3.9.0",
    }
    assert ok(client.get("/api/3.0/mlflow/server-info"))["version"] == __version__


def test_unsupported_features_name_themselves(client: TestClient) -> None:
    for path, feature in [
        (f"{API3}/datasets/search", "Evaluation datasets"),
        (f"{API3}/scorers/list", "Scorers"),
        ("/ajax-api/3.0/mlflow/gateway/endpoints", "AI gateway"),
        ("/ajax-api/2.0/mlflow/runs/create-promptlab-run", "Prompt lab runs"),
    ]:
        message = error(client.post(path, json={}), 404, "ENDPOINT_NOT_FOUND")
        assert feature in message, message


def test_change_events_one_per_batch(any_client: TestClient) -> None:
    client = any_client
    db = root_app(client.app).state.db
    eid = experiment(client)
    mark = db.read(event_store.head)[0]
    many = [
        span(20 + t, 1 + s, parent=None if s == 0 else 1, name=f"s{s}")
        for t in range(5)
        for s in range(10)
    ]
    ok(post_otlp(client, eid, export(*many)))
    query = EventQuery(after_id=mark, ascending=True, limit=100)
    found = [e for e in db.read(lambda c: event_store.search(c, query)) if e.entity_type == "trace"]
    assert [e.action for e in found] == ["trace.spans_log"]
    assert found[0].after is not None
    assert found[0].after["trace_count"] == 5
    assert found[0].after["span_count"] == 50
    assert found[0].experiment_id == eid
    mark = found[0].id
    error(post_otlp(client, eid, b"\xff\xff"), 400)
    ok(client.patch(f"{API2}/traces/{trace_id(20)}/tags", json={"key": "a", "value": "b"}))
    query = EventQuery(after_id=mark, ascending=True, limit=100)
    found = [e for e in db.read(lambda c: event_store.search(c, query)) if e.entity_type == "trace"]
    assert [e.action for e in found] == ["trace.tag_set"]


ADMIN, ADMIN_PASSWORD = "root", "root's long password"
READER, READER_PASSWORD = "reader", "reader's long password"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    mp.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'a.db'}",
        auth=True,
        default_permission="NO_PERMISSIONS",
    )
    try:
        with TestClient(create_app(settings)) as client:
            yield client
    finally:
        mp.undo()


def test_readers_read_and_cannot_write(guarded: TestClient) -> None:
    client = guarded
    admin = basic(ADMIN, ADMIN_PASSWORD)
    access = root_app(client.app).state.access
    access.create_user(READER, READER_PASSWORD)
    eid = ok(client.post(f"{API2}/experiments/create", json={"name": "guarded"}, headers=admin))[
        "experiment_id"
    ]
    hidden = ok(client.post(f"{API2}/experiments/create", json={"name": "hidden"}, headers=admin))[
        "experiment_id"
    ]
    grant = {"experiment_id": eid, "username": READER, "permission": "READ"}
    ok(client.post(f"{API2}/experiments/permissions/create", json=grant, headers=admin))
    headers = {"content-type": "application/x-protobuf", "x-mlflow-experiment-id": eid, **admin}
    ok(client.post(OTLP, content=export(span(1, 1)), headers=headers))
    ok(
        client.post(
            OTLP, content=export(span(2, 1)), headers={**headers, "x-mlflow-experiment-id": hidden}
        )
    )
    reader = basic(READER, READER_PASSWORD)
    refused = client.post(
        OTLP,
        content=export(span(3, 1)),
        headers={**reader, "content-type": "application/x-protobuf", "x-mlflow-experiment-id": eid},
    )
    error(refused, 403, "PERMISSION_DENIED")
    error(
        client.patch(
            f"{API2}/traces/{trace_id(1)}/tags", json={"key": "a", "value": "b"}, headers=reader
        ),
        403,
        "PERMISSION_DENIED",
    )
    error(
        client.get(f"{API3}/traces/get", params={"trace_id": trace_id(2)}, headers=reader),
        403,
        "PERMISSION_DENIED",
    )
    found = ok(
        client.post(f"{API3}/traces/search", json={"experiment_ids": [hidden]}, headers=reader)
    )
    assert found == {}
