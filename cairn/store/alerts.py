"""Alert rules and alerts (SQL only): create, read, delete rules; open, resolve, list and
acknowledge alerts. Every change records one change event in the same transaction: rule
changes as ``alert_rule.*``, alerts as ``alert.fired`` / ``alert.resolved`` (the actor of
the write: ``system`` for evaluation)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, String, and_, cast, delete, false, or_, select, update

from cairn.entities.alerts import (
    Against,
    Alert,
    AlertRule,
    AlertState,
    Direction,
    Measure,
    RuleKind,
    SubjectType,
    Verdict,
)
from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.numbers import decimal
from cairn.store import events
from cairn.store.registry import model_row
from cairn.store.schema import (
    alert_rules,
    alerts,
    experiment_tags,
    experiments,
    registered_models,
)
from cairn.store.sql import AnyRow, now_ms

r, a, rm = alert_rules.c, alerts.c, registered_models.c

RULE_COLUMNS = (
    "name", "kind", "filter", "metric", "op", "value", "against", "measure", "direction",
    "minutes", "enabled",
)  # fmt: skip
"""The columns a rule's author sets (besides its scope)."""

SELECT_RULES = select(alert_rules, rm.name.label("model_name")).outerjoin(
    registered_models, rm.id == r.model_id
)


def _enum(kind: Any, value: str | None) -> Any:
    return None if value is None else kind(value)


def rule_of(row: AnyRow) -> AlertRule:
    return AlertRule(
        id=int(row.id),
        name=row.name,
        kind=RuleKind(row.kind),
        experiment_id=None if row.experiment_id is None else str(row.experiment_id),
        model_name=row.model_name,
        filter=row.filter,
        metric=row.metric,
        op=row.op,
        value=None if row.value is None else float(row.value),
        against=_enum(Against, row.against),
        measure=_enum(Measure, row.measure),
        direction=_enum(Direction, row.direction),
        minutes=None if row.minutes is None else int(row.minutes),
        enabled=bool(row.enabled),
        seeded=bool(row.seeded),
        created_by=row.created_by,
        created_at=int(row.created_at),
    )


def _body(rule: AlertRule) -> dict[str, Any]:
    out = rule.to_json()
    for key in ("id", "created_at", "created_by"):
        out.pop(key)
    return out


def _rule_change(
    conn: Connection, action: str, before: AlertRule | None, after: AlertRule | None
) -> None:
    rule = after or before
    assert rule is not None
    events.record(
        conn,
        Change(
            action,
            EntityType.ALERT_RULE,
            str(rule.id),
            experiment_id=rule.experiment_id,
            model_name=rule.model_name,
            before=None if before is None else _body(before),
            after=None if after is None else _body(after),
        ),
    )


# ------------------------------------------------------------------------------- rules
def _scope_ids(
    conn: Connection, experiment_id: str | None, model_name: str | None
) -> dict[str, Any]:
    if model_name is not None:
        return {"experiment_id": None, "model_id": int(model_row(conn, model_name).id)}
    assert experiment_id is not None
    eid = int(experiment_id)
    found = conn.execute(
        select(experiments.c.experiment_id).where(experiments.c.experiment_id == eid)
    ).first()
    if found is None:
        raise CairnError.not_found(f"No Experiment with id={experiment_id} exists")
    return {"experiment_id": eid, "model_id": None}


def create_rule(
    conn: Connection,
    values: dict[str, Any],
    experiment_id: str | None,
    model_name: str | None,
    created_by: str,
    *,
    seeded: bool = False,
) -> AlertRule:
    """A new rule; ``values`` holds :data:`RULE_COLUMNS` (validated by the caller)."""
    scope = _scope_ids(conn, experiment_id, model_name)
    new_id = conn.execute(
        alert_rules.insert()
        .values(
            **{k: values.get(k) for k in RULE_COLUMNS},
            **scope,
            seeded=seeded,
            created_by=created_by,
            created_at=now_ms(),
        )
        .returning(r.id)
    ).scalar_one()
    rule = get_rule(conn, int(new_id))
    _rule_change(conn, "alert_rule.create", None, rule)
    return rule


