"""Admin routes of Cairn's own access API: users, and roles with their grants and members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.service import AccessService
from cairn.entities.access import Permission, ResourceType
from cairn.entities.errors import CairnError
from cairn.server.v1.access_schemas import (
    PermissionName,
    ResourceName,
    RoleList,
    RoleOut,
    UserList,
    UserOut,
    enabled,
)

router = APIRouter(prefix="/api/v1", tags=["users and roles"])


class UserIn(BaseModel):
    username: str
    password: str
    is_admin: bool = False


class UserPatch(BaseModel):
    is_admin: bool | None = None
    active: bool | None = None
    password: str | None = None
    """A new password (a reset by an admin; ends the user's sessions)."""


class RoleIn(BaseModel):
    name: str
    description: str = ""


class RolePatch(BaseModel):
    name: str | None = None
    description: str | None = None


class RolePermissionIn(BaseModel):
    resource_type: ResourceName
    pattern: str
    """``*`` (every resource of the type), an experiment id or name, or a model name."""
    permission: PermissionName


class RolePermissionPatch(BaseModel):
    permission: PermissionName


@router.get("/users", response_model=UserList, summary="Every user (admins only)")
@p.requires(p.ADMIN_READ)
async def list_users(request: Request) -> UserList:
    found = await run_in_threadpool(enabled(request).list_users)
    return UserList(users=[UserOut.of(u) for u in found])


@router.post("/users", response_model=UserOut, summary="Create a user (admins only)")
@p.requires(p.ADMIN_WRITE)
async def create_user(body: UserIn, request: Request) -> UserOut:
    service = enabled(request)
    user = await run_in_threadpool(service.create_user, body.username, body.password, body.is_admin)
    return UserOut.of(user)


def _patch_user(service: AccessService, username: str, body: UserPatch) -> UserOut:
    service.get_user(username)  # 404 before anything changes
    if body.password is not None:
        service.update_password(username, body.password)
    if body.is_admin is not None:
        service.set_admin(username, body.is_admin)
    if body.active is not None:
        service.set_active(username, body.active)
    return UserOut.of(service.get_user(username))


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    summary="Make a user admin or not, (de)activate them, or reset their password",
    description="Deactivating a user or resetting their password ends their sessions. The "
    "last active admin cannot be demoted, deactivated or deleted (400 INVALID_STATE).",
)
@p.requires(p.ADMIN_WRITE)
async def update_user(
    request: Request, username: Annotated[str, Path()], body: UserPatch
) -> UserOut:
    return await run_in_threadpool(_patch_user, enabled(request), username, body)


@router.delete("/users/{username}", status_code=204, summary="Delete a user (admins only)")
@p.requires(p.ADMIN_WRITE)
async def delete_user(request: Request, username: Annotated[str, Path()]) -> Response:
    await run_in_threadpool(enabled(request).delete_user, username)
    return Response(status_code=204)


def _role(service: AccessService, role_id: int) -> RoleOut:
    return RoleOut.of(service.get_role(role_id), service.users_of_role(role_id))


def _roles(service: AccessService) -> RoleList:
    return RoleList(
        roles=[RoleOut.of(r, service.users_of_role(r.id)) for r in service.list_roles()]
    )


@router.get("/roles", response_model=RoleList, summary="Every role, its grants and members")
@p.requires(p.ADMIN_READ)
async def list_roles(request: Request) -> RoleList:
    return await run_in_threadpool(_roles, enabled(request))


@router.post("/roles", response_model=RoleOut, summary="Create a role (admins only)")
@p.requires(p.ADMIN_WRITE)
async def create_role(body: RoleIn, request: Request) -> RoleOut:
    service = enabled(request)
    role = await run_in_threadpool(service.create_role, body.name, body.description)
    return RoleOut.of(role, [])


@router.patch("/roles/{role_id}", response_model=RoleOut, summary="Rename or describe a role")
@p.requires(p.ADMIN_WRITE)
async def update_role(
    request: Request, role_id: Annotated[int, Path()], body: RolePatch
) -> RoleOut:
    service = enabled(request)
    await run_in_threadpool(service.update_role, role_id, body.name, body.description)
    return await run_in_threadpool(_role, service, role_id)


@router.delete("/roles/{role_id}", status_code=204, summary="Delete a role (admins only)")
@p.requires(p.ADMIN_WRITE)
async def delete_role(request: Request, role_id: Annotated[int, Path()]) -> Response:
    await run_in_threadpool(enabled(request).delete_role, role_id)
    return Response(status_code=204)


@router.post(
    "/roles/{role_id}/permissions",
    response_model=RoleOut,
    summary="Add a grant to a role",
    description="Every member gets `permission` on the resources `pattern` matches (`*`, an "
    "experiment id or name, or a registered model name), unless a grant to them says otherwise.",
)
@p.requires(p.ADMIN_WRITE)
async def add_role_permission(
    request: Request, role_id: Annotated[int, Path()], body: RolePermissionIn
) -> RoleOut:
    service = enabled(request)
    kind = ResourceType(body.resource_type)
    permission = Permission.parse(body.permission)
    await run_in_threadpool(service.add_role_permission, role_id, kind, body.pattern, permission)
    return await run_in_threadpool(_role, service, role_id)


def _permission_of_role(service: AccessService, role_id: int, permission_id: int) -> None:
    service.get_role(role_id)
    if service.get_role_permission(permission_id).role_id != role_id:
        raise CairnError.not_found(f"Role {role_id} has no permission with id={permission_id}")


@router.patch(
    "/roles/{role_id}/permissions/{permission_id}",
    response_model=RoleOut,
    summary="Change the permission of a role's grant",
)
@p.requires(p.ADMIN_WRITE)
async def update_role_permission(
    request: Request,
    role_id: Annotated[int, Path()],
    permission_id: Annotated[int, Path()],
    body: RolePermissionPatch,
) -> RoleOut:
    service = enabled(request)
    await run_in_threadpool(_permission_of_role, service, role_id, permission_id)
    permission = Permission.parse(body.permission)
    await run_in_threadpool(service.update_role_permission, permission_id, permission)
    return await run_in_threadpool(_role, service, role_id)


@router.delete(
    "/roles/{role_id}/permissions/{permission_id}",
    response_model=RoleOut,
    summary="Remove a grant from a role",
)
@p.requires(p.ADMIN_WRITE)
async def remove_role_permission(
    request: Request, role_id: Annotated[int, Path()], permission_id: Annotated[int, Path()]
) -> RoleOut:
    service = enabled(request)
    await run_in_threadpool(_permission_of_role, service, role_id, permission_id)
    await run_in_threadpool(service.remove_role_permission, permission_id)
    return await run_in_threadpool(_role, service, role_id)


@router.put(
    "/roles/{role_id}/members/{username}", response_model=RoleOut, summary="Give a user a role"
)
@p.requires(p.ADMIN_WRITE)
async def assign_role(
    request: Request, role_id: Annotated[int, Path()], username: Annotated[str, Path()]
) -> RoleOut:
    service = enabled(request)
    await run_in_threadpool(service.assign_role, username, role_id)
    return await run_in_threadpool(_role, service, role_id)


@router.delete(
    "/roles/{role_id}/members/{username}",
    response_model=RoleOut,
    summary="Take a role from a user",
)
@p.requires(p.ADMIN_WRITE)
async def unassign_role(
    request: Request, role_id: Annotated[int, Path()], username: Annotated[str, Path()]
) -> RoleOut:
    service = enabled(request)
    await run_in_threadpool(service.unassign_role, username, role_id)
    return await run_in_threadpool(_role, service, role_id)
