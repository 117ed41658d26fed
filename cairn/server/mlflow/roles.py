"""MLflow 3's role API (``/api/3.0/mlflow/roles/*``) and its per-user grant routes
(``/api/3.0/mlflow/users/permissions/{grant,revoke,get}``).

MLflow scopes roles to workspaces; Cairn has one implicit workspace, ``default``, which these
routes accept and echo. A per-user grant is Cairn's direct grant on one experiment (by id) or
registered model (by name); a grant on every resource (``*``) is what roles are for.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import Permission
from cairn.entities.errors import CairnError
from cairn.server import wire
from cairn.server.mlflow import auth_messages as m
from cairn.server.mlflow.callers import (
    denied,
    is_admin,
    require_admin_or_self,
    require_manage,
    require_role_viewer,
    resource_type,
    service,
    workspace,
)
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.mlflow.users import role_json
from cairn.server.state import identity


async def create(request: Request, msg: m.CreateRole) -> wire.Json:
    workspace(msg.workspace)
    role = await run_in_threadpool(service(request).create_role, msg.name, msg.description or "")
    return {"role": role_json(role)}


async def get(request: Request, msg: m.RoleRef) -> wire.Json:
    await require_role_viewer(request)
    role = await run_in_threadpool(service(request).get_role, msg.role_id)
    return {"role": role_json(role)}


async def list_roles(request: Request, msg: m.ListRoles) -> wire.Json:
    for name in msg.workspace:
        workspace(name)
    who = identity(request)
    if not msg.workspace and not is_admin(who):
        raise denied(who, "list the roles of every workspace (name the workspace)")
    await require_role_viewer(request)
    roles = await run_in_threadpool(service(request).list_roles)
    return {"roles": [role_json(r) for r in roles]}


async def update(request: Request, msg: m.UpdateRole) -> wire.Json:
    if msg.name is None and msg.description is None:
        raise CairnError.invalid(
            "At least one of 'name' or 'description' must be provided to update a role"
        )
    role = await run_in_threadpool(
        service(request).update_role, msg.role_id, msg.name, msg.description
    )
    return {"role": role_json(role)}


async def delete(request: Request, msg: m.RoleRef) -> wire.Json:
    await run_in_threadpool(service(request).delete_role, msg.role_id)
    return {}


def _role_permission(rp_id: int, role_id: int, kind: str, pattern: str, perm: str) -> wire.Json:
    return {
        "id": rp_id,
        "role_id": role_id,
        "resource_type": kind,
        "resource_pattern": pattern,
        "permission": perm,
    }


async def add_permission(request: Request, msg: m.AddRolePermission) -> wire.Json:
    kind = resource_type(msg.resource_type)
    perm = Permission.parse(msg.permission)
    rp = await run_in_threadpool(
        service(request).add_role_permission, msg.role_id, kind, msg.resource_pattern, perm
    )
    return {
        "role_permission": _role_permission(
            rp.id, rp.role_id, rp.resource_type.value, rp.pattern, rp.permission.name
        )
    }


async def remove_permission(request: Request, msg: m.RolePermissionRef) -> wire.Json:
    await run_in_threadpool(service(request).remove_role_permission, msg.role_permission_id)
    return {}


async def list_permissions(request: Request, msg: m.RoleRef) -> wire.Json:
    await require_role_viewer(request)
    role = await run_in_threadpool(service(request).get_role, msg.role_id)
    return {"role_permissions": role_json(role)["permissions"]}


async def update_permission(request: Request, msg: m.UpdateRolePermission) -> wire.Json:
    perm = Permission.parse(msg.permission)
    rp = await run_in_threadpool(
        service(request).update_role_permission, msg.role_permission_id, perm
    )
    return {
        "role_permission": _role_permission(
            rp.id, rp.role_id, rp.resource_type.value, rp.pattern, rp.permission.name
        )
    }


async def assign(request: Request, msg: m.RoleAssignment) -> wire.Json:
    user = await run_in_threadpool(service(request).assign_new_role, msg.username, msg.role_id)
    # Cairn keys an assignment by (user, role): it has no id of its own
    return {"assignment": {"id": None, "user_id": user.id, "role_id": msg.role_id}}


async def unassign(request: Request, msg: m.RoleAssignment) -> wire.Json:
    await run_in_threadpool(service(request).unassign_role, msg.username, msg.role_id)
    return {}


async def users_of(request: Request, msg: m.RoleRef) -> wire.Json:
    users = await run_in_threadpool(service(request).users_of_role, msg.role_id)
    return {"assignments": [{"id": None, "user_id": u.id, "role_id": msg.role_id} for u in users]}


def _one_resource(resource_id: str) -> str:
    if resource_id == "*":
        raise CairnError.invalid(
            "Invalid value '*' for parameter 'resource_id': a per-user grant names one "
            "experiment or registered model; grant on every resource through a role"
        )
    if not resource_id:
        raise CairnError.invalid("Missing value for required parameter 'resource_id'")
    return resource_id


async def grant(request: Request, msg: m.GrantUserPermission) -> wire.Json:
    kind = resource_type(msg.resource_type)
    perm = Permission.parse(msg.permission)
    await require_manage(request, kind, msg.resource_id)
    rid = _one_resource(msg.resource_id)
    await run_in_threadpool(service(request).create_grant, kind, rid, msg.username, perm)
    return {}


async def revoke(request: Request, msg: m.UserResource) -> wire.Json:
    kind = resource_type(msg.resource_type)
    await require_manage(request, kind, msg.resource_id)
    rid = _one_resource(msg.resource_id)
    await run_in_threadpool(service(request).delete_grant, kind, rid, msg.username)
    return {}


async def get_user_permission(request: Request, msg: m.UserResource) -> wire.Json:
    kind = resource_type(msg.resource_type)
    require_admin_or_self(request, msg.username, "read the permissions")
    found = await run_in_threadpool(
        service(request).permission_of_user, msg.username, kind, msg.resource_id
    )
    return {"allowed": found.can_use, "permission": found.name}


V3 = "3.0"

ENDPOINTS = [
    Endpoint(("POST",), "/roles/create", m.CreateRole, create, "Create a role", p.ADMIN_WRITE, V3),
    Endpoint(("GET",), "/roles/get", m.RoleRef, get, "Get a role", p.USER_READ, V3),
    Endpoint(("GET",), "/roles/list", m.ListRoles, list_roles, "List roles", p.USER_READ, V3),
    Endpoint(("PATCH",), "/roles/update", m.UpdateRole, update, "Rename a role", p.ADMIN_WRITE, V3),
    Endpoint(("DELETE",), "/roles/delete", m.RoleRef, delete, "Delete a role", p.ADMIN_WRITE, V3),
    Endpoint(
        ("POST",),
        "/roles/permissions/add",
        m.AddRolePermission,
        add_permission,
        "Give a role a permission on a resource pattern",
        p.ADMIN_WRITE,
        V3,
    ),
    Endpoint(
        ("DELETE",),
        "/roles/permissions/remove",
        m.RolePermissionRef,
        remove_permission,
        "Remove one of a role's permissions",
        p.ADMIN_WRITE,
        V3,
    ),
    Endpoint(
        ("GET",),
        "/roles/permissions/list",
        m.RoleRef,
        list_permissions,
        "A role's permissions",
        p.USER_READ,
        V3,
    ),
    Endpoint(
        ("PATCH",),
        "/roles/permissions/update",
        m.UpdateRolePermission,
        update_permission,
        "Change one of a role's permissions",
        p.ADMIN_WRITE,
        V3,
    ),
    Endpoint(
        ("POST",),
        "/roles/assign",
        m.RoleAssignment,
        assign,
        "Give a user a role",
        p.ADMIN_WRITE,
        V3,
    ),
    Endpoint(
        ("DELETE",),
        "/roles/unassign",
        m.RoleAssignment,
        unassign,
        "Take a role from a user",
        p.ADMIN_WRITE,
        V3,
    ),
    Endpoint(
        ("GET",), "/roles/users/list", m.RoleRef, users_of, "A role's users", p.ADMIN_READ, V3
    ),
    Endpoint(
        ("POST",),
        "/users/permissions/grant",
        m.GrantUserPermission,
        grant,
        "Grant a user a permission on one resource (MANAGE on it, or admin)",
        p.USER_WRITE,
        V3,
    ),
    Endpoint(
        ("POST",),
        "/users/permissions/revoke",
        m.UserResource,
        revoke,
        "Remove a user's grant on one resource (MANAGE on it, or admin)",
        p.USER_WRITE,
        V3,
    ),
    Endpoint(
        ("GET",),
        "/users/permissions/get",
        m.UserResource,
        get_user_permission,
        "A user's effective permission on one resource (admin or self)",
        p.USER_READ,
        V3,
    ),
]
