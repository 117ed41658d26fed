"""Model policies with the stock mlflow 3 client against a live ``cairn server`` (SQLite and
PostgreSQL): versions registered by the client, a policy set over /api/v1, the
``model_policies`` consumer run on the server's change log (as the job engine will), then
``models:/NAME@best`` and ``@latest`` loaded by the client; a better value logged later by the
client moves ``best``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection

from cairn.services.model_policies import apply_model_policies
from cairn.store import events
from cairn.store.db import Database
from tests.compat.server import CairnServer, server_for_backend
from tests.compat.test_stock_client import run_workflow_script

pytestmark = pytest.mark.compat

TIMEOUT_S = 300
NAME = "alias-policy-model"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CairnServer]:
    yield from server_for_backend(str(request.param), tmp_path / "server")


def store_uri(server: CairnServer) -> str:
    """The server's store, read from its command line (SQLite file or PostgreSQL URI)."""
    args = server.process.args
    assert isinstance(args, list)
    return str(args[args.index("--backend-store-uri") + 1])


class Consumer:
    """The ``model_policies`` consumer over the server's change log, with its cursor."""

    def __init__(self, uri: str):
        self.uri, self.cursor = uri, 0

    def run(self) -> None:
        db = Database(self.uri)
        db.start()
        try:

            def step(conn: Connection) -> int:
                found = list(events.walk(conn, self.cursor))
                apply_model_policies(conn, found)
                return found[-1].id if found else self.cursor

            self.cursor = db.write(step)
        finally:
            db.close()


def phase(server: CairnServer, name: str, cwd: Path) -> dict[str, object]:
    out = run_workflow_script(
        server, "mlflow3", "_alias_policy", cwd, TIMEOUT_S, {"PHASE": name, "MODEL_NAME": NAME}
    )
    found: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return found


def test_stock_client_loads_the_best_and_latest_aliases(
    server: CairnServer, tmp_path: Path
) -> None:
    runs = phase(server, "register", tmp_path)["runs"]
    # registered from models:/m-…, the versions still name their source run (as on MLflow 3)
    found_runs = []
    for version in ("1", "2", "3"):
        got = httpx.get(f"{server.url}/api/2.0/mlflow/model-versions/get",
                        params={"name": NAME, "version": version})  # fmt: skip
        found_runs.append(got.json()["model_version"]["run_id"])
    assert found_runs == runs
    policy = {"latest": True, "best_metric": "test_f1", "best_direction": "max"}
    answer = httpx.put(f"{server.url}/api/v1/models/{NAME}/alias-policy", json=policy)
    assert answer.status_code == 200, answer.text
    consumer = Consumer(store_uri(server))
    consumer.run()
    found = phase(server, "load", tmp_path)
    assert found == {
        "best": {"version": "2", "predicted": 2.0},
        "latest": {"version": "3", "predicted": 3.0},
    }
    # the first version's run logs a better value: best moves to it
    phase(server, "better", tmp_path)
    consumer.run()
    found = phase(server, "load", tmp_path)
    assert found["best"] == {"version": "1", "predicted": 1.0}
    history = httpx.get(f"{server.url}/api/v1/models/{NAME}/history").json()["events"]
    moves = [(e["version"], e["to"], e["actor"]) for e in history if e["kind"] != "version_created"]
    assert moves == [("1", "best", "system"), ("2", "best", "system"), ("3", "latest", "system")]
