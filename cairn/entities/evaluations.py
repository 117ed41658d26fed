"""Evaluation jobs: a model evaluated on a list of benchmarks, each run by a provider, the whole
recorded as one parent run with one nested run per benchmark (see docs/evaluations.md).

A job is ``pending`` until its first benchmark starts, ``running`` while any benchmark is
unfinished, and ends ``completed`` (every benchmark completed), ``failed`` (every benchmark
failed), ``partially_failed`` (a mix) or ``cancelled`` (a cancel wins over everything).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_FAILED = "partially_failed"


class BenchmarkState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


JOB_TERMINAL = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.PARTIALLY_FAILED}
)
BENCHMARK_TERMINAL = frozenset(
    {BenchmarkState.COMPLETED, BenchmarkState.FAILED, BenchmarkState.CANCELLED}
)


class Shape(StrEnum):
    SEED = "seed"
    """``POST /api/v1/evaluations``: ``model{server, name, configuration}``,
    ``benchmarks[{benchmark_id, provider_id, config}]``, ``experiment{name, tags{}}``."""
    EVALHUB = "evalhub"
    """``POST /api/v1/evaluations/jobs``: ``model{name, url, parameters}``, ``benchmarks[{id,
    provider_id, parameters, weight, primary_score, pass_criteria}]``, tags as a list."""


def final_state(states: Sequence[BenchmarkState], cancelled: bool) -> JobState:
    """The state of a job whose benchmarks are all terminal."""
    if cancelled or any(s is BenchmarkState.CANCELLED for s in states):
        return JobState.CANCELLED
    done = [s for s in states if s is BenchmarkState.COMPLETED]
    if len(done) == len(states):
        return JobState.COMPLETED
    if not done:
        return JobState.FAILED
    return JobState.PARTIALLY_FAILED


def passes(score: float | None, threshold: float | None, lower_is_better: bool) -> bool | None:
    """Whether ``score`` meets ``threshold`` (None when there is no threshold or no score)."""
    if threshold is None:
        return None
    if score is None or not math.isfinite(score):
        return False
    return score <= threshold if lower_is_better else score >= threshold


def weighted_mean(scores: Sequence[tuple[float, float]]) -> float | None:
    """The mean of (score, weight) pairs weighted by weight; None without a finite score."""
    usable = [(s, w) for s, w in scores if math.isfinite(s) and w > 0]
    total = sum(w for _, w in usable)
    if not usable or total <= 0:
        return None
    return sum(s * w for s, w in usable) / total


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass
class EvaluationBenchmark:
    index: int
    benchmark_id: str
    provider_id: str
    config: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    primary_metric: str | None = None
    lower_is_better: bool = False
    threshold: float | None = None
    state: BenchmarkState = BenchmarkState.PENDING
    phase: str | None = None
    progress: float | None = None
    run_id: str | None = None
    results: dict[str, float] | None = None
    primary_score: float | None = None
    passed: bool | None = None
    error: str | None = None
    started_at: int | None = None
    finished_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        results = None
        if self.results is not None:  # JSON has no NaN or infinity: those become null
            results = {k: _finite(v) for k, v in self.results.items()}
        return {
            "index": self.index,
            "benchmark_id": self.benchmark_id,
            "provider_id": self.provider_id,
            "config": self.config,
            "weight": self.weight,
            "primary_metric": self.primary_metric,
            "lower_is_better": self.lower_is_better,
            "threshold": self.threshold,
            "state": self.state.value,
            "phase": self.phase,
            "progress": self.progress,
            "run_id": self.run_id,
            "results": results,
            "primary_score": _finite(self.primary_score),
            "passed": self.passed,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class EvaluationJob:
    id: int
    job_id: str
    state: JobState
    shape: Shape
    request: dict[str, Any]
    model_name: str
    experiment_id: str
    experiment_name: str = ""
    registered_name: str | None = None
    registered_version: int | None = None
    model_server: str | None = None
    model_url: str | None = None
    parent_run_id: str | None = None
    collection_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    overall_score: float | None = None
    passed: bool | None = None
    error: str | None = None
    created_by: str = "system"
    created_at: int = 0
    started_at: int | None = None
    finished_at: int | None = None
    benchmarks: list[EvaluationBenchmark] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in JOB_TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "state": self.state.value,
            "shape": self.shape.value,
            "experiment_id": self.experiment_id,
            "experiment_name": self.experiment_name,
            "parent_run_id": self.parent_run_id,
            "model": {
                "name": self.model_name,
                "server": self.model_server,
                "url": self.model_url,
                "registered_name": self.registered_name,
                "registered_version": self.registered_version,
                "configuration": (self.request.get("model") or {}).get("configuration") or {},
            },
            "benchmarks": [b.to_json() for b in self.benchmarks],
            "overall_score": _finite(self.overall_score),
            "passed": self.passed,
            "tags": self.tags,
            "collection_id": self.collection_id,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


@dataclass(frozen=True)
class LogLine:
    seq: int
    time: int
    index: int | None
    line: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, "index": self.index, "line": self.line}


@dataclass(frozen=True)
class UserCollection:
    collection_id: str
    name: str
    description: str
    benchmarks: list[dict[str, Any]]
    created_by: str
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class JobFilter:
    state: JobState | None = None
    model: str | None = None
    experiment_id: int | None = None
    tag: tuple[str, str] | None = None
