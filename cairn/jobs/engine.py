"""The job engine: workers that claim jobs under leases, the outbox consumers, the periodic
jobs (the reaper and the sweeper among them), over one database and one Huey queue.

One :class:`JobEngine` per process. ``start(work=False)`` only hands committed job ids to the
queue (a server that leaves the work to ``cairn worker`` processes); ``start()`` also runs:

- the queue's consumer threads, each calling :meth:`JobEngine.run_job` for an id: claim
  (pending → running, attempts + 1, a lease), run the kind's handler as the ``system`` actor,
  finish on the lease (succeeded / pending again after a backoff / failed);
- a heartbeat thread extending the leases of the jobs running here and passing cancels on;
- a consumer thread feeding each outbox consumer the change events after its cursor, woken
  after every commit that wrote events in this process and every ``tick`` seconds;
- a periodic thread running each due periodic job, once across all processes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import islice
from typing import Any

import orjson

from cairn.entities.errors import database_unreachable, first_line, storage_full
from cairn.entities.events import ACTING, SYSTEM_ACTOR, ChangeEvent
from cairn.entities.jobs import backoff_seconds
from cairn.jobs import foreground, registry
from cairn.jobs.queue import JobQueue
from cairn.jobs.registry import JobContext, RetryLater, job_kind, periodic
from cairn.store import events as event_store
from cairn.store import jobs as job_store
from cairn.store.db import Database
from cairn.store.sql import now_ms
from cairn.store.statistics import analyze_stale

log = logging.getLogger(__name__)

MAX_CONSUMER_BATCHES = 50
"""Batches one consumer takes per wake-up before the others get their turn."""
GATHER_SECONDS = 0.2
"""How long the consumers wait after the first nudge before reading the log: the commits of
that moment (a client logging point after point) become one batch, read and answered in one
transaction per consumer, instead of each commit waking them for a transaction of its own on
the store's one writer."""
BUSY_GATHER_SECONDS = 1.0
"""The gathering time after a round that found at least :data:`BUSY_EVENTS` events: while
the log is busy (a client logging point after point), each round costs a transaction per
consumer and a few queries whatever its size, and takes the store's one writer from the
requests meanwhile; gathering a second's commits makes that cost per second, not per 0.2 s.
A quiet log is answered after :data:`GATHER_SECONDS` again."""
BUSY_EVENTS = 100


JOB_NICENESS = 10
"""How much lower than the server's request threads a job's thread runs (Linux nice): on a
busy machine the request path gets the CPU first, a long evaluation or delivery waits."""


