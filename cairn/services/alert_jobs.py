"""Alert evaluation: the change-stream consumer and the stalled-run check.

:func:`evaluate_events` is the ``alerts`` consumer of the job engine: called in one write
transaction with the change events after its cursor. It reads what the events name (which
runs logged which metric keys, which runs changed status or were deleted, which model
versions were created or deleted, which experiments set the ``alert_threshold`` tag) and
judges only those: the enabled rules of the experiments and models involved are loaded once
per batch, the latest values of the batch's runs and keys in one query. Opening and closing
alerts records ``alert.fired`` / ``alert.resolved`` events with the actor ``system``.

:func:`check_stalled` is the periodic ``alerts.stalled`` job: RUNNING runs of experiments with
a stalled rule whose last metric point is older than the rule allows.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from cairn.entities.alerts import (
    ANY_METRIC,
    OPERATORS,
    Against,
    Alert,
    AlertRule,
    RuleKind,
    SubjectType,
    Verdict,
)
from cairn.entities.events import ACTING, SYSTEM_ACTOR, ActorKind, ChangeEvent
from cairn.entities.numbers import decimal
from cairn.entities.tracking import RunStatus
from cairn.jobs.registry import JobContext, consumer, periodic
from cairn.store import alert_eval as q
from cairn.store import alerts as store
from cairn.store.db import Database, job_scope
from cairn.store.metric_keys import MetricKeys
from cairn.store.sql import now_ms as now

STALLED_EVERY = 60
"""Seconds between two checks for stalled runs."""

SEED_TAG, SEED_METRIC_TAG, SEED_OP_TAG = "alert_threshold", "alert_metric", "alert_op"
SEED_TAGS = (SEED_TAG, SEED_METRIC_TAG, SEED_OP_TAG)
SEED_RULE_NAME = "alert_threshold (experiment tag)"
METRIC_ACTIONS = ("run.log_batch", "run.log_metric")

_KEYS: dict[str, MetricKeys] = {}
_KEYS_LOCK = threading.Lock()


def _keys(conn: Connection) -> MetricKeys:
    """The metric-key id cache of ``conn``'s database (ids never change in one database, but
    one process may evaluate several: tests, tools)."""
    url = conn.engine.url.render_as_string(hide_password=True)
    with _KEYS_LOCK:
        found = _KEYS.get(url)
        if found is None:
            found = _KEYS[url] = MetricKeys()
    return found


@dataclass
class _Batch:
    """What a batch of events names."""

    metrics: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    """run id -> metric key -> (lowest, highest) step logged."""
    logged_at: dict[str, int] = field(default_factory=dict)
    """run id -> the time of its last metric event in the batch."""
    status: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    versions: set[tuple[str, int]] = field(default_factory=set)
    versions_gone: set[str] = field(default_factory=set)
    seeds: set[int] = field(default_factory=set)
    experiments_gone: set[str] = field(default_factory=set)


def _read(events: Sequence[ChangeEvent]) -> _Batch:
    batch = _Batch()
    for ev in events:
        action, after = ev.action, ev.after or {}
        if action in METRIC_ACTIONS:
            logged = after.get("metrics")
            if not isinstance(logged, dict):
                continue
            steps = logged.get("steps") or [0, 0]
            low, high = int(steps[0]), int(steps[-1])
            keys = batch.metrics.setdefault(ev.entity_id, {})
            batch.logged_at[ev.entity_id] = ev.time
            for key in logged.get("keys") or ():
                old = keys.get(key)
                keys[key] = (low, high) if old is None else (min(old[0], low), max(old[1], high))
        elif action == "run.update" and "status" in after:
            batch.status[ev.entity_id] = str(after["status"])
        elif action in ("run.delete", "run.purge"):
            batch.deleted.add(ev.entity_id)
        elif action == "run.restore":
            batch.deleted.discard(ev.entity_id)
        elif action == "model_version.create" and ev.model_name:
            version = ev.entity_id.rsplit("/", 1)[-1]
            number = decimal(version)
            if number is not None:
                batch.versions.add((ev.model_name, number))
        elif action == "model_version.delete":
            batch.versions_gone.add(ev.entity_id)
        elif action == "experiment.delete" and ev.experiment_id:
            batch.experiments_gone.add(ev.experiment_id)
        elif action.startswith("experiment.") and (eid := decimal(ev.experiment_id)) is not None:
            tags = {**((ev.before or {}).get("tags") or {}), **(after.get("tags") or {})}
            if any(t in tags for t in SEED_TAGS):
                batch.seeds.add(eid)
    return batch


def _as_system(conn: Connection) -> None:
    """The alerts' events are the system's, whoever's write this is (the job engine's)."""
    scope = job_scope(conn)
    if scope.actor.kind is not ActorKind.SYSTEM:
        scope.actor = SYSTEM_ACTOR


def _nothing_to_judge(conn: Connection) -> bool:
    return store.none_to_judge(conn, SEED_TAGS)


@consumer("alerts", idle=_nothing_to_judge)
def evaluate_events(conn: Connection, events: Sequence[ChangeEvent]) -> None:
    """The ``alerts`` consumer: judge what ``events`` changed, open and close alerts."""
    batch = _read(events)
    if not (
        batch.metrics
        or batch.status
        or batch.deleted
        or batch.versions
        or batch.versions_gone
        or batch.seeds
        or batch.experiments_gone
    ):
        return
    _as_system(conn)
    for experiment_id in sorted(batch.seeds):
        sync_seed(conn, experiment_id)
    runs = q.run_facts(conn, [*batch.metrics, *batch.status])
    by_run = q.versions_of_runs(conn, batch.metrics)
    created = q.version_facts(conn, batch.versions)
    rules = store.rules_for(
        conn,
        {f.experiment_id for f in runs.values()},
        {v.model_id for v in (*by_run, *created)},
    )
    verdicts: list[Verdict] = []
    if rules:
        verdicts.extend(_metric_verdicts(conn, rules, batch, runs, by_run, created))
        verdicts.extend(_status_verdicts(conn, rules, batch, runs))
    _apply(conn, verdicts)
    _close_subjects(conn, batch, runs)


def _by_experiment(
    rules: Iterable[AlertRule], kinds: Iterable[RuleKind]
) -> dict[str, list[AlertRule]]:
    wanted = set(kinds)
    out: dict[str, list[AlertRule]] = {}
    for rule in rules:
        if rule.experiment_id is not None and rule.kind in wanted:
            out.setdefault(rule.experiment_id, []).append(rule)
    return out


def _matching(
    conn: Connection, rules: list[AlertRule], runs: list[q.RunFacts]
) -> dict[int, set[int]]:
    """rule id -> the run ids (of ``runs``) its filter lets through: one query per filtered
    rule, none for the others."""
    ids = [r.id for r in runs]
    return {rule.id: q.matching_runs(conn, _keys(conn), rule, ids) for rule in rules}


def _metric_verdicts(
    conn: Connection,
    rules: list[AlertRule],
    batch: _Batch,
    runs: dict[str, q.RunFacts],
    by_run: list[q.VersionFacts],
    created: list[q.VersionFacts],
) -> list[Verdict]:
    metric_rules = [
        r for r in rules if r.kind in (RuleKind.THRESHOLD, RuleKind.DROP, RuleKind.NON_FINITE)
    ]
    if not metric_rules:
        return []
    by_exp = _by_experiment(metric_rules, (RuleKind.THRESHOLD, RuleKind.DROP, RuleKind.NON_FINITE))
    by_model: dict[str, list[AlertRule]] = {}
    for rule in metric_rules:
        if rule.model_name is not None:
            by_model.setdefault(rule.model_name, []).append(rule)
    logged = {u: runs[u] for u in batch.metrics if u in runs and runs[u].active}
    version_subjects = [v for v in (*by_run, *created) if v.model_name in by_model]
    subject_runs = q.run_facts(conn, [v.run_uuid for v in created if v.run_uuid])
    subject_runs.update(logged)
    # the latest values of every run and key the batch may judge: one query
    star = any(r.metric == ANY_METRIC for r in metric_rules)
    keys = None if star or created else {r.metric for r in metric_rules if r.metric}
    latest = q.latest_values(conn, [f.id for f in subject_runs.values()], keys)
    out: list[Verdict] = []
    cache = _Cache(batch.metrics, list(logged.values()))
    for experiment_id, exp_rules in by_exp.items():
        exp_runs = [f for f in logged.values() if str(f.experiment_id) == experiment_id]
        if not exp_runs:
            continue
        allowed = _matching(conn, exp_rules, exp_runs)
        for run in exp_runs:
            changed = batch.metrics.get(run.run_uuid, {})
            for rule in exp_rules:
                if run.id not in allowed[rule.id]:
                    continue
                out.extend(
                    _judge(
                        conn, rule, run, changed, latest[run.id], SubjectType.RUN, run.run_uuid,
                        cache=cache,
                    )
                )  # fmt: skip
    for version in version_subjects:
        source = subject_runs.get(version.run_uuid or "")
        if source is None:
            continue
        run = source
        is_new = (version.model_name, version.version) in batch.versions
        changed = batch.metrics.get(run.run_uuid, {})
        if is_new:  # a new version is judged on every metric its run has
            changed = {k: (0, 0) for k in latest[run.id]} | changed
        subject = f"{version.model_name}/{version.version}"
        for rule in by_model[version.model_name]:
            out.extend(
                _judge(
                    conn, rule, run, changed, latest[run.id], SubjectType.MODEL_VERSION, subject,
                    cache=cache, version=version,
                )
            )  # fmt: skip
    return out


def _fmt(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:g}"


@dataclass
class _Cache:
    """What the rules of one batch share, each read once: the non-finite points of the
    batch's runs (one query), the best values of each drop rule's scope (one query per rule)
    and the previous run of each of the batch's runs (one query per rule)."""

    changed: dict[str, dict[str, tuple[int, int]]]
    runs: list[q.RunFacts]
    bad: dict[int, dict[str, float]] | None = None
    best: dict[int, list[tuple[float, int, str]]] = field(default_factory=dict)
    previous: dict[int, dict[int, tuple[float, str] | None]] = field(default_factory=dict)

    def non_finite(self, conn: Connection, run: q.RunFacts) -> dict[str, float]:
        if self.bad is None:
            by_id = {
                r.id: self.changed[r.run_uuid] for r in self.runs if r.run_uuid in self.changed
            }
            self.bad = q.non_finite_points(conn, _keys(conn), by_id)
        return self.bad.get(run.id, {})

    def baseline(
        self, conn: Connection, rule: AlertRule, key: str, run: q.RunFacts
    ) -> tuple[float, str] | None:
        if rule.against is not Against.BEST:
            found = self.previous.get(rule.id)
            if found is None:
                subjects = [r for r in self.runs if str(r.experiment_id) == rule.experiment_id]
                found = self.previous[rule.id] = q.run_previous(
                    conn, _keys(conn), rule, key, subjects
                )
            if run.id in found:
                return found[run.id]
            return q.run_baseline(conn, _keys(conn), rule, key, run, best=False)
        best = self.best.get(rule.id)
        if best is None:
            best = self.best[rule.id] = q.run_best(conn, _keys(conn), rule, key)
        for value, run_id, run_uuid in best:
            if run_id != run.id:
                return value, run_uuid
        return None


