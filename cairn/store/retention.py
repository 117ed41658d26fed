"""Retention policies, the runs a rule reaches, and their soft delete in batches (SQL only).

Policy changes record a ``retention_policy.set`` / ``retention_policy.delete`` event; each run
deleted records ``run.delete`` naming the policy, in the same transaction as the delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, select, update

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.retention import KEEP_TAG, Candidate, RetentionPolicy, RetentionRule
from cairn.entities.tracking import LifecycleStage, RunStatus
from cairn.store import events
from cairn.store import runs as run_store
from cairn.store.run_data import INFO_COLUMNS, RunRow
from cairn.store.schema import experiments, model_versions, retention_policies, run_tags, runs
from cairn.store.sql import AnyRow, now_ms, upsert_insert

rp, r = retention_policies.c, runs.c


# ------------------------------------------------------------------------------ policies
def _policy(row: AnyRow) -> RetentionPolicy:
    return RetentionPolicy(
        experiment_id=None if row.experiment_id is None else str(row.experiment_id),
        older_than_days=int(row.older_than_days),
        statuses=tuple(orjson.loads(row.statuses)),
        keep_newest=int(row.keep_newest),
        enabled=bool(row.enabled),
        updated_at=int(row.updated_at),
        updated_by=row.updated_by,
    )


def list_policies(conn: Connection) -> list[RetentionPolicy]:
    """Every policy: the global one first, then by experiment id."""
    rows = conn.execute(
        select(retention_policies).order_by(rp.experiment_id.is_not(None), rp.experiment_id)
    ).all()
    return [_policy(row) for row in rows]


def get_policy(conn: Connection, scope: str) -> RetentionPolicy | None:
    row = conn.execute(select(retention_policies).where(rp.scope == scope)).first()
    return None if row is None else _policy(row)


def _body(policy: RetentionPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    out = policy.to_json()
    for key in ("name", "experiment_id", "updated_at", "updated_by"):
        out.pop(key)
    return out


def _change(
    conn: Connection, action: str, policy: RetentionPolicy, before: Any, after: Any
) -> None:
    events.record(
        conn,
        Change(
            action,
            EntityType.RETENTION_POLICY,
            policy.name,
            experiment_id=policy.experiment_id,
            before=before,
            after=after,
        ),
    )


def require_experiment(conn: Connection, experiment_id: str) -> int:
    found = conn.execute(
        select(experiments.c.experiment_id).where(experiments.c.experiment_id == int(experiment_id))
    ).scalar()
    if found is None:
        raise CairnError.not_found(f"No Experiment with id={experiment_id} exists")
    return int(found)


def set_policy(conn: Connection, policy: RetentionPolicy) -> RetentionPolicy:
    """Create or replace the policy of ``policy``'s scope (404 for an unknown experiment)."""
    exp = None if policy.experiment_id is None else require_experiment(conn, policy.experiment_id)
    old = get_policy(conn, policy.name)
    values = {
        "experiment_id": exp,
        "older_than_days": policy.older_than_days,
        "statuses": orjson.dumps(list(policy.statuses)).decode(),
        "keep_newest": policy.keep_newest,
        "enabled": policy.enabled,
        "updated_at": now_ms(),
        "updated_by": policy.updated_by,
    }
    stmt = upsert_insert(conn, retention_policies).values(scope=policy.name, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=[rp.scope], set_=values))
    new = get_policy(conn, policy.name)
    assert new is not None
    if _body(old) != _body(new):
        _change(conn, "retention_policy.set", new, _body(old), _body(new))
    return new


def delete_policy(conn: Connection, scope: str) -> None:
    old = get_policy(conn, scope)
    if old is None:
        raise CairnError.not_found(f"There is no retention policy for {scope}")
    conn.execute(delete(retention_policies).where(rp.scope == scope))
    _change(conn, "retention_policy.delete", old, _body(old), None)


