"""One error shape for every route: ``{"error_code", "message"}``, the status from the code
(:data:`cairn.entities.errors.HTTP_STATUS`, the one table)."""

from __future__ import annotations

import logging
import re

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cairn.entities.errors import CairnError, ErrorCode, for_status
from cairn.server.wire import json_response

log = logging.getLogger("cairn.server")


def error_response(exc: CairnError) -> Response:
    """The one shape, with the status the table gives the code."""
    return json_response(exc.to_json(), exc.http_status)


SECRET_FIELD = re.compile(r"password|token|secret", re.IGNORECASE)
"""Fields whose values an error message never repeats."""


def validation_message(exc: ValidationError | RequestValidationError) -> str:
    """Name the offending field the way a caller wrote it (``metrics[3].value``)."""
    parts = []
    for err in list(exc.errors())[:5]:
        loc = ""
        where = list(err["loc"])
        if isinstance(exc, RequestValidationError) and where[:1] in (["body"], ["query"], ["path"]):
            where = where[1:]  # FastAPI says where the field was; callers name only the field
        for item in where:
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        kind = err["type"]
        if kind == "missing":
            parts.append(f"Missing value for required parameter '{loc}'")
        elif kind == "json_invalid":
            parts.append(f"Malformed JSON request body: {err['msg']}")
        elif kind in ("model_type", "model_attributes_type") and not loc:
            parts.append("The request body must be a JSON object")
        else:
            given = err.get("input")
            shown = repr(given)[:80] if given is not None else "null"
            if SECRET_FIELD.search(loc):
                shown = "(hidden)"
            parts.append(f"Invalid value {shown} for parameter '{loc}': {err['msg']}")
    return "; ".join(parts)


async def cairn_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CairnError)
    return error_response(exc)


async def validation_error(_request: Request, exc: Exception) -> Response:
    """The one validation formatter: pydantic's errors (MLflow's messages) and FastAPI's for
    the query, path and body of every /api/v1 route, 400 naming the field."""
    assert isinstance(exc, ValidationError | RequestValidationError)
    return error_response(CairnError.invalid(validation_message(exc)))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = for_status(exc.status_code)
    message = exc.detail
    if code == ErrorCode.ENDPOINT_NOT_FOUND:
        message = f"No endpoint {request.method} {request.url.path}"
    elif code == ErrorCode.METHOD_NOT_ALLOWED:
        message = f"Method {request.method} is not allowed for {request.url.path}"
    return json_response({"error_code": code, "message": message}, exc.status_code)


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        CairnError(
            f"Internal server error ({type(exc).__name__}); this is a bug in Cairn, "
            "the server log has the details",
            ErrorCode.INTERNAL_ERROR,
        )
    )
