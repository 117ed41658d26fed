"""Request size limits, enforced before a body is read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.entities.errors import ErrorCode
from cairn.server.wire import json_response


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
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._reject(scope, receive, send)
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "error_code": ErrorCode.REQUEST_LIMIT_EXCEEDED,
            "message": f"Request body is larger than the limit of {self.limit} bytes",
        }
        await json_response(body, 413)(scope, receive, send)


class _TooLarge(Exception):
    pass
