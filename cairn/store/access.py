"""Users, API tokens, sessions, grants, roles and login failures (SQL only; the rules live in
cairn.access).

Each function that changes who may do what records its change event here, in the same write
(:func:`cairn.store.events.record`), with the state before read in that transaction. No event
holds a secret: a password change says ``{"password": "changed"}``; tokens and sessions are
named by id and owner, never by their secret or its digest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from cairn.entities.access import (
    ApiToken,
    Grant,
    Permission,
    ResourceType,
    Role,
    RolePermission,
    User,
)
from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.numbers import decimal
from cairn.store import events
from cairn.store.schema import (
    api_tokens,
    experiment_permissions,
    experiments,
    logged_models,
    login_failures,
    registered_model_permissions,
    role_permissions,
    roles,
    runs,
    sessions,
    traces,
    user_roles,
    users,
)
from cairn.store.sql import AnyRow, now_ms, upsert_insert


def _upsert(
    conn: Connection,
    table: Table,
    values: dict[str, object],
    keys: list[str],
    changes: list[str],
) -> None:
    """Insert ``values``; where a row with the same ``keys`` exists, set its ``changes``."""
    stmt = upsert_insert(conn, table).values(**values)
    if changes:
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={name: values[name] for name in changes}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt)


MAX_ENTITY_ID = 512
"""The longest ``entity_id`` the log keeps (a user name tried at a login can be any length)."""


def _record(
    conn: Connection,
    action: str,
    kind: EntityType,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    experiment_id: str | None = None,
    model_name: str | None = None,
) -> None:
    change = Change(action, kind, str(entity_id), experiment_id, model_name, before, after)
    events.record(conn, change)


def _username(conn: Connection, user_id: int) -> str:
    found = conn.execute(select(users.c.username).where(users.c.id == user_id)).scalar()
    return str(found) if found is not None else f"#{user_id}"


def record_login_failure(conn: Connection, username: str, method: str, reason: str) -> None:
    """A failed sign-in as ``username`` (who may not exist), in the write that counts it."""
    after = {"method": method, "reason": reason}
    _record(conn, "login.failed", EntityType.USER, username[:MAX_ENTITY_ID], after=after)


# ---- users ----


def _user(row: AnyRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        is_admin=bool(row.is_admin),
        active=bool(row.active),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_user(conn: Connection, username: str, password_hash: str, is_admin: bool) -> User:
    now = now_ms()
    try:
        with conn.begin_nested():
            pk = conn.execute(
                users.insert().values(
                    username=username,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key
    except IntegrityError:
        raise CairnError.exists(f"User '{username}' already exists") from None
    assert pk is not None
    after = {"id": pk[0], "is_admin": is_admin, "active": True}
    _record(conn, "user.create", EntityType.USER, username, after=after)
    return User(pk[0], username, is_admin, True, now, now)


def user_row(conn: Connection, username: str) -> AnyRow | None:
    return conn.execute(select(users).where(users.c.username == username)).first()


def user_row_by_id(conn: Connection, user_id: int) -> AnyRow | None:
    return conn.execute(select(users).where(users.c.id == user_id)).first()


def get_user(conn: Connection, username: str) -> User:
    row = user_row(conn, username)
    if row is None:
        raise CairnError.not_found(f"User with username={username} not found")
    return _user(row)


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]


def count_admins(conn: Connection) -> int:
    found = conn.execute(
        select(func.count()).select_from(users).where(users.c.is_admin, users.c.active)
    ).scalar_one()
    return int(found)


def update_user(conn: Connection, user_id: int, **values: object) -> None:
    """Set a user's ``password_hash`` (event ``user.set_password``) or their ``is_admin`` and
    ``active`` flags (``user.update`` with the flags that changed)."""
    row = user_row_by_id(conn, user_id)
    if row is None:
        raise CairnError.not_found(f"User with id={user_id} not found")
    conn.execute(update(users).where(users.c.id == user_id).values(updated_at=now_ms(), **values))
    if "password_hash" in values:
        changed: dict[str, Any] = {"password": "changed"}
        _record(conn, "user.set_password", EntityType.USER, row.username, after=changed)
    flags = [k for k in ("is_admin", "active") if k in values]
    before: dict[str, Any] = {k: bool(getattr(row, k)) for k in flags}
    after: dict[str, Any] = {k: bool(values[k]) for k in flags}
    for key in flags:
        if before[key] == after[key]:
            del before[key], after[key]
    if after:
        _record(conn, "user.update", EntityType.USER, row.username, before, after)


def delete_user(conn: Connection, user_id: int) -> None:
    row = user_row_by_id(conn, user_id)
    if row is None:
        raise CairnError.not_found(f"User with id={user_id} not found")
    # children first: SQLite enforces ON DELETE CASCADE only with foreign keys switched on
    for table in (api_tokens, sessions, experiment_permissions, registered_model_permissions):
        conn.execute(delete(table).where(table.c.user_id == user_id))
    conn.execute(delete(user_roles).where(user_roles.c.user_id == user_id))
    conn.execute(delete(users).where(users.c.id == user_id))
    before = {"id": user_id, "is_admin": bool(row.is_admin), "active": bool(row.active)}
    _record(conn, "user.delete", EntityType.USER, row.username, before=before)


# ---- API tokens ----


def _token(row: AnyRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        read_only=bool(row.read_only),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def create_token(
    conn: Connection,
    user_id: int,
    name: str,
    secret_hash: str,
    prefix: str,
    read_only: bool,
    expires_at: int | None,
) -> ApiToken:
    now = now_ms()
    pk = conn.execute(
        api_tokens.insert().values(
            user_id=user_id,
            name=name,
            secret_hash=secret_hash,
            prefix=prefix,
            read_only=read_only,
            created_at=now,
            expires_at=expires_at,
        )
    ).inserted_primary_key
    assert pk is not None
    after = {
        "name": name,
        "user": _username(conn, user_id),
        "read_only": read_only,
        "expires_at": expires_at,
    }
    _record(conn, "token.create", EntityType.TOKEN, pk[0], after=after)
    return ApiToken(pk[0], user_id, name, prefix, read_only, now, expires_at, None, None)


def token_by_hash(conn: Connection, secret_hash: str) -> tuple[ApiToken, AnyRow] | None:
    """The token with this secret hash and its user's row, or None."""
    row = conn.execute(
        select(api_tokens, users.c.username)
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.secret_hash == secret_hash)
    ).first()
    if row is None:
        return None
    user = user_row_by_id(conn, row.user_id)
    assert user is not None
    return _token(row), user


