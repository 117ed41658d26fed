"""The evaluation hub over HTTP: submit (the seed's shape and eval-hub's), list, read, cancel
and delete jobs, their logs and live status (Server-Sent Events), reports from external
runners, providers and collections. See docs/evaluations.md."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import ResourceType
from cairn.entities.evaluations import EvaluationJob
from cairn.evals.provider import Provider
from cairn.server.state import evaluations, identity, visible
from cairn.server.wire import json_response
from cairn.services.eval_requests import EvalRequest, from_evalhub, from_seed
from cairn.services.evaluations import DEFAULT_PAGE, MAX_PAGE

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])

STREAM_POLL_S = 0.5
STREAM_MAX_S = 3600.0
STREAM_KEEPALIVE_S = 15.0

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1 to {MAX_PAGE}")]
Token = Annotated[str | None, Query(max_length=4096, description="From the previous page")]


# ------------------------------------------------------------------------------- requests
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PrimaryScore(_Open):
    metric: str | None = Field(
        default=None, description="The metric that is this benchmark's score", max_length=250
    )
    lower_is_better: bool | None = Field(
        default=None, description="True when a lower score is better (error rates, losses)"
    )


class PassCriteria(_Open):
    threshold: float | None = Field(
        default=None, description="The score to reach (at most it, when lower is better)"
    )


class SeedModel(_Open):
    server: str | None = Field(
        default=None,
        description="The serving stack (`vllm`, `tgi`…) or an OpenAI-compatible URL",
        max_length=2048,
    )
    name: str = Field(
        description="The model: a served model's name, or a Cairn-registered version as "
        "`models:/NAME/VERSION`, `models:/NAME/Production`, `models:/NAME/latest`, "
        "`models:/NAME@ALIAS`",
        max_length=512,
    )
    configuration: dict[str, Any] | None = Field(
        default=None, description="Generation settings (`temperature`, `max_tokens`…)"
    )
    url: str | None = Field(default=None, description="An OpenAI-compatible endpoint")


class SeedBenchmark(_Open):
    benchmark_id: str = Field(description="A benchmark the provider offers", max_length=256)
    provider_id: str = Field(
        description="`lm_evaluation_harness`, `cairn`, `red_team`, `external`, `ragas`, `garak`",
        max_length=128,
    )
    config: dict[str, Any] | None = Field(
        default=None, description="The benchmark's parameters (at most 64 KB as JSON)"
    )
    weight: float | None = Field(default=None, description="Weight in the overall score (1)")
    primary_score: PrimaryScore | None = Field(default=None, description="The benchmark's score")
    pass_criteria: PassCriteria | None = Field(default=None, description="Pass/fail threshold")


class SeedExperiment(_Open):
    name: str | None = Field(
        default=None,
        description="Experiment `{prefix}_{name}` (letters, digits, `_`, `-`, `.`); without "
        "it `{prefix}_{model}_{UTC time}`",
        max_length=200,
    )
    tags: dict[str, Any] | None = Field(
        default=None, description="Tags of the experiment and of the runs"
    )


class SeedRequest(_Open):
    """The seed's evaluation request."""

    model: SeedModel = Field(description="The model to evaluate")
    benchmarks: list[SeedBenchmark] | None = Field(
        default=None, description="The benchmarks (at most 100), or give `collection`"
    )
    collection: str | dict[str, Any] | None = Field(
        default=None,
        description="A collection id (or `{id}`) instead of `benchmarks`; when neither is "
        "given, the collection named like `experiment.name`",
    )
    experiment: SeedExperiment | None = Field(default=None, description="Where results go")
    pass_criteria: PassCriteria | None = Field(
        default=None, description="Pass/fail threshold of the overall score"
    )


class HubModel(_Open):
    name: str = Field(description="As `model.name` of the seed's shape", max_length=512)
    url: str | None = Field(
        default=None, description="An OpenAI-compatible endpoint", max_length=2048
    )
    parameters: dict[str, Any] | None = Field(default=None, description="Generation settings")
    server: str | None = Field(default=None, description="The serving stack", max_length=2048)


class HubBenchmark(_Open):
    id: str = Field(description="A benchmark the provider offers", max_length=256)
    provider_id: str = Field(description="The provider", max_length=128)
    parameters: dict[str, Any] | None = Field(default=None, description="Its parameters")
    weight: float | None = Field(default=None, description="Weight in the overall score (1)")
    primary_score: PrimaryScore | None = Field(default=None, description="Its score")
    pass_criteria: PassCriteria | None = Field(default=None, description="Pass/fail threshold")


