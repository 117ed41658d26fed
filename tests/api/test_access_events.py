"""Access changes and sign-ins in the change-event log, through the HTTP API with access control
on (SQLite and PostgreSQL): users, tokens, sessions, failed logins, grants and roles each write
exactly one event with the right actor, and no event holds a secret."""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from httpx import Response
from sqlalchemy import select
from starlette.testclient import TestClient

from cairn.access.service import MAX_FAILURES_PER_USER
from cairn.cli import main
from cairn.entities.events import ChangeEvent
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store import events as event_store
from cairn.store.db import Database
from cairn.store.schema import change_events
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database

V2, V3, V1 = "/api/2.0/mlflow", "/api/3.0/mlflow", "/api/v1"
ADMIN, ADMIN_PW = "root", "root-password-0001"
PW = "user-password-0001"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
ADDRESS = "testclient"  # the client address Starlette's TestClient sends


def as_user(name: str) -> dict[str, str]:
    return basic(name, PW)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as uri:
        yield uri


@pytest.fixture
def c(store: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """Access control on, the first admin from the environment, users alice and bob."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with TestClient(create_app(Settings(backend_store_uri=store, auth=True))) as client:
        for name in ("alice", "bob"):
            ok(
                client.post(
                    f"{V1}/users", json={"username": name, "password": PW}, headers=AS_ADMIN
                )
            )
        yield client


def ok(resp: Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def database(c: TestClient) -> Database:
    db: Database = root_app(c.app).state.access.db
    return db


def mark(c: TestClient) -> int:
    """The id of the newest event so far."""
    return database(c).read(lambda conn: event_store.head(conn)[0])


def since(c: TestClient, after: int) -> list[ChangeEvent]:
    return database(c).read(lambda conn: list(event_store.walk(conn, after)))


def one(c: TestClient, after: int, action: str) -> ChangeEvent:
    """The one event written since ``after``, which must be an ``action``."""
    found = since(c, after)
    assert [e.action for e in found] == [action], [e.to_json() for e in found]
    return found[0]


def nothing_since(c: TestClient, after: int) -> None:
    assert since(c, after) == []


def table_text(c: TestClient) -> str:
    """Every field of every stored event, as text."""
    rows = database(c).read(lambda conn: conn.execute(select(change_events)).all())
    return "\n".join(str(value) for row in rows for value in row)


def assert_secret_free(c: TestClient, secrets: list[str]) -> None:
    text = table_text(c)
    for secret in secrets:
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text
    assert "argon2" not in text  # no password hash either


def actor(event: ChangeEvent) -> tuple[str, str, str | None]:
    return event.actor, str(event.actor_kind), event.address


# ---- users ----


def test_first_admin_is_created_by_the_system(c: TestClient) -> None:
    first = since(c, 0)[0]
    assert (first.action, first.entity_type, first.entity_id) == ("user.create", "user", ADMIN)
    assert actor(first) == ("system", "system", None)
    uid = ok(c.get(f"{V2}/users/current", headers=AS_ADMIN))["user"]["id"]
    assert first.after == {"id": uid, "is_admin": True, "active": True}


def test_users_through_mlflow_api(c: TestClient) -> None:
    secret = "carol-password-01"
    start = mark(c)
    body = {"username": "carol", "password": secret}
    uid = ok(c.post(f"{V2}/users/create", json=body, headers=AS_ADMIN))["user"]["id"]
    made = one(c, start, "user.create")
    assert actor(made) == (ADMIN, "user", ADDRESS)
    assert made.request_id
    assert (made.entity_type, made.entity_id) == ("user", "carol")
    assert made.after == {"id": uid, "is_admin": False, "active": True}
    assert made.before is None

    start = mark(c)
    admin = {"username": "carol", "is_admin": True}
    ok(c.patch(f"{V2}/users/update-admin", json=admin, headers=AS_ADMIN))
    changed = one(c, start, "user.update")
    assert (changed.before, changed.after) == ({"is_admin": False}, {"is_admin": True})
    start = mark(c)
    ok(c.patch(f"{V2}/users/update-admin", json=admin, headers=AS_ADMIN))
    nothing_since(c, start)  # nothing changed

    new_secret = "carol-password-02"
    start = mark(c)
    body = {"username": "carol", "password": new_secret}
    ok(c.patch(f"{V2}/users/update-password", json=body, headers=AS_ADMIN))
    reset = one(c, start, "user.set_password")
    assert (reset.entity_id, reset.before, reset.after) == ("carol", None, {"password": "changed"})

    # a user changing their own password proves the current one: the user is the actor
    own = {"username": "carol", "password": "carol-password-03", "current_password": new_secret}
    start = mark(c)
    ok(c.patch(f"{V2}/users/update-password", json=own, headers=basic("carol", new_secret)))
    assert actor(one(c, start, "user.set_password")) == ("carol", "user", ADDRESS)

    start = mark(c)
    ok(c.request("DELETE", f"{V2}/users/delete", json={"username": "carol"}, headers=AS_ADMIN))
    gone = one(c, start, "user.delete")
    assert gone.entity_id == "carol"
    assert gone.before == {"id": uid, "is_admin": True, "active": True}
    assert gone.after is None
    assert_secret_free(c, [secret, new_secret, "carol-password-03", PW, ADMIN_PW])


def test_users_through_v1_with_a_token(c: TestClient) -> None:
    created = ok(c.post(f"{V1}/tokens", json={"name": "ops"}, headers=AS_ADMIN))
    token = created["secret"]
    bearer = {"Authorization": f"Bearer {token}"}
    secret = "dave-password-001"
    start = mark(c)
    body = {"username": "dave", "password": secret, "is_admin": True}
    uid = ok(c.post(f"{V1}/users", json=body, headers=bearer))["id"]
    made = one(c, start, "user.create")
    assert actor(made) == (ADMIN, "token", ADDRESS)
    assert made.after == {"id": uid, "is_admin": True, "active": True}

    start = mark(c)
    ok(c.patch(f"{V1}/users/dave", json={"active": False}, headers=bearer))
    off = one(c, start, "user.update")
    assert (off.before, off.after) == ({"active": True}, {"active": False})
    start = mark(c)
    ok(c.patch(f"{V1}/users/dave", json={"password": "dave-password-002"}, headers=bearer))
    assert one(c, start, "user.set_password").after == {"password": "changed"}
    start = mark(c)
    ok(c.delete(f"{V1}/users/dave", headers=bearer), 204)
    assert actor(one(c, start, "user.delete")) == (ADMIN, "token", ADDRESS)
    assert_secret_free(c, [token, secret, "dave-password-002"])


def test_failed_user_changes_write_no_event(c: TestClient) -> None:
    start = mark(c)
    dup = {"username": "alice", "password": "another-password-1"}
    assert c.post(f"{V2}/users/create", json=dup, headers=AS_ADMIN).status_code == 400
    assert c.post(f"{V1}/users", json=dup, headers=AS_ADMIN).status_code == 400
    short = {"username": "erin", "password": "short"}
    assert c.post(f"{V1}/users", json=short, headers=AS_ADMIN).status_code == 400
    ghost = {"username": "nobody", "is_admin": True}
    assert c.patch(f"{V2}/users/update-admin", json=ghost, headers=AS_ADMIN).status_code == 404
    assert c.patch(f"{V1}/users/nobody", json={"active": False}, headers=AS_ADMIN).status_code == (
        404
    )
    assert c.delete(f"{V1}/users/nobody", headers=AS_ADMIN).status_code == 404
    # the last admin stays: refused, no event; a non-admin may not change users
    last = c.patch(f"{V1}/users/{ADMIN}", json={"is_admin": False}, headers=AS_ADMIN)
    assert (last.status_code, last.json()["error_code"]) == (400, "INVALID_STATE")
    promote = c.patch(f"{V1}/users/alice", json={"is_admin": True}, headers=as_user("bob"))
    assert promote.status_code == 403
    nothing_since(c, start)
    assert c.post(f"{V1}/users", json=dup, headers=as_user("alice")).status_code == 403
    nothing_since(c, start)


# ---- tokens ----


def test_tokens_create_and_revoke(c: TestClient) -> None:
    start = mark(c)
    body = {"name": "ci", "read_only": True, "expires_in_days": 30}
    created = ok(c.post(f"{V1}/tokens", json=body, headers=as_user("alice")))
    secret, tid = created["secret"], created["token"]["id"]
    made = one(c, start, "token.create")
    assert actor(made) == ("alice", "user", ADDRESS)
    assert (made.entity_type, made.entity_id) == ("token", str(tid))
    assert made.after == {
        "name": "ci",
        "user": "alice",
        "read_only": True,
        "expires_at": created["token"]["expires_at"],
    }
    # a duplicate name is refused and writes nothing
    start = mark(c)
    assert c.post(f"{V1}/tokens", json=body, headers=as_user("alice")).status_code == 400
    nothing_since(c, start)

    # the token's own owner revokes it with it... refused (read-only): an admin revokes it
    start = mark(c)
    refused = c.delete(f"{V1}/tokens/{tid}", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 403
    nothing_since(c, start)
    ok(c.delete(f"{V1}/tokens/{tid}", headers=AS_ADMIN))
    revoked = one(c, start, "token.revoke")
    assert actor(revoked) == (ADMIN, "user", ADDRESS)
    assert revoked.entity_id == str(tid)
    assert revoked.before == {"revoked_at": None}
    assert isinstance(revoked.after, dict)
    assert isinstance(revoked.after["revoked_at"], int)
    start = mark(c)
    ok(c.delete(f"{V1}/tokens/{tid}", headers=AS_ADMIN))  # already revoked: no change
    nothing_since(c, start)
    assert_secret_free(c, [secret, secret[6:]])


# ---- sessions and failed logins ----


def test_login_and_logout(c: TestClient) -> None:
    start = mark(c)
    answer = ok(c.post(f"{V1}/auth/login", json={"username": "alice", "password": PW}))
    login = one(c, start, "session.login")
    assert actor(login) == ("alice", "user", ADDRESS)
    assert (login.entity_type, login.entity_id) == ("user", "alice")
    assert login.after is not None
    assert set(login.after) == {"expires_at"}
    cookie, csrf = c.cookies["cairn_session"], answer["csrf_token"]

    # a signed-in session's requests are no login events, nor is basic auth per request
    start = mark(c)
    ok(c.get(f"{V1}/auth/session"))
    ok(c.get(f"{V2}/users/current", headers=as_user("bob")))
    nothing_since(c, start)

    ok(c.post(f"{V1}/auth/logout", headers={"X-CSRF-Token": csrf}), 204)
    logout = one(c, start, "session.logout")
    assert actor(logout) == ("alice", "user", ADDRESS)
    assert (logout.entity_type, logout.entity_id) == ("user", "alice")
    assert_secret_free(c, [cookie, csrf, PW])


def test_failed_logins_are_recorded_though_answered_401(c: TestClient) -> None:
    wrong = "not-the-password-1"
    start = mark(c)
    bad = c.post(f"{V1}/auth/login", json={"username": "alice", "password": wrong})
    assert bad.status_code == 401
    failed = one(c, start, "login.failed")
    assert actor(failed) == ("anonymous", "user", ADDRESS)
    assert (failed.entity_type, failed.entity_id) == ("user", "alice")
    assert failed.after == {"method": "session", "reason": "wrong_password"}

    start = mark(c)
    assert c.get(f"{V2}/experiments/search", headers=basic("bob", wrong)).status_code == 401
    failed = one(c, start, "login.failed")
    assert actor(failed) == ("anonymous", "user", ADDRESS)
    assert failed.after == {"method": "password", "reason": "wrong_password"}

    start = mark(c)
    assert c.get(f"{V2}/experiments/search", headers=basic("zed", wrong)).status_code == 401
    assert one(c, start, "login.failed").after == {"method": "password", "reason": "unknown_user"}
    assert one(c, start, "login.failed").entity_id == "zed"

    ok(c.patch(f"{V1}/users/bob", json={"active": False}, headers=AS_ADMIN))
    start = mark(c)
    assert c.get(f"{V2}/experiments/search", headers=as_user("bob")).status_code == 401
    assert one(c, start, "login.failed").after == {"method": "password", "reason": "inactive_user"}
    assert_secret_free(c, [wrong, PW])


def test_a_wrong_current_password_is_a_failed_login_of_the_signed_in_user(c: TestClient) -> None:
    wrong = "not-the-password-3"
    own = {"username": "alice", "password": "alice-password-09", "current_password": wrong}
    start = mark(c)
    answer = c.patch(f"{V2}/users/update-password", json=own, headers=as_user("alice"))
    assert answer.status_code == 400
    failed = one(c, start, "login.failed")
    assert actor(failed) == ("alice", "user", ADDRESS)
    assert failed.after == {"method": "password", "reason": "wrong_password"}
    start = mark(c)
    body = {"current_password": wrong, "new_password": "alice-password-09"}
    assert c.post(f"{V1}/auth/password", json=body, headers=as_user("alice")).status_code == 400
    assert actor(one(c, start, "login.failed")) == ("alice", "user", ADDRESS)
    assert_secret_free(c, [wrong, "alice-password-09"])


def test_a_long_user_name_tried_is_kept_short(c: TestClient) -> None:
    tried = "x" * 1000  # HTTP basic credentials can name anything
    start = mark(c)
    assert c.get(f"{V2}/experiments/search", headers=basic(tried, "whatever")).status_code == 401
    assert one(c, start, "login.failed").entity_id == tried[:512]


def test_rate_limit_refusal_is_recorded_once_per_window(c: TestClient) -> None:
    wrong = "not-the-password-2"
    start = mark(c)
    for _ in range(MAX_FAILURES_PER_USER):
        bad = c.post(f"{V1}/auth/login", json={"username": "alice", "password": wrong})
        assert bad.status_code == 401
    found = since(c, start)
    assert [e.action for e in found] == ["login.failed"] * MAX_FAILURES_PER_USER
    start = mark(c)
    refused = c.post(f"{V1}/auth/login", json={"username": "alice", "password": PW})
    assert refused.status_code == 429
    locked = one(c, start, "login.failed")
    assert actor(locked) == ("anonymous", "user", ADDRESS)
    assert locked.after == {"method": "session", "reason": "rate_limited"}
    start = mark(c)
    assert c.get(f"{V2}/experiments/search", headers=as_user("alice")).status_code == 429
    nothing_since(c, start)  # once per window: a locked-out caller cannot fill the log
    assert_secret_free(c, [wrong, PW])


# ---- grants ----


def test_experiment_grants_through_mlflow_api(c: TestClient) -> None:
    start = mark(c)
    eid = ok(c.post(f"{V2}/experiments/create", json={"name": "e"}, headers=as_user("bob")))[
        "experiment_id"
    ]
    found = since(c, start)
    assert [e.action for e in found] == ["experiment.create", "permission.create"]
    creator = found[1]
    assert actor(creator) == ("bob", "user", ADDRESS)
    assert (creator.entity_type, creator.entity_id) == ("permission", f"experiment:{eid}")
    assert (creator.experiment_id, creator.model_name) == (eid, None)
    assert creator.after == {"user": "bob", "permission": "MANAGE"}

    url = f"{V2}/experiments/permissions"
    ref = {"experiment_id": eid, "username": "alice"}
    start = mark(c)  # bob holds MANAGE on the experiment: he grants
    ok(c.post(f"{url}/create", json={**ref, "permission": "READ"}, headers=as_user("bob")))
    made = one(c, start, "permission.create")
    assert actor(made) == ("bob", "user", ADDRESS)
    assert (made.entity_id, made.experiment_id) == (f"experiment:{eid}", eid)
    assert (made.before, made.after) == (None, {"user": "alice", "permission": "READ"})

    start = mark(c)
    again = c.post(f"{url}/create", json={**ref, "permission": "READ"}, headers=AS_ADMIN)
    assert (again.status_code, again.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    ghost = {"experiment_id": eid, "username": "nobody", "permission": "READ"}
    assert c.post(f"{url}/create", json=ghost, headers=AS_ADMIN).status_code == 404
    denied = c.patch(f"{url}/update", json={**ref, "permission": "EDIT"}, headers=as_user("alice"))
    assert denied.status_code == 403
    nothing_since(c, start)

    ok(c.patch(f"{url}/update", json={**ref, "permission": "EDIT"}, headers=AS_ADMIN))
    changed = one(c, start, "permission.update")
    assert actor(changed) == (ADMIN, "user", ADDRESS)
    assert changed.before == {"user": "alice", "permission": "READ"}
    assert changed.after == {"user": "alice", "permission": "EDIT"}
    assert changed.experiment_id == eid

    start = mark(c)
    ok(c.request("DELETE", f"{url}/delete", json=ref, headers=as_user("bob")))
    gone = one(c, start, "permission.delete")
    assert (gone.before, gone.after) == ({"user": "alice", "permission": "EDIT"}, None)
    assert (gone.experiment_id, actor(gone)) == (eid, ("bob", "user", ADDRESS))
    start = mark(c)
    assert c.request("DELETE", f"{url}/delete", json=ref, headers=AS_ADMIN).status_code == 404
    nothing_since(c, start)


def test_model_grants_through_mlflow_and_v1(c: TestClient) -> None:
    start = mark(c)
    ok(c.post(f"{V2}/registered-models/create", json={"name": "m"}, headers=as_user("bob")))
    creator = [e for e in since(c, start) if e.action.startswith("permission.")]
    assert [(e.action, e.entity_id, e.model_name) for e in creator] == [
        ("permission.create", "registered_model:m", "m")
    ]
    url = f"{V2}/registered-models/permissions"
    start = mark(c)
    grant = {"name": "m", "username": "alice", "permission": "READ"}
    ok(c.post(f"{url}/create", json=grant, headers=as_user("bob")))
    made = one(c, start, "permission.create")
    assert (made.model_name, made.experiment_id, actor(made)) == (
        "m",
        None,
        ("bob", "user", ADDRESS),
    )

    # /api/v1: PUT creates or changes, a PUT that changes nothing writes nothing
    start = mark(c)
    ok(c.put(f"{V1}/models/m/permissions/alice", json={"permission": "EDIT"}, headers=AS_ADMIN))
    changed = one(c, start, "permission.update")
    assert changed.before == {"user": "alice", "permission": "READ"}
    assert changed.after == {"user": "alice", "permission": "EDIT"}
    start = mark(c)
    ok(c.put(f"{V1}/models/m/permissions/alice", json={"permission": "EDIT"}, headers=AS_ADMIN))
    nothing_since(c, start)
    ok(c.delete(f"{V1}/models/m/permissions/alice", headers=as_user("bob")), 204)
    assert one(c, start, "permission.delete").model_name == "m"


def test_experiment_grants_through_v1_and_mlflow3(c: TestClient) -> None:
    eid = ok(c.post(f"{V2}/experiments/create", json={"name": "e"}, headers=as_user("bob")))[
        "experiment_id"
    ]
    start = mark(c)
    path = f"{V1}/experiments/{eid}/permissions/alice"
    ok(c.put(path, json={"permission": "USE"}, headers=as_user("bob")))
    made = one(c, start, "permission.create")
    assert (made.experiment_id, made.after) == (eid, {"user": "alice", "permission": "USE"})
    start = mark(c)
    ok(c.delete(path, headers=as_user("bob")), 204)
    assert one(c, start, "permission.delete").before == {"user": "alice", "permission": "USE"}

    # MLflow 3's per-user grant and revoke
    start = mark(c)
    body = {"username": "alice", "resource_type": "experiment", "resource_id": eid}
    ok(
        c.post(
            f"{V3}/users/permissions/grant", json={**body, "permission": "EDIT"}, headers=AS_ADMIN
        )
    )
    assert one(c, start, "permission.create").experiment_id == eid
    start = mark(c)
    ok(c.post(f"{V3}/users/permissions/revoke", json=body, headers=as_user("bob")))
    gone = one(c, start, "permission.delete")
    assert (gone.experiment_id, actor(gone)) == (eid, ("bob", "user", ADDRESS))


# ---- roles (MLflow 3) ----


def test_roles_through_mlflow3(c: TestClient) -> None:
    start = mark(c)
    body = {"workspace": "default", "name": "team", "description": "the team"}
    rid = ok(c.post(f"{V3}/roles/create", json=body, headers=AS_ADMIN))["role"]["id"]
    made = one(c, start, "role.create")
    assert actor(made) == (ADMIN, "user", ADDRESS)
    assert (made.entity_type, made.entity_id) == ("role", str(rid))
    assert made.after == {"name": "team", "description": "the team"}
    start = mark(c)
    assert c.post(f"{V3}/roles/create", json=body, headers=AS_ADMIN).status_code == 400
    nothing_since(c, start)

    ok(c.patch(f"{V3}/roles/update", json={"role_id": rid, "name": "crew"}, headers=AS_ADMIN))
    renamed = one(c, start, "role.update")
    assert (renamed.before, renamed.after) == ({"name": "team"}, {"name": "crew"})

    start = mark(c)
    perm = {"role_id": rid, "resource_type": "registered_model", "resource_pattern": "m"}
    rp = ok(
        c.post(f"{V3}/roles/permissions/add", json={**perm, "permission": "READ"}, headers=AS_ADMIN)
    )["role_permission"]
    added = one(c, start, "role.add_permission")
    assert added.entity_id == str(rid)
    assert added.model_name == "m"
    assert added.after == {
        "permission_id": rp["id"],
        "resource_type": "registered_model",
        "pattern": "m",
        "permission": "READ",
    }
    start = mark(c)
    update = {"role_permission_id": rp["id"], "permission": "EDIT"}
    ok(c.patch(f"{V3}/roles/permissions/update", json=update, headers=AS_ADMIN))
    changed = one(c, start, "role.update_permission")
    assert changed.before == {"permission_id": rp["id"], "permission": "READ"}
    assert changed.after == {"permission_id": rp["id"], "permission": "EDIT"}

    start = mark(c)
    member = {"username": "alice", "role_id": rid}
    ok(c.post(f"{V3}/roles/assign", json=member, headers=AS_ADMIN))
    assert one(c, start, "role.assign").after == {"user": "alice"}
    start = mark(c)
    assert c.post(f"{V3}/roles/assign", json=member, headers=AS_ADMIN).status_code == 400
    ghost = {"username": "nobody", "role_id": rid}
    assert c.post(f"{V3}/roles/assign", json=ghost, headers=AS_ADMIN).status_code == 404
    nothing_since(c, start)
    ok(c.request("DELETE", f"{V3}/roles/unassign", json=member, headers=AS_ADMIN))
    assert one(c, start, "role.unassign").before == {"user": "alice"}
    start = mark(c)
    ok(c.post(f"{V3}/roles/assign", json=member, headers=AS_ADMIN))

    start = mark(c)
    ref = {"role_permission_id": rp["id"]}
    ok(c.request("DELETE", f"{V3}/roles/permissions/remove", json=ref, headers=AS_ADMIN))
    removed = one(c, start, "role.remove_permission")
    assert removed.before == {**added.after, "permission": "EDIT"}
    start = mark(c)
    ok(c.post(f"{V3}/roles/permissions/add", json={**perm, "permission": "READ"}, headers=AS_ADMIN))
    start = mark(c)
    ok(c.request("DELETE", f"{V3}/roles/delete", json={"role_id": rid}, headers=AS_ADMIN))
    deleted = one(c, start, "role.delete")
    assert deleted.before is not None
    assert (deleted.before["name"], deleted.before["members"]) == ("crew", ["alice"])
    assert [p["pattern"] for p in deleted.before["permissions"]] == ["m"]
    start = mark(c)
    gone = c.request("DELETE", f"{V3}/roles/delete", json={"role_id": rid}, headers=AS_ADMIN)
    assert gone.status_code == 404
    nothing_since(c, start)


def test_roles_through_v1(c: TestClient) -> None:
    start = mark(c)
    rid = ok(c.post(f"{V1}/roles", json={"name": "readers"}, headers=AS_ADMIN))["id"]
    assert one(c, start, "role.create").after == {"name": "readers", "description": ""}
    start = mark(c)
    grant = {"resource_type": "experiment", "pattern": "0", "permission": "READ"}
    ok(c.post(f"{V1}/roles/{rid}/permissions", json=grant, headers=AS_ADMIN))
    assert one(c, start, "role.add_permission").experiment_id == "0"
    start = mark(c)
    ok(c.put(f"{V1}/roles/{rid}/members/bob", headers=AS_ADMIN))
    assert one(c, start, "role.assign").after == {"user": "bob"}
    start = mark(c)
    ok(c.put(f"{V1}/roles/{rid}/members/bob", headers=AS_ADMIN))  # already a member
    nothing_since(c, start)
    ok(c.delete(f"{V1}/roles/{rid}/members/bob", headers=AS_ADMIN))
    assert one(c, start, "role.unassign").before == {"user": "bob"}


# ---- the CLI ----


def test_cli_users_and_tokens_are_the_system_from_the_cli(store: str) -> None:
    secret = "cli-password-0001"
    runner = CliRunner()
    uri = ["--backend-store-uri", store]
    args = ["users", "create", "frank", "--admin", "--password-stdin", *uri]
    result = runner.invoke(main, args, input=secret + "\n")
    assert result.exit_code == 0, result.output
    uid = int(result.output.rsplit("(id ", 1)[1].split(")", 1)[0])
    made = runner.invoke(main, ["tokens", "create", "frank", "deploy", "--read-only", *uri])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("cairn_")
    tid = made.output.split("(id ", 1)[1].split(",", 1)[0]
    revoked = runner.invoke(main, ["tokens", "revoke", tid, *uri])
    assert revoked.exit_code == 0, revoked.output

    db = Database(store)
    try:
        found = db.read(lambda conn: list(event_store.walk(conn, 0)))
        text = db.read(lambda conn: str(conn.execute(select(change_events)).all()))
    finally:
        db.close()
    assert [(e.action, e.entity_id) for e in found] == [
        ("user.create", "frank"),
        ("token.create", tid),
        ("token.revoke", tid),
    ]
    cli = ("system", "system", f"cli:{getpass.getuser()}")
    assert [actor(e) for e in found] == [cli] * 3
    assert found[0].after == {"id": uid, "is_admin": True, "active": True}
    assert found[1].after == {
        "name": "deploy",
        "user": "frank",
        "read_only": True,
        "expires_at": None,
    }
    for hidden in (secret, token, hashlib.sha256(token.encode()).hexdigest()):
        assert hidden not in text
