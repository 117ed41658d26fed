"""A real S3 endpoint for the artifact tests: moto's standalone server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from cairn.artifacts.base import ArtifactRepository
from cairn.artifacts.local import LocalArtifactRepository
from cairn.artifacts.s3 import S3ArtifactRepository, make_s3_client

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "cairn-test-key",
    "AWS_SECRET_ACCESS_KEY": "cairn-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
#: variables that would point the client somewhere else
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One moto S3 server for the whole session, on 127.0.0.1 and a free port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The environment a deployment would set, pointing at moto (fake keys); per test so it
    never leaks into other tests."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return s3_endpoint


@pytest.fixture
def s3_bucket(s3_env: str) -> str:
    """A fresh, empty bucket for each test."""
    name = f"cairn-test-{uuid.uuid4().hex[:16]}"
    make_s3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactRepository:
    """An empty repository on each backend (S3 under a prefix, through ``from_uri``)."""
    if request.param == "local":
        return LocalArtifactRepository(tmp_path / "artifacts")
    bucket = request.getfixturevalue("s3_bucket")
    return S3ArtifactRepository.from_uri(f"s3://{bucket}/experiments/1")
