"""Deny by default, proved on every route: each route the app serves (found by walking the
app, as the error-shape test does) is requested without credentials and by a signed-in user
with no grant, naming an experiment, run, logged model and registered model that only the
admin may see. Only the public list answers the anonymous caller; the user is refused on
every route that names the hidden things, admin routes refuse them, and the routes any user
may call (searches, their own things) never show them. A new route is walked as soon as it
is registered, so it cannot ship open."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from cairn.access.policy import Level, need_of
from cairn.server.app import create_app
from cairn.server.mlflow.routes import ENDPOINTS
from cairn.server.settings import Settings
from tests.api import basic, root_app
from tests.api.test_error_shape import ESCAPE, PROBES, Probe

ADMIN, ADMIN_PASSWORD = "root", "root's long password"
NOBODY, NOBODY_PASSWORD = "nobody", "nobody's long password"

PUBLIC_PATHS = {
    "/health",
    "/ready",
    "/version",
    "/api/v1/version",
    "/api/3.0/mlflow/server-info",
    "/docs/assets/x",
    "/api/v1/auth/login",
}
"""Everything an anonymous caller may reach (besides the UI's own pages and files)."""


HIDDEN_TRACE = "tr-" + "ab" * 16


@dataclass
class Hidden:
    experiment_id: str
    run_id: str
    model_id: str
    model_name: str = "hidden-model"
    experiment_name: str = "hidden-experiment"
    trace_id: str = HIDDEN_TRACE

    def markers(self) -> list[str]:
        return [self.experiment_name, self.run_id, self.model_id, self.model_name, self.trace_id]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, Hidden]]:
    folder: Path = tmp_path_factory.mktemp("access-routes")
    mp = pytest.MonkeyPatch()
    mp.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    mp.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = Settings(
        backend_store_uri=f"sqlite:///{folder / 'api.db'}",
        artifacts_destination=str(folder / "artifacts"),
        auth=True,
        default_permission="NO_PERMISSIONS",
    )
    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            root_app(app).state.access.create_user(NOBODY, NOBODY_PASSWORD)
            admin = basic(ADMIN, ADMIN_PASSWORD)
            api = "/api/2.0/mlflow"
            eid = client.post(
                f"{api}/experiments/create", json={"name": "hidden-experiment"}, headers=admin
            ).json()["experiment_id"]
            run = client.post(
                f"{api}/runs/create", json={"experiment_id": eid}, headers=admin
            ).json()["run"]["info"]
            client.post(
                f"{api}/runs/log-metric",
                json={"run_id": run["run_id"], "key": "m", "value": 1, "timestamp": 1},
                headers=admin,
            )
            model = client.post(
                f"{api}/logged-models",
                json={"experiment_id": eid, "name": "lm"},
                headers=admin,
            ).json()["model"]["info"]
            client.post(
                f"{api}/registered-models/create", json={"name": "hidden-model"}, headers=admin
            )
            r = client.post(
                f"{api}/model-versions/create",
                json={
                    "name": "hidden-model",
                    "source": f"runs:/{run['run_id']}/model",
                    "run_id": run["run_id"],
                },
                headers=admin,
            )
            assert r.status_code == 200, r.text
            r = client.put(
                f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run['run_id']}/artifacts/f.txt",
                content=b"secret",
                headers=admin,
            )
            assert r.status_code == 200, r.text
            info = {
                "trace_id": HIDDEN_TRACE,
                "trace_location": {"mlflow_experiment": {"experiment_id": eid}},
                "request_time": "2026-01-01T00:00:00Z",
                "state": "OK",
            }
            r = client.post(
                "/api/3.0/mlflow/traces", json={"trace": {"trace_info": info}}, headers=admin
            )
            assert r.status_code == 200, r.text
            yield client, Hidden(eid, run["run_id"], model["model_id"])
    finally:
        mp.undo()


def _concrete(probe: Probe, hidden: Hidden) -> str:
    """The probe's path naming the hidden things."""
    path = probe.path.replace(ESCAPE, f"{hidden.experiment_id}/{hidden.run_id}/artifacts/f.txt")
    if "/logged-models/" in path:
        path = path.replace("/logged-models/x", f"/logged-models/{hidden.model_id}")
    if "/models/x/" in path:
        path = path.replace("/models/x/", f"/models/{hidden.model_name}/")
    if "/experiments/x/" in path:
        path = path.replace("/experiments/x/", f"/experiments/{hidden.experiment_id}/")
    if "/traces/x" in path:
        path = path.replace("/traces/x", f"/traces/{hidden.trace_id}")
    return path


