"""Shared fixtures: real SQLite files, real PostgreSQL and MariaDB databases, never mocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema
from tests.databases import BACKENDS, fresh_database

# Property tests judge behaviour, not speed: no per-example deadline (a loaded CI machine
# would otherwise fail them on timing alone).
hypothesis.settings.register_profile("cairn", deadline=None)
hypothesis.settings.load_profile("cairn")


@pytest.fixture(params=BACKENDS)
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store on each backend."""
    with fresh_database(request.param, tmp_path) as uri:
        yield uri


@pytest.fixture
def database(store_uri: str) -> Iterator[Database]:
    db = Database(store_uri)
    ensure_schema(db.write_engine)
    db.start()
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def tracking(database: Database) -> TrackingService:
    return TrackingService(database)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The whole app in-process on a SQLite store (lifespan included)."""
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'api.db'}")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(params=BACKENDS)
def any_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The whole app in-process on each backend."""
    with (
        fresh_database(request.param, tmp_path) as uri,
        TestClient(create_app(Settings(uri))) as tc,
    ):
        yield tc