def _judge(
    conn: Connection,
    rule: AlertRule,
    run: q.RunFacts,
    changed: dict[str, tuple[int, int]],
    values: dict[str, float],
    subject_type: SubjectType,
    subject: str,
    *,
    cache: _Cache,
    version: q.VersionFacts | None = None,
) -> list[Verdict]:
    """The verdict of ``rule`` on one subject after the batch changed the metric keys
    ``changed`` of its run (none when the batch did not touch the rule's metric)."""
    keys = [k for k in changed if rule.applies_to(k)]
    if not keys:
        return []
    experiment_id = str(run.experiment_id) if version is None else None
    model_name = None if version is None else version.model_name

    def verdict(breaching: bool, value: float | None, message: str) -> Verdict:
        return Verdict(
            rule, subject_type, subject, experiment_id, model_name, breaching, value, message
        )

    where = f"run {run.run_uuid}" if version is None else f"version {subject}"
    if rule.kind is RuleKind.NON_FINITE:
        known = cache.non_finite(conn, run)
        bad = {k: x for k, x in known.items() if k in keys}
        if version is not None and changed is not cache.changed.get(run.run_uuid):
            bad = q.non_finite_keys(conn, _keys(conn), run.id, keys, _span(changed, keys))
        for key in keys:
            latest = values.get(key)
            if latest is not None and not math.isfinite(latest):
                bad.setdefault(key, latest)
        if bad:
            key, value = sorted(bad.items())[0]
            return [verdict(True, value, f"{key} = {_fmt(value)} on {where}")]
        return [verdict(False, None, f"{', '.join(sorted(keys))} finite again on {where}")]
    if rule.kind is RuleKind.THRESHOLD:
        judged = [(k, values[k]) for k in sorted(values) if rule.applies_to(k)]
        judged = [(k, x) for k, x in judged if not math.isnan(x)]
        if not judged:
            return []
        hit = [(k, x) for k, x in judged if rule.breached(x)]
        if hit:
            key, value = hit[0]
            return [verdict(True, value, f"{key} = {_fmt(value)} ({rule.describe()}) on {where}")]
        key, value = judged[0]
        return [verdict(False, value, f"{key} = {_fmt(value)} no longer {rule.op} {rule.value:g}")]
    # drop: the rule's one metric against the best or the previous run/version
    key = keys[0]
    current = values.get(key)
    if current is None or not math.isfinite(current):
        return []
    value = current
    best = rule.against is Against.BEST
    if version is None:
        base = cache.baseline(conn, rule, key, run)
    else:
        base = q.version_baseline(conn, _keys(conn), rule, key, version, best)
    if base is None:
        return []
    baseline, source = base
    if rule.dropped(value, baseline):
        message = (
            f"{key} = {_fmt(value)} on {where}, against {rule.against} {_fmt(baseline)} "
            f"({source}): {rule.describe()}"
        )
        return [verdict(True, value, message)]
    return [verdict(False, value, f"{key} = {_fmt(value)} within the rule of {_fmt(baseline)}")]


