"""A live ``cairn server`` per backend, for driving it with the stock mlflow clients.

The server runs as a subprocess of this (main) venv; the workflows run in the client venvs
under ``.venvs/`` (``make compat-venvs``), which have mlflow but not cairn.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.compat.server import CairnServer, server_for_backend
from tests.databases import BACKENDS


@pytest.fixture(
    scope="session",
    params=BACKENDS,
)
def cairn_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CairnServer]:
    """One live cairn server per backend, shared by every workflow and client."""
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp(f"cairn-{backend}")
    yield from server_for_backend(backend, workdir)


# Moves ~850 MB per run: test_artifacts_stock_client.py runs it on its own servers
# (mlflow3 only, SQLite with a local folder and with S3), not in the per-backend matrix.
SLOW_WORKFLOWS = {"artifacts_large"}

# The matrix's outer clients (seed 001's 3.1.4, the newest 3.18.0) run every workflow against
# the SQLite server only: what a client version changes is the wire, which is the same whatever
# the backend, and the backends are covered by 3.17.2 and 2.22.5 on both; this keeps the added
# wall time to one backend's.
ONE_BACKEND_CLIENTS = {"mlflow31", "mlflow318"}

# In `make test` the outer clients run the workflows that cover each area the matrix promises
# (tracking, metric history, artifacts, the registry with models:/ loading, tracing), which
# keeps the suite inside CI's time; `make compat-matrix` (CAIRN_CLIENT_MATRIX=full) runs every
# workflow with every client.
OUTER_WORKFLOWS = {
    "runs_basics",
    "metric_history",
    "artifacts_roundtrip",
    "registry_lims",
    "tracing",
}
FULL_MATRIX = os.environ.get("CAIRN_CLIENT_MATRIX", "") == "full"

# MySQL/MariaDB runs the matrix with the 3.17.2 client only, on the same five workflows in
# `make test` (every workflow in `make compat-matrix`): its store and API suites run on MySQL in
# full (tests/store, tests/api).
MYSQL_CLIENTS = {"mlflow3"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        matrix = getattr(item, "originalname", "") == "test_stock_client"
        params = callspec.params if callspec else {}
        if matrix and params.get("workflow") in SLOW_WORKFLOWS:
            drop.append(item)
        elif (
            matrix
            and params.get("client") in ONE_BACKEND_CLIENTS
            and params.get("cairn_server") != "sqlite"
        ):
            drop.append(item)
        elif (
            matrix
            and not FULL_MATRIX
            and params.get("client") in ONE_BACKEND_CLIENTS
            and params.get("workflow") not in OUTER_WORKFLOWS
        ):
            drop.append(item)
        elif (
            matrix
            and params.get("cairn_server") == "mysql"
            and (
                params.get("client") not in MYSQL_CLIENTS
                or (not FULL_MATRIX and params.get("workflow") not in OUTER_WORKFLOWS)
            )
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
