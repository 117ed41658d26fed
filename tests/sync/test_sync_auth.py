"""Cairn's own clients against `cairn server --auth`: the SDK and `cairn sync` sign in with
``MLFLOW_TRACKING_TOKEN`` (bearer) or ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``, what they
create belongs to that user, and without credentials (or with a read-only token) nothing is
written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import cairn
from cairn.sync import sync_store
from cairn.sync.errors import SyncError
from tests.api import basic
from tests.compat.server import CairnServer, start_server
from tests.sync.builder import build_store

ADMIN, ADMIN_PASSWORD = "admin", "the admin's long password"
USER, USER_PASSWORD = "carol", "carol's long password"


def _cli(db: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cairn", *args, "--backend-store-uri", db],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CairnServer, str]]:
    work = tmp_path_factory.mktemp("sync-auth")
    db = f"sqlite:///{work / 'cairn.db'}"
    env = {"CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    servers = start_server("sqlite", db, work, ["--auth"], env)
    server = next(servers)
    try:
        _cli(db, "users", "create", USER, "--password-stdin", stdin=USER_PASSWORD + "\n")
        yield server, db
    finally:
        servers.close()


def _runs_of(server: CairnServer, name: str) -> list[dict[str, object]]:
    admin = basic(ADMIN, ADMIN_PASSWORD)
    exp = httpx.get(
        f"{server.url}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": name},
        headers=admin,
    ).json()["experiment"]
    found = httpx.post(
        f"{server.url}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [exp["experiment_id"]]},
        headers=admin,
    ).json()
    runs: list[dict[str, object]] = found.get("runs", [])
    return runs


def test_the_sdk_signs_in_with_a_token(
    secured: tuple[CairnServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, db = secured
    token = _cli(db, "tokens", "create", USER, "sdk")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone-else")  # not who the run is by
    cairn.set_tracking_uri(server.url)
    cairn.set_experiment("sdk-with-token")
    with cairn.start_run() as run:
        cairn.log_param("lr", 0.1)
        for step in range(5):
            cairn.log_metric("loss", 1.0 / (step + 1), step=step)
    (found,) = _runs_of(server, "sdk-with-token")
    info = found["info"]
    assert isinstance(info, dict)
    assert info["run_id"] == run.info.run_id
    assert info["user_id"] == USER
    tags = {t["key"]: t["value"] for t in found["data"]["tags"]}  # type: ignore[index]
    assert tags["mlflow.user"] == USER


def test_sync_signs_in_with_a_password_and_a_token(
    secured: tuple[CairnServer, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, db = secured
    info = build_store(tmp_path / "one", runs=2, points=50, experiment="synced-with-password")
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", USER_PASSWORD)
    report = sync_store(str(info.root), server.url)
    assert report.failures == []
    assert report.runs_created == 2
    assert len(_runs_of(server, "synced-with-password")) == 2

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", _cli(db, "tokens", "create", USER, "sync"))
    other = build_store(tmp_path / "two", runs=1, points=50, experiment="synced-with-token")
    report = sync_store(str(other.root), server.url)
    assert report.failures == []
    assert report.runs_created == 1


def test_without_credentials_or_with_a_read_only_token_nothing_is_written(
    secured: tuple[CairnServer, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, db = secured
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    info = build_store(tmp_path / "anon", runs=1, points=10, experiment="never-written")
    with pytest.raises(SyncError) as refused:
        sync_store(str(info.root), server.url)
    assert "401" in str(refused.value) or "UNAUTHENTICATED" in str(refused.value)

    monkeypatch.setenv(
        "MLFLOW_TRACKING_TOKEN", _cli(db, "tokens", "create", USER, "ro", "--read-only")
    )
    with pytest.raises(SyncError) as refused:
        sync_store(str(info.root), server.url)
    assert "PERMISSION_DENIED" in str(refused.value) or "403" in str(refused.value)
    r = httpx.get(
        f"{server.url}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "never-written"},
        headers=basic(ADMIN, ADMIN_PASSWORD),
    )
    assert r.status_code == 404
