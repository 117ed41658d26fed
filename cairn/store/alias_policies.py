"""Model policies in SQL: a registered model's alias policy, and the facts its rules read
(the newest version, each version's source-run value of a metric, the models whose versions
came from given runs).

Setting or removing a policy records a change event (entity ``policy``, action
``alias_policy.set`` / ``alias_policy.delete``) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, func, select

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.insights import Direction
from cairn.entities.model_policies import AliasPolicy
from cairn.store import events
from cairn.store.registry import model_row
from cairn.store.schema import (
    alias_policies,
    latest_metrics,
    metric_keys,
    model_versions,
    registered_models,
    runs,
)
from cairn.store.sql import AnyRow, now_ms, upsert_insert

ap, mv, rm = alias_policies.c, model_versions.c, registered_models.c


def _policy(row: AnyRow, name: str) -> AliasPolicy:
    return AliasPolicy(
        model_name=name,
        latest=bool(row.latest),
        latest_alias=row.latest_alias,
        best_metric=row.best_metric,
        best_direction=Direction(row.best_direction),
        best_alias=row.best_alias,
        updated_at=int(row.updated_at),
        updated_by=row.updated_by,
    )


def policy_of(conn: Connection, model_id: int, name: str) -> AliasPolicy | None:
    row = conn.execute(select(alias_policies).where(ap.model_id == model_id)).first()
    return None if row is None else _policy(row, name)


def get_policy(conn: Connection, name: str) -> AliasPolicy | None:
    model = model_row(conn, name)
    return policy_of(conn, model.id, model.name)


Body = dict[str, Any] | None


def _change(conn: Connection, action: str, name: str, before: Body, after: Body) -> None:
    events.record(
        conn,
        Change(action, EntityType.POLICY, name, model_name=name, before=before, after=after),
    )


def set_policy(conn: Connection, policy: AliasPolicy) -> AliasPolicy:
    """Create or replace the policy of ``policy.model_name`` (an event when it changed)."""
    model = model_row(conn, policy.model_name)
    old = policy_of(conn, model.id, model.name)
    values = {
        "latest": policy.latest,
        "latest_alias": policy.latest_alias,
        "best_metric": policy.best_metric,
        "best_direction": policy.best_direction.value,
        "best_alias": policy.best_alias,
        "updated_at": now_ms(),
        "updated_by": policy.updated_by,
    }
    stmt = upsert_insert(conn, alias_policies).values(model_id=model.id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=[ap.model_id], set_=values))
    new = policy_of(conn, model.id, model.name)
    assert new is not None
    before = None if old is None else old.body()
    if before != new.body():
        _change(conn, "alias_policy.set", model.name, before, new.body())
    return new


def delete_policy(conn: Connection, name: str) -> None:
    """Remove the policy (the aliases it placed stay where they are)."""
    model = model_row(conn, name)
    old = policy_of(conn, model.id, model.name)
    if old is None:
        raise CairnError.not_found(f"Registered model {name} has no alias policy")
    conn.execute(delete(alias_policies).where(ap.model_id == model.id))
    _change(conn, "alias_policy.delete", model.name, old.body(), None)


def newest_version(conn: Connection, model_id: int) -> int | None:
    found = conn.execute(select(func.max(mv.version)).where(mv.model_id == model_id)).scalar()
    return None if found is None else int(found)


def metric_values(conn: Connection, model_id: int, metric: str) -> list[tuple[int, float]]:
    """(version, latest value of ``metric`` in its source run) of each version of the model
    whose run has that metric (NaN values included as NaN)."""
    lm, mk = latest_metrics.c, metric_keys.c
    rows = conn.execute(
        select(mv.version, lm.value, lm.is_nan)
        .join(runs, runs.c.run_uuid == mv.run_id)
        .join(latest_metrics, lm.run_id == runs.c.id)
        .join(metric_keys, mk.id == lm.key_id)
        .where(mv.model_id == model_id, mk.key == metric)
        .order_by(mv.version)
    ).all()
    return [(int(r.version), float("nan") if r.is_nan else float(r.value)) for r in rows]


CHUNK = 500
"""Names looked up per statement (a batch of events can name thousands of runs)."""


def _chunks(values: Iterable[str]) -> list[list[str]]:
    wanted = sorted(set(values))
    return [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]


def none_kept(conn: Connection) -> bool:
    """No model has an alias policy: no event moves an alias (the consumer passes over them)."""
    return conn.execute(select(ap.model_id).limit(1)).first() is None


def with_policy(conn: Connection, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that are models with an alias policy, sorted."""
    found: set[str] = set()
    for chunk in _chunks(names):
        rows = conn.execute(
            select(rm.name).join(alias_policies, ap.model_id == rm.id).where(rm.name.in_(chunk))
        ).scalars()
        found.update(str(name) for name in rows)
    return sorted(found)


def best_models_of_runs(conn: Connection, run_uuids: Iterable[str]) -> list[tuple[str, str, str]]:
    """(model name, best metric, run uuid) for each model with a ``best`` rule that has a
    version whose source run is one of ``run_uuids``."""
    out: list[tuple[str, str, str]] = []
    for chunk in _chunks(run_uuids):
        rows = conn.execute(
            select(rm.name, ap.best_metric, mv.run_id)
            .join(alias_policies, ap.model_id == mv.model_id)
            .join(registered_models, rm.id == mv.model_id)
            .where(mv.run_id.in_(chunk), ap.best_metric.is_not(None))
            .distinct()
        ).all()
        out.extend((str(r.name), str(r.best_metric), str(r.run_id)) for r in rows)
    return out