class HubTag(_Open):
    key: str = Field(description="Tag key")
    value: str = Field(description="Tag value")


class HubExperiment(_Open):
    name: str | None = Field(default=None, description="As in the seed's shape", max_length=200)
    tags: list[HubTag] | dict[str, Any] | None = Field(
        default=None, description="A list of `{key, value}`"
    )


class HubRequest(_Open):
    """eval-hub's evaluation job request."""

    model: HubModel = Field(description="The model to evaluate")
    benchmarks: list[HubBenchmark] | None = Field(
        default=None, description="The benchmarks (at most 100), or give `collection`"
    )
    collection: str | dict[str, Any] | None = Field(
        default=None, description="`{id}` of a collection instead of `benchmarks`"
    )
    experiment: HubExperiment | None = Field(default=None, description="Where results go")
    pass_criteria: PassCriteria | None = Field(
        default=None, description="Pass/fail threshold of the overall score"
    )


class ResultFile(BaseModel):
    name: str = Field(description="File name (`results.json`, `scores.csv`)", max_length=255)
    content_base64: str = Field(description="The file's bytes, base64")


class EventIn(BaseModel):
    """A runner's report on one benchmark (name it by `benchmark_index` or `benchmark_id`)."""

    benchmark_index: int | None = Field(default=None, description="0-based benchmark index")
    benchmark_id: str | None = Field(default=None, description="The benchmark's id")
    state: str | None = Field(
        default=None, description="`running`, `completed`, `failed` or `cancelled`"
    )
    phase: str | None = Field(default=None, description="What it is doing now", max_length=64)
    progress: float | None = Field(default=None, description="Fraction done, 0 to 1")
    logs: list[str] | None = Field(default=None, description="Log lines (at most 1000)")
    metrics: dict[str, float] | None = Field(default=None, description="Metrics to log")
    params: dict[str, Any] | None = Field(default=None, description="Params to log")
    artifacts: dict[str, str] | None = Field(
        default=None,
        description="Files to store on the benchmark's run: path → base64 "
        "(at most 10 MB per event)",
    )
    result_file: ResultFile | None = Field(
        default=None, description="A result file read by the provider (JSON or CSV)"
    )
    error: str | None = Field(default=None, description="Why it failed (with state failed)")


class CollectionIn(BaseModel):
    id: str = Field(description="Collection id (letters, digits, `_`, `-`, `.`)", max_length=128)
    name: str = Field(description="Display name", max_length=256)
    description: str | None = Field(default=None, description="What it checks", max_length=5000)
    benchmarks: list[dict[str, Any]] = Field(
        description="Benchmarks in the seed's shape (`benchmark_id`, `provider_id`, `config`, "
        "`weight`, `primary_score`, `pass_criteria`)"
    )


class CollectionPatch(BaseModel):
    name: str = Field(description="Display name", max_length=256)
    description: str | None = Field(default=None, description="What it checks", max_length=5000)
    benchmarks: list[dict[str, Any]] = Field(description="As in a new collection")


# ------------------------------------------------------------------------------ answers
class ModelOut(BaseModel):
    name: str = Field(description="As given")
    server: str | None = Field(description="The serving stack or URL as given")
    url: str | None = Field(description="The OpenAI-compatible endpoint")
    registered_name: str | None = Field(description="The registered model a models:/ URI named")
    registered_version: int | None = Field(description="The version it resolved to at submit")
    configuration: dict[str, Any] = Field(
        description="Generation settings (the seed's `configuration`, eval-hub's `parameters`)"
    )


class BenchmarkOut(BaseModel):
    index: int = Field(description="0-based position in the request")
    benchmark_id: str = Field(description="The benchmark")
    provider_id: str = Field(description="Its provider")
    config: dict[str, Any] = Field(description="Its parameters")
    weight: float = Field(description="Weight in the overall score")
    primary_metric: str | None = Field(description="The metric that is its score")
    lower_is_better: bool = Field(description="Lower scores are better")
    threshold: float | None = Field(description="Pass threshold, if any")
    state: str = Field(description="pending, running, completed, failed or cancelled")
    phase: str | None = Field(description="What it is doing (provider-defined)")
    progress: float | None = Field(description="Fraction done, 0 to 1")
    run_id: str | None = Field(description="Its nested run")
    results: dict[str, float | None] | None = Field(description="Its metrics (NaN/Inf: null)")
    primary_score: float | None = Field(description="Value of the primary metric")
    passed: bool | None = Field(description="Against the threshold (null without one)")
    error: str | None = Field(description="Why it failed")
    started_at: int | None = Field(description="ms since the epoch")
    finished_at: int | None = Field(description="ms since the epoch")


