"""The stock mlflow 3.x client's typical workflow against a live ``cairn server`` leaves
exactly one change event per change, each with the caller as its actor, and nothing else.

The workflow (``workflows/_audit_flow.py``) creates an experiment, starts a run, logs a
param, a metric, a tag and a batch, uploads an artifact, ends the run and deletes it. The
events are read from the server's database by this process: on an open server they are the
``local`` user's; with ``--auth`` they are the signed-in user's (kind ``user`` with a
password, ``token`` with an API token)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cairn.entities.events import ActorKind, ChangeEvent, EventQuery
from cairn.events.service import AuditService
from cairn.store import events as event_store
from cairn.store.db import Database
from tests.api import basic
from tests.compat.server import CairnServer, start_server
from tests.compat.test_stock_client import run_workflow_script
from tests.databases import fresh_postgres_database

pytestmark = pytest.mark.compat

ADMIN = ("admin", "the admin's long password")
ALICE = ("alice", "alice's long password")
TRACKED = ("experiment", "run", "artifact", "dataset", "logged_model")
EXPECTED = [
    "experiment.create",
    "run.create",
    "run.log_param",
    "run.log_metric",
    "run.set_tag",
    "run.log_batch",
    "artifact.write",
    "run.update",
    "run.delete",
]
TIMEOUT_S = 300


@dataclass
class Audited:
    server: CairnServer
    uri: str
    auth: bool

    def events_after(self, mark: int) -> list[ChangeEvent]:
        db = Database(self.uri)
        try:
            query = EventQuery(after_id=mark, ascending=True, limit=10_000)
            return db.read(lambda c: event_store.search(c, query))
        finally:
            db.close()

    def head(self) -> int:
        db = Database(self.uri)
        try:
            head_id: int = db.read(event_store.head)[0]
            report = AuditService(db).verify()
            assert report.ok, report
            return head_id
        finally:
            db.close()


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(("sqlite", False), id="sqlite-open"),
        pytest.param(("sqlite", True), id="sqlite-auth"),
        pytest.param(("postgres", True), id="postgres-auth", marks=pytest.mark.postgres),
    ],
)
def audited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Audited]:
    backend, auth = request.param
    work = tmp_path_factory.mktemp(f"audit-{backend}")
    env = {"CAIRN_ADMIN_USERNAME": ADMIN[0], "CAIRN_ADMIN_PASSWORD": ADMIN[1]}

    def serve(uri: str) -> Iterator[Audited]:
        servers = start_server(backend, uri, work, ["--auth"] if auth else [], env)
        server = next(servers)
        try:
            if auth:
                body = {"username": ALICE[0], "password": ALICE[1]}
                created = httpx.post(
                    f"{server.url}/api/2.0/mlflow/users/create",
                    json=body,
                    headers=basic(*ADMIN),
                    timeout=30,
                )
                assert created.status_code == 200, created.text
            yield Audited(server, uri, auth)
        finally:
            servers.close()

    if backend == "sqlite":
        yield from serve(f"sqlite:///{work / 'cairn.db'}")
    else:
        with fresh_postgres_database() as uri:
            yield from serve(uri)


def _workflow(
    audited: Audited, name: str, credentials: dict[str, str], tmp: Path
) -> list[ChangeEvent]:
    """Run the workflow; the tracking events it wrote, after checking them against it."""
    mark = audited.head()
    out = run_workflow_script(
        audited.server,
        "mlflow3",
        "_audit_flow",
        tmp,
        TIMEOUT_S,
        {"AUDIT_EXPERIMENT": name, **credentials},
    )
    ids = json.loads(out.strip().splitlines()[-1])
    eid, rid = ids["experiment_id"], ids["run_id"]
    everything = audited.events_after(mark)
    found = [e for e in everything if e.entity_type in TRACKED]
    assert [e.action for e in found] == EXPECTED, [e.to_json() for e in found]
    assert {e.experiment_id for e in found} == {eid}
    assert found[0].entity_id == eid
    assert found[0].after is not None
    assert found[0].after["name"] == name
    for e in found[1:]:
        if e.entity_type == "run":
            assert e.entity_id == rid, e
    artifact = found[EXPECTED.index("artifact.write")]
    assert artifact.entity_id == f"{eid}/{rid}/artifacts/notes.txt"
    assert artifact.after == {"size": 12, "run_id": rid}
    assert found[EXPECTED.index("run.log_param")].after == {"params": {"lr": "0.1"}}
    batch = found[EXPECTED.index("run.log_batch")].after
    assert batch == {
        "metrics": {"keys": ["acc"], "count": 3, "steps": [0, 2]},
        "params": {"depth": "3"},
        "tags": {"kind": "baseline"},
    }
    ended = found[EXPECTED.index("run.update")]
    assert ended.after is not None
    assert ended.after["status"] == "FINISHED"
    assert found[-1].after == {"lifecycle_stage": "deleted"}
    # one request each, and the chain still verifies
    assert len({e.request_id for e in found}) == len(EXPECTED)
    audited.head()
    return found


def test_stock_client_workflow_events(audited: Audited, tmp_path: Path) -> None:
    if not audited.auth:
        found = _workflow(audited, "audit-open", {}, tmp_path)
        assert {(e.actor, e.actor_kind) for e in found} == {("local", ActorKind.USER)}
        return
    alice = {"MLFLOW_TRACKING_USERNAME": ALICE[0], "MLFLOW_TRACKING_PASSWORD": ALICE[1]}
    found = _workflow(audited, "audit-basic", alice, tmp_path)
    assert {(e.actor, e.actor_kind) for e in found} == {("alice", ActorKind.USER)}
    assert found[1].claimed_user == "alice"

    made = httpx.post(
        f"{audited.server.url}/api/v1/tokens",
        json={"name": "ci"},
        headers=basic(*ALICE),
        timeout=30,
    )
    assert made.status_code == 200, made.text
    token = {"MLFLOW_TRACKING_TOKEN": made.json()["secret"]}
    found = _workflow(audited, "audit-token", token, tmp_path)
    assert {(e.actor, e.actor_kind) for e in found} == {("alice", ActorKind.TOKEN)}
