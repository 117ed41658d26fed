"""Block summaries of metric series (store/metric_blocks.py) on SQLite, PostgreSQL and
MariaDB: the buckets read from blocks are exactly the ones read from the points (min, max,
count, x range, NaN and infinity counts; the mean up to rounding), and stale blocks are never
used: after a point logged out of order, a point with a new value at the same step and
timestamp, or the run's deletion."""

from __future__ import annotations

import functools
import math

import pytest
from sqlalchemy import Connection, delete, func, select

from cairn.entities.tracking import Buckets, Metric
from cairn.jobs.registry import JobContext
from cairn.services import metric_block_jobs as block_jobs
from cairn.services.tracking import TrackingService
from cairn.store import metric_blocks as metric_blocks_module
from cairn.store import metric_buckets as mb
from cairn.store import runs as run_store
from cairn.store.schema import metric_blocks, runs

AXIS = mb.Axis.STEP


def _ref(t: TrackingService, run_id: str, key: str) -> mb.SeriesRef:
    def read(c: Connection) -> mb.SeriesRef:
        row = run_store.resolve(c, run_id)
        return mb.SeriesRef(row.id, t.keys.lookup(c, [key]).get(key), row.start_time)

    return t.db.read(read)


def _log(t: TrackingService, run_id: str, points: list[Metric]) -> None:
    for i in range(0, len(points), 1000):
        t.log_batch(run_id, points[i : i + 1000])


def _raw(t: TrackingService, ref: mb.SeriesRef, window: tuple[int, int], n: int) -> Buckets:
    return t.db.read(lambda c: mb.buckets(c, AXIS, ref, 0, *window, n))


def _blocks(
    t: TrackingService, ref: mb.SeriesRef, window: tuple[int, int], n: int
) -> Buckets | None:
    return t.db.read(lambda c: mb.from_blocks(c, AXIS, ref, 0, *window, n))


def _build(t: TrackingService, ref: mb.SeriesRef) -> bool:
    """Build all of a series' chunks, one write each; whether it has blocks now."""
    start: int | None = 0
    for _ in range(10_000):
        if start is None:
            break
        at = start
        start = t.db.write(functools.partial(mb.build_blocks, ref=ref, start=at))
    return _block_count(t, ref.run_pk) > 0


def _block_count(t: TrackingService, pk: int) -> int:
    def count(c: Connection) -> int:
        q = select(func.count()).select_from(metric_blocks).where(metric_blocks.c.run_id == pk)
        return int(c.execute(q).scalar_one())

    return t.db.read(count)


def _same(a: Buckets, b: Buckets) -> None:
    assert (a.x_first, a.x_last, a.min, a.max, a.count) == (
        b.x_first,
        b.x_last,
        b.min,
        b.max,
        b.count,
    )
    assert a.mean == pytest.approx(b.mean, rel=1e-12)
    assert (a.nan_count, a.pos_inf_count, a.neg_inf_count) == (
        b.nan_count,
        b.pos_inf_count,
        b.neg_inf_count,
    )


def _value(i: int) -> float:
    if i % 997 == 5:
        return math.nan
    if i == 4321:
        return math.inf
    if i == 4322:
        return -math.inf
    if i == 7777:
        return 1e6  # a single-point spike
    return ((i * 7919) % 1000) / 1000.0 - 0.5


WINDOWS = [((0, 9999), 100), ((0, 9999), 300), ((37, 8123), 100), ((5, 9000), 7), ((100, 9999), 20)]


def test_blocks_give_the_points_buckets(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 0, "blocks").info.run_id
    # logged in two interleaved halves: odd steps first, then even ones (out of order)
    points = [Metric("loss", _value(i), 1000 + i, i) for i in range(1, 10_000, 2)]
    points += [Metric("loss", _value(i), 1000 + i, i) for i in range(0, 10_000, 2)]
    _log(tracking, run_id, points)
    ref = _ref(tracking, run_id, "loss")
    assert _blocks(tracking, ref, (0, 9999), 100) is None  # none built yet
    assert _build(tracking, ref)
    for window, n in WINDOWS:
        assert mb.snapped(AXIS, *window, n)
        found = _blocks(tracking, ref, window, n)
        assert found is not None
        assert found.from_blocks
        _same(found, _raw(tracking, ref, window, n))
    full = _blocks(tracking, ref, (0, 9999), 100)
    assert full is not None
    assert max(full.max) == 1e6
    assert sum(full.count) == 10_000 - 11 - 2  # NaN at 5, 1002, ..., 9975; the infinities
    assert (full.nan_count, full.pos_inf_count, full.neg_inf_count) == (11, 1, 1)
    # snapped edges: every bucket but the last starts on a block
    assert all(x % 16 == 0 for x in full.x_first[1:])
    # too narrow for blocks: read from the points
    assert not mb.snapped(AXIS, 0, 9999, 1000)
    assert _blocks(tracking, ref, (0, 9999), 1000) is None


