"""Per-block summaries of metric series (table ``metric_blocks``, migration 0020), so that a
chart of long series on the step axis reads about one row per 16 points instead of every
point.

A block is ``BLOCK_STEPS`` consecutive steps of one run × key (block ``k``: steps ``16k`` to
``16k + 15``); its row holds the block's row count and, over its finite values, their count,
step range, min, max and sum, and its NaN, +Infinity and -Infinity counts. Only series whose
steps are all ≥ 0 get blocks.

Nothing on the write path touches the table. A chart's read builds a series' blocks
afterwards (:func:`build`, one write: the series' blocks deleted and computed again from its
points), and a read uses them only while they are *current*: the series' row count equals the
sum of its blocks' row counts. That is exact because a series' set of points only ever grows
(an identical point is a no-op, a point with a new value at the same step and timestamp is
a new row, and points are deleted only with their run, whose blocks the cascade deletes), so
an equal count means the same points; any point logged since the build, by this server or
an older one, in or out of order, makes the series fall back to its points until the next
build. Checking costs one count of the series' rows (about a quarter of what reading its
values costs on SQLite).

The buckets computed from blocks are the ones :mod:`cairn.store.metric_buckets` computes
from the points with block-aligned edges (:func:`metric_buckets.snapped`): every block lies in
one bucket, the one its middle step falls in, so a bucket is the union of whole blocks, plus
the points of the (at most two) blocks the window cuts, which are read one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Double,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    not_,
    or_,
)
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select

from cairn.store.prepared import Prepared
from cairn.store.schema import metric_blocks, metrics, runs

BLOCK_STEPS = 16
"""Steps per block (a power of two; metric_buckets' snapped edges assume 16)."""
BUILD_MIN_POINTS = 2048
"""A series read from its points gets blocks built when it has at least this many points in
the window: below that its points cost little to read."""

_m = metrics.c
_b = metric_blocks.c
_SERIES = and_(_m.run_id == bindparam("run_id"), _m.key_id == bindparam("key_id"))
_BSERIES = and_(_b.run_id == bindparam("run_id"), _b.key_id == bindparam("key_id"))
_S0, _S1 = bindparam("s0", type_=BigInteger), bindparam("s1", type_=BigInteger)
_K0, _K1 = bindparam("k0", type_=BigInteger), bindparam("k1", type_=BigInteger)
_CHUNK = and_(_SERIES, _m.step >= _S0, _m.step < _S1)
"""The points of one build (a chunk of whole blocks: ``s0`` and ``s1`` are multiples of 16)."""
_BCHUNK = and_(_BSERIES, _b.block >= _K0, _b.block < _K1)
_BIG = bindparam("big", type_=Double)
_FINITE = and_(not_(_m.is_nan), _m.value >= -_BIG, _m.value <= _BIG)


def _point_aggregates() -> list[Any]:
    """The summary of some points, in ``metric_blocks``' column order from ``row_count``."""
    one, zero = literal(1), literal(0)
    return [
        func.count(),
        func.coalesce(func.sum(case((_FINITE, one), else_=zero)), 0),
        func.min(case((_FINITE, _m.step))),
        func.max(case((_FINITE, _m.step))),
        func.min(case((_FINITE, _m.value))),
        func.max(case((_FINITE, _m.value))),
        func.sum(case((_FINITE, _m.value))),
        func.coalesce(func.sum(case((_m.is_nan, one), else_=zero)), 0),
        func.coalesce(func.sum(case((and_(not_(_m.is_nan), _m.value > _BIG), one), else_=zero)), 0),
        func.coalesce(
            func.sum(case((and_(not_(_m.is_nan), _m.value < -_BIG), one), else_=zero)), 0
        ),
    ]


_SUMMARY_COLUMNS = [
    "row_count",
    "finite_count",
    "step_min",
    "step_max",
    "value_min",
    "value_max",
    "value_sum",
    "nan_count",
    "pos_inf_count",
    "neg_inf_count",
]
_block_of = (_m.step // BLOCK_STEPS).label("blk")
_BUILD = sa_insert(metric_blocks).from_select(
    ["run_id", "key_id", "block", *_SUMMARY_COLUMNS],
    sa_select(_m.run_id, _m.key_id, _block_of, *_point_aggregates())
    .where(_CHUNK)
    .group_by(_m.run_id, _m.key_id, _block_of),
)
# the usual series has only finite values: plain aggregates (half the CPU of the CASEs above)
# are its summary, which the check below confirms
_zero = literal(0, BigInteger)
_BUILD_FINITE = sa_insert(metric_blocks).from_select(
    ["run_id", "key_id", "block", *_SUMMARY_COLUMNS],
    sa_select(
        _m.run_id,
        _m.key_id,
        _block_of,
        func.count(),
        func.count(),
        func.min(_m.step),
        func.max(_m.step),
        func.min(_m.value),
        func.max(_m.value),
        func.sum(_m.value),
        func.sum(case((_m.is_nan, literal(1)), else_=literal(0))),
        _zero,
        _zero,
    )
    .where(_CHUNK)
    .group_by(_m.run_id, _m.key_id, _block_of),
)
_NOT_FINITE = Prepared(
    sa_select(_b.block)
    .where(_BCHUNK, or_(_b.nan_count > 0, _b.value_min < -_BIG, _b.value_max > _BIG))
    .limit(1)
)
_DROP = delete(metric_blocks).where(_BCHUNK)
_DROP_ALL = delete(metric_blocks).where(_BSERIES)
_FIRST_STEP = Prepared(sa_select(_m.step).where(_SERIES).order_by(_m.step).limit(1))
_CHUNK_END = Prepared(
    sa_select(_m.step)
    .where(_SERIES, _m.step >= _S0)
    .order_by(_m.step)
    .limit(1)
    .offset(bindparam("points", type_=BigInteger))
)
CHUNK_POINTS = 65_536
"""Points per build transaction at most (about one block more): a long series is built in
several writes, so that others' writes wait for one chunk (tens of milliseconds), not for
the whole series."""
NO_END = 2**62
"""The end of the last chunk: past every step."""
_CURRENT = Prepared(
    sa_select(
        sa_select(func.count()).where(_SERIES).scalar_subquery(),
        sa_select(func.sum(_b.row_count)).where(_BSERIES).scalar_subquery(),
    )
)
# the points of one step range (a block the window cuts), summarised as a block
_EDGE = Prepared(
    sa_select(*_point_aggregates()).where(
        _SERIES,
        _m.step >= bindparam("s0", type_=BigInteger),
        _m.step <= bindparam("s1", type_=BigInteger),
    )
)
_LO, _N, _SPAN = (bindparam(name, type_=BigInteger) for name in ("lo", "n", "span"))
_bucket = ((_b.block * BLOCK_STEPS + BLOCK_STEPS // 2 - _LO) * _N // _SPAN).label("bk")
_FROM_BLOCKS = Prepared(
    sa_select(
        _bucket,
        func.min(_b.step_min),
        func.max(_b.step_max),
        func.min(_b.value_min),
        func.max(_b.value_max),
        func.sum(_b.value_sum),
        func.sum(_b.finite_count),
        func.sum(_b.nan_count),
        func.sum(_b.pos_inf_count),
        func.sum(_b.neg_inf_count),
    )
    .where(
        _BSERIES,
        _b.block >= bindparam("k0", type_=BigInteger),
        _b.block <= bindparam("k1", type_=BigInteger),
    )
    .group_by(_bucket)
    .order_by(_bucket)
)


def build(conn: Connection, run_pk: int, key_id: int, big: float, s0: int = 0) -> int | None:
    """Compute one chunk of a series' blocks again from its points, in the caller's write
    transaction: the blocks from step ``s0`` (a multiple of 16; 0 for the first chunk) over
    about :data:`CHUNK_POINTS` points. The step where the next chunk starts, or None when this
    was the last one (or the series has a step below 0, and then no blocks at all). ``big``:
    the largest finite value as stored (metric_buckets' finite limit of the dialect).

    Chunks built in separate transactions are sound: each is exact for its steps at the time
    it was built, so the blocks' row counts add up to the series' only when no chunk has
    gained a point since (points are never removed)."""
    series = {"run_id": run_pk, "key_id": key_id}
    if s0 == 0:
        first = _FIRST_STEP.first(conn, **series)
        if first is None or first[0] < 0:
            conn.execute(_DROP_ALL, series)
            return None
    found = _CHUNK_END.first(conn, **series, s0=s0, points=CHUNK_POINTS)
    s1 = NO_END
    if found is not None:
        s1 = max(s0 + BLOCK_STEPS, int(found[0]) // BLOCK_STEPS * BLOCK_STEPS)
    params = {**series, "big": big, "s0": s0, "s1": s1}
    blocks = {**series, "big": big, "k0": s0 // BLOCK_STEPS, "k1": s1 // BLOCK_STEPS}
    conn.execute(_DROP, blocks)
    if conn.dialect.name == "mysql":
        # infinities are ±DBL_MAX there and a plain sum over them overflows: never try it
        conn.execute(_BUILD, params)
    else:
        conn.execute(_BUILD_FINITE, params)
        if _NOT_FINITE.first(conn, **blocks) is not None:  # a NaN or an infinity: count them
            conn.execute(_DROP, blocks)
            conn.execute(_BUILD, params)
    return s1 if s1 != NO_END else None


def _merge(row: list[Any], edge: tuple[Any, ...]) -> None:
    """Add an edge's summary (``_point_aggregates`` order) into a bucket row (bucket, x0, x1,
    min, max, sum, finite count, nan, +inf, -inf)."""
    count, finite, s0, s1, vmin, vmax, vsum, nans, pos, neg = edge
    if finite:
        row[1] = s0 if row[1] is None else min(row[1], s0)
        row[2] = s1 if row[2] is None else max(row[2], s1)
        row[3] = vmin if row[3] is None else min(row[3], vmin)
        row[4] = vmax if row[4] is None else max(row[4], vmax)
        row[5] = vsum if row[5] is None else (row[5] + vsum if vsum is not None else None)
        row[6] = (row[6] or 0) + finite
    row[7] = (row[7] or 0) + nans
    row[8] = (row[8] or 0) + pos
    row[9] = (row[9] or 0) + neg


def bucket_rows(
    conn: Connection, run_pk: int, key_id: int, lo: int, hi: int, n: int, big: float
) -> list[list[Any]] | None:
    """The series' buckets over [lo, hi] (``n`` of them, block-aligned edges, lo ≥ 0) from its
    blocks, as rows (bucket, x0, x1, min, max, sum, finite count, NaN, +inf, -inf counts), or
    None when the series has no current blocks."""
    found = _CURRENT.first(conn, run_id=run_pk, key_id=key_id)
    if found is None or found[1] is None or int(found[0]) != int(found[1]):
        return None
    span = hi - lo + 1
    k0 = -(-lo // BLOCK_STEPS)  # the first block that starts in the window
    k1 = (hi + 1) // BLOCK_STEPS - 1  # the last block that ends in it
    rows = [
        list(r)
        for r in _FROM_BLOCKS.rows(
            conn, run_id=run_pk, key_id=key_id, lo=lo, n=n, span=span, k0=k0, k1=k1
        )
    ]
    edges: list[tuple[int, int, int]] = []  # (bucket, first step, last step)
    if k0 > k1:  # no whole block in the window (cannot be, with buckets 2 blocks wide)
        edges.append((0, lo, hi))
    else:
        if lo < k0 * BLOCK_STEPS:
            edges.append((0, lo, k0 * BLOCK_STEPS - 1))
        if hi > k1 * BLOCK_STEPS + BLOCK_STEPS - 1:
            edges.append((n - 1, (k1 + 1) * BLOCK_STEPS, hi))
    for bucket, s0, s1 in edges:
        edge = _EDGE.first(conn, run_id=run_pk, key_id=key_id, s0=s0, s1=s1, big=big)
        if edge is None or not edge[0]:
            continue
        at = 0 if bucket == 0 else -1
        if rows and rows[at][0] == bucket:
            _merge(rows[at], edge)
            continue
        row: list[Any] = [bucket, None, None, None, None, None, 0, 0, 0, 0]
        _merge(row, edge)
        rows.insert(0, row) if bucket == 0 else rows.append(row)
    return rows


def stale_series(conn: Connection, run_uuids: Sequence[str]) -> list[tuple[int, int]]:
    """(run pk, key id) of the series of these runs that have at least
    :data:`BUILD_MIN_POINTS` points and no current blocks (none, or counts that no longer add
    up): what a finished run's first chart would otherwise read point by point."""
    if not run_uuids:
        return []
    pks = sa_select(runs.c.id).where(runs.c.run_uuid.in_(sorted(set(run_uuids))))
    counted = conn.execute(
        sa_select(_m.run_id, _m.key_id, func.count())
        .where(_m.run_id.in_(pks))
        .group_by(_m.run_id, _m.key_id)
        .having(func.count() >= BUILD_MIN_POINTS)
    ).all()
    if not counted:
        return []
    built = {
        (int(r), int(k)): int(n or 0)
        for r, k, n in conn.execute(
            sa_select(_b.run_id, _b.key_id, func.sum(_b.row_count))
            .where(_b.run_id.in_({int(r) for r, _, _ in counted}))
            .group_by(_b.run_id, _b.key_id)
        )
    }
    return [(int(r), int(k)) for r, k, n in counted if built.get((int(r), int(k))) != int(n)]
