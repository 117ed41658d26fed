"""One typed request model per MLflow endpoint, named after the RPC (validation lives here).

Field names and defaults follow MLflow's protocol definitions; protobuf's JSON mapping allows
int64 values as strings and NaN/Infinity as strings, which pydantic's lax mode accepts.
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from typing_extensions import TypedDict

from cairn.entities.errors import CairnError
from cairn.entities.tracking import ViewType

_VIEW_NUMBERS = {"1": "ACTIVE_ONLY", "2": "DELETED_ONLY", "3": "ALL"}


def _view_type(value: object) -> object:
    if value is None or value == "":
        return ViewType.ACTIVE_ONLY
    text = str(value).upper()
    return _VIEW_NUMBERS.get(text, text)


ViewTypeField = Annotated[ViewType, BeforeValidator(_view_type)]


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RunRef(Message):
    run_id: str | None = None
    run_uuid: str | None = None

    @property
    def rid(self) -> str:
        rid = self.run_id or self.run_uuid
        if not rid:
            raise CairnError.invalid("Missing value for required parameter 'run_id'")
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


class GetExperimentByName(Message):
    """GET /mlflow/experiments/get-by-name"""

    experiment_name: str


class SearchExperiments(Message):
    """POST /mlflow/experiments/search (also GET)"""

    max_results: int = 1000
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
    start_time: int | None = None
    tags: list[KeyValue] = []


class UpdateRun(RunRef):
    """POST /mlflow/runs/update"""

    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class MetricIn(TypedDict):
    """A metric point in log-batch (a TypedDict: validating 1,000 of them is the hot path)."""

    key: str
    value: float
    timestamp: int
    step: NotRequired[int]
    # mlflow 3: the logged model and dataset a metric was computed for
    model_id: NotRequired[str]
    dataset_name: NotRequired[str]
    dataset_digest: NotRequired[str]


class LogMetric(RunRef):
    """POST /mlflow/runs/log-metric"""

    key: str
    value: float
    timestamp: int
    step: int = 0
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
    value: str | int | float | bool | None = None


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

    experiment_ids: list[str] = []
    filter: str | None = None
    run_view_type: ViewTypeField = ViewType.ACTIVE_ONLY
    max_results: int = 1000
    order_by: list[str] = []
    page_token: str | None = None


class GetMetricHistory(RunRef):
    """GET /mlflow/metrics/get-history"""

    metric_key: str
    max_results: int | None = None
    page_token: str | None = None


class GetMetricHistoryBulkInterval(Message):
    """GET /mlflow/metrics/get-history-bulk-interval"""

    run_ids: list[str] = Field(default=[])
    metric_key: str
    start_step: int | None = None
    end_step: int | None = None
    max_results: int = 320


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
    models: list[ModelInputIn] = []  # mlflow 3 (evaluate): accepted, not stored
