"""The declarative route table's row type and the request parsing every endpoint shares."""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from cairn.access.policy import Need
from cairn.server.limits import check_json_body
from cairn.server.wire import json_response

Handler = Callable[[Request, Any], Awaitable[object]]


def prefixes(version: str) -> tuple[str, str]:
    """Where MLflow serves one API generation: the client's path and the UI's twin."""
    return (f"/api/{version}/mlflow", f"/ajax-api/{version}/mlflow")


@dataclass(frozen=True)
class Endpoint:
    """One MLflow RPC: ``methods path`` parsed into ``message`` and answered by ``handler``."""

    methods: tuple[str, ...]
    path: str
    message: type[BaseModel]
    handler: Handler
    summary: str
    need: Need | Mapping[str, Need]
    """What the caller needs (:mod:`cairn.access.policy`); per method where they differ."""
    version: str = "2.0"
    """The API generation: served under ``/api/<version>/mlflow`` and its ``/ajax-api`` twin."""

    @property
    def prefixes(self) -> tuple[str, str]:
        return prefixes(self.version)

    def need_for(self, method: str) -> Need | None:
        if isinstance(self.need, Need):
            return self.need
        return self.need.get(method)

    def asgi_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """Parse the request into the message, call the handler, encode the answer."""
        message, handler = self.message, self.handler
        list_fields = _list_fields(message)

        async def endpoint(request: Request) -> Response:
            if request.method == "GET":
                msg = message.model_validate(_query_dict(request, list_fields))
            else:
                body = await request.body()
                check_json_body(body)
                msg = message.model_validate_json(body) if body.strip() else message()
            result = await handler(request, msg)
            if isinstance(result, Response):
                return result
            return json_response(result)

        return endpoint


def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    names = set()
    for name, field in model.model_fields.items():
        origin = typing.get_origin(field.annotation)
        if origin is list:
            names.add(field.alias or name)
    return frozenset(names)


def _query_dict(request: Request, list_fields: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in list_fields:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out
