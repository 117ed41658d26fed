"""``/graphql``: the GraphQL queries MLflow's web UI issues, answered by the MLflow handlers.

MLflow's UI (and MLflow's own REST test suite) posts ``{"query", "variables",
"operationName"}`` to ``/graphql``. The schema here has MLflow's type, field and argument names
(``mlflowGetRun(input: {runId})``, ``MlflowRunExtension.modelVersions``, ``LongString``…);
each root field calls the MLflow JSON handler of the endpoint it mirrors (``runs/get``,
``experiments/get``, ``model-versions/search``, ``metrics/get-history-bulk-interval``,
``artifacts/list``, ``runs/search``, ``experiments/search-datasets``), so the business logic and
the wire shape are theirs, and builds the GraphQL objects from that JSON with protobuf's
defaults for unset fields (an unset string is ``""``, a ``LongString`` ``"0"``), as MLflow's
graphene schema reads them off its protobuf messages. A non-finite metric value is ``null``.

Access: the route needs a signed-in user (the access layer); each root field is then checked
through the same layer's :func:`~cairn.server.access.permit` with the need its REST endpoint
declares, its ``input`` standing in for that endpoint's body (READ on the run's experiment
for ``mlflowGetRun``; searches show only what the caller may read, as their endpoints do).

Limits, as MLflow's server: at most 10 root fields, 10 aliases in one selection set, depth 10
and 1000 selections in all (fragments counted where they are spread), checked before anything
runs and answered as GraphQL errors (200, ``{"data": null, "errors": [...]}``). A body over
the server's request limit is 413; a body that is not a JSON object, a missing ``query`` and a
query that does not parse (or has more than :data:`MAX_TOKENS` tokens) are 400 in the one
error shape. Errors of a field are listed by message in ``errors`` (MLflow's shape: strings),
that field ``null``.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, NewType, TypeVar

import orjson
import strawberry
from graphql import DirectiveLocation, GraphQLError, parse
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from cairn.access import policy as p
from cairn.access.policy import Need, need_of
from cairn.entities.errors import CairnError
from cairn.server.access import Request_, permit
from cairn.server.errors import validation_message
from cairn.server.limits import too_large
from cairn.server.mlflow import artifacts, experiments, registry, runs
from cairn.server.mlflow import messages as m
from cairn.server.mlflow import registry_messages as rm
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.state import access, identity, tracking
from cairn.server.wire import Json, json_response

log = logging.getLogger("cairn.server.graphql")

PATHS = ("/graphql", "/ajax-api/graphql")
MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10
MAX_DEPTH = 10
MAX_SELECTIONS = 1000
MAX_TOKENS = 20_000
"""The most tokens a query may have (a query within the limits above has far fewer)."""

T = TypeVar("T")


# ------------------------------------------------------------------------- scalars, enums
LongString = NewType("LongString", str)
"""MLflow's ``LongString``: a 64-bit integer as a string (JavaScript's numbers stop at 2^53)."""
ZERO = LongString("0")

LONG_STRING = strawberry.scalar(
    name="LongString",
    description="LongString Scalar type to prevent truncation to max integer in JavaScript.",
    serialize=str,
    parse_value=str,
)


@strawberry.enum(name="MlflowRunStatus")
class RunStatus(enum.Enum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


@strawberry.enum(name="MlflowModelVersionStatus")
class ModelVersionStatus(enum.Enum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


@strawberry.enum(name="MlflowViewType")
class ViewType(enum.Enum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"


# ------------------------------------------------------------------------------- objects
@strawberry.type(name="ErrorDetail")
class ErrorDetail:
    field: str | None = None
    message: str | None = None


@strawberry.type(name="ApiError")
class ApiError:
    code: str | None = None
    message: str | None = None
    help_url: str | None = None
    trace_id: str | None = None
    error_details: list[ErrorDetail] | None = None


@strawberry.type(name="MlflowExperimentTag")
class ExperimentTag:
    key: str | None = ""
    value: str | None = ""


@strawberry.type(name="MlflowExperiment")
class Experiment:
    experiment_id: str | None = ""
    name: str | None = ""
    artifact_location: str | None = ""
    lifecycle_stage: str | None = ""
    last_update_time: LongString | None = ZERO
    creation_time: LongString | None = ZERO
    tags: list[ExperimentTag] | None = dataclasses.field(default_factory=list)


@strawberry.type(name="MlflowModelVersionTag")
class ModelVersionTag:
    key: str | None = ""
    value: str | None = ""


@strawberry.type(name="MlflowModelVersion")
class ModelVersion:
    name: str | None = ""
    version: str | None = ""
    creation_timestamp: LongString | None = ZERO
    last_updated_timestamp: LongString | None = ZERO
    user_id: str | None = ""
    current_stage: str | None = ""
    description: str | None = ""
    source: str | None = ""
    run_id: str | None = ""
    status: ModelVersionStatus | None = ModelVersionStatus.PENDING_REGISTRATION
    status_message: str | None = ""
    tags: list[ModelVersionTag] | None = dataclasses.field(default_factory=list)
    run_link: str | None = ""
    aliases: list[str | None] | None = dataclasses.field(default_factory=list)


@strawberry.type(name="MlflowMetric")
class Metric:
    key: str | None = ""
    value: float | None = 0.0
    timestamp: LongString | None = ZERO
    step: LongString | None = ZERO
    dataset_name: str | None = ""
    dataset_digest: str | None = ""
    model_id: str | None = ""
    run_id: str | None = ""


@strawberry.type(name="MlflowMetricWithRunId")
class MetricWithRunId:
    key: str | None = ""
    value: float | None = 0.0
    timestamp: LongString | None = ZERO
    step: LongString | None = ZERO
    run_id: str | None = ""


@strawberry.type(name="MlflowParam")
class Param:
    key: str | None = ""
    value: str | None = ""


@strawberry.type(name="MlflowRunTag")
class RunTag:
    key: str | None = ""
    value: str | None = ""


@strawberry.type(name="MlflowRunData")
class RunData:
    metrics: list[Metric] | None = dataclasses.field(default_factory=list)
    params: list[Param] | None = dataclasses.field(default_factory=list)
    tags: list[RunTag] | None = dataclasses.field(default_factory=list)


@strawberry.type(name="MlflowRunInfo")
class RunInfo:
    run_id: str | None = ""
    run_uuid: str | None = ""
    run_name: str | None = ""
    experiment_id: str | None = ""
    user_id: str | None = ""
    status: RunStatus | None = RunStatus.RUNNING
    start_time: LongString | None = ZERO
    end_time: LongString | None = ZERO
    artifact_uri: str | None = ""
    lifecycle_stage: str | None = ""


@strawberry.type(name="MlflowDataset")
class Dataset:
    name: str | None = ""
    digest: str | None = ""
    source_type: str | None = ""
    source: str | None = ""
    schema: str | None = ""
    profile: str | None = ""


@strawberry.type(name="MlflowInputTag")
class InputTag:
    key: str | None = ""
    value: str | None = ""


@strawberry.type(name="MlflowDatasetInput")
class DatasetInput:
    tags: list[InputTag] | None = dataclasses.field(default_factory=list)
    dataset: Dataset | None = dataclasses.field(default_factory=Dataset)


@strawberry.type(name="MlflowModelInput")
class ModelInput:
    model_id: str | None = ""


@strawberry.type(name="MlflowRunInputs")
class RunInputs:
    dataset_inputs: list[DatasetInput] | None = dataclasses.field(default_factory=list)
    model_inputs: list[ModelInput] | None = dataclasses.field(default_factory=list)


@strawberry.type(name="MlflowModelOutput")
class ModelOutput:
    model_id: str | None = ""
    step: LongString | None = ZERO


@strawberry.type(name="MlflowRunOutputs")
class RunOutputs:
    model_outputs: list[ModelOutput] | None = dataclasses.field(default_factory=list)


@strawberry.type(name="MlflowRunExtension")
class Run:
    info: RunInfo | None = dataclasses.field(default_factory=RunInfo)
    data: RunData | None = dataclasses.field(default_factory=RunData)
    inputs: RunInputs | None = dataclasses.field(default_factory=RunInputs)
    outputs: RunOutputs | None = dataclasses.field(default_factory=RunOutputs)

    @strawberry.field
    async def experiment(self, info: Info) -> Experiment | None:
        experiment_id = self.info.experiment_id if self.info else ""
        found = await _call(info, _EXPERIMENT_GET, {"experiment_id": experiment_id})
        return _build(Experiment, found.get("experiment", {}))

    @strawberry.field
    async def model_versions(self, info: Info) -> list[ModelVersion] | None:
        run_id = self.info.run_id if self.info else ""
        query = {"filter": f"run_id='{run_id}'"}
        found = await _call(info, _VERSIONS_SEARCH, query)
        return [_build(ModelVersion, v) for v in found.get("model_versions", [])]


@strawberry.type(name="MlflowGetExperimentResponse")
class GetExperimentResponse:
    experiment: Experiment | None = None
    api_error: ApiError | None = strawberry.field(name="apiError", default=None)


@strawberry.type(name="MlflowGetRunResponse")
class GetRunResponse:
    run: Run | None = None
    api_error: ApiError | None = strawberry.field(name="apiError", default=None)


@strawberry.type(name="MlflowSearchRunsResponse")
class SearchRunsResponse:
    runs: list[Run] | None = dataclasses.field(default_factory=list)
    next_page_token: str | None = ""
    api_error: ApiError | None = strawberry.field(name="apiError", default=None)


@strawberry.type(name="MlflowSearchModelVersionsResponse")
class SearchModelVersionsResponse:
    model_versions: list[ModelVersion] | None = dataclasses.field(default_factory=list)
    next_page_token: str | None = ""
    api_error: ApiError | None = strawberry.field(name="apiError", default=None)


@strawberry.type(name="MlflowGetMetricHistoryBulkIntervalResponse")
class GetMetricHistoryBulkIntervalResponse:
    metrics: list[MetricWithRunId] | None = dataclasses.field(default_factory=list)
    api_error: ApiError | None = strawberry.field(name="apiError", default=None)


@strawberry.type(name="MlflowFileInfo")
class FileInfo:
    path: str | None = ""
    is_dir: bool | None = False
    file_size: LongString | None = ZERO


@strawberry.type(name="MlflowListArtifactsResponse")
class ListArtifactsResponse:
    root_uri: str | None = ""
    files: list[FileInfo] | None = dataclasses.field(default_factory=list)
    next_page_token: str | None = ""
    api_error: ApiError | None = strawberry.field(name="apiError", default=None)


@strawberry.type(name="MlflowDatasetSummary")
class DatasetSummary:
    experiment_id: str | None = ""
    name: str | None = ""
    digest: str | None = ""
    context: str | None = ""


@strawberry.type(name="MlflowSearchDatasetsResponse")
class SearchDatasetsResponse:
    dataset_summaries: list[DatasetSummary] | None = dataclasses.field(default_factory=list)
    api_error: ApiError | None = strawberry.field(name="apiError", default=None)


@strawberry.type(name="Test")
class Echo:
    output: str | None = strawberry.field(default=None, description="Echoes the input string")


@strawberry.type(name="TestMutation")
class EchoMutation:
    output: str | None = strawberry.field(default=None, description="Echoes the input string")


# -------------------------------------------------------------------------------- inputs
@strawberry.input(name="MlflowGetExperimentInput")
class GetExperimentInput:
    experiment_id: str | None = None


@strawberry.input(name="MlflowGetRunInput")
class GetRunInput:
    run_id: str | None = None
    run_uuid: str | None = None


@strawberry.input(name="MlflowSearchModelVersionsInput")
class SearchModelVersionsInput:
    filter: str | None = None
    max_results: LongString | None = None
    order_by: list[str | None] | None = None
    page_token: str | None = None


@strawberry.input(name="MlflowGetMetricHistoryBulkIntervalInput")
class GetMetricHistoryBulkIntervalInput:
    run_ids: list[str | None] | None = None
    metric_key: str | None = None
    start_step: int | None = None
    end_step: int | None = None
    max_results: int | None = None


@strawberry.input(name="MlflowListArtifactsInput")
class ListArtifactsInput:
    run_id: str | None = None
    run_uuid: str | None = None
    path: str | None = None
    page_token: str | None = None


@strawberry.input(name="MlflowSearchRunsInput")
class SearchRunsInput:
    experiment_ids: list[str | None] | None = None
    filter: str | None = None
    run_view_type: ViewType | None = None
    max_results: int | None = None
    order_by: list[str | None] | None = None
    page_token: str | None = None


@strawberry.input(name="MlflowSearchDatasetsInput")
class SearchDatasetsInput:
    experiment_ids: list[str | None] | None = None


# ------------------------------------------------------------- from MLflow's JSON to objects
NESTED: dict[tuple[type, str], Callable[[Any], Any]] = {}
"""How a field holding an object or a list of objects is built (filled in below)."""


def _build(cls: type[T], data: Mapping[str, Any] | None) -> T:
    """``cls`` from MLflow's JSON for it: the fields the JSON has, protobuf's defaults for the
    rest; enums by name, non-finite numbers as null, nested objects through :data:`NESTED`."""
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in (data or {}):
            continue
        value = (data or {})[field.name]
        nested = NESTED.get((cls, field.name))
        if nested is not None:
            value = nested(value)
        kwargs[field.name] = value
    return cls(**kwargs)


def _number(value: object) -> float | None:
    """A metric value: MLflow's JSON spells non-finite ones as strings; GraphQL's Float has
    no such values, so they are null (as MLflow's server answers NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _many(cls: type[T]) -> Callable[[Any], list[T]]:
    return lambda items: [_build(cls, item) for item in items or []]


def _one(cls: type[T]) -> Callable[[Any], T]:
    return lambda item: _build(cls, item)


def _enum(cls: type[enum.Enum]) -> Callable[[Any], Any]:
    return lambda value: cls[str(getattr(value, "value", value))]


NESTED.update(
    {
        (Experiment, "tags"): _many(ExperimentTag),
        (ModelVersion, "tags"): _many(ModelVersionTag),
        (ModelVersion, "status"): _enum(ModelVersionStatus),
        (Metric, "value"): _number,
        (MetricWithRunId, "value"): _number,
        (RunData, "metrics"): _many(Metric),
        (RunData, "params"): _many(Param),
        (RunData, "tags"): _many(RunTag),
        (RunInfo, "status"): _enum(RunStatus),
        (DatasetInput, "tags"): _many(InputTag),
        (DatasetInput, "dataset"): _one(Dataset),
        (RunInputs, "dataset_inputs"): _many(DatasetInput),
        (RunInputs, "model_inputs"): _many(ModelInput),
        (RunOutputs, "model_outputs"): _many(ModelOutput),
        (Run, "info"): _one(RunInfo),
        (Run, "data"): _one(RunData),
        (Run, "inputs"): _one(RunInputs),
        (Run, "outputs"): _one(RunOutputs),
        (SearchRunsResponse, "runs"): _many(Run),
        (SearchModelVersionsResponse, "model_versions"): _many(ModelVersion),
        (GetMetricHistoryBulkIntervalResponse, "metrics"): _many(MetricWithRunId),
        (ListArtifactsResponse, "files"): _many(FileInfo),
        (SearchDatasetsResponse, "dataset_summaries"): _many(DatasetSummary),
    }
)


# ------------------------------------------------------------- the MLflow handlers they call
@dataclasses.dataclass(frozen=True)
class Mirror:
    """The MLflow endpoint a root field mirrors: what its caller needs, its request message
    and its handler (``handler(request, message) -> MLflow's JSON``)."""

    need: Need
    message: type[BaseModel]
    handler: Callable[[Request, Any], Any]


def _endpoint(endpoints: Iterable[Endpoint], path: str) -> Mirror:
    for endpoint in endpoints:
        if endpoint.path == path:
            method = endpoint.methods[0]
            need = endpoint.need_for(method)
            assert need is not None, path
            return Mirror(need, endpoint.message, endpoint.handler)
    raise AssertionError(f"no MLflow endpoint {path}")  # pragma: no cover


class ListArtifacts(m.RunRef):
    """GET /mlflow/artifacts/list (a Starlette route of its own, no message of its own)."""

    path: str = ""


async def _list_artifacts(request: Request, msg: ListArtifacts) -> Json:
    run = await run_in_threadpool(tracking(request).get_run, msg.rid)
    return await artifacts.list_run_files(request, run, msg.path)


_ARTIFACTS_NEED = need_of(artifacts.run_artifacts_list)
assert _ARTIFACTS_NEED is not None

_EXPERIMENT_GET = _endpoint(experiments.ENDPOINTS, "/experiments/get")
_RUN_GET = _endpoint(runs.ENDPOINTS, "/runs/get")
_RUNS_SEARCH = _endpoint(runs.ENDPOINTS, "/runs/search")
_BULK_INTERVAL = _endpoint(runs.ENDPOINTS, "/metrics/get-history-bulk-interval")
_DATASETS_SEARCH = _endpoint(experiments.ENDPOINTS, "/experiments/search-datasets")
_VERSIONS_SEARCH = _endpoint(registry.ENDPOINTS, "/model-versions/search")
_ARTIFACTS_LIST = Mirror(_ARTIFACTS_NEED, ListArtifacts, _list_artifacts)
assert _VERSIONS_SEARCH.message is rm.SearchModelVersions


async def _call(info: Info, mirror: Mirror, fields: Mapping[str, Any]) -> Json:
    """Check the caller against the mirrored endpoint's need with ``fields`` as its body,
    then answer as that endpoint does."""
    request: Request = info.context["request"]
    who = identity(request)
    if not who.unrestricted:
        scope = {**request.scope, "query_string": b""}
        probe = Request_(scope, {})
        probe.json = dict(fields)
        await run_in_threadpool(permit, access(request), who, mirror.need, probe)
    message = mirror.message.model_validate(dict(fields))
    found = await mirror.handler(request, message)
    return found if isinstance(found, dict) else {}


def _fields(given: object) -> dict[str, Any]:
    """An input object's fields the query set, by their snake_case (MLflow's JSON) names."""
    if given is None:
        return {}
    out: dict[str, Any] = {}
    for field in dataclasses.fields(given):  # type: ignore[arg-type]
        value = getattr(given, field.name)
        if value is None or value is strawberry.UNSET:
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, list):
            value = [v for v in value if v is not None]
        out[field.name] = value
    return out


