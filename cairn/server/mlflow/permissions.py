"""MLflow 2's per-resource permission API (``/mlflow/experiments/permissions/*`` and
``/mlflow/registered-models/permissions/*``; removed in MLflow 3.18, kept here): who may do what
with one experiment or registered model. Callers need MANAGE on that resource (or admin)."""

from __future__ import annotations

from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import Permission, ResourceType
from cairn.server import wire
from cairn.server.mlflow import auth_messages as m
from cairn.server.mlflow.callers import service
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.mlflow.users import experiment_permission, model_permission

EXPERIMENT, MODEL = ResourceType.EXPERIMENT, ResourceType.REGISTERED_MODEL


async def create_experiment(request: Request, msg: m.ExperimentPermission) -> wire.Json:
    perm = Permission.parse(msg.permission)
    grant = await run_in_threadpool(
        service(request).create_grant, EXPERIMENT, msg.experiment_id, msg.username, perm
    )
    return {"experiment_permission": experiment_permission(msg.experiment_id, grant.user_id, perm)}


async def get_experiment(request: Request, msg: m.ExperimentPermissionRef) -> wire.Json:
    grant = await run_in_threadpool(
        service(request).get_grant, EXPERIMENT, msg.experiment_id, msg.username
    )
    return {
        "experiment_permission": experiment_permission(
            msg.experiment_id, grant.user_id, grant.permission
        )
    }


async def update_experiment(request: Request, msg: m.ExperimentPermission) -> wire.Json:
    perm = Permission.parse(msg.permission)
    await run_in_threadpool(
        service(request).update_grant, EXPERIMENT, msg.experiment_id, msg.username, perm
    )
    return {}


async def delete_experiment(request: Request, msg: m.ExperimentPermissionRef) -> wire.Json:
    await run_in_threadpool(
        service(request).delete_grant, EXPERIMENT, msg.experiment_id, msg.username
    )
    return {}


async def create_model(request: Request, msg: m.ModelPermission) -> wire.Json:
    perm = Permission.parse(msg.permission)
    grant = await run_in_threadpool(
        service(request).create_grant, MODEL, msg.name, msg.username, perm
    )
    return {"registered_model_permission": model_permission(msg.name, grant.user_id, perm)}


async def get_model(request: Request, msg: m.ModelPermissionRef) -> wire.Json:
    grant = await run_in_threadpool(service(request).get_grant, MODEL, msg.name, msg.username)
    return {
        "registered_model_permission": model_permission(msg.name, grant.user_id, grant.permission)
    }


async def update_model(request: Request, msg: m.ModelPermission) -> wire.Json:
    perm = Permission.parse(msg.permission)
    await run_in_threadpool(service(request).update_grant, MODEL, msg.name, msg.username, perm)
    return {}


async def delete_model(request: Request, msg: m.ModelPermissionRef) -> wire.Json:
    await run_in_threadpool(service(request).delete_grant, MODEL, msg.name, msg.username)
    return {}


MANAGE = Permission.MANAGE
MANAGE_EXPERIMENT = p.experiment(MANAGE, "experiment_id")
MANAGE_MODEL = p.model(MANAGE, "name")
# reading a grant changes nothing: a read-only token of a MANAGE holder may do it
SEE_EXPERIMENT = replace(MANAGE_EXPERIMENT, writes=False)
SEE_MODEL = replace(MANAGE_MODEL, writes=False)

E, R = "/experiments/permissions", "/registered-models/permissions"

ENDPOINTS = [
    Endpoint(
        ("POST",),
        f"{E}/create",
        m.ExperimentPermission,
        create_experiment,
        "Grant a user a permission on an experiment",
        MANAGE_EXPERIMENT,
    ),
    Endpoint(
        ("GET",),
        f"{E}/get",
        m.ExperimentPermissionRef,
        get_experiment,
        "A user's grant on an experiment",
        SEE_EXPERIMENT,
    ),
    Endpoint(
        ("PATCH",),
        f"{E}/update",
        m.ExperimentPermission,
        update_experiment,
        "Change a user's grant on an experiment",
        MANAGE_EXPERIMENT,
    ),
    Endpoint(
        ("DELETE",),
        f"{E}/delete",
        m.ExperimentPermissionRef,
        delete_experiment,
        "Remove a user's grant on an experiment",
        MANAGE_EXPERIMENT,
    ),
    Endpoint(
        ("POST",),
        f"{R}/create",
        m.ModelPermission,
        create_model,
        "Grant a user a permission on a registered model",
        MANAGE_MODEL,
    ),
    Endpoint(
        ("GET",),
        f"{R}/get",
        m.ModelPermissionRef,
        get_model,
        "A user's grant on a registered model",
        SEE_MODEL,
    ),
    Endpoint(
        ("PATCH",),
        f"{R}/update",
        m.ModelPermission,
        update_model,
        "Change a user's grant on a registered model",
        MANAGE_MODEL,
    ),
    Endpoint(
        ("DELETE",),
        f"{R}/delete",
        m.ModelPermissionRef,
        delete_model,
        "Remove a user's grant on a registered model",
        MANAGE_MODEL,
    ),
]
