"""Downsampling in SQL (store/metric_buckets.py) on SQLite and PostgreSQL: exact buckets,
a single-point spike among 1,000,000 points, zoom windows, time axes, NaN and infinity."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import Connection, Double, Integer, case, cast, false, insert, literal, select

from cairn.entities.tracking import Metric
from cairn.services.tracking import TrackingService
from cairn.store import metric_buckets as mb
from cairn.store import runs as run_store
from cairn.store.schema import metrics


def _ref(t: TrackingService, run_id: str, key: str) -> mb.SeriesRef:
    def read(c: Connection) -> mb.SeriesRef:
        row = run_store.resolve(c, run_id)
        return mb.SeriesRef(row.id, t.keys.lookup(c, [key]).get(key), row.start_time)

    return t.db.read(read)


def _buckets(
    t: TrackingService, ref: mb.SeriesRef, axis: mb.Axis, width: int, window: tuple[int, int]
) -> mb.Buckets:
    def read(c: Connection) -> mb.Buckets:
        offset = mb.offsets_of(c, axis, [ref])[0]
        lo, hi = window
        return mb.buckets(c, axis, ref, offset, lo, hi, mb.bucket_count(lo, hi, width))

    return t.db.read(read)


def _data_window(t: TrackingService, ref: mb.SeriesRef, axis: mb.Axis) -> tuple[int, int] | None:
    return t.db.read(lambda c: mb.window(c, axis, [ref], mb.offsets_of(c, axis, [ref])))


def test_exact_buckets_on_a_small_series(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 1000, "small").info.run_id
    values = [5.0, 1.0, 9.0, 3.0, 4.0, 2.0, 8.0, 7.0, 6.0, 0.5]
    tracking.log_batch(run_id, [Metric("loss", v, 2000 + 10 * i, i) for i, v in enumerate(values)])
    ref = _ref(tracking, run_id, "loss")
    assert _data_window(tracking, ref, mb.Axis.STEP) == (0, 9)

    b = _buckets(tracking, ref, mb.Axis.STEP, 3, (0, 9))  # span 10 in 3: steps 0-3, 4-6, 7-9
    assert b.x_first == [0, 4, 7]
    assert b.x_last == [3, 6, 9]
    assert b.min == [1.0, 2.0, 0.5]
    assert b.max == [9.0, 8.0, 7.0]
    assert b.mean == pytest.approx([4.5, 14 / 3, 4.5])
    assert b.count == [4, 3, 3]
    assert (b.nan_count, b.pos_inf_count, b.neg_inf_count) == (0, 0, 0)

    # wider than the series: one bucket per point, the raw values
    raw = _buckets(tracking, ref, mb.Axis.STEP, 1000, (0, 9))
    assert raw.x_first == raw.x_last == list(range(10))
    assert raw.min == raw.max == raw.mean == values
    assert raw.count == [1] * 10


def test_points_sharing_a_step_fall_in_one_bucket(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 0, "dup").info.run_id
    tracking.log_batch(run_id, [Metric("m", 1.0, 10, 0), Metric("m", 3.0, 20, 0)])
    tracking.log_batch(run_id, [Metric("m", 10.0, 30, 1)])
    b = _buckets(tracking, _ref(tracking, run_id, "m"), mb.Axis.STEP, 100, (0, 1))
    assert b.x_first == [0, 1]
    assert b.count == [2, 1]
    assert b.mean == [2.0, 10.0]
    assert (b.min, b.max) == ([1.0, 10.0], [3.0, 10.0])


def _million(t: TrackingService, spike_step: int) -> mb.SeriesRef:
    """1,000,000 points of a saw tooth in [0, 0.999] with one spike of 1000.0, written in one
    INSERT … SELECT over a recursive CTE (the key itself is logged through the service)."""
    run_id = t.create_run("0", "u", 0, "big").info.run_id
    t.log_batch(run_id, [Metric("loss", 0.0, 0, 0)])
    ref = _ref(t, run_id, "loss")
    n = 1_000_000

    def write(c: Connection) -> None:
        if c.dialect.name == "mysql":  # MariaDB stops a recursive CTE at 1,000 rows by default
            c.exec_driver_sql(f"SET SESSION max_recursive_iterations = {n}")
        seq = select(literal(1, Integer).label("i")).cte("seq", recursive=True)
        seq = seq.union_all(select(seq.c.i + 1).where(seq.c.i < n - 1))
        i = seq.c.i
        value = cast((i % 1000), Double) * 0.001
        rows = select(
            literal(ref.run_pk, Integer),
            literal(ref.key_id, Integer),
            i,
            i * 10,
            case((i == spike_step, literal(1000.0, Double)), else_=value),
            false(),
        )
        c.execute(
            insert(metrics).from_select(
                ["run_id", "key_id", "step", "timestamp", "value", "is_nan"], rows
            )
        )

    t.db.write(write)
    return ref


def test_single_point_spike_in_a_million_points_is_a_bucket_max(tracking: TrackingService) -> None:
    spike = 654_321
    ref = _million(tracking, spike)
    window = _data_window(tracking, ref, mb.Axis.STEP)
    assert window == (0, 999_999)
    b = _buckets(tracking, ref, mb.Axis.STEP, 1000, window)
    assert len(b.count) == 1000
    assert sum(b.count) == 1_000_000
    # 1,000 steps a bucket: its edges snap to blocks of 16 steps (metric_blocks), so each
    # bucket holds whole blocks, within half a block of 1,000 points at either edge
    assert all(984 <= c <= 1016 for c in b.count)
    assert all(x % mb.BLOCK_STEPS == 0 for x in b.x_first)
    assert b.x_first == [mb.edge(0, 999_999, 1000, i, snap=True) for i in range(1000)]
    hit = b.x_first.index(654_000)
    assert b.max[hit] == 1000.0
    assert b.x_first[hit] <= spike <= b.x_last[hit]
    assert max(b.max[:hit] + b.max[hit + 1 :]) == 0.999
    assert min(b.min) == 0.0

    # the spike lifts its bucket's mean by about 1 only: the max shows it
    def value(x: int) -> float:
        return 1000.0 if x == spike else (x % 1000) * 0.001

    def mean_of(k: int) -> float:
        return sum(map(value, range(b.x_first[k], b.x_last[k] + 1))) / b.count[k]

    assert b.mean[hit] == pytest.approx(mean_of(hit))
    assert b.mean[hit] > mean_of(hit - 1) + 0.9
    assert b.mean[hit - 1] == pytest.approx(mean_of(hit - 1))

    # zoom: the same width over a narrow window gives the single points
    zoom = _buckets(tracking, ref, mb.Axis.STEP, 1000, (654_300, 654_340))
    assert zoom.x_first == list(range(654_300, 654_341))
    assert zoom.count == [1] * 41
    assert zoom.max[21] == 1000.0
    assert zoom.min[20] == 0.32
    # a window of 10,000 steps in 1000 buckets: 10 points each, the spike still the max
    mid = _buckets(tracking, ref, mb.Axis.STEP, 1000, (650_000, 659_999))
    assert mid.count == [10] * 1000
    assert max(mid.max) == 1000.0
    assert mid.x_first[mid.max.index(1000.0)] == 654_320


def test_time_axes(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 5_000, "timed").info.run_id
    points = [Metric("acc", float(i), 5_000 + 1_000 * i, i * 2) for i in range(6)]
    tracking.log_batch(run_id, points)
    ref = _ref(tracking, run_id, "acc")

    assert _data_window(tracking, ref, mb.Axis.WALL) == (5_000, 10_000)
    wall = _buckets(tracking, ref, mb.Axis.WALL, 2, (5_000, 10_000))
    assert wall.offset == 0
    assert wall.x_first == [5_000, 8_000]
    assert wall.x_last == [7_000, 10_000]
    assert wall.mean == [1.0, 4.0]

    assert _data_window(tracking, ref, mb.Axis.RELATIVE) == (0, 5_000)
    rel = _buckets(tracking, ref, mb.Axis.RELATIVE, 1000, (1_000, 3_000))
    assert rel.offset == 5_000
    assert rel.x_first == [1_000, 2_000, 3_000]
    assert rel.min == [1.0, 2.0, 3.0]

    # each run counts from its own first point (not its start time: curves logged with
    # timestamps far from the run's start still begin at 0)
    later = tracking.create_run("0", "u", 60_000, "later").info.run_id
    tracking.log_batch(later, [Metric("acc", 1.0, 70_000, 0), Metric("acc", 2.0, 71_000, 1)])
    assert _data_window(tracking, _ref(tracking, later, "acc"), mb.Axis.RELATIVE) == (0, 1_000)


def test_nan_and_infinity_are_counted_not_drawn(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 0, "odd").info.run_id
    values = [1.0, math.nan, math.inf, 2.0, -math.inf, math.nan, 3.0]
    tracking.log_batch(run_id, [Metric("v", x, 100 + i, i) for i, x in enumerate(values)])
    ref = _ref(tracking, run_id, "v")
    b = _buckets(tracking, ref, mb.Axis.STEP, 1, (0, 6))
    assert (b.min, b.max, b.mean, b.count) == ([1.0], [3.0], [2.0], [3])
    assert (b.nan_count, b.pos_inf_count, b.neg_inf_count) == (2, 1, 1)
    # a window holding only non-finite points: no buckets, the counts still tell
    only = _buckets(tracking, ref, mb.Axis.STEP, 10, (1, 2))
    assert only.count == []
    assert (only.nan_count, only.pos_inf_count) == (1, 1)


def test_unknown_key_and_empty_window(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 0, "e").info.run_id
    tracking.log_batch(run_id, [Metric("a", 1.0, 1, 5)])
    missing = _ref(tracking, run_id, "never-logged")
    assert missing.key_id is None
    assert _data_window(tracking, missing, mb.Axis.STEP) is None
    assert _buckets(tracking, missing, mb.Axis.STEP, 10, (0, 10)).count == []
    outside = _buckets(tracking, _ref(tracking, run_id, "a"), mb.Axis.STEP, 10, (6, 100))
    assert outside.count == []


def test_bucket_count() -> None:
    assert mb.bucket_count(0, 9, 1000) == 10
    assert mb.bucket_count(0, 999_999, 1000) == 1000
    assert mb.bucket_count(5, 5, 1000) == 1
    # a window as wide as 2^53 steps: (x - lo) * n must still fit in a signed 64-bit integer
    wide = mb.bucket_count(-(2**53), 2**53, 5000)
    assert 1 <= wide < 5000
    assert (2**54 + 1) * wide < 2**63


def test_huge_steps(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 0, "huge").info.run_id
    points = [Metric("s", float(i), 1, step) for i, step in enumerate([-(2**52), 0, 2**52])]
    tracking.log_batch(run_id, points)
    ref = _ref(tracking, run_id, "s")
    window = _data_window(tracking, ref, mb.Axis.STEP)
    assert window == (-(2**52), 2**52)
    b = _buckets(tracking, ref, mb.Axis.STEP, 5000, window)
    assert b.x_first == [-(2**52), 0, 2**52]
    assert b.max == [0.0, 1.0, 2.0]
