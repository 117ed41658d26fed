"""Retention: keep the store from growing without bound by deleting old finished runs.

Policies (one global, one per experiment) say how long finished runs stay; the retention job
(:func:`run_retention_policies`, registered as a periodic job) applies the enabled ones, and
``POST /api/v1/cleanup`` applies a one-off rule. Deletion is soft (lifecycle ``deleted``):
``cairn gc`` purges the rows and artifacts later, as for any deleted run. Runs behind a
registered model version, tagged ``cairn.keep`` or still running are never deleted.

The deletes go in bounded transactions (:data:`BATCH` runs each), so a cleanup of 100,000
runs never holds the writer for long, and each deleted run records a ``run.delete`` change
event by the ``system`` actor naming the policy (and who asked, for a request).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from cairn.entities.errors import CairnError
from cairn.entities.events import ACTING, SYSTEM_ACTOR, ActorKind
from cairn.entities.numbers import decimal
from cairn.entities.retention import (
    CLEANUP,
    FINISHED_STATUSES,
    GLOBAL,
    MAX_DAYS,
    MAX_KEEP_NEWEST,
    Candidate,
    RetentionPolicy,
    RetentionReport,
    RetentionRule,
    RuleReport,
    scope_name,
)
from cairn.jobs.registry import JobContext, periodic
from cairn.store import retention as store
from cairn.store.db import Database
from cairn.store.sql import now_ms as now

BATCH = 500
"""Runs deleted per transaction."""

DAY_MS = 86_400_000
MAX_LIST = 10_000
MAX_EXPERIMENT_ID = 2**31 - 1

Progress = Callable[[str, int, int], None]
"""Called after each batch: the policy's name, runs deleted so far, runs it will delete."""


