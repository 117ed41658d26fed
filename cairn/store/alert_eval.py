"""What alert evaluation reads (SQL only): the runs and versions a batch of change events
names, their latest metric values (one query for the batch), non-finite points in a batch's
step range, which runs a rule's filter lets through, and the baselines of drop rules.

Nothing here scans an experiment's history: values come from the latest-metric table (kept on
write), baselines from its ``(key_id, is_nan, value)`` index, stalled runs from the RUNNING
runs of the experiments that have a stalled rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from cairn.entities.alerts import AlertRule, Direction
from cairn.entities.tracking import LifecycleStage, RunStatus
from cairn.store.filters import RunFilter
from cairn.store.metric_keys import MetricKeys
from cairn.store.run_search import ATTRIBUTES
from cairn.store.schema import experiment_tags as experiment_tags_table
from cairn.store.schema import (
    latest_metrics,
    metric_keys,
    metrics,
    model_versions,
    registered_models,
    runs,
)
from cairn.store.search.parser import RUNS, parse_filter
from cairn.store.sql import FloatValue

lm, mk, rn, mv, rm = latest_metrics.c, metric_keys.c, runs.c, model_versions.c, registered_models.c
CHUNK = 500


@dataclass(frozen=True, slots=True)
class RunFacts:
    id: int
    run_uuid: str
    experiment_id: int
    status: str
    start_time: int
    active: bool


def run_facts(conn: Connection, run_uuids: Iterable[str]) -> dict[str, RunFacts]:
    """The runs named, by run id: one query per :data:`CHUNK` runs."""
    ids = sorted(set(run_uuids))
    out: dict[str, RunFacts] = {}
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(
                rn.id, rn.run_uuid, rn.experiment_id, rn.status, rn.start_time, rn.lifecycle_stage
            ).where(rn.run_uuid.in_(ids[start : start + CHUNK]))
        )
        for row in rows:
            out[row.run_uuid] = RunFacts(
                int(row.id),
                row.run_uuid,
                int(row.experiment_id),
                row.status,
                int(row.start_time or 0),
                row.lifecycle_stage == LifecycleStage.ACTIVE,
            )
    return out


def latest_values(
    conn: Connection, run_ids: Iterable[int], keys: Iterable[str] | None
) -> dict[int, dict[str, float]]:
    """The latest value of each metric (``keys``, or all when None) of each run: one query
    (NaN read back as NaN)."""
    ids = sorted(set(run_ids))
    wanted = None if keys is None else sorted(set(keys))
    out: dict[int, dict[str, float]] = {i: {} for i in ids}
    if not ids or wanted == []:
        return out
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(lm.run_id, mk.key, lm.value, lm.is_nan)
            .join(metric_keys, mk.id == lm.key_id)
            .where(lm.run_id.in_(ids[start : start + CHUNK]))
        )
        if wanted is not None:
            stmt = stmt.where(mk.key.in_(wanted))
        for row in conn.execute(stmt):
            out[int(row.run_id)][row.key] = math.nan if row.is_nan else float(row.value)
    return out


def non_finite_keys(
    conn: Connection, keys: MetricKeys, run_id: int, names: Iterable[str], steps: tuple[int, int]
) -> dict[str, float]:
    """Those of ``names`` with a NaN or infinite point in the step range (the range a batch's
    event names): the first such value of each."""
    ids = keys.lookup(conn, list(names))
    if not ids:
        return {}
    m = metrics.c
    inf = float("inf")
    rows = conn.execute(
        select(m.key_id, m.value, m.is_nan)
        .where(
            m.run_id == run_id,
            m.key_id.in_(sorted(ids.values())),
            m.step >= steps[0],
            m.step <= steps[1],
            or_(m.is_nan.is_(True), m.value == inf, m.value == -inf),
        )
        .limit(100)
    )
    names_of = {v: k for k, v in ids.items()}
    out: dict[str, float] = {}
    for row in rows:
        out.setdefault(names_of[int(row.key_id)], math.nan if row.is_nan else float(row.value))
    return out


def matching_runs(
    conn: Connection, keys: MetricKeys, rule: AlertRule, run_ids: Iterable[int]
) -> set[int]:
    """Those of ``run_ids`` that the rule's filter lets through (all of them without one)."""
    ids = sorted(set(run_ids))
    expr = parse_filter(rule.filter, RUNS)
    if expr is None or not ids:
        return set(ids)
    condition = RunFilter(conn, keys, rn.id, ATTRIBUTES)(expr)
    found = conn.execute(select(rn.id).where(rn.id.in_(ids), condition)).scalars()
    return {int(i) for i in found}


def _scope_condition(
    conn: Connection, keys: MetricKeys, rule: AlertRule
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        rn.experiment_id == int(rule.experiment_id or 0),
        rn.lifecycle_stage == LifecycleStage.ACTIVE.value,
    ]
    expr = parse_filter(rule.filter, RUNS)
    if expr is not None:
        where.append(RunFilter(conn, keys, rn.id, ATTRIBUTES)(expr))
    return where