def list_tokens(conn: Connection, user_id: int) -> list[ApiToken]:
    rows = conn.execute(
        select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
    )
    return [_token(r) for r in rows]


def get_token(conn: Connection, token_id: int) -> ApiToken | None:
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    return None if row is None else _token(row)


def revoke_token(conn: Connection, token_id: int) -> None:
    """Revoke a live token (event ``token.revoke``); a revoked one is left as it is."""
    now = now_ms()
    done = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if done.rowcount:
        before, after = {"revoked_at": None}, {"revoked_at": now}
        _record(conn, "token.revoke", EntityType.TOKEN, token_id, before, after)


def touch_token(conn: Connection, token_id: int, when: int) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=when))


# ---- sessions ----


def create_session(
    conn: Connection, user_id: int, secret_hash: str, csrf_token: str, expires_at: int
) -> None:
    """A new session of a user who signed in (event ``session.login`` on the user)."""
    after = {"expires_at": expires_at}
    _record(conn, "session.login", EntityType.USER, _username(conn, user_id), after=after)
    conn.execute(
        sessions.insert().values(
            user_id=user_id,
            secret_hash=secret_hash,
            csrf_token=csrf_token,
            created_at=now_ms(),
            expires_at=expires_at,
        )
    )


def session_by_hash(conn: Connection, secret_hash: str) -> tuple[AnyRow, AnyRow] | None:
    """(session row, user row) for a live session, or None."""
    row = conn.execute(select(sessions).where(sessions.c.secret_hash == secret_hash)).first()
    if row is None:
        return None
    user = user_row_by_id(conn, row.user_id)
    return None if user is None else (row, user)


