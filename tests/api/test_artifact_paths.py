"""Artifact path hygiene over HTTP: traversal and malformed paths on every artifact route.

One test per (route, path) attempt. Each must answer 4xx with the JSON error shape and touch
nothing: a sentinel file next to the artifact root is never returned, rewritten or removed,
nothing appears or changes anywhere in the sandbox, and symlinks inside the root that point
outside are never followed.

Request targets are sent raw. httpx drops ``.``/``..`` segments from URLs and Starlette's
TestClient percent-decodes paths twice, so neither sends what an attacker would; the
``RawTarget`` wrapper instead takes the target from a header and builds the ASGI scope from it
exactly as uvicorn does from the request line (``path`` = percent-decoded once, ``raw_path`` =
the bytes as sent, ``query_string`` as sent).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.server.app import create_app
from cairn.server.settings import Settings

RAW_HEADER = b"x-raw-target"
NOT_ROUTED = "/__raw_target_header_missing__"
ARTIFACTS = "/api/2.0/mlflow-artifacts"
PAYLOAD = b"cairn-test-payload-that-must-never-land-anywhere"
MAX_SNAPSHOT_ENTRIES = 5000


class RawTarget:
    """Use the ``x-raw-target`` header as the request target, parsed the way uvicorn does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = dict(scope["headers"]).get(RAW_HEADER)
            if raw is not None:
                raw_path, _, query = raw.partition(b"?")
                scope = dict(scope)
                scope["path"] = unquote(raw_path.decode("ascii"))
                scope["raw_path"] = raw_path
                scope["query_string"] = query
        await self.app(scope, receive, send)


@dataclass
class Sandbox:
    client: TestClient
    base: Path  # everything the app may see; the root is base/"art"
    root: Path
    db_dir: Path
    secret: Path
    secret_bytes: bytes
    run_id: str
    run_path: str  # the run's artifact directory, relative to the root
    passwd_head: bytes

    def send(self, method: str, target: str, body: bytes | None = None) -> httpx.Response:
        """Send ``target`` raw (see :class:`RawTarget`)."""
        headers = {RAW_HEADER.decode(): target}
        return self.client.request(method, NOT_ROUTED, content=body, headers=headers)


