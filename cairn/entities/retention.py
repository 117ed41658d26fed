"""Retention: which finished runs a policy lets go, and which it never touches.

A policy deletes (soft: lifecycle ``deleted``, purged later by ``cairn gc``) the runs of its
scope that ended more than ``older_than_days`` ago, optionally only some finished statuses,
optionally keeping the ``keep_newest`` most recent per experiment. A run still running (no end
time) is never a candidate, and a run behind a registered model version or tagged
:data:`KEEP_TAG` (any value) is always kept. See docs/retention.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KEEP_TAG = "cairn.keep"
"""A run tagged with this key (whatever its value) is never deleted by retention."""

FINISHED_STATUSES = ("FINISHED", "FAILED", "KILLED")
"""The statuses a policy may select; a policy without a status filter takes all three."""

MAX_DAYS = 36500
"""The largest ``older_than_days`` (a hundred years)."""

MAX_KEEP_NEWEST = 1_000_000

GLOBAL = "global"
"""The scope (and name) of the global policy; an experiment's policy is ``experiment:<id>``."""

CLEANUP = "cleanup"
"""The name events carry for a one-off ``POST /api/v1/cleanup``."""


def scope_name(experiment_id: str | None) -> str:
    return GLOBAL if experiment_id is None else f"experiment:{experiment_id}"


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """What to delete: the body of a policy, or of a one-off cleanup.

    ``experiment_id`` None: every experiment, less ``skip_own_policy`` (the global policy
    does not reach experiments that have their own). ``statuses`` empty: every finished
    status. ``keep_newest`` 0: none kept for being recent."""

    name: str
    older_than_days: int
    experiment_id: str | None = None
    statuses: tuple[str, ...] = ()
    keep_newest: int = 0
    skip_own_policy: bool = False

    def selected_statuses(self) -> tuple[str, ...]:
        return self.statuses or FINISHED_STATUSES


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """A stored policy: its scope (``experiment_id``, None for the global one), its rule,
    whether the scheduled job applies it, and who changed it last."""

    experiment_id: str | None
    older_than_days: int
    statuses: tuple[str, ...]
    keep_newest: int
    enabled: bool
    updated_at: int
    updated_by: str

    @property
    def name(self) -> str:
        return scope_name(self.experiment_id)

    def rule(self) -> RetentionRule:
        return RetentionRule(
            name=self.name,
            older_than_days=self.older_than_days,
            experiment_id=self.experiment_id,
            statuses=self.statuses,
            keep_newest=self.keep_newest,
            skip_own_policy=self.experiment_id is None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "experiment_id": self.experiment_id,
            "older_than_days": self.older_than_days,
            "statuses": list(self.statuses),
            "keep_newest": self.keep_newest,
            "enabled": self.enabled,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A run a rule reaches: old enough and of a selected status. ``registered``/``tagged``/
    ``newest`` say why it must stay, if it must."""

    id: int
    run_id: str
    experiment_id: str
    status: str
    end_time: int
    registered: bool
    tagged: bool
    newest: bool

    @property
    def kept_because(self) -> str | None:
        """The first reason it stays: a model version, the keep tag, being among the newest."""
        if self.registered:
            return "registered"
        if self.tagged:
            return "tagged"
        if self.newest:
            return "newest"
        return None


@dataclass
class RuleReport:
    """What one rule did (or would do): counts, and the runs going (up to the list limit)."""

    policy: str
    older_than_days: int
    cutoff: int
    deleted_runs: int = 0
    kept_registered: int = 0
    kept_tagged: int = 0
    kept_newest: int = 0
    remaining: int = 0
    """Runs it would still delete, left for a later call by a ``max_runs`` limit."""
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff,
            "deleted_runs": self.deleted_runs,
            "kept_registered": self.kept_registered,
            "kept_tagged": self.kept_tagged,
            "kept_newest": self.kept_newest,
            "remaining": self.remaining,
        }


@dataclass
class RetentionReport:
    """The outcome of applying rules: totals over them, each rule's counts, and the runs that
    go (or would go), listed up to ``limit`` (``truncated`` when there were more)."""

    dry_run: bool
    rules: list[RuleReport] = field(default_factory=list)
    limit: int = 1000

    def _sum(self, key: str) -> int:
        return sum(int(getattr(r, key)) for r in self.rules)

    @property
    def deleted_runs(self) -> int:
        return self._sum("deleted_runs")

    def runs(self) -> list[dict[str, Any]]:
        return [run for r in self.rules for run in r.runs][: self.limit]

    def to_json(self) -> dict[str, Any]:
        listed = self.runs()
        return {
            "dry_run": self.dry_run,
            "deleted_runs": self.deleted_runs,
            "kept_registered": self._sum("kept_registered"),
            "kept_tagged": self._sum("kept_tagged"),
            "kept_newest": self._sum("kept_newest"),
            "remaining": self._sum("remaining"),
            "policies": [r.to_json() for r in self.rules],
            "runs": listed,
            "truncated": len(listed) < self.deleted_runs,
        }
