"""The stock mlflow clients (3.17.x and 2.22.x) against a live `cairn server --auth`.

One server for the module (SQLite, default permission READ), its first admin from
CAIRN_ADMIN_USERNAME/CAIRN_ADMIN_PASSWORD, users and tokens made with `cairn users create` and
`cairn tokens create`. Each client, signed in with basic auth, with an API token as the
password and with a bearer token, runs a whole workflow (tracking, proxied artifacts, registry,
``models:/name@alias`` loading); its runs belong to the signed-in user whatever the client
claims. Then the hostile side: every write on another user's experiment, run and model by a
READ user, by a read-only token, without credentials, with a wrong password or a revoked
token, each refused with its status and error code, and nothing changed afterwards; and
brute force against one user's password hits the rate limit; a NO_PERMISSIONS grant hides an
experiment from searches, reads, artifact downloads and registration. The in-process hostile
tests (expired tokens, every write route, `..` in artifact paths) are in
tests/api/test_access_hostile.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.access.service import AccessService
from cairn.entities.access import Permission, ResourceType
from cairn.store.db import Database
from tests.api import basic
from tests.compat.server import CairnServer, start_server
from tests.compat.test_stock_client import (
    WORKFLOW_DIR,
    client_env,
    client_python,
    tail,
)

pytestmark = pytest.mark.compat

ADMIN, ADMIN_PASSWORD = "admin", "the admin's long password"
PASSWORDS = {
    "alice": "alice's long password",
    "bob": "bob's long password",
    "eve": "eve's long password",
    "carol": "carol's long password",
}
CLIENTS = ["mlflow3", "mlflow2"]
SCRIPT_TIMEOUT_S = 300
REVOKE_WAIT_S = 30.0
"""A token revoked by the CLI (another process) stops working once the server's short cache
of it lapses (cairn.access.service.PROFILE_TTL, a few seconds); the wait is bounded."""
API = "/api/2.0/mlflow"
GRANT_WAIT_S = 30.0
"""A grant written to the database by another process reaches the server's decisions once its
short cache of the user lapses (PROFILE_TTL, a few seconds); the wait is bounded."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN_HEADERS = basic(ADMIN, ADMIN_PASSWORD)


