"""The access layer: the one place where every request is authenticated and authorized,
before any handler runs.

It sits inside the request guard (:mod:`cairn.server.guard`) and in front of everything
else: MLflow's API, the artifact routes, /api/v1, the docs and the UI. For each request it

1. finds the route's declared :class:`~cairn.access.policy.Need` (:class:`RouteNeeds`); a
   route that declares none is refused to everyone but admins;
2. lets public routes through (``/health``, ``/version``, server-info, the UI's files);
3. finds who is asking: ``Authorization: Basic`` (password or API token as the password),
   ``Authorization: Bearer`` (API token), or the UI's ``cairn_session`` cookie, whose writes
   must also carry the session's ``X-CSRF-Token``; no credentials is 401 with
   ``WWW-Authenticate: Basic realm="cairn"``;
4. checks the need: admin, any user, or a permission on each experiment and registered model
   the request names (in its path, query or JSON body), 403 ``PERMISSION_DENIED`` naming the
   resource and the permission;
5. hands the request on with its :class:`~cairn.entities.access.Identity` in
   ``scope["state"]["identity"]`` (the handlers' :func:`cairn.server.state.identity`).

Decisions come from :class:`~cairn.access.service.AccessService`'s caches when they can (a
token-authenticated ``log-metric`` costs a digest and a few dict lookups); only on a miss does
the layer go to a worker thread to ask the database.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.access.policy import PUBLIC, USER_READ, Check, Level, Names, Need, need_of
from cairn.access.secrets import RUNNER_TOKEN_PREFIX, same
from cairn.access.service import AccessService, NeedsIO, no_io
from cairn.entities.access import Identity, Permission, ResourceType
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import ACTING
from cairn.entities.numbers import decimal
from cairn.server.acting import actor_for
from cairn.server.limits import read_body, replay
from cairn.server.web import NEGOTIATED, ui_request
from cairn.server.wire import json_response

SESSION_COOKIE = "cairn_session"
CSRF_HEADER = "x-csrf-token"
REALM = 'Basic realm="cairn"'
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def path_pattern(path: str) -> re.Pattern[str]:
    """``/logged-models/{model_id}`` as a regex capturing ``model_id`` (one segment)."""
    parts = PARAM.split(path)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return re.compile(regex + "$")


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """``routes`` with FastAPI's included routers opened up. FastAPI keeps a router added with
    ``include_router`` as one route of its own that matches every path of the router and
    whose endpoint declares nothing, so every route in it would be for admins only."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from flat_routes(included.routes)
        else:
            yield route


class RouteNeeds:
    """Every route's declared need, found from a request's method and path.

    ``table`` holds exact paths and ``patterns`` parametrised ones (method → need, from the
    MLflow endpoint table); ``routes`` are Starlette/FastAPI routes whose endpoint functions
    carry their need (:func:`cairn.access.policy.requires`)."""

    def __init__(
        self,
        table: Mapping[str, Mapping[str, Need | None]],
        patterns: Iterable[tuple[re.Pattern[str], Mapping[str, Need | None]]],
        routes: Iterable[BaseRoute],
    ):
        self.table = dict(table)
        self.patterns = list(patterns)
        self.routes = list(flat_routes(routes))

    def find(self, scope: Scope) -> tuple[bool, Need | None, dict[str, Any]]:
        """(whether a route claims the path and method, its need, its path parameters)."""
        path, method = scope["path"], scope["method"]
        by_method = self.table.get(path)
        if by_method is not None:
            return method in by_method, by_method.get(method), {}
        for pattern, needs in self.patterns:
            found = pattern.match(path)
            if found is not None:
                return method in needs, needs.get(method), found.groupdict()
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                endpoint = getattr(route, "endpoint", None)
                return True, need_of(endpoint), dict(child.get("path_params", {}))
        return False, None, {}


def _error(exc: CairnError, headers: Mapping[str, str] | None = None) -> Any:
    return json_response(exc.to_json(), exc.http_status, headers=dict(headers or {}))


