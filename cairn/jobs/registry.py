"""What background work exists: job kinds, outbox consumers and periodic jobs, registered by
decorators next to the service they belong to. No engine here: services import this module
freely; the engine (:mod:`cairn.jobs.engine`) reads the tables it fills.

- ``@job_kind("webhook.deliver", max_attempts=5)``: ``fn(ctx, payload) -> dict | None``; a
  return finishes the job with that result, ``raise RetryLater(seconds)`` runs it again after
  that delay (an attempt counted), any other exception retries with exponential backoff until
  the attempts are used up, then the job is ``failed`` with the error text.
- ``@consumer("alerts", idle=no_rules)``: ``fn(conn, events)``, called in one write
  transaction with the change events after its cursor, which moves in that same transaction.
  ``idle(conn)``, if given, says that with the store as it is no event could make the consumer
  act (no rules, no webhooks): its cursor then moves to the log's head without reading events.
- ``@periodic("audit.prune", every=86400)``: ``fn(ctx)``, run once per period across every
  process sharing the database.

Jobs run at least once: a worker that dies mid-job leaves its lease to expire and the job runs
again, so every handler must be safe to run twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection

from cairn.entities.events import ChangeEvent
from cairn.entities.jobs import DEFAULT_MAX_ATTEMPTS
from cairn.store.db import Database
from cairn.store.jobs import KIND_ATTEMPTS

S = TypeVar("S")


class RetryLater(Exception):
    """Raised by a handler: run this job again after ``seconds`` (counts as an attempt)."""

    def __init__(self, seconds: float, reason: str = "retry later"):
        super().__init__(reason)
        self.seconds = max(0.0, float(seconds))
        self.reason = reason


@dataclass
class JobContext:
    """What a handler gets besides its payload: the job's id and attempt (None and 1 for a
    periodic run), the database, the services the composition root built, and whether a
    cancel was asked for."""

    job_id: int | None
    attempt: int
    db: Database
    services: Mapping[str, Any] = field(default_factory=dict)
    worker: str = ""
    """The engine running it (``host:pid:id``, the lease owner)."""
    _cancelled: threading.Event = field(default_factory=threading.Event)

    def service(self, name: str, kind: type[S]) -> S:
        """The service the app composed under ``name`` (``"audit"``, ``"tracking"``, …)."""
        found = self.services.get(name)
        if not isinstance(found, kind):
            raise LookupError(f"no {kind.__name__} named {name!r} was handed to the jobs")
        return found

    def cancelled(self) -> bool:
        """True once a cancel of this job was requested: a long handler checks it and stops."""
        return self._cancelled.is_set()


JobFn = Callable[[JobContext, dict[str, Any]], dict[str, Any] | None]
ConsumerFn = Callable[[Connection, Sequence[ChangeEvent]], None]
IdleFn = Callable[[Connection], bool]
PeriodicFn = Callable[[JobContext], None]


@dataclass(frozen=True)
class JobKind:
    name: str
    fn: JobFn
    max_attempts: int
    yields: bool = False
    """Started only in a quiet moment of this process's requests (cairn.jobs.foreground)."""


@dataclass(frozen=True)
class Consumer:
    name: str
    fn: ConsumerFn
    batch: int
    idle: IdleFn | None = None
    """True when no event could make ``fn`` act now: its events are passed over unread."""


@dataclass(frozen=True)
class Periodic:
    name: str
    fn: PeriodicFn
    every: float


KINDS: dict[str, JobKind] = {}
CONSUMERS: dict[str, Consumer] = {}
PERIODICS: dict[str, Periodic] = {}


def _check_name(name: str, table: Mapping[str, Any], what: str, fn: object) -> None:
    if not name or len(name) > 128:
        raise ValueError(f"a {what} name must be 1 to 128 characters")
    existing = table.get(name)
    if existing is not None and existing.fn is not fn:
        raise ValueError(f"the {what} {name!r} is registered twice")


def job_kind(
    name: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, yields: bool = False
) -> Callable[[JobFn], JobFn]:
    """Register ``fn(ctx, payload)`` as the handler of jobs of kind ``name``. ``yields``: a
    heavy kind that starts only in a quiet moment of the requests this process answers
    (:mod:`cairn.jobs.foreground`)."""
    if not 0 < max_attempts <= 100:
        raise ValueError("max_attempts must be 1 to 100")

    def register(fn: JobFn) -> JobFn:
        _check_name(name, KINDS, "job kind", fn)
        KINDS[name] = JobKind(name, fn, max_attempts, yields)
        KIND_ATTEMPTS[name] = max_attempts
        return fn

    return register


def consumer(
    name: str, *, batch: int = 500, idle: IdleFn | None = None
) -> Callable[[ConsumerFn], ConsumerFn]:
    """Register ``fn(conn, events)`` as the outbox consumer ``name`` (events in batches of at
    most ``batch``). ``idle(conn)``: True when, with the store as it is in that transaction, no
    event could make ``fn`` act (it must not miss what a concurrent write adds: the engine reads
    the log's head before asking, so a later change's events come after the head it skips to)."""

    def register(fn: ConsumerFn) -> ConsumerFn:
        _check_name(name, CONSUMERS, "consumer", fn)
        CONSUMERS[name] = Consumer(name, fn, max(1, batch), idle)
        return fn

    return register


def periodic(name: str, *, every: float) -> Callable[[PeriodicFn], PeriodicFn]:
    """Register ``fn(ctx)`` to run every ``every`` seconds, once across all processes."""
    if every <= 0:
        raise ValueError("a period must be positive")

    def register(fn: PeriodicFn) -> PeriodicFn:
        _check_name(name, PERIODICS, "periodic job", fn)
        PERIODICS[name] = Periodic(name, fn, float(every))
        return fn

    return register


def unregister(name: str) -> None:
    """Forget a kind, consumer or periodic job of that name (tests register their own)."""
    KINDS.pop(name, None)
    KIND_ATTEMPTS.pop(name, None)
    CONSUMERS.pop(name, None)
    PERIODICS.pop(name, None)
