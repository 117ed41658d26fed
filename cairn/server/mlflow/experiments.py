"""Handlers for /mlflow/experiments/*."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import Permission, ResourceType
from cairn.server import wire
from cairn.server.mlflow import messages as m
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.state import created, datasets, readable, tracking, visible


async def create(request: Request, msg: m.CreateExperiment) -> wire.Json:
    tags = [(t.key, t.value) for t in msg.tags]
    eid = await run_in_threadpool(
        tracking(request).create_experiment, msg.name, msg.artifact_location, tags
    )
    await run_in_threadpool(created, request, ResourceType.EXPERIMENT, str(eid))
    return {"experiment_id": eid}


async def get(request: Request, msg: m.GetExperiment) -> wire.Json:
    exp = await run_in_threadpool(tracking(request).get_experiment, msg.experiment_id)
    return {"experiment": wire.experiment(exp)}


async def get_by_name(request: Request, msg: m.GetExperimentByName) -> wire.Json:
    exp = await run_in_threadpool(tracking(request).get_experiment_by_name, msg.experiment_name)
    return {"experiment": wire.experiment(exp)}


async def search(request: Request, msg: m.SearchExperiments) -> wire.Json:
    page = await run_in_threadpool(
        tracking(request).search_experiments,
        msg.view_type,
        msg.max_results,
        msg.filter,
        msg.order_by,
        msg.page_token,
        visibility=visible(request, ResourceType.EXPERIMENT),
    )
    return wire.page("experiments", [wire.experiment(e) for e in page.items], page.next_page_token)


async def update(request: Request, msg: m.UpdateExperiment) -> wire.Json:
    await run_in_threadpool(tracking(request).rename_experiment, msg.experiment_id, msg.new_name)
    return {}


async def delete(request: Request, msg: m.ExperimentRef) -> wire.Json:
    await run_in_threadpool(tracking(request).delete_experiment, msg.experiment_id)
    return {}


async def restore(request: Request, msg: m.ExperimentRef) -> wire.Json:
    await run_in_threadpool(tracking(request).restore_experiment, msg.experiment_id)
    return {}


async def set_tag(request: Request, msg: m.SetExperimentTag) -> wire.Json:
    await run_in_threadpool(
        tracking(request).set_experiment_tag, msg.experiment_id, msg.key, msg.value
    )
    return {}


async def delete_tag(request: Request, msg: m.DeleteExperimentTag) -> wire.Json:
    await run_in_threadpool(tracking(request).delete_experiment_tag, msg.experiment_id, msg.key)
    return {}


async def search_datasets(request: Request, msg: m.SearchDatasets) -> wire.Json:
    found = await run_in_threadpool(datasets(request).summaries, msg.experiment_ids)
    # experiments the caller may not read are left out, as runs/search does
    allowed = set(
        await run_in_threadpool(
            readable, request, ResourceType.EXPERIMENT, sorted({e for e, *_ in found})
        )
    )
    out = []
    for experiment_id, name, digest, context in found:
        if experiment_id not in allowed:
            continue
        item = {"experiment_id": experiment_id, "name": name, "digest": digest}
        if context:
            item["context"] = context
        out.append(item)
    return {"dataset_summaries": out} if out else {}


READ, EDIT, MANAGE = Permission.READ, Permission.EDIT, Permission.MANAGE

ENDPOINTS = [
    Endpoint(
        ("POST",),
        "/experiments/create",
        m.CreateExperiment,
        create,
        "Create an experiment",
        need=p.USER_WRITE,
    ),
    Endpoint(
        ("GET",),
        "/experiments/get",
        m.GetExperiment,
        get,
        "Get an experiment by id",
        need=p.experiment(READ, "experiment_id"),
    ),
    Endpoint(
        ("GET",),
        "/experiments/get-by-name",
        m.GetExperimentByName,
        get_by_name,
        "Get an experiment by name",
        need=p.experiment(READ, "experiment_name", names=p.Names.EXPERIMENT_NAME),
    ),
    Endpoint(
        ("POST", "GET"),
        "/experiments/search",
        m.SearchExperiments,
        search,
        "Search experiments",
        need=p.USER_READ,
    ),
    Endpoint(
        ("POST",),
        "/experiments/update",
        m.UpdateExperiment,
        update,
        "Rename an experiment",
        need=p.experiment(EDIT, "experiment_id"),
    ),
    Endpoint(
        ("POST",),
        "/experiments/delete",
        m.ExperimentRef,
        delete,
        "Delete an experiment",
        need=p.experiment(MANAGE, "experiment_id"),
    ),
    Endpoint(
        ("POST",),
        "/experiments/restore",
        m.ExperimentRef,
        restore,
        "Restore an experiment",
        need=p.experiment(MANAGE, "experiment_id"),
    ),
    Endpoint(
        ("POST",),
        "/experiments/set-experiment-tag",
        m.SetExperimentTag,
        set_tag,
        "Set a tag on an experiment",
        need=p.experiment(EDIT, "experiment_id"),
    ),
    Endpoint(
        ("POST",),
        "/experiments/delete-experiment-tag",
        m.DeleteExperimentTag,
        delete_tag,
        "Delete a tag of an experiment",
        need=p.experiment(EDIT, "experiment_id"),
    ),
    Endpoint(
        ("POST",),
        "/experiments/search-datasets",
        m.SearchDatasets,
        search_datasets,
        "Dataset summaries (name, digest, context) of experiments' runs (the web UI's)",
        need=p.USER_READ,
    ),
]