def run_baseline(
    conn: Connection, keys: MetricKeys, rule: AlertRule, key: str, run: RunFacts, best: bool
) -> tuple[float, str] | None:
    """The best value of ``key`` among the other runs of the rule's scope, or the value of
    the run started last before ``run``; with that run's id. None when there is none."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None:
        return None
    where = [
        *_scope_condition(conn, keys, rule),
        lm.key_id == kid,
        lm.is_nan.is_(False),
        rn.id != run.id,
    ]
    stmt = select(lm.value, rn.run_uuid).join(runs, rn.id == lm.run_id).where(*where)
    if best:
        order = lm.value.asc() if rule.direction is Direction.MIN else lm.value.desc()
        stmt = stmt.where(func.abs(lm.value, type_=FloatValue) != math.inf).order_by(order)
    else:
        earlier = or_(
            rn.start_time < run.start_time,
            and_(rn.start_time == run.start_time, rn.id < run.id),
        )
        stmt = stmt.where(earlier).order_by(rn.start_time.desc(), rn.id.desc())
    row = conn.execute(stmt.limit(1)).first()
    return None if row is None else (float(row.value), row.run_uuid)


def run_best(
    conn: Connection, keys: MetricKeys, rule: AlertRule, key: str
) -> list[tuple[float, int, str]]:
    """The two best finite values of ``key`` in the rule's scope, with their runs (id, run
    id): a subject's baseline is the first of another run. One query per rule and batch."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None:
        return []
    order = lm.value.asc() if rule.direction is Direction.MIN else lm.value.desc()
    rows = conn.execute(
        select(lm.value, rn.id, rn.run_uuid)
        .join(runs, rn.id == lm.run_id)
        .where(
            *_scope_condition(conn, keys, rule),
            lm.key_id == kid,
            lm.is_nan.is_(False),
            func.abs(lm.value, type_=FloatValue) != math.inf,
        )
        .order_by(order)
        .limit(2)
    ).all()
    return [(float(r.value), int(r.id), r.run_uuid) for r in rows]


PREVIOUS_WINDOW = 5000
"""How many runs started since the batch's earliest run one query may read to find each
run's previous run; past that, each run is looked up on its own."""


def run_previous(
    conn: Connection, keys: MetricKeys, rule: AlertRule, key: str, subjects: list[RunFacts]
) -> dict[int, tuple[float, str] | None]:
    """For each subject run, the value of ``key`` of the run of the rule's scope started last
    before it (start time, then id): one query for the batch's runs together (the runs
    started since the earliest of them, and the one before)."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None or not subjects:
        return {r.id: None for r in subjects}
    first = min(subjects, key=lambda r: (r.start_time, r.id))
    where = [*_scope_condition(conn, keys, rule), lm.key_id == kid, lm.is_nan.is_(False)]
    base = select(lm.value, rn.id, rn.run_uuid, rn.start_time).join(runs, rn.id == lm.run_id)
    since = conn.execute(
        base.where(*where, rn.start_time >= first.start_time)
        .order_by(rn.start_time.desc(), rn.id.desc())
        .limit(PREVIOUS_WINDOW + 1)
    ).all()
    if len(since) > PREVIOUS_WINDOW:
        return {r.id: run_baseline(conn, keys, rule, key, r, best=False) for r in subjects}
    before = conn.execute(
        base.where(*where, rn.start_time < first.start_time)
        .order_by(rn.start_time.desc(), rn.id.desc())
        .limit(1)
    ).all()
    ordered = [(int(x.start_time or 0), int(x.id), float(x.value), x.run_uuid) for x in since]
    ordered += [(int(x.start_time or 0), int(x.id), float(x.value), x.run_uuid) for x in before]
    out: dict[int, tuple[float, str] | None] = {}
    for subject in subjects:
        mark = (subject.start_time, subject.id)
        found = next(((v, u) for t, i, v, u in ordered if (t, i) < mark), None)
        out[subject.id] = found
    return out


def non_finite_points(
    conn: Connection, keys: MetricKeys, changed: dict[int, dict[str, tuple[int, int]]]
) -> dict[int, dict[str, float]]:
    """The NaN or infinite points of the batch's runs (run id -> key -> the first such value),
    in the step range each run's events name: one query for the batch."""
    names = sorted({k for per_run in changed.values() for k in per_run})
    ids = keys.lookup(conn, names)
    out: dict[int, dict[str, float]] = {run_id: {} for run_id in changed}
    if not ids or not changed:
        return out
    m = metrics.c
    inf = float("inf")
    spans = [span for per_run in changed.values() for span in per_run.values()]
    low, high = min(s[0] for s in spans), max(s[1] for s in spans)
    names_of = {v: k for k, v in ids.items()}
    run_ids = sorted(changed)
    for start in range(0, len(run_ids), CHUNK):
        rows = conn.execute(
            select(m.run_id, m.key_id, m.step, m.value, m.is_nan)
            .where(
                m.run_id.in_(run_ids[start : start + CHUNK]),
                m.key_id.in_(sorted(ids.values())),
                m.step >= low,
                m.step <= high,
                or_(m.is_nan.is_(True), m.value == inf, m.value == -inf),
            )
            .limit(10_000)
        )
        for row in rows:
            key = names_of[int(row.key_id)]
            span = changed[int(row.run_id)].get(key)
            if span is not None and span[0] <= int(row.step) <= span[1]:
                value = math.nan if row.is_nan else float(row.value)
                out[int(row.run_id)].setdefault(key, value)
    return out


