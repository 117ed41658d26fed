"""Background jobs: what one job is, the states it moves through, and what a page of them is.

Cairn's ``jobs`` table is the truth about every job; the queue (Huey) only carries job ids to
the workers. A job is ``pending`` until a worker claims it (``running``, under a lease), then
``succeeded``, ``failed`` (its attempts used up) or ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


UNFINISHED = (JobState.PENDING, JobState.RUNNING)
FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)

DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Job:
    """One job row. Times are milliseconds since the epoch; ``run_after`` is when it may run
    next (a retry's backoff), ``lease_owner``/``lease_expires`` name the worker holding it."""

    id: int
    kind: str
    payload: dict[str, Any]
    state: JobState
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires: int | None
    run_after: int
    result: dict[str, Any] | None
    error: str | None
    key: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None
    updated_at: int
    cancel_requested: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "payload": self.payload,
            "state": str(self.state),
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "lease_owner": self.lease_owner,
            "lease_expires": self.lease_expires,
            "run_after": self.run_after,
            "result": self.result,
            "error": self.error,
            "key": self.key,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "updated_at": self.updated_at,
            "cancel_requested": self.cancel_requested,
        }


@dataclass(frozen=True, slots=True)
class JobQuery:
    """A filter over the jobs, newest first, paged by id (keyset)."""

    kind: str | None = None
    state: JobState | None = None
    before_id: int | None = None
    limit: int = 100


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """The wait before retry number ``attempt`` (1 after the first failure): 2, 4, 8 … s,
    at most ``cap``."""
    return float(min(cap, base ** max(1, attempt)))
