"""OTLP/HTTP against a live ``cairn server`` with httpx, as an OpenTelemetry exporter sends it:
protobuf, JSON and gzip; bad bodies answered 4xx; what was sent readable with the stock
mlflow 3.x client; nothing answered 5xx (the server log shows no internal error)."""

from __future__ import annotations

import gzip
import subprocess

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.compat.server import CairnServer
from tests.compat.test_stock_client import client_env, client_python, tail

T0 = 1_767_225_600_000_000_000
READ_BACK = """
import sys, mlflow
trace = mlflow.get_trace(sys.argv[1])
assert sorted(s.name for s in trace.data.spans) == ["child", "root"], trace.data.spans
child = next(s for s in trace.data.spans if s.name == "child")
assert child.attributes["model"] == "m-1", child.attributes
assert child.parent_id == next(s for s in trace.data.spans if s.name == "root").span_id
found = mlflow.search_traces(locations=[sys.argv[2]], filter_string="span.name = 'child'",
                             return_type="list")
assert sys.argv[1] in [t.info.trace_id for t in found], found
assert mlflow.search_traces(locations=[sys.argv[2]], filter_string="span.name = 'json'",
                            return_type="list")[0].info.trace_id.endswith("3")
print("read back ok")
"""


def _request(trace: int) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="x")))
    spans = rs.scope_spans.add().spans
    root = spans.add(
        trace_id=trace.to_bytes(16, "big"),
        span_id=(1).to_bytes(8, "big"),
        name="root",
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 9_000_000,
        status=Status(code=Status.STATUS_CODE_OK),
    )
    child = Span(
        trace_id=root.trace_id,
        span_id=(2).to_bytes(8, "big"),
        parent_span_id=root.span_id,
        name="child",
        start_time_unix_nano=T0 + 1_000_000,
        end_time_unix_nano=T0 + 5_000_000,
    )
    child.attributes.append(KeyValue(key="model", value=AnyValue(string_value="m-1")))
    spans.append(child)
    data: bytes = request.SerializeToString()
    return data


def test_otlp_over_http(cairn_server: CairnServer) -> None:
    offset = cairn_server.log_offset()
    with httpx.Client(base_url=cairn_server.url, timeout=30) as http:
        created = http.post(
            "/api/2.0/mlflow/experiments/create", json={"name": f"otlp-{cairn_server.backend}"}
        )
        assert created.status_code == 200, created.text
        eid = created.json()["experiment_id"]
        headers = {"x-mlflow-experiment-id": eid}
        proto = {**headers, "content-type": "application/x-protobuf"}
        resp = http.post("/v1/traces", content=_request(1), headers=proto)
        assert resp.status_code == 200, resp.text
        zipped = {**proto, "content-encoding": "gzip"}
        resp = http.post("/v1/traces", content=gzip.compress(_request(2)), headers=zipped)
        assert resp.status_code == 200, resp.text
        doc = {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": (3).to_bytes(16, "big").hex(),
                                    "spanId": (1).to_bytes(8, "big").hex(),
                                    "name": "json",
                                    "startTimeUnixNano": str(T0),
                                    "endTimeUnixNano": str(T0 + 1000),
                                }
                            ]
                        }
                    ]
                }
            ]
        }
        resp = http.post("/v1/traces", json=doc, headers=headers)
        assert resp.status_code == 200, resp.text
        bad = [
            http.post("/v1/traces", content=b"\xff\xfe junk", headers=proto),
            http.post("/v1/traces", content=b"junk", headers=zipped),
            http.post(
                "/v1/traces", content=b"{", headers={**headers, "content-type": "application/json"}
            ),
            http.post(
                "/v1/traces",
                content=_request(4),
                headers={"content-type": "application/x-protobuf"},
            ),
            http.post(
                "/v1/traces",
                content=_request(4),
                headers={**proto, "x-mlflow-experiment-id": "424242"},
            ),
        ]
        assert [r.status_code for r in bad] == [400, 400, 400, 400, 404], [r.text for r in bad]
        found = http.post("/api/3.0/mlflow/traces/search", json={"experiment_ids": [eid]})
        ids = sorted(t["trace_id"] for t in found.json()["traces"])
        assert ids == sorted(f"tr-{n.to_bytes(16, 'big').hex()}" for n in (1, 2, 3)), ids
    run = subprocess.run(
        [
            str(client_python("mlflow3")),
            "-c",
            READ_BACK,
            f"tr-{(1).to_bytes(16, 'big').hex()}",
            eid,
        ],
        env=client_env(cairn_server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, tail(run.stdout + run.stderr)
    log = cairn_server.log_since(offset)
    assert "internal error" not in log, log
    assert "Traceback" not in log, log
