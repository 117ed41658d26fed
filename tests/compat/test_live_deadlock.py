"""A live ``cairn server`` on PostgreSQL meets a real deadlock in the middle of a stock-client
request, and the client never sees it: the database aborts the server's transaction, the
server runs the whole write again, the request answers 200, and the point and its change event
are there exactly once.

The deadlock is the database's own: a transaction of the test's holds the change log's head
row (the last row every Cairn write locks), the server's ``log-metric`` locks the run's
latest-value row and then waits for the head, and the test's transaction then asks for that
latest-value row. Each waits for the other. Which one PostgreSQL aborts is the one whose
deadlock check runs first: the test's database tells every session to check after 5 s, and the
test's own transaction after a minute, so the server's is the one aborted (and retried).

The store-level tests (``tests/store/test_transaction_retries.py``) cover MariaDB too; on
MariaDB the victim is InnoDB's lighter transaction, which here would be the test's own.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.compat.server import CairnServer, start_server
from tests.databases import fresh_postgres_database
from tests.store.test_transaction_retries import WAIT_S, Raw, waiting_on_a_lock

pytestmark = pytest.mark.postgres

SERVER_DEADLOCK_TIMEOUT = "5s"


@pytest.fixture
def uri() -> Iterator[str]:
    with fresh_postgres_database() as found:
        url = make_url(found)
        name = url.database
        with psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, dbname=name, autocommit=True
        ) as admin:
            admin.execute(
                f"ALTER DATABASE \"{name}\" SET deadlock_timeout = '{SERVER_DEADLOCK_TIMEOUT}'"
            )
        yield found


@pytest.fixture(params=[[], ["--group-commit"]], ids=["own-transaction", "group-commit"])
def server(uri: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CairnServer]:
    # no job engine in the server: its consumers would also wait for the held head row
    options = ["--no-worker", *request.param]
    yield from start_server("postgres", uri, tmp_path / "server", options)


def api(server: CairnServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/api/2.0/mlflow{path}", json=body, timeout=WAIT_S * 3)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def metrics_text(server: CairnServer) -> str:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        return str(response.read().decode())


def retries_counted(server: CairnServer) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in metrics_text(server).splitlines():
        if line.startswith("cairn_db_transaction_retries_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('reason="', 1)[1].split('"', 1)[0]] = float(value)
    return out


def groups_counted(server: CairnServer) -> float:
    """Transactions the group writer ran (0 without group commit)."""
    for line in metrics_text(server).splitlines():
        if line.startswith("cairn_sqlite_write_group_size_count "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_request_that_deadlocks_is_run_again_and_answers_200(
    uri: str, server: CairnServer, request: pytest.FixtureRequest
) -> None:
    grouped = request.node.callspec.id == "group-commit"
    eid = api(server, "/experiments/create", {"name": "deadlock"})["experiment_id"]
    run = api(server, "/runs/create", {"experiment_id": eid, "start_time": 1})["run"]["info"]
    rid = run["run_id"]
    point = {"run_id": rid, "key": "loss", "timestamp": 1000}
    api(server, "/runs/log-metric", {**point, "value": 1.0, "step": 0})  # its latest row exists

    raw = Raw(uri)
    try:
        raw.run("UPDATE change_head SET seq = seq WHERE id = 1")  # the head, held
        outcome: dict[str, Any] = {}

        def log() -> None:
            try:
                body = {**point, "value": 0.5, "step": 1}
                outcome["answer"] = httpx.post(
                    f"{server.url}/api/2.0/mlflow/runs/log-metric", json=body, timeout=WAIT_S * 3
                )
            except BaseException as exc:  # handed to the test's thread
                outcome["error"] = exc

        request = threading.Thread(target=log, daemon=True)
        request.start()
        waiting_on_a_lock(uri)  # the server's write holds the latest row and waits for the head
        # the cycle: PostgreSQL aborts the server's write after its 5 s check, which frees the
        # latest row for this statement; the server's second run then waits for this commit
        raw.run(
            "SELECT value FROM latest_metrics WHERE run_id = "
            "(SELECT id FROM runs WHERE run_uuid = %s) FOR UPDATE",
            (rid,),
        )
        raw.commit()
    finally:
        raw.close()
    request.join(WAIT_S * 3)
    assert not request.is_alive(), "the request never answered"
    if "error" in outcome:
        raise outcome["error"]
    answer = outcome["answer"]
    assert answer.status_code == 200, answer.text

    history = httpx.get(
        f"{server.url}/api/2.0/mlflow/metrics/get-history",
        params={"run_id": rid, "metric_key": "loss"},
        timeout=30,
    ).json()["metrics"]
    assert sorted((m["step"], m["value"]) for m in history) == [(0, 1.0), (1, 0.5)]
    assert retries_counted(server).get("deadlock") == 1.0
    events = httpx.get(
        f"{server.url}/api/v1/audit",
        params={"entity_type": "run", "entity_id": rid, "action": "run.log_metric"},
        timeout=30,
    ).json()
    assert len(events["events"]) == 2, events  # one per acknowledged point, none twice
    verified = httpx.get(f"{server.url}/api/v1/audit/verify", timeout=60).json()
    assert verified["ok"] is True, verified
    assert "deadlock" in server.log_since()  # the rerun is one log line
    assert (groups_counted(server) > 0) == grouped  # the writes went through the group writer
