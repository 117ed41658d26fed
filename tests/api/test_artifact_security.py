"""Artifact route hardening: ``..`` in every encoding is refused (never normalised) on every
artifact route the app has, and downloads a browser could run are sandboxed attachments.

The routes are discovered from the app, so a route added later is attacked too. Targets go
through :class:`RawTarget` (the request line as uvicorn parses it), so nothing on the way
normalises them; one live ``cairn server`` check sends the same bytes over a raw socket.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from cairn.artifacts.paths import clean_path, traversal
from cairn.entities.errors import CairnError
from cairn.server.app import create_app
from cairn.server.mlflow.artifacts import TERSE, ArtifactGuard, content_disposition, is_active
from cairn.server.settings import Settings
from tests.api import root_app
from tests.api.test_artifact_paths import RAW_HEADER, RawTarget, snapshot
from tests.compat.server import start_server

ARTIFACTS = "/api/2.0/mlflow-artifacts"
MARK = "zqmark"  # in every hostile path, so the refusal's message can be seen to name it
PAYLOAD = b"must-never-land"
UPLOAD_ID = "0" * 32


def _app_routes(settings: Settings) -> list[Route]:
    """Every plain route of the app (the MLflow JSON table and FastAPI sit behind them)."""
    return [r for r in root_app(create_app(settings)).routes if type(r) is Route]


def _artifact_routes() -> list[tuple[str, str]]:
    """(method, path template) of every artifact route the app serves, discovered."""
    settings = Settings(backend_store_uri="sqlite://", artifacts_destination="/nonexistent")
    out = []
    for route in _app_routes(settings):
        if "artifact" not in route.path or route.path.startswith("//"):
            continue  # "//model-versions/…" is its one-slash twin (a URL would read a host)
        for method in sorted(route.methods or ()):
            if method != "HEAD":  # a GET without a body: its GET twin is attacked
                out.append((method, route.path))
    return out


ROUTES = _artifact_routes()


def test_routes_were_discovered() -> None:
    paths = {path for _, path in ROUTES}
    assert f"{ARTIFACTS}/artifacts/{{path:path}}" in paths
    assert "/get-artifact" in paths
    assert any("/mpu/part/" in p for p in paths)
    assert len(ROUTES) >= 15, ROUTES


def test_every_plain_route_is_guarded() -> None:
    """Every artifact route goes through the one guard (it is the only place the rule is)."""
    settings = Settings(backend_store_uri="sqlite://", artifacts_destination="/nonexistent")
    for route in _app_routes(settings):
        if "artifact" in route.path:
            assert isinstance(route.endpoint, ArtifactGuard), route.path


# (id, hostile path): {pre} is a run's artifact folder (or "" where the route takes paths
# relative to the run), {other} another run's artifact folder, so the raw forms would land
# inside the store, on the other run's file, if anything normalised them
ENCODINGS = [
    ("raw-inside-store", "{pre}" + MARK + "/../../../{other}/y.txt"),
    ("raw-leading", "../" + MARK + ".txt"),
    ("raw-trailing", "{pre}" + MARK + "/.."),
    ("enc-lower", "{pre}" + MARK + "/%2e%2e/%2e%2e/%2e%2e/{other}/y.txt"),
    ("enc-upper-mixed", "{pre}" + MARK + "/%2E%2e/y.txt"),
    ("enc-half", "{pre}" + MARK + "/.%2e/y.txt"),
    ("enc-half-first", "{pre}" + MARK + "/%2e./y.txt"),
    ("enc-slash", "{pre}" + MARK + "%2f..%2f..%2f..%2f{other}/y.txt"),
    ("double", "{pre}" + MARK + "/%252e%252e/y.txt"),
    ("double-mixed", "{pre}" + MARK + "/%252E%252e/y.txt"),
    ("double-half", "{pre}" + MARK + "/.%252e/y.txt"),
    ("double-slash", "{pre}" + MARK + "%252f..%252fy.txt"),
    ("triple", "{pre}" + MARK + "/%25252e%25252e/y.txt"),
    ("backslash-raw", "{pre}" + MARK + "/..\\y.txt"),
    ("backslash-enc", "{pre}" + MARK + "/..%5cy.txt"),
    ("backslash-enc-upper", "{pre}" + MARK + "/..%5Cy.txt"),
    ("backslash-double", "{pre}" + MARK + "/..%255cy.txt"),
    ("backslash-lead", "{pre}" + MARK + "/%5c..%5cy.txt"),
    ("fullwidth-dots", "{pre}" + MARK + "/%EF%BC%8E%EF%BC%8E/y.txt"),
]

# names in a JSON body: mpu/create|complete|abort take the client's local file path and use
# only its last segment, so that segment is where a traversal would bite
BODY_NAMES = [
    "..",
    MARK + "/..",
    "%2e%2e",
    "%2E%2e",
    ".%2e",
    "%252e%252e",
    MARK + "\\..",
    "..%5c",
    "..%255c",
    MARK + "%2f..",
]


@dataclass
class Store:
    client: TestClient
    base: Path
    root: Path
    run_id: str
    run_path: str
    other_path: str

    def send(self, method: str, target: str, body: bytes | None = None) -> httpx.Response:
        headers = {RAW_HEADER.decode(): target}
        if method == "POST":  # as every real client posts (the request guard refuses others)
            headers["content-type"] = "application/json"
        return self.client.request(method, "/__raw__", content=body, headers=headers)


def _run(client: TestClient, experiment: str) -> tuple[str, str]:
    exp = client.post("/api/2.0/mlflow/experiments/create", json={"name": experiment})
    assert exp.status_code == 200, exp.text
    made = client.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": exp.json()["experiment_id"]}
    )
    assert made.status_code == 200, made.text
    info = made.json()["run"]["info"]
    return info["run_id"], info["artifact_uri"][len("mlflow-artifacts:/") :].strip("/")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    base = tmp_path_factory.mktemp("artifact-security")
    root = base / "art"
    (base / "db").mkdir()
    settings = Settings(
        backend_store_uri=f"sqlite:///{base / 'db' / 'db.sqlite'}",
        artifacts_destination=str(root),
    )
    with TestClient(RawTarget(create_app(settings))) as client:
        run_id, run_path = _run(client, "mine")
        _, other_path = _run(client, "theirs")
        for path in (f"{run_path}/y.txt", f"{other_path}/y.txt", f"{run_path}/sub/y.txt"):
            put = client.put(f"{ARTIFACTS}/artifacts/{path}", content=b"original")
            assert put.status_code == 200, put.text
        yield Store(client, base, root, run_id, run_path, other_path)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _request(store: Store, method: str, template: str, hostile: str) -> tuple[str, bytes | None]:
    """The raw target and body of ``method template`` with ``hostile`` where its path goes."""
    run_relative = not template.startswith(ARTIFACTS)
    path = hostile.format(pre="" if run_relative else store.run_path + "/", other=store.other_path)
    target = template.replace("{upload_id}", UPLOAD_ID).replace("{part_number:int}", "1")
    if "{path:path}" in target:
        target = target.replace("{path:path}", path)
        target += f"?run_id={store.run_id}&run_uuid={store.run_id}"
    else:
        target += f"?run_id={store.run_id}&run_uuid={store.run_id}&path={path}"
    body: bytes | None = None
    if method == "PUT":
        body = PAYLOAD
    elif method == "POST":
        body = json.dumps({"path": "/home/me/file.bin", "upload_id": UPLOAD_ID}).encode()
    return target, body


def assert_refused(response: httpx.Response, what: str, names: str = MARK) -> None:
    assert response.status_code == 400, f"{what}: {response.status_code} {response.text[:300]}"
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert names in body["message"], f"{what}: the message does not name the path: {body}"
    assert "'..' is not allowed" in body["message"], body
    assert response.headers["x-content-type-options"] == "nosniff", what


@pytest.mark.parametrize(("encoding", "hostile"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_traversal_is_refused_everywhere(
    store: Store, method: str, template: str, encoding: str, hostile: str
) -> None:
    target, body = _request(store, method, template, hostile)
    before_files = _files(store.root)
    before = snapshot(store.base, store.base / "db")
    response = store.send(method, target, body)
    if template in TERSE:  # MLflow's UI routes: MLflow's whole message
        assert response.status_code == 400, f"{method} {target}: {response.text[:300]}"
        assert response.json() == {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": "Invalid path",
        }
    else:
        assert_refused(response, f"{method} {target}")
    assert _files(store.root) == before_files, f"{method} {target} changed the store"
    assert snapshot(store.base, store.base / "db") == before


@pytest.mark.parametrize("value", ["..", "%2e%2e", "%252e%252e", "a/../b", "..%5c"])
def test_any_query_value_is_checked(store: Store, value: str) -> None:
    """A ``..`` in any query value of an artifact route is refused, not just in ``path=``."""
    before = _files(store.root)
    target = f"{ARTIFACTS}/artifacts/{store.run_path}/q.txt?{MARK}={value}"
    assert_refused(store.send("PUT", target, PAYLOAD), target)
    assert _files(store.root) == before


@pytest.mark.parametrize("name", BODY_NAMES)
@pytest.mark.parametrize("action", ["create", "complete", "abort"])
@pytest.mark.parametrize("where", ["in-url", "root"])
def test_traversal_in_json_body_is_refused(
    store: Store, action: str, where: str, name: str
) -> None:
    target = f"{ARTIFACTS}/mpu/{action}" + (f"/{store.run_path}" if where == "in-url" else "")
    body = json.dumps({"path": name, "num_parts": 1, "upload_id": UPLOAD_ID}).encode()
    before = snapshot(store.base, store.base / "db")
    response = store.send("POST", target, body)
    shown = name.rsplit("/", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]
    assert_refused(response, f"{action} {name!r}", names=shown)
    assert snapshot(store.base, store.base / "db") == before


@pytest.mark.parametrize("name", ["file.bin", "../data/file.bin", "C:\\Users\\me\\..\\f.bin"])
def test_mpu_client_paths_still_work(store: Store, name: str) -> None:
    """The body's path is the client's own local file; only its last segment is stored, so
    a stock client uploading ``../data/file.bin`` keeps working."""
    created = store.client.post(
        f"{ARTIFACTS}/mpu/create/{store.run_path}/mpu", json={"path": name, "num_parts": 1}
    )
    assert created.status_code == 200, created.text
    aborted = store.client.post(
        f"{ARTIFACTS}/mpu/abort/{store.run_path}/mpu",
        json={"path": name, "upload_id": created.json()["upload_id"]},
    )
    assert aborted.status_code == 200, aborted.text


@pytest.mark.parametrize(
    "name", ["notes..txt", "..hidden", "a%20b.txt", "100%.txt", "%41.txt", "ok.txt"]
)
def test_names_that_merely_look_odd_still_work(store: Store, name: str) -> None:
    target = f"{ARTIFACTS}/artifacts/{store.run_path}/odd/{name.replace('%', '%25')}"
    put = store.send("PUT", target, b"odd")
    assert put.status_code == 200, put.text
    assert (store.root / store.run_path / "odd" / name).read_bytes() == b"odd"
    got = store.send("GET", target)
    assert got.status_code == 200, got.text
    assert got.content == b"odd"
    assert got.headers["x-content-type-options"] == "nosniff"


# -- the rule itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["..", "a/../b", "%2e%2e", "%2E%2e/x", ".%2e", "%252e%252e", "..\\x", "..%5cx", "..%255cx"]
    + ["a%2f..%2fb", "%25252e%25252e", "．．", "%" + "25" * 12 + "2e%" + "25" * 12 + "2e"],
)
def test_clean_path_refuses_what_decodes_to_dotdot(text: str) -> None:
    assert traversal(text) is not None
    with pytest.raises(CairnError, match=r"'\.\.'") as caught:
        clean_path(text.replace("\\", "%5c"))
    assert caught.value.http_status == 400


@pytest.mark.parametrize("text", ["a/b", "notes..txt", "..a", "a..", "%2e", "100%", "a%zzb"])
def test_plain_names_are_not_traversal(text: str) -> None:
    assert traversal(text) is None


# -- active content ----------------------------------------------------------------------

ACTIVE = [".html", ".htm", ".xhtml", ".svg", ".svgz", ".js", ".mjs", ".xml", ".xsl", ".HTML"]
PASSIVE = [".txt", ".png", ".json", ".csv", ".parquet", ".bin"]


def _download_urls(store: Store, rel: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{ARTIFACTS}/artifacts/{store.run_path}/{rel}", {}),
        ("/get-artifact", {"run_uuid": store.run_id, "path": rel}),
        ("/ajax-api/2.0/mlflow/get-artifact", {"run_uuid": store.run_id, "path": rel}),
    ]


@pytest.fixture(params=["local-file", "streamed"])
def served(request: pytest.FixtureRequest, store: Store) -> Iterator[Store]:
    """Downloads as a local file (FileResponse) and streamed as from S3 (no local path)."""
    if request.param == "local-file":
        yield store
        return
    repo = root_app(store.client.app).state.artifacts.repo
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(repo, "local_path", lambda path: None)
        yield store


@pytest.mark.parametrize("suffix", ACTIVE)
def test_active_content_is_a_sandboxed_attachment(served: Store, suffix: str) -> None:
    rel = f"active/page{suffix}"
    data = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    put = served.client.put(f"{ARTIFACTS}/artifacts/{served.run_path}/{rel}", content=data)
    assert put.status_code == 200, put.text
    for url, params in _download_urls(served, rel):
        for headers, status in (({}, 200), ({"Range": "bytes=0-9"}, 206)):
            got = served.client.get(url, params=params, headers=headers)
            assert got.status_code == status, (url, got.status_code, got.text[:200])
            assert got.headers["content-disposition"] == f'attachment; filename="page{suffix}"'
            assert got.headers["content-security-policy"] == "sandbox"
            assert got.headers["x-content-type-options"] == "nosniff"
            assert got.content == (data if status == 200 else data[:10])


def test_svg_keeps_its_type_so_an_img_still_renders_it(store: Store) -> None:
    url = f"{ARTIFACTS}/artifacts/{store.run_path}/active/pic.svg"
    assert store.client.put(url, content=b"<svg xmlns='http://www.w3.org/2000/svg'/>").is_success
    got = store.client.get(url)
    assert got.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize("suffix", PASSIVE)
def test_passive_content_stays_inline_with_nosniff(served: Store, suffix: str) -> None:
    rel = f"passive/data{suffix}"
    put = served.client.put(f"{ARTIFACTS}/artifacts/{served.run_path}/{rel}", content=b"x" * 20)
    assert put.status_code == 200, put.text
    for url, params in _download_urls(served, rel):
        for headers in ({}, {"Range": "bytes=0-9"}):
            got = served.client.get(url, params=params, headers=headers)
            assert got.is_success, got.text
            assert "content-disposition" not in got.headers
            assert "content-security-policy" not in got.headers
            assert got.headers["x-content-type-options"] == "nosniff"


def test_non_ascii_active_name_gets_filename_star(store: Store) -> None:
    name = 'отчёт "1".html'
    url = f"{ARTIFACTS}/artifacts/{store.run_path}/active/{name}"
    assert store.client.put(url, content=b"<p>hi</p>").is_success
    got = store.client.get(url)
    assert got.headers["content-disposition"] == (
        'attachment; filename="_____ _1_.html"; '
        "filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20%221%22.html"
    )


def test_active_by_served_type() -> None:
    assert is_active("a.bin", "text/html")
    assert is_active("a.bin", "application/xhtml+xml; charset=utf-8")
    assert is_active("feed.rss", "application/rss+xml")
    assert is_active("x.SVG", "application/octet-stream")
    assert not is_active("a.txt", "text/plain")
    assert not is_active("html", "application/octet-stream")
    assert content_disposition("dir/plain.svg") == 'attachment; filename="plain.svg"'
    assert content_disposition("100%.html") == (
        "attachment; filename=\"100_.html\"; filename*=UTF-8''100%25.html"
    )


def test_every_artifact_answer_has_nosniff(store: Store) -> None:
    answers = [
        store.client.get(f"{ARTIFACTS}/artifacts", params={"path": store.run_path}),
        store.client.get(f"{ARTIFACTS}/artifacts/{store.run_path}/missing.txt"),
        store.client.put(f"{ARTIFACTS}/artifacts/{store.run_path}/n.txt", content=b"n"),
        store.client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": store.run_id}),
        store.client.get("/get-artifact", params={"run_uuid": "nope", "path": "x"}),
        store.client.get(f"{ARTIFACTS}/presigned/{store.run_path}/y.txt"),
    ]
    for response in answers:
        assert response.headers.get("x-content-type-options") == "nosniff", (
            response.request.url,
            response.status_code,
        )


# -- one live server, raw bytes on a socket ----------------------------------------------


def _raw(url: str, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("ascii") + body
    with socket.create_connection(("127.0.0.1", parts.port or 80), timeout=20) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    head, _, rest = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head + b"\n" + rest


def test_live_server_refuses_raw_traversal(tmp_path: Path) -> None:
    root = tmp_path / "art"
    server_iter = start_server(
        "sqlite",
        f"sqlite:///{tmp_path / 'cairn.db'}",
        tmp_path / "work",
        extra_args=["--artifacts-destination", str(root)],
    )
    server = next(server_iter)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            runs = []
            for name in ("mine", "theirs"):
                exp = client.post("/api/2.0/mlflow/experiments/create", json={"name": name})
                run = client.post(
                    "/api/2.0/mlflow/runs/create",
                    json={"experiment_id": exp.json()["experiment_id"]},
                )
                uri = run.json()["run"]["info"]["artifact_uri"]
                runs.append(uri[len("mlflow-artifacts:/") :].strip("/"))
            mine, theirs = runs
            assert client.put(f"{ARTIFACTS}/artifacts/{theirs}/y.txt", content=b"theirs").is_success
        before = _files(root)
        for hostile in (
            f"{mine}/x/../../../{theirs}/y.txt",
            f"{mine}/x/%2e%2e/%2e%2e/%2e%2e/{theirs}/y.txt",
            f"{mine}/x/%252e%252e/y.txt",
            f"{mine}/x/..%5cy.txt",
            f"{mine}/x%2f..%2f..%2f..%2f{theirs}/y.txt",
        ):
            for method in ("GET", "PUT", "DELETE"):
                body = PAYLOAD if method == "PUT" else b""
                status, reply = _raw(server.url, method, f"{ARTIFACTS}/artifacts/{hostile}", body)
                assert status == 400, (method, hostile, reply[:500])
                assert b"INVALID_PARAMETER_VALUE" in reply, reply[:500]
                assert b"nosniff" in reply.lower(), reply[:500]
            status, reply = _raw(server.url, "GET", f"{ARTIFACTS}/artifacts?path={hostile}")
            assert status == 400, (hostile, reply[:500])
        assert _files(root) == before, "a refused request changed the store"
    finally:
        server_iter.close()