# ---------------------------------------------------------------------------- validation
def _int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        value = None  # refused below: True is not a number of days
    if isinstance(value, str) and decimal(value) is not None:
        value = decimal(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise CairnError.invalid(
            f"Invalid value {value!r} for parameter '{field}': expected an integer from "
            f"{low} to {high}"
        )
    return value


def parse_days(value: object, field: str = "older_than_days") -> int:
    """Days a finished run stays: 0 (any finished run) to :data:`MAX_DAYS`."""
    return _int(value, field, 0, MAX_DAYS)


def parse_keep_newest(value: object, field: str = "keep_newest") -> int:
    if value is None:
        return 0
    return _int(value, field, 0, MAX_KEEP_NEWEST)


def parse_experiment_id(value: object, field: str = "experiment_id") -> str:
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or decimal(text, high=MAX_EXPERIMENT_ID) is None:
        raise CairnError.invalid(
            f"Invalid value {value!r} for parameter '{field}': experiment ids are integers "
            'written as strings, e.g. "0" or "12"'
        )
    return str(int(text))


def parse_statuses(value: object, field: str = "statuses") -> tuple[str, ...]:
    """``FINISHED``, ``FAILED``, ``KILLED`` (any case), as a list or comma-separated; none
    (None, "" or []) means all three."""
    if value is None:
        return ()
    items: Sequence[object]
    if isinstance(value, str):
        items = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise CairnError.invalid(f"Invalid value for parameter '{field}': expected a list")
    out: list[str] = []
    for item in items:
        name = item.strip().upper() if isinstance(item, str) else None
        if name not in FINISHED_STATUSES:
            raise CairnError.invalid(
                f"Invalid value {str(item)[:100]!r} for parameter '{field}': retention "
                f"selects finished runs only, one of {', '.join(FINISHED_STATUSES)}"
            )
        if name not in out:
            out.append(name)
    return tuple(s for s in FINISHED_STATUSES if s in out)


def _bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise CairnError.invalid(f"Invalid value {value!r} for parameter '{field}': expected a boolean")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one application of the rules does and tells: ``max_runs`` deleted at most
    (None: all), ``list_limit`` runs listed in the report."""

    max_runs: int | None = None
    list_limit: int = 1000


class RetentionService:
    def __init__(self, db: Database):
        self.db = db

    # ---------------------------------------------------------------------- policies
    def list_policies(self) -> list[RetentionPolicy]:
        return self.db.read(store.list_policies)

    def get_policy(self, experiment_id: object | None) -> RetentionPolicy:
        scope = self._scope(experiment_id)
        found = self.db.read(partial(store.get_policy, scope=scope))
        if found is None:
            raise CairnError.not_found(f"There is no retention policy for {scope}")
        return found

    def set_policy(
        self, actor: str, experiment_id: object | None, data: dict[str, Any]
    ) -> RetentionPolicy:
        """Create or replace the policy of an experiment (None: the global policy)."""
        eid = None if experiment_id is None else parse_experiment_id(experiment_id)
        policy = RetentionPolicy(
            experiment_id=eid,
            older_than_days=parse_days(data.get("older_than_days")),
            statuses=parse_statuses(data.get("statuses")),
            keep_newest=parse_keep_newest(data.get("keep_newest")),
            enabled=_bool(data.get("enabled", True), "enabled"),
            updated_at=0,
            updated_by=actor,
        )
        return self.db.write(partial(store.set_policy, policy=policy))

    def delete_policy(self, experiment_id: object | None) -> None:
        self.db.write(partial(store.delete_policy, scope=self._scope(experiment_id)))

    @staticmethod
    def _scope(experiment_id: object | None) -> str:
        return GLOBAL if experiment_id is None else scope_name(parse_experiment_id(experiment_id))

    # ------------------------------------------------------------------------ applying
    def run_policies(
        self,
        dry_run: bool,
        requested_by: str | None = None,
        policy: str | None = None,
        limits: Limits = Limits(),
        progress: Progress | None = None,
        now_ms: int | None = None,
    ) -> RetentionReport:
        """Apply every enabled policy (or only the one named ``policy``, enabled or not)."""
        found = self.list_policies()
        if policy is not None:
            found = [p for p in found if p.name == policy]
            if not found:
                raise CairnError.not_found(
                    f"Invalid value {policy[:100]!r} for parameter 'policy': no such retention "
                    "policy (names are 'global' and 'experiment:<id>')"
                )
        else:
            found = [p for p in found if p.enabled]
        rules = [p.rule() for p in found]
        return self.apply(rules, _now(now_ms), dry_run, requested_by, limits, progress)

    def cleanup(
        self,
        days_old: object,
        dry_run: bool,
        experiment_id: object | None = None,
        statuses: object | None = None,
        keep_newest: object | None = None,
        requested_by: str | None = None,
        limits: Limits = Limits(),
        now_ms: int | None = None,
    ) -> RetentionReport:
        """A one-off rule (``POST /api/v1/cleanup``): finished runs that ended more than
        ``days_old`` days ago, in one experiment or all, whatever the policies say."""
        eid = None if experiment_id is None else parse_experiment_id(experiment_id)
        rule = RetentionRule(
            name=CLEANUP,
            older_than_days=parse_days(days_old, "days_old"),
            experiment_id=eid,
            statuses=parse_statuses(statuses, "status"),
            keep_newest=parse_keep_newest(keep_newest),
        )
        if eid is not None:
            self.db.read(partial(store.require_experiment, experiment_id=eid))
        return self.apply([rule], _now(now_ms), dry_run, requested_by, limits)

    def apply(
        self,
        rules: Sequence[RetentionRule],
        now_ms: int,
        dry_run: bool,
        requested_by: str | None = None,
        limits: Limits = Limits(),
        progress: Progress | None = None,
    ) -> RetentionReport:
        """Apply ``rules`` in order; the deletions are the ``system`` actor's (the request's
        user, if any, is named in each event as ``requested_by``)."""
        report = RetentionReport(dry_run=dry_run, limit=limits.list_limit)
        budget = limits.max_runs
        acting = ACTING.get()
        token = ACTING.set(acting if acting.kind == ActorKind.SYSTEM else SYSTEM_ACTOR)
        try:
            for rule in rules:
                done = self._apply_rule(
                    rule, now_ms, dry_run, requested_by, budget, report, progress
                )
                if budget is not None:
                    budget -= done.deleted_runs
        finally:
            ACTING.reset(token)
        return report

    def _apply_rule(
        self,
        rule: RetentionRule,
        now_ms: int,
        dry_run: bool,
        requested_by: str | None,
        budget: int | None,
        report: RetentionReport,
        progress: Progress | None,
    ) -> RuleReport:
        cutoff = now_ms - rule.older_than_days * DAY_MS
        out = RuleReport(rule.name, rule.older_than_days, cutoff)
        report.rules.append(out)
        found = self.db.read(partial(store.candidates, rule=rule, cutoff=cutoff))
        going: list[Candidate] = []
        for run in found:
            why = run.kept_because
            if why is None:
                going.append(run)
            else:
                setattr(out, f"kept_{why}", getattr(out, f"kept_{why}") + 1)
        if budget is not None:
            out.remaining = max(0, len(going) - budget)
            going = going[: max(0, budget)]
        listed = sum(len(r.runs) for r in report.rules)
        room = max(0, report.limit - listed)
        if dry_run:
            out.deleted_runs = len(going)
            out.runs = [_listing(run, rule, now_ms) for run in going[:room]]
            return out
        reason: dict[str, Any] = {
            "retention_policy": rule.name,
            "older_than_days": rule.older_than_days,
        }
        if requested_by is not None:
            reason["requested_by"] = requested_by
        by_id = {run.id: run for run in going}
        for start in range(0, len(going), BATCH):
            chunk = [run.id for run in going[start : start + BATCH]]
            gone = self.db.write(partial(store.delete_runs, ids=chunk, reason=reason))
            out.deleted_runs += len(gone)
            gone_set = set(gone)
            for run_id in chunk:
                run = by_id[run_id]
                if run.run_id in gone_set and len(out.runs) < room:
                    out.runs.append(_listing(run, rule, now_ms))
            if progress is not None:
                progress(rule.name, out.deleted_runs, len(going))
        return out


def _now(given: int | None) -> int:
    return now() if given is None else given


def _listing(run: Candidate, rule: RetentionRule, now_ms: int) -> dict[str, Any]:
    days = (now_ms - run.end_time) // DAY_MS
    return {
        "run_id": run.run_id,
        "experiment_id": run.experiment_id,
        "status": run.status,
        "end_time": run.end_time,
        "policy": rule.name,
        "reason": f"{run.status.lower()} {days} days ago; {rule.name} keeps "
        f"{rule.older_than_days} days",
    }


JOB_NAME = "retention"
JOB_EVERY = 3600
"""Seconds between two runs of the retention job."""


def run_retention_policies(db: Database, now_ms: int) -> RetentionReport:
    """The periodic retention job: apply every enabled policy as the ``system`` actor, in
    batches of :data:`BATCH` runs. Safe to run twice (a run already deleted is skipped)."""
    return RetentionService(db).run_policies(dry_run=False, now_ms=now_ms)


@periodic(JOB_NAME, every=JOB_EVERY)
def retention_job(ctx: JobContext) -> None:
    """Every hour, once across all servers and workers."""
    run_retention_policies(ctx.db, now())