@dataclass(frozen=True, slots=True)
class VersionFacts:
    model_id: int
    model_name: str
    version: int
    run_uuid: str | None


def versions_of_runs(conn: Connection, run_uuids: Iterable[str]) -> list[VersionFacts]:
    """The model versions made from these runs (by the version's run-id index)."""
    ids = sorted(set(run_uuids))
    out: list[VersionFacts] = []
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(mv.model_id, rm.name, mv.version, mv.run_id)
            .join(registered_models, rm.id == mv.model_id)
            .where(mv.run_id.in_(ids[start : start + CHUNK]))
        )
        out.extend(VersionFacts(int(x.model_id), x.name, int(x.version), x.run_id) for x in rows)
    return out


def version_facts(conn: Connection, pairs: Iterable[tuple[str, int]]) -> list[VersionFacts]:
    """The named versions (model name, version) that still exist."""
    out: list[VersionFacts] = []
    for name, version in sorted(set(pairs)):
        row = conn.execute(
            select(mv.model_id, rm.name, mv.version, mv.run_id)
            .join(registered_models, rm.id == mv.model_id)
            .where(rm.name == name, mv.version == version)
        ).first()
        if row is not None:
            out.append(VersionFacts(int(row.model_id), row.name, int(row.version), row.run_id))
    return out


def version_baseline(
    conn: Connection,
    keys: MetricKeys,
    rule: AlertRule,
    key: str,
    subject: VersionFacts,
    best: bool,
) -> tuple[float, str] | None:
    """The best value of ``key`` among the model's other versions' source runs, or that of
    the highest version below ``subject`` whose run has it; with ``name/version``."""
    kid = keys.lookup(conn, [key]).get(key)
    if kid is None:
        return None
    stmt = (
        select(lm.value, mv.version)
        .select_from(model_versions)
        .join(runs, rn.run_uuid == mv.run_id)
        .join(latest_metrics, and_(lm.run_id == rn.id, lm.key_id == kid))
        .where(
            mv.model_id == subject.model_id,
            mv.version != subject.version,
            lm.is_nan.is_(False),
            func.abs(lm.value, type_=FloatValue) != math.inf,
        )
    )
    if best:
        order = lm.value.asc() if rule.direction is Direction.MIN else lm.value.desc()
        stmt = stmt.order_by(order)
    else:
        stmt = stmt.where(mv.version < subject.version).order_by(mv.version.desc())
    row = conn.execute(stmt.limit(1)).first()
    return None if row is None else (float(row.value), f"{subject.model_name}/{row.version}")


def quiet_runs(conn: Connection, keys: MetricKeys, rule: AlertRule, cutoff: int) -> dict[str, int]:
    """The RUNNING runs of the rule's scope whose last metric point (or start, without one)
    is older than ``cutoff`` (ms): run id -> that time."""
    last = func.coalesce(func.max(lm.timestamp), rn.start_time)
    stmt = (
        select(rn.run_uuid, last.label("last"))
        .select_from(runs)
        .outerjoin(latest_metrics, lm.run_id == rn.id)
        .where(*_scope_condition(conn, keys, rule), rn.status == RunStatus.RUNNING.value)
        .group_by(rn.id, rn.run_uuid, rn.start_time)
        .having(last < cutoff)
        .limit(10_000)
    )
    return {row.run_uuid: int(row.last or 0) for row in conn.execute(stmt)}


def last_activity(conn: Connection, run_uuids: Iterable[str]) -> dict[str, tuple[str, int]]:
    """(status, time of the last metric point or the start) of each named run."""
    ids = sorted(set(run_uuids))
    if not ids:
        return {}
    last = func.coalesce(func.max(lm.timestamp), rn.start_time)
    rows = conn.execute(
        select(rn.run_uuid, rn.status, rn.lifecycle_stage, last.label("last"))
        .select_from(runs)
        .outerjoin(latest_metrics, lm.run_id == rn.id)
        .where(rn.run_uuid.in_(ids))
        .group_by(rn.id, rn.run_uuid, rn.status, rn.lifecycle_stage, rn.start_time)
    )
    return {
        row.run_uuid: (
            row.status if row.lifecycle_stage == LifecycleStage.ACTIVE else "DELETED",
            int(row.last or 0),
        )
        for row in rows
    }


def experiment_tags(conn: Connection, experiment_id: int, keys: Iterable[str]) -> dict[str, str]:
    """Those of ``keys`` the experiment has as tags, with their values."""
    t = experiment_tags_table.c
    rows = conn.execute(
        select(t.key, t.value).where(t.experiment_id == experiment_id, t.key.in_(sorted(keys)))
    )
    return {row.key: row.value for row in rows}