def _fields(hidden: Hidden) -> dict[str, Any]:
    return {
        "experiment_id": hidden.experiment_id,
        "experiment_ids": [hidden.experiment_id],
        "experiment_name": hidden.experiment_name,
        "run_id": hidden.run_id,
        "run_uuid": hidden.run_id,
        "run_ids": [hidden.run_id],
        "model_id": hidden.model_id,
        "name": hidden.model_name,
        "version": "1",
        "alias": "champion",
        "stage": "Production",
        "key": "m",
        "metric_key": "m",
        "path": f"{hidden.experiment_id}/{hidden.run_id}/artifacts/f.txt",
        "source": f"runs:/{hidden.run_id}/model",
        "username": ADMIN,
        "trace_id": hidden.trace_id,
        "trace_ids": [hidden.trace_id],
        "request_id": hidden.trace_id,
        "request_ids": [hidden.trace_id],
    }


def _call(client: TestClient, probe: Probe, hidden: Hidden, headers: dict[str, str]) -> Any:
    path = _concrete(probe, hidden)
    fields = _fields(hidden)
    own = (path.endswith("/create") and "/transition-requests/" not in path) or (
        probe.method == "POST" and path == "/api/v1/tokens"
    )
    if own and "/permissions/" not in path:
        fields["name"] = "nobodys-own"  # a user may create things of their own (and tokens)
    if path == "/v1/traces":  # OTLP: the experiment is named by a header
        headers = {**headers, "x-mlflow-experiment-id": hidden.experiment_id}
    if path in GRAPHQL_PATHS:  # GraphQL: the things are named in the query
        fields = {"query": _graphql_query(hidden)}
    if probe.method in ("GET", "HEAD"):
        query = urlencode(
            [(k, v) for k, vs in fields.items() for v in (vs if isinstance(vs, list) else [vs])]
        )
        return client.request(probe.method, f"{path}?{query}", headers=headers)
    return client.request(probe.method, path, json=fields, headers=headers)


GRAPHQL_PATHS = ("/graphql", "/ajax-api/graphql")


def _graphql_query(hidden: Hidden) -> str:
    """Every root field of /graphql, each naming the hidden things."""
    run, eid, name = hidden.run_id, hidden.experiment_id, hidden.model_name
    return (
        f'query {{ mlflowGetExperiment(input: {{experimentId: "{eid}"}})'
        " { experiment { name } }"
        f' mlflowGetRun(input: {{runId: "{run}"}}) {{ run {{ info {{ runName }} }} }}'
        f' mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{run}"], metricKey: "m"}})'
        " { metrics { runId } }"
        f' mlflowListArtifacts(input: {{runId: "{run}"}}) {{ files {{ path }} }}'
        f" mlflowSearchModelVersions(input: {{filter: \"name='{name}'\"}})"
        " { modelVersions { name runId } } }"
    )


PROBE_IDS = [p.id for p in PROBES]


def _is_public(probe: Probe) -> bool:
    return probe.path in PUBLIC_PATHS


def test_the_public_list_is_what_the_routes_declare() -> None:
    """Every route declares a need, and the public ones are exactly the list above."""
    declared_public = set()
    undeclared = []
    for probe in PROBES:
        if probe.kind == "mlflow":
            continue
        need = need_of(getattr(probe.route, "endpoint", None))
        if need is None:
            undeclared.append(probe.id)
        elif need.level is Level.PUBLIC:
            declared_public.add(probe.path)
    for endpoint in ENDPOINTS:
        for method in endpoint.methods:
            if endpoint.need_for(method) is None:
                undeclared.append(f"{method} {endpoint.prefixes[0]}{endpoint.path}")
    assert undeclared == []
    assert declared_public == PUBLIC_PATHS


@pytest.mark.parametrize("probe", PROBES, ids=PROBE_IDS)
def test_an_anonymous_caller_is_refused(served: tuple[TestClient, Hidden], probe: Probe) -> None:
    client, hidden = served
    response = _call(client, probe, hidden, {})
    if _is_public(probe):
        assert response.status_code != 401, response.text
        return
    assert response.status_code == 401, f"{probe.id}: {response.status_code} {response.text}"
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == 'Basic realm="cairn"'