def get_rule(conn: Connection, rule_id: int) -> AlertRule:
    row = conn.execute(SELECT_RULES.where(r.id == rule_id)).first()
    if row is None:
        raise CairnError.not_found(f"Alert rule {rule_id} not found")
    return rule_of(row)


def update_rule(conn: Connection, rule_id: int, values: dict[str, Any]) -> AlertRule:
    """Change the given :data:`RULE_COLUMNS` of a rule. A changed condition closes its
    open alerts (they were judged by the old one): the next data judges again."""
    old = get_rule(conn, rule_id)
    changes = {k: v for k, v in values.items() if k in RULE_COLUMNS}
    if changes:
        conn.execute(update(alert_rules).where(r.id == rule_id).values(**changes))
    new = get_rule(conn, rule_id)
    if _body(old) != _body(new):
        _rule_change(conn, "alert_rule.update", old, new)
        resolve_all(conn, new, "the rule changed")
    return new


def delete_rule(conn: Connection, rule_id: int) -> AlertRule:
    old = get_rule(conn, rule_id)
    resolve_all(conn, old, "the rule was deleted")
    conn.execute(delete(alert_rules).where(r.id == rule_id))
    _rule_change(conn, "alert_rule.delete", old, None)
    return old


def list_rules(
    conn: Connection,
    experiment_id: str | None,
    model_name: str | None,
    allowed: tuple[Any, Any] | None,
    limit: int,
    before_id: int | None,
) -> list[AlertRule]:
    """Newest first. ``allowed``: (experiment Visibility, model Visibility) of the caller,
    None for every rule."""
    stmt = SELECT_RULES
    if experiment_id is not None:
        stmt = stmt.where(r.experiment_id == int(experiment_id))
    if model_name is not None:
        stmt = stmt.where(rm.name == model_name)
    if allowed is not None:
        stmt = stmt.where(_visible(allowed, r.experiment_id, rm.name, numeric=True))
    if before_id is not None:
        stmt = stmt.where(r.id < before_id)
    rows = conn.execute(stmt.order_by(r.id.desc()).limit(limit)).all()
    return [rule_of(row) for row in rows]


def _visible(allowed: tuple[Any, Any], exp_col: Any, model_col: Any, *, numeric: bool) -> Any:
    """Rows whose experiment or model the caller's visibilities (experiments, models) let
    through: an experiment by id or by name (roles on name patterns), a model by name."""
    exps, models = allowed

    def ids(values: frozenset[str]) -> list[Any]:
        if not numeric:
            return sorted(values)
        return sorted(n for n in (decimal(i, high=2**31 - 1) for i in values) if n is not None)

    def within(column: Any, vis: Any, converted: Any, by_name: Any = None) -> Any:
        if vis.everything:
            cond = column.is_not(None)
        else:
            found = [column.in_(converted(vis.allow_ids))] if vis.allow_ids else []
            if by_name is not None:
                found.append(by_name)
            cond = or_(*found) if found else false()
        if vis.deny_ids:
            cond = and_(cond, column.not_in(converted(vis.deny_ids)))
        return cond

    by_name = None
    if not exps.everything and exps.allow_names:
        e = experiments.c
        named = select(e.experiment_id).where(e.name.in_(sorted(exps.allow_names)))
        if not numeric:
            named = select(cast(e.experiment_id, String)).where(
                e.name.in_(sorted(exps.allow_names))
            )
        by_name = exp_col.in_(named)
    return or_(within(exp_col, exps, ids, by_name), within(model_col, models, sorted))


