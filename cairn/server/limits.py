"""Request size limits, enforced before a body is read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.entities.errors import CairnError, ErrorCode


def too_large(limit: int) -> CairnError:
    return CairnError(
        f"Request body is larger than the limit of {limit} bytes",
        ErrorCode.REQUEST_LIMIT_EXCEEDED,
    )


def declared_too_large(scope: Scope, limit: int) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.isdigit() and int(value) > limit
    return False


def limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises REQUEST_LIMIT_EXCEEDED once more than ``limit`` bytes came in
    (for bodies sent without a Content-Length)."""
    seen = 0

    async def counting_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message

    return counting_receive


class BodyLimit:
    """Reject request bodies larger than ``limit`` bytes with 413 (JSON APIs only)."""

    def __init__(self, app: ASGIApp, limit: int, prefixes: tuple[str, ...]):
        self.app = app
        self.limit = limit
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        if declared_too_large(scope, self.limit):
            raise too_large(self.limit)
        await self.app(scope, limited(receive, self.limit), send)