class EvaluationJobOut(BaseModel):
    id: str = Field(description="The job id (`ev-` + 20 hex digits)")
    state: str = Field(
        description="pending, running, completed, failed, cancelled or partially_failed"
    )
    shape: str = Field(description="The request shape it came in (`seed` or `evalhub`)")
    experiment_id: str = Field(description="The experiment holding its runs")
    experiment_name: str = Field(description="`{prefix}_{name}`")
    experiment_url: str = Field(description="The experiment in the web UI")
    parent_run_id: str | None = Field(description="The run of the whole request")
    model: ModelOut = Field(description="The model evaluated")
    benchmarks: list[BenchmarkOut] = Field(description="Per benchmark: state, run, results")
    overall_score: float | None = Field(description="Weighted mean of the primary scores")
    passed: bool | None = Field(description="Pass/fail (null without criteria)")
    tags: dict[str, str] = Field(description="The request's tags")
    collection_id: str | None = Field(description="The collection it ran, if any")
    created_by: str = Field(description="Who submitted it")
    created_at: int = Field(description="ms since the epoch")
    started_at: int | None = Field(description="ms since the epoch")
    finished_at: int | None = Field(description="ms since the epoch")
    error: str | None = Field(description="The failed benchmarks' errors")
    runner_token: str | None = Field(
        default=None,
        description="Only in the submit answer, once, when a benchmark runs outside Cairn: "
        "`Authorization: Bearer <token>` on this job's GET and events routes",
    )


class EvaluationJobList(BaseModel):
    jobs: list[EvaluationJobOut] = Field(description="Newest first")
    next_page_token: str | None = Field(default=None, description="Next page, if any")


class LogLineOut(BaseModel):
    seq: int = Field(description="Sequence number (ask `after` the last one)")
    time: int = Field(description="ms since the epoch")
    index: int | None = Field(description="The benchmark, or null for the job")
    line: str = Field(description="The text")


class LogsOut(BaseModel):
    lines: list[LogLineOut] = Field(description="In order")
    next: int = Field(description="Pass as `after` to get the lines that follow")


class ParamOut(BaseModel):
    type: str = Field(description="int, float, str, bool, list or object")
    description: str = Field(description="What it does")
    default: Any = Field(default=None, description="Its default")
    required: bool = Field(description="Must be given")


class BenchmarkInfoOut(BaseModel):
    id: str = Field(description="Benchmark id")
    name: str = Field(description="Display name")
    description: str = Field(description="What it measures")
    category: str = Field(description="Its kind")
    metrics: list[str] = Field(description="Metric keys it records")
    primary_metric: str = Field(description="Its score")
    lower_is_better: bool = Field(description="Lower is better")
    parameters: dict[str, ParamOut] = Field(description="Its parameters")
    open_ended: bool = Field(description="The provider takes ids it does not list")


class ProviderOut(BaseModel):
    id: str = Field(description="Provider id")
    name: str = Field(description="Display name")
    description: str = Field(description="What it runs")
    runs_in_cairn: bool = Field(description="False: an external runner reports its results")
    benchmarks: list[BenchmarkInfoOut] = Field(description="What it offers")


class ProviderList(BaseModel):
    providers: list[ProviderOut] = Field(description="Every installed provider")


class CollectionOut(BaseModel):
    id: str = Field(description="Collection id")
    name: str = Field(description="Display name")
    description: str = Field(description="What it checks")
    benchmarks: list[dict[str, Any]] = Field(description="Its benchmarks (the seed's shape)")
    shipped: bool = Field(description="Shipped with a provider (cannot be changed)")


class CollectionList(BaseModel):
    collections: list[CollectionOut] = Field(description="Shipped ones, then users'")


# ------------------------------------------------------------------------------- helpers
def _job(request: Request, job: EvaluationJob, token: str | None = None) -> dict[str, Any]:
    out = job.to_json()
    base = str(request.base_url).rstrip("/")
    out["experiment_url"] = f"{base}/#/experiments/{job.experiment_id}"
    if token is not None:
        out["runner_token"] = token
    return out