# ---------------------------------------------------------------------------------- schema
INPUT = strawberry.argument(name="input")
"""MLflow's one argument of every root field (``input`` is a builtin's name in Python)."""


@strawberry.type(name="Query")
class Query:
    @strawberry.field
    async def mlflow_get_experiment(
        self, info: Info, input_: Annotated[GetExperimentInput | None, INPUT] = None
    ) -> GetExperimentResponse | None:
        found = await _call(info, _EXPERIMENT_GET, _fields(input_))
        return GetExperimentResponse(experiment=_build(Experiment, found.get("experiment")))

    @strawberry.field
    async def mlflow_get_run(
        self, info: Info, input_: Annotated[GetRunInput | None, INPUT] = None
    ) -> GetRunResponse | None:
        found = await _call(info, _RUN_GET, _fields(input_))
        return GetRunResponse(run=_build(Run, found.get("run")))

    @strawberry.field
    async def mlflow_search_model_versions(
        self, info: Info, input_: Annotated[SearchModelVersionsInput | None, INPUT] = None
    ) -> SearchModelVersionsResponse | None:
        found = await _call(info, _VERSIONS_SEARCH, _fields(input_))
        return _build(SearchModelVersionsResponse, found)

    @strawberry.field
    async def mlflow_get_metric_history_bulk_interval(
        self, info: Info, input_: Annotated[GetMetricHistoryBulkIntervalInput | None, INPUT] = None
    ) -> GetMetricHistoryBulkIntervalResponse | None:
        found = await _call(info, _BULK_INTERVAL, _fields(input_))
        return _build(GetMetricHistoryBulkIntervalResponse, found)

    @strawberry.field
    async def mlflow_list_artifacts(
        self, info: Info, input_: Annotated[ListArtifactsInput | None, INPUT] = None
    ) -> ListArtifactsResponse | None:
        found = await _call(info, _ARTIFACTS_LIST, _fields(input_))
        return _build(ListArtifactsResponse, found)

    @strawberry.field
    def test(self, input_string: str | None = None) -> Echo | None:
        return Echo(output=input_string)


