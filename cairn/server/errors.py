"""One error shape for every route: ``{"error_code", "message"}``, the status from the code
(:data:`cairn.entities.errors.HTTP_STATUS`, the one table)."""

from __future__ import annotations

import json
import logging
import re

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.entities.errors import (
    TRANSACTION_ATTEMPTS,
    CairnError,
    ErrorCode,
    database_unreachable,
    first_line,
    for_status,
    storage_full,
    transaction_conflict,
)
from cairn.server.wire import json_response

log = logging.getLogger("cairn.server")


def error_response(exc: CairnError, headers: dict[str, str] | None = None) -> Response:
    """The one shape, with the status the table gives the code."""
    return json_response(exc.to_json(), exc.http_status, headers)


SECRET_FIELD = re.compile(r"password|token|secret", re.IGNORECASE)
"""Fields whose values an error message never repeats."""


MLFLOW_PATHS = ("/api/2.0/", "/api/3.0/", "/ajax-api/", "/get-artifact", "/model-versions/")
"""Where MLflow's own routes live: their validation messages use MLflow's words."""


def _shown(value: object) -> str:
    """A rejected value as MLflow quotes it (JSON: ``31``, ``9.0``, ``"foo"``), cut short."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def validation_message(
    exc: ValidationError | RequestValidationError, *, mlflow: bool = False
) -> str:
    """Name the offending field the way a caller wrote it (``metrics[3].value``).

    ``mlflow``: MLflow's wording, which clients and MLflow's own tests match
    (``Invalid value "foo" for parameter 'step' supplied``, ``Missing value for required
    parameter 'key'.``), with Cairn's detail after it."""
    parts = []
    for err in list(exc.errors())[:5]:
        loc = ""
        where = list(err["loc"])
        if isinstance(exc, RequestValidationError) and where[:1] in (["body"], ["query"], ["path"]):
            where = where[1:]  # FastAPI says where the field was; callers name only the field
        for item in where:
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        kind = err["type"]
        if mlflow and err.get("input", "") is None:
            kind = "missing"  # MLflow: an explicit null is a missing value
        if kind == "missing":
            parts.append(f"Missing value for required parameter '{loc}'" + ("." if mlflow else ""))
        elif kind == "json_invalid":
            parts.append(f"Malformed JSON request body: {err['msg']}")
        elif kind in ("model_type", "model_attributes_type") and not loc:
            parts.append("The request body must be a JSON object")
        else:
            given = err.get("input")
            if mlflow:
                shown = _shown(given)
            else:
                shown = repr(given)[:80] if given is not None else "null"
            if SECRET_FIELD.search(loc):
                shown = "(hidden)"
            supplied = " supplied" if mlflow else ""
            parts.append(f"Invalid value {shown} for parameter '{loc}'{supplied}: {err['msg']}")
    return "; ".join(parts)


async def cairn_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CairnError)
    return error_response(exc)


async def validation_error(request: Request, exc: Exception) -> Response:
    """The one validation formatter: pydantic's errors (MLflow's messages) and FastAPI's for
    the query, path and body of every /api/v1 route, 400 naming the field; MLflow's routes
    get MLflow's wording."""
    assert isinstance(exc, ValidationError | RequestValidationError)
    mlflow = request.url.path.startswith(MLFLOW_PATHS)
    return error_response(CairnError.invalid(validation_message(exc, mlflow=mlflow)))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = for_status(exc.status_code)
    message = exc.detail
    if code == ErrorCode.ENDPOINT_NOT_FOUND:
        message = f"No endpoint {request.method} {request.url.path}"
    elif code == ErrorCode.METHOD_NOT_ALLOWED:
        message = f"Method {request.method} is not allowed for {request.url.path}"
    headers = dict(exc.headers) if exc.headers else None  # a 405's Allow
    return json_response({"error_code": code, "message": message}, exc.status_code, headers)


RETRY_AFTER_S = 1
"""What a 503 for an unreachable database asks clients to wait (the stock client backs off
on its own schedule anyway)."""


async def internal_error(request: Request, exc: Exception) -> Response:
    if database_unreachable(exc):  # a restart or an outage: clients retry a 503
        first = first_line(exc)
        log.warning("database unreachable: %s %s failed: %s", request.method,
                    request.url.path, first)  # fmt: skip
        return error_response(
            CairnError(
                "The database is unreachable for the moment (restarting or disconnected); "
                "retry the request",
                ErrorCode.TEMPORARILY_UNAVAILABLE,
            ),
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    conflict = transaction_conflict(exc)
    if conflict is not None:  # still meeting other writers after the store's own retries
        log.warning("%s: %s %s failed after %d attempts: %s", conflict, request.method,
                    request.url.path, TRANSACTION_ATTEMPTS, first_line(exc))  # fmt: skip
        return error_response(
            CairnError(
                f"The database aborted this write ({conflict} with concurrent writes) "
                f"{TRANSACTION_ATTEMPTS} times; nothing of it was stored; retry the request",
                ErrorCode.TEMPORARILY_UNAVAILABLE,
            ),
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    full = storage_full(exc)
    if full is not None:  # the operator's problem, not a bug: one line, no traceback
        log.error("storage full: %s %s failed: %s is full (%s)", request.method,
                  request.url.path, full, exc)  # fmt: skip
        return error_response(
            CairnError(
                f"Insufficient storage: {full} is full, so nothing of this request was "
                "stored; try again once the server's administrator has freed space",
                ErrorCode.RESOURCE_EXHAUSTED,
            )
        )
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        CairnError(
            f"Internal server error ({type(exc).__name__}); this is a bug in Cairn, "
            "the server log has the details",
            ErrorCode.INTERNAL_ERROR,
        )
    )


def client_gone(scope: Scope) -> None:
    """A client that hung up before its request was read: one line, no traceback (nobody is
    left to answer, and it is no bug of Cairn's)."""
    log.info(
        "client disconnected before its request was read: %s %s", scope["method"], scope["path"]
    )


class Unexpected:
    """Innermost-but-one around each app (Cairn's Starlette root and FastAPI app): an
    exception no handler took is logged once, with its traceback, and answered 500 in the
    one error shape (Starlette's own ``Exception`` handler re-raises after answering, so the
    server logged every 500 twice); a client that hung up mid-body is one log line."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except ClientDisconnect:
            client_gone(scope)
        except Exception as exc:
            response = await internal_error(Request(scope), exc)
            if not started:
                await response(scope, receive, send)
