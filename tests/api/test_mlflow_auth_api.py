"""MLflow's auth REST API on Cairn, in-process with access control on: users (2.0),
experiment and registered-model permissions (2.0), roles and per-user grants (3.0). Shapes,
error codes and who may call what, as mlflow 3.17.2's (and 2.22.5's) ``mlflow.server.auth``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import Response
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from tests.databases import BACKENDS, fresh_database

V2, V3 = "/api/2.0/mlflow", "/api/3.0/mlflow"
ADMIN = ("admin", "admin-password-1")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-123")


@pytest.fixture(params=BACKENDS)
def c(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """An app with access control on, its first admin from the environment, and two users."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN[0])
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN[1])

    def run(uri: str) -> Iterator[TestClient]:
        with TestClient(create_app(Settings(backend_store_uri=uri, auth=True))) as client:
            for name, password in (ALICE, BOB):
                body = {"username": name, "password": password}
                ok(client.post(f"{V2}/users/create", json=body, auth=ADMIN))
            yield client

    with fresh_database(request.param, tmp_path) as uri:
        yield from run(uri)


def ok(resp: Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def error(resp: Response, status: int, code: str, names: str = "") -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    assert names in body["message"], body
    message: str = body["message"]
    return message


def experiment(c: TestClient, name: str = "exp") -> str:
    eid: str = ok(c.post(f"{V2}/experiments/create", json={"name": name}, auth=ADMIN))[
        "experiment_id"
    ]
    return eid


# ---- users ----


def test_user_routes_shapes_and_errors(c: TestClient) -> None:
    anonymous = c.post(f"{V2}/users/create", json={"username": "carol", "password": "x" * 12})
    assert anonymous.status_code == 401  # no open sign-up
    user = ok(
        c.post(f"{V2}/users/create", json={"username": "carol", "password": "x" * 12}, auth=ADMIN)
    )["user"]
    assert set(user) >= {"id", "username", "is_admin"}
    assert user["username"] == "carol"
    assert user["is_admin"] is False
    assert isinstance(user["id"], int)
    assert user["experiment_permissions"] == []  # mlflow 2's client reads these two lists
    assert user["registered_model_permissions"] == []
    error(
        c.post(f"{V2}/users/create", json={"username": "carol", "password": "y" * 12}, auth=ADMIN),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    error(
        c.post(f"{V2}/users/create", json={"username": "dave"}, auth=ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
        "password",
    )
    error(
        c.post(f"{V2}/users/create", json={"username": "dave", "password": "short"}, auth=ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
        "password",
    )
    got = ok(c.get(f"{V2}/users/get", params={"username": "carol"}, auth=ADMIN))["user"]
    assert got == user
    error(
        c.get(f"{V2}/users/get", params={"username": "nobody"}, auth=ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "nobody",
    )
    listed = ok(c.get(f"{V2}/users/list", auth=ADMIN))["users"]
    assert {u["username"] for u in listed} == {"admin", "alice", "bob", "carol"}
    assert all(set(u) == {"id", "username", "is_admin", "roles"} for u in listed)

    # is_admin as the Python client sends it (a string), and as a JSON bool
    body: dict[str, object] = {"username": "carol", "is_admin": "true"}
    assert ok(c.patch(f"{V2}/users/update-admin", json=body, auth=ADMIN)) == {}
    assert ok(c.get(f"{V2}/users/get", params={"username": "carol"}, auth=ADMIN))["user"][
        "is_admin"
    ]
    body["is_admin"] = False
    ok(c.patch(f"{V2}/users/update-admin", json=body, auth=ADMIN))
    got = ok(c.get(f"{V2}/users/get", params={"username": "carol"}, auth=ADMIN))["user"]
    assert got["is_admin"] is False
    body["is_admin"] = "maybe"
    error(
        c.patch(f"{V2}/users/update-admin", json=body, auth=ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
        "is_admin",
    )
    error(
        c.patch(f"{V2}/users/update-admin", json={"username": "x", "is_admin": "true"}, auth=ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )

    # an admin resets another user's password without the current one
    new = {"username": "carol", "password": "carol-new-password"}
    assert ok(c.patch(f"{V2}/users/update-password", json=new, auth=ADMIN)) == {}
    me = ok(c.get(f"{V2}/users/current", auth=("carol", "carol-new-password")))
    assert me["user"]["username"] == "carol"
    assert c.get(f"{V2}/users/current", auth=("carol", "x" * 12)).status_code == 401

    error(
        c.request("DELETE", f"{V2}/users/delete", json={"username": "admin"}, auth=ADMIN),
        400,
        "BAD_REQUEST",
    )
    assert (
        ok(c.request("DELETE", f"{V2}/users/delete", json={"username": "carol"}, auth=ADMIN)) == {}
    )
    error(
        c.get(f"{V2}/users/get", params={"username": "carol"}, auth=ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        c.request("DELETE", f"{V2}/users/delete", json={"username": "carol"}, auth=ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_who_may_call_the_user_routes(c: TestClient) -> None:
    anonymous = c.get(f"{V2}/users/current")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")

    current = ok(c.get(f"{V2}/users/current", auth=ALICE))
    assert current["user"]["username"] == "alice"
    assert current["user"]["is_admin"] is False
    assert set(current["user"]) == {"id", "username", "is_admin"}
    assert current["is_basic_auth"] is True
    assert (
        ok(c.get(f"{V2}/users/get", params={"username": "alice"}, auth=ALICE))["user"]["username"]
        == "alice"
    )

    new_user = {"username": "eve", "password": "e" * 12}
    error(c.post(f"{V2}/users/create", json=new_user, auth=ALICE), 403, "PERMISSION_DENIED")
    error(c.get(f"{V2}/users/list", auth=ALICE), 403, "PERMISSION_DENIED")
    error(
        c.get(f"{V2}/users/get", params={"username": "bob"}, auth=ALICE), 403, "PERMISSION_DENIED"
    )
    promote = {"username": "alice", "is_admin": "true"}
    error(c.patch(f"{V2}/users/update-admin", json=promote, auth=ALICE), 403, "PERMISSION_DENIED")
    error(
        c.request("DELETE", f"{V2}/users/delete", json={"username": "bob"}, auth=ALICE),
        403,
        "PERMISSION_DENIED",
    )
    others = {"username": "bob", "password": "b" * 12}
    error(c.patch(f"{V2}/users/update-password", json=others, auth=ALICE), 403, "PERMISSION_DENIED")

    # changing one's own password needs the current one, right, and a different new one
    own: dict[str, str] = {"username": "alice", "password": "alice-password-2"}
    error(
        c.patch(f"{V2}/users/update-password", json=own, auth=ALICE),
        400,
        "INVALID_PARAMETER_VALUE",
        "current_password",
    )
    own["current_password"] = "not-the-password"
    error(
        c.patch(f"{V2}/users/update-password", json=own, auth=ALICE),
        400,
        "INVALID_PARAMETER_VALUE",
        "current_password",
    )
    same = {"username": "alice", "password": ALICE[1], "current_password": ALICE[1]}
    error(
        c.patch(f"{V2}/users/update-password", json=same, auth=ALICE),
        400,
        "INVALID_PARAMETER_VALUE",
        "password",
    )
    own["current_password"] = ALICE[1]
    assert ok(c.patch(f"{V2}/users/update-password", json=own, auth=ALICE)) == {}
    assert c.get(f"{V2}/users/current", auth=ALICE).status_code == 401
    assert ok(c.get(f"{V2}/users/current", auth=("alice", "alice-password-2")))


# ---- 2.0 per-resource permissions ----


def test_experiment_permissions(c: TestClient) -> None:
    eid = experiment(c)
    url = f"{V2}/experiments/permissions"
    # the admin makes alice a manager of the experiment (the id may come as a JSON number)
    made = ok(
        c.post(
            f"{url}/create",
            json={"experiment_id": int(eid), "username": "alice", "permission": "MANAGE"},
            auth=ADMIN,
        )
    )["experiment_permission"]
    alice_id = ok(c.get(f"{V2}/users/current", auth=ALICE))["user"]["id"]
    assert made == {"experiment_id": eid, "user_id": alice_id, "permission": "MANAGE"}

    # a MANAGE holder grants, reads, changes and removes other users' permissions
    grant = {"experiment_id": eid, "username": "bob", "permission": "READ"}
    got = ok(c.post(f"{url}/create", json=grant, auth=ALICE))["experiment_permission"]
    assert got["permission"] == "READ"
    error(c.post(f"{url}/create", json=grant, auth=ALICE), 400, "RESOURCE_ALREADY_EXISTS")
    ref = {"experiment_id": eid, "username": "bob"}
    assert ok(c.get(f"{url}/get", params=ref, auth=ALICE))["experiment_permission"] == got
    assert ok(c.patch(f"{url}/update", json={**ref, "permission": "EDIT"}, auth=ALICE)) == {}
    assert (
        ok(c.get(f"{url}/get", params=ref, auth=ALICE))["experiment_permission"]["permission"]
        == "EDIT"
    )
    error(
        c.patch(f"{url}/update", json={**ref, "permission": "WRITE"}, auth=ALICE),
        400,
        "INVALID_PARAMETER_VALUE",
        "permission",
    )
    # EDIT is not MANAGE: bob may not touch the experiment's permissions, not even read them
    error(c.get(f"{url}/get", params=ref, auth=BOB), 403, "PERMISSION_DENIED")
    mine = {"experiment_id": eid, "username": "bob", "permission": "MANAGE"}
    error(c.patch(f"{url}/update", json=mine, auth=BOB), 403, "PERMISSION_DENIED")
    error(c.request("DELETE", f"{url}/delete", json=ref, auth=BOB), 403, "PERMISSION_DENIED")
    # NO_PERMISSIONS is a permission like the others
    ok(c.patch(f"{url}/update", json={**ref, "permission": "NO_PERMISSIONS"}, auth=ALICE))
    error(
        c.get(f"{V2}/experiments/get", params={"experiment_id": eid}, auth=BOB),
        403,
        "PERMISSION_DENIED",
    )
    assert ok(c.request("DELETE", f"{url}/delete", json=ref, auth=ALICE)) == {}
    error(c.get(f"{url}/get", params=ref, auth=ALICE), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        c.request("DELETE", f"{url}/delete", json=ref, auth=ALICE), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    ghost = {"experiment_id": eid, "username": "nobody", "permission": "READ"}
    error(c.post(f"{url}/create", json=ghost, auth=ALICE), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        c.post(f"{url}/create", json={"username": "bob", "permission": "READ"}, auth=ALICE),
        400,
        "INVALID_PARAMETER_VALUE",
        "experiment_id",
    )


def test_registered_model_permissions(c: TestClient) -> None:
    ok(c.post(f"{V2}/registered-models/create", json={"name": "m"}, auth=ADMIN))
    url = f"{V2}/registered-models/permissions"
    grant = {"name": "m", "username": "alice", "permission": "MANAGE"}
    made = ok(c.post(f"{url}/create", json=grant, auth=ADMIN))["registered_model_permission"]
    assert made["name"] == "m"
    assert made["permission"] == "MANAGE"
    assert isinstance(made["user_id"], int)
    ref = {"name": "m", "username": "bob"}
    ok(c.post(f"{url}/create", json={**ref, "permission": "READ"}, auth=ALICE))
    error(
        c.post(f"{url}/create", json={**ref, "permission": "READ"}, auth=ALICE),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    got = ok(c.get(f"{url}/get", params=ref, auth=ALICE))["registered_model_permission"]
    assert got["permission"] == "READ"
    ok(c.patch(f"{url}/update", json={**ref, "permission": "EDIT"}, auth=ALICE))
    error(
        c.patch(f"{url}/update", json={**ref, "permission": "MANAGE"}, auth=BOB),
        403,
        "PERMISSION_DENIED",
    )
    # the user's own view lists their grants (mlflow 2's User entity)
    bob = ok(c.get(f"{V2}/users/get", params={"username": "bob"}, auth=BOB))["user"]
    assert [(g["name"], g["permission"]) for g in bob["registered_model_permissions"]] == [
        ("m", "EDIT")
    ]
    ok(c.request("DELETE", f"{url}/delete", json=ref, auth=ALICE))
    error(c.get(f"{url}/get", params=ref, auth=ALICE), 404, "RESOURCE_DOES_NOT_EXIST")


# ---- 3.0 roles ----


def test_roles(c: TestClient) -> None:
    made = ok(
        c.post(
            f"{V3}/roles/create",
            json={"workspace": "default", "name": "team", "description": "the team"},
            auth=ADMIN,
        )
    )["role"]
    assert set(made) == {"id", "name", "workspace", "description", "permissions"}
    assert (made["name"], made["workspace"], made["description"]) == ("team", "default", "the team")
    assert made["permissions"] == []
    rid = made["id"]
    error(
        c.post(f"{V3}/roles/create", json={"workspace": "default", "name": "team"}, auth=ADMIN),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    error(
        c.post(f"{V3}/roles/create", json={"workspace": "other", "name": "x"}, auth=ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
        "workspace",
    )
    error(
        c.post(f"{V3}/roles/create", json={"workspace": "default", "name": "x"}, auth=ALICE),
        403,
        "PERMISSION_DENIED",
    )
    assert ok(c.get(f"{V3}/roles/get", params={"role_id": str(rid)}, auth=ADMIN))["role"] == made
    error(
        c.get(f"{V3}/roles/get", params={"role_id": "999"}, auth=ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        c.get(f"{V3}/roles/get", params={"role_id": "abc"}, auth=ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
        "role_id",
    )
    assert [r["name"] for r in ok(c.get(f"{V3}/roles/list", auth=ADMIN))["roles"]] == ["team"]
    renamed = ok(c.patch(f"{V3}/roles/update", json={"role_id": rid, "name": "crew"}, auth=ADMIN))
    assert renamed["role"]["name"] == "crew"
    error(
        c.patch(f"{V3}/roles/update", json={"role_id": rid}, auth=ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
    )

    perm = {"role_id": rid, "resource_type": "experiment", "resource_pattern": "*"}
    rp = ok(c.post(f"{V3}/roles/permissions/add", json={**perm, "permission": "EDIT"}, auth=ADMIN))[
        "role_permission"
    ]
    assert rp == {**perm, "id": rp["id"], "permission": "EDIT"}
    error(
        c.post(
            f"{V3}/roles/permissions/add",
            json={**perm, "resource_type": "scorer", "permission": "EDIT"},
            auth=ADMIN,
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "resource_type",
    )
    listed = ok(c.get(f"{V3}/roles/permissions/list", params={"role_id": rid}, auth=ADMIN))
    assert listed["role_permissions"] == [rp]
    changed = ok(
        c.patch(
            f"{V3}/roles/permissions/update",
            json={"role_permission_id": rp["id"], "permission": "MANAGE"},
            auth=ADMIN,
        )
    )["role_permission"]
    assert changed["permission"] == "MANAGE"

    # a user without a role sees no roles; once assigned, the roles of the one workspace
    error(c.get(f"{V3}/roles/get", params={"role_id": rid}, auth=ALICE), 403, "PERMISSION_DENIED")
    assignment = ok(
        c.post(f"{V3}/roles/assign", json={"username": "alice", "role_id": rid}, auth=ADMIN)
    )["assignment"]
    alice_id = ok(c.get(f"{V2}/users/current", auth=ALICE))["user"]["id"]
    assert (assignment["user_id"], assignment["role_id"]) == (alice_id, rid)
    error(
        c.post(f"{V3}/roles/assign", json={"username": "alice", "role_id": rid}, auth=ADMIN),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    error(
        c.post(f"{V3}/roles/assign", json={"username": "nobody", "role_id": rid}, auth=ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert ok(c.get(f"{V3}/roles/get", params={"role_id": rid}, auth=ALICE))["role"]["id"] == rid
    assert ok(c.get(f"{V3}/roles/list", params={"workspace": "default"}, auth=ALICE))["roles"]
    error(c.get(f"{V3}/roles/list", auth=ALICE), 403, "PERMISSION_DENIED")
    error(c.get(f"{V3}/roles/get", params={"role_id": rid}, auth=BOB), 403, "PERMISSION_DENIED")
    mine = ok(c.get(f"{V3}/users/roles/list", params={"username": "alice"}, auth=ALICE))["roles"]
    assert [r["name"] for r in mine] == ["crew"]
    error(
        c.get(f"{V3}/users/roles/list", params={"username": "alice"}, auth=BOB),
        403,
        "PERMISSION_DENIED",
    )
    members = ok(c.get(f"{V3}/roles/users/list", params={"role_id": rid}, auth=ADMIN))
    assert [a["user_id"] for a in members["assignments"]] == [alice_id]

    # the role's MANAGE on every experiment takes effect
    eid = experiment(c)
    check = {"username": "alice", "resource_type": "experiment", "resource_id": eid}
    assert ok(c.get(f"{V3}/users/permissions/get", params=check, auth=ALICE)) == {
        "allowed": True,
        "permission": "MANAGE",
    }
    rows = ok(c.get(f"{V3}/users/current/permissions", auth=ALICE))
    assert rows["is_admin"] is False
    assert [
        (r["role_name"], r["resource_pattern"], r["permission"]) for r in rows["permissions"]
    ] == [("crew", "*", "MANAGE")]

    ok(
        c.request(
            "DELETE", f"{V3}/roles/unassign", json={"username": "alice", "role_id": rid}, auth=ADMIN
        )
    )
    error(
        c.request(
            "DELETE", f"{V3}/roles/unassign", json={"username": "alice", "role_id": rid}, auth=ADMIN
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    ok(
        c.request(
            "DELETE",
            f"{V3}/roles/permissions/remove",
            json={"role_permission_id": rp["id"]},
            auth=ADMIN,
        )
    )
    error(
        c.request(
            "DELETE",
            f"{V3}/roles/permissions/remove",
            json={"role_permission_id": rp["id"]},
            auth=ADMIN,
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    ok(c.request("DELETE", f"{V3}/roles/delete", json={"role_id": rid}, auth=ADMIN))
    error(
        c.get(f"{V3}/roles/get", params={"role_id": rid}, auth=ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_per_user_grants(c: TestClient) -> None:
    eid = experiment(c)
    grant = {"username": "alice", "resource_type": "experiment", "resource_id": eid}
    assert (
        ok(
            c.post(
                f"{V3}/users/permissions/grant", json={**grant, "permission": "MANAGE"}, auth=ADMIN
            )
        )
        == {}
    )
    error(
        c.post(f"{V3}/users/permissions/grant", json={**grant, "permission": "READ"}, auth=ADMIN),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    # alice manages the experiment, so she may grant on it; bob may not
    to_bob = {"username": "bob", "resource_type": "experiment", "resource_id": eid}
    ok(c.post(f"{V3}/users/permissions/grant", json={**to_bob, "permission": "READ"}, auth=ALICE))
    error(
        c.post(f"{V3}/users/permissions/grant", json={**to_bob, "permission": "MANAGE"}, auth=BOB),
        403,
        "PERMISSION_DENIED",
    )
    assert ok(c.get(f"{V3}/users/permissions/get", params=to_bob, auth=BOB)) == {
        "allowed": False,  # READ is below USE
        "permission": "READ",
    }
    error(c.get(f"{V3}/users/permissions/get", params=to_bob, auth=ALICE), 403, "PERMISSION_DENIED")
    assert (
        ok(c.get(f"{V3}/users/permissions/get", params=to_bob, auth=ADMIN))["permission"] == "READ"
    )

    # one resource per grant: '*' is for roles (admins), refused to everyone else
    every = {**to_bob, "resource_id": "*", "permission": "READ"}
    error(c.post(f"{V3}/users/permissions/grant", json=every, auth=ALICE), 403, "PERMISSION_DENIED")
    error(
        c.post(f"{V3}/users/permissions/grant", json=every, auth=ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
        "resource_id",
    )
    error(
        c.post(
            f"{V3}/users/permissions/grant",
            json={**to_bob, "resource_type": "workspace", "permission": "READ"},
            auth=ADMIN,
        ),
        400,
        "INVALID_PARAMETER_VALUE",
        "resource_type",
    )

    listed = ok(c.get(f"{V3}/users/permissions/list", params={"username": "bob"}, auth=BOB))
    assert listed["is_admin"] is False
    [row] = listed["permissions"]
    assert row["resource_type"] == "experiment"
    assert (row["resource_pattern"], row["permission"]) == (eid, "READ")
    assert row["workspace"] == "default"
    error(
        c.get(f"{V3}/users/permissions/list", params={"username": "bob"}, auth=ALICE),
        403,
        "PERMISSION_DENIED",
    )

    ok(c.post(f"{V3}/users/permissions/revoke", json=to_bob, auth=ALICE))
    error(
        c.post(f"{V3}/users/permissions/revoke", json=to_bob, auth=ALICE),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    ok(c.post(f"{V2}/registered-models/create", json={"name": "m"}, auth=ADMIN))
    model = {"username": "bob", "resource_type": "registered_model", "resource_id": "m"}
    ok(c.post(f"{V3}/users/permissions/grant", json={**model, "permission": "EDIT"}, auth=ADMIN))
    assert ok(c.get(f"{V3}/users/permissions/get", params=model, auth=BOB)) == {
        "allowed": True,
        "permission": "EDIT",
    }


def test_ajax_twins_answer_the_same(c: TestClient) -> None:
    for path in (
        "/ajax-api/2.0/mlflow/users/current",
        "/ajax-api/3.0/mlflow/users/current/permissions",
    ):
        assert c.get(path, auth=ALICE).status_code == 200
    assert c.get("/ajax-api/3.0/mlflow/roles/list", auth=ADMIN).json() == {"roles": []}
    error(c.post("/api/3.0/mlflow/users/create", json={}, auth=ADMIN), 404, "ENDPOINT_NOT_FOUND")


def test_without_access_control_the_routes_say_so(client: TestClient) -> None:
    """No users exist on a server without --auth: the routes answer 4xx, never 500."""
    for method, path in (
        ("GET", f"{V2}/users/list"),
        ("POST", f"{V2}/users/create"),
        ("GET", f"{V3}/roles/list"),
    ):
        resp = client.request(method, path, json={"username": "xavier", "password": "p" * 12})
        if resp.status_code != 200:  # the local user may manage users ahead of --auth
            error(resp, 404, "ENDPOINT_NOT_FOUND", "--auth")
