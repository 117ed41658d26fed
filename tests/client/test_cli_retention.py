"""`cairn retention` (list, set, delete, run) over HTTP against a live `cairn server --auth`:
the global policy needs an admin, an experiment's its MANAGE holder; `run` deletes in batches
with progress, `run --dry-run` lists and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner, Result

from cairn.cli import main
from tests.api import basic
from tests.compat.server import CairnServer, start_server

ADMIN, ADMIN_PW = "admin", "the admin's long password"
PW = {ADMIN: ADMIN_PW, "alice": "alice's long password"}
API = "/api/2.0/mlflow"
DAY = 86_400_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CairnServer, str]]:
    work = tmp_path_factory.mktemp("cli-retention")
    db = f"sqlite:///{work / 'cairn.db'}"
    env = {"CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": ADMIN_PW}
    servers = start_server("sqlite", db, work, ["--auth"], env)
    live = next(servers)
    try:
        subprocess.run(
            [sys.executable, "-m", "cairn", "users", "create", "alice", "--password-stdin",
             "--backend-store-uri", db],
            input=PW["alice"] + "\n", capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        with httpx.Client(base_url=live.url, headers=basic("alice", PW["alice"])) as http:
            made = http.post(f"{API}/experiments/create", json={"name": "cli-retention"}).json()
            exp = made["experiment_id"]
            end = int(time.time() * 1000) - 40 * DAY
            for _ in range(7):
                run = http.post(f"{API}/runs/create", json={"experiment_id": exp}).json()
                body = {"run_id": run["run"]["info"]["run_id"], "status": "FAILED", "end_time": end}
                assert http.post(f"{API}/runs/update", json=body).is_success
        yield live, exp
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
    return CliRunner().invoke(main, ["retention", *args], env=env, catch_exceptions=False)


def test_policies_and_runs_from_the_command_line(server: tuple[CairnServer, str]) -> None:
    live, exp = server
    done = cairn(live, "alice", "set", "--experiment", exp, "--older-than-days", "30",
                 "--status", "failed")  # fmt: skip
    assert done.exit_code == 0, done.output
    policy = json.loads(done.stdout)
    assert policy["name"] == f"experiment:{exp}"
    assert policy["statuses"] == ["FAILED"]
    assert policy["updated_by"] == "alice"

    refused = cairn(live, "alice", "set", "--older-than-days", "1")  # the global policy
    assert refused.exit_code == 1
    assert "PERMISSION_DENIED" in refused.output
    refused = cairn(live, "alice", "run", "--dry-run")
    assert refused.exit_code == 1
    assert "PERMISSION_DENIED" in refused.output

    listed = cairn(live, ADMIN, "list")
    assert listed.exit_code == 0, listed.output
    assert f"experiment:{exp}: older than 30 days, FAILED" in listed.stdout

    dry = cairn(live, ADMIN, "run", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert len(dry.stdout.splitlines()) == 7
    assert "would delete 7 runs" in dry.stderr

    done = cairn(live, ADMIN, "run", "--batch", "3")
    assert done.exit_code == 0, done.output
    assert "deleted 7 runs" in done.stderr
    again = cairn(live, ADMIN, "run", "--json")
    assert json.loads(again.stdout)["deleted_runs"] == 0

    gone = cairn(live, "alice", "delete", "--experiment", exp)
    assert gone.exit_code == 0, gone.output
    assert cairn(live, ADMIN, "list", "--json").stdout.strip() == "[]"


def test_bad_input_is_refused_before_any_request(server: tuple[CairnServer, str]) -> None:
    live, _ = server
    bad = cairn(live, ADMIN, "set", "--experiment", "../1", "--older-than-days", "3")
    assert bad.exit_code == 2
    assert "--experiment" in bad.output
    bad = cairn(live, ADMIN, "set", "--older-than-days", "-4")
    assert bad.exit_code == 2
    bad = cairn(live, ADMIN, "set", "--older-than-days", "3", "--status", "RUNNING")
    assert bad.exit_code == 2
