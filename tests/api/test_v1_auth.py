"""Cairn's own access API (/api/v1/auth, tokens, users, roles, permissions) in-process on a
real SQLite store, through the access layer: every route, its errors, and who may call it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from cairn.access.policy import need_of
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.server.v1 import auth, permissions, users
from tests.api import basic as basic_header
from tests.api import root_app

ADMIN, ADMIN_PW = "root", "root-password-0001"
PW = "user-password-0001"
MLFLOW = "/api/2.0/mlflow"


def basic(username: str, password: str = PW) -> dict[str, str]:
    return basic_header(username, password)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


AS_ADMIN = basic(ADMIN, ADMIN_PW)


@pytest.fixture
def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'auth.db'}", auth=True)
    with TestClient(create_app(settings)) as client:
        for name in ("alice", "bob"):
            answer = client.post(
                "/api/v1/users", json={"username": name, "password": PW}, headers=AS_ADMIN
            )
            assert answer.status_code == 200, answer.text
        yield client


def login(client: TestClient, username: str, password: str = PW) -> str:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    csrf: str = answer.json()["csrf_token"]
    return csrf


def error(answer: Any, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


# ---- every route declares its need ----


def test_every_route_declares_a_need() -> None:
    routes = [
        r
        for module in (auth, users, permissions)
        for r in module.router.routes
        if isinstance(r, APIRoute)
    ]
    assert len(routes) == 26
    for route in routes:
        assert need_of(route.endpoint) is not None, route.path


# ---- login, session, logout ----


def test_login_sets_a_session_cookie(app_client: TestClient) -> None:
    answer = app_client.post("/api/v1/auth/login", json={"username": "alice", "password": PW})
    assert answer.status_code == 200
    body = answer.json()
    assert body["user"]["username"] == "alice"
    assert body["user"]["is_admin"] is False
    assert "password" not in answer.text
    assert "argon2" not in answer.text
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("cairn_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie
    session = app_client.get("/api/v1/auth/session")
    assert session.status_code == 200
    assert session.json() == {
        "user": {
            "username": "alice",
            "is_admin": False,
            "id": body["user"]["id"],
            "read_only": False,
        },
        "csrf_token": body["csrf_token"],
        "auth_enabled": True,
    }


def test_login_cookie_is_secure_behind_https(app_client: TestClient) -> None:
    answer = app_client.post(
        "/api/v1/auth/login",
        json={"username": "alice", "password": PW},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert answer.status_code == 200
    assert "Secure" in answer.headers["set-cookie"]


def test_login_refusals(app_client: TestClient) -> None:
    wrong = app_client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "nope-nope-nope"}
    )
    error(wrong, 401, "UNAUTHENTICATED")
    assert "set-cookie" not in wrong.headers
    error(
        app_client.post("/api/v1/auth/login", json={"username": "ghost", "password": PW}),
        401,
        "UNAUTHENTICATED",
    )
    missing = app_client.post("/api/v1/auth/login", json={"username": "alice"})
    assert "password" in error(missing, 400, "INVALID_PARAMETER_VALUE")


def test_login_is_rate_limited(app_client: TestClient) -> None:
    for _ in range(10):
        app_client.post(
            "/api/v1/auth/login", json={"username": "bob", "password": "wrong-password-x"}
        )
    answer = app_client.post("/api/v1/auth/login", json={"username": "bob", "password": PW})
    assert "Too many failed logins" in error(answer, 429, "TOO_MANY_REQUESTS")


def test_session_needs_credentials(app_client: TestClient) -> None:
    answer = app_client.get("/api/v1/auth/session")
    error(answer, 401, "UNAUTHENTICATED")
    assert answer.headers["www-authenticate"] == 'Basic realm="cairn"'
    with_basic = app_client.get("/api/v1/auth/session", headers=basic("bob"))
    assert with_basic.json()["csrf_token"] is None
    assert with_basic.json()["user"]["username"] == "bob"


def test_logout_ends_the_session(app_client: TestClient) -> None:
    csrf = login(app_client, "alice")
    error(app_client.post("/api/v1/auth/logout"), 403, "PERMISSION_DENIED")  # no CSRF header
    answer = app_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 204
    assert (
        'cairn_session=""' in answer.headers["set-cookie"]
        or "Max-Age=0" in answer.headers["set-cookie"]
    )
    app_client.cookies.clear()
    error(app_client.get("/api/v1/auth/session"), 401, "UNAUTHENTICATED")


def test_session_when_access_control_is_off(tmp_path: Path) -> None:
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'off.db'}")
    with TestClient(create_app(settings)) as client:
        answer = client.get("/api/v1/auth/session")
        assert answer.status_code == 200
        assert answer.json() == {
            "user": {"username": "local", "is_admin": True, "id": None, "read_only": False},
            "csrf_token": None,
            "auth_enabled": False,
        }
        message = error(client.get("/api/v1/tokens"), 400, "INVALID_STATE")
        assert "--auth" in message
        error(
            client.post("/api/v1/auth/login", json={"username": "a", "password": "b"}),
            400,
            "INVALID_STATE",
        )


# ---- the caller's password ----


def test_change_password(app_client: TestClient) -> None:
    csrf = login(app_client, "alice")
    headers = {"X-CSRF-Token": csrf}
    wrong = app_client.post(
        "/api/v1/auth/password",
        json={"current_password": "not-it-at-all", "new_password": "x" * 16},
        headers=headers,
    )
    assert "current_password" in error(wrong, 400, "INVALID_PARAMETER_VALUE")
    short = app_client.post(
        "/api/v1/auth/password", json={"current_password": PW, "new_password": "x"}, headers=headers
    )
    error(short, 400, "INVALID_PARAMETER_VALUE")
    new = "a-new-password-0002"
    answer = app_client.post(
        "/api/v1/auth/password", json={"current_password": PW, "new_password": new}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    fresh = answer.json()["csrf_token"]
    assert fresh != csrf
    assert app_client.get("/api/v1/auth/session").json()["csrf_token"] == fresh  # a new session
    app_client.cookies.clear()
    error(app_client.get("/api/v1/auth/session", headers=basic("alice")), 401, "UNAUTHENTICATED")
    assert app_client.get("/api/v1/auth/session", headers=basic("alice", new)).status_code == 200
    with_basic = app_client.post(
        "/api/v1/auth/password",
        json={"current_password": new, "new_password": PW},
        headers=basic("alice", new),
    )
    assert with_basic.status_code == 200
    assert with_basic.json() is None
    error(app_client.post("/api/v1/auth/password", json={}), 401, "UNAUTHENTICATED")


# ---- API tokens ----


def test_token_lifecycle(app_client: TestClient) -> None:
    me = basic("alice")
    created = app_client.post(
        "/api/v1/tokens", json={"name": "ci", "expires_in_days": 30}, headers=me
    )
    assert created.status_code == 200, created.text
    body = created.json()
    secret, token = body["secret"], body["token"]
    assert secret.startswith(token["prefix"])
    assert token["name"] == "ci"
    assert token["read_only"] is False
    assert token["expires_at"] - token["created_at"] == pytest.approx(30 * 86_400_000, abs=60_000)
    listed = app_client.get("/api/v1/tokens", headers=me)
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["tokens"]] == ["ci"]
    assert secret not in listed.text
    assert "secret" not in listed.text
    # the token works as a bearer and as a basic password
    assert (
        app_client.get("/api/v1/auth/session", headers=bearer(secret)).json()["user"]["username"]
        == "alice"
    )
    assert app_client.get("/api/v1/auth/session", headers=basic("alice", secret)).status_code == 200
    # bob sees none of it and cannot revoke it
    assert app_client.get("/api/v1/tokens", headers=basic("bob")).json() == {"tokens": []}
    error(
        app_client.delete(f"/api/v1/tokens/{token['id']}", headers=basic("bob")),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    revoked = app_client.delete(f"/api/v1/tokens/{token['id']}", headers=me)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    error(app_client.get("/api/v1/auth/session", headers=bearer(secret)), 401, "UNAUTHENTICATED")
    error(app_client.delete("/api/v1/tokens/999999", headers=me), 404, "RESOURCE_DOES_NOT_EXIST")
    error(app_client.delete("/api/v1/tokens/abc", headers=me), 400, "INVALID_PARAMETER_VALUE")


def test_token_refusals(app_client: TestClient) -> None:
    me = basic("alice")
    ro = app_client.post(
        "/api/v1/tokens", json={"name": "reader", "read_only": True}, headers=me
    ).json()
    assert ro["token"]["read_only"] is True
    assert ro["token"]["expires_at"] is None
    # a read-only token reads but changes nothing, not even tokens
    assert app_client.get("/api/v1/tokens", headers=bearer(ro["secret"])).status_code == 200
    error(
        app_client.post("/api/v1/tokens", json={"name": "x"}, headers=bearer(ro["secret"])),
        403,
        "PERMISSION_DENIED",
    )
    error(
        app_client.post("/api/v1/tokens", json={"name": "reader"}, headers=me),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    both = app_client.post(
        "/api/v1/tokens",
        json={"name": "b", "expires_in_days": 1, "expires_at": 9_999_999_999_999},
        headers=me,
    )
    assert "expires_in_days" in error(both, 400, "INVALID_PARAMETER_VALUE")
    past = app_client.post("/api/v1/tokens", json={"name": "p", "expires_at": 1}, headers=me)
    assert "expires_at" in error(past, 400, "INVALID_PARAMETER_VALUE")
    zero = app_client.post("/api/v1/tokens", json={"name": "z", "expires_in_days": 0}, headers=me)
    assert "expires_in_days" in error(zero, 400, "INVALID_PARAMETER_VALUE")
    assert "name" in error(
        app_client.post("/api/v1/tokens", json={}, headers=me), 400, "INVALID_PARAMETER_VALUE"
    )
    error(app_client.post("/api/v1/tokens", json={"name": "anon"}), 401, "UNAUTHENTICATED")


# ---- users (admins) ----


def test_users_are_for_admins(app_client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("PATCH", "/api/v1/users/bob"),
        ("DELETE", "/api/v1/users/bob"),
        ("GET", "/api/v1/roles"),
        ("POST", "/api/v1/roles"),
    ]:
        error(
            app_client.request(method, path, json={}, headers=basic("alice")),
            403,
            "PERMISSION_DENIED",
        )
        error(app_client.request(method, path, json={}), 401, "UNAUTHENTICATED")


def test_user_admin(app_client: TestClient) -> None:
    listed = app_client.get("/api/v1/users", headers=AS_ADMIN)
    assert [u["username"] for u in listed.json()["users"]] == ["alice", "bob", ADMIN]
    assert "argon2" not in listed.text
    assert "password" not in listed.text
    carol = app_client.post(
        "/api/v1/users",
        json={"username": "carol", "password": PW, "is_admin": True},
        headers=AS_ADMIN,
    )
    assert carol.json()["is_admin"] is True
    error(
        app_client.post(
            "/api/v1/users", json={"username": "carol", "password": PW}, headers=AS_ADMIN
        ),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    short = app_client.post(
        "/api/v1/users", json={"username": "dave", "password": "short"}, headers=AS_ADMIN
    )
    assert "password" in error(short, 400, "INVALID_PARAMETER_VALUE")
    bad = app_client.post(
        "/api/v1/users", json={"username": "no spaces", "password": PW}, headers=AS_ADMIN
    )
    assert "username" in error(bad, 400, "INVALID_PARAMETER_VALUE")

    made = app_client.patch("/api/v1/users/bob", json={"is_admin": True}, headers=AS_ADMIN)
    assert made.json()["is_admin"] is True
    assert app_client.get("/api/v1/users", headers=basic("bob")).status_code == 200
    off = app_client.patch(
        "/api/v1/users/bob", json={"active": False, "is_admin": False}, headers=AS_ADMIN
    )
    assert off.json()["active"] is False
    error(
        app_client.post("/api/v1/auth/login", json={"username": "bob", "password": PW}),
        401,
        "UNAUTHENTICATED",
    )
    app_client.patch(
        "/api/v1/users/bob",
        json={"active": True, "password": "reset-password-03"},
        headers=AS_ADMIN,
    )
    login(app_client, "bob", "reset-password-03")
    error(
        app_client.patch("/api/v1/users/ghost", json={"active": False}, headers=AS_ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        app_client.patch("/api/v1/users/bob", json={"active": "maybe"}, headers=AS_ADMIN),
        400,
        "INVALID_PARAMETER_VALUE",
    )

    assert app_client.delete("/api/v1/users/carol", headers=AS_ADMIN).status_code == 204
    error(
        app_client.delete("/api/v1/users/carol", headers=AS_ADMIN), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    last = app_client.patch(f"/api/v1/users/{ADMIN}", json={"is_admin": False}, headers=AS_ADMIN)
    assert "last active admin" in error(last, 400, "INVALID_STATE")
    error(app_client.delete(f"/api/v1/users/{ADMIN}", headers=AS_ADMIN), 400, "INVALID_STATE")


# ---- roles (admins) ----


def test_roles(app_client: TestClient) -> None:
    role = app_client.post(
        "/api/v1/roles", json={"name": "team", "description": "the team"}, headers=AS_ADMIN
    )
    assert role.status_code == 200, role.text
    rid = role.json()["id"]
    error(
        app_client.post("/api/v1/roles", json={"name": "team"}, headers=AS_ADMIN),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    grant = {"resource_type": "experiment", "pattern": "*", "permission": "EDIT"}
    added = app_client.post(f"/api/v1/roles/{rid}/permissions", json=grant, headers=AS_ADMIN).json()
    assert [(p["pattern"], p["permission"]) for p in added["permissions"]] == [("*", "EDIT")]
    pid = added["permissions"][0]["id"]
    bad = app_client.post(
        f"/api/v1/roles/{rid}/permissions", json={**grant, "permission": "OWN"}, headers=AS_ADMIN
    )
    assert "permission" in error(bad, 400, "INVALID_PARAMETER_VALUE")
    bad_kind = app_client.post(
        f"/api/v1/roles/{rid}/permissions", json={**grant, "resource_type": "run"}, headers=AS_ADMIN
    )
    assert "resource_type" in error(bad_kind, 400, "INVALID_PARAMETER_VALUE")
    changed = app_client.patch(
        f"/api/v1/roles/{rid}/permissions/{pid}", json={"permission": "MANAGE"}, headers=AS_ADMIN
    )
    assert changed.json()["permissions"][0]["permission"] == "MANAGE"
    error(
        app_client.patch(
            f"/api/v1/roles/{rid}/permissions/99999", json={"permission": "READ"}, headers=AS_ADMIN
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )

    member = app_client.put(f"/api/v1/roles/{rid}/members/alice", headers=AS_ADMIN)
    assert member.json()["members"] == ["alice"]
    error(
        app_client.put(f"/api/v1/roles/{rid}/members/ghost", headers=AS_ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    # the role's MANAGE on every experiment lets alice manage one she did not create
    eid = app_client.post(
        f"{MLFLOW}/experiments/create", json={"name": "by-root"}, headers=AS_ADMIN
    ).json()["experiment_id"]
    mine = app_client.get(f"/api/v1/experiments/{eid}/permissions", headers=basic("alice"))
    assert mine.status_code == 200
    assert mine.json()["caller_permission"] == "MANAGE"

    renamed = app_client.patch(f"/api/v1/roles/{rid}", json={"name": "crew"}, headers=AS_ADMIN)
    assert renamed.json()["name"] == "crew"
    assert renamed.json()["description"] == "the team"
    listed = app_client.get("/api/v1/roles", headers=AS_ADMIN).json()["roles"]
    assert [(r["name"], r["members"]) for r in listed] == [("crew", ["alice"])]
    assert (
        app_client.delete(f"/api/v1/roles/{rid}/members/alice", headers=AS_ADMIN).json()["members"]
        == []
    )
    error(
        app_client.delete(f"/api/v1/roles/{rid}/members/alice", headers=AS_ADMIN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert (
        app_client.delete(f"/api/v1/roles/{rid}/permissions/{pid}", headers=AS_ADMIN).json()[
            "permissions"
        ]
        == []
    )
    assert app_client.delete(f"/api/v1/roles/{rid}", headers=AS_ADMIN).status_code == 204
    error(
        app_client.delete(f"/api/v1/roles/{rid}", headers=AS_ADMIN), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(
        app_client.put(f"/api/v1/roles/{rid}/members/bob", headers=basic("alice")),
        403,
        "PERMISSION_DENIED",
    )


# ---- the permissions panel ----


def test_experiment_permissions(app_client: TestClient) -> None:
    eid = app_client.post(
        f"{MLFLOW}/experiments/create", json={"name": "shared"}, headers=AS_ADMIN
    ).json()["experiment_id"]
    base = f"/api/v1/experiments/{eid}/permissions"
    # bob reads it (the default READ) but does not manage it
    assert "MANAGE" in error(app_client.get(base, headers=basic("bob")), 403, "PERMISSION_DENIED")
    error(app_client.get(base), 401, "UNAUTHENTICATED")
    given = app_client.put(f"{base}/alice", json={"permission": "MANAGE"}, headers=AS_ADMIN)
    assert given.json() == {"username": "alice", "permission": "MANAGE"}
    # alice, a manager now, grants bob EDIT
    assert (
        app_client.put(
            f"{base}/bob", json={"permission": "EDIT"}, headers=basic("alice")
        ).status_code
        == 200
    )
    listed = app_client.get(base, headers=basic("alice")).json()
    assert listed == {
        "grants": [
            {"username": "alice", "permission": "MANAGE"},
            {"username": "bob", "permission": "EDIT"},
            {"username": ADMIN, "permission": "MANAGE"},  # the creator
        ],
        "default_permission": "READ",
        "caller_permission": "MANAGE",
    }
    error(
        app_client.put(f"{base}/bob", json={"permission": "MANAGE"}, headers=basic("bob")),
        403,
        "PERMISSION_DENIED",
    )
    error(
        app_client.put(f"{base}/ghost", json={"permission": "READ"}, headers=basic("alice")),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    bad = app_client.put(f"{base}/bob", json={"permission": "OWNER"}, headers=basic("alice"))
    assert "permission" in error(bad, 400, "INVALID_PARAMETER_VALUE")
    assert app_client.delete(f"{base}/bob", headers=basic("alice")).status_code == 204
    error(app_client.delete(f"{base}/bob", headers=basic("alice")), 404, "RESOURCE_DOES_NOT_EXIST")
    for missing in ("/api/v1/experiments/999999/permissions", "/api/v1/models/nope/permissions"):
        error(app_client.get(missing, headers=AS_ADMIN), 404, "RESOURCE_DOES_NOT_EXIST")
        put = app_client.put(f"{missing}/bob", json={"permission": "READ"}, headers=AS_ADMIN)
        error(put, 404, "RESOURCE_DOES_NOT_EXIST")


def test_model_permissions(app_client: TestClient) -> None:
    made = app_client.post(
        f"{MLFLOW}/registered-models/create", json={"name": "churn"}, headers=AS_ADMIN
    )
    assert made.status_code == 200, made.text
    base = "/api/v1/models/churn/permissions"
    error(app_client.get(base, headers=basic("alice")), 403, "PERMISSION_DENIED")
    assert (
        app_client.put(f"{base}/alice", json={"permission": "MANAGE"}, headers=AS_ADMIN).status_code
        == 200
    )
    assert (
        app_client.put(
            f"{base}/bob", json={"permission": "READ"}, headers=basic("alice")
        ).status_code
        == 200
    )
    listed = app_client.get(base, headers=basic("alice")).json()
    assert [(g["username"], g["permission"]) for g in listed["grants"]] == [
        ("alice", "MANAGE"),
        ("bob", "READ"),
        (ADMIN, "MANAGE"),  # the creator
    ]
    error(app_client.delete(f"{base}/alice", headers=basic("bob")), 403, "PERMISSION_DENIED")
    assert app_client.delete(f"{base}/bob", headers=basic("alice")).status_code == 204


def test_cookie_writes_need_the_csrf_token(app_client: TestClient) -> None:
    csrf = login(app_client, "alice")
    error(app_client.post("/api/v1/tokens", json={"name": "t"}), 403, "PERMISSION_DENIED")
    error(
        app_client.post("/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": "forged"}),
        403,
        "PERMISSION_DENIED",
    )
    ok = app_client.post("/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert root_app(app_client.app).state.settings.auth is True
