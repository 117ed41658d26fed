"""MLflow's trace messages in JSON (protobuf's JSON mapping, snake_case as MLflow writes it;
camelCase read too) and OTLP's span encodings (protobuf and JSON) to and from the trace
entities.

* A trace info's ``request_time`` is an RFC 3339 timestamp, ``execution_duration`` a
  duration such as ``"0.046s"``.
* Spans go out as OpenTelemetry protobuf spans in JSON: ids in base64, attribute values as
  ``AnyValue`` (``string_value``, ``int_value``, ``kvlist_value``…).
* OTLP/JSON (``POST /v1/traces``) carries ids in hex and lowerCamelCase names, per the OTLP
  specification.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from cairn.entities.errors import CairnError
from cairn.entities.traces import Assessment, Span, TraceInfo

Json = dict[str, Any]
STATUS_CODES = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
SPAN_KINDS = (
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
)
MAX_DEPTH = 32


def get(obj: Json, name: str, default: Any = None) -> Any:
    """``obj[name]`` under its snake_case or lowerCamelCase name."""
    if name in obj:
        return obj[name]
    parts = name.split("_")
    camel = parts[0] + "".join(p.title() for p in parts[1:])
    return obj.get(camel, default)


def _dict(value: Any, field: str) -> Json:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CairnError.invalid(f"Invalid value for parameter '{field}': expected an object")
    return value


def _pairs(value: Any, field: str) -> dict[str, str]:
    """A protobuf map (``{"k": "v"}``) or MLflow's key/value list (``[{"key","value"}]``)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        out = {}
        for item in value:
            if not isinstance(item, dict) or "key" not in item:
                raise CairnError.invalid(
                    f"Invalid value for parameter '{field}': expected key/value objects"
                )
            out[str(item["key"])] = "" if item.get("value") is None else str(item["value"])
        return out
    raise CairnError.invalid(f"Invalid value for parameter '{field}': expected a map")


# ---- times ----


def timestamp_json(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def duration_json(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}s"


def parse_timestamp(value: Any, field: str) -> int:
    """ms since the epoch from an RFC 3339 string (or a number of ms, or
    ``{"seconds", "nanos"}``)."""
    if value is None or value == "":
        return 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, dict):
        seconds = int(get(value, "seconds", 0) or 0)
        return seconds * 1000 + int(get(value, "nanos", 0) or 0) // 1_000_000
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            head, dot, rest = text.partition(".")
            frac = ""
            zone = ""
            if dot:
                i = 0
                while i < len(rest) and rest[i] in "0123456789":
                    i += 1
                frac, zone = rest[:i], rest[i:]
            else:
                for sep in ("+", "-"):
                    if sep in head[10:]:
                        cut = head.rindex(sep)
                        head, zone = head[:cut], head[cut:]
                        break
            moment = datetime.fromisoformat(head + (zone or "+00:00"))
            ms = int(moment.timestamp()) * 1000
            return ms + int((frac + "000")[:3]) if frac else ms
        except ValueError:
            pass
    raise CairnError.invalid(f"Invalid value {str(value)[:60]!r} for parameter '{field}'")


def parse_duration(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.endswith("s"):
        try:
            return round(float(value[:-1]) * 1000)
        except ValueError:
            pass
    if isinstance(value, dict):
        return int(get(value, "seconds", 0) or 0) * 1000 + int(get(value, "nanos", 0) or 0) // (
            1_000_000
        )
    raise CairnError.invalid(f"Invalid value {str(value)[:60]!r} for parameter '{field}'")


# ---- trace info ----


def trace_info_json(info: TraceInfo) -> Json:
    out: Json = {
        "trace_id": info.trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": info.experiment_id},
        },
        "request_time": timestamp_json(info.request_time),
        "state": info.state,
        "trace_metadata": dict(info.metadata),
        "tags": dict(info.tags),
    }
    if info.execution_duration is not None:
        out["execution_duration"] = duration_json(info.execution_duration)
    if info.client_request_id:
        out["client_request_id"] = info.client_request_id
    if info.request_preview is not None:
        out["request_preview"] = info.request_preview
    if info.response_preview is not None:
        out["response_preview"] = info.response_preview
    if info.assessments:
        out["assessments"] = [assessment_json(a) for a in info.assessments]
    return out


