"""Garbage collection: permanently remove runs and experiments deleted long enough ago,
artifacts first (so a failure leaves the run deleted and retryable), then the rows."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import Connection

from cairn.entities.errors import CairnError
from cairn.entities.events import ACTING, SYSTEM_ACTOR, ActorKind
from cairn.services.artifacts import ArtifactService
from cairn.store import gc as gc_store
from cairn.store.db import Database
from cairn.store.sql import now_ms

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 86400.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (a bare number is days)."""
    match = _DURATION.match(text)
    if not match:
        raise CairnError.invalid(
            f"Invalid age {text!r}: use a number with s, m, h, d or w, e.g. 30d or 12h"
        )
    value, unit = match.groups()
    return timedelta(seconds=float(value) * _UNITS[unit])


@dataclass
class Plan:
    cutoff_ms: int
    runs: list[gc_store.DeletedRun] = field(default_factory=list)
    experiments: list[gc_store.DeletedExperiment] = field(default_factory=list)


@dataclass
class Outcome:
    runs_purged: int = 0
    experiments_purged: int = 0
    files_removed: int = 0
    skipped: list[str] = field(default_factory=list)


class GarbageCollector:
    def __init__(self, db: Database, artifacts: ArtifactService):
        self.db = db
        self.artifacts = artifacts

    def plan(self, older_than: timedelta) -> Plan:
        cutoff = now_ms() - int(older_than.total_seconds() * 1000)

        def read(conn: Connection) -> Plan:
            return Plan(
                cutoff,
                gc_store.deleted_runs(conn, cutoff),
                gc_store.deleted_experiments(conn, cutoff),
            )

        return self.db.read(read)

    def run(self, plan: Plan, step: Callable[[str], None] = lambda _: None) -> Outcome:
        """Carry out ``plan``; ``step`` is called once per run and experiment (progress).
        The purges are recorded as the ``system`` actor's (the CLI's own system actor, with
        its address, when it is the one running)."""
        acting = ACTING.get()
        token = ACTING.set(acting if acting.kind == ActorKind.SYSTEM else SYSTEM_ACTOR)
        try:
            return self._run(plan, step)
        finally:
            ACTING.reset(token)

    def _run(self, plan: Plan, step: Callable[[str], None]) -> Outcome:
        out = Outcome()
        for run in plan.runs:
            out.files_removed += self._remove(
                run.artifact_uri, f"run {run.run_uuid}", out, run_dir=run.run_uuid
            )
            self.db.write(partial(gc_store.purge_runs, ids=[run.id]))
            out.runs_purged += 1
            step(f"run {run.run_uuid}")
        for exp in plan.experiments:
            out.files_removed += self._remove(
                exp.artifact_location, f"experiment {exp.experiment_id}", out
            )
            self.db.write(partial(gc_store.purge_experiment, experiment_id=exp.experiment_id))
            out.experiments_purged += 1
            step(f"experiment {exp.experiment_id} ({exp.name})")
        return out

    def _remove(self, uri: str | None, what: str, out: Outcome, run_dir: str = "") -> int:
        if not uri:
            return 0
        try:
            path = self.artifacts.repo_path_of(uri, what)
        except CairnError:
            out.skipped.append(f"{what}: artifacts at {uri} are outside this artifact store")
            return 0
        if run_dir and path.endswith(f"{run_dir}/artifacts"):
            path = path[: -len("/artifacts")]  # the run's whole folder
        if not path:
            out.skipped.append(f"{what}: refusing to delete the whole artifact store")
            return 0
        return self.artifacts.repo.delete(path)
