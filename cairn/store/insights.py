"""An experiment's figures in a few grouped queries: run counts by status, run durations
(aggregates and two nearest-rank percentiles), the most used metric keys, the best run per
metric (one windowed query over ``latest_metrics``) and a metric trend over runs (a count,
then every n-th run by start time with its latest values). Only runs that are not deleted
count; NaN and infinite values are left out of bests and trends."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, and_, case, exists, func, select

from cairn.entities.insights import BestRun, Direction, DurationStats, MetricGoal, TrendPoint
from cairn.store.schema import latest_metrics, metric_keys, runs

r = runs.c
lm = latest_metrics.c
mk = metric_keys.c
_FINITE = lm.value.between(-sys.float_info.max, sys.float_info.max)


def _active(experiment_id: int) -> list[ColumnElement[bool]]:
    return [r.experiment_id == experiment_id, r.lifecycle_stage == "active"]


def status_counts(conn: Connection, experiment_id: int) -> dict[str, int]:
    query = select(r.status, func.count()).where(*_active(experiment_id)).group_by(r.status)
    return {status: int(n) for status, n in conn.execute(query)}


def durations(conn: Connection, experiment_id: int) -> DurationStats:
    """End minus start of the FINISHED runs that have both times."""
    took = (r.end_time - r.start_time).label("took")
    where = [
        *_active(experiment_id),
        r.status == "FINISHED",
        r.start_time.is_not(None),
        r.end_time.is_not(None),
        r.end_time >= r.start_time,
    ]
    count, low, high, mean = conn.execute(
        select(func.count(), func.min(took), func.max(took), func.avg(took)).where(*where)
    ).one()
    if not count:
        return DurationStats(0)

    def rank(fraction: float) -> int:
        offset = max(0, math.ceil(fraction * count) - 1)
        found = conn.execute(select(took).where(*where).order_by(took).offset(offset).limit(1))
        return int(found.scalar_one())

    return DurationStats(
        int(count), int(low), rank(0.5), rank(0.9), int(high), round(float(mean), 3)
    )


def key_ids(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    if not keys:
        return {}
    found = conn.execute(select(mk.key, mk.id).where(mk.key.in_(list(keys))))
    return {key: int(kid) for key, kid in found}


def keys_in_experiment(conn: Connection, experiment_id: int, ids: Sequence[int]) -> set[int]:
    """Which of these metric key ids some run of the experiment has."""
    if not ids:
        return set()
    query = (
        select(lm.key_id)
        .join(runs, r.id == lm.run_id)
        .where(*_active(experiment_id), lm.key_id.in_(list(ids)))
        .distinct()
    )
    return {int(k) for k in conn.scalars(query)}


def common_keys(conn: Connection, experiment_id: int, limit: int) -> list[str]:
    """The metric keys most runs of the experiment have, most used first (then by name)."""
    used = func.count().label("used")
    query = (
        select(mk.key, used)
        .select_from(latest_metrics.join(runs, r.id == lm.run_id).join(metric_keys))
        .where(*_active(experiment_id))
        .group_by(mk.key)
        .order_by(used.desc(), mk.key)
        .limit(limit)
    )
    return [key for key, _n in conn.execute(query)]


def best_runs(
    conn: Connection, experiment_id: int, goals: Sequence[MetricGoal], ids: dict[str, int]
) -> list[BestRun]:
    """Per goal the run with the best latest value (earliest started first among equals)."""
    wanted = {ids[g.key]: g for g in goals if g.key in ids}
    if not wanted:
        return []
    down = [kid for kid, g in wanted.items() if g.direction is Direction.MIN]
    score = case((lm.key_id.in_(down), lm.value), else_=-lm.value) if down else -lm.value
    ranked = (
        select(
            lm.key_id,
            r.run_uuid,
            r.name,
            lm.value,
            lm.step,
            func.row_number()
            .over(
                partition_by=lm.key_id,
                order_by=(score, func.coalesce(r.start_time, 0), r.run_uuid),
            )
            .label("place"),
        )
        .join(runs, r.id == lm.run_id)
        .where(*_active(experiment_id), lm.key_id.in_(list(wanted)), ~lm.is_nan, _FINITE)
        .subquery()
    )
    rows = conn.execute(select(ranked).where(ranked.c.place == 1)).all()
    by_key = {int(row.key_id): row for row in rows}
    out = []
    for kid, goal in wanted.items():
        row = by_key.get(kid)
        if row is not None:
            out.append(
                BestRun(
                    goal.key,
                    goal.direction,
                    row.run_uuid,
                    row.name,
                    float(row.value),
                    int(row.step),
                )
            )
    return out


def trend(
    conn: Connection, experiment_id: int, ids: dict[str, int], max_points: int
) -> tuple[list[TrendPoint], int, int]:
    """(points, runs with a finite value of one of the metrics, stride): every
    ``stride``-th such run by start time, and the newest, at most ``max_points``."""
    by_id = {kid: key for key, kid in ids.items()}
    if not by_id or max_points < 2:
        return [], 0, 1
    has_value = exists().where(lm.run_id == r.id, lm.key_id.in_(list(by_id)), ~lm.is_nan, _FINITE)
    where = [*_active(experiment_id), has_value]
    total = int(conn.execute(select(func.count()).where(*where)).scalar_one())
    if total == 0:
        return [], 0, 1
    stride = 1 if total <= max_points else math.ceil(total / (max_points - 1))
    place = (
        func.row_number().over(order_by=(func.coalesce(r.start_time, 0), r.run_uuid)).label("place")
    )
    ranked = select(r.id, r.run_uuid, r.name, r.start_time, place).where(*where).subquery()
    picked = (ranked.c.place - 1) % stride == 0
    if stride > 1:
        picked = picked | (ranked.c.place == total)
    query = (
        select(
            ranked.c.place,
            ranked.c.run_uuid,
            ranked.c.name,
            ranked.c.start_time,
            lm.key_id,
            lm.value,
        )
        .select_from(
            ranked.join(
                latest_metrics,
                and_(lm.run_id == ranked.c.id, lm.key_id.in_(list(by_id)), ~lm.is_nan, _FINITE),
            )
        )
        .where(picked)
        .order_by(ranked.c.place)
    )
    points: dict[int, TrendPoint] = {}
    for place_, run_uuid, name, start, kid, value in conn.execute(query):
        point = points.get(place_)
        if point is None:
            point = points[place_] = TrendPoint(run_uuid, name, start, {})
        point.values[by_id[int(kid)]] = float(value)
    return list(points.values()), total, stride


__all__ = [
    "best_runs",
    "common_keys",
    "durations",
    "key_ids",
    "keys_in_experiment",
    "status_counts",
    "trend",
]