def _span(changed: dict[str, tuple[int, int]], keys: list[str]) -> tuple[int, int]:
    lows = [changed[k][0] for k in keys]
    highs = [changed[k][1] for k in keys]
    return min(lows), max(highs)


def _status_verdicts(
    conn: Connection, rules: list[AlertRule], batch: _Batch, runs: dict[str, q.RunFacts]
) -> list[Verdict]:
    """failed_run rules on the runs whose status changed."""
    by_exp = _by_experiment(rules, (RuleKind.FAILED_RUN,))
    out: list[Verdict] = []
    for experiment_id, exp_rules in by_exp.items():
        changed = [
            runs[u]
            for u in batch.status
            if u in runs and str(runs[u].experiment_id) == experiment_id
        ]
        if not changed:
            continue
        allowed = _matching(conn, exp_rules, changed)
        for run in changed:
            failed = batch.status[run.run_uuid] == RunStatus.FAILED.value
            for rule in exp_rules:
                if run.id not in allowed[rule.id]:
                    continue
                text = "failed" if failed else f"is {batch.status[run.run_uuid]}"
                out.append(
                    Verdict(
                        rule, SubjectType.RUN, run.run_uuid, experiment_id, None, failed, None,
                        f"run {run.run_uuid} {text}",
                    )
                )  # fmt: skip
    return out


