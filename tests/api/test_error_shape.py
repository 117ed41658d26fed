"""One error shape everywhere: every route the app serves, found by walking the app itself
(the MLflow dispatcher's table, the Starlette routes, the FastAPI routes behind the web UI),
gets malformed requests and must answer 4xx ``{"error_code": str, "message": str}``, never a
5xx and never another shape. A new route is walked as soon as it is registered."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from cairn.entities.errors import HTTP_STATUS, CairnError, ErrorCode
from cairn.server.app import create_app
from cairn.server.mlflow.artifacts import _parse_range
from cairn.server.mlflow.routes import ENDPOINTS, MlflowDispatch
from cairn.server.settings import Settings
from tests.databases import drop_database, fresh_postgres_database

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ESCAPE = "%2E%2E/escape"
"""A path parameter that leaves the artifact root (percent-encoded, so it reaches the app)."""
WRONG = {"wrong": ["type"]}
"""A JSON value of the wrong type for a string, number, boolean, list or string map."""


@dataclass
class Probe:
    """One route and method, with what the route declares about its input."""

    kind: str  # mlflow, fastapi or starlette
    method: str
    path: str  # a concrete path, parameters filled in
    message: type[BaseModel] | None = None  # the MLflow request model
    route: BaseRoute | None = None
    other_methods: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _fill(template: str, convertors: dict[str, Any] | None = None) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        kind = type((convertors or {}).get(name)).__name__
        return {"PathConvertor": ESCAPE, "IntegerConvertor": "0"}.get(kind, "x")

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, template)


def _unpattern(pattern: re.Pattern[str]) -> str:
    """The dispatcher's ``/api/2\\.0/…/(?P<model_id>[^/]+)$`` as ``/api/2.0/…/x``."""
    text = re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "x", pattern.pattern.rstrip("$"))
    return re.sub(r"\\(.)", r"\1", text)


def _messages() -> dict[tuple[str, str], type[BaseModel]]:
    out = {}
    for ep in ENDPOINTS:
        for prefix in ep.prefixes:
            for method in ep.methods:
                out[(method, _fill(prefix + ep.path))] = ep.message
    return out


def _routes(app: Any) -> Iterator[BaseRoute]:
    """Every route below ``app``, through mounts and wrapping middleware-like apps."""
    routes = getattr(app, "routes", None)
    if routes is None:
        inner = getattr(app, "app", None)
        if inner is not None:
            yield from _routes(inner)
        return
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            yield from _routes(included)
        elif isinstance(route, Mount):
            yield from _routes(route.app)
        else:
            yield route


def discover() -> list[Probe]:
    app: object = create_app(Settings(backend_store_uri="sqlite:///never-opened.db"))
    for _ in range(8):  # inside the metrics, the guard, the acting and the access layers
        if isinstance(app, MlflowDispatch):
            break
        app = getattr(app, "app")  # noqa: B009
    assert isinstance(app, MlflowDispatch)
    messages = _messages()
    probes: list[Probe] = []
    mlflow_paths: dict[str, frozenset[str]] = {p: frozenset(m) for p, m in app.table.items()}
    for pattern, handlers in app.patterns:
        mlflow_paths[_unpattern(pattern)] = frozenset(handlers)
    for path, methods in mlflow_paths.items():
        for method in sorted(methods):
            message = messages.get((method, path))
            probes.append(Probe("mlflow", method, path, message, other_methods=methods))
    methods_by_path: dict[str, set[str]] = {}
    found: list[tuple[Route, str]] = []
    for route in _routes(app.app):
        if not isinstance(route, Route):
            continue
        path = _fill(route.path, route.param_convertors)
        methods_by_path.setdefault(path, set()).update(route.methods or {"GET"})
        found.append((route, path))
    for route, path in found:
        kind = "fastapi" if isinstance(route, APIRoute) else "starlette"
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            others = frozenset(methods_by_path[path])
            probes.append(Probe(kind, method, path, route=route, other_methods=others))
    return probes


PROBES = discover()


def test_the_walk_finds_every_kind_of_route() -> None:
    """The discovery itself cannot silently come back empty."""
    kinds = {p.kind for p in PROBES}
    assert kinds == {"mlflow", "fastapi", "starlette"}
    paths = {p.path for p in PROBES}
    for expected in (
        "/api/2.0/mlflow/runs/log-batch",
        "/ajax-api/2.0/mlflow/experiments/search",
        "/api/2.0/mlflow/logged-models/x",
        "/api/3.0/mlflow/server-info",
        "/api/v1/metrics/downsample",
        "/api/v1/runs/compare",
        f"/api/2.0/mlflow-artifacts/artifacts/{ESCAPE}",
        "/get-artifact",
        "/health",
    ):
        assert expected in paths
    assert len([p for p in PROBES if p.kind == "mlflow"]) == sum(
        len(ep.methods) * len(ep.prefixes) for ep in ENDPOINTS
    )


