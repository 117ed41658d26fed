"""Metric points: bulk insert, the latest-metric table, history reads and sampled history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, and_, cast, or_, select

from cairn.entities.tracking import Metric, Page
from cairn.store.metric_keys import MetricKeys
from cairn.store.paging import after_row, decode_token, encode_token, query_fingerprint
from cairn.store.prepared import Prepared
from cairn.store.schema import latest_metrics, metrics
from cairn.store.sql import dialect_insert

POINT_COLUMNS = ("run_id", "key_id", "step", "timestamp", "value", "is_nan")

INSERT_POINTS = Prepared(
    lambda dialect: dialect_insert(dialect, metrics).on_conflict_do_nothing(), POINT_COLUMNS
)


def _latest_upsert(dialect: str) -> Any:
    stmt = dialect_insert(dialect, latest_metrics)
    new, old = stmt.excluded, latest_metrics.c
    newer = or_(
        new.step > old.step,
        and_(new.step == old.step, new.timestamp > old.timestamp),
        and_(new.step == old.step, new.timestamp == old.timestamp, new.value > old.value),
    )
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key_id"],
        set_={
            "step": new.step,
            "timestamp": new.timestamp,
            "value": new.value,
            "is_nan": new.is_nan,
        },
        where=newer,
    )


UPSERT_LATEST = Prepared(_latest_upsert, POINT_COLUMNS)


def log_points(conn: Connection, keys: MetricKeys, run_id: int, points: Sequence[Metric]) -> None:
    """Store points once each (an identical point is a no-op) and advance the latest values."""
    if not points:
        return
    key_ids = keys.ensure(conn, {p.key for p in points})
    rows = []
    latest: dict[int, tuple[int, int, int, int, float, bool]] = {}
    isnan = math.isnan
    for p in points:
        kid = key_ids[p.key]
        value = p.value
        nan = isnan(value)
        if nan:
            value = 0.0
        row = (run_id, kid, p.step, p.timestamp, value, nan)
        rows.append(row)
        best = latest.get(kid)
        if best is None or row[2:5] > best[2:5]:
            latest[kid] = row
    INSERT_POINTS.many(conn, rows)
    UPSERT_LATEST.many(conn, list(latest.values()))


def history(
    conn: Connection,
    keys: MetricKeys,
    run_id: int,
    key: str,
    max_results: int | None,
    page_token: str | None,
) -> Page[Metric]:
    """All points of one metric in (step, timestamp, value) order, optionally paged by keyset."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None:
        return Page([])
    m = metrics.c
    nan_rank = cast(m.is_nan, Integer)
    order = [(m.step, True), (m.timestamp, True), (m.value, True), (nan_rank, True)]
    fingerprint = query_fingerprint("history", run_id, key)
    query = (
        select(m.step, m.timestamp, m.value, m.is_nan)
        .where(m.run_id == run_id, m.key_id == kid)
        .order_by(m.step, m.timestamp, m.value, nan_rank)
    )
    if page_token:
        last = decode_token(page_token, fingerprint, len(order))
        query = query.where(after_row(order, last))
    if max_results is not None:
        query = query.limit(max_results + 1)
    rows = conn.execute(query).all()
    token = None
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        s, t, v, n = rows[-1]
        token = encode_token([s, t, v, int(n)], fingerprint)
    return Page(
        [Metric(key, math.nan if n else v, t, s) for s, t, v, n in rows], next_page_token=token
    )


def sampled_history(
    conn: Connection,
    keys: MetricKeys,
    run_id: int,
    key: str,
    start_step: int | None,
    end_step: int | None,
    max_points: int,
) -> list[Metric]:
    """Up to ``max_points`` points spread evenly over the steps in range, ends always kept."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None:
        return []
    m = metrics.c
    cond = [m.run_id == run_id, m.key_id == kid]
    if start_step is not None:
        cond.append(m.step >= start_step)
    if end_step is not None:
        cond.append(m.step <= end_step)
    steps = [s for (s,) in conn.execute(select(m.step).where(*cond).distinct().order_by(m.step))]
    if len(steps) > max_points:
        stride = (len(steps) - 1) / (max_points - 1) if max_points > 1 else len(steps)
        chosen = sorted({steps[min(len(steps) - 1, round(i * stride))] for i in range(max_points)})
    else:
        chosen = steps
    if not chosen:
        return []
    out: list[Metric] = []
    for start in range(0, len(chosen), 1000):
        part = chosen[start : start + 1000]
        rows = conn.execute(
            select(m.step, m.timestamp, m.value, m.is_nan)
            .where(m.run_id == run_id, m.key_id == kid, m.step.in_(part))
            .order_by(m.step, m.timestamp)
        )
        out.extend(Metric(key, math.nan if n else v, t, s) for s, t, v, n in rows)
    return out
