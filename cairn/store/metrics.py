"""Metric points: bulk insert, the latest-metric table, history reads and sampled history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Connection, and_, bindparam, or_, select

from cairn.entities.tracking import Metric, MetricHistory, MetricPoint
from cairn.store.metric_keys import MetricKeys
from cairn.store.paging import after_row, decode_token, encode_token, query_fingerprint
from cairn.store.prepared import BulkInsert, Prepared, cursor
from cairn.store.schema import latest_metrics, metrics
from cairn.store.sql import dialect_insert, to_stored

POINT_COLUMNS = ("run_id", "key_id", "step", "timestamp", "value", "is_nan")

INSERT_POINTS = BulkInsert(metrics, POINT_COLUMNS)


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


def log_points(
    conn: Connection, keys: MetricKeys, run_id: int, points: Sequence[MetricPoint]
) -> None:
    """Store points once each (an identical point is a no-op) and advance the latest values."""
    if not points:
        return
    key_ids = keys.ensure(conn, {p[0] for p in points})
    rows = []
    latest: dict[int, tuple[int, int, int, int, float, bool]] = {}
    isnan = math.isnan
    for key, value, timestamp, step in points:
        kid = key_ids[key]
        nan = isnan(value)
        if nan:
            value = 0.0
        row = (run_id, kid, step, timestamp, value, nan)
        rows.append(row)
        best = latest.get(kid)
        if best is None or row[2:5] > best[2:5]:
            latest[kid] = row
    best_rows = list(latest.values())
    if conn.dialect.name == "mysql":  # no infinity in a MySQL DOUBLE (cairn.store.sql)
        rows = [(*r[:4], to_stored("mysql", r[4]), r[5]) for r in rows]
        best_rows = [(*r[:4], to_stored("mysql", r[4]), r[5]) for r in best_rows]
    cur = cursor(conn)
    try:
        INSERT_POINTS.many(conn, rows, cur)
        UPSERT_LATEST.many(conn, best_rows, cur)
    finally:
        cur.close()


_m = metrics.c
_NAN_RANK = _m.is_nan
_HISTORY_ORDER = [(_m.step, True), (_m.timestamp, True), (_m.value, True), (_NAN_RANK, True)]
_HISTORY = select(_m.step, _m.timestamp, _m.value, _m.is_nan).where(
    _m.run_id == bindparam("run_id"), _m.key_id == bindparam("key_id")
)
_LIMIT = bindparam("limit", type_=BigInteger)
_MAX_LIMIT = 2**62
"""A page bigger than any history (LIMIT is a 64-bit integer on every backend)."""
HISTORY_ALL = Prepared(_HISTORY.order_by(_m.step, _m.timestamp, _m.value, _NAN_RANK))
HISTORY_FIRST = Prepared(
    _HISTORY.order_by(_m.step, _m.timestamp, _m.value, _NAN_RANK).limit(_LIMIT)
)
HISTORY_AFTER = Prepared(
    _HISTORY.where(
        after_row(
            _HISTORY_ORDER,
            [bindparam("s"), bindparam("t"), bindparam("v"), bindparam("n", type_=Boolean)],
        )
    )
    .order_by(_m.step, _m.timestamp, _m.value, _NAN_RANK)
    .limit(_LIMIT)
)


def history(
    conn: Connection,
    keys: MetricKeys,
    run_id: int,
    key: str,
    max_results: int | None,
    page_token: str | None,
) -> MetricHistory:
    """All points of one metric in (step, timestamp, value) order, optionally paged by keyset."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None:
        return MetricHistory(key, [])
    fingerprint = query_fingerprint("history", run_id, key)
    if page_token:
        s, t, v, n = decode_token(page_token, fingerprint, len(_HISTORY_ORDER))
        v = to_stored(conn.dialect.name, v)  # the driver's cursor: no bind processing
        limit = min(max_results or _MAX_LIMIT, _MAX_LIMIT) + 1
        rows = HISTORY_AFTER.rows(conn, run_id=run_id, key_id=kid, s=s, t=t, v=v, n=n, limit=limit)
    elif max_results is not None:
        limit = min(max_results, _MAX_LIMIT) + 1
        rows = HISTORY_FIRST.rows(conn, run_id=run_id, key_id=kid, limit=limit)
    else:
        rows = HISTORY_ALL.rows(conn, run_id=run_id, key_id=kid)
    token = None
    if max_results is not None and len(rows) > max_results:
        rows = rows[:max_results]
        s, t, v, n = rows[-1]
        token = encode_token([s, t, v, bool(n)], fingerprint)
    return MetricHistory(key, rows, token)


def distinct_steps(
    conn: Connection,
    keys: MetricKeys,
    run_id: int,
    key: str,
    start_step: int | None,
    end_step: int | None,
) -> list[int]:
    """The steps one metric of one run has points at, within the range, ascending."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None:
        return []
    m = metrics.c
    cond = [m.run_id == run_id, m.key_id == kid]
    if start_step is not None:
        cond.append(m.step >= start_step)
    if end_step is not None:
        cond.append(m.step <= end_step)
    return [s for (s,) in conn.execute(select(m.step).where(*cond).distinct().order_by(m.step))]


def points_at_steps(
    conn: Connection, keys: MetricKeys, run_id: int, key: str, steps: Sequence[int]
) -> list[Metric]:
    """Every point of one metric of one run at the given steps, by (step, timestamp)."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None or not steps:
        return []
    m = metrics.c
    chosen = sorted(set(steps))
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
