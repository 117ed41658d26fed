"""Insights: what an experiment's runs and a model's versions add up to. Run counts by
status, run durations, the best run per metric, a metric's trend over runs or versions, and
whether a model's newest version fell below its best."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class Direction(StrEnum):
    """Which way a metric gets better."""

    MAX = "max"
    MIN = "min"


_LOWER_IS_BETTER = re.compile(
    r"(loss|err|error|mse|mae|rmse|mape|smape|perplexity|ppl|wer|cer|latency|duration|"
    r"time|seconds|_ms|fpr|fnr|false_pos|false_neg|distance|regret|cost|brier|nll|"
    r"divergence)",
    re.IGNORECASE,
)


def guess_direction(key: str) -> Direction:
    """A metric's direction from its name: losses, errors, latencies, costs and the like go
    down (``min``); everything else (accuracy, f1, auc, reward…) goes up (``max``)."""
    return Direction.MIN if _LOWER_IS_BETTER.search(key) else Direction.MAX


@dataclass(frozen=True, slots=True)
class MetricGoal:
    """A metric and the direction in which it gets better; ``guessed`` when the caller did
    not say."""

    key: str
    direction: Direction
    guessed: bool = False

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.direction is Direction.MAX else a < b


@dataclass(frozen=True, slots=True)
class DurationStats:
    """End minus start of the finished runs, in milliseconds (nearest-rank percentiles)."""

    count: int
    min_ms: int | None = None
    median_ms: int | None = None
    p90_ms: int | None = None
    max_ms: int | None = None
    mean_ms: float | None = None


@dataclass(frozen=True, slots=True)
class BestRun:
    metric: str
    direction: Direction
    run_id: str
    run_name: str | None
    value: float
    step: int


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One run of an experiment's trend: its start time and the latest value of each chosen
    metric it has (NaN and infinities are left out)."""

    run_id: str
    run_name: str | None
    start_time: int | None
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class Trend:
    metrics: list[MetricGoal]
    points: list[TrendPoint]
    total_runs: int
    """Runs with at least one chosen metric; ``points`` is every ``stride``-th of them (and
    the newest)."""
    stride: int


@dataclass(frozen=True, slots=True)
class ExperimentInsights:
    experiment_id: str
    name: str
    run_count: int
    status_counts: dict[str, int]
    duration: DurationStats
    best_runs: list[BestRun]
    trend: Trend


@dataclass(frozen=True, slots=True)
class VersionValue:
    """A metric's value on a model version: its source run's latest value."""

    version: int
    value: float


@dataclass(frozen=True, slots=True)
class Degradation:
    """One metric's verdict: the best version and the newest version that has the metric,
    how far the newest fell behind (relative to the best's magnitude; ``None`` when the best
    is 0 and the newest differs) and whether that is more than the threshold."""

    metric: str
    direction: Direction
    best_version: int
    best_value: float
    newest_version: int
    newest_value: float
    relative_drop: float | None
    degraded: bool


@dataclass(slots=True)
class ModelTrend:
    metrics: list[MetricGoal]
    series: dict[str, list[VersionValue]] = field(default_factory=dict)
    degradations: list[Degradation] = field(default_factory=list)
    threshold: float = 0.05

    @property
    def degraded(self) -> bool:
        return any(d.degraded for d in self.degradations)


def judge(goal: MetricGoal, values: list[VersionValue], threshold: float) -> Degradation | None:
    """Compare the newest version having the metric with the best one (the earliest of equal
    bests); None without values."""
    if not values:
        return None
    best = values[0]
    for v in values[1:]:
        if goal.better(v.value, best.value):
            best = v
    newest = values[-1]
    fell = newest.value - best.value
    fell = -fell if goal.direction is Direction.MAX else fell
    # fell >= 0: the best is at least as good as the newest
    relative: float | None
    if fell <= 0:
        relative = 0.0
    elif best.value != 0:
        relative = fell / abs(best.value)
    else:
        relative = None
    degraded = fell > 0 and (relative is None or relative > threshold)
    return Degradation(
        goal.key,
        goal.direction,
        best.version,
        best.value,
        newest.version,
        newest.value,
        relative,
        degraded,
    )
