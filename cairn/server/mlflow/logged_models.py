"""Handlers for MLflow 3 logged models (/mlflow/logged-models/*), a run's model outputs
(/mlflow/runs/outputs) and the 2.x model history (/mlflow/runs/log-model).

mlflow 3 clients create a logged model (PENDING), record it as the run's output, upload its
files under ``<experiment>/models/<model_id>/artifacts`` and finalize it (READY). They also
search logged models while resolving every ``runs:/<run>/<path>`` URI
(``name = '<first path segment>'``), which answers ``{}`` when nothing matches.
"""

from __future__ import annotations

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.access import Permission, ResourceType
from cairn.entities.logged_models import LoggedModel
from cairn.server import wire
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.mlflow.messages import IdList, Int64, KeyValue, Message, RunRef
from cairn.server.state import identity, logged_models, readable
from cairn.wire import kv, metric


class OrderByField(Message):
    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


class CreateLoggedModel(Message):
    """POST /mlflow/logged-models"""

    experiment_id: str
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[KeyValue] = []
    tags: list[KeyValue] = []
    model_id: str | None = Field(
        None,
        description=(
            "Cairn's extension, for imports: the id the new model gets ('m-' and 32 lowercase "
            "hex digits, as MLflow makes them); RESOURCE_ALREADY_EXISTS when taken. The stock "
            "client never sends it."
        ),
    )


class GetLoggedModel(Message):
    """GET /mlflow/logged-models/{model_id}"""

    allow_deleted: bool = False


class FinalizeLoggedModel(Message):
    """PATCH /mlflow/logged-models/{model_id}"""

    model_id: str | None = None
    status: str | int


class DeleteLoggedModel(Message):
    """DELETE /mlflow/logged-models/{model_id}"""

    model_id: str | None = None


class SetLoggedModelTags(Message):
    """PATCH /mlflow/logged-models/{model_id}/tags"""

    tags: list[KeyValue] = []


class DeleteLoggedModelTag(Message):
    """DELETE /mlflow/logged-models/{model_id}/tags/{tag_key}"""


class LogLoggedModelParams(Message):
    """POST /mlflow/logged-models/{model_id}/params"""

    params: list[KeyValue] = []


class DatasetFilter(Message):
    dataset_name: str | None = None
    dataset_digest: str | None = None


class SearchLoggedModels(Message):
    """POST /mlflow/logged-models/search"""

    experiment_ids: IdList = []
    filter: str | None = None
    datasets: list[DatasetFilter] = []
    max_results: Int64 = 100
    order_by: list[OrderByField] = []
    page_token: str | None = None


class ModelOutputIn(Message):
    model_id: str
    step: Int64 = 0


class LogOutputs(RunRef):
    """POST /mlflow/runs/outputs"""

    models: list[ModelOutputIn] = []


class LogModel(RunRef):
    """POST /mlflow/runs/log-model"""

    model_json: str


def _given(out: wire.Json, **optional: object) -> wire.Json:
    """``out`` with those of ``optional`` that are set (MLflow leaves unset fields out)."""
    out.update((key, value) for key, value in optional.items() if value is not None)
    return out


def model_json(m: LoggedModel) -> wire.Json:
    info = _given(
        {
            "model_id": m.model_id,
            "experiment_id": m.experiment_id,
            "name": m.name,
            "creation_timestamp_ms": m.creation_time,
            "last_updated_timestamp_ms": m.last_updated_time,
            "artifact_uri": m.artifact_uri,
            "status": m.status,
        },
        model_type=m.model_type,
        source_run_id=m.source_run_id,
        status_message=m.status_message,
    )
    if m.tags:
        info["tags"] = kv(m.tags)
    data: wire.Json = {}
    if m.params:
        data["params"] = kv(m.params)
    if m.metrics:
        data["metrics"] = [
            _given(
                {**metric(p.key, p.value, p.timestamp, p.step), "model_id": m.model_id},
                run_id=p.run_id,
                dataset_name=p.dataset_name,
                dataset_digest=p.dataset_digest,
            )
            for p in m.metrics
        ]
    return {"info": info, "data": data}


def _model_id(request: Request) -> str:
    model_id: str = request.path_params["model_id"]
    return model_id


async def create(request: Request, msg: CreateLoggedModel) -> wire.Json:
    model = await run_in_threadpool(
        logged_models(request).create,
        msg.experiment_id,
        msg.name,
        msg.source_run_id,
        msg.model_type,
        [(t.key, t.value) for t in msg.tags],
        [(p.key, p.value) for p in msg.params],
        msg.model_id,
    )
    return {"model": model_json(model)}


