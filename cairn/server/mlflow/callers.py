"""Who is calling MLflow's auth API, and the caller checks its routes share.

The access layer has already let the request through on the route's need (``USER_READ`` or
``USER_WRITE`` for the routes a user may call on their own things); these checks narrow such a
route to the caller's own user, the way MLflow's auth validators do. The decisions about
resources stay in :class:`~cairn.access.service.AccessService`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access.service import AccessService
from cairn.entities.access import AuthMethod, Identity, ResourceType
from cairn.entities.errors import CairnError, ErrorCode
from cairn.server.state import identity

RESOURCE_TYPES = {kind.value: kind for kind in ResourceType}


def service(request: Request) -> AccessService:
    """The access service; a clear 404 when the server runs without one."""
    found = getattr(request.app.state, "access", None)
    if not isinstance(found, AccessService):
        raise CairnError(
            "Access control is not enabled on this server (start it with --auth)",
            ErrorCode.ENDPOINT_NOT_FOUND,
        )
    return found


def is_admin(who: Identity) -> bool:
    """An admin, or the one local user of a server without access control."""
    return who.is_admin or who.method in (AuthMethod.LOCAL, AuthMethod.SYSTEM)


def denied(who: Identity, what: str) -> CairnError:
    return CairnError(
        f"Permission denied: user '{who.username}' may not {what}", ErrorCode.PERMISSION_DENIED
    )


def require_admin_or_self(request: Request, username: str, what: str) -> Identity:
    """Admins may act on any user, everyone else on themselves only."""
    who = identity(request)
    if not is_admin(who) and who.username != username:
        raise denied(who, f"{what} of user '{username}'")
    return who


async def require_role_viewer(request: Request) -> Identity:
    """MLflow shows a workspace's roles to admins and to the users holding a role in it; Cairn
    has one workspace."""
    who = identity(request)
    if is_admin(who):
        return who
    roles = await run_in_threadpool(service(request).roles_of, who.username)
    if not roles:
        raise denied(who, "view roles (only admins and users holding a role may)")
    return who


async def require_manage(request: Request, kind: ResourceType, resource_id: str) -> Identity:
    """MANAGE on the resource (or admin), as MLflow's per-user grant routes require."""
    who = identity(request)
    if is_admin(who) and not who.read_only:
        return who
    if resource_id == "*":
        raise denied(who, f"grant on every {kind.value} (only admins may)")
    found = await run_in_threadpool(service(request).permission, who, kind, resource_id)
    if not found.can_manage:
        raise denied(who, f"change permissions on {kind.value} '{resource_id}' (needs MANAGE)")
    return who


def resource_type(value: str, field: str = "resource_type") -> ResourceType:
    found = RESOURCE_TYPES.get(value.strip().lower())
    if found is None:
        names = ", ".join(RESOURCE_TYPES)
        raise CairnError.invalid(
            f"Invalid value {value!r} for parameter '{field}': Cairn supports {names}"
        )
    return found


def workspace(value: str, field: str = "workspace") -> str:
    """Cairn has one implicit workspace, ``default``: accepted and echoed, others refused."""
    if not value.strip():
        raise CairnError.invalid(f"Missing value for required parameter '{field}'.")
    if value.strip() != DEFAULT_WORKSPACE:
        raise CairnError.invalid(
            f"Invalid value {value!r} for parameter '{field}': Cairn has one workspace, "
            f"'{DEFAULT_WORKSPACE}'"
        )
    return DEFAULT_WORKSPACE


DEFAULT_WORKSPACE = "default"
