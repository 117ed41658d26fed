"""The request guard (cairn/server/guard.py): another web page cannot write through a
visitor's browser (cross-site POSTs of the kinds a browser sends without a preflight, foreign
origins, ``Sec-Fetch-Site``), a ``Host`` off the list is refused (DNS rebinding), every
response says ``nosniff`` and the UI cannot be framed. Every refusal leaves the state as it
was, read back; same-origin UI requests and allowed origins pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from cairn.cli import default_allowed_hosts
from cairn.entities.errors import HTTP_STATUS, ErrorCode
from cairn.server.app import create_app
from cairn.server.guard import host_allowed, json_content_type, same_origin
from cairn.server.settings import Settings
from tests.compat.server import start_server

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts"
EVIL = "https://evil.example"
SRC = "mlflow-artifacts:/0/abc/artifacts/model"


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refused(response: httpx.Response, code: ErrorCode) -> str:
    assert response.status_code == HTTP_STATUS[code], response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code.value, body
    assert response.headers["x-content-type-options"] == "nosniff"
    message: str = body["message"]
    return message


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'guard.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient) -> dict[str, str]:
    """An experiment with a run that has one metric, a model with versions 1 and 2, the
    ``champion`` alias on version 1, and version 1 in Staging."""
    experiment_id = _ok(client.post(f"{API}/experiments/create", json={"name": "kept"}))[
        "experiment_id"
    ]
    run = _ok(client.post(f"{API}/runs/create", json={"experiment_id": experiment_id}))["run"]
    run_id = run["info"]["run_id"]
    metric = {"run_id": run_id, "key": "loss", "value": 1.0, "timestamp": 1, "step": 0}
    _ok(client.post(f"{API}/runs/log-metric", json=metric))
    _ok(client.post(f"{API}/registered-models/create", json={"name": "m"}))
    for _ in range(2):
        _ok(client.post(f"{API}/model-versions/create", json={"name": "m", "source": SRC}))
    alias = {"name": "m", "alias": "champion", "version": "1"}
    _ok(client.post(f"{API}/registered-models/alias", json=alias))
    stage = {"name": "m", "version": "1", "stage": "Staging", "archive_existing_versions": False}
    _ok(client.post(f"{API}/model-versions/transition-stage", json=stage))
    return {"experiment_id": experiment_id, "run_id": run_id}


def _state(client: TestClient, world: dict[str, str]) -> dict[str, Any]:
    experiment = _ok(
        client.get(f"{API}/experiments/get", params={"experiment_id": world["experiment_id"]})
    )["experiment"]
    run = _ok(client.get(f"{API}/runs/get", params={"run_id": world["run_id"]}))["run"]
    champion = _ok(
        client.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "champion"})
    )["model_version"]
    version2 = _ok(client.get(f"{API}/model-versions/get", params={"name": "m", "version": "2"}))[
        "model_version"
    ]
    return {
        "lifecycle": experiment["lifecycle_stage"],
        "metrics": run["data"].get("metrics"),
        "champion": champion["version"],
        "v2 stage": version2["current_stage"],
    }


def _hostile_writes(world: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """The writes a foreign page would want: each as JSON it would have to smuggle in."""
    return [
        (f"{API}/experiments/delete", {"experiment_id": world["experiment_id"]}),
        (f"{API}/registered-models/alias", {"name": "m", "alias": "champion", "version": "2"}),
        (
            f"{API}/model-versions/transition-stage",
            {"name": "m", "version": "2", "stage": "Production", "archive_existing_versions": True},
        ),
        (
            f"{API}/runs/log-metric",
            {"run_id": world["run_id"], "key": "loss", "value": 9.0, "timestamp": 2, "step": 1},
        ),
    ]


def _encodings(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The bodies a browser sends cross-site without a preflight, as httpx arguments."""
    import json

    text = json.dumps(payload)
    return [
        ("text/plain", {"content": text, "headers": {"Content-Type": "text/plain"}}),
        ("form", {"data": {text: ""}}),
        ("multipart", {"files": {"f": ("x.json", text, "application/json")}}),
        ("no content type", {"content": text.encode()}),
    ]