def snapshot(base: Path, skip: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``base`` (but ``skip``): kind, size, mtime, symlink target."""
    out: dict[str, tuple[object, ...]] = {}
    for top, dirs, files in os.walk(base, followlinks=False):
        if Path(top) == skip:
            dirs.clear()
            continue
        for name in dirs + files:
            path = Path(top) / name
            if path == skip:
                continue
            assert len(out) < MAX_SNAPSHOT_ENTRIES, f"runaway tree under {base}"
            info = path.lstat()
            rel = path.relative_to(base).as_posix()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", info.st_size, info.st_mtime_ns, info.st_ino)
    return out


def _json(response: httpx.Response) -> dict[str, object]:
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    return body


def _create_run(client: TestClient) -> tuple[str, str]:
    created = client.post("/api/2.0/mlflow/experiments/create", json={"name": "paths"})
    assert created.status_code == 200, created.text
    exp_id = created.json()["experiment_id"]
    run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id})
    assert run.status_code == 200, run.text
    info = run.json()["run"]["info"]
    prefix = "mlflow-artifacts:/"
    assert info["artifact_uri"].startswith(prefix), info
    run_path = info["artifact_uri"][len(prefix) :].strip("/")
    assert run_path == f"{exp_id}/{info['run_id']}/artifacts", run_path
    return info["run_id"], run_path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    base = tmp_path_factory.mktemp("artifact-paths")
    db_dir = base / "db"
    db_dir.mkdir()
    root = base / "art"
    secret = base / "secret.txt"
    secret_bytes = b"SENTINEL-" + secrets.token_hex(16).encode()
    secret.write_bytes(secret_bytes)
    passwd = Path("/etc/passwd")
    passwd_head = passwd.read_bytes()[:24] if passwd.is_file() else b"root:x:0:0:"
    settings = Settings(
        backend_store_uri=f"sqlite:///{db_dir / 'api.db'}", artifacts_destination=str(root)
    )
    with TestClient(RawTarget(create_app(settings))) as client:
        run_id, run_path = _create_run(client)
        legit = client.put(f"{ARTIFACTS}/artifacts/{run_path}/legit.txt", content=b"legit")
        assert legit.status_code == 200, legit.text
        # symlinks inside the root that lead out of it
        (root / "1").mkdir(exist_ok=True)
        (root / "1" / "link").symlink_to(base, target_is_directory=True)
        (root / run_path / "link").symlink_to(base, target_is_directory=True)
        yield Sandbox(
            client, base, root, db_dir, secret, secret_bytes, run_id, run_path, passwd_head
        )


# -- the attempts -----------------------------------------------------------------------

# (id, route, method, template); {p} is the raw path, {run} the run id. "repo" routes take
# paths relative to the artifact root, "run" routes relative to the run's artifact folder.
ROUTES = [
    ("put", "repo", "PUT", ARTIFACTS + "/artifacts/{p}"),
    ("get", "repo", "GET", ARTIFACTS + "/artifacts/{p}"),
    ("delete", "repo", "DELETE", ARTIFACTS + "/artifacts/{p}"),
    ("list", "repo", "GET", ARTIFACTS + "/artifacts?path={p}"),
    ("mpu-create", "repo", "POST", ARTIFACTS + "/mpu/create/{p}"),
    ("mpu-complete", "repo", "POST", ARTIFACTS + "/mpu/complete/{p}"),
    ("mpu-abort", "repo", "POST", ARTIFACTS + "/mpu/abort/{p}"),
    ("run-list", "run", "GET", "/api/2.0/mlflow/artifacts/list?run_id={run}&path={p}"),
    ("get-artifact", "run", "GET", "/get-artifact?run_uuid={run}&path={p}"),
]
READ_ONLY = {"get", "list", "run-list", "get-artifact"}
# routes whose path is a folder, where "." (the root) is a legitimate answer
DIRECTORY_ROUTES = {"list", "run-list", "mpu-create"}
LONG_PATH = ("abcdefghij/" * 200)[:2000]

# (id, raw path); {abs} is the sentinel's absolute path, {link} a symlink leading out of the
# root (``1/link`` for repo routes, ``link`` inside the run folder for run routes)
PATHS = [
    ("dotdot", "../secret.txt"),
    ("inner-dotdot", "a/../../secret.txt"),
    ("deep-dotdot", "../../../../secret.txt"),
    ("enc-dotdot", "%2e%2e/secret.txt"),
    ("enc-dotdot-slash", "%2E%2E%2Fsecret.txt"),
    ("dotdot-enc-slash", "..%2fsecret.txt"),
    ("abs-sentinel", "{abs}"),
    ("abs-sentinel-encoded", "{abs_encoded}"),
    ("abs-etc-passwd", "/etc/passwd"),
    ("backslash", "a%5Cb"),
    ("backslash-dotdot", "..%5Csecret.txt"),
    ("nul", "a%00b"),
    ("newline", "a%0Ab"),
    ("long-segment", "s" * 300),
    ("long-path", LONG_PATH),
    ("dot", "."),
    ("symlink-file", "{link}/secret.txt"),
    ("symlink-new-file", "{link}/new.txt"),
    ("symlink-itself", "{link}"),
]

MPU_BODY = {
    "path": "/home/someone/big.bin",
    "num_parts": 2,
    "upload_id": "0" * 32,
    "parts": [{"part_number": 1, "etag": '"x"'}],
}


def _attempts() -> list[object]:
    out = []
    for route_id, scope, method, template in ROUTES:
        for path_id, raw in PATHS:
            if path_id == "abs-etc-passwd" and route_id not in READ_ONLY:
                continue  # never aim a write at a real system file
            if path_id == "dot" and route_id in DIRECTORY_ROUTES:
                continue  # "." names the root folder there, as in MLflow: listing it is fine
            out.append(
                pytest.param(route_id, scope, method, template, raw, id=f"{route_id}-{path_id}")
            )
    return out


def _target(sandbox: Sandbox, scope: str, template: str, raw: str) -> str:
    abs_secret = str(sandbox.secret)
    raw = raw.format(
        abs=abs_secret,
        abs_encoded=quote(abs_secret, safe=""),
        link="1/link" if scope == "repo" else "link",
    )
    return template.format(p=raw, run=sandbox.run_id)


def check_refused(sandbox: Sandbox, response: httpx.Response, what: str) -> None:
    status = response.status_code
    content = response.content
    assert 400 <= status < 500, f"{what}: expected 4xx, got {status}: {content[:300]!r}"
    ctype = response.headers.get("content-type", "")
    assert ctype.startswith("application/json"), f"{what}: content-type {ctype!r}"
    body = _json(response)
    assert isinstance(body.get("error_code"), str), f"{what}: {body}"
    assert body["error_code"], f"{what}: {body}"
    assert isinstance(body.get("message"), str), f"{what}: {body}"
    assert body["message"], f"{what}: {body}"
    # the wrapper missed the header (a vacuous 404); Starlette's own 404 for a path its
    # routes cannot match (``{path:path}`` stops at a newline) is a fine refusal
    assert NOT_ROUTED not in str(body["message"]), f"{what}: the raw target was not sent"
    assert sandbox.secret_bytes not in content, f"{what}: the sentinel's bytes were returned"
    assert sandbox.passwd_head not in content, f"{what}: /etc/passwd was returned"


@pytest.mark.parametrize(("route", "scope", "method", "template", "raw"), _attempts())
def test_bad_path_is_refused_and_touches_nothing(
    sandbox: Sandbox, route: str, scope: str, method: str, template: str, raw: str
) -> None:
    target = _target(sandbox, scope, template, raw)
    before = snapshot(sandbox.base, sandbox.db_dir)
    body: bytes | None = None
    if method == "PUT":
        body = PAYLOAD
    elif method == "POST":
        body = json.dumps(MPU_BODY).encode()
    response = sandbox.send(method, target, body)
    check_refused(sandbox, response, f"{method} {target[:200]}")
    assert sandbox.secret.read_bytes() == sandbox.secret_bytes, "the sentinel was rewritten"
    after = snapshot(sandbox.base, sandbox.db_dir)
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    assert not changed, f"{method} {target[:200]} changed {changed}"
    assert not sorted(after.keys() - before.keys()), f"{method} {target[:200]} created files"
    assert not sorted(before.keys() - after.keys()), f"{method} {target[:200]} removed files"


BAD_UPLOAD_NAMES = ["..", ".", "", "/", "dir/..", "a\x00b", "a\nb", "n" * 300]


@pytest.mark.parametrize("name", BAD_UPLOAD_NAMES, ids=lambda n: repr(n)[:20])
def test_mpu_create_refuses_bad_file_names(sandbox: Sandbox, name: str) -> None:
    """mpu/create names its file after the client's local file (its last segment)."""
    before = snapshot(sandbox.base, sandbox.db_dir)
    target = f"{ARTIFACTS}/mpu/create/{sandbox.run_path}/sub"
    body = json.dumps({"path": name, "num_parts": 1}).encode()
    response = sandbox.send("POST", target, body)
    check_refused(sandbox, response, f"mpu/create with path {name[:40]!r}")
    assert snapshot(sandbox.base, sandbox.db_dir) == before


# -- positive controls: the wrapper routes, legal edge cases pass ------------------------


def test_raw_target_reaches_the_routes(sandbox: Sandbox) -> None:
    path = f"{sandbox.run_path}/control/ok%20file.txt"
    put = sandbox.send("PUT", f"{ARTIFACTS}/artifacts/{path}", b"control bytes")
    assert put.status_code == 200, put.content
    stored = sandbox.root / sandbox.run_path / "control" / "ok file.txt"
    assert stored.read_bytes() == b"control bytes"
    got = sandbox.send("GET", f"{ARTIFACTS}/artifacts/{path}")
    assert got.status_code == 200, got.content
    assert got.content == b"control bytes"


def _path_of_length(prefix: str, total: int) -> str:
    """``prefix/`` followed by 200-character names, exactly ``total`` characters long."""
    path = prefix
    for _ in range(total):
        room = total - len(path) - 1
        if room <= 0:
            break
        path += "/" + "x" * min(200, room)
    assert len(path) == total, (len(path), total)
    return path


@pytest.mark.parametrize("kind", ["segment-255", "path-1024"])
def test_legal_long_names_are_accepted(sandbox: Sandbox, kind: str) -> None:
    prefix = f"{sandbox.run_path}/long-{kind}"
    path = f"{prefix}/{'n' * 255}" if kind == "segment-255" else _path_of_length(prefix, 1024)
    put = sandbox.send("PUT", f"{ARTIFACTS}/artifacts/{path}", b"long")
    assert put.status_code == 200, put.content
    got = sandbox.send("GET", f"{ARTIFACTS}/artifacts/{path}")
    assert got.status_code == 200, got.content
    assert got.content == b"long"


# -- size limit, ranges, missing files ---------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[TestClient, Path, str]]:
    """An app refusing uploads over 1000 bytes; its artifact root and a run's folder."""
    root = tmp_path / "art"
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'api.db'}",
        artifacts_destination=str(root),
        max_artifact_bytes=1000,
    )
    with TestClient(create_app(settings)) as client:
        _, run_path = _create_run(client)
        yield client, root, run_path


