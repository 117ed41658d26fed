"""One typed request model per MLflow endpoint, named after the RPC (validation lives here).

Field names and defaults follow MLflow's protocol definitions; protobuf's JSON mapping allows
int64 values as strings and NaN/Infinity as strings, which pydantic's lax mode accepts.
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from typing_extensions import TypedDict

from cairn.entities.errors import CairnError
from cairn.entities.numbers import INT64_MAX, INT64_MIN
from cairn.entities.tracking import ViewType

_VIEW_NUMBERS = {"1": "ACTIVE_ONLY", "2": "DELETED_ONLY", "3": "ALL"}


def _view_type(value: object) -> object:
    if value is None or value == "":
        return ViewType.ACTIVE_ONLY
    text = str(value).upper()
    return _VIEW_NUMBERS.get(text, text)


ViewTypeField = Annotated[ViewType, BeforeValidator(_view_type)]

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""Every integer of MLflow's protocol is an int64 (steps, timestamps, versions, max_results):
a larger one is refused naming its field, before it reaches a 64-bit column (where SQLite
raises OverflowError and PostgreSQL NumericValueOutOfRange)."""


MAX_LIST_ITEMS = 10_000
"""The most values one list of a request may hold (experiment ids, run ids, trace ids...):
each becomes a bind parameter, and PostgreSQL takes at most 65,535 in one statement."""
IdList = Annotated[list[str], Field(max_length=MAX_LIST_ITEMS)]


def _no_bool(value: object) -> object:
    if value is True or value is False:
        raise ValueError("a metric value must be a number (or NaN/Infinity), not a boolean")
    return value


MetricValue = Annotated[float, BeforeValidator(_no_bool)]
"""A metric's value: a JSON number, or NaN/Infinity as protobuf's JSON writes them; ``true``
is refused (MLflow requires a number; pydantic's lax float would store it as 1.0)."""


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RunRef(Message):
    run_id: str | None = None
    run_uuid: str | None = None

    @property
    def rid(self) -> str:
        rid = self.run_id or self.run_uuid
        if not rid:
            raise CairnError.invalid("Missing value for required parameter 'run_id'.")
        return rid


class KeyValue(Message):
    key: str
    value: str | None = None


class CreateExperiment(Message):
    """POST /mlflow/experiments/create"""

    name: str
    artifact_location: str | None = None
    tags: list[KeyValue] = []


class GetExperiment(Message):
    """GET /mlflow/experiments/get"""

    experiment_id: str


class SearchDatasets(Message):
    """POST /mlflow/experiments/search-datasets (the web UI's)"""

    experiment_ids: IdList = []


class GetExperimentByName(Message):
    """GET /mlflow/experiments/get-by-name"""

    experiment_name: str


class SearchExperiments(Message):
    """POST /mlflow/experiments/search (also GET)"""

    max_results: Int64 = 1000
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = []
    view_type: ViewTypeField = ViewType.ACTIVE_ONLY


class UpdateExperiment(Message):
    """POST /mlflow/experiments/update"""

    experiment_id: str
    new_name: str


class ExperimentRef(Message):
    """POST /mlflow/experiments/delete, /mlflow/experiments/restore"""

    experiment_id: str


class SetExperimentTag(Message):
    """POST /mlflow/experiments/set-experiment-tag"""

    experiment_id: str
    key: str
    value: str


class DeleteExperimentTag(Message):
    """POST /mlflow/experiments/delete-experiment-tag"""

    experiment_id: str
    key: str


class CreateRun(Message):
    """POST /mlflow/runs/create"""

    experiment_id: str = "0"
    user_id: str | None = None
    run_name: str | None = None
    start_time: Int64 | None = None
    tags: list[KeyValue] = []
    run_id: str | None = Field(
        None,
        description=(
            "Cairn's extension, for imports: the id the new run gets (32 lowercase hex "
            "digits, as MLflow makes them) instead of a fresh one; refused with "
            "RESOURCE_ALREADY_EXISTS when a run already has it. The stock client never sends it. "
            "With access control on, a run created with it by an admin keeps the `user_id` "
            "and `mlflow.user` it is given (an import keeps its authors; the audit trail names "
            "the admin); anyone else's run is theirs whatever they claim."
        ),
    )


class UpdateRun(RunRef):
    """POST /mlflow/runs/update"""

    status: str | None = None
    end_time: Int64 | None = None
    run_name: str | None = None


class MetricIn(TypedDict):
    """A metric point in log-batch (a TypedDict: validating 1,000 of them is the hot path)."""

    key: str
    value: MetricValue
    timestamp: Int64
    step: NotRequired[Int64]
    # mlflow 3: the logged model and dataset a metric was computed for
    model_id: NotRequired[str]
    dataset_name: NotRequired[str]
    dataset_digest: NotRequired[str]


class LogMetric(RunRef):
    """POST /mlflow/runs/log-metric"""

    key: str
    value: MetricValue
    timestamp: Int64
    step: Int64 = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LogParam(RunRef):
    """POST /mlflow/runs/log-parameter"""

    key: str
    value: str | int | float | bool | None = None


class SetTag(RunRef):
    """POST /mlflow/runs/set-tag"""

    key: str
    value: str | None = None


class DeleteTag(RunRef):
    """POST /mlflow/runs/delete-tag"""

    key: str


class LogBatch(RunRef):
    """POST /mlflow/runs/log-batch"""

    metrics: list[MetricIn] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class SearchRuns(Message):
    """POST /mlflow/runs/search"""

    experiment_ids: IdList = []
    filter: str | None = None
    run_view_type: ViewTypeField = ViewType.ACTIVE_ONLY
    max_results: Int64 = 1000
    order_by: list[str] = []
    page_token: str | None = None


class GetMetricHistory(RunRef):
    """GET /mlflow/metrics/get-history"""

    metric_key: str
    max_results: Int64 | None = None
    page_token: str | None = None


class GetMetricHistoryBulk(Message):
    """GET /mlflow/metrics/get-history-bulk (the web UI's; repeat ``run_id`` per run)"""

    run_id: IdList = []
    metric_key: str | None = None
    max_results: Int64 = 25_000


class GetMetricHistoryBulkInterval(Message):
    """GET /mlflow/metrics/get-history-bulk-interval"""

    run_ids: IdList = []
    metric_key: str
    start_step: Int64 | None = None
    end_step: Int64 | None = None
    max_results: Int64 = 320


class DatasetIn(Message):
    name: str
    digest: str
    source_type: str
    source: str
    schema_: str | None = Field(default=None, alias="schema")
    profile: str | None = None


class InputTag(Message):
    key: str
    value: str


class DatasetInputIn(Message):
    dataset: DatasetIn
    tags: list[InputTag] = []


class ModelInputIn(Message):
    model_id: str


class LogInputs(RunRef):
    """POST /mlflow/runs/log-inputs"""

    datasets: list[DatasetInputIn] = []
    models: list[ModelInputIn] = []  # mlflow 3: logged models the run took as inputs