def _apply(conn: Connection, verdicts: list[Verdict]) -> None:
    """Open an alert for each breaching verdict without an open one, close the open alert of
    each verdict that no longer breaches, in order (a NaN then a finite value in one batch
    fires and resolves). One query finds the open alerts."""
    if not verdicts:
        return
    open_now: dict[tuple[int, str], Alert | None] = dict(
        store.open_alerts(conn, {(v.rule.id, v.subject_id) for v in verdicts})
    )
    for verdict in verdicts:
        pair = (verdict.rule.id, verdict.subject_id)
        found = open_now.get(pair)
        if verdict.breaching and found is None:
            open_now[pair] = store.fire(conn, verdict)
        elif not verdict.breaching and found is not None:
            store.resolve(conn, found, verdict.message, verdict.value)
            open_now[pair] = None


def _close_subjects(conn: Connection, batch: _Batch, runs: dict[str, q.RunFacts]) -> None:
    """Close what no longer applies: every alert of a deleted run or version, and the
    stalled alerts of runs that logged a metric or stopped running."""
    gone = sorted(batch.deleted | batch.versions_gone)
    for alert in store.open_of_subjects(conn, gone):
        store.resolve(conn, alert, f"{alert.subject_type.value} {alert.subject_id} was deleted")
    for experiment_id in sorted(batch.experiments_gone):
        for alert in store.open_of_experiment(conn, experiment_id):
            store.resolve(conn, alert, f"experiment {experiment_id} was deleted")
    moved = [u for u in batch.metrics] + [
        u for u, s in batch.status.items() if s != RunStatus.RUNNING.value
    ]
    for alert in store.open_of_subjects(conn, sorted(set(moved) - set(gone))):
        if alert.kind is not RuleKind.STALLED:
            continue
        if batch.logged_at.get(alert.subject_id, 0) >= alert.fired_at:
            store.resolve(conn, alert, f"run {alert.subject_id} logged a metric")
        elif alert.subject_id in batch.status:
            status = batch.status[alert.subject_id]
            store.resolve(conn, alert, f"run {alert.subject_id} is {status}")


