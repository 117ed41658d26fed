"""Promotion approvals with the stock mlflow clients (3.17.x and 2.22.x) against a live
`cairn server --auth` (SQLite): the seed-002 governance flow end to end
(workflows/_approvals_governance.py), and the change events it left."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.entities.events import EventQuery
from cairn.store import events
from cairn.store.db import Database
from tests.compat.server import CairnServer, start_server
from tests.compat.test_auth_clients import run_script

pytestmark = pytest.mark.compat

ADMIN, ADMIN_PASSWORD = "admin", "the admin's long password"
PASSWORDS = {"alice": "alice's long password", "bob": "bob's long password"}


class Governed:
    def __init__(self, server: CairnServer, db: str):
        self.server, self.db = server, db
        self.tokens: dict[str, str] = {}


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    work = tmp_path_factory.mktemp("approvals-clients")
    db = f"sqlite:///{work / 'cairn.db'}"
    env = {"CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    servers = start_server("sqlite", db, work, ["--auth", "--default-permission", "READ"], env)
    server = next(servers)
    try:
        for user, password in PASSWORDS.items():
            subprocess.run(
                [sys.executable, "-m", "cairn", "users", "create", user, "--password-stdin",
                 "--backend-store-uri", db],
                input=password + "\n", capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
        yield Governed(server, db)
    finally:
        servers.close()


@pytest.mark.parametrize("client", ["mlflow3", "mlflow2"])
def test_governance_flow_with_the_stock_client(
    governed: Governed, client: str, tmp_path: Path
) -> None:
    env = {
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_PASSWORD": PASSWORDS["alice"],
        "APPROVER_USERNAME": "bob",
        "APPROVER_PASSWORD": PASSWORDS["bob"],
        "CLIENT_LABEL": client,
    }
    found = run_script(governed, client, "_approvals_governance", env, tmp_path)
    assert "INVALID_PARAMETER_VALUE" in found["evidence_refusal"]
    assert "run tag Approval_Status = Approved is required" in found["evidence_refusal"]
    assert "Pending_Review" in found["evidence_refusal"]
    assert found["stage_refusal"].startswith("APPROVAL_REQUIRED: ")
    assert "approval request" in found["stage_refusal"]
    assert found["alias_refusal"].startswith("APPROVAL_REQUIRED: ")
    assert found["own_approval"]["error_code"] == "PERMISSION_DENIED"
    approved = found["approved"]
    assert (approved["state"], approved["decided_by"], approved["requested_by"]) == (
        "approved", "bob", "alice")  # fmt: skip
    assert [c["ok"] for c in approved["evidence"]] == [True, True]
    v1, v2 = found["versions"]
    assert found["rollback"]["version"] == v1
    assert found["stages"] == {v1: "Production", v2: "Archived"}
    history = [(e["version"], e["kind"], e["to"], e["actor"]) for e in found["history"]]
    assert history[:3] == [
        (v1, "stage_transition", "Production", "bob"),
        (v2, "stage_transition", "Archived", "bob"),
        (v2, "stage_transition", "Production", "bob"),
    ]

    database = Database(governed.db)
    try:
        model = found["model"]
        logged = database.read(
            lambda c: events.search(c, EventQuery(model_name=model, limit=100, ascending=True))
        )
    finally:
        database.close()
    actions = [(e.action, e.entity_id, e.actor) for e in logged]
    assert actions[0] == ("registered_model.create", model, "alice")
    assert ("policy.set", model, "alice") in actions
    creates = [a for a in actions if a[0] == "approval_request.create"]
    approves = [a for a in actions if a[0] == "approval_request.approve"]
    assert len(creates) == 4  # Production and champion for v1, v2, the rollback
    assert {a[2] for a in approves} == {"bob"}
    assert (
        "model_version.transition_stage", f"{model}/{v1}", "bob"
    ) in actions  # fmt: skip
