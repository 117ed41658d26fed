"""The access service on SQLite and PostgreSQL: users, passwords, API tokens, grants, roles,
how a permission is resolved and what a caller may see in a search, with the refusals a
caller can cause (each a CairnError with MLflow's code)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import update

from cairn.access.service import MAX_FAILURES_PER_USER, AccessService
from cairn.entities.access import AuthMethod, Identity, Permission, ResourceType, Visibility
from cairn.entities.errors import CairnError, ErrorCode
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.schema import api_tokens
from cairn.store.sql import now_ms

EXP = ResourceType.EXPERIMENT
MODEL = ResourceType.REGISTERED_MODEL
PASSWORD = "a long enough password"


def refused(code: ErrorCode, call: Callable[[], object]) -> CairnError:
    with pytest.raises(CairnError) as caught:
        call()
    assert caught.value.error_code is code, caught.value.message
    return caught.value


@pytest.fixture
def access(database: Database) -> AccessService:
    return AccessService(database, Permission.READ)


def sign_in(access: AccessService, name: str) -> Identity:
    return access.authenticate_password(name, PASSWORD, "127.0.0.1")


def test_users_are_created_listed_changed_and_deleted(access: AccessService) -> None:
    root = access.create_user("root", PASSWORD, is_admin=True)
    alice = access.create_user("alice", PASSWORD)
    assert root.is_admin
    assert not alice.is_admin
    assert alice.active
    assert [u.username for u in access.list_users()] == ["alice", "root"]
    refused(ErrorCode.RESOURCE_ALREADY_EXISTS, lambda: access.create_user("alice", PASSWORD))
    short = refused(ErrorCode.INVALID_PARAMETER_VALUE, lambda: access.create_user("bob", "short"))
    assert "password" in short.message
    bad = refused(ErrorCode.INVALID_PARAMETER_VALUE, lambda: access.create_user("a b", PASSWORD))
    assert "username" in bad.message
    refused(ErrorCode.RESOURCE_DOES_NOT_EXIST, lambda: access.get_user("nobody"))

    assert access.set_admin("alice", True).is_admin
    assert not access.set_admin("alice", False).is_admin
    last = refused(ErrorCode.INVALID_STATE, lambda: access.set_admin("root", False))
    assert "last active admin" in last.message
    refused(ErrorCode.INVALID_STATE, lambda: access.delete_user("root"))
    access.delete_user("alice")
    assert [u.username for u in access.list_users()] == ["root"]


def test_passwords_verify_change_and_deactivation_locks_out(access: AccessService) -> None:
    access.create_user("alice", PASSWORD)
    who = sign_in(access, "alice")
    assert who.username == "alice"
    assert who.method is AuthMethod.PASSWORD
    refused(
        ErrorCode.UNAUTHENTICATED,
        lambda: access.authenticate_password("alice", "not the password!", None),
    )
    refused(
        ErrorCode.UNAUTHENTICATED,
        lambda: access.authenticate_password("ghost", PASSWORD, None),
    )
    access.update_password("alice", "the brand new password")
    refused(ErrorCode.UNAUTHENTICATED, lambda: sign_in(access, "alice"))
    assert access.authenticate_password("alice", "the brand new password").username == "alice"
    access.set_active("alice", False)
    refused(
        ErrorCode.UNAUTHENTICATED,
        lambda: access.authenticate_password("alice", "the brand new password"),
    )


def test_too_many_wrong_passwords_lock_the_user_even_with_the_right_one(
    access: AccessService,
) -> None:
    access.create_user("alice", PASSWORD)
    for attempt in range(MAX_FAILURES_PER_USER):
        with pytest.raises(CairnError) as wrong:
            access.authenticate_password("alice", f"wrong password {attempt}", "10.0.0.1")
        assert wrong.value.error_code is ErrorCode.UNAUTHENTICATED
    limited = refused(ErrorCode.TOO_MANY_REQUESTS, lambda: sign_in(access, "alice"))
    assert "Too many failed logins" in limited.message
    access.create_user("bob", PASSWORD)
    assert sign_in(access, "bob").username == "bob"  # per user: bob is not locked out


def test_tokens_authenticate_until_revoked_or_expired(access: AccessService) -> None:
    alice = access.create_user("alice", PASSWORD)
    token, secret = access.create_token(alice.id, "ci")
    assert secret.startswith(token.prefix)
    who = access.authenticate_token(secret)
    assert (who.username, who.method, who.token_id) == ("alice", AuthMethod.TOKEN, token.id)
    assert not who.read_only
    # as a basic-auth password, for its own user only
    assert access.authenticate_password("alice", secret).token_id == token.id
    access.create_user("bob", PASSWORD)
    refused(ErrorCode.UNAUTHENTICATED, lambda: access.authenticate_password("bob", secret))
    refused(ErrorCode.RESOURCE_ALREADY_EXISTS, lambda: access.create_token(alice.id, "ci"))
    past = refused(
        ErrorCode.INVALID_PARAMETER_VALUE,
        lambda: access.create_token(alice.id, "old", expires_at=now_ms() - 1),
    )
    assert "expires_at" in past.message

    listed = access.list_tokens(alice.id)
    assert [t.name for t in listed] == ["ci"]
    assert all(secret not in repr(t) for t in listed)

    revoked = access.revoke_token(who, token.id)
    assert revoked.revoked_at is not None
    message = refused(ErrorCode.UNAUTHENTICATED, lambda: access.authenticate_token(secret))
    assert "revoked" in message.message

    later, later_secret = access.create_token(alice.id, "soon", expires_at=now_ms() + 3_600_000)
    assert access.authenticate_token(later_secret).token_id == later.id
    access.db.write(
        lambda c: c.execute(
            update(api_tokens).where(api_tokens.c.id == later.id).values(expires_at=now_ms() - 1)
        )
    )
    access._changed()  # the service drops its caches when it changes a token itself
    message = refused(ErrorCode.UNAUTHENTICATED, lambda: access.authenticate_token(later_secret))
    assert "expired" in message.message
    refused(ErrorCode.UNAUTHENTICATED, lambda: access.authenticate_token("cairn_not-a-token"))


def test_a_user_cannot_revoke_another_users_token(access: AccessService) -> None:
    alice = access.create_user("alice", PASSWORD)
    access.create_user("bob", PASSWORD)
    token, secret = access.create_token(alice.id, "mine")
    bob = sign_in(access, "bob")
    refused(ErrorCode.RESOURCE_DOES_NOT_EXIST, lambda: access.revoke_token(bob, token.id))
    assert access.authenticate_token(secret).username == "alice"


def test_grants_are_created_read_updated_and_deleted(
    access: AccessService, database: Database
) -> None:
    eid = TrackingService(database).create_experiment("granted")
    access.create_user("alice", PASSWORD)
    grant = access.create_grant(EXP, eid, "alice", Permission.EDIT)
    assert grant.permission is Permission.EDIT
    refused(
        ErrorCode.RESOURCE_ALREADY_EXISTS,
        lambda: access.create_grant(EXP, eid, "alice", Permission.READ),
    )
    assert access.get_grant(EXP, eid, "alice").permission is Permission.EDIT
    access.update_grant(EXP, eid, "alice", Permission.MANAGE)
    access.create_grant(MODEL, "churn", "alice", Permission.READ)
    assert access.grants_of("alice") == {
        EXP: {eid: Permission.MANAGE},
        MODEL: {"churn": Permission.READ},
    }
    assert [(g.username, g.permission) for g in access.grants_on(EXP, eid)] == [
        ("alice", Permission.MANAGE)
    ]
    access.delete_grant(EXP, eid, "alice")
    refused(ErrorCode.RESOURCE_DOES_NOT_EXIST, lambda: access.get_grant(EXP, eid, "alice"))
    refused(ErrorCode.RESOURCE_DOES_NOT_EXIST, lambda: access.delete_grant(EXP, eid, "alice"))
    refused(
        ErrorCode.RESOURCE_DOES_NOT_EXIST,
        lambda: access.create_grant(EXP, eid, "ghost", Permission.READ),
    )


def test_a_grant_names_an_experiment_that_exists(access: AccessService) -> None:
    """Not a database error (a 500 behind the auth API) but MLflow's codes."""
    access.create_user("alice", PASSWORD)
    missing = refused(
        ErrorCode.RESOURCE_DOES_NOT_EXIST,
        lambda: access.create_grant(EXP, "424242", "alice", Permission.READ),
    )
    assert "424242" in missing.message
    refused(
        ErrorCode.RESOURCE_DOES_NOT_EXIST,
        lambda: access.set_grant(EXP, "424242", "alice", Permission.READ),
    )
    for garbage in ("abc", "1; drop", "", "٣"):
        calls: list[Callable[[], object]] = [
            lambda g=garbage: access.create_grant(EXP, g, "alice", Permission.READ),
            lambda g=garbage: access.get_grant(EXP, g, "alice"),
            lambda g=garbage: access.grants_on(EXP, g),
        ]
        for call in calls:
            bad = refused(ErrorCode.INVALID_PARAMETER_VALUE, call)
            assert "experiment_id" in bad.message
    assert access.grants_of("alice") == {EXP: {}, MODEL: {}}
    # registered models are granted by name, before or after the model exists (as MLflow)
    assert access.create_grant(MODEL, "not-yet", "alice", Permission.READ).resource_id == "not-yet"