@strawberry.type(name="Mutation")
class Mutation:
    """MLflow serves its two searches as mutations (they take long inputs)."""

    @strawberry.mutation
    async def mlflow_search_runs(
        self, info: Info, input_: Annotated[SearchRunsInput | None, INPUT] = None
    ) -> SearchRunsResponse | None:
        found = await _call(info, _RUNS_SEARCH, _fields(input_))
        return _build(SearchRunsResponse, found)

    @strawberry.mutation
    async def mlflow_search_datasets(
        self, info: Info, input_: Annotated[SearchDatasetsInput | None, INPUT] = None
    ) -> SearchDatasetsResponse | None:
        found = await _call(info, _DATASETS_SEARCH, _fields(input_))
        return _build(SearchDatasetsResponse, found)

    @strawberry.mutation
    def testMutation(  # MLflow spells this one field in camel case itself
        self, input_string: str | None = None
    ) -> EchoMutation | None:
        return EchoMutation(output=input_string)


@strawberry.directive(
    locations=[
        DirectiveLocation.QUERY,
        DirectiveLocation.MUTATION,
    ],
    name="component",
    description="Which UI component sent the operation (MLflow's UI names it; ignored)",
)
def component(name: str) -> None:
    """Accepted and ignored, as MLflow's server does."""


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """The route reports errors itself (:func:`_messages`); nothing to log here."""