def _provider(found: Provider) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "description": found.description,
        "runs_in_cairn": found.runs_in_cairn,
        "benchmarks": [
            {
                "id": b.id,
                "name": b.name,
                "description": b.description,
                "category": b.category,
                "metrics": list(b.metrics),
                "primary_metric": b.primary_metric,
                "lower_is_better": b.lower_is_better,
                "parameters": {
                    k: {
                        "type": s.type,
                        "description": s.description,
                        "default": s.default,
                        "required": s.required,
                    }
                    for k, s in b.parameters.items()
                },
                "open_ended": b.open_ended,
            }
            for b in found.benchmarks()
        ],
    }


def _dump(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_none=True)


async def _submit(request: Request, parsed: EvalRequest) -> Response:
    job, token = await run_in_threadpool(evaluations(request).submit, identity(request), parsed)
    return json_response(_job(request, job, token), 202)


# -------------------------------------------------------------------------------- routes
@router.post(
    "",
    response_model=EvaluationJobOut,
    status_code=202,
    summary="Submit an evaluation (the seed's request shape)",
    description="Creates the experiment (get-or-create), the parent run, one nested run per "
    "benchmark and the job, queues the benchmarks Cairn runs, and answers at once (202). "
    "Needs the right to create experiments (EDIT on the experiment when it exists) and READ "
    "on a registered model the request names.",
)
@requires(p.USER_WRITE)
async def submit_seed(request: Request, body: SeedRequest) -> Response:
    return await _submit(request, from_seed(_dump(body)))


@router.post(
    "/jobs",
    response_model=EvaluationJobOut,
    status_code=202,
    summary="Submit an evaluation job (eval-hub's request shape)",
    description="As `POST /api/v1/evaluations`, with eval-hub's field names.",
)
@requires(p.USER_WRITE)
async def submit_hub(request: Request, body: HubRequest) -> Response:
    return await _submit(request, from_evalhub(_dump(body)))


@router.get(
    "/jobs",
    response_model=EvaluationJobList,
    summary="Evaluation jobs, newest first",
    description="Only jobs of experiments the caller may read.",
)
@requires(p.USER_READ)
async def list_jobs(
    request: Request,
    state: Annotated[str | None, Query(description="A job state", max_length=40)] = None,
    model: Annotated[
        str | None, Query(description="Model name as given, or registered name", max_length=512)
    ] = None,
    experiment_id: Annotated[str | None, Query(description="Experiment id", max_length=20)] = None,
    tag: Annotated[str | None, Query(description="`key:value`", max_length=5300)] = None,
    max_results: Page = DEFAULT_PAGE,
    page_token: Token = None,
) -> Response:
    def read() -> Any:
        seen = visible(request, ResourceType.EXPERIMENT)
        return evaluations(request).page(
            seen, state, model, experiment_id, tag, max_results, page_token
        )

    found = await run_in_threadpool(read)
    return json_response(
        {"jobs": [_job(request, j) for j in found.jobs], "next_page_token": found.next_page_token}
    )


@router.get(
    "/jobs/{job_id}",
    response_model=EvaluationJobOut,
    summary="One evaluation job",
    description="Readers of its experiment, or its runner token.",
)
@requires(p.EVAL_RUNNER_READ)
async def get_job(request: Request, job_id: str) -> Response:
    job = await run_in_threadpool(evaluations(request).get, identity(request), job_id)
    return json_response(_job(request, job))


@router.delete(
    "/jobs/{job_id}",
    response_model=EvaluationJobOut,
    summary="Cancel an evaluation job (and delete it with hard_delete=true)",
    description="Pending benchmarks are cancelled at once, running ones asked to stop; the job "
    "is `cancelled`. `hard_delete=true` then removes the job's record (its experiment and runs "
    "stay). A finished job is returned unchanged (or deleted). MANAGE on its experiment.",
)
@requires(p.USER_WRITE)
async def cancel_job(
    request: Request,
    job_id: str,
    hard_delete: Annotated[bool, Query(description="Remove the job's record too")] = False,
) -> Response:
    job = await run_in_threadpool(
        evaluations(request).cancel, identity(request), job_id, hard_delete
    )
    return json_response(_job(request, job))


@router.get(
    "/jobs/{job_id}/logs",
    response_model=LogsOut,
    summary="An evaluation job's log lines",
)
@requires(p.EVAL_RUNNER_READ)
async def job_logs(
    request: Request,
    job_id: str,
    after: Annotated[int, Query(ge=0, description="Lines after this sequence number")] = 0,
    max_results: Annotated[int, Query(ge=1, le=5000, description="At most this many")] = 1000,
) -> Response:
    lines, nxt = await run_in_threadpool(
        evaluations(request).logs, identity(request), job_id, after, max_results
    )
    return json_response({"lines": [x.to_json() for x in lines], "next": nxt})