def background_priority() -> None:
    """Lower the calling thread's scheduling priority to :data:`JOB_NICENESS` (once; Linux
    threads have their own nice value, so the request threads keep theirs)."""
    if getattr(_PRIORITY, "lowered", False):
        return
    _PRIORITY.lowered = True
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < JOB_NICENESS:
            os.setpriority(os.PRIO_PROCESS, tid, JOB_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the usual priority
        pass


_PRIORITY = threading.local()


class JobEngine:
    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        services: Mapping[str, Any] | None = None,
        *,
        workers: int = 1,
        lease_seconds: float = 60.0,
        tick: float = 1.0,
        sweep_grace: float = 30.0,
        owner: str | None = None,
        gather: float = GATHER_SECONDS,
        busy_gather: float = BUSY_GATHER_SECONDS,
    ):
        self.db = db
        self.queue = queue
        self.services: Mapping[str, Any] = services or {}
        self.workers = max(1, workers)
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.tick = tick
        self.sweep_grace = sweep_grace
        self.gather = gather
        self.busy_gather = max(gather, busy_gather)
        self.owner = owner or f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._active: dict[int, JobContext] = {}
        self._active_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._periodic_pool: ThreadPoolExecutor | None = None
        self._periodic_busy: set[str] = set()
        self._next_check: dict[str, float] = {}
        self.working = False

    # ------------------------------------------------------------------ life cycle
    def start(self, *, work: bool = True) -> None:
        """Hand committed jobs to the queue from now on; with ``work`` also run them, the
        outbox consumers and the periodic jobs here."""
        job_store.set_handoff(self.db.write_engine, self.queue.hand)
        if not work:
            return
        self.working = True
        self.db.write(self._open_cursors)
        self.queue.start_workers(self.run_job, self.workers)
        event_store.on_committed(self.nudge)
        self._periodic_pool = ThreadPoolExecutor(2, thread_name_prefix="cairn-periodic")
        for name, target in (
            ("cairn-job-heartbeat", self._heartbeat_loop),
            ("cairn-job-consumers", self._consumer_loop),
            ("cairn-job-periodic", self._periodic_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.sweep(grace=0)  # what a crash left pending is on its way again

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work, let running jobs finish (at most ``timeout`` s), stop the threads."""
        self._stop.set()
        self._wake.set()
        event_store.off_committed(self.nudge)
        job_store.clear_handoff(self.db.write_engine, self.queue.hand)
        self.queue.close(timeout)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._periodic_pool is not None:
            self._periodic_pool.shutdown(wait=True, cancel_futures=True)
            self._periodic_pool = None
        self.working = False

    def context(self, job_id: int | None, attempt: int) -> JobContext:
        return JobContext(job_id, attempt, self.db, self.services, self.owner)

    # ------------------------------------------------------------------ running one job
    def run_job(self, job_id: int) -> None:
        """Claim job ``job_id`` and run it, if it is due and nobody else has it."""
        if self._stop.is_set():
            return
        job = self.db.write(lambda c: job_store.claim(c, job_id, self.owner, self.lease_ms))
        if job is None:
            return
        background_priority()
        ctx = self.context(job.id, job.attempts)
        with self._active_lock:
            self._active[job.id] = ctx
        token = ACTING.set(SYSTEM_ACTOR)
        try:
            self._execute(job.id, job.kind, job.payload, job.attempts, ctx)
        finally:
            ACTING.reset(token)
            with self._active_lock:
                self._active.pop(job.id, None)

    def _execute(
        self, job_id: int, kind_name: str, payload: dict[str, Any], attempt: int, ctx: JobContext
    ) -> None:
        kind = registry.KINDS.get(kind_name)
        if kind is None:  # a newer Cairn's kind, perhaps: let a worker that knows it take it
            self._fail(job_id, f"no handler for job kind {kind_name!r} here", 60.0)
            return
        if kind.yields:  # heavy: let the requests this process answers go first
            foreground.wait_for_quiet(self._stop)
        try:
            result = kind.fn(ctx, payload)
            if result is not None and not isinstance(result, dict):
                raise TypeError(f"a job handler returns a dict or None, not {type(result)}")
            if result is not None:
                orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS)
        except RetryLater as later:
            self._fail(job_id, f"RetryLater: {later.reason}", later.seconds)
            return
        except Exception as exc:
            log.warning("job %s (%s) attempt %s failed: %r", job_id, kind_name, attempt, exc)
            self._fail(job_id, f"{type(exc).__name__}: {exc}", backoff_seconds(attempt))
            return
        self.db.write(lambda c: job_store.finish(c, job_id, self.owner, result))

    def _fail(self, job_id: int, error: str, retry_in: float) -> None:
        self.db.write(lambda c: job_store.fail_attempt(c, job_id, self.owner, error, retry_in))

    def active(self) -> list[int]:
        with self._active_lock:
            return list(self._active)

    def _heartbeat_loop(self) -> None:
        every = min(self.lease_ms / 3000, 2.0)
        while not self._stop.wait(every):
            ids = self.active()
            if not ids:
                continue
            try:
                stop = self.db.write(
                    partial(job_store.heartbeat, ids=ids, owner=self.owner, lease_ms=self.lease_ms)
                )
            except Exception as exc:
                log_failure(exc, "job heartbeat failed")
                continue
            with self._active_lock:
                for job_id in stop:
                    ctx = self._active.get(job_id)
                    if ctx is not None:
                        ctx._cancelled.set()

    # ------------------------------------------------------------------ the outbox
    def _open_cursors(self, conn: Any) -> None:
        start = event_store.head(conn)[0]
        for name in registry.CONSUMERS:
            job_store.open_cursor(conn, name, start)

    def nudge(self) -> None:
        """Wake the consumer thread (called after commits that wrote change events; once
        awake, the flag is not set again: setting it takes its lock on every commit)."""
        if not self._wake.is_set():
            self._wake.set()

    def _consumer_loop(self) -> None:
        gather = self.gather
        while not self._stop.is_set():
            if self._wake.wait(self.tick) and self._stop.wait(gather):
                return
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                seen = self.run_consumers()
            except Exception as exc:
                log_failure(exc, "outbox consumers failed")
                seen = 0
            gather = self.busy_gather if seen >= BUSY_EVENTS else self.gather

    def run_consumers(self) -> int:
        """Feed every consumer the events after its cursor, a batch per transaction; how many
        events were handed out."""
        consumers = list(registry.CONSUMERS.items())
        if not consumers:
            return 0
        token = ACTING.set(SYSTEM_ACTOR)  # what consumers record is Cairn's own doing
        try:
            return self._run_consumers(consumers)
        finally:
            ACTING.reset(token)

    def _run_consumers(self, consumers: list[tuple[str, registry.Consumer]]) -> int:
        total = 0
        head, places = self.db.read(_places)
        read: dict[tuple[int, int], list[ChangeEvent]] = {}  # (after id, size) -> events
        for name, consumer in consumers:
            if places.get(name, -1) >= head:  # nothing new for it: no write
                continue
            for _ in range(MAX_CONSUMER_BATCHES):
                try:
                    seen, more = self.db.write(
                        partial(self._consume, name=name, consumer=consumer, read=read)
                    )
                except Exception as exc:  # rolled back with its cursor: the batch comes again
                    log_failure(exc, "outbox consumer %s failed", name)
                    break
                total += seen
                if not more:
                    break
        return total

    def _consume(
        self,
        conn: Any,
        name: str,
        consumer: registry.Consumer,
        read: dict[tuple[int, int], list[ChangeEvent]],
    ) -> tuple[int, bool]:
        """One batch for one consumer, in one transaction with its cursor: how many events it
        was handed or passed over, and whether more may follow. The consumers of a round
        usually stand at the same cursor: the events are read (and parsed) once and handed to
        each (``read``; committed events never change). An idle consumer (no rules, no
        webhooks) moves to the head unread: the head is read before asking, so what a
        concurrent write commits later has a higher id and is read once it is not idle."""
        last = job_store.lock_cursor(conn, name)
        if last is None:  # registered after this engine started: it begins at the head
            job_store.open_cursor(conn, name, event_store.head(conn)[0])
            return 0, False
        if consumer.idle is not None:
            head = event_store.head(conn)[0]
            if head <= last:
                return 0, False
            if consumer.idle(conn):
                job_store.move_cursor(conn, name, head)
                return head - last, False
        batch = read.get((last, consumer.batch))
        if batch is None:
            batch = list(islice(event_store.walk(conn, last, consumer.batch), consumer.batch))
            read[(last, consumer.batch)] = batch
        if not batch:
            return 0, False
        consumer.fn(conn, batch)
        job_store.move_cursor(conn, name, batch[-1].id)
        return len(batch), len(batch) >= consumer.batch

    # ------------------------------------------------------------------ periodic jobs
    def _periodic_loop(self) -> None:
        while not self._stop.wait(min(self.tick, 1.0)):
            try:
                self.run_periodics()
            except Exception as exc:
                log_failure(exc, "periodic jobs failed")

    def run_periodics(self, *, wait: bool = False) -> list[str]:
        """Start each periodic job that is due and that this process wins; their names. With
        ``wait`` run them on this thread."""
        started = []
        now = time.monotonic()
        for name, job in list(registry.PERIODICS.items()):
            if name in self._periodic_busy or self._next_check.get(name, 0.0) > now:
                continue
            every_ms = max(1, int(job.every * 1000))
            won, next_at = self.db.write(
                partial(job_store.claim_periodic, name=name, every_ms=every_ms, owner=self.owner)
            )
            # ask the database again when it is due (another process may have run it)
            pause = min(job.every, max(0.2, (next_at - now_ms()) / 1000))
            self._next_check[name] = now + pause
            if not won:
                continue
            started.append(name)
            self._periodic_busy.add(name)
            if wait or self._periodic_pool is None:
                self._run_periodic(job)
            else:
                self._periodic_pool.submit(self._run_periodic, job)
        return started

    def _run_periodic(self, job: registry.Periodic) -> None:
        error = None
        token = ACTING.set(SYSTEM_ACTOR)
        try:
            job.fn(self.context(None, 1))
        except Exception as exc:
            log_failure(exc, "periodic job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            ACTING.reset(token)
            self._periodic_busy.discard(job.name)
        try:
            self.db.write(lambda c: job_store.finish_periodic(c, job.name, self.owner, error))
        except Exception as exc:
            log_failure(exc, "could not record the end of periodic job %s", job.name)

    # ------------------------------------------------------------------ reaper and sweeper
    def reap(self) -> tuple[list[int], list[int]]:
        """Re-queue (or fail) the jobs whose lease expired."""
        return self.db.write(job_store.reap)

    def sweep(self, grace: float | None = None) -> list[int]:
        """Hand again the pending jobs due more than ``grace`` seconds ago: their queue message
        may be lost (a crash between commit and hand-off, an in-memory queue). Duplicates are
        harmless: only one claim succeeds."""
        return sweep(self.db, self.sweep_grace if grace is None else grace)


def sweep(db: Database, grace: float) -> list[int]:
    return db.write(lambda c: job_store.rehand_overdue(c, now_ms() - int(grace * 1000)))


def _places(conn: Any) -> tuple[int, dict[str, int]]:
    """The log's last event id and each consumer's cursor (one cheap read)."""
    return int(event_store.head(conn)[0]), job_store.cursors(conn)


def log_failure(exc: BaseException, message: str, *args: object) -> None:
    """A background failure in the log: a database outage or a full disk as one line (the
    work is tried again), anything else with its traceback."""
    if database_unreachable(exc):
        first = first_line(exc)
        log.warning(message + ": database unreachable (%s); tried again later", *args, first)
        return
    full = storage_full(exc)
    if full is not None:
        log.error(message + ": %s is full; tried again later", *args, full)
    else:
        log.exception(message, *args, exc_info=exc)


REAP_EVERY = 5.0
SWEEP_EVERY = 15.0
ANALYZE_EVERY = 10.0
SWEEP_GRACE = 30.0


@periodic("jobs.reap", every=REAP_EVERY)
def reap_expired_leases(ctx: JobContext) -> None:
    """Jobs whose worker's lease expired: pending again (or failed past their attempts)."""
    ctx.db.write(job_store.reap)


@periodic("jobs.sweep", every=SWEEP_EVERY)
def sweep_lost_messages(ctx: JobContext) -> None:
    """Pending jobs long past due: hand them to the queue again."""
    sweep(ctx.db, SWEEP_GRACE)


@periodic("db.analyze", every=ANALYZE_EVERY)
def analyze_changed_tables(ctx: JobContext) -> None:
    """PostgreSQL: fresh planner statistics for the tables that changed a lot
    (:mod:`cairn.store.statistics`); nothing on SQLite and MySQL."""
    tables = analyze_stale(ctx.db.engine)
    if tables:
        log.info("analyzed %s", ", ".join(tables))


NOOP_MAX_SLEEP = 5.0


@job_kind("jobs.noop", max_attempts=1)
def noop(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Does nothing (optionally sleeps ``payload["sleep"]`` seconds, at most 5, stopping early
    when cancelled) and says which worker ran it: for benchmarks and checking a deployment."""
    wait = payload.get("sleep", 0)
    if isinstance(wait, int | float) and wait > 0:
        deadline = time.monotonic() + min(float(wait), NOOP_MAX_SLEEP)
        while time.monotonic() < deadline and not ctx.cancelled():
            time.sleep(0.02)
    return {"worker": ctx.worker, "attempt": ctx.attempt}
