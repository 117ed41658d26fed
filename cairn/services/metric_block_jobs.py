"""Block summaries for runs that ended: the periodic ``metric_blocks.ended`` job.

A chart builds the block summaries (:mod:`cairn.store.metric_blocks`) of the long series it
read point by point, so that the next chart of them reads blocks. This job builds them ahead
of the first chart for runs that ended: every :data:`EVERY` seconds it reads the change log's
``run.update`` and ``run.create`` events since it last looked (the log's action index finds
them among the hot-path logging events at once), takes the runs that reached ``FINISHED``,
``FAILED`` or ``KILLED``, and builds the blocks of their series of at least
:data:`~cairn.store.metric_blocks.BUILD_MIN_POINTS` points that have no current ones, one
chunk per write, for at most :data:`BUDGET_S` seconds a turn (the rest waits for the next).

Nothing here is needed for a correct answer: a chart uses blocks only while they add up to
the series' points. Where it looked last is kept in memory: a process starts at the log's
head, and a run that ended while no server ran gets its blocks from its first chart, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from typing import Any

from sqlalchemy import Connection

from cairn.entities.events import EventQuery
from cairn.entities.tracking import RunStatus
from cairn.jobs.registry import JobContext, periodic
from cairn.store import events as event_store
from cairn.store import metric_blocks
from cairn.store import metric_buckets as mb
from cairn.store.db import Database

log = logging.getLogger(__name__)

EVERY = 10.0
"""Seconds between two turns (once across the processes sharing the database)."""
BUDGET_S = 5.0
"""Building time a turn takes at most; what is left waits for the next turn."""
PAGE = 500
"""Events read per query."""
ENDED = frozenset({RunStatus.FINISHED.value, RunStatus.FAILED.value, RunStatus.KILLED.value})
ACTIONS = ("run.update", "run.create")


class _Place:
    """Where this process last looked in the log, and the ended runs still to build."""

    def __init__(self) -> None:
        self.after: int | None = None
        self.pending: list[str] = []


_PLACES: dict[str, _Place] = {}
_PLACES_LOCK = threading.Lock()


def _place(db: Database) -> _Place:
    """This process's place in ``db``'s log (one process may serve several: tests, tools)."""
    with _PLACES_LOCK:
        return _PLACES.setdefault(db.uri, _Place())


def ended_runs(conn: Connection, after: int, through: int) -> list[str]:
    """The runs that ended in the events with ids after ``after`` up to ``through`` (run ids,
    in event order)."""
    found: dict[int, str] = {}
    for action in ACTIONS:
        since = after
        while since < through:
            query = EventQuery(
                action=action, after_id=since, before_id=through + 1, ascending=True, limit=PAGE
            )
            page = event_store.search(conn, query)
            for event in page:
                if str((event.after or {}).get("status")) in ENDED:
                    found[event.id] = event.entity_id
            if len(page) < PAGE:
                break
            since = page[-1].id
    return [found[i] for i in sorted(found)]


@periodic("metric_blocks.ended", every=EVERY)
def build_blocks_of_ended_runs(ctx: JobContext) -> None:
    place = _place(ctx.db)
    head = int(ctx.db.read(event_store.head)[0])
    if place.after is None or head < place.after:  # a first turn, or an emptied database
        place.after = head
        place.pending.clear()
        return
    if head > place.after:
        after = place.after
        runs = ctx.db.read(lambda c: ended_runs(c, after, head))
        place.after = head
        place.pending.extend(r for r in runs if r not in place.pending)
    stop = time.monotonic() + BUDGET_S
    while place.pending and time.monotonic() < stop:
        series = ctx.db.read(partial(metric_blocks.stale_series, run_uuids=place.pending[:1]))
        for run_pk, key_id in series:
            _build(ctx, mb.SeriesRef(run_pk, key_id, None))
        place.pending.pop(0)


def _build(ctx: JobContext, ref: mb.SeriesRef) -> None:
    """One series' blocks, a chunk per write (others' writes go between)."""
    start: int | None = 0
    try:
        while start is not None:
            chunk_start = start

            def chunk(conn: Connection, s: int = chunk_start) -> Any:
                return mb.build_blocks(conn, ref, s)

            start = ctx.db.write(chunk)
    except Exception:  # two processes building one series, say: its next chart builds it
        log.warning(
            "metric blocks: building run %s key %s failed", ref.run_pk, ref.key_id, exc_info=True
        )
