"""Handlers for /mlflow/registered-models/* and /mlflow/model-versions/* (the model registry)."""

from __future__ import annotations

import base64
import binascii

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import Permission, ResourceType
from cairn.entities.errors import CairnError
from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.server import wire
from cairn.server.mlflow import registry_messages as m
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.state import approvals, created, identity, registry, visible
from cairn.wire import kv


def actor(request: Request, user_id: str | None = None) -> str | None:
    """Who made a change: the message's ``user_id``, else the basic-auth user name."""
    if user_id:
        return user_id
    auth = request.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user = base64.b64decode(auth[6:].strip()).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


def model_version(v: ModelVersion) -> wire.Json:
    out: wire.Json = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "current_stage": v.current_stage,
        "description": v.description or "",
        "source": v.source,
    }
    if v.user_id:
        out["user_id"] = v.user_id
    if v.run_id:
        out["run_id"] = v.run_id
    out["status"] = v.status
    if v.status_message:
        out["status_message"] = v.status_message
    if v.tags:
        out["tags"] = kv(v.tags)
    out["run_link"] = v.run_link or ""
    if v.aliases:
        out["aliases"] = list(v.aliases)
    return out


def registered_model(r: RegisteredModel) -> wire.Json:
    out: wire.Json = {
        "name": r.name,
        "creation_timestamp": r.creation_timestamp,
        "last_updated_timestamp": r.last_updated_timestamp,
    }
    if r.description is not None:
        out["description"] = r.description
    if r.latest_versions:
        out["latest_versions"] = [model_version(v) for v in r.latest_versions]
    if r.tags:
        out["tags"] = kv(r.tags)
    if r.aliases:
        out["aliases"] = [{"alias": a, "version": str(ver)} for a, ver in r.aliases.items()]
    return out


def _versions(items: list[ModelVersion], next_page_token: str | None = None) -> wire.Json:
    return wire.page("model_versions", [model_version(v) for v in items], next_page_token)


# ----------------------------------------------------------------------- registered models
async def create_model(request: Request, msg: m.CreateRegisteredModel) -> wire.Json:
    tags = [(t.key, t.value) for t in msg.tags]
    model = await run_in_threadpool(registry(request).create_model, msg.name, msg.description, tags)
    await run_in_threadpool(created, request, ResourceType.REGISTERED_MODEL, model.name)
    return {"registered_model": registered_model(model)}


async def get_model(request: Request, msg: m.RegisteredModelRef) -> wire.Json:
    model = await run_in_threadpool(registry(request).get_model, msg.name)
    return {"registered_model": registered_model(model)}


async def rename_model(request: Request, msg: m.RenameRegisteredModel) -> wire.Json:
    who = actor(request, msg.user_id)
    model = await run_in_threadpool(registry(request).rename_model, msg.name, msg.new_name, who)
    return {"registered_model": registered_model(model)}


async def update_model(request: Request, msg: m.UpdateRegisteredModel) -> wire.Json:
    model = await run_in_threadpool(registry(request).update_model, msg.name, msg.description)
    return {"registered_model": registered_model(model)}


async def delete_model(request: Request, msg: m.RegisteredModelRef) -> wire.Json:
    await run_in_threadpool(registry(request).delete_model, msg.name, actor(request))
    return {}


async def search_models(request: Request, msg: m.SearchRegisteredModels) -> wire.Json:
    page = await run_in_threadpool(
        registry(request).search_models,
        msg.filter,
        msg.max_results,
        msg.order_by,
        msg.page_token,
        visibility=visible(request, ResourceType.REGISTERED_MODEL),
    )
    models = [registered_model(r) for r in page.items]
    return wire.page("registered_models", models, page.next_page_token)


async def set_model_tag(request: Request, msg: m.SetRegisteredModelTag) -> wire.Json:
    await run_in_threadpool(registry(request).set_model_tag, msg.name, msg.key, msg.value)
    return {}


async def delete_model_tag(request: Request, msg: m.DeleteRegisteredModelTag) -> wire.Json:
    await run_in_threadpool(registry(request).delete_model_tag, msg.name, msg.key)
    return {}


async def alias(request: Request, msg: m.RegisteredModelAlias) -> wire.Json:
    """One path, three RPCs: POST sets (or moves), GET resolves, DELETE removes."""
    service, who = registry(request), actor(request, msg.user_id)
    if request.method == "GET":
        version = await run_in_threadpool(service.get_by_alias, msg.name, msg.alias)
        return {"model_version": model_version(version)}
    if request.method == "DELETE":
        await run_in_threadpool(service.delete_alias, msg.name, msg.alias, who)
        return {}
    if msg.version is None:
        raise CairnError.invalid("Missing value for required parameter 'version'.")
    gate = approvals(request)
    await run_in_threadpool(
        gate.set_alias, identity(request), msg.name, msg.alias, msg.version, who
    )
    return {}


async def latest_versions(request: Request, msg: m.GetLatestVersions) -> wire.Json:
    items = await run_in_threadpool(registry(request).latest_versions, msg.name, msg.stages)
    return _versions(items)


# -------------------------------------------------------------------------- versions
async def create_version(request: Request, msg: m.CreateModelVersion) -> wire.Json:
    tags = [(t.key, t.value) for t in msg.tags]
    version = await run_in_threadpool(
        registry(request).create_version,
        msg.name,
        msg.source,
        msg.run_id,
        tags,
        msg.run_link,
        msg.description,
        msg.model_id,
        actor(request, msg.user_id),
    )
    return {"model_version": model_version(version)}


async def get_version(request: Request, msg: m.ModelVersionRef) -> wire.Json:
    version = await run_in_threadpool(registry(request).get_version, msg.name, msg.version)
    return {"model_version": model_version(version)}