SCHEMA = _Schema(
    query=Query,
    mutation=Mutation,
    directives=[component],
    config=StrawberryConfig(auto_camel_case=True, scalar_map={LongString: LONG_STRING}),
)


# ------------------------------------------------------------------------ limits (MLflow's)
class _Scan:
    """Counts over one document, stopping at the first limit passed."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]):
        self.fragments = fragments
        self.root_fields = 0
        self.max_aliases = 0
        self.selections = 0

    def walk(self, selection_set: SelectionSetNode, depth: int, seen: frozenset[str]) -> None:
        if depth > MAX_DEPTH:
            raise GraphQLError(f"Query exceeds maximum depth of {MAX_DEPTH}")
        fields, aliases = self._fields(selection_set, seen)
        self.max_aliases = max(self.max_aliases, aliases)
        for field, spread in fields:
            if depth == 1:
                self.root_fields += 1
            self.selections += 1
            if self.selections > MAX_SELECTIONS:
                raise GraphQLError(f"Query exceeds maximum total selections of {MAX_SELECTIONS}")
            if field.selection_set is not None:
                self.walk(field.selection_set, depth + 1, spread)

    def _fields(
        self, selection_set: SelectionSetNode, seen: frozenset[str]
    ) -> tuple[list[tuple[FieldNode, frozenset[str]]], int]:
        """The fields of one level, fragments opened (each once along a path), and how many
        of them carry an alias."""
        out: list[tuple[FieldNode, frozenset[str]]] = []
        aliases = 0
        pending: list[tuple[SelectionSetNode, frozenset[str]]] = [(selection_set, seen)]
        while pending:
            current, visited = pending.pop()
            for selection in current.selections:
                if isinstance(selection, FieldNode):
                    out.append((selection, visited))
                    aliases += selection.alias is not None
                    if len(out) > MAX_SELECTIONS:
                        raise GraphQLError(
                            f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
                        )
                elif isinstance(selection, InlineFragmentNode):
                    pending.append((selection.selection_set, visited))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in visited:
                        pending.append((fragment.selection_set, visited | {name}))
        return out, aliases


def check_limits(document: DocumentNode) -> str | None:
    """The first of MLflow's limits ``document`` passes, as MLflow words it, or None."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    scan = _Scan(fragments)
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                scan.walk(definition.selection_set, 1, frozenset())
    except GraphQLError as exc:
        return exc.message
    if scan.root_fields > MAX_ROOT_FIELDS:
        what, limit, got = "root fields", MAX_ROOT_FIELDS, scan.root_fields
    elif scan.max_aliases > MAX_ALIASES:
        what, limit, got = "aliases", MAX_ALIASES, scan.max_aliases
    else:
        return None
    return f"GraphQL queries should have at most {limit} {what}, got {got} {what}."


