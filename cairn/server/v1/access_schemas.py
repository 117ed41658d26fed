"""What Cairn's own access API (:mod:`cairn.server.v1.auth`) answers with, and the one way its
routes reach the access service. Never a password hash; a token's secret only in
:class:`TokenCreated`, once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from cairn.access.service import AccessService
from cairn.entities.access import ApiToken, Grant, Identity, Role, User
from cairn.entities.errors import CairnError, ErrorCode

PermissionName = Literal["NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"]
ResourceName = Literal["experiment", "registered_model"]


class UserOut(BaseModel):
    id: int
    username: str
    is_admin: bool
    active: bool
    created_at: int
    """Milliseconds since the epoch."""
    updated_at: int

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls.model_validate(user)


class UserList(BaseModel):
    users: list[UserOut]


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    """The first characters of the secret, to tell tokens apart."""
    read_only: bool
    created_at: int
    expires_at: int | None
    last_used_at: int | None
    revoked_at: int | None

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls.model_validate(token)


class TokenList(BaseModel):
    tokens: list[TokenOut]


class TokenCreated(BaseModel):
    token: TokenOut
    secret: str = Field(description="The token itself. Shown this once; Cairn keeps only a digest.")


class GrantOut(BaseModel):
    username: str
    permission: PermissionName

    @classmethod
    def of(cls, grant: Grant) -> GrantOut:
        return cls(username=grant.username, permission=grant.permission.name)


class RolePermissionOut(BaseModel):
    id: int
    resource_type: ResourceName
    pattern: str
    permission: PermissionName


class RoleOut(BaseModel):
    id: int
    name: str
    description: str
    created_at: int
    permissions: list[RolePermissionOut]
    members: list[str]
    """User names."""

    @classmethod
    def of(cls, role: Role, members: list[User]) -> RoleOut:
        return cls(
            id=role.id,
            name=role.name,
            description=role.description,
            created_at=role.created_at,
            permissions=[
                RolePermissionOut(
                    id=p.id,
                    resource_type=p.resource_type.value,
                    pattern=p.pattern,
                    permission=p.permission.name,
                )
                for p in role.permissions
            ],
            members=sorted(u.username for u in members),
        )


class RoleList(BaseModel):
    roles: list[RoleOut]


def enabled(request: Request) -> AccessService:
    """The access service, or a 400 saying that access control is off on this server (there
    are no users, tokens or grants to manage then)."""
    settings = getattr(request.app.state, "settings", None)
    found = getattr(request.app.state, "access", None)
    if not getattr(settings, "auth", False) or not isinstance(found, AccessService):
        raise CairnError(
            "Access control is off on this server: start it with --auth (CAIRN_AUTH=1) to "
            "have users, API tokens and permissions",
            ErrorCode.INVALID_STATE,
        )
    return found


def user_id_of(who: Identity) -> int:
    """The caller's user id (every route that acts on the caller's own things needs one)."""
    if who.user_id is None:
        raise CairnError("Sign in as a user first", ErrorCode.UNAUTHENTICATED)
    return who.user_id
