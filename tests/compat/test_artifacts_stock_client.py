"""Artifacts with the stock mlflow clients through a live cairn server, per artifact store.

Every test starts its own server with a fresh artifact destination (a local folder, or a
fresh bucket on moto's S3 server on loopback), runs one workflow from ``workflows/`` under a
client venv, then checks the store itself: it must hold exactly the files the workflow
reports in its ``MANIFEST`` line, byte for byte (no temp files, parts or unfinished uploads
left behind).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.compat.server import CairnServer, start_server
from tests.compat.test_stock_client import CLIENTS, run_workflow_script, tail
from tests.databases import fresh_postgres_database
from tests.s3server import S3Server, s3_server

ROUNDTRIP_TIMEOUT_S = 300
LARGE_TIMEOUT_S = 1800
MAX_STORE_FILES = 10_000
HASH_CHUNK = 4 << 20
S3_PREFIX = "artifacts"


@dataclass
class ArtifactServer:
    """A running server and where its artifact bytes land."""

    server: CairnServer
    kind: str  # "local" or "s3"
    root: Path | None = None
    s3: S3Server | None = None
    bucket: str | None = None


SETUPS = [
    pytest.param(("sqlite", "local"), id="sqlite-local"),
    pytest.param(("sqlite", "s3"), id="sqlite-s3"),
    pytest.param(("postgres", "local"), id="postgres-local", marks=pytest.mark.postgres),
]
LARGE_SETUPS = [
    pytest.param(("sqlite", "local"), id="sqlite-local"),
    pytest.param(("sqlite", "s3"), id="sqlite-s3"),
]


@pytest.fixture
def artifact_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactServer]:
    store, kind = request.param
    workdir = tmp_path / "server"
    workdir.mkdir()
    with contextlib.ExitStack() as stack:
        if store == "sqlite":
            uri = f"sqlite:///{workdir / 'cairn.db'}"
        else:
            uri = stack.enter_context(fresh_postgres_database())
        env: dict[str, str] = {}
        s3 = bucket = root = None
        if kind == "s3":
            s3 = stack.enter_context(s3_server())
            bucket = f"cairn-art-{uuid.uuid4().hex[:12]}"
            s3.create_bucket(bucket)
            destination = f"s3://{bucket}/{S3_PREFIX}"
            env = s3.env()
        elif store == "sqlite":
            root = workdir / "artifacts"
            destination = "./artifacts"  # relative to the server's working directory
        else:
            root = workdir / "artifact-root"
            destination = root.as_uri()  # file:///abs
        if root is not None:
            assert not root.exists()
        servers = contextlib.contextmanager(start_server)(
            f"{store}-{kind}", uri, workdir, ["--artifacts-destination", destination], env
        )
        server = stack.enter_context(servers)
        yield ArtifactServer(server, kind, root, s3, bucket)


def sha256_stream(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for _ in range(1 + path.stat().st_size // HASH_CHUNK):
            block = handle.read(HASH_CHUNK)
            if not block:
                return
            yield block


def stored_local(root: Path) -> dict[str, str]:
    """Every file under ``root``: its posix path relative to root and sha256."""
    assert root.is_dir(), f"the artifact root {root} was never created"
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        assert len(out) < MAX_STORE_FILES, f"runaway store under {root}"
        rel = path.relative_to(root).as_posix()
        assert not path.is_symlink(), f"symlink in the artifact store: {rel}"
        if path.is_dir():
            continue
        assert path.is_file(), f"not a regular file in the artifact store: {rel}"
        out[rel] = sha256_stream(file_chunks(path))
    return out


def stored_s3(s3: S3Server, bucket: str) -> dict[str, str]:
    """Every object in ``bucket``: its key below ``S3_PREFIX/`` and sha256."""
    client = s3.client()
    keys: list[str] = []
    token: dict[str, str] = {}
    for _ in range(1 + MAX_STORE_FILES // 1000):
        page = client.list_objects_v2(Bucket=bucket, **token)
        keys += [obj["Key"] for obj in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        token = {"ContinuationToken": page["NextContinuationToken"]}
    outside = [k for k in keys if not k.startswith(f"{S3_PREFIX}/")]
    assert not outside, f"objects outside s3://{bucket}/{S3_PREFIX}/: {outside}"
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert not uploads, f"unfinished multipart uploads left in the bucket: {uploads}"
    out = {}
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        out[key[len(S3_PREFIX) + 1 :]] = sha256_stream(body.iter_chunks(HASH_CHUNK))
    return out


def check_store(target: ArtifactServer, manifest: dict[str, str]) -> None:
    if target.kind == "local":
        assert target.root is not None
        stored = stored_local(target.root)
    else:
        assert target.s3 is not None
        assert target.bucket is not None
        stored = stored_s3(target.s3, target.bucket)
    missing = sorted(set(manifest) - set(stored))
    extra = sorted(set(stored) - set(manifest))
    where = f"the {target.kind} artifact store"
    assert not extra, f"{where} holds files nobody logged (left over?): {extra}"
    assert not missing, f"{where} lacks logged files: {missing}"
    differ = sorted(k for k in manifest if stored[k] != manifest[k])
    assert not differ, f"stored bytes differ from what the client logged: {differ}"


def check_server_info(server: CairnServer) -> None:
    with urllib.request.urlopen(f"{server.url}/api/3.0/mlflow/server-info", timeout=10) as resp:
        info = json.loads(resp.read())
    assert info.get("multipart_uploads_enabled") is True, info


def run_workflow(
    target: ArtifactServer, client: str, workflow: str, cwd: Path, timeout: int
) -> dict[str, str]:
    """Run the workflow; returns its manifest (storage path -> sha256)."""
    server = target.server
    cwd.mkdir()
    where = f"{workflow} with {client} ({server.backend})"
    stdout = run_workflow_script(server, client, workflow, cwd, timeout)
    lines = [ln for ln in stdout.splitlines() if ln.startswith("MANIFEST ")]
    assert len(lines) == 1, f"{where} printed no MANIFEST line:\n{tail(stdout)}"
    manifest: dict[str, str] = json.loads(lines[0][len("MANIFEST ") :])
    assert manifest, f"{where} reported no stored files"
    return manifest


@pytest.mark.compat
@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("artifact_server", SETUPS, indirect=True)
def test_artifacts_roundtrip(artifact_server: ArtifactServer, client: str, tmp_path: Path) -> None:
    check_server_info(artifact_server.server)
    manifest = run_workflow(
        artifact_server, client, "artifacts_roundtrip", tmp_path / "client", ROUNDTRIP_TIMEOUT_S
    )
    check_store(artifact_server, manifest)


@pytest.mark.compat
@pytest.mark.parametrize("artifact_server", LARGE_SETUPS, indirect=True)
def test_artifacts_large(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    check_server_info(artifact_server.server)
    manifest = run_workflow(
        artifact_server, "mlflow3", "artifacts_large", tmp_path / "client", LARGE_TIMEOUT_S
    )
    assert len(manifest) == 3, manifest  # single PUT, explicit multipart, server-info multipart
    check_store(artifact_server, manifest)
    if artifact_server.root is not None:  # passed: do not keep ~850 MB in pytest's tmp dirs
        shutil.rmtree(artifact_server.root)


@pytest.mark.compat
@pytest.mark.parametrize("artifact_server", SETUPS[:1], indirect=True)
def test_multipart_file_names_that_need_escaping(
    artifact_server: ArtifactServer, tmp_path: Path
) -> None:
    """``a#b.bin``, ``a?b.bin``, ``a%2fb.bin`` through multipart with the 3.x client: the
    part URLs the server hands out carry the path escaped (they 404ed when they did not)."""
    manifest = run_workflow(
        artifact_server, "mlflow3", "artifacts_multipart_names", tmp_path / "client", 300
    )
    assert len(manifest) == 4, manifest
    check_store(artifact_server, manifest)