@router.post(
    "/jobs/{job_id}/events",
    response_model=EvaluationJobOut,
    summary="Report on an external benchmark (runner)",
    description="`Authorization: Bearer <runner_token>` (or MANAGE on the job's experiment). "
    "Only benchmarks of providers that run outside Cairn take events.",
)
@requires(p.EVAL_RUNNER_WRITE)
async def job_event(request: Request, job_id: str, body: EventIn) -> Response:
    job = await run_in_threadpool(
        evaluations(request).post_event, identity(request), job_id, _dump(body)
    )
    return json_response(_job(request, job))


@router.get(
    "/jobs/{job_id}/stream",
    summary="Live status (Server-Sent Events)",
    description="`text/event-stream`: one `event: job` with the job's JSON at once and on "
    "every change (checked twice a second); ends after a terminal state, when the client "
    "goes, or after an hour.",
    response_class=StreamingResponse,
)
@requires(p.EVAL_RUNNER_READ)
async def job_stream(request: Request, job_id: str) -> Response:
    service, who = evaluations(request), identity(request)
    first = await run_in_threadpool(service.get, who, job_id)

    async def events() -> AsyncIterator[bytes]:
        job: EvaluationJob | None = first
        last = b""
        started = sent_at = time.monotonic()
        while time.monotonic() - started < STREAM_MAX_S:
            if job is not None:
                data = orjson.dumps(_job(request, job))
                if data != last:
                    last, sent_at = data, time.monotonic()
                    yield b"event: job\ndata: " + data + b"\n\n"
                if job.terminal:
                    return
            if time.monotonic() - sent_at > STREAM_KEEPALIVE_S:
                sent_at = time.monotonic()
                yield b": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(STREAM_POLL_S)
            try:
                job = await run_in_threadpool(service.get, who, job_id)
            except Exception:  # deleted meanwhile: the stream ends
                return

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/providers", response_model=ProviderList, summary="Evaluation providers")
@requires(p.USER_READ)
async def list_providers(request: Request) -> Response:
    found = evaluations(request).providers()
    return json_response({"providers": [_provider(x) for x in found]})


@router.get("/providers/{provider_id}", response_model=ProviderOut, summary="One provider")
@requires(p.USER_READ)
async def get_provider(request: Request, provider_id: str) -> Response:
    return json_response(_provider(evaluations(request).provider(provider_id)))


@router.get(
    "/collections",
    response_model=CollectionList,
    summary="Benchmark collections",
    description="The providers' shipped collections, then users'.",
)
@requires(p.USER_READ)
async def list_collections(request: Request) -> Response:
    found = await run_in_threadpool(evaluations(request).collections)
    return json_response({"collections": [c.to_json() for c in found]})


@router.post(
    "/collections", response_model=CollectionOut, status_code=201, summary="Create a collection"
)
@requires(p.USER_WRITE)
async def create_collection(request: Request, body: CollectionIn) -> Response:
    made = await run_in_threadpool(
        evaluations(request).create_collection, identity(request), _dump(body)
    )
    return json_response(made.to_json(), 201)


@router.get("/collections/{collection_id}", response_model=CollectionOut, summary="A collection")
@requires(p.USER_READ)
async def get_collection(request: Request, collection_id: str) -> Response:
    found = await run_in_threadpool(evaluations(request).collection, collection_id)
    return json_response(found.to_json())


@router.put(
    "/collections/{collection_id}",
    response_model=CollectionOut,
    summary="Change a collection",
    description="Its creator or an admin; shipped collections cannot be changed.",
)
@requires(p.USER_WRITE)
async def update_collection(
    request: Request, collection_id: str, body: CollectionPatch
) -> Response:
    made = await run_in_threadpool(
        evaluations(request).update_collection, identity(request), collection_id, _dump(body)
    )
    return json_response(made.to_json())


@router.delete(
    "/collections/{collection_id}",
    summary="Delete a collection",
    description="Its creator or an admin; shipped collections cannot be deleted.",
)
@requires(p.USER_WRITE)
async def delete_collection(request: Request, collection_id: str) -> Response:
    await run_in_threadpool(
        evaluations(request).delete_collection, identity(request), collection_id
    )
    return json_response({})