# ---------------------------------------------------------------------- evaluation input
def rules_for(
    conn: Connection, experiment_ids: Iterable[int], model_ids: Iterable[int]
) -> list[AlertRule]:
    """The enabled rules scoped to any of these experiments or models: one query."""
    exps, models = sorted(set(experiment_ids)), sorted(set(model_ids))
    if not exps and not models:
        return []
    where = []
    if exps:
        where.append(r.experiment_id.in_(exps))
    if models:
        where.append(r.model_id.in_(models))
    rows = conn.execute(SELECT_RULES.where(r.enabled.is_(True), or_(*where))).all()
    return [rule_of(row) for row in rows]


def none_to_judge(conn: Connection, seed_tags: Sequence[str]) -> bool:
    """No alert rule, and no experiment tag among ``seed_tags`` that would make one: no event
    can open or close an alert (the consumer passes over them; alerts go with their rule)."""
    if conn.execute(select(r.id).limit(1)).first() is not None:
        return False
    seeded = select(experiment_tags.c.key).where(experiment_tags.c.key.in_(seed_tags)).limit(1)
    return conn.execute(seeded).first() is None


def rules_of_kind(conn: Connection, kind: RuleKind) -> list[AlertRule]:
    rows = conn.execute(SELECT_RULES.where(r.enabled.is_(True), r.kind == kind.value)).all()
    return [rule_of(row) for row in rows]


def seeded_rule(conn: Connection, experiment_id: int) -> AlertRule | None:
    row = conn.execute(
        SELECT_RULES.where(r.experiment_id == experiment_id, r.seeded.is_(True))
    ).first()
    return None if row is None else rule_of(row)


# ------------------------------------------------------------------------------ alerts
SELECT_ALERTS = select(alerts, r.name.label("rule_name"), r.kind.label("kind")).join(
    alert_rules, r.id == a.rule_id
)


def alert_of(row: AnyRow) -> Alert:
    return Alert(
        id=int(row.id),
        rule_id=int(row.rule_id),
        rule_name=row.rule_name,
        kind=RuleKind(row.kind),
        subject_type=SubjectType(row.subject_type),
        subject_id=row.subject_id,
        experiment_id=row.experiment_id,
        model_name=row.model_name,
        state=AlertState(row.state),
        value=None if row.value is None else float(row.value),
        message=row.message,
        fired_at=int(row.fired_at),
        resolved_at=None if row.resolved_at is None else int(row.resolved_at),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=None if row.acknowledged_at is None else int(row.acknowledged_at),
    )


def _open_key(rule_id: int, subject_id: str) -> str:
    return f"{rule_id}/{subject_id}"


def open_alerts(conn: Connection, pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Alert]:
    """The firing alerts of these (rule id, subject id) pairs, by pair: one query."""
    keys = sorted({_open_key(rule, subject) for rule, subject in pairs})
    out: dict[tuple[int, str], Alert] = {}
    for start in range(0, len(keys), 500):
        rows = conn.execute(SELECT_ALERTS.where(a.open_key.in_(keys[start : start + 500])))
        for row in rows:
            found = alert_of(row)
            out[(found.rule_id, found.subject_id)] = found
    return out


def open_of_subjects(conn: Connection, subjects: Sequence[str]) -> list[Alert]:
    """The firing alerts of any rule about these subjects."""
    if not subjects:
        return []
    rows = conn.execute(
        SELECT_ALERTS.where(a.state == AlertState.FIRING.value, a.subject_id.in_(sorted(subjects)))
    )
    return [alert_of(row) for row in rows]


def open_of_experiment(conn: Connection, experiment_id: str) -> list[Alert]:
    rows = conn.execute(
        SELECT_ALERTS.where(a.experiment_id == experiment_id, a.state == AlertState.FIRING.value)
    )
    return [alert_of(row) for row in rows]


def open_of_rule(conn: Connection, rule_id: int) -> list[Alert]:
    rows = conn.execute(
        SELECT_ALERTS.where(a.rule_id == rule_id, a.state == AlertState.FIRING.value)
    )
    return [alert_of(row) for row in rows]