V2_STATUS = {"STATE_UNSPECIFIED": "TRACE_STATUS_UNSPECIFIED"}


def trace_info_v2_json(info: TraceInfo) -> Json:
    """The 2.x ``TraceInfo``: ``request_id``, ms numbers, key/value lists."""
    out: Json = {
        "request_id": info.trace_id,
        "experiment_id": info.experiment_id,
        "timestamp_ms": info.request_time,
        "status": V2_STATUS.get(info.state, info.state),
        "request_metadata": [{"key": k, "value": v} for k, v in info.metadata.items()],
        "tags": [{"key": k, "value": v} for k, v in info.tags.items()],
    }
    if info.execution_duration is not None:
        out["execution_time_ms"] = info.execution_duration
    return out


def parse_trace_info(body: Any) -> TraceInfo:
    """A 3.x ``TraceInfoV3`` object."""
    info = _dict(body, "trace.trace_info")
    location = _dict(get(info, "trace_location"), "trace_location")
    experiment = _dict(get(location, "mlflow_experiment"), "trace_location.mlflow_experiment")
    experiment_id = get(experiment, "experiment_id")
    if not experiment_id:
        raise CairnError.invalid(
            "Missing value for required parameter "
            "'trace_location.mlflow_experiment.experiment_id' (only experiment locations "
            "are supported)"
        )
    trace_id = get(info, "trace_id")
    if not isinstance(trace_id, str) or not trace_id:
        raise CairnError.invalid("Missing value for required parameter 'trace_id'")
    state = get(info, "state")
    return TraceInfo(
        trace_id=trace_id,
        experiment_id=str(experiment_id),
        request_time=parse_timestamp(get(info, "request_time"), "request_time"),
        execution_duration=parse_duration(get(info, "execution_duration"), "execution_duration"),
        state="" if state is None else str(state),
        client_request_id=get(info, "client_request_id") or None,
        request_preview=get(info, "request_preview"),
        response_preview=get(info, "response_preview"),
        tags=_pairs(get(info, "tags"), "tags"),
        metadata=_pairs(get(info, "trace_metadata"), "trace_metadata"),
    )


# ---- assessments ----


def assessment_json(x: Assessment) -> Json:
    out: Json = {
        "assessment_id": x.assessment_id,
        "assessment_name": x.name,
        "trace_id": x.trace_id,
        "source": {"source_type": x.source_type},
        "create_time": timestamp_json(x.create_time),
        "last_update_time": timestamp_json(x.last_update_time),
        "valid": x.valid,
    }
    if x.source_id:
        out["source"]["source_id"] = x.source_id
    if x.span_id:
        out["span_id"] = x.span_id
    if x.kind == "feedback":
        feedback: Json = {}
        if x.value is not None:
            feedback["value"] = x.value
        if x.error is not None:
            feedback["error"] = x.error
        out["feedback"] = feedback
    else:
        out["expectation"] = (
            {"serialized_value": x.serialized} if x.serialized is not None else {"value": x.value}
        )
    if x.rationale is not None:
        out["rationale"] = x.rationale
    if x.metadata:
        out["metadata"] = dict(x.metadata)
    if x.overrides:
        out["overrides"] = x.overrides
    return out