def denied(message: str) -> CairnError:
    return CairnError(message, ErrorCode.PERMISSION_DENIED)


class Request_:
    """What the layer reads of a request: headers, query, path parameters, JSON body."""

    __slots__ = ("scope", "headers", "path_params", "_query", "body", "json")

    def __init__(self, scope: Scope, path_params: dict[str, Any]):
        self.scope = scope
        self.headers = Headers(scope=scope)
        self.path_params = path_params
        self._query: list[tuple[str, str]] | None = None
        self.body: bytes | None = None
        self.json: dict[str, Any] | None = None

    @property
    def query(self) -> list[tuple[str, str]]:
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = parse_qsl(raw, keep_blank_values=True)
        return self._query

    def values(self, fields: tuple[str, ...]) -> list[str] | None:
        """Every non-empty value the request gives any of ``fields``, in its path, its query
        and its JSON body, or None. A handler reads one of them (MLflow's endpoints read a
        POST's body and a GET's query; an empty ``run_id`` falls back to ``run_uuid``), so
        the layer checks them all: a request cannot show the layer one resource and the
        handler another."""
        found: list[str] = []
        for name in fields:
            if name.startswith("x-"):
                found += self.headers.getlist(name)
                continue
            if "." in name:
                found += _nested(self.json, name.split("."))
                continue
            if name in self.path_params:
                found.append(str(self.path_params[name]))
            found += [value for key, value in self.query if key == name]
            if self.json is not None and name in self.json:
                value = self.json[name]
                if isinstance(value, list):
                    found += [str(v) for v in value if v is not None and not isinstance(v, dict)]
                elif isinstance(value, bool):
                    found.append(str(value).lower())
                elif value is not None and not isinstance(value, dict):
                    found.append(str(value))
        found = [value for value in found if value]
        return found or None