def test_the_walk_finds_every_documented_fastapi_route(shared_client: TestClient) -> None:
    """Cross-check with the OpenAPI document: each of its non-MLflow operations is walked."""
    doc = shared_client.get("/openapi.json").json()
    walked = {(p.method, p.route.path) for p in PROBES if isinstance(p.route, APIRoute)}
    table = {ep.prefixes[0] + ep.path for ep in ENDPOINTS}
    documented = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        if path not in table
        for method in item
    }
    assert documented, "the OpenAPI document lists no FastAPI route"
    assert documented <= walked, documented - walked


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the whole walk: every request is malformed, so nothing is stored."""
    folder: Path = tmp_path_factory.mktemp("error-shape")
    settings = Settings(
        backend_store_uri=f"sqlite:///{folder / 'api.db'}",
        artifacts_destination=str(folder / "artifacts"),
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _assert_shape(what: str, response: Any, must_fail: bool) -> None:
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text[:300]}"
    if must_fail:
        assert 400 <= status < 500, f"{what}: expected a 4xx, got {status} {response.text[:300]}"
    if status >= 400:
        _assert_body(what, response)


def _assert_body(what: str, response: Any) -> None:
    status = response.status_code
    assert response.headers.get("content-type", "").startswith("application/json"), what
    body = response.json()
    assert isinstance(body, dict), f"{what}: {body}"
    assert set(body) == {"error_code", "message"}, f"{what}: {body}"
    assert isinstance(body["error_code"], str), f"{what}: {body}"
    assert body["error_code"] in ErrorCode.__members__, f"{what}: {body}"
    assert HTTP_STATUS[ErrorCode(body["error_code"])] == status, f"{what}: {status} {body}"
    assert isinstance(body["message"], str), f"{what}: {body}"
    assert body["message"].strip(), f"{what}: {body}"


def _scalar(annotation: Any) -> Any:
    """``int | None`` → ``int``; ``list[int]`` → ``int``; anything else as it is."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if (origin is typing.Union or origin is types.UnionType) and len(args) == 1:
        return _scalar(args[0])
    if origin is list and len(args) == 1:
        return _scalar(args[0])
    return annotation


def _rejects(message: type[BaseModel], payload: dict[str, Any]) -> bool:
    try:
        message.model_validate(payload)
    except ValidationError:
        return True
    return False


def _mlflow_requests(p: Probe) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(what, request arguments, whether it must be refused)"""
    message = p.message
    if p.method == "GET":
        yield "no parameters", {}, message is not None and _rejects(message, {})
        if message is not None:
            for name, info in message.model_fields.items():
                key = info.alias or name
                if _scalar(info.annotation) in (int, float, bool):
                    yield f"query {key}=abc", {"params": {key: "abc"}}, True
        return
    yield "invalid JSON", {"content": b'{"no', "headers": _JSON}, True
    yield "a JSON list", {"content": b"[1, 2]", "headers": _JSON}, True
    yield "a JSON string", {"content": b'"text"', "headers": _JSON}, True
    yield "an empty object", {"json": {}}, message is not None and _rejects(message, {})
    if message is not None:
        for name, info in message.model_fields.items():
            key = info.alias or name
            payload = {key: WRONG}
            yield f"{key} of the wrong type", {"json": payload}, _rejects(message, payload)


_JSON = {"content-type": "application/json"}


def _fastapi_requests(p: Probe) -> Iterator[tuple[str, dict[str, Any], bool]]:
    assert isinstance(p.route, APIRoute)
    dependant = p.route.dependant
    query = dependant.query_params
    body_required = any(b.field_info.is_required() for b in dependant.body_params)
    required = body_required or any(q.field_info.is_required() for q in query)
    yield "no parameters", {}, required
    typed = [q for q in query if _scalar(q.field_info.annotation) in (int, float, bool)]
    if typed:
        params = {q.alias: "abc" for q in query}
        yield "every query parameter 'abc'", {"params": params}, True
    for q in typed:
        yield f"query {q.alias}=abc", {"params": {q.alias: "abc"}}, True
    if dependant.body_params:
        yield "invalid JSON", {"content": b'{"no', "headers": _JSON}, True
        yield "a JSON list", {"content": b"[1, 2]", "headers": _JSON}, True
        yield "an empty object", {"json": {}}, body_required
        annotation = dependant.body_params[0].field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, info in annotation.model_fields.items():
                payload = {info.alias or name: WRONG}
                yield f"{name} of the wrong type", {"json": payload}, _rejects(annotation, payload)


def _starlette_requests(p: Probe) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """The artifact routes read their own input: a path leaving the root, no run id, and
    invalid JSON for the multipart calls are refused before anything is done."""
    args: dict[str, Any] = {"params": {"path": ESCAPE.replace("%2E", ".")}}
    if p.method in BODY_METHODS:
        args |= {"content": b'{"no', "headers": _JSON}
    must = p.path.startswith(("/api/", "/ajax-api/", "/get-artifact"))
    yield "a path out of the root, invalid JSON", args, must


REQUESTS = {
    "mlflow": _mlflow_requests,
    "fastapi": _fastapi_requests,
    "starlette": _starlette_requests,
}


@pytest.mark.parametrize("probe", PROBES, ids=[p.id for p in PROBES])
def test_malformed_requests_get_the_one_error_shape(
    shared_client: TestClient, probe: Probe
) -> None:
    for what, args, must_fail in REQUESTS[probe.kind](probe):
        response = shared_client.request(probe.method, probe.path, **args)
        _assert_shape(f"{probe.id} with {what}", response, must_fail)
    wrong = next((m for m in METHODS if m not in probe.other_methods), None)
    if wrong is not None:
        response = shared_client.request(wrong, probe.path)
        _assert_shape(f"{wrong} {probe.path} (a method it does not take)", response, True)
        assert response.status_code == 405, f"{wrong} {probe.path}: {response.text[:300]}"


def test_an_unsatisfiable_range_is_416_from_the_table() -> None:
    with pytest.raises(CairnError) as info:
        _parse_range("bytes=2000-", 1000)
    assert info.value.error_code == ErrorCode.RANGE_NOT_SATISFIABLE
    assert info.value.http_status == 416


@pytest.mark.postgres
def test_health_checks_the_database() -> None:
    """/health answers OK while the database answers, and 503 in the one shape once it is gone."""
    with fresh_postgres_database() as uri, TestClient(create_app(Settings(uri))) as client:
        assert client.get("/health").text == "OK"
        drop_database(uri)
        response = client.get("/health")
        assert response.status_code == 503, response.text
        _assert_body("GET /health without a database", response)
        assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