def _files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_upload_over_the_limit_is_413_and_leaves_nothing(
    limited: tuple[TestClient, Path, str], framing: str
) -> None:
    client, root, run_path = limited
    data = os.urandom(1001)
    url = f"{ARTIFACTS}/artifacts/{run_path}/big.bin"
    body: bytes | Iterator[bytes] = data
    if framing == "chunked":
        body = iter([data[:500], data[500:]])
    response = client.put(url, content=body)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED", response.json()
    assert isinstance(response.json()["message"], str)
    assert client.get(url).status_code == 404
    listing = client.get(f"{ARTIFACTS}/artifacts", params={"path": run_path})
    assert listing.status_code == 200, listing.text
    assert listing.json() == {}, listing.json()
    assert _files_under(root) == [], "a refused upload left files behind"


def test_upload_at_the_limit_is_accepted(limited: tuple[TestClient, Path, str]) -> None:
    client, root, run_path = limited
    data = os.urandom(1000)
    url = f"{ARTIFACTS}/artifacts/{run_path}/exact.bin"
    assert client.put(url, content=data).status_code == 200
    got = client.get(url)
    assert got.status_code == 200, got.text
    assert got.content == data
    assert _files_under(root) == [f"{run_path}/exact.bin"]


RANGES = [
    ("bytes=100-199", 100, 199),
    ("bytes=0-0", 0, 0),
    ("bytes=990-", 990, 999),
    ("bytes=-10", 990, 999),
    ("bytes=950-5000", 950, 999),
]