def delete_session(conn: Connection, secret_hash: str) -> None:
    """End one session (event ``session.logout`` on its user, when it was there)."""
    user_id = conn.execute(
        select(sessions.c.user_id).where(sessions.c.secret_hash == secret_hash)
    ).scalar()
    if user_id is None:
        return
    conn.execute(delete(sessions).where(sessions.c.secret_hash == secret_hash))
    _record(conn, "session.logout", EntityType.USER, _username(conn, user_id))


def delete_sessions_of(conn: Connection, user_id: int) -> None:
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def delete_expired_sessions(conn: Connection, now: int) -> None:
    conn.execute(delete(sessions).where(sessions.c.expires_at < now))


# ---- grants ----

_GRANT_TABLES = {
    ResourceType.EXPERIMENT: (experiment_permissions, experiment_permissions.c.experiment_id),
    ResourceType.REGISTERED_MODEL: (
        registered_model_permissions,
        registered_model_permissions.c.name,
    ),
}


def _key(kind: ResourceType, resource_id: str) -> object:
    return int(resource_id) if kind is ResourceType.EXPERIMENT else resource_id


def _record_grant(
    conn: Connection,
    action: str,
    kind: ResourceType,
    resource_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """A change to a user's grant on one experiment or registered model, which the holders of
    MANAGE on that resource may read: named by the resource (``experiment:<id>``,
    ``registered_model:<name>``), the user in ``before``/``after``."""
    resource = str(_key(kind, resource_id))
    owner = (resource, None) if kind is ResourceType.EXPERIMENT else (None, resource)
    entity_id = f"{kind.value}:{resource}"
    _record(conn, action, EntityType.PERMISSION, entity_id, before, after, *owner)


def set_grant(
    conn: Connection, kind: ResourceType, resource_id: str, user_id: int, permission: Permission
) -> None:
    """Create or change a grant (event ``permission.create`` or ``permission.update``; none
    when it already said ``permission``)."""
    old = get_grant(conn, kind, resource_id, user_id)
    if old == permission:
        return
    table, column = _GRANT_TABLES[kind]
    _upsert(
        conn,
        table,
        {column.name: _key(kind, resource_id), "user_id": user_id, "permission": permission.name},
        [column.name, "user_id"],
        ["permission"],
    )
    username = _username(conn, user_id)
    after = {"user": username, "permission": permission.name}
    if old is None:
        _record_grant(conn, "permission.create", kind, resource_id, after=after)
    else:
        before = {"user": username, "permission": old.name}
        _record_grant(conn, "permission.update", kind, resource_id, before, after)


def get_grant(
    conn: Connection, kind: ResourceType, resource_id: str, user_id: int
) -> Permission | None:
    table, column = _GRANT_TABLES[kind]
    found = conn.execute(
        select(table.c.permission).where(
            column == _key(kind, resource_id), table.c.user_id == user_id
        )
    ).scalar()
    return None if found is None else Permission[found]


def delete_grant(conn: Connection, kind: ResourceType, resource_id: str, user_id: int) -> bool:
    old = get_grant(conn, kind, resource_id, user_id)
    if old is None:
        return False
    table, column = _GRANT_TABLES[kind]
    conn.execute(delete(table).where(column == _key(kind, resource_id), table.c.user_id == user_id))
    before = {"user": _username(conn, user_id), "permission": old.name}
    _record_grant(conn, "permission.delete", kind, resource_id, before=before)
    return True


def grants_of_user(conn: Connection, kind: ResourceType, user_id: int) -> dict[str, Permission]:
    table, column = _GRANT_TABLES[kind]
    rows = conn.execute(select(column, table.c.permission).where(table.c.user_id == user_id))
    return {str(resource): Permission[perm] for resource, perm in rows}


def grants_on(conn: Connection, kind: ResourceType, resource_id: str) -> list[Grant]:
    table, column = _GRANT_TABLES[kind]
    rows = conn.execute(
        select(users.c.id, users.c.username, table.c.permission)
        .join(users, users.c.id == table.c.user_id)
        .where(column == _key(kind, resource_id))
        .order_by(users.c.username)
    )
    return [Grant(kind, resource_id, uid, name, Permission[perm]) for uid, name, perm in rows]


def rename_model_grants(conn: Connection, old: str, new: str) -> None:
    conn.execute(
        update(registered_model_permissions)
        .where(registered_model_permissions.c.name == old)
        .values(name=new)
    )


def delete_model_grants(conn: Connection, name: str) -> None:
    conn.execute(
        delete(registered_model_permissions).where(registered_model_permissions.c.name == name)
    )


def experiment_names(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    rows = conn.execute(
        select(experiments.c.experiment_id, experiments.c.name).where(
            experiments.c.experiment_id.in_(ids)
        )
    )
    return {eid: name for eid, name in rows}


# ---- roles ----


def _role_permission(row: AnyRow) -> RolePermission:
    return RolePermission(
        id=row.id,
        role_id=row.role_id,
        resource_type=ResourceType(row.resource_type),
        pattern=row.pattern,
        permission=Permission[row.permission],
    )


def _roles(conn: Connection, rows: Sequence[AnyRow]) -> list[Role]:
    ids = [r.id for r in rows]
    perms: dict[int, list[RolePermission]] = {i: [] for i in ids}
    if ids:
        for row in conn.execute(
            select(role_permissions)
            .where(role_permissions.c.role_id.in_(ids))
            .order_by(role_permissions.c.id)
        ):
            perms[row.role_id].append(_role_permission(row))
    return [Role(r.id, r.name, r.description, r.created_at, tuple(perms[r.id])) for r in rows]


def create_role(conn: Connection, name: str, description: str) -> Role:
    now = now_ms()
    try:
        with conn.begin_nested():
            pk = conn.execute(
                roles.insert().values(name=name, description=description, created_at=now)
            ).inserted_primary_key
    except IntegrityError:
        raise CairnError.exists(f"Role '{name}' already exists") from None
    assert pk is not None
    after = {"name": name, "description": description}
    _record(conn, "role.create", EntityType.ROLE, pk[0], after=after)
    return Role(pk[0], name, description, now)


def get_role(conn: Connection, role_id: int) -> Role:
    row = conn.execute(select(roles).where(roles.c.id == role_id)).first()
    if row is None:
        raise CairnError.not_found(f"Role with id={role_id} not found")
    return _roles(conn, [row])[0]


def role_by_name(conn: Connection, name: str) -> Role:
    row = conn.execute(select(roles).where(roles.c.name == name)).first()
    if row is None:
        raise CairnError.not_found(f"Role '{name}' not found")
    return _roles(conn, [row])[0]


def list_roles(conn: Connection) -> list[Role]:
    return _roles(conn, list(conn.execute(select(roles).order_by(roles.c.name))))


def update_role(conn: Connection, role_id: int, **values: object) -> None:
    """Rename or describe a role (event ``role.update`` with what changed)."""
    role = get_role(conn, role_id)
    try:
        with conn.begin_nested():
            conn.execute(update(roles).where(roles.c.id == role_id).values(**values))
    except IntegrityError:
        raise CairnError.exists(f"Role '{values.get('name')}' already exists") from None
    old: dict[str, Any] = {"name": role.name, "description": role.description}
    changed = [key for key in old if key in values and values[key] != old[key]]
    if changed:
        before = {k: old[k] for k in changed}
        after: dict[str, Any] = {k: values[k] for k in changed}
        _record(conn, "role.update", EntityType.ROLE, role_id, before, after)


def _role_permission_json(rp: RolePermission) -> dict[str, Any]:
    return {
        "permission_id": rp.id,
        "resource_type": rp.resource_type.value,
        "pattern": rp.pattern,
        "permission": rp.permission.name,
    }


def _pattern_owner(kind: ResourceType, pattern: str) -> tuple[str | None, str | None]:
    """The experiment id or model name a role's pattern names literally (so that its MANAGE
    holders see the role's grant on it); none for ``*`` or an experiment's name."""
    if kind is ResourceType.EXPERIMENT:
        number = decimal(pattern)
        return (None if number is None else str(number)), None
    return None, (pattern if pattern != "*" else None)


def delete_role(conn: Connection, role_id: int) -> None:
    """Delete a role, its grants and memberships (event ``role.delete`` saying all three)."""
    role = get_role(conn, role_id)
    members = [u.username for u in users_of_role(conn, role_id)]
    conn.execute(delete(role_permissions).where(role_permissions.c.role_id == role_id))
    conn.execute(delete(user_roles).where(user_roles.c.role_id == role_id))
    conn.execute(delete(roles).where(roles.c.id == role_id))
    before = {
        "name": role.name,
        "description": role.description,
        "permissions": [_role_permission_json(rp) for rp in role.permissions],
        "members": members,
    }
    _record(conn, "role.delete", EntityType.ROLE, role_id, before=before)


def add_role_permission(
    conn: Connection, role_id: int, kind: ResourceType, pattern: str, permission: Permission
) -> RolePermission:
    try:
        with conn.begin_nested():
            pk = conn.execute(
                role_permissions.insert().values(
                    role_id=role_id,
                    resource_type=kind.value,
                    pattern=pattern,
                    permission=permission.name,
                )
            ).inserted_primary_key
    except IntegrityError:
        raise CairnError.exists(
            f"Role {role_id} already has a permission on {kind.value} '{pattern}'"
        ) from None
    assert pk is not None
    found = RolePermission(pk[0], role_id, kind, pattern, permission)
    after = _role_permission_json(found)
    owner = _pattern_owner(kind, pattern)
    _record(conn, "role.add_permission", EntityType.ROLE, role_id, None, after, *owner)
    return found


def get_role_permission(conn: Connection, permission_id: int) -> RolePermission:
    row = conn.execute(
        select(role_permissions).where(role_permissions.c.id == permission_id)
    ).first()
    if row is None:
        raise CairnError.not_found(f"Role permission with id={permission_id} not found")
    return _role_permission(row)


def update_role_permission(conn: Connection, permission_id: int, permission: Permission) -> None:
    """Change one of a role's grants (event ``role.update_permission`` on the role)."""
    old = get_role_permission(conn, permission_id)
    if old.permission == permission:
        return
    conn.execute(
        update(role_permissions)
        .where(role_permissions.c.id == permission_id)
        .values(permission=permission.name)
    )
    before = {"permission_id": permission_id, "permission": old.permission.name}
    after = {"permission_id": permission_id, "permission": permission.name}
    owner = _pattern_owner(old.resource_type, old.pattern)
    _record(conn, "role.update_permission", EntityType.ROLE, old.role_id, before, after, *owner)


def remove_role_permission(conn: Connection, permission_id: int) -> None:
    """Remove one of a role's grants (event ``role.remove_permission`` on the role)."""
    old = get_role_permission(conn, permission_id)
    conn.execute(delete(role_permissions).where(role_permissions.c.id == permission_id))
    before = _role_permission_json(old)
    owner = _pattern_owner(old.resource_type, old.pattern)
    _record(conn, "role.remove_permission", EntityType.ROLE, old.role_id, before, None, *owner)


def _member(conn: Connection, user_id: int, role_id: int) -> bool:
    found = conn.execute(
        select(user_roles.c.user_id).where(
            user_roles.c.user_id == user_id, user_roles.c.role_id == role_id
        )
    ).first()
    return found is not None


def assign_role(conn: Connection, user_id: int, role_id: int) -> None:
    """Give a user a role (event ``role.assign``; none if they had it)."""
    if _member(conn, user_id, role_id):
        return
    _upsert(conn, user_roles, {"user_id": user_id, "role_id": role_id}, ["user_id", "role_id"], [])
    after = {"user": _username(conn, user_id)}
    _record(conn, "role.assign", EntityType.ROLE, role_id, after=after)


def unassign_role(conn: Connection, user_id: int, role_id: int) -> bool:
    """Take a role from a user (event ``role.unassign``); False if they did not have it."""
    done = conn.execute(
        delete(user_roles).where(user_roles.c.user_id == user_id, user_roles.c.role_id == role_id)
    )
    if not done.rowcount:
        return False
    before = {"user": _username(conn, user_id)}
    _record(conn, "role.unassign", EntityType.ROLE, role_id, before=before)
    return True


def roles_of_user(conn: Connection, user_id: int) -> list[Role]:
    rows = conn.execute(
        select(roles)
        .join(user_roles, user_roles.c.role_id == roles.c.id)
        .where(user_roles.c.user_id == user_id)
        .order_by(roles.c.name)
    )
    return _roles(conn, list(rows))


def users_of_role(conn: Connection, role_id: int) -> list[User]:
    rows = conn.execute(
        select(users)
        .join(user_roles, user_roles.c.user_id == users.c.id)
        .where(user_roles.c.role_id == role_id)
        .order_by(users.c.username)
    )
    return [_user(r) for r in rows]


# ---- login failures (rate limiting) ----


def failures(conn: Connection, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
    rows = conn.execute(select(login_failures).where(login_failures.c.key.in_(keys)))
    return {key: (int(start), int(count)) for key, start, count in rows}


def record_failure(conn: Connection, key: str, now: int, window_ms: int) -> None:
    row = conn.execute(select(login_failures).where(login_failures.c.key == key)).first()
    if row is None or now - row.window_start >= window_ms:
        _upsert(
            conn,
            login_failures,
            {"key": key, "window_start": now, "count": 1},
            ["key"],
            ["window_start", "count"],
        )
    else:
        conn.execute(
            update(login_failures)
            .where(login_failures.c.key == key)
            .values(count=login_failures.c.count + 1)
        )


def mark_refused(conn: Connection, key: str, limit: int) -> bool:
    """Note that ``key`` (at ``limit`` failures) was refused: True the first time in its
    window only (the count goes one past the limit), so that a caller locked out is recorded
    once per window, not once per attempt."""
    done = conn.execute(
        update(login_failures)
        .where(login_failures.c.key == key, login_failures.c.count == limit)
        .values(count=limit + 1)
    )
    return bool(done.rowcount)


def clear_failures(conn: Connection, key: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.key == key))


# ---- what a request names, resolved to the experiment it belongs to ----


def experiment_of_run(conn: Connection, run_uuid: str) -> int | None:
    found = conn.execute(select(runs.c.experiment_id).where(runs.c.run_uuid == run_uuid)).scalar()
    return None if found is None else int(found)


def experiment_of_logged_model(conn: Connection, model_id: str) -> int | None:
    found = conn.execute(
        select(logged_models.c.experiment_id).where(logged_models.c.model_id == model_id)
    ).scalar()
    return None if found is None else int(found)


def experiment_of_trace(conn: Connection, trace_id: str) -> int | None:
    found = conn.execute(
        select(traces.c.experiment_id).where(traces.c.trace_id == trace_id)
    ).scalar()
    return None if found is None else int(found)


def experiment_by_name(conn: Connection, name: str) -> int | None:
    found = conn.execute(
        select(experiments.c.experiment_id).where(experiments.c.name == name)
    ).scalar()
    return None if found is None else int(found)
