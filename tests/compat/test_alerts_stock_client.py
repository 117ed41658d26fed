"""Metric alerts from the stock mlflow 3.x client's logging against a live ``cairn server``
(SQLite and PostgreSQL): rules made with ``cairn alerts rules create``, the client's points
trip a threshold and a non-finite rule, the log is fed to the alerts consumer, the alerts are
read with ``cairn alerts list``; further logging resolves them and a FAILED end fires the
failed-run rule. Rules scoped by a filter leave runs of another team alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cairn.cli import main
from cairn.entities.events import ACTING, SYSTEM_ACTOR, EventQuery
from cairn.services.alert_jobs import evaluate_events
from cairn.store import events as event_store
from cairn.store.db import Database
from tests.compat.server import CairnServer, start_server
from tests.compat.test_stock_client import run_workflow_script
from tests.databases import fresh_postgres_database

pytestmark = pytest.mark.compat
TIMEOUT_S = 300


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CairnServer, str]]:
    backend = request.param
    work = tmp_path_factory.mktemp(f"alerts-{backend}")

    def serve(uri: str) -> Iterator[tuple[CairnServer, str]]:
        servers = start_server(backend, uri, work)
        try:
            yield next(servers), uri
        finally:
            servers.close()

    if backend == "sqlite":
        yield from serve(f"sqlite:///{work / 'cairn.db'}")
    else:
        with fresh_postgres_database() as uri:
            yield from serve(uri)


def cli(server: CairnServer, *args: str) -> Any:
    env = {"MLFLOW_TRACKING_URI": server.url, "CAIRN_TRACKING_URI": None,
           "MLFLOW_TRACKING_USERNAME": None, "MLFLOW_TRACKING_TOKEN": None}  # fmt: skip
    done = CliRunner().invoke(main, ["alerts", *args], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout) if done.stdout.lstrip().startswith(("[", "{")) else None


def evaluate(uri: str, cursor: int) -> int:
    """Feed the events after ``cursor`` to the alerts consumer, as the job engine would;
    the new cursor."""
    db = Database(uri)
    token = ACTING.set(SYSTEM_ACTOR)
    moved: list[int] = [cursor]

    def run(conn: Any) -> None:
        found = list(event_store.walk(conn, cursor))
        if found:
            moved.append(found[-1].id)
        evaluate_events(conn, found)

    try:
        db.write(run)
    finally:
        ACTING.reset(token)
        db.close()
    return moved[-1]


def test_stock_client_trips_and_resolves_alerts(
    live: tuple[CairnServer, str], tmp_path: Path
) -> None:
    server, uri = live
    made = httpx.post(f"{server.url}/api/2.0/mlflow/experiments/create",
                      json={"name": "alerts-live"}, timeout=30).json()  # fmt: skip
    eid = made["experiment_id"]
    lims = ["--experiment-id", eid, "--filter", "tags.team = 'lims'"]
    loss = cli(server, "rules", "create", "--name", "loss high", "--kind", "threshold",
               "--metric", "val_loss", "--op", ">", "--value", "0.5", *lims)  # fmt: skip
    cli(server, "rules", "create", "--name", "nan", "--kind", "non_finite", "--metric", "loss",
        *lims)  # fmt: skip
    cli(server, "rules", "create", "--name", "failed", "--kind", "failed_run", *lims)
    other = cli(server, "rules", "create", "--name", "web only", "--kind", "threshold",
                "--metric", "val_loss", "--op", ">", "--value", "0.1", "--experiment-id", eid,
                "--filter", "tags.team = 'web'")  # fmt: skip
    assert len(cli(server, "rules", "list", "--experiment-id", eid)) == 4
    cursor = evaluate(uri, 0)

    env = {"ALERTS_PHASE": "trip", "ALERTS_EXPERIMENT_ID": eid}
    out = run_workflow_script(server, "mlflow3", "_alerts_flow", tmp_path, TIMEOUT_S, env)
    run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
    cursor = evaluate(uri, cursor)
    firing = cli(server, "list")
    assert {(a["rule_name"], a["subject_id"]) for a in firing} == {
        ("loss high", run_id), ("nan", run_id),
    }  # fmt: skip
    assert all(a["state"] == "firing" for a in firing)
    assert all(a["rule_id"] != other["id"] for a in firing)
    # the same breaching state seen again changes nothing
    cursor = evaluate(uri, 0)
    assert len(cli(server, "list")) == 2

    env = {"ALERTS_PHASE": "resolve", "ALERTS_RUN_ID": run_id}
    run_workflow_script(server, "mlflow3", "_alerts_flow", tmp_path, TIMEOUT_S, env)
    evaluate(uri, cursor)
    (failed,) = cli(server, "list")
    assert (failed["rule_name"], failed["kind"]) == ("failed", "failed_run")
    resolved = cli(server, "list", "--state", "resolved")
    assert {a["rule_name"] for a in resolved} == {"loss high", "nan"}

    db = Database(uri)
    try:
        query = EventQuery(entity_type="alert", ascending=True)
        found = db.read(lambda c: event_store.search(c, query))
    finally:
        db.close()
    assert sorted(e.action for e in found) == ["alert.fired"] * 3 + ["alert.resolved"] * 2
    assert {e.actor for e in found} == {"system"}
    cli(server, "rules", "delete", loss["id"])
    assert len(cli(server, "rules", "list", "--experiment-id", eid)) == 3
