"""The MLflow JSON API: its route table, and the exact-path dispatcher that serves it.

Every MLflow RPC has a fixed path, so one dict lookup replaces walking a list of route
patterns, and the hot endpoints (a one-point log-metric costs about 0.3 ms of server time in
all) skip the general middleware stack. Errors take the same JSON shape, through the same
handlers as everywhere else. Anything not in the table goes on to the wrapped app.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.access.policy import Need
from cairn.entities.errors import CairnError, ErrorCode
from cairn.server import errors
from cairn.server.limits import check_url, declared_too_large, limited, too_large
from cairn.server.mlflow import (
    experiments,
    logged_models,
    permissions,
    registry,
    roles,
    runs,
    traces,
    transition_requests,
    users,
    webhooks,
)
from cairn.server.mlflow.endpoint import Endpoint, prefixes
from cairn.server.prometheus import ROUTE_KEY
from cairn.server.wire import json_response

PREFIXES = prefixes("2.0")
"""Where the 2.0 endpoints are served; each endpoint names its own (``Endpoint.prefixes``)."""

ENDPOINTS: list[Endpoint] = [
    *runs.ENDPOINTS,
    *experiments.ENDPOINTS,
    *logged_models.ENDPOINTS,
    *registry.ENDPOINTS,
    *transition_requests.ENDPOINTS,
    *users.ENDPOINTS,
    *permissions.ENDPOINTS,
    *roles.ENDPOINTS,
    *webhooks.ENDPOINTS,
    *traces.ENDPOINTS,
]

AsgiHandler = Callable[[Request], Awaitable[Response]]

PARAM = re.compile(r"\{(\w+)\}")


def path_pattern(path: str) -> re.Pattern[str] | None:
    """``/logged-models/{model_id}`` as a regex capturing ``model_id`` (one path segment);
    None for a fixed path."""
    if "{" not in path:
        return None
    parts = PARAM.split(path)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return re.compile(regex + "$")


UNSUPPORTED = re.compile(
    r"^/(?:api|ajax-api)/[23]\.0/mlflow/"
    r"(datasets|scorers|gateway|gateway-proxy|endpoints|secrets|prompt-optimization"
    r"|runs/create-promptlab-run)(?:/|$)"
)
FEATURES = {
    "datasets": "Evaluation datasets",
    "scorers": "Scorers",
    "prompt-optimization": "Prompt optimization",
    "runs/create-promptlab-run": "Prompt lab runs (they call the AI gateway)",
}


def unsupported(scope: Scope) -> CairnError | None:
    """A clear 404 for MLflow features Cairn does not serve (evaluation datasets, scorers,
    the AI gateway, prompt optimization and prompt lab runs), naming the feature."""
    found = UNSUPPORTED.match(scope["path"])
    if found is None:
        return None
    feature = FEATURES.get(found.group(1), "The AI gateway")
    return CairnError(
        f"Not supported by this server (Cairn): {feature} ({scope['method']} "
        f"{scope['path']}); Cairn serves MLflow's tracking, registry and tracing APIs",
        ErrorCode.ENDPOINT_NOT_FOUND,
    )


class MlflowDispatch:
    def __init__(self, app: ASGIApp, max_request_bytes: int):
        self.app = app
        self.limit = max_request_bytes
        self.table: dict[str, dict[str, AsgiHandler]] = {}
        # parametrised paths (``/logged-models/{model_id}``), tried only when no exact path
        # matches: (pattern, {method: handler}), one method per endpoint
        self.patterns: list[tuple[re.Pattern[str], dict[str, AsgiHandler]]] = []
        by_path: dict[str, dict[str, AsgiHandler]] = {}
        for endpoint in ENDPOINTS:
            handler = endpoint.asgi_handler()
            if path_pattern(endpoint.path) is not None:
                for prefix in endpoint.prefixes:
                    methods = by_path.setdefault(prefix + endpoint.path, {})
                    methods.update(dict.fromkeys(endpoint.methods, handler))
                continue
            for prefix in endpoint.prefixes:
                exact = self.table.setdefault(prefix + endpoint.path, {})
                exact.update(dict.fromkeys(endpoint.methods, handler))
        self.templates: dict[re.Pattern[str], str] = {}
        for path, handlers in by_path.items():
            pattern = path_pattern(path)
            assert pattern is not None
            self.patterns.append((pattern, handlers))
            self.templates[pattern] = path

    def needs(
        self,
    ) -> tuple[
        dict[str, dict[str, Need | None]], list[tuple[re.Pattern[str], dict[str, Need | None]]]
    ]:
        """Every endpoint's declared need by method: exact paths, and parametrised ones."""
        table: dict[str, dict[str, Need | None]] = {}
        patterns: dict[str, dict[str, Need | None]] = {}
        for endpoint in ENDPOINTS:
            for prefix in endpoint.prefixes:
                path = prefix + endpoint.path
                into = patterns if path_pattern(path) is not None else table
                by_method = into.setdefault(path, {})
                for method in endpoint.methods:
                    by_method[method] = endpoint.need_for(method)
        compiled = []
        for path, by_method in patterns.items():
            pattern = path_pattern(path)
            assert pattern is not None
            compiled.append((pattern, by_method))
        return table, compiled

    def _match(self, scope: Scope) -> tuple[frozenset[str], AsgiHandler] | None:
        for pattern, handlers in self.patterns:
            found = pattern.match(scope["path"])
            if found is None:
                continue
            scope["path_params"] = found.groupdict()
            scope[ROUTE_KEY] = self.templates[pattern]
            handler = handlers.get(scope["method"])
            if handler is None:  # the path is known: answer 405 through any of its handlers
                return frozenset(handlers), next(iter(handlers.values()))
            return frozenset(handlers), handler
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = None
        if scope["type"] == "http":
            handlers = self.table.get(scope["path"])
            if handlers is not None:
                handler = handlers.get(scope["method"]) or next(iter(handlers.values()))
                entry = (frozenset(handlers), handler)
                scope[ROUTE_KEY] = scope["path"]
            elif self.patterns:
                entry = self._match(scope)
        if entry is None:
            feature = unsupported(scope) if scope["type"] == "http" else None
            if feature is not None:
                response = json_response(feature.to_json(), feature.http_status)
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # handlers find the services on app.state
        methods, handler = entry
        request = Request(scope, limited(receive, self.limit))
        try:
            if scope["method"] not in methods:
                raise CairnError(
                    f"Method {scope['method']} is not allowed for {scope['path']}",
                    ErrorCode.METHOD_NOT_ALLOWED,
                )
            if declared_too_large(scope, self.limit):
                raise too_large(self.limit)
            check_url(scope)
            response = await handler(request)
        except CairnError as exc:
            allow = {"Allow": ", ".join(sorted(methods))} if exc.http_status == 405 else None
            response = json_response(exc.to_json(), exc.http_status, headers=allow)
        except ValidationError as exc:
            response = await errors.validation_error(request, exc)
        except ClientDisconnect:
            errors.client_gone(scope)
            return
        except Exception as exc:
            response = await errors.internal_error(request, exc)
        await response(scope, receive, send)
