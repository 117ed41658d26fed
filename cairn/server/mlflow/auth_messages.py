"""Request models of MLflow's auth API (users, per-resource permissions, roles).

Field names and methods follow ``mlflow.server.auth`` (2.x and 3.x) and its
``AuthServiceClient``. Permission and resource-type names are parsed by the handlers, so the
error names the field the way the caller wrote it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from cairn.server.mlflow.messages import IdList, Int64, Message


def _flag(value: object) -> bool:
    """MLflow's Python client sends ``is_admin`` as the string "true"/"false"; JSON true and
    false are accepted too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("expected true or false")


Flag = Annotated[bool, BeforeValidator(_flag)]


def _text(value: object) -> object:
    """Ids may come as JSON numbers (``experiment_id: 1``): read them as their text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_text)]


class Nothing(Message):
    """GET /mlflow/users/list, /mlflow/users/current"""


class CreateUser(Message):
    """POST /mlflow/users/create"""

    username: str
    password: str


class UserRef(Message):
    """GET /mlflow/users/get, DELETE /mlflow/users/delete, GET /mlflow/users/roles/list,
    GET /mlflow/users/permissions/list"""

    username: str


class UpdateUserPassword(Message):
    """PATCH /mlflow/users/update-password (``current_password`` when changing your own)"""

    username: str
    password: str
    current_password: str | None = None


class UpdateUserAdmin(Message):
    """PATCH /mlflow/users/update-admin"""

    username: str
    is_admin: Flag


class ExperimentPermissionRef(Message):
    """GET /mlflow/experiments/permissions/get, DELETE …/delete"""

    experiment_id: Text
    username: str


class ExperimentPermission(ExperimentPermissionRef):
    """POST /mlflow/experiments/permissions/create, PATCH …/update"""

    permission: str


class ModelPermissionRef(Message):
    """GET /mlflow/registered-models/permissions/get, DELETE …/delete"""

    name: str
    username: str


class ModelPermission(ModelPermissionRef):
    """POST /mlflow/registered-models/permissions/create, PATCH …/update"""

    permission: str


class CreateRole(Message):
    """POST /api/3.0/mlflow/roles/create"""

    workspace: str
    name: str
    description: str | None = None


class RoleRef(Message):
    """GET /api/3.0/mlflow/roles/get, DELETE …/delete, GET …/permissions/list, GET
    …/users/list"""

    role_id: Int64


class ListRoles(Message):
    """GET /api/3.0/mlflow/roles/list (``workspace`` may repeat; none: every role, admins)"""

    workspace: IdList = []


class UpdateRole(Message):
    """PATCH /api/3.0/mlflow/roles/update"""

    role_id: Int64
    name: str | None = None
    description: str | None = None


class AddRolePermission(Message):
    """POST /api/3.0/mlflow/roles/permissions/add"""

    role_id: Int64
    resource_type: str
    resource_pattern: Text
    permission: str


class RolePermissionRef(Message):
    """DELETE /api/3.0/mlflow/roles/permissions/remove"""

    role_permission_id: Int64


class UpdateRolePermission(Message):
    """PATCH /api/3.0/mlflow/roles/permissions/update"""

    role_permission_id: Int64
    permission: str


class RoleAssignment(Message):
    """POST /api/3.0/mlflow/roles/assign, DELETE …/unassign"""

    username: str
    role_id: Int64


class UserResource(Message):
    """GET /api/3.0/mlflow/users/permissions/get, POST …/revoke"""

    username: str
    resource_type: str
    resource_id: Text


class GrantUserPermission(UserResource):
    """POST /api/3.0/mlflow/users/permissions/grant"""

    permission: str