def parse_assessment(body: Any, trace_id: str | None = None) -> Assessment:
    x = _dict(body, "assessment")
    feedback, expectation = get(x, "feedback"), get(x, "expectation")
    kind = "feedback" if feedback is not None else "expectation" if expectation is not None else ""
    value: Any = None
    error = None
    serialized = None
    if feedback is not None:
        feedback = _dict(feedback, "assessment.feedback")
        value = feedback.get("value")
        error = get(feedback, "error")
        if error is not None:
            error = _dict(error, "assessment.feedback.error")
    elif expectation is not None:
        expectation = _dict(expectation, "assessment.expectation")
        value = expectation.get("value")
        found = get(expectation, "serialized_value")
        if isinstance(value, dict | list):  # as MLflow: structured expectations are JSON text
            found = {"serialization_format": "JSON_FORMAT", "value": _text(value)}
            value = None
        if found is not None:
            found = _dict(found, "assessment.expectation.serialized_value")
            serialized = {
                "serialization_format": str(get(found, "serialization_format", "") or ""),
                "value": str(found.get("value", "") or ""),
            }
    source = _dict(get(x, "source"), "assessment.source")
    source_type = get(source, "source_type") or "SOURCE_TYPE_UNSPECIFIED"
    name = get(x, "assessment_name")
    valid = get(x, "valid")
    return Assessment(
        assessment_id=str(get(x, "assessment_id") or ""),
        trace_id=str(trace_id or get(x, "trace_id") or ""),
        name="" if name is None else str(name),
        kind=kind,
        value=value,
        source_type=str(source_type),
        source_id=get(source, "source_id") or None,
        create_time=parse_timestamp(get(x, "create_time"), "assessment.create_time"),
        last_update_time=parse_timestamp(get(x, "last_update_time"), "assessment.last_update_time"),
        span_id=get(x, "span_id") or None,
        rationale=get(x, "rationale"),
        error=error,
        metadata=_pairs(get(x, "metadata"), "assessment.metadata"),
        overrides=get(x, "overrides") or None,
        valid=True if valid is None else bool(valid),
        serialized=serialized,
    )


MASK_FIELDS = {
    "assessment_name": "name",
    "assessmentName": "name",
    "feedback": "value",
    "expectation": "value",
    "rationale": "rationale",
    "metadata": "metadata",
    "span_id": "span_id",
    "spanId": "span_id",
    "valid": "valid",
}


def parse_mask(value: Any) -> list[str]:
    """A FieldMask (``"a,b"`` in JSON, or ``{"paths": [...]}``) as the fields it updates."""
    if value is None:
        return []
    paths: list[Any]
    if isinstance(value, str):
        paths = [p for p in value.split(",") if p]
    elif isinstance(value, dict):
        paths = list(value.get("paths") or [])
    else:
        raise CairnError.invalid("Invalid value for parameter 'update_mask'")
    out = []
    for path in paths:
        name = MASK_FIELDS.get(str(path).strip())
        if name is None:
            raise CairnError.invalid(
                f"Invalid update_mask path '{path}'; valid: assessment_name, feedback, "
                "expectation, rationale, metadata, span_id, valid"
            )
        out.append(name)
        if name == "value" and str(path) == "feedback":
            out.append("error")
    return out


# ---- spans out ----


def _b64(hex_id: str | None) -> str | None:
    return None if not hex_id else base64.b64encode(bytes.fromhex(hex_id)).decode()


