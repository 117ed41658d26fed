"""Handlers for /mlflow/runs/* and /mlflow/metrics/*."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import Permission, ResourceType
from cairn.entities.tracking import Dataset, Page, Run, RunQuery, parse_experiment_id
from cairn.server import wire
from cairn.server.mlflow import messages as m
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.state import identity, readable, tracking
from cairn.services.tracking import LOG_METRIC, LOG_PARAM, SET_TAG


async def create(request: Request, msg: m.CreateRun) -> wire.Json:
    tags = [(t.key, t.value) for t in msg.tags]
    user = msg.user_id
    who = identity(request)
    importing = msg.run_id is not None and who.is_admin  # an admin's import keeps its authors
    if who.user_id is not None and not importing:  # signed in: the run is theirs
        user = who.username
        tags = [(k, v) for k, v in tags if k != USER_TAG] + [(USER_TAG, who.username)]
    run = await tracking(request).acreate_run(
        msg.experiment_id, user, msg.start_time, msg.run_name, tags, run_id=msg.run_id
    )
    return {"run": wire.run(run)}


async def get(request: Request, msg: m.RunRef) -> wire.Json:
    run = await run_in_threadpool(tracking(request).get_run, msg.rid)
    return {"run": wire.run(run)}


async def update(request: Request, msg: m.UpdateRun) -> wire.Json:
    info = await run_in_threadpool(
        tracking(request).update_run, msg.rid, msg.status, msg.end_time, msg.run_name
    )
    return {"run_info": wire.run_info(info)}


async def delete(request: Request, msg: m.RunRef) -> wire.Json:
    await run_in_threadpool(tracking(request).delete_run, msg.rid)
    return {}


async def restore(request: Request, msg: m.RunRef) -> wire.Json:
    await run_in_threadpool(tracking(request).restore_run, msg.rid)
    return {}


async def log_metric(request: Request, msg: m.LogMetric) -> wire.Json:
    point = (msg.key, msg.value, msg.timestamp, msg.step)
    model_points = (
        [(msg.model_id, *point, msg.dataset_name, msg.dataset_digest)] if msg.model_id else []
    )
    await tracking(request).alog_batch(
        msg.rid, [point], model_metrics=model_points, action=LOG_METRIC
    )
    return {}


async def log_param(request: Request, msg: m.LogParam) -> wire.Json:
    await tracking(request).alog_batch(msg.rid, (), [(msg.key, msg.value)], action=LOG_PARAM)
    return {}


async def set_tag(request: Request, msg: m.SetTag) -> wire.Json:
    await tracking(request).alog_batch(msg.rid, (), (), [(msg.key, msg.value)], action=SET_TAG)
    return {}


async def delete_tag(request: Request, msg: m.DeleteTag) -> wire.Json:
    await run_in_threadpool(tracking(request).delete_tag, msg.rid, msg.key)
    return {}


async def log_batch(request: Request, msg: m.LogBatch) -> wire.Json:
    metrics = [(x["key"], x["value"], x["timestamp"], x.get("step", 0)) for x in msg.metrics]
    params: list[tuple[str, object]] = [(p.key, p.value) for p in msg.params]
    tags: list[tuple[str, object]] = [(t.key, t.value) for t in msg.tags]
    model_points = [
        (x["model_id"], x["key"], x["value"], x["timestamp"], x.get("step", 0))
        + (x.get("dataset_name"), x.get("dataset_digest"))
        for x in msg.metrics
        if x.get("model_id")
    ]
    await tracking(request).alog_batch(msg.rid, metrics, params, tags, model_points)
    return {}


async def log_inputs(request: Request, msg: m.LogInputs) -> wire.Json:
    inputs = [
        (
            Dataset(
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema_,
                d.dataset.profile,
            ),
            {t.key: t.value for t in d.tags},
        )
        for d in msg.datasets
    ]
    models = [x.model_id for x in msg.models]
    await run_in_threadpool(tracking(request).log_inputs, msg.rid, inputs, models)
    return {}


async def search(request: Request, msg: m.SearchRuns) -> wire.Json:
    ids = [str(parse_experiment_id(e, "experiment_ids")) for e in msg.experiment_ids]
    service = tracking(request)

    def answer() -> wire.Json:
        # one worker-thread trip for the access check, the search and the answer's JSON
        readable_ids = readable(request, ResourceType.EXPERIMENT, ids)
        if msg.experiment_ids and not readable_ids:
            # MLflow's way: experiments the caller may not read are dropped from the search
            return {}
        query = RunQuery(
            experiment_ids=[int(e) for e in readable_ids],
            filter=msg.filter,
            view_type=msg.run_view_type,
            max_results=msg.max_results,
            order_by=tuple(msg.order_by),
            page_token=msg.page_token,
        )
        return search_page(service.search_runs(query))

    return await run_in_threadpool(answer)


def search_page(page: Page[Run]) -> wire.Json:
    """A runs/search answer for ``page`` (the handler's, and GraphQL's mlflowSearchRuns)."""
    return wire.page("runs", [wire.run(r) for r in page.items], page.next_page_token)


async def get_history(request: Request, msg: m.GetMetricHistory) -> wire.Json:
    page = await run_in_threadpool(
        tracking(request).get_metric_history,
        msg.rid,
        msg.metric_key,
        msg.max_results,
        msg.page_token,
    )
    return wire.page("metrics", wire.history(page), page.next_page_token)


async def get_history_bulk(request: Request, msg: m.GetMetricHistoryBulk) -> wire.Json:
    points = await run_in_threadpool(
        tracking(request).get_metric_history_bulk, msg.run_id, msg.metric_key, msg.max_results
    )
    return {"metrics": [{**wire.metric(metric), "run_id": rid} for rid, metric in points]}


async def get_history_bulk_interval(
    request: Request, msg: m.GetMetricHistoryBulkInterval
) -> wire.Json:
    points = await run_in_threadpool(
        tracking(request).get_metric_history_bulk_interval,
        msg.run_ids,
        msg.metric_key,
        msg.start_step,
        msg.end_step,
        msg.max_results,
    )
    out = []
    for run_id, metric in points:
        item = wire.metric(metric)
        item["run_id"] = run_id
        out.append(item)
    return {"metrics": out} if out else {}


USER_TAG = "mlflow.user"
READ, EDIT, MANAGE = Permission.READ, Permission.EDIT, Permission.MANAGE

ENDPOINTS = [
    Endpoint(
        ("POST",),
        "/runs/create",
        m.CreateRun,
        create,
        "Create a run",
        need=p.experiment(EDIT, "experiment_id"),
    ),
    Endpoint(
        ("GET",), "/runs/get", m.RunRef, get, "Get a run with its latest metrics", need=p.run(READ)
    ),
    Endpoint(
        ("POST",),
        "/runs/update",
        m.UpdateRun,
        update,
        "Update status, end time or name",
        need=p.run(EDIT),
    ),
    Endpoint(("POST",), "/runs/delete", m.RunRef, delete, "Delete a run", need=p.run(MANAGE)),
    Endpoint(
        ("POST",), "/runs/restore", m.RunRef, restore, "Restore a deleted run", need=p.run(MANAGE)
    ),
    Endpoint(
        ("POST",),
        "/runs/log-metric",
        m.LogMetric,
        log_metric,
        "Log one metric point",
        need=p.run(EDIT),
    ),
    Endpoint(
        ("POST",), "/runs/log-parameter", m.LogParam, log_param, "Log a param", need=p.run(EDIT)
    ),
    Endpoint(("POST",), "/runs/set-tag", m.SetTag, set_tag, "Set a run tag", need=p.run(EDIT)),
    Endpoint(
        ("POST",), "/runs/delete-tag", m.DeleteTag, delete_tag, "Delete a run tag", need=p.run(EDIT)
    ),
    Endpoint(
        ("POST",),
        "/runs/log-batch",
        m.LogBatch,
        log_batch,
        "Log metrics, params and tags atomically",
        need=p.run(EDIT),
    ),
    Endpoint(
        ("POST",),
        "/runs/log-inputs",
        m.LogInputs,
        log_inputs,
        "Log dataset and logged-model inputs",
        need=p.run(EDIT),
    ),
    Endpoint(
        ("POST", "GET"), "/runs/search", m.SearchRuns, search, "Search runs", need=p.USER_READ
    ),
    Endpoint(
        ("GET",),
        "/metrics/get-history",
        m.GetMetricHistory,
        get_history,
        "A metric's full history, optionally paged",
        need=p.run(READ),
    ),
    Endpoint(
        ("GET",),
        "/metrics/get-history-bulk",
        m.GetMetricHistoryBulk,
        get_history_bulk,
        "Full history of one metric for many runs, by run id (the web UI's)",
        need=p.run(READ, "run_id", required=False),
    ),
    Endpoint(
        ("GET",),
        "/metrics/get-history-bulk-interval",
        m.GetMetricHistoryBulkInterval,
        get_history_bulk_interval,
        "Sampled history of one metric for many runs",
        need=p.run(READ, "run_ids"),
    ),
]