def cli(db: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cairn", *args, "--backend-store-uri", db],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def new_token(db: str, user: str, name: str, *extra: str) -> tuple[int, str]:
    """A token made by `cairn tokens create`: (its id, from the notice on stderr; its secret,
    the one line on stdout)."""
    done = cli(db, "tokens", "create", user, name, *extra)
    found = re.search(r"\(id (\d+)", done.stderr)
    assert found is not None, done.stderr
    return int(found.group(1)), done.stdout.strip()


@dataclass
class Things:
    """What alice owns, for the others to attack."""

    experiment_id: str
    run_id: str
    model: str
    version: str


@dataclass
class Secured:
    server: CairnServer
    db: str
    tokens: dict[str, str]
    alice: Things


def _create_alices_things(url: str) -> Things:
    alice = basic("alice", PASSWORDS["alice"])
    with httpx.Client(base_url=url, headers=alice, timeout=30) as http:
        eid = http.post(f"{API}/experiments/create", json={"name": "alice-private"}).json()[
            "experiment_id"
        ]
        run = http.post(
            f"{API}/runs/create",
            json={"experiment_id": eid, "tags": [{"key": "team", "value": "a"}]},
        ).json()["run"]["info"]
        rid = run["run_id"]
        http.post(f"{API}/runs/log-parameter", json={"run_id": rid, "key": "lr", "value": "1"})
        r = http.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{rid}/artifacts/model/weights.bin",
            content=b"alice's weights",
        )
        assert r.status_code == 200, r.text
        r = http.post(f"{API}/registered-models/create", json={"name": "alice-model"})
        assert r.status_code == 200, r.text
        r = http.post(
            f"{API}/model-versions/create",
            json={"name": "alice-model", "source": f"runs:/{rid}/model", "run_id": rid},
        )
        assert r.status_code == 200, r.text
        version = r.json()["model_version"]["version"]
        r = http.post(
            f"{API}/registered-models/alias",
            json={"name": "alice-model", "alias": "champion", "version": version},
        )
        assert r.status_code == 200, r.text
    return Things(eid, rid, "alice-model", version)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    work = tmp_path_factory.mktemp("auth-clients")
    db = f"sqlite:///{work / 'cairn.db'}"
    env = {"CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    servers = start_server("sqlite", db, work, ["--auth", "--default-permission", "READ"], env)
    server = next(servers)
    try:
        for user, password in PASSWORDS.items():
            cli(db, "users", "create", user, "--password-stdin", stdin=password + "\n")
        tokens = {
            "alice": new_token(db, "alice", "laptop")[1],
            "bob": new_token(db, "bob", "ci")[1],
            "bob-read-only": new_token(db, "bob", "dashboards", "--read-only")[1],
        }
        yield Secured(server, db, tokens, _create_alices_things(server.url))
    finally:
        servers.close()


def run_script(
    secured: Secured, client: str, script: str, env: dict[str, str], cwd: Path
) -> dict[str, Any]:
    """Run ``workflows/<script>.py`` with a stock client; the JSON on its last stdout line."""
    full = client_env(secured.server)
    full.update(LOGNAME="someone-else", USER="someone-else")
    full.update(env)
    offset = secured.server.log_offset()
    done = subprocess.run(
        [str(client_python(client)), str(WORKFLOW_DIR / f"{script}.py")],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{script} with {client} exited with {done.returncode}.\n--- stdout ---\n"
            f"{tail(done.stdout)}\n--- stderr ---\n{tail(done.stderr)}\n"
            f"--- server output ---\n{secured.server.log_since(offset)}",
            pytrace=False,
        )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    found: dict[str, Any] = json.loads(lines[-1])
    return found


def admin_get(url: str, route: str, **params: Any) -> Any:
    r = httpx.get(f"{url}{route}", params=params, headers=ADMIN_HEADERS, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def snapshot(secured: Secured) -> dict[str, Any]:
    """Everything of alice's an attacker might change, and every experiment and model, as the
    admin sees them."""
    url, t = secured.server.url, secured.alice
    experiments = httpx.post(
        f"{url}{API}/experiments/search",
        json={"max_results": 1000, "view_type": "ALL"},
        headers=ADMIN_HEADERS,
    ).json()["experiments"]
    return {
        "experiment": admin_get(url, f"{API}/experiments/get", experiment_id=t.experiment_id),
        "run": admin_get(url, f"{API}/runs/get", run_id=t.run_id),
        "artifacts": admin_get(
            url, "/api/2.0/mlflow-artifacts/artifacts", path=f"{t.experiment_id}/{t.run_id}"
        ),
        "model": admin_get(url, f"{API}/registered-models/get", name=t.model),
        "versions": admin_get(url, f"{API}/model-versions/search", filter=f"name = '{t.model}'"),
        "experiments": sorted((e["name"], e["lifecycle_stage"]) for e in experiments),
        "models": sorted(
            m["name"]
            for m in admin_get(url, f"{API}/registered-models/search", max_results=1000).get(
                "registered_models", []
            )
        ),
    }


def target_env(things: Things) -> dict[str, str]:
    return {
        "TARGET_EXPERIMENT": things.experiment_id,
        "TARGET_RUN": things.run_id,
        "TARGET_MODEL": things.model,
        "TARGET_VERSION": things.version,
    }


# ---- the stock clients, signed in three ways ----

MODES = ["basic", "token-as-password", "bearer"]


def credentials(secured: Secured, mode: str) -> tuple[str, dict[str, str]]:
    """(who the server must see, the client's environment) for a way of signing in."""
    if mode == "basic":
        return "alice", {
            "MLFLOW_TRACKING_USERNAME": "alice",
            "MLFLOW_TRACKING_PASSWORD": PASSWORDS["alice"],
        }
    if mode == "token-as-password":
        return "alice", {
            "MLFLOW_TRACKING_USERNAME": "alice",
            "MLFLOW_TRACKING_PASSWORD": secured.tokens["alice"],
        }
    return "bob", {"MLFLOW_TRACKING_TOKEN": secured.tokens["bob"]}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("client", CLIENTS)
def test_the_stock_client_works_signed_in(
    secured: Secured, client: str, mode: str, tmp_path: Path
) -> None:
    user, env = credentials(secured, mode)
    env["AUTH_LABEL"] = f"{client}-{mode}"
    found = run_script(secured, client, "_auth_lifecycle", env, tmp_path)
    # the run is the signed-in user's, whatever LOGNAME and the mlflow.user tag said
    assert found["user_id"] == user
    assert found["tags"]["mlflow.user"] == user
    assert found["tags"]["team"] == "auth"
    url = secured.server.url
    run = admin_get(url, f"{API}/runs/get", run_id=found["run_id"])["run"]
    assert run["info"]["user_id"] == user
    version = admin_get(
        url, f"{API}/registered-models/alias",
        name=found["model"], alias="champion",
    )["model_version"]  # fmt: skip
    assert version["version"] == found["version"]
    assert version["current_stage"] == "Staging"
    assert version["run_id"] == found["run_id"]
    # the creator got MANAGE: the other user may read it but not change it
    other = "bob" if user == "alice" else "alice"
    other_headers = basic(other, PASSWORDS[other])
    r = httpx.get(
        f"{url}{API}/experiments/get",
        params={"experiment_id": found["experiment_id"]},
        headers=other_headers,
    )
    assert r.status_code == 200, r.text
    r = httpx.post(
        f"{url}{API}/runs/delete", json={"run_id": found["run_id"]}, headers=other_headers
    )
    assert r.status_code == 403, r.text
    assert r.json()["error_code"] == "PERMISSION_DENIED"


# ---- hostile ----

WRITES = {
    "set_experiment_tag", "delete_experiment_tag", "rename_experiment", "delete_experiment",
    "restore_experiment", "create_run", "log_param", "log_metric", "log_batch", "set_tag",
    "delete_tag", "update_run", "delete_run", "restore_run", "log_artifact",
    "update_registered_model", "rename_registered_model", "set_registered_model_tag",
    "delete_registered_model_tag", "create_model_version", "update_model_version",
    "transition_stage", "set_model_version_tag", "set_alias", "delete_alias",
    "delete_model_version", "delete_registered_model",
}  # fmt: skip
"""What workflows/_auth_refused.py tries on alice's things."""
OWN = {"create_experiment", "create_registered_model"}


def tried(client: str, own: bool = False) -> set[str]:
    """The writes the script tries with ``client`` (mlflow 2 cannot delete experiment tags)."""
    found = WRITES | (OWN if own else set())
    return found - {"delete_experiment_tag"} if client == "mlflow2" else found


@pytest.mark.parametrize("client", CLIENTS)
def test_a_read_user_changes_nothing_of_another_users(
    secured: Secured, client: str, tmp_path: Path
) -> None:
    before = snapshot(secured)
    env = {
        "MLFLOW_TRACKING_USERNAME": "bob",
        "MLFLOW_TRACKING_PASSWORD": PASSWORDS["bob"],
        "AUTH_EXPECT": "PERMISSION_DENIED",
        **target_env(secured.alice),
    }
    refusals = run_script(secured, client, "_auth_refused", env, tmp_path)
    assert set(refusals) == tried(client)
    for name, message in refusals.items():
        assert "user 'bob' needs" in message, (name, message)
        assert "(has READ)" in message, (name, message)
    assert "needs MANAGE on experiment" in refusals["delete_experiment"]
    assert "needs EDIT on experiment" in refusals["log_batch"]
    assert "needs EDIT on experiment" in refusals["log_artifact"]
    assert "needs EDIT on registered model 'alice-model'" in refusals["set_alias"]
    assert "needs MANAGE on registered model 'alice-model'" in refusals["delete_alias"]
    assert snapshot(secured) == before


@pytest.fixture(scope="module")
def revoked(secured: Secured) -> str:
    """A token of bob's that worked, then was revoked with `cairn tokens revoke`."""
    token_id, secret = new_token(secured.db, "bob", "leaked")
    url = f"{secured.server.url}{API}/experiments/search"
    assert httpx.post(url, json={}, headers=bearer(secret)).status_code == 200
    cli(secured.db, "tokens", "revoke", str(token_id))
    deadline = time.monotonic() + REVOKE_WAIT_S
    while httpx.post(url, json={}, headers=bearer(secret)).status_code != 401:
        assert time.monotonic() < deadline, "a revoked token kept working"
        time.sleep(0.5)
    return secret


BAD_CREDENTIALS = ["none", "revoked-bearer", "revoked-as-password", "unknown-token"]


@pytest.mark.parametrize("credential", BAD_CREDENTIALS)
@pytest.mark.parametrize("client", CLIENTS)
def test_without_valid_credentials_nothing_is_done(
    secured: Secured, revoked: str, client: str, credential: str, tmp_path: Path
) -> None:
    env = {"AUTH_EXPECT": "UNAUTHENTICATED", "AUTH_OWN": "1", **target_env(secured.alice)}
    if credential == "revoked-bearer":
        env["MLFLOW_TRACKING_TOKEN"] = revoked
    elif credential == "revoked-as-password":
        env |= {"MLFLOW_TRACKING_USERNAME": "bob", "MLFLOW_TRACKING_PASSWORD": revoked}
    elif credential == "unknown-token":
        env["MLFLOW_TRACKING_TOKEN"] = "cairn_" + "x" * 43
    before = snapshot(secured)
    refusals = run_script(secured, client, "_auth_refused", env, tmp_path)
    assert set(refusals) == tried(client, own=True)
    assert snapshot(secured) == before


@pytest.mark.parametrize("client", CLIENTS)
def test_a_read_only_token_writes_nothing(secured: Secured, client: str, tmp_path: Path) -> None:
    token = secured.tokens["bob-read-only"]
    r = httpx.get(
        f"{secured.server.url}{API}/experiments/get",
        params={"experiment_id": secured.alice.experiment_id},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    env = {
        "MLFLOW_TRACKING_TOKEN": token,
        "AUTH_EXPECT": "PERMISSION_DENIED",
        "AUTH_OWN": "1",
        **target_env(secured.alice),
    }
    before = snapshot(secured)
    refusals = run_script(secured, client, "_auth_refused", env, tmp_path)
    assert set(refusals) == tried(client, own=True)
    assert "read-only" in refusals["create_experiment"]
    assert "read-only" in refusals["log_metric"]
    assert snapshot(secured) == before


def test_the_refusals_on_the_wire(secured: Secured, revoked: str) -> None:
    """Status, error code and the Basic challenge, as the stock client receives them."""
    url = f"{secured.server.url}{API}/experiments/create"
    cases = {
        "none": {},
        "wrong password": basic("alice", "not alice's password"),
        "unknown user": basic("mallory", "mallory's long password"),
        "revoked token": bearer(revoked),
        "unknown scheme": {"Authorization": "Digest abc"},
        "malformed basic": {"Authorization": "Basic !!!"},
    }
    before = snapshot(secured)
    for case, headers in cases.items():
        r = httpx.post(url, json={"name": f"never-{case}"}, headers=headers)
        assert r.status_code == 401, (case, r.text)
        assert r.json()["error_code"] == "UNAUTHENTICATED", case
        assert r.headers["www-authenticate"] == 'Basic realm="cairn"', case
    assert snapshot(secured) == before


def test_brute_force_hits_the_rate_limit(secured: Secured) -> None:
    url = f"{secured.server.url}{API}/experiments/search"
    for attempt in range(10):
        r = httpx.post(url, json={}, headers=basic("eve", f"guess number {attempt:04d}"))
        assert r.status_code == 401, r.text
    r = httpx.post(url, json={}, headers=basic("eve", PASSWORDS["eve"]))
    assert r.status_code == 429, r.text
    assert r.json()["error_code"] == "TOO_MANY_REQUESTS"
    assert "Too many failed logins" in r.json()["message"]
    # another user signing in from the same address is not locked out
    r = httpx.post(url, json={}, headers=basic("bob", PASSWORDS["bob"]))
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def hidden_from_carol(secured: Secured) -> dict[str, str]:
    """carol: NO_PERMISSIONS on alice's private experiment (granted in the database, as another
    server sharing it would), READ on alice's shared one, and a registered model of her own."""
    url, alice = secured.server.url, basic("alice", PASSWORDS["alice"])
    shared = httpx.post(
        f"{url}{API}/experiments/create", json={"name": "alice-shared"}, headers=alice
    ).json()["experiment_id"]
    run = httpx.post(f"{url}{API}/runs/create", json={"experiment_id": shared}, headers=alice)
    assert run.status_code == 200, run.text
    db = Database(secured.db)
    db.start()
    try:
        AccessService(db).create_grant(
            ResourceType.EXPERIMENT,
            secured.alice.experiment_id,
            "carol",
            Permission.NO_PERMISSIONS,
        )
    finally:
        db.close()
    carol = basic("carol", PASSWORDS["carol"])
    probe = f"{url}{API}/experiments/get"
    params = {"experiment_id": secured.alice.experiment_id}
    deadline = time.monotonic() + GRANT_WAIT_S
    while httpx.get(probe, params=params, headers=carol).status_code != 403:
        assert time.monotonic() < deadline, "the grant never took effect"
        time.sleep(0.5)
    r = httpx.post(
        f"{url}{API}/registered-models/create", json={"name": "carols-model"}, headers=carol
    )
    assert r.status_code == 200, r.text
    return {
        "HIDDEN_EXPERIMENT": secured.alice.experiment_id,
        "HIDDEN_RUN": secured.alice.run_id,
        "SHARED_EXPERIMENT": shared,
        "SHARED_RUN": run.json()["run"]["info"]["run_id"],
        "OWN_MODEL": "carols-model",
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_no_permissions_hides_an_experiment_from_the_stock_client(
    secured: Secured, hidden_from_carol: dict[str, str], client: str, tmp_path: Path
) -> None:
    env = {
        "MLFLOW_TRACKING_USERNAME": "carol",
        "MLFLOW_TRACKING_PASSWORD": PASSWORDS["carol"],
        **hidden_from_carol,
    }
    before = snapshot(secured)
    refusals = run_script(secured, client, "_auth_hidden", env, tmp_path)
    eid = secured.alice.experiment_id
    for name, message in refusals.items():
        assert f"user 'carol' needs READ on experiment '{eid}'" in message, (name, message)
        assert "(has NO_PERMISSIONS)" in message, (name, message)
    assert set(refusals) == {
        "get_experiment", "get_run", "metric_history", "list_artifacts", "download_by_run",
        "download_by_path", "register_from_run", "register_from_path",
    }  # fmt: skip
    assert snapshot(secured) == before
