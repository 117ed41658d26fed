"""Fixtures for the SDK tests: live `cairn server` processes (SQLite and PostgreSQL) and the
embedded store, a clean fluent state and a private spool folder for every test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.client import fluent
from tests.compat.server import CairnServer, start_server
from tests.databases import fresh_postgres_database

TARGETS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "embedded"]


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    workdir = tmp_path_factory.mktemp("sdk-sqlite")
    yield from start_server("sqlite", f"sqlite:///{workdir / 'cairn.db'}", workdir)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    workdir = tmp_path_factory.mktemp("sdk-postgres")
    with fresh_postgres_database() as uri:
        yield from start_server("postgres", uri, workdir)


@pytest.fixture(autouse=True)
def clean_sdk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No tracking URI from the environment, a private spool, fresh fluent state."""
    for name in (
        "CAIRN_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "CAIRN_ENABLE_SYSTEM_METRICS",
        "CAIRN_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    spool = tmp_path / "spool"
    monkeypatch.setenv("CAIRN_SPOOL_DIR", str(spool))
    fluent._reset()
    yield spool
    fluent._reset()


@pytest.fixture(params=TARGETS)
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A tracking URI for each kind of target: a server on SQLite, on PostgreSQL, and the
    embedded store in a fresh folder."""
    if request.param == "embedded":
        return str(tmp_path / "store")
    server: CairnServer = request.getfixturevalue(f"{request.param}_server")
    return server.url


@pytest.fixture
def experiment_name() -> str:
    return f"sdk-{uuid.uuid4().hex[:10]}"