# ----------------------------------------------------------------------------------- route
def _messages(errors: list[GraphQLError], request: Request) -> list[str]:
    """MLflow's ``errors``: one message per error. A Cairn error keeps its message (MLflow's
    words for MLflow's endpoints), a request message that does not validate is worded as the
    endpoint would word it; anything else is a bug: logged, and said so."""
    out = []
    for error in errors:
        cause = error.original_error
        if cause is None or isinstance(cause, GraphQLError):
            out.append(error.message)
        elif isinstance(cause, CairnError):
            out.append(cause.message)
        elif isinstance(cause, ValidationError):
            out.append(validation_message(cause, mlflow=True))
        else:
            log.error(
                "internal error in GraphQL field %s on %s",
                ".".join(str(part) for part in error.path or ()),
                request.url.path,
                exc_info=cause,
            )
            out.append(
                f"Internal server error ({type(cause).__name__}); this is a bug in Cairn, "
                "the server log has the details"
            )
    return out


async def _read(request: Request) -> dict[str, Any]:
    """``query``, ``variables`` and ``operationName`` from a JSON body, or a GET's query
    (POSTs are JSON: the request guard refuses other types, as for every POST)."""
    if request.method == "GET":
        given: dict[str, Any] = dict(request.query_params)
        if isinstance(given.get("variables"), str):
            given["variables"] = _json(given["variables"], "variables")
        return given
    limit: int = request.app.state.settings.max_request_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    parsed = _json(b"".join(chunks), "body")
    if not isinstance(parsed, dict):
        raise CairnError.invalid(
            'The request body must be a JSON object: {"query": ..., "variables": ..., '
            '"operationName": ...}'
        )
    return parsed


