"""A live ``cairn server`` per backend, for driving it with the stock mlflow clients.

The server runs as a subprocess of this (main) venv; the workflows run in the client venvs
under ``.venvs/`` (``make compat-venvs``), which have mlflow but not cairn.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compat.server import CairnServer, server_for_backend


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        matrix = getattr(item, "originalname", "") == "test_stock_client"
        if matrix and callspec and callspec.params.get("workflow") in SLOW_WORKFLOWS:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