def _alert_change(conn: Connection, action: str, alert: Alert, after: dict[str, Any]) -> None:
    entity = EntityType.ALERT
    events.record(
        conn,
        Change(
            action,
            entity,
            str(alert.id),
            experiment_id=alert.experiment_id,
            model_name=alert.model_name,
            after={
                "rule_id": str(alert.rule_id),
                "rule_name": alert.rule_name,
                "kind": alert.kind.value,
                "subject_type": alert.subject_type.value,
                "subject_id": alert.subject_id,
                **after,
            },
        ),
    )


def fire(conn: Connection, verdict: Verdict) -> Alert:
    """Open an alert for a breaching verdict (the caller found none open)."""
    rule = verdict.rule
    value = verdict.value
    new_id = conn.execute(
        alerts.insert()
        .values(
            rule_id=rule.id,
            subject_type=verdict.subject_type.value,
            subject_id=verdict.subject_id,
            experiment_id=verdict.experiment_id,
            model_name=verdict.model_name,
            state=AlertState.FIRING.value,
            value=value,
            message=verdict.message,
            fired_at=now_ms(),
            open_key=_open_key(rule.id, verdict.subject_id),
        )
        .returning(a.id)
    ).scalar_one()
    alert = get_alert(conn, int(new_id))
    _alert_change(
        conn, "alert.fired", alert, {"value": alert.to_json()["value"], "message": alert.message}
    )
    return alert


def resolve(conn: Connection, alert: Alert, message: str, value: float | None = None) -> None:
    conn.execute(
        update(alerts)
        .where(a.id == alert.id)
        .values(state=AlertState.RESOLVED.value, resolved_at=now_ms(), open_key=None)
    )
    shown = value if value is not None and value == value and abs(value) != float("inf") else None
    _alert_change(conn, "alert.resolved", alert, {"value": shown, "message": message})


def resolve_all(conn: Connection, rule: AlertRule, message: str) -> None:
    for alert in open_of_rule(conn, rule.id):
        resolve(conn, alert, message)


def get_alert(conn: Connection, alert_id: int) -> Alert:
    row = conn.execute(SELECT_ALERTS.where(a.id == alert_id)).first()
    if row is None:
        raise CairnError.not_found(f"Alert {alert_id} not found")
    return alert_of(row)


def list_alerts(
    conn: Connection,
    state: AlertState | None,
    rule_id: int | None,
    experiment_id: str | None,
    model_name: str | None,
    allowed: tuple[Any, Any] | None,
    limit: int,
    before_id: int | None,
) -> list[Alert]:
    """Newest first, keyset paged by id."""
    stmt = SELECT_ALERTS
    if state is not None:
        stmt = stmt.where(a.state == state.value)
    if rule_id is not None:
        stmt = stmt.where(a.rule_id == rule_id)
    if experiment_id is not None:
        stmt = stmt.where(a.experiment_id == experiment_id)
    if model_name is not None:
        stmt = stmt.where(a.model_name == model_name)
    if allowed is not None:
        stmt = stmt.where(_visible(allowed, a.experiment_id, a.model_name, numeric=False))
    if before_id is not None:
        stmt = stmt.where(a.id < before_id)
    rows = conn.execute(stmt.order_by(a.id.desc()).limit(limit)).all()
    return [alert_of(row) for row in rows]


def count_firing(conn: Connection, allowed: tuple[Any, Any] | None, cap: int) -> int:
    """How many alerts are firing (counted up to ``cap``)."""
    stmt = select(a.id).where(a.state == AlertState.FIRING.value)
    if allowed is not None:
        stmt = stmt.where(_visible(allowed, a.experiment_id, a.model_name, numeric=False))
    return len(conn.execute(stmt.limit(cap)).all())


def acknowledge(conn: Connection, alert: Alert, actor: str) -> Alert:
    conn.execute(
        update(alerts)
        .where(a.id == alert.id)
        .values(acknowledged_by=actor, acknowledged_at=now_ms())
    )
    _alert_change(conn, "alert.acknowledge", alert, {"acknowledged_by": actor})
    return get_alert(conn, alert.id)