# ------------------------------------------------------------------------------ the seed
def sync_seed(conn: Connection, experiment_id: int) -> None:
    """Keep the experiment's seeded rule in step with its tags: ``alert_threshold`` (a
    number) makes a threshold rule on the metric named by ``alert_metric`` (every metric
    without it) that fires when a run's latest value compares with ``alert_op`` (``<`` by
    default: the seed's scores fall below the threshold) to it. Removing the tag, or a value
    that is not a finite number, removes the rule."""
    tags = q.experiment_tags(conn, experiment_id, SEED_TAGS)
    existing = store.seeded_rule(conn, experiment_id)
    values = _seed_values(tags)
    if values is None:
        if existing is not None:
            store.delete_rule(conn, existing.id)
        return
    if existing is None:
        store.create_rule(conn, values, str(experiment_id), None, "system", seeded=True)
    else:
        store.update_rule(conn, existing.id, values)


def _seed_values(tags: dict[str, str]) -> dict[str, Any] | None:
    raw = tags.get(SEED_TAG)
    if raw is None:
        return None
    try:
        threshold = float(raw)
    except ValueError:
        return None
    if not math.isfinite(threshold):
        return None
    metric = (tags.get(SEED_METRIC_TAG) or "").strip() or ANY_METRIC
    op = (tags.get(SEED_OP_TAG) or "").strip()
    return {
        "name": SEED_RULE_NAME,
        "kind": RuleKind.THRESHOLD.value,
        "filter": None,
        "metric": metric[:250],
        "op": op if op in OPERATORS else "<",
        "value": threshold,
        "against": None,
        "measure": None,
        "direction": None,
        "minutes": None,
        "enabled": True,
    }


# --------------------------------------------------------------------------- stalled
@periodic("alerts.stalled", every=STALLED_EVERY)
def stalled_job(ctx: JobContext) -> None:
    """Once a minute across all servers: runs that stopped logging while RUNNING."""
    check_stalled(ctx.db, now())


def check_stalled(db: Database, now_ms: int) -> None:
    """The ``alerts.stalled`` periodic job: open an alert for each RUNNING run (in the scope
    of an enabled stalled rule) that logged no metric for the rule's minutes, and close
    those whose run logged since or stopped running."""
    token = ACTING.set(SYSTEM_ACTOR)
    try:
        db.write(lambda c: stalled_in(c, now_ms))
    finally:
        ACTING.reset(token)


def stalled_in(conn: Connection, now_ms: int) -> None:
    rules = store.rules_of_kind(conn, RuleKind.STALLED)
    verdicts: list[Verdict] = []
    for rule in rules:
        minutes = rule.minutes or 0
        cutoff = now_ms - minutes * 60_000
        quiet = q.quiet_runs(conn, _keys(conn), rule, cutoff)
        for run_uuid, last in quiet.items():
            idle = max(0, (now_ms - last) // 60_000)
            message = f"run {run_uuid} logged no metric for {idle} min (rule: {minutes} min)"
            verdicts.append(
                Verdict(
                    rule, SubjectType.RUN, run_uuid, rule.experiment_id, None, True, None, message
                )
            )
        for alert in store.open_of_rule(conn, rule.id):
            if alert.subject_id in quiet:
                continue
            status, last = q.last_activity(conn, [alert.subject_id]).get(
                alert.subject_id, ("DELETED", 0)
            )
            reason = "logged a metric" if status == RunStatus.RUNNING.value else f"is {status}"
            verdicts.append(
                Verdict(
                    rule, SubjectType.RUN, alert.subject_id, alert.experiment_id, None, False,
                    None, f"run {alert.subject_id} {reason}",
                )
            )  # fmt: skip
    _apply(conn, verdicts)