def test_permission_resolution(access: AccessService, database: Database) -> None:
    tracking = TrackingService(database)
    eid = tracking.create_experiment("team-exp")
    other = tracking.create_experiment("other-exp")
    access.create_user("root", PASSWORD, is_admin=True)
    alice_user = access.create_user("alice", PASSWORD)
    alice = sign_in(access, "alice")
    root = sign_in(access, "root")

    # the server's default, then a grant that raises or lowers it
    assert access.permission(alice, EXP, eid) is Permission.READ
    access.create_grant(EXP, eid, "alice", Permission.EDIT)
    assert access.permission(alice, EXP, eid) is Permission.EDIT
    access.update_grant(EXP, eid, "alice", Permission.NO_PERMISSIONS)
    assert access.permission(alice, EXP, eid) is Permission.NO_PERMISSIONS
    # admins may do everything
    assert access.permission(root, EXP, eid) is Permission.MANAGE

    # roles: a pattern by name, by id and "*"; an explicit grant still decides
    team = access.create_role("team", "the team")
    access.add_role_permission(team.id, EXP, "other-exp", Permission.EDIT)
    access.assign_role("alice", team.id)
    assert access.permission(alice, EXP, other) is Permission.EDIT
    access.add_role_permission(team.id, MODEL, "*", Permission.MANAGE)
    assert access.permission(alice, MODEL, "any-model") is Permission.MANAGE
    assert access.permission(alice, EXP, eid) is Permission.NO_PERMISSIONS
    access.unassign_role("alice", team.id)
    assert access.permission(alice, EXP, other) is Permission.READ

    # a read-only token caps at READ
    _, secret = access.create_token(alice_user.id, "ro", read_only=True)
    capped = access.authenticate_token(secret)
    assert capped.read_only
    access.assign_role("alice", team.id)
    assert access.permission(capped, EXP, other) is Permission.READ
    assert access.permission(capped, MODEL, "any-model") is Permission.READ

    # a deactivated user may do nothing, whatever they were given
    access.create_user("root2", PASSWORD, is_admin=True)
    access.set_active("alice", False)
    assert access.permission(alice, EXP, other) is Permission.NO_PERMISSIONS


