"""OTLP/HTTP trace ingest: ``POST /v1/traces``, the path the OpenTelemetry exporters and the
mlflow 3.x client (servers ≥ 3.4) send spans to.

The body is an ``ExportTraceServiceRequest`` in protobuf (``application/x-protobuf``) or
OTLP/JSON (``application/json``), optionally gzip-compressed (``Content-Encoding: gzip``);
the header ``x-mlflow-experiment-id`` names the experiment the traces go to, on which the
caller needs EDIT. A batch is stored all or nothing: one bad span refuses the whole request
with a 400 naming what is wrong, and nothing of it is kept.
"""

from __future__ import annotations

import zlib

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.access import policy as p
from cairn.entities.access import Permission
from cairn.entities.errors import CairnError, ErrorCode
from cairn.server.limits import too_large
from cairn.server.mlflow.trace_wire import spans_from_json, spans_from_protobuf
from cairn.server.state import traces

PATH = "/v1/traces"
EXPERIMENT_HEADER = "x-mlflow-experiment-id"
PROTOBUF = "application/x-protobuf"


async def _body(request: Request, limit: int) -> bytes:
    """The request body, inflated when gzip-compressed, at most ``limit`` bytes either way."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise CairnError.invalid(
            f"Unsupported Content-Encoding '{encoding[:40]}': use gzip or none"
        )
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise CairnError.invalid(f"Malformed {encoding} body: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise too_large(limit)
    return out


@p.requires(p.experiment(Permission.EDIT, EXPERIMENT_HEADER))
async def export_traces(request: Request) -> Response:
    """Store a batch of spans (OTLP ExportTraceServiceRequest)."""
    experiment_id = request.headers.get(EXPERIMENT_HEADER, "").strip()
    if not experiment_id:
        raise CairnError.invalid(f"Missing required header '{EXPERIMENT_HEADER}'")
    limit: int = request.app.state.settings.max_request_bytes
    body = await _body(request, limit)
    media = request.headers.get("content-type", PROTOBUF).split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf", "application/octet-stream"):
        spans, resource = spans_from_protobuf(body)
        answer = Response(b"", media_type=PROTOBUF)
    elif media == "application/json":
        try:
            parsed = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise CairnError.invalid(f"Malformed OTLP JSON body: {exc}") from None
        spans, resource = spans_from_json(parsed)
        answer = Response(b"{}", media_type="application/json")
    else:
        raise CairnError(
            f"Unsupported Content-Type '{media[:60]}': send application/x-protobuf or "
            "application/json",
            ErrorCode.BAD_REQUEST,
        )
    await run_in_threadpool(traces(request).log_spans, experiment_id, spans, resource)
    return answer


def otlp_routes() -> list[Route]:
    return [Route(PATH, export_traces, methods=["POST"])]