def _json(raw: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CairnError.invalid(f"Malformed JSON in the request {what}: {exc}") from None


def _operation_refused(document: DocumentNode, name: str | None) -> str | None:
    """Why ``document`` names no one operation to run (as graphql-core words it), or None."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        return "Must provide an operation."
    if name is None:
        if len(operations) > 1:
            return "Must provide operation name if query contains multiple operations."
        return None
    if not any(o.name is not None and o.name.value == name for o in operations):
        return f"Unknown operation named '{name}'."
    return None


@p.requires(p.USER_READ)
async def graphql(request: Request) -> Response:
    """POST (or GET) ``/graphql``: MLflow's GraphQL API (the module docstring says what it
    serves)."""
    given = await _read(request)
    query = given.get("query")
    if not isinstance(query, str) or not query.strip():
        raise CairnError.invalid("Missing value for required parameter 'query'.")
    variables = given.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise CairnError.invalid("Invalid value for parameter 'variables': must be a JSON object")
    operation = given.get("operationName")
    if operation is not None and not isinstance(operation, str):
        raise CairnError.invalid("Invalid value for parameter 'operationName': must be a string")
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        raise CairnError.invalid(f"Invalid value for parameter 'query': {exc.message}") from None
    refused = check_limits(document)
    if refused is None:
        refused = _operation_refused(document, operation)
    if refused is not None:
        return json_response({"data": None, "errors": [refused]})
    result = await SCHEMA.execute(
        query,
        variable_values=variables,
        context_value={"request": request},
        operation_name=operation,
    )
    errors = _messages(result.errors, request) if result.errors else None
    return json_response({"data": result.data, "errors": errors})


def graphql_routes() -> list[Route]:
    return [Route(path, graphql, methods=["GET", "POST"]) for path in PATHS]
