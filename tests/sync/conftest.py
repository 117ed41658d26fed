"""A live ``cairn server`` destination per backend (SQLite and PostgreSQL) for sync tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import orjson
import pytest

from tests.compat.server import CairnServer, server_for_backend


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def dest(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CairnServer]:
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp(f"sync-dest-{backend}")
    yield from server_for_backend(backend, workdir)


@dataclass
class Requests:
    """Counts what a sync sends, from an httpx request hook."""

    by_method: Counter[str] = field(default_factory=Counter)
    by_path: Counter[str] = field(default_factory=Counter)
    metric_points: int = 0
    largest_batch: int = 0

    def __call__(self, request: httpx.Request) -> None:
        self.by_method[request.method] += 1
        path = request.url.path
        if path.startswith("/api/2.0/mlflow-artifacts/artifacts/"):
            path = "/api/2.0/mlflow-artifacts/artifacts/*"
        self.by_path[path] += 1
        if path.endswith("/runs/log-batch"):
            n = len(orjson.loads(request.content).get("metrics", []))
            self.metric_points += n
            self.largest_batch = max(self.largest_batch, n)

    @property
    def writes(self) -> int:
        """Requests that change something (runs/search is a POST that only reads)."""
        posts_and_puts = sum(n for m, n in self.by_method.items() if m != "GET")
        return posts_and_puts - self.by_path["/api/2.0/mlflow/runs/search"]

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


@pytest.fixture
def requests_seen() -> Requests:
    return Requests()