async def get(request: Request, msg: GetLoggedModel) -> wire.Json:
    model = await run_in_threadpool(
        logged_models(request).get, _model_id(request), msg.allow_deleted
    )
    return {"model": model_json(model)}


async def finalize(request: Request, msg: FinalizeLoggedModel) -> wire.Json:
    model = await run_in_threadpool(logged_models(request).finalize, _model_id(request), msg.status)
    return {"model": model_json(model)}


async def delete(request: Request, msg: DeleteLoggedModel) -> wire.Json:
    await run_in_threadpool(logged_models(request).delete, _model_id(request))
    return {}


async def set_tags(request: Request, msg: SetLoggedModelTags) -> wire.Json:
    tags = [(t.key, t.value) for t in msg.tags]
    await run_in_threadpool(logged_models(request).set_tags, _model_id(request), tags)
    return {}


async def delete_tag(request: Request, msg: DeleteLoggedModelTag) -> wire.Json:
    key: str = request.path_params["tag_key"]
    await run_in_threadpool(logged_models(request).delete_tag, _model_id(request), key)
    return {}


async def log_params(request: Request, msg: LogLoggedModelParams) -> wire.Json:
    params = [(p.key, p.value) for p in msg.params]
    await run_in_threadpool(logged_models(request).log_params, _model_id(request), params)
    return {}


async def search(request: Request, msg: SearchLoggedModels) -> wire.Json:
    asked = [str(e) for e in msg.experiment_ids]
    ids = await run_in_threadpool(readable, request, ResourceType.EXPERIMENT, asked)
    if (asked and not ids) or not (asked or identity(request).unrestricted):
        return {}  # nothing readable asked for; no ids means every experiment to the store
    page = await run_in_threadpool(
        logged_models(request).search,
        ids,
        msg.filter,
        [(o.field_name, o.ascending) for o in msg.order_by],
        msg.max_results,
        msg.page_token,
        [(d.dataset_name, d.dataset_digest) for d in msg.datasets],
    )
    return wire.page("models", [model_json(m) for m in page.items], page.next_page_token)


async def log_outputs(request: Request, msg: LogOutputs) -> wire.Json:
    models = [(x.model_id, x.step) for x in msg.models]
    await run_in_threadpool(logged_models(request).log_outputs, msg.rid, models)
    return {}


async def log_model(request: Request, msg: LogModel) -> wire.Json:
    await run_in_threadpool(logged_models(request).log_model_json, msg.rid, msg.model_json)
    return {}


MODEL = "/logged-models/{model_id}"

READ, EDIT, MANAGE = Permission.READ, Permission.EDIT, Permission.MANAGE

ENDPOINTS = [
    Endpoint(
        ("POST",),
        "/logged-models",
        CreateLoggedModel,
        create,
        "Create a logged model",
        need=p.experiment(EDIT, "experiment_id"),
    ),
    Endpoint(
        ("POST",),
        "/logged-models/search",
        SearchLoggedModels,
        search,
        "Search logged models",
        need=p.USER_READ,
    ),
    Endpoint(("GET",), MODEL, GetLoggedModel, get, "Get a logged model", need=p.logged_model(READ)),
    Endpoint(
        ("PATCH",),
        MODEL,
        FinalizeLoggedModel,
        finalize,
        "Finalize a logged model (READY/FAILED)",
        need=p.logged_model(EDIT),
    ),
    Endpoint(
        ("DELETE",),
        MODEL,
        DeleteLoggedModel,
        delete,
        "Delete a logged model",
        need=p.logged_model(MANAGE),
    ),
    Endpoint(
        ("PATCH",),
        MODEL + "/tags",
        SetLoggedModelTags,
        set_tags,
        "Set tags on a logged model",
        need=p.logged_model(EDIT),
    ),
    Endpoint(
        ("DELETE",),
        MODEL + "/tags/{tag_key}",
        DeleteLoggedModelTag,
        delete_tag,
        "Delete a tag of a logged model",
        need=p.logged_model(EDIT),
    ),
    Endpoint(
        ("POST",),
        MODEL + "/params",
        LogLoggedModelParams,
        log_params,
        "Log params of a logged model",
        need=p.logged_model(EDIT),
    ),
    Endpoint(
        ("POST",),
        "/runs/outputs",
        LogOutputs,
        log_outputs,
        "Record a run's output models",
        need=p.run(EDIT),
    ),
    Endpoint(
        ("POST",),
        "/runs/log-model",
        LogModel,
        log_model,
        "Append an MLmodel to the run's model history (2.x clients)",
        need=p.run(EDIT),
    ),
]
