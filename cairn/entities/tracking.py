"""Tracking entities: experiments, runs and what is logged to them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from cairn.entities.errors import CairnError
from cairn.entities.numbers import decimal


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class ViewType(StrEnum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[str, ...]:
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)


def parse_experiment_id(value: object, field: str = "experiment_id") -> int:
    """An experiment id as stored (an integer), from the string MLflow's API carries."""
    number = decimal(value, signed=True)
    if number is not None:
        return number
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
    raise CairnError.invalid(
        f"Invalid value {shown} for parameter '{field}': experiment ids are integers "
        'written as strings, e.g. "0" or "12" (64-bit: at most 19 digits)'
    )


ID_LIMIT = 2**63
"""Experiment ids are 64-bit integers in every database; one outside that range names none."""


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ExperimentSummary:
    """Figures for the experiments page (Cairn's own, not MLflow's)."""

    experiment_id: str
    run_count: int
    """Runs that are not deleted."""
    running_count: int
    """Runs among them whose status is RUNNING."""
    last_activity: int | None
    """Milliseconds since the epoch: the latest run start or end, or the experiment's last
    update, whichever is later."""


@dataclass(slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    lifecycle_stage: str


@dataclass(slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    info: RunInfo
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[DatasetInput] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)  # (logged model id, step)
    model_inputs: list[str] = field(default_factory=list)  # logged model ids


MetricPoint = tuple[str, float, int, int]
"""A metric point to log: ``(key, value, timestamp, step)`` (cheaper than a Metric per point)."""


@dataclass(slots=True)
class MetricHistory:
    """One metric's points as narrow ``(step, timestamp, value, is_nan)`` rows, the way they
    are stored (a 100,000-point history would cost more to turn into objects than to read)."""

    key: str
    points: list[tuple[int, int, float, bool]]
    next_page_token: str | None = None

    def metrics(self) -> list[Metric]:
        nan = math.nan
        return [Metric(self.key, nan if n else v, t, s) for s, t, v, n in self.points]


# The x axis of a metric chart: the step, the wall-clock time (ms since the epoch) or the time
# since the run started (ms). No docstring: it would become the enum's OpenAPI description.
class Axis(StrEnum):
    STEP = "step"
    RELATIVE = "relative"
    WALL = "wall"


@dataclass
class Buckets:
    """One downsampled series, column-wise (one entry per non-empty bucket, in x order)."""

    x_first: list[int] = field(default_factory=list)
    x_last: list[int] = field(default_factory=list)
    min: list[float] = field(default_factory=list)
    max: list[float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    nan_count: int = 0
    pos_inf_count: int = 0
    neg_inf_count: int = 0
    offset: int = 0
    """What was subtracted from timestamps (relative axis: the run's start), else 0."""
    from_blocks: bool = False
    """Computed from the series' block summaries, not its points (never on the wire)."""


T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str | None = None


@dataclass(frozen=True, slots=True)
class RunQuery:
    """A run search: experiments (stored ids), filter, view, order and page."""

    experiment_ids: list[int]
    filter: str | None = None
    view_type: ViewType = ViewType.ACTIVE_ONLY
    max_results: int = 1000
    order_by: tuple[str, ...] = ()
    page_token: str | None = None
