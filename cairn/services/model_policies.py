"""Model policies: a registered model's alias policy (set, read, remove) and
:func:`apply_model_policies`, the job consumer that keeps the aliases where the policy says.

The consumer reads change events after its cursor (the outbox) and re-evaluates the models
they touch: a version created or deleted, a policy set, a model renamed, and a metric logged
by a run that is the source of a version of a model whose ``best`` rule uses that metric.
Each automatic move goes through the registry store as the ``system`` actor with the reason
in the change event's ``after``. When the model's promotion policy covers the alias, the move
becomes an approval request made by ``system`` instead (one per version: a pending one is not
asked for again, and Cairn's older requests for the same alias are cancelled as superseded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from cairn.entities.approvals import PromotionPolicy, RequestState
from cairn.entities.errors import CairnError
from cairn.entities.events import SYSTEM_ACTOR, ChangeEvent
from cairn.entities.insights import Direction
from cairn.entities.model_policies import (
    DEFAULT_BEST_ALIAS,
    DEFAULT_LATEST_ALIAS,
    AliasPolicy,
    choose_best,
)
from cairn.jobs.registry import consumer
from cairn.services import validation as v
from cairn.services.registry import validate_alias, validate_name
from cairn.store import alias_policies as store
from cairn.store import approvals as approvals_store
from cairn.store import registry as registry_store
from cairn.store.db import Database, act_as
from cairn.store.sql import AnyRow

SYSTEM = SYSTEM_ACTOR.name

TRIGGERS = frozenset(
    {
        "model_version.create",
        "model_version.delete",
        "alias_policy.set",
        "registered_model.rename",
    }
)
"""Actions that re-evaluate the policy of the event's model."""

METRIC_ACTIONS = frozenset({"run.log_batch", "run.log_metric"})
"""Run actions whose ``after.metrics.keys`` name the metrics logged."""


# ---------------------------------------------------------------------------- policies
def _field(value: object, field: str, check: Any) -> Any:
    """``check(value)``, its error naming ``field``."""
    try:
        return check(value)
    except CairnError as exc:
        raise CairnError.invalid(f"Invalid value for parameter '{field}': {exc.message}") from exc


def _latest_alias(value: object) -> str:
    # MLflow reserves "latest" for the newest version: exactly what this alias holds
    return DEFAULT_LATEST_ALIAS if value == DEFAULT_LATEST_ALIAS else validate_alias(value)


def parse_policy(name: str, body: dict[str, Any], updated_by: str) -> AliasPolicy:
    """An :class:`AliasPolicy` from an API body (400 naming the field that is wrong)."""
    latest = body.get("latest", False)
    if not isinstance(latest, bool):
        raise CairnError.invalid("Parameter 'latest' must be true or false")
    latest_alias = body.get("latest_alias") or DEFAULT_LATEST_ALIAS
    latest_alias = _field(latest_alias, "latest_alias", _latest_alias)
    metric = body.get("best_metric")
    if metric == "":
        metric = None
    if metric is not None:
        metric = _field(metric, "best_metric", lambda m: v.validate_key("Metric", m))
    direction = body.get("best_direction") or Direction.MAX.value
    if direction not in (Direction.MAX.value, Direction.MIN.value):
        raise CairnError.invalid(
            f"Invalid value {direction!r} for parameter 'best_direction': 'max' or 'min'"
        )
    best_alias = _field(body.get("best_alias") or DEFAULT_BEST_ALIAS, "best_alias", validate_alias)
    if not latest and metric is None:
        raise CairnError.invalid(
            "An alias policy turns on 'latest' or names a 'best_metric' (or both)"
        )
    if latest and metric is not None and latest_alias == best_alias:
        raise CairnError.invalid(
            f"Parameter 'best_alias' must differ from 'latest_alias' (both are {best_alias!r})"
        )
    return AliasPolicy(
        model_name=name,
        latest=latest,
        latest_alias=latest_alias,
        best_metric=metric,
        best_direction=Direction(direction),
        best_alias=best_alias,
        updated_by=updated_by,
    )


class ModelPolicyService:
    """A registered model's alias policy. Setting one records an ``alias_policy.set`` event;
    the consumer places the aliases when it reads that event."""

    def __init__(self, db: Database):
        self.db = db

    def get_policy(self, name: object) -> AliasPolicy:
        found = self.find_policy(name)
        if found is None:
            n = validate_name(name)
            raise CairnError.not_found(f"Registered model {n} has no alias policy")
        return found

    def find_policy(self, name: object) -> AliasPolicy | None:
        """The model's alias policy, or None when it has none."""
        n = validate_name(name)
        return self.db.read(lambda c: store.get_policy(c, n))

    def set_policy(self, username: str, name: object, body: dict[str, Any]) -> AliasPolicy:
        n = validate_name(name)
        policy = parse_policy(n, body, username)

        def write(c: Connection) -> AliasPolicy:
            old = store.get_policy(c, n)
            new = store.set_policy(c, policy)
            _drop_reserved(c, n, old, new, username)
            return new

        return self.db.write(write)

    def delete_policy(self, username: str, name: object) -> None:
        n = validate_name(name)

        def write(c: Connection) -> None:
            old = store.get_policy(c, n)
            store.delete_policy(c, n)
            _drop_reserved(c, n, old, None, username)

        self.db.write(write)


def _keeps_reserved(policy: AliasPolicy | None) -> bool:
    return policy is not None and policy.latest and policy.latest_alias == DEFAULT_LATEST_ALIAS