def test_the_default_permission_of_a_closed_server(database: Database) -> None:
    access = AccessService(database, Permission.NO_PERMISSIONS)
    tracking = TrackingService(database)
    eid = tracking.create_experiment("private")
    access.create_user("alice", PASSWORD)
    alice = sign_in(access, "alice")
    assert access.permission(alice, EXP, eid) is Permission.NO_PERMISSIONS
    access.grant_creator(alice, EXP, eid)
    assert access.permission(alice, EXP, eid) is Permission.MANAGE
    assert access.readable_ids(alice, EXP, [eid, "0", "999"]) == [eid]


def _visible_names(tracking: TrackingService, visibility: Visibility) -> set[str]:
    page = tracking.search_experiments(max_results=1000, visibility=visibility)
    return {e.name for e in page.items}


def test_visibility_filters_experiment_search(database: Database) -> None:
    tracking = TrackingService(database)
    ids = {name: tracking.create_experiment(name) for name in ("a", "b", "c", "d")}

    # default READ: everything but what a grant hides
    open_server = AccessService(database, Permission.READ)
    open_server.create_user("alice", PASSWORD)
    open_server.create_grant(EXP, ids["b"], "alice", Permission.NO_PERMISSIONS)
    alice = sign_in(open_server, "alice")
    seen = open_server.visibility(alice, EXP)
    assert seen == Visibility(everything=True, deny_ids=frozenset({ids["b"]}))
    assert _visible_names(tracking, seen) == {"Default", "a", "c", "d"}

    # default NO_PERMISSIONS: only grants and role patterns that read
    closed = AccessService(database, Permission.NO_PERMISSIONS)
    closed.create_user("bob", PASSWORD)
    closed.create_grant(EXP, ids["a"], "bob", Permission.READ)
    closed.create_grant(EXP, ids["c"], "bob", Permission.NO_PERMISSIONS)
    role = closed.create_role("readers")
    closed.add_role_permission(role.id, EXP, "d", Permission.READ)
    closed.add_role_permission(role.id, EXP, "c", Permission.READ)  # the grant still hides c
    closed.assign_role("bob", role.id)
    bob = sign_in(closed, "bob")
    assert _visible_names(tracking, closed.visibility(bob, EXP)) == {"a", "d"}

    # admins see everything; a user unknown to the service nothing
    closed.create_user("root", PASSWORD, is_admin=True)
    root = sign_in(closed, "root")
    assert closed.visibility(root, EXP) == Visibility()
    ghost = Identity("ghost", AuthMethod.PASSWORD, user_id=10_000)
    assert _visible_names(tracking, closed.visibility(ghost, EXP)) == set()
