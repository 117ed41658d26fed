"""Downsampled metric series for charts: per bucket of the x axis, min / max / mean / count.

A chart ``width`` pixels wide needs at most ``width`` buckets per series. Each bucket is one
group of a ``GROUP BY`` computed by the database over the clustered ``(run_id, key_id, step,
…)`` primary key, so a million-point series is read as one index range and never shipped to
Python. Because every bucket carries the minimum and maximum of its points, a single-point
spike is the maximum of its bucket and stays visible at any zoom level.

The x axis is the step, the wall-clock timestamp (ms since the epoch) or the relative time
(ms since the run's first point among the charted series). The bucket of a point is
``((x - lo) * n) // (hi - lo + 1)`` with integer arithmetic, which both SQLite and PostgreSQL
evaluate the same way, so bucket ``i`` covers the x values from ``lo + ceil(i * span / n)``
on, where ``span = hi - lo + 1``. On the step axis, when every bucket is at least two blocks of
16 steps wide (:func:`snapped`), the edges between buckets move to block edges (:func:`edge`)
so that a series' block summaries (:mod:`cairn.store.metric_blocks`) give the same buckets as
its points; :func:`buckets` with ``blocks`` reads them where they are current.

NaN and ±infinity (MLflow accepts both) are not part of min/max/mean: they cannot be drawn
and one infinity would make every mean useless. They are counted per series instead.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    not_,
    or_,
    text,
)
from sqlalchemy import select as sa_select

from cairn.entities.tracking import Axis, Buckets
from cairn.store import metric_blocks
from cairn.store.metric_blocks import BLOCK_STEPS
from cairn.store.prepared import Prepared
from cairn.store.schema import metrics

BIG = sys.float_info.max
"""Finite values lie in [-BIG, BIG]; anything beyond is an infinity."""


@dataclass(frozen=True)
class SeriesRef:
    """One series: a run (its internal id and start time) and a metric key id (None: the key
    was never logged anywhere, the series is empty)."""

    run_pk: int
    key_id: int | None
    start_time: int | None


_m = metrics.c
_SERIES = and_(_m.run_id == bindparam("run_id"), _m.key_id == bindparam("key_id"))
_LO = bindparam("lo", type_=BigInteger)
_HI = bindparam("hi", type_=BigInteger)
_N = bindparam("n", type_=BigInteger)
_SPAN = bindparam("span", type_=BigInteger)
_FINITE = and_(
    not_(_m.is_nan),
    _m.value >= bindparam("neg_big", -BIG),
    _m.value <= bindparam("pos_big", BIG),
)


def _bucket_query(column: Any, finite_only: bool, snap: bool = False) -> Any:
    """Per bucket: its x range, min/max/sum/count of the values and the number of NaN rows.
    Unfiltered, a NaN row (stored as 0) or an infinity spoils the bucket's figures, which the
    NaN count and an infinite min or max give away; the ``finite_only`` form leaves them out.
    ``snap``: block-aligned buckets (:func:`snapped`): a point's bucket is its block's middle
    step's, clamped to the window."""
    x = column
    if snap:
        middle = column - column % BLOCK_STEPS + BLOCK_STEPS // 2
        x = case((middle < _LO, _LO), (middle > _HI, _HI), else_=middle)
    bucket = (((x - _LO) * _N) // _SPAN).label("b")
    by_bucket: Any = literal_column("b")
    cond = [_SERIES, column >= _LO, column <= _HI]
    if finite_only:
        cond.append(_FINITE)
    return (
        sa_select(
            bucket,
            func.min(column),
            func.max(column),
            func.min(_m.value),
            func.max(_m.value),
            func.sum(_m.value),
            func.count(),
            func.sum(case((_m.is_nan, 1), else_=0)),
        )
        .where(*cond)
        .group_by(by_bucket)
        .order_by(by_bucket)
    )


def _nonfinite_query(column: Any) -> Any:
    one, zero = 1, 0
    return sa_select(
        func.sum(case((_m.is_nan, one), else_=zero)),
        func.sum(case((and_(not_(_m.is_nan), _m.value > 0), one), else_=zero)),
        func.sum(case((and_(not_(_m.is_nan), _m.value < 0), one), else_=zero)),
    ).where(
        _SERIES,
        column >= _LO,
        column <= _HI,
        or_(_m.is_nan, _m.value > bindparam("pos_big", BIG), _m.value < bindparam("neg_big", -BIG)),
    )


def _sqlite_edge(j: str, snap: bool) -> str:
    """Where bucket ``j`` starts (its first step), in SQLite; snapped: see :func:`edge`."""
    exact = f":lo + ({j} * :span + :n - 1) / :n"
    if not snap:
        return exact
    half, size = BLOCK_STEPS // 2, BLOCK_STEPS
    return (
        f"(CASE WHEN {j} = 0 THEN :lo WHEN {j} = :n THEN :hi + 1 "
        f"ELSE (({exact} + {half - 1}) / {size}) * {size} END)"
    )


def _sqlite_step_query(finite_only: bool, snap: bool = False) -> Any:
    """SQLite sorts every row of a GROUP BY on an expression; over the step index, one range
    scan per bucket (a correlated subquery for each row of a bucket-number sequence) needs no
    sort and takes half the time on a million points. The whole series comes back as one text
    value: per non-empty bucket its number and aggregates, space-separated (17 significant
    digits give every double back exactly), so Python splits one string instead of fetching
    and unpacking a row per bucket."""
    finite = " AND is_nan = 0 AND value >= :neg_big AND value <= :pos_big" if finite_only else ""
    return text(
        "WITH RECURSIVE b(i) AS (SELECT :i0 UNION ALL SELECT i + 1 FROM b WHERE i + 1 < :i1) "
        "SELECT group_concat(p, ' ') FROM (SELECT (SELECT printf("
        "'%d %d %d %!.17g %!.17g %!.17g %d %d', i, MIN(step), MAX(step), "
        "MIN(value), MAX(value), SUM(value), COUNT(*), SUM(is_nan)) FROM metrics "
        "WHERE run_id = :run_id AND key_id = :key_id "
        f"AND step >= {_sqlite_edge('i', snap)} "
        f"AND step < {_sqlite_edge('(i + 1)', snap)}{finite} HAVING COUNT(*) > 0) AS p "
        "FROM b)"
    )


SQLITE_STEP_BUCKETS = {
    (f, snap): Prepared(_sqlite_step_query(f, snap))
    for f in (False, True)
    for snap in (False, True)
}
BUCKETS = {
    (axis, f, False): Prepared(_bucket_query(_m.step if axis == Axis.STEP else _m.timestamp, f))
    for axis in Axis
    for f in (False, True)
}
for _f in (False, True):
    BUCKETS[Axis.STEP, _f, True] = Prepared(_bucket_query(_m.step, _f, snap=True))
NONFINITE = {Axis.STEP: Prepared(_nonfinite_query(_m.step))}
NONFINITE[Axis.WALL] = NONFINITE[Axis.RELATIVE] = Prepared(_nonfinite_query(_m.timestamp))

# The step bounds come from the index (first and last entry); timestamps need one scan.
_first_step = sa_select(_m.step).where(_SERIES).order_by(_m.step).limit(1)
_last_step = sa_select(_m.step).where(_SERIES).order_by(_m.step.desc()).limit(1)
STEP_BOUNDS = Prepared(sa_select(_first_step.scalar_subquery(), _last_step.scalar_subquery()))
TIME_BOUNDS = Prepared(sa_select(func.min(_m.timestamp), func.max(_m.timestamp)).where(_SERIES))


def series_bounds(conn: Connection, axis: Axis, ref: SeriesRef) -> tuple[int, int] | None:
    """The smallest and largest x of a series on ``axis`` (relative: before the offset)."""
    if ref.key_id is None:
        return None
    stmt = STEP_BOUNDS if axis == Axis.STEP else TIME_BOUNDS
    found = stmt.first(conn, run_id=ref.run_pk, key_id=ref.key_id)
    if found is None or found[0] is None:
        return None
    return int(found[0]), int(found[1])


def offsets_of(conn: Connection, axis: Axis, refs: Sequence[SeriesRef]) -> list[int]:
    """What to subtract from a timestamp to get each series' x on ``axis``: on the relative
    axis the time of its run's first point among these series (so a run's curves start at 0
    together, even when its points were logged with timestamps long before or after the run's
    start time); the run's start time when none of them has a point; else 0."""
    if axis != Axis.RELATIVE:
        return [0] * len(refs)
    first: dict[int, int] = {}
    for ref in refs:
        bounds = series_bounds(conn, Axis.WALL, ref)
        if bounds is not None:
            first[ref.run_pk] = min(first.get(ref.run_pk, bounds[0]), bounds[0])
    return [first.get(ref.run_pk, ref.start_time or 0) for ref in refs]


def window(
    conn: Connection, axis: Axis, refs: Sequence[SeriesRef], offsets: Sequence[int]
) -> tuple[int, int] | None:
    """The x range covering every series (None when they are all empty)."""
    lo: int | None = None
    hi: int | None = None
    for ref, offset in zip(refs, offsets, strict=True):
        bounds = series_bounds(conn, axis, ref)
        if bounds is None:
            continue
        a, b = bounds[0] - offset, bounds[1] - offset
        lo = a if lo is None else min(lo, a)
        hi = b if hi is None else max(hi, b)
    if lo is None or hi is None:
        return None
    return lo, hi


def bucket_count(lo: int, hi: int, width: int) -> int:
    """Buckets for the window [lo, hi]: ``width``, or fewer when there are fewer x values, or
    when ``(x - lo) * n`` would not fit in a 64-bit integer (windows over 2^50 wide)."""
    span = hi - lo + 1
    return max(1, min(width, span, OVERFLOW_GUARD // span))


OVERFLOW_GUARD = 2**62


def _number(text_value: str) -> float:
    return float(text_value) if text_value else math.nan  # SQLite's NULL sum (inf - inf)


def _floats(texts: list[str]) -> list[float]:
    try:
        return list(map(float, texts))
    except ValueError:  # an empty field: SQLite's NULL sum (inf - inf)
        return [_number(t) for t in texts]


_FIELDS = 8
"""Per bucket in the packed text: number, x range, min, max, sum, count, NaN count."""


def _sqlite_step_rows(
    conn: Connection, params: dict[str, Any], finite_only: bool
) -> list[tuple[Any, ...]]:
    stmt = SQLITE_STEP_BUCKETS[finite_only, params["snap"]]
    found = stmt.first(conn, **_sql_params(params), neg_big=-BIG, pos_big=BIG)
    packed = found[0] if found is not None else None
    if not packed:
        return []
    f = packed.split(" ")
    if len(f) % _FIELDS:
        raise RuntimeError("metric buckets: malformed packed row from SQLite")
    cols = [f[i::_FIELDS] for i in range(_FIELDS)]
    ints = [list(map(int, cols[i])) for i in (0, 1, 2, 6)]
    nans = [int(t or 0) for t in cols[7]]
    rows = list(
        zip(
            ints[0],
            ints[1],
            ints[2],
            _floats(cols[3]),
            _floats(cols[4]),
            _floats(cols[5]),
            ints[3],
            nans,
            strict=True,
        )
    )
    # group_concat keeps the scan order of the bucket sequence; checked, never assumed
    if any(rows[k][0] >= rows[k + 1][0] for k in range(len(rows) - 1)):
        rows.sort()
    return rows


def _rows(
    conn: Connection, axis: Axis, params: dict[str, Any], finite_only: bool
) -> list[tuple[Any, ...]]:
    if axis == Axis.STEP and conn.dialect.name == "sqlite":
        return _sqlite_step_rows(conn, params, finite_only)
    big = _finite_limit(conn.dialect.name)
    stmt = BUCKETS[axis, finite_only, params["snap"]]
    return stmt.rows(conn, **_sql_params(params), neg_big=-big, pos_big=big)


def _sql_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "snap"}


def _finite_limit(dialect: str) -> float:
    """The largest finite value as stored: on MySQL ±DBL_MAX stands for ±infinity."""
    return math.nextafter(BIG, 0.0) if dialect == "mysql" else BIG


def _spoiled(rows: list[tuple[Any, ...]]) -> bool:
    """Whether any bucket holds a NaN or an infinity (its min, max or sum is then wrong)."""
    return any(r[7] or not (-BIG <= float(r[3]) and float(r[4]) <= BIG) for r in rows)


def _mean(vsum: Any, count: int, vmin: float, vmax: float) -> float:
    """A bucket's mean, kept within its min and max (a sum's rounding, or overflow)."""
    mean = float(vsum) / count if vsum is not None else math.nan
    if vmin <= mean <= vmax:
        return mean
    return min(max(mean, vmin), vmax) if not math.isnan(mean) else (vmin + vmax) / 2


def splittable(dialect: str, axis: Axis) -> bool:
    """Whether :func:`buckets` can compute a part of the buckets (``part``) on its own, so
    that parts can run on separate connections at once: SQLite's per-bucket range scans."""
    return dialect == "sqlite" and axis == Axis.STEP


def parts(n: int, count: int) -> list[tuple[int, int]]:
    """``count`` ranges of bucket numbers covering 0..n-1, in order."""
    count = max(1, min(count, n))
    edges = [n * i // count for i in range(count + 1)]
    return [(edges[i], edges[i + 1]) for i in range(count) if edges[i] < edges[i + 1]]


def merge(pieces: list[Buckets]) -> Buckets:
    """The buckets of consecutive parts as one series."""
    out = Buckets(offset=pieces[0].offset if pieces else 0)
    for piece in pieces:
        out.x_first += piece.x_first
        out.x_last += piece.x_last
        out.min += piece.min
        out.max += piece.max
        out.mean += piece.mean
        out.count += piece.count
        out.nan_count += piece.nan_count
        out.pos_inf_count += piece.pos_inf_count
        out.neg_inf_count += piece.neg_inf_count
    return out


def snapped(axis: Axis, lo: int, hi: int, n: int) -> bool:
    """Whether the ``n`` buckets of [lo, hi] have block-aligned edges (:func:`edge`): on the
    step axis, over steps ≥ 0, when every bucket is at least two blocks of
    :data:`metric_blocks.BLOCK_STEPS` steps wide, so that a chart of long series can be read
    from their blocks."""
    return axis == Axis.STEP and lo >= 0 and hi - lo + 1 >= 2 * BLOCK_STEPS * n


def edge(lo: int, hi: int, n: int, j: int, snap: bool) -> int:
    """The first x of bucket ``j`` (``j = n``: one past the window): ``lo + ceil(j * span /
    n)``; snapped, the start of the first block whose middle step is at or past that, so that
    every block lies in the bucket its middle step falls in (the first bucket starts at ``lo``
    and the last ends at ``hi`` all the same)."""
    exact = lo + (j * (hi - lo + 1) + n - 1) // n
    if not snap or j in (0, n):
        return exact
    half = BLOCK_STEPS // 2
    return ((exact + half - 1) // BLOCK_STEPS) * BLOCK_STEPS


def from_blocks(
    conn: Connection, axis: Axis, ref: SeriesRef, offset: int, lo: int, hi: int, n: int
) -> Buckets | None:
    """:func:`buckets` from the series' block summaries, or None when the buckets are not
    :func:`snapped` or the series' blocks are not current."""
    if ref.key_id is None or lo > hi or not snapped(axis, lo + offset, hi + offset, n):
        return None
    big = _finite_limit(conn.dialect.name)
    rows = metric_blocks.bucket_rows(conn, ref.run_pk, ref.key_id, lo + offset, hi + offset, n, big)
    if rows is None:
        return None
    out = Buckets(offset=offset, from_blocks=True)
    _fill(out, [r[:7] for r in rows if r[6]], offset)
    out.nan_count = sum(int(r[7]) for r in rows)
    out.pos_inf_count = sum(int(r[8]) for r in rows)
    out.neg_inf_count = sum(int(r[9]) for r in rows)
    return out


def build_blocks(conn: Connection, ref: SeriesRef, start: int = 0) -> int | None:
    """(Re)build one chunk of a series' block summaries, from step ``start``, in the caller's
    write transaction (see :func:`metric_blocks.build`); the next chunk's start, or None when
    the series is done (or gets no blocks)."""
    if ref.key_id is None:
        return None
    big = _finite_limit(conn.dialect.name)
    return metric_blocks.build(conn, ref.run_pk, ref.key_id, big, start)


def buckets(
    conn: Connection,
    axis: Axis,
    ref: SeriesRef,
    offset: int,
    lo: int,
    hi: int,
    n: int,
    part: tuple[int, int] | None = None,
    blocks: bool = False,
) -> Buckets:
    """The series' points with x in [lo, hi] (x = column − offset) in ``n`` buckets; with
    ``part`` (where :func:`splittable`), only the buckets numbered part[0]..part[1]-1.
    ``blocks``: read the series' block summaries instead where :func:`from_blocks` can (the
    same buckets as from the points).

    One pass over the points answers when they are all finite (the usual case); a series with
    NaN or infinities in the window costs a second pass without them and one that counts them.
    """
    out = Buckets(offset=offset)
    if ref.key_id is None or lo > hi:
        return out
    span = hi - lo + 1
    i0, i1 = part if part is not None else (0, n)
    if part is not None and not splittable(conn.dialect.name, axis):
        raise ValueError("buckets: parts need SQLite and the step axis")
    if blocks and part is None:
        found_blocks = from_blocks(conn, axis, ref, offset, lo, hi, n)
        if found_blocks is not None:
            return found_blocks
    snap = snapped(axis, lo + offset, hi + offset, n)
    big = _finite_limit(conn.dialect.name)
    params = {
        "run_id": ref.run_pk,
        "key_id": ref.key_id,
        "lo": lo + offset,
        "hi": hi + offset,
        "n": n,
        "span": span,
        "i0": i0,
        "i1": i1,
        "snap": snap,
    }
    if conn.dialect.name == "mysql":
        # infinities are stored as ±DBL_MAX there, and a sum over them overflows: always
        # leave them out, and count them
        spoiled = True
        rows = _rows(conn, axis, params, finite_only=True)
    else:
        rows = _rows(conn, axis, params, finite_only=False)
        spoiled = _spoiled(rows)
        if spoiled:
            rows = _rows(conn, axis, params, finite_only=True)
    _fill(out, [r[:7] for r in rows], offset)
    # the x range of these buckets
    first_x = edge(lo + offset, hi + offset, n, i0, snap)
    last_x = edge(lo + offset, hi + offset, n, i1, snap) - 1
    counted = {**_sql_params(params), "lo": first_x, "hi": last_x}
    found = NONFINITE[axis].first(conn, **counted, neg_big=-big, pos_big=big) if spoiled else None
    if found is not None and found[0] is not None:
        out.nan_count, out.pos_inf_count, out.neg_inf_count = (int(v) for v in found)
    return out


def _fill(out: Buckets, rows: list[Sequence[Any]], offset: int) -> None:
    """``out``'s columns from rows (bucket, x0, x1, min, max, sum, count)."""
    if rows:
        _b, x0s, x1s, mins, maxs, sums, counts = zip(*rows, strict=True)
        out.min = list(map(float, mins))
        out.max = list(map(float, maxs))
        out.count = list(map(int, counts))
        out.mean = list(map(_mean, sums, out.count, out.min, out.max))
        out.x_first = [int(x) - offset for x in x0s]
        out.x_last = [int(x) - offset for x in x1s]