def _drop_reserved(
    c: Connection, name: str, old: AliasPolicy | None, new: AliasPolicy | None, actor: str
) -> None:
    """Remove the alias ``latest`` when the policy stops keeping it: nobody may move or
    remove that reserved name by hand, and left behind it would stop being the newest
    version that ``models:/NAME@latest`` means."""
    if _keeps_reserved(old) and not _keeps_reserved(new):
        reason = {"policy": "latest", "removed": "the alias policy no longer keeps it"}
        registry_store.delete_alias(c, name, DEFAULT_LATEST_ALIAS, actor, reason)


# ---------------------------------------------------------------------------- consumer
def _logged_keys(event: ChangeEvent) -> list[str]:
    metrics = (event.after or {}).get("metrics")
    keys = metrics.get("keys") if isinstance(metrics, dict) else None
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def affected_models(conn: Connection, events: Sequence[ChangeEvent]) -> list[str]:
    """The names of the models with an alias policy whose aliases ``events`` may move,
    sorted."""
    names: set[str] = set()
    logged: dict[str, set[str]] = {}
    for event in events:
        if event.action in TRIGGERS and event.model_name:
            names.add(event.model_name)
        elif event.entity_type == "run" and event.action in METRIC_ACTIONS:
            keys = _logged_keys(event)
            if keys:
                logged.setdefault(event.entity_id, set()).update(keys)
    for name, metric, run_uuid in store.best_models_of_runs(conn, logged):
        if metric in logged[run_uuid]:
            names.add(name)
    return store.with_policy(conn, names)


@consumer("model_policies", idle=store.none_kept)
def apply_model_policies(conn: Connection, events: Sequence[ChangeEvent]) -> None:
    """The ``model_policies`` job consumer: re-evaluate the alias policies of the models
    ``events`` touch, inside the write the engine opened on ``conn``; the moves (and approval
    requests) are recorded as the ``system`` actor's. Safe to run twice on the same events:
    an alias already where the policy says is left alone."""
    names = affected_models(conn, events)
    if not names:
        return
    act_as(conn, SYSTEM_ACTOR)
    for name in names:
        evaluate(conn, name)


def evaluate(conn: Connection, name: str) -> None:
    """Put the aliases of model ``name`` where its policy says (nothing without a policy or
    when the model is gone)."""
    try:
        model = approvals_store.lock_model(conn, name)
    except CairnError:
        return  # deleted or renamed since the event
    policy = store.policy_of(conn, model.id, model.name)
    if policy is None:
        return
    if policy.latest:
        newest = store.newest_version(conn, model.id)
        _keep(conn, model, policy.latest_alias, newest, {"policy": "latest"})
    if policy.best_metric is not None:
        values = store.metric_values(conn, model.id, policy.best_metric)
        found = choose_best(values, policy.best_direction)
        reason: dict[str, Any] = {
            "policy": "best",
            "metric": policy.best_metric,
            "direction": policy.best_direction.value,
        }
        if found is not None:
            reason["value"] = found[1]
        _keep(conn, model, policy.best_alias, None if found is None else found[0], reason)


def _keep(
    conn: Connection, model: AnyRow, alias: str, version: int | None, reason: dict[str, Any]
) -> None:
    """Point ``alias`` at ``version`` (remove it when None), through the promotion policy."""
    held = approvals_store.holders(conn, model.id, None, alias)
    previous = held[0] if held else None
    if previous == version:
        return
    reason = {**reason, "previous_version": previous}
    if version is None:
        registry_store.delete_alias(conn, model.name, alias, SYSTEM, reason)
        return
    promotion = approvals_store.policy_of(conn, model.id, model.name)
    if promotion is not None and promotion.covers(None, alias):
        _ask(conn, model, alias, version, promotion, reason)
        return
    registry_store.set_alias(conn, model.name, alias, version, SYSTEM, reason)


def _ask(
    conn: Connection,
    model: AnyRow,
    alias: str,
    version: int,
    promotion: PromotionPolicy,
    reason: dict[str, Any],
) -> None:
    """Ask for the move as ``system``: once per version; a version lacking the promotion
    policy's evidence is not asked for (as a person's request would be refused)."""
    if approvals_store.pending_for(conn, model.id, version, None, alias) is not None:
        return
    row = registry_store.version_row(conn, model, version)
    tags, metrics = approvals_store.run_facts(conn, row.run_id)
    if any(not e.check(row.run_id, tags, metrics).ok for e in promotion.evidence):
        return
    for rid in approvals_store.pending_alias_requests(conn, model.id, alias, SYSTEM):
        stale = approvals_store.get_request(conn, rid)
        note = f"superseded: the alias policy now asks for version {version}"
        approvals_store.decide(conn, stale, RequestState.CANCELLED, SYSTEM, note)
    snap = approvals_store.snapshot(conn, model.id, row, None, alias)
    approvals_store.create_request(
        conn, model, version, None, alias, False, SYSTEM, _comment(alias, reason),
        promotion.required_approvals, snap, reason,
    )  # fmt: skip


def _comment(alias: str, reason: dict[str, Any]) -> str:
    previous = reason.get("previous_version")
    was = "" if previous is None else f" (now on version {previous})"
    if reason.get("policy") == "latest":
        return f"Alias policy: {alias} follows the newest version{was}"
    metric, direction = reason.get("metric"), reason.get("direction")
    value = reason.get("value")
    return f"Alias policy: {alias} has the best {metric} ({direction}: {value}){was}"