@pytest.mark.parametrize("probe", PROBES, ids=PROBE_IDS)
def test_a_user_without_grants_never_reaches_the_hidden_things(
    served: tuple[TestClient, Hidden], probe: Probe
) -> None:
    client, hidden = served
    response = _call(client, probe, hidden, basic(NOBODY, NOBODY_PASSWORD))
    status = response.status_code
    assert status != 401, f"{probe.id}: {response.text}"
    assert status < 500, f"{probe.id}: {status} {response.text}"
    need = _need(probe)
    if need is not None and need.level in (Level.RESOURCE, Level.ADMIN):
        assert status == 403, f"{probe.id}: {status} {response.text[:300]}"
        assert response.json()["error_code"] == "PERMISSION_DENIED"
        return
    # public and any-user routes: whatever they answer, nothing hidden is in it
    text = response.text
    for marker in hidden.markers():
        assert marker not in text, f"{probe.id} shows {marker}: {text[:300]}"


def _need(probe: Probe) -> Any:
    if probe.kind != "mlflow":
        return need_of(getattr(probe.route, "endpoint", None))
    for endpoint in ENDPOINTS:
        for prefix in endpoint.prefixes:
            pattern = re.sub(r"\{\w+\}", "x", prefix + endpoint.path)
            if pattern == probe.path and probe.method in endpoint.methods:
                return endpoint.need_for(probe.method)
    raise AssertionError(f"no endpoint for {probe.id}")


def test_the_admin_reaches_them(served: tuple[TestClient, Hidden]) -> None:
    client, hidden = served
    admin = basic(ADMIN, ADMIN_PASSWORD)
    r = client.get(
        "/api/2.0/mlflow/experiments/get",
        params={"experiment_id": hidden.experiment_id},
        headers=admin,
    )
    assert r.status_code == 200
    r = client.get(
        f"/api/2.0/mlflow-artifacts/artifacts/{hidden.experiment_id}/{hidden.run_id}"
        "/artifacts/f.txt",
        headers=admin,
    )
    assert r.status_code == 200
    assert r.content == b"secret"


def test_a_route_that_declares_nothing_is_for_admins_only(tmp_path: Path) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    mp.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    try:
        app = create_app(Settings(backend_store_uri=f"sqlite:///{tmp_path / 'a.db'}", auth=True))

        async def undeclared(request: Request) -> PlainTextResponse:
            return PlainTextResponse("reached")

        root_app(app).routes.insert(0, Route("/api/v1/undeclared", undeclared))
        with TestClient(app) as client:
            root_app(app).state.access.create_user(NOBODY, NOBODY_PASSWORD)
            r = client.get("/api/v1/undeclared", headers=basic(NOBODY, NOBODY_PASSWORD))
            assert r.status_code == 403
            assert "declares no permission" in r.json()["message"]
            r = client.get("/api/v1/undeclared", headers=basic(ADMIN, ADMIN_PASSWORD))
            assert r.status_code == 200
            assert r.text == "reached"
    finally:
        mp.undo()


@pytest.mark.parametrize("path", GRAPHQL_PATHS)
def test_graphql_refuses_each_field_that_names_the_hidden_things(
    served: tuple[TestClient, Hidden], path: str
) -> None:
    """/graphql lets any signed-in user in (the layer), then checks each root field with the
    need of the MLflow endpoint it mirrors: every field naming the hidden experiment or run is
    refused by name, the search finds nothing."""
    client, hidden = served
    query = _graphql_query(hidden)
    r = client.post(path, json={"query": query}, headers=basic(NOBODY, NOBODY_PASSWORD))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == {
        "mlflowGetExperiment": None,
        "mlflowGetRun": None,
        "mlflowGetMetricHistoryBulkInterval": None,
        "mlflowListArtifacts": None,
        "mlflowSearchModelVersions": {"modelVersions": []},
    }
    assert len(body["errors"]) == 4
    for message in body["errors"]:
        assert f"needs READ on experiment '{hidden.experiment_id}'" in message, message
    r = client.post(path, json={"query": query}, headers=basic(ADMIN, ADMIN_PASSWORD))
    assert r.json()["errors"] is None, r.text
    assert r.json()["data"]["mlflowGetRun"]["run"]["info"]["runName"]
