"""Identity and access: permissions, who is asking, and what a caller may see.

These are plain values shared by the access room (which decides), the store (which filters
searches by :class:`Visibility`) and the server (which carries the :class:`Identity` of each
request). Nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from cairn.entities.errors import CairnError


class Permission(IntEnum):
    """MLflow's permission names, ordered: each grants everything the ones below it do.

    ``USE`` is MLflow 3's level between READ and EDIT (use a resource without changing it);
    for experiments and registered models it reads like READ."""

    NO_PERMISSIONS = 0
    READ = 1
    USE = 2
    EDIT = 3
    MANAGE = 4

    @property
    def can_read(self) -> bool:
        return self >= Permission.READ

    @property
    def can_use(self) -> bool:
        return self >= Permission.USE

    @property
    def can_update(self) -> bool:
        return self >= Permission.EDIT

    @property
    def can_delete(self) -> bool:
        return self >= Permission.MANAGE

    @property
    def can_manage(self) -> bool:
        return self >= Permission.MANAGE

    @classmethod
    def parse(cls, value: object, field_name: str = "permission") -> Permission:
        """A permission from its MLflow name (any case); a clear 400 naming the field else."""
        if isinstance(value, str):
            found = cls.__members__.get(value.strip().upper())
            if found is not None:
                return found
        names = ", ".join(cls.__members__)
        raise CairnError.invalid(
            f"Invalid value {value!r} for parameter '{field_name}': expected one of {names}"
        )


class ResourceType(StrEnum):
    """What a grant or a role permission applies to."""

    EXPERIMENT = "experiment"
    REGISTERED_MODEL = "registered_model"


class AuthMethod(StrEnum):
    """How a request proved who it is."""

    LOCAL = "local"
    """Access control is off: the one local user, who may do everything."""
    ANONYMOUS = "anonymous"
    """No credentials (only public routes answer)."""
    PASSWORD = "password"
    TOKEN = "token"
    SESSION = "session"
    SYSTEM = "system"
    """Cairn itself (background work), never a request."""
    RUNNER = "runner"
    """An evaluation job's runner token: that job's GET and events routes, nothing else."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is from. ``user_id`` is None for the local, anonymous and system
    identities. ``read_only`` is set for a token created with the read-only scope: such a
    caller may read what its user may read and change nothing."""

    username: str
    method: AuthMethod
    user_id: int | None = None
    is_admin: bool = False
    read_only: bool = False
    token_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.method is not AuthMethod.ANONYMOUS

    @property
    def unrestricted(self) -> bool:
        """May do everything (access control off, an admin, or the system) and is not held
        back by a read-only token."""
        return (
            self.method in (AuthMethod.LOCAL, AuthMethod.SYSTEM) or self.is_admin
        ) and not self.read_only


LOCAL = Identity("local", AuthMethod.LOCAL)
ANONYMOUS = Identity("anonymous", AuthMethod.ANONYMOUS)
SYSTEM = Identity("system", AuthMethod.SYSTEM)


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which experiments (or registered models) a caller may read, as a search filter.

    ``everything`` with empty ``deny_ids``: no filter at all (access control off, admins,
    default READ with no exceptions). Otherwise a row is visible when
    ``(everything or id in allow_ids or name in allow_names) and id not in deny_ids``.
    For registered models the ids are the model names (MLflow keys their grants by name),
    so ``allow_ids``/``deny_ids`` hold names and ``allow_names`` is unused.
    """

    everything: bool = True
    allow_ids: frozenset[str] = field(default_factory=frozenset)
    allow_names: frozenset[str] = field(default_factory=frozenset)
    deny_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def unfiltered(self) -> bool:
        return self.everything and not self.deny_ids

    def allows(self, resource_id: str, name: str | None = None) -> bool:
        if resource_id in self.deny_ids:
            return False
        return (
            self.everything
            or resource_id in self.allow_ids
            or (name is not None and name in self.allow_names)
        )


ALL = Visibility()
"""No filter: what the local user, admins and the system see."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    is_admin: bool
    active: bool
    created_at: int
    """Milliseconds since the epoch, as every Cairn time."""
    updated_at: int


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token as listed: never its secret, which is shown once at creation."""

    id: int
    user_id: int
    name: str
    prefix: str
    """The first characters of the secret, so a user can tell their tokens apart."""
    read_only: bool
    created_at: int
    expires_at: int | None
    last_used_at: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class Grant:
    """A user's permission on one experiment (by id) or registered model (by name)."""

    resource_type: ResourceType
    resource_id: str
    user_id: int
    username: str
    permission: Permission


@dataclass(frozen=True, slots=True)
class RolePermission:
    id: int
    role_id: int
    resource_type: ResourceType
    pattern: str
    """``*`` (every resource of the type), an experiment id or name, or a model name."""
    permission: Permission


@dataclass(frozen=True, slots=True)
class Role:
    id: int
    name: str
    description: str
    created_at: int
    permissions: tuple[RolePermission, ...] = ()