@pytest.mark.parametrize("route", ["mlflow-artifacts", "get-artifact"])
@pytest.mark.parametrize(("header", "first", "last"), RANGES, ids=[r[0] for r in RANGES])
def test_range_request_gets_206_and_the_bytes(
    sandbox: Sandbox, route: str, header: str, first: int, last: int
) -> None:
    data = bytes(range(256)) * 3 + os.urandom(232)
    assert len(data) == 1000
    put = sandbox.client.put(f"{ARTIFACTS}/artifacts/{sandbox.run_path}/range.bin", content=data)
    assert put.status_code == 200, put.text
    if route == "mlflow-artifacts":
        url = f"{ARTIFACTS}/artifacts/{sandbox.run_path}/range.bin"
        params = {}
    else:
        url = "/get-artifact"
        params = {"run_uuid": sandbox.run_id, "path": "range.bin"}
    got = sandbox.client.get(url, params=params, headers={"Range": header})
    assert got.status_code == 206, (got.status_code, got.content[:200])
    assert got.content == data[first : last + 1]
    assert got.headers["content-range"] == f"bytes {first}-{last}/1000"
    assert got.headers["content-length"] == str(last - first + 1)
    whole = sandbox.client.get(url, params=params)
    assert whole.status_code == 200
    assert whole.content == data


@pytest.mark.parametrize("route", ["mlflow-artifacts", "get-artifact"])
def test_missing_artifact_is_404(sandbox: Sandbox, route: str) -> None:
    if route == "mlflow-artifacts":
        got = sandbox.client.get(f"{ARTIFACTS}/artifacts/{sandbox.run_path}/no/such/file.txt")
    else:
        params = {"run_uuid": sandbox.run_id, "path": "no/such/file.txt"}
        got = sandbox.client.get("/get-artifact", params=params)
    assert got.status_code == 404, got.text
    assert got.headers["content-type"].startswith("application/json")
    body = got.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST", body
    assert isinstance(body["message"], str), body
    assert body["message"], body