def test_stale_blocks_are_never_used(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 0, "stale").info.run_id
    _log(tracking, run_id, [Metric("m", float(i % 10), 1000 + i, i) for i in range(5000)])
    ref = _ref(tracking, run_id, "m")
    window, n = (0, 4999), 50
    assert _build(tracking, ref)
    assert _blocks(tracking, ref, window, n) is not None

    # a point logged out of order, inside a built block
    tracking.log_batch(run_id, [Metric("m", 99.0, 5, 2500)])
    assert _blocks(tracking, ref, window, n) is None
    raw = _raw(tracking, ref, window, n)
    assert max(raw.max) == 99.0
    assert _build(tracking, ref)
    found = _blocks(tracking, ref, window, n)
    assert found is not None
    _same(found, raw)

    # a new value at an existing step and timestamp: a new point, so stale again
    tracking.log_batch(run_id, [Metric("m", -7.0, 1000 + 1234, 1234)])
    assert _blocks(tracking, ref, window, n) is None
    raw = _raw(tracking, ref, window, n)
    assert min(raw.min) == -7.0
    assert _build(tracking, ref)
    found = _blocks(tracking, ref, window, n)
    assert found is not None
    _same(found, raw)

    # an identical point again changes nothing: the blocks stay current
    tracking.log_batch(run_id, [Metric("m", -7.0, 1000 + 1234, 1234)])
    assert _blocks(tracking, ref, window, n) is not None

    # a point after the last block (a run still logging)
    tracking.log_batch(run_id, [Metric("m", 3.0, 9000, 5000)])
    assert _blocks(tracking, ref, (0, 5000), n) is None


def test_blocks_go_with_their_run_and_negative_steps_get_none(tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 0, "gone").info.run_id
    _log(tracking, run_id, [Metric("m", float(i), i, i) for i in range(3000)])
    ref = _ref(tracking, run_id, "m")
    assert _build(tracking, ref)

    def blocks_of(pk: int) -> int:
        return _block_count(tracking, pk)

    assert blocks_of(ref.run_pk) == 3000 // 16 + 1
    tracking.db.write(lambda c: c.execute(delete(runs).where(runs.c.id == ref.run_pk)))
    assert blocks_of(ref.run_pk) == 0

    neg = tracking.create_run("0", "u", 0, "negative").info.run_id
    _log(tracking, neg, [Metric("m", float(i), i, i) for i in range(-10, 3000)])
    neg_ref = _ref(tracking, neg, "m")
    assert not _build(tracking, neg_ref)
    assert blocks_of(neg_ref.run_pk) == 0
    assert _blocks(tracking, neg_ref, (0, 2999), 10) is None


def test_a_series_built_in_chunks(
    tracking: TrackingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long series is built in several writes of about CHUNK_POINTS points; a point that
    lands in a chunk already built while the others are being built makes the blocks stale,
    one that lands in a chunk not built yet does not."""
    monkeypatch.setattr(metric_blocks_module, "CHUNK_POINTS", 1000)
    run_id = tracking.create_run("0", "u", 0, "chunks").info.run_id
    _log(tracking, run_id, [Metric("m", float(i % 7), i, i) for i in range(10_000)])
    ref = _ref(tracking, run_id, "m")
    window, n = (0, 9999), 100

    first = tracking.db.write(lambda c: mb.build_blocks(c, ref, 0))
    assert first is not None
    assert first % 16 == 0
    assert 992 <= first <= 1008
    # a point in the first chunk (built) and one past it (not built yet)
    tracking.log_batch(run_id, [Metric("m", 50.0, 1, 10), Metric("m", -50.0, 1, 5000)])
    start: int | None = first
    writes = 1
    while start is not None:
        at = start
        start = tracking.db.write(functools.partial(mb.build_blocks, ref=ref, start=at))
        writes += 1
    assert writes >= 10
    assert _blocks(tracking, ref, window, n) is None  # the first chunk missed a point
    assert _build(tracking, ref)
    found = _blocks(tracking, ref, window, n)
    assert found is not None
    _same(found, _raw(tracking, ref, window, n))
    assert (max(found.max), min(found.min)) == (50.0, -50.0)


def test_the_blocks_of_an_ended_runs_long_series_are_built_ahead_of_its_first_chart(
    tracking: TrackingService,
) -> None:
    """The ``metric_blocks.ended`` periodic job: a run that ended gets the blocks of its
    series of at least BUILD_MIN_POINTS points; a short series, a run still running and a
    run that ended before the job first looked get none (their first chart builds them)."""
    ctx = JobContext(None, 1, tracking.db)
    block_jobs._PLACES.pop(tracking.db.uri, None)  # a MariaDB test database is reused
    before = tracking.create_run("0", "u", 0, "before").info.run_id
    _log(tracking, before, [Metric("loss", 0.5, 1, i) for i in range(3000)])
    tracking.update_run(before, status="FINISHED", end_time=2)
    block_jobs.build_blocks_of_ended_runs(ctx)  # its first turn: where the log stands

    done = tracking.create_run("0", "u", 0, "done").info.run_id
    running = tracking.create_run("0", "u", 0, "running").info.run_id
    for run_id in (done, running):
        _log(tracking, run_id, [Metric("loss", _value(i), 1000 + i, i) for i in range(3000)])
        _log(tracking, run_id, [Metric("short", 1.0, 1, i) for i in range(100)])
    tracking.update_run(done, status="FAILED", end_time=2)
    block_jobs.build_blocks_of_ended_runs(ctx)

    loss = _ref(tracking, done, "loss")
    assert _block_count(tracking, loss.run_pk) == 3000 // 16 + 1  # only its long series
    found = _blocks(tracking, loss, (0, 2999), 50)
    assert found is not None
    _same(found, _raw(tracking, loss, (0, 2999), 50))
    assert _block_count(tracking, _ref(tracking, running, "loss").run_pk) == 0
    assert _block_count(tracking, _ref(tracking, before, "loss").run_pk) == 0
    block_jobs.build_blocks_of_ended_runs(ctx)  # nothing new: nothing built again
    assert tracking.db.read(lambda c: metric_blocks_module.stale_series(c, [done])) == []
