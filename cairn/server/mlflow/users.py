"""MLflow's user API (``/mlflow/users/*``) over the access service, and the user as MLflow's
auth entities write it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import AuthMethod, Permission, ResourceType, Role, User
from cairn.entities.errors import CairnError, ErrorCode
from cairn.server import wire
from cairn.server.mlflow import auth_messages as m
from cairn.server.mlflow.callers import (
    DEFAULT_WORKSPACE,
    denied,
    is_admin,
    require_admin_or_self,
    service,
)
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.state import identity


def experiment_permission(experiment_id: str, user_id: int, permission: Permission) -> wire.Json:
    return {"experiment_id": experiment_id, "user_id": user_id, "permission": permission.name}


def model_permission(name: str, user_id: int, permission: Permission) -> wire.Json:
    return {
        "workspace": DEFAULT_WORKSPACE,
        "name": name,
        "user_id": user_id,
        "permission": permission.name,
    }


def user_json(
    user: User, grants: dict[ResourceType, dict[str, Permission]] | None = None
) -> wire.Json:
    """MLflow 3's ``{id, username, is_admin}`` with MLflow 2's grant lists, which its client
    requires (and MLflow 3's ignores)."""
    found = grants or {}
    return {
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": [
            experiment_permission(eid, user.id, perm)
            for eid, perm in sorted(found.get(ResourceType.EXPERIMENT, {}).items())
        ],
        "registered_model_permissions": [
            model_permission(name, user.id, perm)
            for name, perm in sorted(found.get(ResourceType.REGISTERED_MODEL, {}).items())
        ],
    }


def role_json(role: Role) -> wire.Json:
    return {
        "id": role.id,
        "name": role.name,
        "workspace": DEFAULT_WORKSPACE,
        "description": role.description or None,
        "permissions": [
            {
                "id": rp.id,
                "role_id": rp.role_id,
                "resource_type": rp.resource_type.value,
                "resource_pattern": rp.pattern,
                "permission": rp.permission.name,
            }
            for rp in role.permissions
        ],
    }


async def create(request: Request, msg: m.CreateUser) -> wire.Json:
    user = await run_in_threadpool(service(request).create_user, msg.username, msg.password)
    return {"user": user_json(user)}


async def get(request: Request, msg: m.UserRef) -> wire.Json:
    require_admin_or_self(request, msg.username, "read the details")
    access = service(request)

    def read() -> wire.Json:
        return user_json(access.get_user(msg.username), access.grants_of(msg.username))

    return {"user": await run_in_threadpool(read)}


async def list_users(request: Request, _msg: m.Nothing) -> wire.Json:
    access = service(request)

    def read() -> list[wire.Json]:
        out = []
        for user in access.list_users():
            roles = access.roles_of(user.username)
            out.append(
                {
                    "id": user.id,
                    "username": user.username,
                    "is_admin": user.is_admin,
                    "roles": [role_json(r) for r in roles],
                }
            )
        return out

    return {"users": await run_in_threadpool(read)}


async def current(request: Request, _msg: m.Nothing) -> wire.Json:
    who = identity(request)
    if who.user_id is None:  # the local user of a server without access control
        user: wire.Json = {"id": None, "username": who.username, "is_admin": is_admin(who)}
    else:
        found = await run_in_threadpool(service(request).get_user, who.username)
        user = {"id": found.id, "username": found.username, "is_admin": found.is_admin}
    return {"user": user, "is_basic_auth": who.method is AuthMethod.PASSWORD}


async def update_password(request: Request, msg: m.UpdateUserPassword) -> wire.Json:
    who = require_admin_or_self(request, msg.username, "change the password")
    access = service(request)
    if who.username == msg.username:
        address = request.client.host if request.client else None
        await run_in_threadpool(
            access.change_own_password, msg.username, msg.current_password, msg.password, address
        )
    else:
        await run_in_threadpool(access.update_password, msg.username, msg.password)
    return {}


async def update_admin(request: Request, msg: m.UpdateUserAdmin) -> wire.Json:
    await run_in_threadpool(service(request).set_admin, msg.username, msg.is_admin)
    return {}