async def update_version(request: Request, msg: m.UpdateModelVersion) -> wire.Json:
    version = await run_in_threadpool(
        registry(request).update_version, msg.name, msg.version, msg.description
    )
    return {"model_version": model_version(version)}


async def delete_version(request: Request, msg: m.ModelVersionRef) -> wire.Json:
    who = actor(request, msg.user_id)
    await run_in_threadpool(registry(request).delete_version, msg.name, msg.version, who)
    return {}


async def set_version_tag(request: Request, msg: m.SetModelVersionTag) -> wire.Json:
    await run_in_threadpool(
        registry(request).set_version_tag, msg.name, msg.version, msg.key, msg.value
    )
    return {}


async def delete_version_tag(request: Request, msg: m.DeleteModelVersionTag) -> wire.Json:
    await run_in_threadpool(registry(request).delete_version_tag, msg.name, msg.version, msg.key)
    return {}


async def transition_stage(request: Request, msg: m.TransitionModelVersionStage) -> wire.Json:
    """Under a promotion policy: APPROVAL_REQUIRED naming the approval request made."""
    await run_in_threadpool(
        approvals(request).transition,
        identity(request),
        msg.name,
        msg.version,
        msg.stage,
        msg.archive_existing_versions,
        actor(request, msg.user_id),
    )
    version = await run_in_threadpool(registry(request).get_version, msg.name, msg.version)
    return {"model_version": model_version(version)}


async def download_uri(request: Request, msg: m.ModelVersionRef) -> wire.Json:
    uri = await run_in_threadpool(registry(request).download_uri, msg.name, msg.version)
    return {"artifact_uri": uri}


async def search_versions(request: Request, msg: m.SearchModelVersions) -> wire.Json:
    page = await run_in_threadpool(
        registry(request).search_versions,
        msg.filter,
        msg.max_results,
        msg.order_by,
        msg.page_token,
        visibility=visible(request, ResourceType.REGISTERED_MODEL),
    )
    return _versions(page.items, page.next_page_token)


RM, MV = "/registered-models", "/model-versions"
READ, EDIT, MANAGE = Permission.READ, Permission.EDIT, Permission.MANAGE

ENDPOINTS = [
    Endpoint(
        ("POST",),
        f"{RM}/create",
        m.CreateRegisteredModel,
        create_model,
        "Create a registered model",
        need=p.USER_WRITE,
    ),
    Endpoint(
        ("GET",),
        f"{RM}/get",
        m.RegisteredModelRef,
        get_model,
        "Get a registered model",
        need=p.model(READ),
    ),
    Endpoint(
        ("POST",),
        f"{RM}/rename",
        m.RenameRegisteredModel,
        rename_model,
        "Rename a registered model",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("PATCH",),
        f"{RM}/update",
        m.UpdateRegisteredModel,
        update_model,
        "Update a registered model's description",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("DELETE",),
        f"{RM}/delete",
        m.RegisteredModelRef,
        delete_model,
        "Delete a registered model and its versions",
        need=p.model(MANAGE),
    ),
    Endpoint(
        ("GET", "POST"),
        f"{RM}/search",
        m.SearchRegisteredModels,
        search_models,
        "Search registered models",
        need=p.USER_READ,
    ),
    Endpoint(
        ("POST",),
        f"{RM}/set-tag",
        m.SetRegisteredModelTag,
        set_model_tag,
        "Set a registered model tag",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("DELETE",),
        f"{RM}/delete-tag",
        m.DeleteRegisteredModelTag,
        delete_model_tag,
        "Delete a registered model tag",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("POST", "GET", "DELETE"),
        f"{RM}/alias",
        m.RegisteredModelAlias,
        alias,
        "Set (POST), resolve (GET) or delete (DELETE) an alias",
        need={"POST": p.model(EDIT), "GET": p.model(READ), "DELETE": p.model(MANAGE)},
    ),
    Endpoint(
        ("POST", "GET"),
        f"{RM}/get-latest-versions",
        m.GetLatestVersions,
        latest_versions,
        "Latest version per stage",
        need=p.model(READ),
    ),
    Endpoint(
        ("POST",),
        f"{MV}/create",
        m.CreateModelVersion,
        create_version,
        "Register a model version",
        need=p.model(
            EDIT, also=(p.source_readable(), p.source_uri_readable(), p.logged_model_readable())
        ),
    ),
    Endpoint(
        ("GET",),
        f"{MV}/get",
        m.ModelVersionRef,
        get_version,
        "Get a model version",
        need=p.model(READ),
    ),
    Endpoint(
        ("PATCH",),
        f"{MV}/update",
        m.UpdateModelVersion,
        update_version,
        "Update a model version's description",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("DELETE",),
        f"{MV}/delete",
        m.ModelVersionRef,
        delete_version,
        "Delete a model version",
        need=p.model(MANAGE),
    ),
    Endpoint(
        ("POST",),
        f"{MV}/set-tag",
        m.SetModelVersionTag,
        set_version_tag,
        "Set a model version tag",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("DELETE",),
        f"{MV}/delete-tag",
        m.DeleteModelVersionTag,
        delete_version_tag,
        "Delete a model version tag",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("POST",),
        f"{MV}/transition-stage",
        m.TransitionModelVersionStage,
        transition_stage,
        "Move a model version to a stage",
        need=p.model(EDIT),
    ),
    Endpoint(
        ("GET",),
        f"{MV}/get-download-uri",
        m.ModelVersionRef,
        download_uri,
        "Where a model version's files are",
        need=p.model(READ),
    ),
    Endpoint(
        ("GET", "POST"),
        f"{MV}/search",
        m.SearchModelVersions,
        search_versions,
        "Search model versions",
        need=p.USER_READ,
    ),
]
