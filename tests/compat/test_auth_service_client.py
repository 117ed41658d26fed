"""The stock ``AuthServiceClient`` (mlflow 3.17.2 and 2.22.5) against a live
``cairn server --auth`` whose first admin comes from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.server import CairnServer, start_server
from tests.compat.test_stock_client import CLIENTS, WORKFLOW_TIMEOUT_S, run_workflow_script
from tests.databases import fresh_postgres_database

ADMIN = {"CAIRN_ADMIN_USERNAME": "root-admin", "CAIRN_ADMIN_PASSWORD": "root-admin-password"}


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def auth_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CairnServer]:
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp(f"cairn-auth-{backend}")
    if backend == "sqlite":
        yield from start_server(
            backend, f"sqlite:///{workdir / 'cairn.db'}", workdir, ["--auth"], ADMIN
        )
    else:
        with fresh_postgres_database() as uri:
            yield from start_server(backend, uri, workdir, ["--auth"], ADMIN)


# The full mlflow packages with MLflow's auth extra (AuthServiceClient imports the auth
# server's Flask app): 3.18.0 is only mlflow-skinny, and the matrix's outer clients are
# tested for the wire, not this admin client.
AUTH_CLIENTS = ["mlflow3", "mlflow2"]


@pytest.mark.compat
@pytest.mark.parametrize("client", AUTH_CLIENTS)
def test_auth_service_client(auth_server: CairnServer, client: str, tmp_path: Path) -> None:
    out = run_workflow_script(
        auth_server,
        client,
        "_auth_service_client",
        tmp_path,
        WORKFLOW_TIMEOUT_S,
        extra_env={
            "MLFLOW_TRACKING_USERNAME": ADMIN["CAIRN_ADMIN_USERNAME"],
            "MLFLOW_TRACKING_PASSWORD": ADMIN["CAIRN_ADMIN_PASSWORD"],
        },
    )
    assert out.strip() == f"ok {CLIENTS[client]}"
