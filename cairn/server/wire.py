"""The server's side of MLflow's JSON: entities as MLflow's messages, and the JSON response.
The conventions themselves (non-finite numbers, key/value lists, dataset inputs) are
:mod:`cairn.wire`'s."""

from __future__ import annotations

import math

import orjson
from starlette.responses import Response

from cairn.entities.tracking import Experiment, Metric, MetricHistory, Run, RunInfo
from cairn.wire import Json, dataset_input, kv, metric_value, number

__all__ = [
    "Json",
    "experiment",
    "history",
    "json_response",
    "metric",
    "number",
    "page",
    "run",
    "run_info",
]


def json_response(
    payload: object, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(payload),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def page(key: str, items: list[Json], next_page_token: str | None) -> Json:
    """One page of a search as MLflow answers it: ``items`` under ``key`` and the token of the
    next page, each left out when empty (an empty page is ``{}``)."""
    out: Json = {key: items} if items else {}
    if next_page_token:
        out["next_page_token"] = next_page_token
    return out


def experiment(e: Experiment) -> Json:
    out: Json = {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
    }
    if e.tags:
        out["tags"] = kv(e.tags)
    return out


def metric(m: Metric) -> Json:
    return {"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step}


def history(h: MetricHistory) -> list[Json]:
    """The points of a history as MLflow metrics (the hottest serializer: one pass, no calls
    for finite values)."""
    key, inf, ninf = h.key, math.inf, -math.inf
    return [
        {"key": key, "value": v, "timestamp": t, "step": s}
        if not (n or v == inf or v == ninf)
        else {"key": key, "value": metric_value(v, n), "timestamp": t, "step": s}
        for s, t, v, n in h.points
    ]


def run_info(i: RunInfo) -> Json:
    out: Json = {
        "run_id": i.run_id,
        "run_uuid": i.run_id,
        "experiment_id": i.experiment_id,
        "status": i.status,
        "lifecycle_stage": i.lifecycle_stage,
    }
    # optional fields are left out when unset, as MLflow does (one check each, no rebuild)
    if i.run_name is not None:
        out["run_name"] = i.run_name
    if i.user_id is not None:
        out["user_id"] = i.user_id
    if i.start_time is not None:
        out["start_time"] = i.start_time
    if i.end_time is not None:
        out["end_time"] = i.end_time
    if i.artifact_uri is not None:
        out["artifact_uri"] = i.artifact_uri
    return out


def run(r: Run) -> Json:
    data: Json = {}
    if r.metrics:
        finite = math.isfinite
        data["metrics"] = [
            {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
            if finite(m.value)
            else metric(m)
            for m in r.metrics
        ]
    if r.params:
        data["params"] = kv(r.params)
    if r.tags:
        data["tags"] = kv(r.tags)
    inputs: Json = {}
    if r.inputs:
        inputs["dataset_inputs"] = [dataset_input(di.dataset, di.tags) for di in r.inputs]
    if r.model_inputs:
        inputs["model_inputs"] = [{"model_id": m} for m in r.model_inputs]
    outputs: Json = {}
    if r.outputs:
        outputs["model_outputs"] = [{"model_id": m, "step": s} for m, s in r.outputs]
    return {"info": run_info(r.info), "data": data, "inputs": inputs, "outputs": outputs}