# ---------------------------------------------------------------------------- candidates
def candidates(conn: Connection, rule: RetentionRule, cutoff: int) -> list[Candidate]:
    """The active runs of active experiments in ``rule``'s scope, of its statuses, that
    ended before ``cutoff`` (ms), oldest first, each with what would keep it. A run with no
    end time (still running, or never ended) is never one of them."""
    conditions = [
        r.lifecycle_stage == LifecycleStage.ACTIVE,
        experiments.c.lifecycle_stage == LifecycleStage.ACTIVE,
        r.end_time.is_not(None),
        r.status.in_(rule.selected_statuses()),
    ]
    if rule.experiment_id is not None:
        conditions.append(r.experiment_id == int(rule.experiment_id))
    if rule.skip_own_policy:
        own = select(rp.experiment_id).where(rp.experiment_id.is_not(None))
        conditions.append(r.experiment_id.not_in(own))
    columns: list[Any] = [r.id, r.run_uuid, r.experiment_id, r.status, r.end_time]
    if rule.keep_newest:
        order = (r.end_time.desc(), r.id.desc())
        columns.append(
            func.row_number().over(partition_by=r.experiment_id, order_by=order).label("rank")
        )
    scoped = (
        select(*columns)
        .join(experiments, experiments.c.experiment_id == r.experiment_id)
        .where(and_(*conditions))
        .subquery()
    )
    s = scoped.c
    newest = (s.rank <= rule.keep_newest) if rule.keep_newest else None
    outer: list[Any] = [s.id, s.run_uuid, s.experiment_id, s.status, s.end_time]
    if newest is not None:
        outer.append(newest.label("newest"))
    rows = conn.execute(select(*outer).where(s.end_time < cutoff).order_by(s.end_time, s.id)).all()
    # the protected runs as two sets read once: a plan that does not hinge on the planner's
    # statistics (a join here ran nested loops on a freshly filled PostgreSQL table)
    registered = set(
        conn.execute(select(model_versions.c.run_id).where(model_versions.c.run_id.is_not(None)))
        .scalars()
        .all()
    )
    tagged = set(
        conn.execute(select(run_tags.c.run_id).where(run_tags.c.key == KEEP_TAG)).scalars()
    )
    return [
        Candidate(
            id=int(row.id),
            run_id=row.run_uuid,
            experiment_id=str(row.experiment_id),
            status=row.status,
            end_time=int(row.end_time),
            registered=row.run_uuid in registered,
            tagged=row.id in tagged,
            newest=bool(row.newest) if newest is not None else False,
        )
        for row in rows
    ]


# -------------------------------------------------------------------------------- delete
def delete_runs(conn: Connection, ids: Sequence[int], reason: dict[str, Any]) -> list[str]:
    """Soft-delete those of ``ids`` that may still go: active, ended, not running, behind no
    model version and not tagged ``cairn.keep`` (checked again here, in the write). One
    ``run.delete`` event each, its ``after`` carrying ``reason`` (the policy's name…).
    Returns the run ids deleted."""
    if not ids:
        return []
    rows = conn.execute(
        select(*INFO_COLUMNS).where(
            r.id.in_(list(ids)),
            r.lifecycle_stage == LifecycleStage.ACTIVE,
            r.end_time.is_not(None),
            r.status != RunStatus.RUNNING,
        )
    ).all()
    uuids = [row.run_uuid for row in rows]
    registered = set(
        conn.execute(select(model_versions.c.run_id).where(model_versions.c.run_id.in_(uuids)))
        .scalars()
        .all()
    )
    tagged = set(
        conn.execute(
            select(run_tags.c.run_id).where(
                run_tags.c.run_id.in_([row.id for row in rows]), run_tags.c.key == KEEP_TAG
            )
        ).scalars()
    )
    found = [row for row in rows if row.run_uuid not in registered and row.id not in tagged]
    if not found:
        return []
    gone = [int(row.id) for row in found]
    conn.execute(
        update(runs)
        .where(r.id.in_(gone))
        .values(
            lifecycle_stage=LifecycleStage.DELETED,
            deleted_time=now_ms(),
            deleted_with_experiment=False,
        )
    )
    before = {"lifecycle_stage": LifecycleStage.ACTIVE.value}
    after = {"lifecycle_stage": LifecycleStage.DELETED.value, **reason}
    for row in found:
        run_store.record(conn, "run.delete", RunRow._make(row), before, after)
    return [row.run_uuid for row in found]
