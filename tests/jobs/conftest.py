"""Fixtures for the job engine: a real store (SQLite or PostgreSQL) and a real queue (Huey on
SQLite, PostgreSQL or Redis), engines that stop when the test ends, and handlers registered
for one test only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from cairn.jobs import registry
from cairn.jobs.engine import JobEngine
from cairn.jobs.queue import JobQueue, default_queue_uri
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema
from tests.databases import fresh_postgres_database

REDIS_URI = "redis://127.0.0.1:6379/0"

# (store, queue): every queue storage, and each store with the queue that follows it
SETUPS = [
    "sqlite+sqlite",
    pytest.param("postgres+postgres", marks=pytest.mark.postgres),
    "sqlite+redis",
    pytest.param("postgres+redis", marks=pytest.mark.postgres),
]


def wait_for(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``check`` until true; fail after ``timeout`` seconds (a bound, not a measurement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def redis_alive() -> None:
    redis.Redis.from_url(REDIS_URI).ping()  # fails loudly when Redis is down: never skips


class Setup:
    """One store and one queue URI, and the engines made on them (stopped at the end)."""

    def __init__(self, store_uri: str, queue_uri: str):
        self.store_uri = store_uri
        self.queue_uri = queue_uri
        self.queue_name = f"cairn-test-{uuid.uuid4().hex[:10]}"
        self.db = Database(store_uri)
        ensure_schema(self.db.write_engine)
        self.db.start()
        self.engines: list[JobEngine] = []
        self.databases = [self.db]

    def engine(self, *, start: bool = True, db: Database | None = None, **kw: object) -> JobEngine:
        engine = JobEngine(
            db or self.db,
            JobQueue(self.queue_uri, self.queue_name),
            **kw,  # type: ignore[arg-type]
        )
        if start:
            engine.start()
        self.engines.append(engine)
        return engine

    def another_database(self) -> Database:
        """A second Database on the same store (as a second server process would have)."""
        db = Database(self.store_uri)
        db.start()
        self.databases.append(db)
        return db

    def close(self) -> None:
        for engine in self.engines:
            engine.stop(timeout=10)
        for db in self.databases:
            db.close()
        if self.queue_uri.startswith("redis://"):
            client = redis.Redis.from_url(self.queue_uri)
            for key in client.scan_iter(f"huey.*.{self.queue_name.replace('-', '')}*"):
                client.delete(key)


@pytest.fixture(params=SETUPS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    store, queue = request.param.split("+")
    if store == "sqlite":
        store_uri = f"sqlite:///{tmp_path / 'cairn.db'}"
        context = None
    else:
        context = fresh_postgres_database()
        store_uri = context.__enter__()
    if queue == "redis":
        redis_alive()
        queue_uri = REDIS_URI
    else:
        queue_uri = default_queue_uri(store_uri)
    found = Setup(store_uri, queue_uri)
    try:
        yield found
    finally:
        found.close()
        if context is not None:
            context.__exit__(None, None, None)


@pytest.fixture
def sqlite_setup(tmp_path: Path) -> Iterator[Setup]:
    store_uri = f"sqlite:///{tmp_path / 'cairn.db'}"
    found = Setup(store_uri, default_queue_uri(store_uri))
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def postgres_setup() -> Iterator[Setup]:
    with fresh_postgres_database() as store_uri:
        found = Setup(store_uri, default_queue_uri(store_uri))
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def kind_name() -> Iterator[str]:
    """A fresh job-kind / consumer / periodic name, unregistered after the test."""
    name = f"test.{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        registry.unregister(name)
