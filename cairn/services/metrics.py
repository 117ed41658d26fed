"""Metric series for charts: every run × key cut into at most ``width`` buckets of one x window,
planned and read here (store/metric_buckets.py holds the SQL)."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.tracking import Axis, Buckets
from cairn.store import metric_buckets as mb
from cairn.store import runs as run_store
from cairn.store.db import Database
from cairn.store.metric_blocks import BUILD_MIN_POINTS
from cairn.store.metric_keys import MetricKeys

log = logging.getLogger(__name__)

REBUILD_AFTER = 60.0
"""Seconds before this process builds the same series' blocks again."""
MAX_CHUNKS = 1_000_000
"""Bound on one series' build writes (a chunk is about 65,536 points)."""

SPLIT_MIN_BUCKETS = 64
SPLIT_PARTS = 2
"""Parts per series, run at once (at most this many at a time per request)."""
SPLIT_MAX_SERIES = 1
"""Split only a request of this many series or fewer (a metric page's chart of a long series):
each part costs a pooled connection whose page cache is cold for that series and a thread
hop (30 % more CPU in all on 100 series × 10,000 points), which is worth it to halve one
chart's wait on an idle machine but not for a chart of many runs, whose requests already
come several at once."""


@dataclass(frozen=True, slots=True)
class Series:
    run_id: str
    key: str
    buckets: Buckets


@dataclass(frozen=True, slots=True)
class Downsampled:
    """The window ``[lo, hi]`` (None: no points at all) cut into ``bucket_count`` buckets, and
    one series per run × key, runs outer, in the order asked."""

    lo: int | None
    hi: int | None
    bucket_count: int
    series: list[Series]


@dataclass
class _Plan:
    refs: list[tuple[str, str, mb.SeriesRef]]
    offsets: list[int]
    lo: int | None
    hi: int | None
    n: int


