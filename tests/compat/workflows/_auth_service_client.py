"""MLflow's AuthServiceClient (``get_app_client("basic-auth")``) driving users, grants and roles
on a ``cairn server --auth``, and the tracking client checking what each user may then do.
Run with mlflow 2.x (users, experiment and registered-model permissions) and 3.x (users, roles,
per-user grants). Expects MLFLOW_TRACKING_USERNAME/PASSWORD of an admin."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException
from mlflow.server import get_app_client

V3 = int(mlflow.__version__.split(".")[0]) >= 3
TAG = uuid.uuid4().hex[:8]
URI = os.environ["MLFLOW_TRACKING_URI"]
ADMIN = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
ALICE = (f"alice-{TAG}", f"alice-password-{TAG}")
BOB = (f"bob-{TAG}", f"bob-password-{TAG}")

auth = get_app_client("basic-auth", tracking_uri=URI)
client = MlflowClient(URI)


@contextmanager
def signed_in(who: tuple[str, str]) -> Iterator[None]:
    """The clients read the credentials from the environment on every request."""
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = who
    try:
        yield
    finally:
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN


def fails(code: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except (RestException, MlflowException) as exc:
        assert exc.error_code == code, (code, exc.error_code, str(exc))
        return
    raise AssertionError(f"{call.__name__}{args} succeeded; expected {code}")


# ---- users ----
alice = auth.create_user(*ALICE)
assert (alice.username, alice.is_admin) == (ALICE[0], False), alice.to_json()
assert isinstance(alice.id, int)
bob = auth.create_user(*BOB)
assert auth.get_user(ALICE[0]).id == alice.id
fails("RESOURCE_ALREADY_EXISTS", auth.create_user, ALICE[0], "another-password-1")
fails("RESOURCE_DOES_NOT_EXIST", auth.get_user, f"nobody-{TAG}")
auth.update_user_admin(ALICE[0], True)
assert auth.get_user(ALICE[0]).is_admin is True
auth.update_user_admin(ALICE[0], False)
assert auth.get_user(ALICE[0]).is_admin is False
auth.update_user_password(BOB[0], BOB[1] + "-2")  # an admin resets it
BOB = (BOB[0], BOB[1] + "-2")
with signed_in(BOB):
    assert auth.get_user(BOB[0]).username == BOB[0]  # themself
    fails("PERMISSION_DENIED", auth.get_user, ALICE[0])
    fails("PERMISSION_DENIED", auth.create_user, f"eve-{TAG}", "eve-password-123")
    fails("PERMISSION_DENIED", auth.update_user_admin, BOB[0], True)
    fails("PERMISSION_DENIED", auth.delete_user, ALICE[0])

experiment_id = client.create_experiment(f"auth-{TAG}")
model = f"auth-model-{TAG}"
client.create_registered_model(model)

# default READ: bob and alice read the experiment, neither may log to it yet
with signed_in(ALICE):
    assert client.get_experiment(experiment_id).name == f"auth-{TAG}"
    fails("PERMISSION_DENIED", client.create_run, experiment_id)

if not V3:
    # ---- mlflow 2.x: per-resource permissions ----
    made = auth.create_experiment_permission(experiment_id, ALICE[0], "EDIT")
    assert (made.experiment_id, made.user_id, made.permission) == (experiment_id, alice.id, "EDIT")
    fails(
        "RESOURCE_ALREADY_EXISTS",
        auth.create_experiment_permission,
        experiment_id,
        ALICE[0],
        "READ",
    )
    assert auth.get_experiment_permission(experiment_id, ALICE[0]).permission == "EDIT"
    with signed_in(ALICE):
        run = client.create_run(experiment_id)
        client.log_metric(run.info.run_id, "m", 1.0)
        # EDIT is not MANAGE: no granting
        fails(
            "PERMISSION_DENIED",
            auth.create_experiment_permission,
            experiment_id,
            BOB[0],
            "READ",
        )
    auth.update_experiment_permission(experiment_id, ALICE[0], "MANAGE")
    with signed_in(ALICE):  # now a manager: alice grants bob
        auth.create_experiment_permission(experiment_id, BOB[0], "NO_PERMISSIONS")
        assert auth.get_experiment_permission(experiment_id, BOB[0]).permission == "NO_PERMISSIONS"
    with signed_in(BOB):
        fails("PERMISSION_DENIED", client.get_experiment, experiment_id)
    with signed_in(ALICE):
        auth.delete_experiment_permission(experiment_id, BOB[0])
    fails("RESOURCE_DOES_NOT_EXIST", auth.get_experiment_permission, experiment_id, BOB[0])
    with signed_in(BOB):
        assert client.get_experiment(experiment_id).experiment_id == experiment_id
    user = auth.get_user(ALICE[0])  # mlflow 2's User carries the grants
    assert [(p.experiment_id, p.permission) for p in user.experiment_permissions] == [
        (experiment_id, "MANAGE")
    ]

    rmp = auth.create_registered_model_permission(model, BOB[0], "EDIT")
    assert (rmp.name, rmp.user_id, rmp.permission) == (model, bob.id, "EDIT")
    assert auth.get_registered_model_permission(model, BOB[0]).permission == "EDIT"
    with signed_in(BOB):
        client.update_registered_model(model, description="edited by bob")
    auth.update_registered_model_permission(model, BOB[0], "READ")
    with signed_in(BOB):
        fails("PERMISSION_DENIED", client.update_registered_model, model, description="again")
        fails("PERMISSION_DENIED", auth.update_registered_model_permission, model, BOB[0], "MANAGE")
    auth.delete_registered_model_permission(model, BOB[0])
    fails("RESOURCE_DOES_NOT_EXIST", auth.get_registered_model_permission, model, BOB[0])
    fails("INVALID_PARAMETER_VALUE", auth.create_registered_model_permission, model, BOB[0], "ALL")
else:
    # ---- mlflow 3.x: roles and per-user grants ----
    role = auth.create_role("default", f"team-{TAG}", description="the team")
    assert (role.name, role.workspace, role.description) == (f"team-{TAG}", "default", "the team")
    fails("RESOURCE_ALREADY_EXISTS", auth.create_role, "default", f"team-{TAG}")
    rp = auth.add_role_permission(role.id, "experiment", "*", "EDIT")
    assert (rp.role_id, rp.resource_type, rp.resource_pattern, rp.permission) == (
        role.id,
        "experiment",
        "*",
        "EDIT",
    )
    assignment = auth.assign_role(ALICE[0], role.id)
    assert (assignment.user_id, assignment.role_id) == (alice.id, role.id)
    fails("RESOURCE_ALREADY_EXISTS", auth.assign_role, ALICE[0], role.id)
    assert [r.name for r in auth.list_user_roles(ALICE[0])] == [f"team-{TAG}"]
    assert [a.user_id for a in auth.list_role_users(role.id)] == [alice.id]
    with signed_in(ALICE):  # the role gives EDIT on every experiment
        run = client.create_run(experiment_id)
        client.log_metric(run.info.run_id, "m", 1.0)
        assert auth.get_role(role.id).name == f"team-{TAG}"
        assert f"team-{TAG}" in [r.name for r in auth.list_roles("default")]
        fails("PERMISSION_DENIED", auth.create_role, "default", f"mine-{TAG}")
        fails(
            "PERMISSION_DENIED",
            auth.grant_user_permission,
            BOB[0],
            "experiment",
            experiment_id,
            "READ",
        )
    updated = auth.update_role_permission(rp.id, "MANAGE")
    assert updated.permission == "MANAGE"
    assert [p.permission for p in auth.list_role_permissions(role.id)] == ["MANAGE"]
    assert auth.update_role(role.id, description="renamed").description == "renamed"
    with signed_in(ALICE):  # MANAGE through the role: alice grants bob on the experiment
        auth.grant_user_permission(BOB[0], "experiment", experiment_id, "NO_PERMISSIONS")
        mine = auth.get_user_permission(ALICE[0], "experiment", experiment_id)
        assert (mine.allowed, mine.permission) == (True, "MANAGE")
    with signed_in(BOB):
        fails("PERMISSION_DENIED", client.get_experiment, experiment_id)
        his = auth.get_user_permission(BOB[0], "experiment", experiment_id)
        assert (his.allowed, his.permission) == (False, "NO_PERMISSIONS")
    with signed_in(ALICE):
        auth.revoke_user_permission(BOB[0], "experiment", experiment_id)
        fails(
            "RESOURCE_DOES_NOT_EXIST",
            auth.revoke_user_permission,
            BOB[0],
            "experiment",
            experiment_id,
        )
    with signed_in(BOB):
        assert client.get_experiment(experiment_id).experiment_id == experiment_id
    auth.grant_user_permission(BOB[0], "registered_model", model, "EDIT")
    with signed_in(BOB):
        client.update_registered_model(model, description="edited by bob")
    auth.unassign_role(ALICE[0], role.id)
    auth.remove_role_permission(rp.id)
    auth.delete_role(role.id)
    fails("RESOURCE_DOES_NOT_EXIST", auth.get_role, role.id)
    with signed_in(ALICE):  # back to the default READ
        fails("PERMISSION_DENIED", client.create_run, experiment_id)
        # a user changes their own password with the current one
        fails("INVALID_PARAMETER_VALUE", auth.update_user_password, ALICE[0], "alice-new-password")
        auth.update_user_password(ALICE[0], "alice-new-password", current_password=ALICE[1])
    ALICE = (ALICE[0], "alice-new-password")
    with signed_in(ALICE):
        assert auth.get_user(ALICE[0]).id == alice.id

auth.delete_user(BOB[0])
fails("RESOURCE_DOES_NOT_EXIST", auth.get_user, BOB[0])
auth.delete_user(ALICE[0])
print("ok", mlflow.__version__)