def any_value_json(value: Any, depth: int = 0) -> Json:
    if depth > MAX_DEPTH:
        return {"string_value": str(value)}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": value}
    if isinstance(value, float):
        return {"double_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, list):
        return {"array_value": {"values": [any_value_json(v, depth + 1) for v in value]}}
    if isinstance(value, dict):
        items = [{"key": str(k), "value": any_value_json(v, depth + 1)} for k, v in value.items()]
        return {"kvlist_value": {"values": items}}
    return {}


def span_json(span: Span) -> Json:
    out: Json = {
        "trace_id": _b64(span.otel_trace_id),
        "span_id": _b64(span.span_id),
        "name": span.name,
        "kind": SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else SPAN_KINDS[0],
        "start_time_unix_nano": span.start_ns,
        "attributes": [{"key": k, "value": any_value_json(v)} for k, v in span.attributes.items()],
        "status": {"code": span.status_code},
    }
    if span.parent_span_id:
        out["parent_span_id"] = _b64(span.parent_span_id)
    if span.end_ns is not None:
        out["end_time_unix_nano"] = span.end_ns
    if span.status_message:
        out["status"]["message"] = span.status_message
    if span.events:
        out["events"] = [
            {
                "name": e.get("name", ""),
                "time_unix_nano": e.get("time_unix_nano", 0),
                "attributes": [
                    {"key": k, "value": any_value_json(v)}
                    for k, v in (e.get("attributes") or {}).items()
                ],
            }
            for e in span.events
        ]
    return out


# ---- OTLP in ----


def _from_any_value(value: AnyValue, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise CairnError.invalid(f"OTLP attribute values nested deeper than {MAX_DEPTH}")
    which = value.WhichOneof("value")
    if which == "string_value":  # nearly every attribute (MLflow's are JSON in strings)
        return value.string_value
    if which is None:
        return None
    if which == "array_value":
        return [_from_any_value(v, depth + 1) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _from_any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def _hex(raw: bytes, size: int, what: str, optional: bool = False) -> str | None:
    if not raw and optional:
        return None
    if len(raw) != size:
        raise CairnError.invalid(f"Invalid {what}: expected {size} bytes, got {len(raw)}")
    return raw.hex()


def spans_from_protobuf(body: bytes) -> tuple[list[Span], dict[str, str]]:
    """The spans of an OTLP ``ExportTraceServiceRequest`` and the resource attributes (as
    strings) of its first resource."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise CairnError.invalid(f"Malformed OTLP protobuf body: {exc}") from None
    spans: list[Span] = []
    resource: dict[str, str] = {}
    for i, rs in enumerate(request.resource_spans):
        if i == 0:
            resource = {kv.key: _text(_from_any_value(kv.value)) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                otel_trace = _hex(s.trace_id, 16, "trace_id")
                assert otel_trace is not None
                span_id = _hex(s.span_id, 8, "span_id")
                assert span_id is not None
                spans.append(
                    Span(
                        trace_id=f"tr-{otel_trace}",
                        span_id=span_id,
                        parent_span_id=_hex(s.parent_span_id, 8, "parent_span_id", True),
                        name=s.name,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano or None,
                        status_code=STATUS_CODES.get(s.status.code, "STATUS_CODE_UNSET"),
                        status_message=s.status.message,
                        kind=int(s.kind),
                        attributes={kv.key: _from_any_value(kv.value) for kv in s.attributes},
                        events=[
                            {
                                "name": e.name,
                                "time_unix_nano": e.time_unix_nano,
                                "attributes": {
                                    kv.key: _from_any_value(kv.value) for kv in e.attributes
                                },
                            }
                            for e in s.events
                        ],
                        otel_trace_id=otel_trace,
                    )
                )
    return spans, resource


def _text(value: Any) -> str:
    import orjson

    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _json_any(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise CairnError.invalid(f"OTLP attribute values nested deeper than {MAX_DEPTH}")
    if not isinstance(value, dict):
        raise CairnError.invalid("Malformed OTLP JSON: an attribute value must be an object")
    for name in ("string_value", "bool_value", "double_value"):
        found = get(value, name)
        if found is not None:
            return found
    found = get(value, "int_value")
    if found is not None:
        try:
            return int(found)
        except (TypeError, ValueError):
            raise CairnError.invalid(f"Malformed OTLP JSON: intValue {found!r}") from None
    found = get(value, "array_value")
    if found is not None:
        return [_json_any(v, depth + 1) for v in _list(get(found, "values"), "arrayValue")]
    found = get(value, "kvlist_value")
    if found is not None:
        return _json_attributes(get(found, "values"), depth + 1)
    found = get(value, "bytes_value")
    if found is not None:
        return str(found)
    return None


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CairnError.invalid(f"Malformed OTLP JSON: '{what}' must be a list")
    return value


def _json_attributes(value: Any, depth: int = 0) -> dict[str, Any]:
    out = {}
    for kv in _list(value, "attributes"):
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise CairnError.invalid("Malformed OTLP JSON: an attribute needs a string 'key'")
        out[kv["key"]] = _json_any(kv.get("value") or {}, depth)
    return out


def _json_id(value: Any, size: int, what: str, optional: bool = False) -> str | None:
    if (value is None or value == "") and optional:
        return None
    if not isinstance(value, str):
        raise CairnError.invalid(f"Malformed OTLP JSON: '{what}' must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        try:  # protobuf's own JSON mapping writes bytes in base64
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise CairnError.invalid(f"Malformed OTLP JSON: '{what}' is not hex") from None
    return _hex(raw, size, what, optional)


def _nanos(value: Any, what: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise CairnError.invalid(f"Malformed OTLP JSON: '{what}' must be an integer") from None


def _status(value: Any) -> tuple[str, str]:
    status = value if isinstance(value, dict) else {}
    code = status.get("code", 0)
    if isinstance(code, str) and code.startswith("STATUS_CODE_"):
        name = code
    else:
        try:
            name = STATUS_CODES.get(int(code), "STATUS_CODE_UNSET")
        except (TypeError, ValueError):
            raise CairnError.invalid(f"Malformed OTLP JSON: status code {code!r}") from None
    return name, str(status.get("message") or "")


def _kind(value: Any) -> int:
    if isinstance(value, str) and value in SPAN_KINDS:
        return SPAN_KINDS.index(value)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise CairnError.invalid(f"Malformed OTLP JSON: span kind {value!r}") from None


def spans_from_json(body: Any) -> tuple[list[Span], dict[str, str]]:
    """The spans of an OTLP/JSON export request and its first resource's attributes."""
    if not isinstance(body, dict):
        raise CairnError.invalid("Malformed OTLP JSON: the body must be an object")
    spans: list[Span] = []
    resource: dict[str, str] = {}
    for i, rs in enumerate(_list(get(body, "resource_spans"), "resourceSpans")):
        if not isinstance(rs, dict):
            raise CairnError.invalid("Malformed OTLP JSON: resourceSpans items are objects")
        if i == 0:
            attrs = _json_attributes(_dict(get(rs, "resource"), "resource").get("attributes"))
            resource = {k: _text(v) for k, v in attrs.items()}
        for ss in _list(get(rs, "scope_spans"), "scopeSpans"):
            if not isinstance(ss, dict):
                raise CairnError.invalid("Malformed OTLP JSON: scopeSpans items are objects")
            for s in _list(ss.get("spans"), "spans"):
                if not isinstance(s, dict):
                    raise CairnError.invalid("Malformed OTLP JSON: spans are objects")
                otel_trace = _json_id(get(s, "trace_id"), 16, "traceId")
                span_id = _json_id(get(s, "span_id"), 8, "spanId")
                assert otel_trace is not None
                assert span_id is not None
                code, message = _status(s.get("status"))
                name = s.get("name", "")
                end = _nanos(get(s, "end_time_unix_nano"), "endTimeUnixNano")
                spans.append(
                    Span(
                        trace_id=f"tr-{otel_trace}",
                        span_id=span_id,
                        parent_span_id=_json_id(get(s, "parent_span_id"), 8, "parentSpanId", True),
                        name=name if isinstance(name, str) else str(name),
                        start_ns=_nanos(get(s, "start_time_unix_nano"), "startTimeUnixNano"),
                        end_ns=end or None,
                        status_code=code,
                        status_message=message,
                        kind=_kind(s.get("kind")),
                        attributes=_json_attributes(s.get("attributes")),
                        events=[
                            {
                                "name": str(e.get("name", "")),
                                "time_unix_nano": _nanos(get(e, "time_unix_nano"), "timeUnixNano"),
                                "attributes": _json_attributes(e.get("attributes")),
                            }
                            for e in _list(s.get("events"), "events")
                            if isinstance(e, dict)
                        ],
                        otel_trace_id=otel_trace,
                    )
                )
    return spans, resource