class MetricsService:
    def __init__(self, db: Database, keys: MetricKeys):
        """``keys``: the process's metric key cache (the one the tracking service fills)."""
        self.db = db
        self.keys = keys
        self._building: set[tuple[int, int | None]] = set()
        self._built_at: dict[tuple[int, int | None], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def downsample(
        self,
        run_ids: Sequence[str],
        keys: Sequence[str],
        axis: Axis,
        width: int,
        x_min: float | None = None,
        x_max: float | None = None,
    ) -> Downsampled:
        """Every run × key in at most ``width`` buckets of the window ``[x_min, x_max]`` (by
        default the data's). An unknown run is a 404 naming it; unknown keys give empty
        series."""
        p = await self.db.aread(lambda c: self._plan(c, run_ids, keys, axis, width, x_min, x_max))
        found: list[Buckets]
        lo, hi = p.lo or 0, p.hi or 0
        if (
            p.n
            and mb.splittable(self.db.dialect, axis)
            and p.n >= SPLIT_MIN_BUCKETS
            and len(p.refs) <= SPLIT_MAX_SERIES
        ):
            # SQLite scans one bucket range at a time; halves of each series run at once on two
            # pooled connections (two snapshots: a point logged in between may show in one half)
            ref, off = p.refs[0][2], p.offsets[0]
            one = await self.db.aread(lambda c: mb.from_blocks(c, axis, ref, off, lo, hi, p.n))
            found = [one] if one is not None else await self._in_parts(axis, p)
        else:

            def compute(conn: Connection) -> list[Buckets]:
                return [
                    mb.buckets(conn, axis, ref, off, lo, hi, p.n, blocks=True)
                    if p.n
                    else Buckets(offset=off)
                    for (_, _, ref), off in zip(p.refs, p.offsets, strict=True)
                ]

            found = await self.db.aread(compute)
        if p.n:
            self._build_later(
                [
                    ref
                    for (_, _, ref), b, off in zip(p.refs, found, p.offsets, strict=True)
                    if not b.from_blocks
                    and mb.snapped(axis, lo + off, hi + off, p.n)
                    and sum(b.count) + b.nan_count + b.pos_inf_count + b.neg_inf_count
                    >= BUILD_MIN_POINTS
                ]
            )
        series = [Series(rid, k, b) for (rid, k, _), b in zip(p.refs, found, strict=True)]
        return Downsampled(p.lo, p.hi, p.n, series)

    def _build_later(self, refs: list[mb.SeriesRef]) -> None:
        """Build these series' block summaries after the answer, one write each (the next
        chart of them reads blocks); a series already being built, or built by this process
        less than :data:`REBUILD_AFTER` seconds ago (a run still logging, whose blocks are
        stale again at once), is left alone. A failed build (two servers building one series
        at once, say) is logged and forgotten: the series is read from its points until a
        later chart builds it."""
        now = time.monotonic()
        wanted = [
            r
            for r in refs
            if (r.run_pk, r.key_id) not in self._building
            and now - self._built_at.get((r.run_pk, r.key_id), now - REBUILD_AFTER) >= REBUILD_AFTER
        ]
        if not wanted:
            return
        if len(self._built_at) > 100_000:
            self._built_at.clear()
        self._building.update((r.run_pk, r.key_id) for r in wanted)

        async def build() -> None:
            for ref in wanted:
                try:
                    start: int | None = 0
                    for _ in range(MAX_CHUNKS):  # one write per chunk: others' writes go between
                        if start is None:
                            break
                        start = await self.db.awrite(
                            functools.partial(mb.build_blocks, ref=ref, start=start)
                        )
                except Exception:
                    log.warning(
                        "metric blocks: building run %s key %s failed",
                        ref.run_pk,
                        ref.key_id,
                        exc_info=True,
                    )
                finally:
                    self._building.discard((ref.run_pk, ref.key_id))
                    self._built_at[ref.run_pk, ref.key_id] = time.monotonic()

        task = asyncio.get_running_loop().create_task(build())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _plan(
        self,
        conn: Connection,
        run_ids: Sequence[str],
        keys: Sequence[str],
        axis: Axis,
        width: int,
        x_min: float | None,
        x_max: float | None,
    ) -> _Plan:
        key_ids = self.keys.lookup(conn, keys)
        refs: list[tuple[str, str, mb.SeriesRef]] = []
        for rid in run_ids:
            try:
                row = run_store.resolve(conn, rid)
            except CairnError as exc:
                raise CairnError(
                    f"Parameter 'run_id': no run with id {rid!r}",
                    ErrorCode.RESOURCE_DOES_NOT_EXIST,
                ) from exc
            for k in keys:
                refs.append((rid, k, mb.SeriesRef(row.id, key_ids.get(k), row.start_time)))
        offsets = mb.offsets_of(conn, axis, [ref for _, _, ref in refs])
        lo = math.ceil(x_min) if x_min is not None else None
        hi = math.floor(x_max) if x_max is not None else None
        if lo is None or hi is None:
            data = mb.window(conn, axis, [ref for _, _, ref in refs], offsets)
            if data is not None:
                lo = data[0] if lo is None else lo
                hi = data[1] if hi is None else hi
        n = 0
        if lo is not None and hi is not None and lo <= hi:
            n = mb.bucket_count(lo, hi, width)
        return _Plan(refs, offsets, lo, hi, n)

    async def _in_parts(self, axis: Axis, p: _Plan) -> list[Buckets]:
        limit = asyncio.Semaphore(SPLIT_PARTS)
        lo, hi = p.lo or 0, p.hi or 0

        async def one(ref: mb.SeriesRef, offset: int, part: tuple[int, int]) -> Buckets:
            def job(conn: Connection) -> Buckets:
                return mb.buckets(conn, axis, ref, offset, lo, hi, p.n, part)

            async with limit:
                return await self.db.aread(job)

        pieces = mb.parts(p.n, SPLIT_PARTS)
        out = []
        for (_, _, ref), offset in zip(p.refs, p.offsets, strict=True):
            out.append(await asyncio.gather(*(one(ref, offset, part) for part in pieces)))
        return [mb.merge(list(found)) for found in out]
