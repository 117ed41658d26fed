"""What a request may carry, checked before a handler sees it: its body's size (413 before a
larger body is read into memory) and no NUL character in any text (400 naming the field).

NUL: PostgreSQL cannot store ``\\x00`` in a text column (psycopg refuses the value) while
SQLite stores it, so a store holding one could never move to PostgreSQL. Every backend
refuses it at the door instead: in the path, the query string, and any string (or key) of a
JSON body. MLflow's JSON API checks its own (:meth:`cairn.server.mlflow.endpoint.Endpoint.
asgi_handler`, which has the body in hand); :class:`InputLimits` checks everything else.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.entities.errors import CairnError, ErrorCode
from cairn.server.errors import client_gone
from cairn.server.wire import json_response

NUL = "\x00"
JSON_NUL = b"\\u0000"
"""How a NUL appears in a JSON text (a raw one is invalid JSON): cheap to look for first."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_READ_TIMEOUT_S = 60.0
"""How long a JSON request body may go without sending a byte before the request is
answered 408 ``REQUEST_TIMEOUT`` (a slow client that keeps sending is served)."""


def body_timeout() -> CairnError:
    return CairnError(
        f"The request body stopped arriving: no byte for {BODY_READ_TIMEOUT_S:.0f} s",
        ErrorCode.REQUEST_TIMEOUT,
    )


def too_large(limit: int) -> CairnError:
    return CairnError(
        f"Request body is larger than the limit of {limit} bytes",
        ErrorCode.REQUEST_LIMIT_EXCEEDED,
    )


def declared_too_large(scope: Scope, limit: int) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.isdigit() and int(value) > limit  # bytes.isdigit: ASCII only
    return False


def limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises REQUEST_LIMIT_EXCEEDED once more than ``limit`` bytes came in
    (for bodies sent without a Content-Length), and REQUEST_TIMEOUT when the body stops
    arriving for :data:`BODY_READ_TIMEOUT_S` (once the body is complete, waiting for the
    client to go away, as a streaming response does, is not timed)."""
    seen = 0
    complete = False

    async def counting_receive() -> Message:
        nonlocal seen, complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout(BODY_READ_TIMEOUT_S):
                message = await receive()
        except TimeoutError:
            raise body_timeout() from None
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
            complete = not message.get("more_body", False)
        else:
            complete = True
        return message

    return counting_receive


def nul_at(value: object, where: str = "") -> str | None:
    """Where the first NUL character in a parsed JSON value is (``metrics[3].key``; the
    empty string for the value itself), or None when it has none. Bounded by the value's
    size, which the body limit bounds."""
    stack: list[tuple[object, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return at
        elif isinstance(item, dict):
            for key, sub in item.items():
                name = f"{at}.{key}" if at else str(key)
                if NUL in key:
                    return name
                stack.append((sub, name))
        elif isinstance(item, list):
            stack.extend((sub, f"{at}[{i}]") for i, sub in enumerate(item))
    return None


def nul_refused(field: str) -> CairnError:
    shown = field.replace(NUL, "\\x00") or "the request body"
    return CairnError.invalid(
        f"Invalid value for parameter '{shown}': text may not contain the NUL character "
        "(\\u0000); no backend stores it (PostgreSQL cannot)"
    )


def check_json_body(body: bytes) -> None:
    """Refuse a JSON body with a NUL in any string or key, naming where (a body that is no
    JSON is left for the handler to refuse)."""
    if JSON_NUL not in body:
        return
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    found = nul_at(parsed)
    if found is not None:
        raise nul_refused(found)


def check_query(pairs: list[tuple[str, str]]) -> None:
    for name, value in pairs:
        if NUL in name or NUL in value:
            raise nul_refused(name)


def check_url(scope: Scope) -> None:
    """Refuse a NUL in the path or anywhere in the query string, naming the parameter."""
    if NUL in scope["path"]:
        raise CairnError.invalid(
            "Invalid path: it may not contain the NUL character (%00); no backend stores it"
        )
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        check_query(parse_qsl(query.decode("latin-1"), keep_blank_values=True))


def _json_media(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class InputLimits:
    """In front of every route but MLflow's exact-path table (which checks its own): no NUL
    in the path or the query string; and under ``prefixes`` (the JSON APIs) the body size
    limit, 413 before reading on any path there, unknown ones included, and no NUL in a JSON
    body (400 naming the field)."""

    def __init__(self, app: ASGIApp, limit: int, prefixes: tuple[str, ...]):
        self.app = app
        self.limit = limit
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_url(scope)
            if scope["path"].startswith(self.prefixes):
                if declared_too_large(scope, self.limit):
                    raise too_large(self.limit)
                if scope["method"] in BODY_METHODS and _json_media(scope):
                    body = await read_body(receive, self.limit)
                    check_json_body(body)
                    receive = replay(body, receive)
                else:
                    receive = limited(receive, self.limit)
        except CairnError as exc:
            await json_response(exc.to_json(), exc.http_status)(scope, receive, send)
            return
        except ClientDisconnect:
            client_gone(scope)
            return
        await self.app(scope, receive, send)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refused with 413 once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            async with asyncio.timeout(BODY_READ_TIMEOUT_S):
                message = await receive()
        except TimeoutError:
            raise body_timeout() from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands out ``body`` once, then whatever the connection says next."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying
