"""The permissions panel of an experiment and of a registered model: who has a grant on it,
set or take one. Each route needs MANAGE on that resource (admins have it everywhere)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.entities.access import Permission, ResourceType
from cairn.server.state import identity, registry, tracking
from cairn.server.v1.access_schemas import GrantOut, PermissionName, enabled

router = APIRouter(prefix="/api/v1", tags=["permissions"])

MANAGE_EXPERIMENT = p.experiment(Permission.MANAGE, "experiment_id")
MANAGE_MODEL = p.model(Permission.MANAGE, "name")
SEE_EXPERIMENT = dataclasses.replace(MANAGE_EXPERIMENT, writes=False)
SEE_MODEL = dataclasses.replace(MANAGE_MODEL, writes=False)


class GrantList(BaseModel):
    grants: list[GrantOut]
    default_permission: PermissionName = Field(
        description="What a user without a grant (or a role that says more) may do."
    )
    caller_permission: PermissionName


class GrantIn(BaseModel):
    permission: PermissionName


async def _exists(request: Request, kind: ResourceType, resource_id: str) -> None:
    """A 404 for an experiment or model that is not there (admins pass the access layer
    without it looking)."""
    if kind is ResourceType.EXPERIMENT:
        await run_in_threadpool(tracking(request).get_experiment, resource_id)
    else:
        await run_in_threadpool(registry(request).get_model, resource_id)


async def _grants(request: Request, kind: ResourceType, resource_id: str) -> GrantList:
    service = enabled(request)
    await _exists(request, kind, resource_id)
    found = await run_in_threadpool(service.grants_on, kind, resource_id)
    mine = await run_in_threadpool(service.permission, identity(request), kind, resource_id)
    return GrantList(
        grants=[GrantOut.of(g) for g in sorted(found, key=lambda g: g.username)],
        default_permission=service.default.name,
        caller_permission=mine.name,
    )


async def _set(
    request: Request, kind: ResourceType, resource_id: str, username: str, body: GrantIn
) -> GrantOut:
    service = enabled(request)
    permission = Permission.parse(body.permission)
    await _exists(request, kind, resource_id)
    grant = await run_in_threadpool(service.set_grant, kind, resource_id, username, permission)
    return GrantOut.of(grant)


async def _delete(
    request: Request, kind: ResourceType, resource_id: str, username: str
) -> Response:
    await run_in_threadpool(enabled(request).delete_grant, kind, resource_id, username)
    return Response(status_code=204)


Eid = Annotated[str, Path(description="The experiment's id")]
Model = Annotated[str, Path(description="The registered model's name")]
Username = Annotated[str, Path()]


@router.get(
    "/experiments/{experiment_id}/permissions",
    response_model=GrantList,
    summary="Who has a grant on an experiment (MANAGE on it)",
)
@p.requires(SEE_EXPERIMENT)
async def experiment_grants(request: Request, experiment_id: Eid) -> GrantList:
    return await _grants(request, ResourceType.EXPERIMENT, experiment_id)


@router.put(
    "/experiments/{experiment_id}/permissions/{username}",
    response_model=GrantOut,
    summary="Give a user a permission on an experiment (MANAGE on it)",
)
@p.requires(MANAGE_EXPERIMENT)
async def set_experiment_grant(
    request: Request, experiment_id: Eid, username: Username, body: GrantIn
) -> GrantOut:
    return await _set(request, ResourceType.EXPERIMENT, experiment_id, username, body)


@router.delete(
    "/experiments/{experiment_id}/permissions/{username}",
    status_code=204,
    summary="Take a user's grant on an experiment (MANAGE on it)",
)
@p.requires(MANAGE_EXPERIMENT)
async def delete_experiment_grant(
    request: Request, experiment_id: Eid, username: Username
) -> Response:
    return await _delete(request, ResourceType.EXPERIMENT, experiment_id, username)


@router.get(
    "/models/{name}/permissions",
    response_model=GrantList,
    summary="Who has a grant on a registered model (MANAGE on it)",
)
@p.requires(SEE_MODEL)
async def model_grants(request: Request, name: Model) -> GrantList:
    return await _grants(request, ResourceType.REGISTERED_MODEL, name)


@router.put(
    "/models/{name}/permissions/{username}",
    response_model=GrantOut,
    summary="Give a user a permission on a registered model (MANAGE on it)",
)
@p.requires(MANAGE_MODEL)
async def set_model_grant(
    request: Request, name: Model, username: Username, body: GrantIn
) -> GrantOut:
    return await _set(request, ResourceType.REGISTERED_MODEL, name, username, body)


@router.delete(
    "/models/{name}/permissions/{username}",
    status_code=204,
    summary="Take a user's grant on a registered model (MANAGE on it)",
)
@p.requires(MANAGE_MODEL)
async def delete_model_grant(request: Request, name: Model, username: Username) -> Response:
    return await _delete(request, ResourceType.REGISTERED_MODEL, name, username)