class AccessLayer:
    """The layer around the app (see the module docstring). With access control off it only
    passes requests on: every caller is the local user, who may do everything."""

    def __init__(
        self,
        app: ASGIApp,
        needs: Callable[[], RouteNeeds],
        service: Callable[[], AccessService | None],
        max_body: int,
    ):
        self.app = app
        self._needs_factory = needs
        self._needs: RouteNeeds | None = None
        self._service = service
        self.max_body = max_body

    @property
    def needs(self) -> RouteNeeds:
        if self._needs is None:
            self._needs = self._needs_factory()
        return self._needs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = self._service() if scope["type"] == "http" else None
        if service is None:
            await self.app(scope, receive, send)
            return
        known, need, params = self.needs.find(scope)
        if not known or scope["path"] in NEGOTIATED:
            # no route claims it (or a browser asks for a page the UI shares with an API):
            # the UI's pages and files are public (GET/HEAD only, the UI answers nothing
            # else); an unknown API path needs a user before its 404
            ui = ui_request(scope)
            if not known or ui:
                need = PUBLIC if ui else USER_READ
        request = Request_(scope, params)
        if need is not None and need.level is Level.PUBLIC:
            await self.app(scope, receive, send)
            return
        if (
            need is not None
            and need.level is Level.RESOURCE
            and scope["method"] in WRITES
            and self._wants_body(need, request)
        ):
            body = await self._read_body(receive)
            if body is None:
                too_big = CairnError(
                    f"Request body is larger than {self.max_body} bytes",
                    ErrorCode.REQUEST_LIMIT_EXCEEDED,
                )
                await _error(too_big)(scope, receive, send)
                return
            request.body = body
            receive = replay(body, receive)
            try:
                parsed = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                request.json = parsed
            elif body.strip():
                bad = CairnError("The request body is not a JSON object", ErrorCode.BAD_REQUEST)
                await _error(bad)(scope, receive, send)
                return
        try:
            try:
                with no_io():
                    who = self.decide(service, need, request)
            except NeedsIO:
                who = await run_in_threadpool(self.decide, service, need, request)
        except CairnError as exc:
            headers = {}
            if exc.error_code is ErrorCode.UNAUTHENTICATED and not _from_script(request):
                headers["WWW-Authenticate"] = REALM
            await _error(exc, headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = who
        ACTING.set(actor_for(who, ACTING.get()))
        await self.app(scope, receive, send)

    @staticmethod
    def _wants_body(need: Need, request: Request_) -> bool:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not (media == "application/json" or media.endswith("+json")):
            return False
        if request.headers.get("content-encoding", "identity").lower() != "identity":
            return False  # a compressed body: only its path, query and headers are read
        return any(
            not any(f in request.path_params for f in check.where.fields) for check in need.checks
        )

    async def _read_body(self, receive: Receive) -> bytes | None:
        try:
            return await read_body(receive, self.max_body)
        except CairnError:
            return None

    # ---- the decision (sync: runs inline from the caches, or in a thread on a miss) ----

    def decide(self, service: AccessService, need: Need | None, request: Request_) -> Identity:
        if need is not None and need.runner:
            runner = self._runner(service, request)
            if runner is not None:
                return runner
        who = self.authenticate(service, request)
        permit(service, who, need, request)
        return who

    @staticmethod
    def _runner(service: AccessService, request: Request_) -> Identity | None:
        """The runner of the job in the path, when the request carries a runner token."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials.startswith(RUNNER_TOKEN_PREFIX):
            return None
        job_id = request.path_params.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise CairnError("A runner token needs a job in the path", ErrorCode.UNAUTHENTICATED)
        return service.authenticate_runner(job_id, credentials)

    def authenticate(self, service: AccessService, request: Request_) -> Identity:
        header = request.headers.get("authorization")
        if header:
            scheme, _, credentials = header.partition(" ")
            scheme = scheme.lower()
            credentials = credentials.strip()
            if scheme == "bearer" and credentials:
                return service.authenticate_token(credentials)
            if scheme == "basic" and credentials:
                try:
                    decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    raise CairnError(
                        "Malformed Basic credentials", ErrorCode.UNAUTHENTICATED
                    ) from None
                username, sep, password = decoded.partition(":")
                if not sep:
                    raise CairnError("Malformed Basic credentials", ErrorCode.UNAUTHENTICATED)
                return service.authenticate_password(username, password, _client(request))
            raise CairnError(
                f"Unsupported Authorization scheme '{scheme}': use Basic or Bearer",
                ErrorCode.UNAUTHENTICATED,
            )
        cookie = _cookie(request.headers.get("cookie", ""), SESSION_COOKIE)
        if cookie:
            who, csrf = service.authenticate_session(cookie)
            if request.scope["method"] in WRITES:
                sent = request.headers.get(CSRF_HEADER, "")
                if not sent or not same(sent, csrf):
                    raise denied(
                        "Missing or wrong X-CSRF-Token header: reload the page and try again"
                    )
            return who
        raise CairnError(
            "Authentication required: send a username and password (HTTP Basic, "
            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD) or an API token (Bearer, "
            "MLFLOW_TRACKING_TOKEN)",
            ErrorCode.UNAUTHENTICATED,
        )


def permit(service: AccessService, who: Identity, need: Need | None, request: Request_) -> None:
    """Whether ``who`` (already authenticated) may make ``request`` to a route that needs
    ``need``: :class:`CairnError` ``PERMISSION_DENIED`` naming what is missing if not.

    The layer's own decision after authentication, also used by routes that name several
    resources in one request (``/graphql``: each root field is checked with the need of the
    MLflow endpoint it mirrors, its arguments standing in for that endpoint's JSON body)."""
    method = request.scope["method"]
    if need is None:
        if who.is_admin and not who.read_only:
            return
        raise denied(
            f"{method} {request.scope['path']} declares no permission, so only admins may call it"
        )
    if need.writes and who.read_only:
        raise denied(f"This API token is read-only: {method} {request.scope['path']} changes data")
    if need.level is Level.USER:
        return
    if need.level is Level.ADMIN:
        if not who.is_admin:
            raise denied(f"Only admins may call {method} {request.scope['path']}")
        return
    if who.unrestricted:  # admins: no resource to look up, nothing to refuse
        return
    for check in need.checks:
        _check(service, who, check, request)


def _check(service: AccessService, who: Identity, check: Check, request: Request_) -> None:
    where = check.where
    values = request.values(where.fields)
    if not values:
        if check.required:
            raise CairnError.invalid(f"Missing value for required parameter '{where.fields[0]}'")
        return
    if where.names in (Names.RUN_ID, Names.EXPERIMENT_ID, Names.MODEL_NAMES):  # "a,b" lists
        values = [part for value in values for part in value.split(",") if part]
    for value in values:
        resource = _resource(service, where.names, value, where.fields[0])
        if resource is None:
            continue  # names nothing that exists: the handler answers 404
        have = service.permission(who, check.kind, resource)
        if have < check.permission:
            raise denied(_refusal(who, check.kind, resource, check.permission, have))


def _resource(service: AccessService, names: Names, value: str, field: str) -> str | None:
    if names in (Names.EXPERIMENT_ID, Names.MODEL_NAME, Names.MODEL_NAMES):
        return value
    if names is Names.RUN_ID:
        return service.experiment_of_run(value)
    if names is Names.LOGGED_MODEL_ID:
        return service.experiment_of_logged_model(value)
    if names is Names.TRACE_ID:
        return service.experiment_of_trace(value)
    if names is Names.EXPERIMENT_NAME:
        return service.experiment_by_name(value)
    if names is Names.ARTIFACT_PATH:
        head = value.lstrip("/").split("/", 1)[0]
        number = decimal(head)
        if number is not None:
            return str(number)
        raise denied(
            f"Artifact path {value!r} must start with the id of its experiment "
            f"('{field}' = <experiment id>/<run id>/…); only admins may use other paths"
        )
    if names is Names.SOURCE_URI:
        return _source_experiment(service, value)
    raise AssertionError(names)  # pragma: no cover


def _nested(body: dict[str, Any] | None, path: list[str]) -> list[str]:
    """The scalar at ``path`` inside a JSON body (protobuf's JSON names: snake or camel
    case), as a one-item list, or nothing."""
    node: Any = body
    for part in path:
        if not isinstance(node, dict):
            return []
        camel = part.split("_")[0] + "".join(w.title() for w in part.split("_")[1:])
        node = node.get(part, node.get(camel))
    if node is None or isinstance(node, dict | list):
        return []
    return [str(node)]


def _source_experiment(service: AccessService, source: str) -> str | None:
    if source.startswith("runs:/"):
        run_id = source[len("runs:/") :].lstrip("/").split("/", 1)[0]
        return service.experiment_of_run(run_id) if run_id else None
    if source.startswith("models:/m-"):
        model_id = source[len("models:/") :].split("/", 1)[0]
        return service.experiment_of_logged_model(model_id)
    if source.startswith("mlflow-artifacts:"):
        rest = source[len("mlflow-artifacts:") :]
        if rest.startswith("//"):
            rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
        head = rest.lstrip("/").split("/", 1)[0]
        number = decimal(head)
        return None if number is None else str(number)
    return None


def _refusal(
    who: Identity, kind: ResourceType, resource: str, need: Permission, have: Permission
) -> str:
    label = "experiment" if kind is ResourceType.EXPERIMENT else "registered model"
    return (
        f"Permission denied: user '{who.username}' needs {need.name} on {label} "
        f"'{resource}' (has {have.name})"
    )


def _client(request: Request_) -> str | None:
    client = request.scope.get("client")
    return str(client[0]) if client else None


def _from_script(request: Request_) -> bool:
    """A browser's fetch from a page (the UI): no ``WWW-Authenticate``, which would pop up
    the browser's own login dialog over the UI's sign-in page."""
    return request.headers.get("sec-fetch-dest") == "empty"


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            return value.strip('"')
    return None
