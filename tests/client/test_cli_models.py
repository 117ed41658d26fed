"""`cairn models` (policy, requests, rollback) over HTTP against a live `cairn server --auth`:
the commands act as the signed-in user of MLFLOW_TRACKING_USERNAME/PASSWORD."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner, Result

from cairn.cli import main
from tests.api import basic
from tests.compat.server import CairnServer, start_server

ADMIN, ADMIN_PW = "admin", "the admin's long password"
PW = {"alice": "alice's long password", "bob": "bob's long password"}
API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    work = tmp_path_factory.mktemp("cli-models")
    db = f"sqlite:///{work / 'cairn.db'}"
    env = {"CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": ADMIN_PW}
    servers = start_server("sqlite", db, work, ["--auth"], env)
    live = next(servers)
    try:
        for user, password in PW.items():
            subprocess.run(
                [sys.executable, "-m", "cairn", "users", "create", user, "--password-stdin",
                 "--backend-store-uri", db],
                input=password + "\n", capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
        with httpx.Client(base_url=live.url, headers=basic("alice", PW["alice"])) as http:
            assert http.post(f"{API}/registered-models/create", json={"name": "m"}).is_success
            made = http.post(f"{API}/experiments/create", json={"name": "cli-models"}).json()
            for _ in range(2):
                body = {"experiment_id": made["experiment_id"]}
                run = http.post(f"{API}/runs/create", json=body).json()
                rid = run["run"]["info"]["run_id"]
                body = {"name": "m", "source": f"runs:/{rid}/model", "run_id": rid}
                assert http.post(f"{API}/model-versions/create", json=body).is_success
            grant = {"permission": "MANAGE"}
            assert http.put("/api/v1/models/m/permissions/bob", json=grant).is_success
        yield live
    finally:
        servers.close()


def cairn(server: CairnServer, user: str, *args: str) -> Result:
    env = {
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_TRACKING_USERNAME": user,
        "MLFLOW_TRACKING_PASSWORD": PW[user],
        "CAIRN_TRACKING_URI": None,
        "MLFLOW_TRACKING_TOKEN": None,
    }
    return CliRunner().invoke(main, ["models", *args], env=env, catch_exceptions=False)


def test_policy_requests_and_rollback_from_the_command_line(server: CairnServer) -> None:
    done = cairn(server, "alice", "policy", "set", "m", "--stage", "Production", "--alias",
                 "champion", "--require-metric", "f1>=0.5")  # fmt: skip
    assert done.exit_code == 0, done.output
    policy = json.loads(done.stdout)
    assert policy["updated_by"] == "alice"
    assert policy["evidence"] == [{"kind": "metric", "key": "f1", "op": ">=", "value": 0.5}]
    assert json.loads(cairn(server, "bob", "policy", "show", "m").stdout) == policy
    bad = cairn(server, "alice", "policy", "set", "m", "--require-metric", "f1 about 3")
    assert bad.exit_code != 0
    assert "KEY>=NUMBER" in bad.output
    # nothing was in Production before: nothing to roll back to
    refused = cairn(server, "alice", "rollback", "m")
    assert refused.exit_code != 0
    assert "INVALID_STATE" in refused.output

    cairn(server, "alice", "policy", "set", "m", "--stage", "Production")
    with httpx.Client(base_url=server.url, headers=basic("alice", PW["alice"])) as http:
        body = {"name": "m", "version": "1", "stage": "Production"}
        answer = http.post(f"{API}/model-versions/transition-stage", json=body)
        assert answer.status_code == 409, answer.text
    listed = cairn(server, "bob", "requests", "list")
    assert listed.exit_code == 0, listed.output
    (line,) = listed.stdout.splitlines()
    request = json.loads(line)
    assert (request["requested_by"], request["can_approve"]) == ("alice", True)
    own = cairn(server, "alice", "requests", "approve", request["id"])
    assert own.exit_code != 0
    assert "PERMISSION_DENIED" in own.output
    approved = cairn(server, "bob", "requests", "approve", request["id"], "--comment", "ok")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["state"] == "approved"

    # version 2 to Production (requested, then approved), then roll back to 1 the same way
    with httpx.Client(base_url=server.url, headers=basic("alice", PW["alice"])) as http:
        body = {"name": "m", "version": "2", "stage": "Production",
                "archive_existing_versions": True}  # fmt: skip
        assert http.post(f"{API}/model-versions/transition-stage", json=body).status_code == 409
    (line,) = cairn(server, "bob", "requests", "list", "--model", "m").stdout.splitlines()
    cairn(server, "bob", "requests", "approve", json.loads(line)["id"])
    rolled = cairn(server, "alice", "rollback", "m", "--stage", "Production")
    assert rolled.exit_code == 0, rolled.output
    asked = json.loads(rolled.stdout)
    assert (asked["version"], asked["state"]) == ("1", "pending")
    rejected = cairn(server, "bob", "requests", "reject", asked["id"], "--comment", "no")
    assert json.loads(rejected.stdout)["state"] == "rejected"
    states = cairn(server, "bob", "requests", "list", "--state", "all").stdout.splitlines()
    assert [json.loads(s)["state"] for s in states] == ["rejected", "approved", "approved"]
    cleared = cairn(server, "alice", "policy", "clear", "m")
    assert cleared.exit_code == 0, cleared.output
    gone = cairn(server, "alice", "policy", "show", "m")
    assert gone.exit_code != 0
    assert "RESOURCE_DOES_NOT_EXIST" in gone.output


def test_alias_policy_from_the_command_line(server: CairnServer) -> None:
    done = cairn(server, "bob", "alias-policy", "set", "m", "--latest", "--best-metric",
                 "val_loss", "--direction", "min", "--best-alias", "lowest")  # fmt: skip
    assert done.exit_code == 0, done.output
    policy = json.loads(done.stdout)
    assert (policy["latest"], policy["best_metric"], policy["best_direction"]) == (
        True, "val_loss", "min")  # fmt: skip
    assert (policy["best_alias"], policy["updated_by"]) == ("lowest", "bob")
    assert json.loads(cairn(server, "bob", "alias-policy", "show", "m").stdout) == policy
    bad = cairn(server, "bob", "alias-policy", "set", "m", "--best-metric", "f1",
                "--best-alias", "v3")  # fmt: skip
    assert bad.exit_code != 0
    assert "best_alias" in bad.output
    cleared = cairn(server, "bob", "alias-policy", "clear", "m")
    assert cleared.exit_code == 0, cleared.output
    gone = cairn(server, "bob", "alias-policy", "show", "m")
    assert gone.exit_code != 0
    assert "RESOURCE_DOES_NOT_EXIST" in gone.output