async def delete(request: Request, msg: m.UserRef) -> wire.Json:
    who = identity(request)
    if who.username == msg.username:
        raise CairnError(
            "Users cannot delete their own account: ask another admin to delete it",
            ErrorCode.BAD_REQUEST,
        )
    await run_in_threadpool(service(request).delete_user, msg.username)
    return {}


async def roles_of(request: Request, msg: m.UserRef) -> wire.Json:
    require_admin_or_self(request, msg.username, "list the roles")
    roles = await run_in_threadpool(service(request).roles_of, msg.username)
    return {"roles": [role_json(r) for r in roles]}


def _permission_rows(request: Request, username: str) -> tuple[bool, list[wire.Json]]:
    """Every permission a user holds: their direct grants (as MLflow lists them, on the
    user's own ``__user_<id>__`` role, with no role id in Cairn), then their roles' rows."""
    access = service(request)
    user = access.get_user(username)
    direct = f"__user_{user.id}__"
    rows: list[wire.Json] = [
        {
            "role_id": None,
            "role_name": direct,
            "workspace": DEFAULT_WORKSPACE,
            "resource_type": kind.value,
            "resource_pattern": resource_id,
            "permission": permission.name,
        }
        for kind, grants in access.grants_of(username).items()
        for resource_id, permission in sorted(grants.items())
    ]
    for role in access.roles_of(username):
        rows.extend(
            {
                "role_id": role.id,
                "role_name": role.name,
                "workspace": DEFAULT_WORKSPACE,
                "resource_type": rp.resource_type.value,
                "resource_pattern": rp.pattern,
                "permission": rp.permission.name,
            }
            for rp in role.permissions
        )
    return user.is_admin, rows


async def permissions_of(request: Request, msg: m.UserRef) -> wire.Json:
    require_admin_or_self(request, msg.username, "list the permissions")
    admin, rows = await run_in_threadpool(_permission_rows, request, msg.username)
    return {"is_admin": admin, "permissions": rows}


async def current_permissions(request: Request, _msg: m.Nothing) -> wire.Json:
    who = identity(request)
    if who.user_id is None:
        raise denied(who, "list permissions (sign in as a user)")
    admin, rows = await run_in_threadpool(_permission_rows, request, who.username)
    return {"is_admin": admin, "permissions": rows}


ENDPOINTS = [
    Endpoint(("POST",), "/users/create", m.CreateUser, create, "Create a user", p.ADMIN_WRITE),
    Endpoint(("GET",), "/users/get", m.UserRef, get, "Get a user (admin or self)", p.USER_READ),
    Endpoint(("GET",), "/users/list", m.Nothing, list_users, "List users", p.ADMIN_READ),
    Endpoint(("GET",), "/users/current", m.Nothing, current, "The caller", p.USER_READ),
    Endpoint(
        ("PATCH",),
        "/users/update-password",
        m.UpdateUserPassword,
        update_password,
        "Change a password (admin, or the user with their current password)",
        p.USER_WRITE,
    ),
    Endpoint(
        ("PATCH",),
        "/users/update-admin",
        m.UpdateUserAdmin,
        update_admin,
        "Make a user admin or not",
        p.ADMIN_WRITE,
    ),
    Endpoint(("DELETE",), "/users/delete", m.UserRef, delete, "Delete a user", p.ADMIN_WRITE),
    Endpoint(
        ("GET",),
        "/users/roles/list",
        m.UserRef,
        roles_of,
        "A user's roles (admin or self)",
        p.USER_READ,
        version="3.0",
    ),
    Endpoint(
        ("GET",),
        "/users/permissions/list",
        m.UserRef,
        permissions_of,
        "Every permission a user holds, direct and through roles (admin or self)",
        p.USER_READ,
        version="3.0",
    ),
    Endpoint(
        ("GET",),
        "/users/current/permissions",
        m.Nothing,
        current_permissions,
        "Every permission the caller holds",
        p.USER_READ,
        version="3.0",
    ),
]
