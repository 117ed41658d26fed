"""Insight use cases: an experiment's summary (run counts by status, durations, the best run
per metric, a metric trend over runs) and a model's metric trend over its versions with a
degradation verdict. No SQL here (the store's insights module), no HTTP."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import Connection

from cairn.entities.errors import CairnError
from cairn.entities.insights import (
    Direction,
    ExperimentInsights,
    MetricGoal,
    ModelTrend,
    Trend,
    VersionValue,
    guess_direction,
    judge,
)
from cairn.entities.registry import ModelVersion
from cairn.entities.tracking import Run, parse_experiment_id
from cairn.services.validation import MAX_KEY_LENGTH
from cairn.store import experiments as experiment_store
from cairn.store import insights as store
from cairn.store.db import Database

MAX_METRICS = 20
"""Metrics one summary or trend may name."""
DEFAULT_METRICS = 10
"""Metrics a summary shows when none are named: the ones most runs have."""
MAX_TREND_POINTS = 200
DEFAULT_THRESHOLD = 0.05
MAX_THRESHOLD = 10.0
FIELD = "metrics"


def parse_goals(values: Sequence[object], field: str = FIELD) -> list[MetricGoal]:
    """``["acc:max,loss:min", "f1"]`` → goals, in order, duplicates dropped. A key without
    ``:max``/``:min`` gets the direction its name suggests (:func:`guess_direction`). The
    direction is split off at the last colon, so keys may hold colons when one is given."""
    goals: dict[str, MetricGoal] = {}
    for value in values:
        if not isinstance(value, str):
            raise CairnError.invalid(f"Invalid value {value!r} for parameter '{field}'")
        for part in value.split(","):
            item = part.strip()
            if not item:
                continue
            key, sep, word = item.rpartition(":")
            if not sep:
                key, word = item, ""
            key = key.strip()
            if not key:
                raise CairnError.invalid(
                    f"Invalid value {item!r} for parameter '{field}': a metric key is missing"
                )
            if len(key) > MAX_KEY_LENGTH:
                raise CairnError.invalid(
                    f"Invalid value for parameter '{field}': metric key is {len(key)} "
                    f"characters long; the limit is {MAX_KEY_LENGTH}"
                )
            if word:
                try:
                    goal = MetricGoal(key, Direction(word.strip().lower()))
                except ValueError:
                    raise CairnError.invalid(
                        f"Invalid direction {word!r} for metric {key!r} in parameter "
                        f"'{field}': use max or min, e.g. acc:max,loss:min"
                    ) from None
            else:
                goal = MetricGoal(key, guess_direction(key), guessed=True)
            goals.setdefault(key, goal)
            if len(goals) > MAX_METRICS:
                raise CairnError.invalid(
                    f"Invalid value for parameter '{field}': at most {MAX_METRICS} metrics"
                )
    return list(goals.values())


def check_threshold(threshold: float) -> float:
    if not math.isfinite(threshold) or not 0 <= threshold <= MAX_THRESHOLD:
        raise CairnError.invalid(
            f"Invalid value {threshold!r} for parameter 'threshold': a relative drop between "
            f"0 and {MAX_THRESHOLD:g} (0.05 = 5 %)"
        )
    return threshold


def _unknown(keys: Sequence[str], where: str) -> CairnError:
    shown = ", ".join(repr(k) for k in keys[:5])
    return CairnError.invalid(f"Unknown metric {shown} in parameter '{FIELD}': {where}")


def model_trend(
    versions: Sequence[ModelVersion],
    runs: dict[str, Run],
    goals: Sequence[MetricGoal],
    threshold: float,
) -> ModelTrend:
    """Each goal's value per version (its source run's latest value; versions without one,
    or with NaN/infinity, are left out) in version order, and the verdict per metric."""
    series: dict[str, list[VersionValue]] = {g.key: [] for g in goals}
    for v in sorted(versions, key=lambda v: v.version):
        run = runs.get(v.run_id) if v.run_id else None
        if run is None:
            continue
        for m in run.metrics:
            values = series.get(m.key)
            if values is not None and math.isfinite(m.value):
                values.append(VersionValue(v.version, float(m.value)))
    verdicts = [judge(g, series[g.key], threshold) for g in goals]
    return ModelTrend(
        list(goals), series, [d for d in verdicts if d is not None], threshold=threshold
    )


def goals_of_runs(
    runs: Sequence[Run], asked: Sequence[MetricGoal], only: Sequence[str] = ()
) -> list[MetricGoal]:
    """The goals asked for (each must be a metric of one of ``runs``), or else the metrics
    of ``runs`` (those named in ``only`` when given), most common first, at most
    :data:`DEFAULT_METRICS`, directions guessed."""
    seen: dict[str, int] = {}
    for run in runs:
        for m in run.metrics:
            seen[m.key] = seen.get(m.key, 0) + 1
    if asked:
        missing = [g.key for g in asked if g.key not in seen] if seen else []
        if missing:
            raise _unknown(missing, "no source run of the model's versions has it")
        return list(asked)
    keys = sorted(seen, key=lambda k: (-seen[k], k))
    if only:
        keys = [k for k in keys if k in set(only)]
    return [MetricGoal(k, guess_direction(k), guessed=True) for k in keys[:DEFAULT_METRICS]]


class InsightService:
    def __init__(self, db: Database):
        self.db = db

    def experiment_summary(
        self,
        experiment_id: object,
        metrics: Sequence[object] = (),
        max_points: int = MAX_TREND_POINTS,
    ) -> ExperimentInsights:
        """Counts by status, durations of finished runs, the best run per metric and the
        metrics' trend over runs by start time (at most ``max_points`` runs)."""
        eid = parse_experiment_id(experiment_id)
        asked = parse_goals(metrics)
        if not 2 <= max_points <= MAX_TREND_POINTS:
            raise CairnError.invalid(
                f"Invalid value {max_points!r} for parameter 'max_points': between 2 and "
                f"{MAX_TREND_POINTS}"
            )

        def read(conn: Connection) -> ExperimentInsights:
            experiment = experiment_store.get(conn, eid)
            goals = asked or [
                MetricGoal(k, guess_direction(k), guessed=True)
                for k in store.common_keys(conn, eid, DEFAULT_METRICS)
            ]
            ids = store.key_ids(conn, [g.key for g in goals])
            if asked:
                present = store.keys_in_experiment(conn, eid, list(ids.values()))
                missing = [g.key for g in goals if ids.get(g.key) not in present]
                if missing:
                    raise _unknown(missing, f"no run of experiment {eid} has logged it")
            counts = store.status_counts(conn, eid)
            points, total, stride = store.trend(conn, eid, ids, max_points)
            return ExperimentInsights(
                experiment_id=experiment.experiment_id,
                name=experiment.name,
                run_count=sum(counts.values()),
                status_counts=counts,
                duration=store.durations(conn, eid),
                best_runs=store.best_runs(conn, eid, goals, ids),
                trend=Trend(goals, points, total, stride),
            )

        return self.db.read(read)


__all__ = [
    "DEFAULT_THRESHOLD",
    "InsightService",
    "MAX_METRICS",
    "MAX_TREND_POINTS",
    "check_threshold",
    "goals_of_runs",
    "model_trend",
    "parse_goals",
]