BROWSER_MARKS = {
    "foreign Origin": {"Origin": EVIL},
    "Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
    "both": {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    "Origin null": {"Origin": "null"},
    "Sec-Fetch-Site same-site": {"Sec-Fetch-Site": "same-site", "Origin": "https://x.testserver"},
}


def _send(client: TestClient, path: str, args: dict[str, Any], extra: dict[str, str]) -> Any:
    headers = {**args.get("headers", {}), **extra}
    return client.post(path, **{**args, "headers": headers})


@pytest.mark.parametrize("marks", list(BROWSER_MARKS), ids=list(BROWSER_MARKS))
def test_cross_site_posts_are_refused_and_change_nothing(
    client: TestClient, world: dict[str, str], marks: str
) -> None:
    before = _state(client, world)
    assert before == {
        "lifecycle": "active",
        "metrics": [{"key": "loss", "value": 1.0, "timestamp": 1, "step": 0}],
        "champion": "1",
        "v2 stage": "None",
    }
    for path, payload in _hostile_writes(world):
        for kind, args in _encodings(payload):
            response = _send(client, path, args, BROWSER_MARKS[marks])
            assert response.status_code == 403, f"{path} {kind}: {response.text}"
            _refused(response, ErrorCode.PERMISSION_DENIED)
        # even a JSON body is refused when the browser says it comes from another page
        response = _send(client, path, {"json": payload}, BROWSER_MARKS[marks])
        _refused(response, ErrorCode.PERMISSION_DENIED)
    assert _state(client, world) == before


def test_simple_content_types_are_415_even_without_browser_headers(
    client: TestClient, world: dict[str, str]
) -> None:
    before = _state(client, world)
    for path, payload in _hostile_writes(world):
        for kind, args in _encodings(payload):
            response = _send(client, path, args, {})
            message = _refused(response, ErrorCode.UNSUPPORTED_MEDIA_TYPE)
            assert "application/json" in message, f"{path} {kind}"
    assert _state(client, world) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_writes_from_a_foreign_origin_are_refused(
    client: TestClient, world: dict[str, str], method: str
) -> None:
    before = _state(client, world)
    path = f"{API}/registered-models/alias"
    body = {"name": "m", "alias": "champion"}
    response = client.request(method, path, json=body, headers={"Origin": EVIL})
    _refused(response, ErrorCode.PERMISSION_DENIED)
    upload = f"{ARTIFACTS}/artifacts/0/x/artifacts/evil.txt"
    response = client.request(
        method, upload, content=b"x", headers={"Sec-Fetch-Site": "cross-site"}
    )
    _refused(response, ErrorCode.PERMISSION_DENIED)
    assert _state(client, world) == before


def test_same_origin_ui_requests_pass(client: TestClient, world: dict[str, str]) -> None:
    """What the web UI sends (web/src/api/http.ts): JSON, from the server's own origin."""
    ui = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    alias = {"name": "m", "alias": "champion", "version": "2"}
    _ok(client.post(f"{API}/registered-models/alias", json=alias, headers=ui))
    json_utf8 = {**ui, "Content-Type": "application/json; charset=utf-8"}
    stage = b'{"name": "m", "version": "2", "stage": "Production"}'
    _ok(client.post(f"{API}/model-versions/transition-stage", content=stage, headers=json_utf8))
    # a typed-in URL or bookmark: Sec-Fetch-Site none
    _ok(client.get(f"{API}/experiments/search", headers={"Sec-Fetch-Site": "none"}))
    delete = {"experiment_id": world["experiment_id"]}
    _ok(client.post(f"{API}/experiments/delete", json=delete, headers=ui))
    after = _state(client, world)
    assert (after["lifecycle"], after["champion"], after["v2 stage"]) == (
        "deleted",
        "2",
        "Production",
    )
    # the same origin on its explicit default port is still the same origin
    restore = client.post(
        f"{API}/experiments/restore", json=delete, headers={"Origin": "http://testserver:80"}
    )
    _ok(restore)


def test_a_post_without_a_body_is_not_a_content_type_question(client: TestClient) -> None:
    """No body, no content type: it reaches the endpoint, which answers for itself."""
    response = client.post(f"{API}/experiments/create")
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_no_preflight_approves_a_foreign_origin(client: TestClient) -> None:
    preflight = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    for path in (f"{API}/experiments/delete", "/api/v1/datasets", f"{ARTIFACTS}/artifacts/a"):
        response = client.options(path, headers=preflight)
        assert "access-control-allow-origin" not in response.headers, path
        assert response.status_code >= 400, path
    answer = client.get(f"{API}/experiments/search", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in answer.headers


def test_an_allowed_origin_gets_cors_and_may_write(tmp_path: Path) -> None:
    app_origin = "https://app.example"
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'cors.db'}",
        cors_allowed_origins=(app_origin,),
    )
    with TestClient(create_app(settings)) as client:
        preflight = client.options(
            f"{API}/experiments/create",
            headers={"Origin": app_origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == app_origin
        assert "POST" in preflight.headers["access-control-allow-methods"]
        marks = {"Origin": app_origin, "Sec-Fetch-Site": "cross-site"}
        created = client.post(f"{API}/experiments/create", json={"name": "x"}, headers=marks)
        _ok(created)
        assert created.headers["access-control-allow-origin"] == app_origin
        # still JSON only, and other origins still refused
        plain = {**marks, "Content-Type": "text/plain"}
        text = client.post(f"{API}/experiments/create", content=b'{"name": "y"}', headers=plain)
        _refused(text, ErrorCode.UNSUPPORTED_MEDIA_TYPE)
        evil = client.post(
            f"{API}/experiments/create", json={"name": "z"}, headers={"Origin": EVIL}
        )
        _refused(evil, ErrorCode.PERMISSION_DENIED)
        foreign = client.options(
            f"{API}/experiments/create",
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in foreign.headers


def test_a_host_off_the_list_is_refused_in_process(tmp_path: Path) -> None:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'hosts.db'}",
        allowed_hosts=("localhost", "cairn.example.com:8443"),
    )
    app = create_app(settings)
    with TestClient(app) as client:  # TestClient's Host is "testserver"
        message = _refused(client.get("/health"), ErrorCode.PERMISSION_DENIED)
        assert "testserver" in message
        _refused(client.get(f"{API}/experiments/search"), ErrorCode.PERMISSION_DENIED)
    with TestClient(app, base_url="http://localhost:5123") as client:
        assert client.get("/health").text == "OK"
    with TestClient(app, base_url="https://cairn.example.com:8443") as client:
        assert client.get("/health").text == "OK"
    with TestClient(app, base_url="https://cairn.example.com") as client:
        _refused(client.get("/health"), ErrorCode.PERMISSION_DENIED)


def test_live_server_on_loopback_refuses_other_hosts(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'live.db'}"
    server_gen = start_server("sqlite", uri, tmp_path / "server")
    server = next(server_gen)
    try:
        port = server.url.rsplit(":", 1)[1]
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
            for path in ("/health", f"{API}/experiments/search", "/"):
                response = httpx.get(server.url + path, headers={"Host": host})
                message = _refused(response, ErrorCode.PERMISSION_DENIED)
                assert host in message
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
            response = httpx.get(server.url + "/health", headers={"Host": host})
            assert response.status_code == 200, host
            assert response.text == "OK"
        rebound = httpx.post(
            server.url + f"{API}/experiments/create",
            json={"name": "rebound"},
            headers={"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"},
        )
        _refused(rebound, ErrorCode.PERMISSION_DENIED)
        assert "allowed hosts: localhost, 127.0.0.1, [::1]" in server.log_since()
    finally:
        server_gen.close()


def test_every_kind_of_response_says_nosniff(client: TestClient, world: dict[str, str]) -> None:
    run_artifacts = f"{ARTIFACTS}/artifacts/0/{world['run_id']}/artifacts/a.txt"
    assert client.put(run_artifacts, content=b"hello").status_code == 200
    responses = {
        "mlflow": client.get(f"{API}/experiments/get", params={"experiment_id": "0"}),
        "v1": client.get("/api/v1/datasets"),
        "artifact": client.get(run_artifacts),
        "ui": client.get("/"),
        "404": client.get(f"{API}/no-such-endpoint"),
        "405": client.put(f"{API}/experiments/create"),
        "health": client.get("/health"),
        "docs": client.get("/docs"),
        "openapi": client.get("/openapi.json"),
    }
    for kind, response in responses.items():
        assert response.headers.get("x-content-type-options") == "nosniff", kind
    assert responses["artifact"].content == b"hello"
    assert responses["404"].status_code == 404


def test_html_pages_cannot_be_framed(tmp_path: Path) -> None:
    web = tmp_path / "static"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>Cairn</title><div id=root></div>")
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'ui.db'}")
    with TestClient(create_app(settings, web_dir=web)) as client:
        for path in ("/", "/experiments/1", "/docs", "/redoc"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html"), path
            assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
            assert response.headers["x-frame-options"] == "DENY", path


def test_docs_load_swagger_from_the_server_itself(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "cdn" not in page.lower()
    assert "/docs/assets/swagger-ui-bundle.js" in page
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert "cdn" not in client.get("/redoc").text.lower()
    assert client.get("/docs/assets/index.html").status_code == 404


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("localhost:5000", ("localhost",), True),
        ("LOCALHOST", ("localhost",), True),
        ("[::1]:5000", ("[::1]",), True),
        ("[::1]", ("::1",), True),
        ("127.0.0.1:80", ("127.0.0.1:5000",), False),
        ("127.0.0.1:5000", ("127.0.0.1:5000",), True),
        ("a.corp.example", ("*.corp.example",), True),
        ("corp.example.evil", ("*.corp.example",), False),
        ("localhost.evil.example", ("localhost",), False),
        ("anything", ("*",), True),
        (None, ("localhost",), False),
    ],
)
def test_host_matching(host: str | None, allowed: tuple[str, ...], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


def test_origin_and_content_type_rules() -> None:
    assert same_origin("http://localhost:5000", "localhost:5000")
    assert same_origin("https://cairn.example.com", "cairn.example.com")  # behind TLS
    assert same_origin("http://[::1]:5000", "[::1]:5000")
    assert not same_origin("http://localhost:5001", "localhost:5000")
    assert not same_origin("http://evil.example", "localhost")
    assert not same_origin("null", "localhost")
    assert json_content_type("application/json")
    assert json_content_type("Application/JSON; charset=utf-8")
    assert json_content_type("application/merge-patch+json")
    for refused in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        assert not json_content_type(refused)
    assert not json_content_type("text/json+plain")


def test_cli_default_hosts_follow_the_listening_address() -> None:
    loopback = ("localhost", "127.0.0.1", "[::1]")
    assert default_allowed_hosts("127.0.0.1") == loopback
    assert default_allowed_hosts("localhost") == loopback
    assert default_allowed_hosts("::1") == loopback
    assert default_allowed_hosts("127.0.0.2") == ("127.0.0.2", *loopback)
    assert default_allowed_hosts("192.168.1.5") == ("192.168.1.5", *loopback)
    assert default_allowed_hosts("fe80::1") == ("[fe80::1]", *loopback)
    assert default_allowed_hosts("0.0.0.0") == ("*",)
    assert default_allowed_hosts("::") == ("*",)
