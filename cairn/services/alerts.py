"""Metric alert rules and alerts: checking a rule's fields, who may manage and read them,
and the listings. Evaluation (the change-stream consumer and the stalled-run check) is in
:mod:`cairn.services.alert_jobs`.

Rules are managed by admins and by MANAGE holders of the rule's experiment or registered
model; alerts are read by whoever may read their experiment or model.
"""

from __future__ import annotations

import math
from typing import Any

from cairn.access.service import AccessService
from cairn.entities.access import ALL, Identity, Permission, ResourceType, Visibility
from cairn.entities.alerts import (
    ANY_METRIC,
    METRIC_KINDS,
    OPERATORS,
    RUN_ONLY_KINDS,
    Against,
    Alert,
    AlertRule,
    AlertState,
    Direction,
    Measure,
    RuleKind,
)
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.insights import guess_direction
from cairn.entities.numbers import decimal
from cairn.services import validation as v
from cairn.services.registry import validate_name
from cairn.store import alerts as store
from cairn.store.db import Database
from cairn.store.search.parser import RUNS, parse_filter

MAX_RULE_NAME = 256
MAX_FILTER = 1000
MAX_MINUTES = 525_600  # a year
MAX_PAGE = 1000


def _choice(body: dict[str, Any], field: str, kind: Any, default: Any = None) -> Any:
    raw = body.get(field)
    if raw is None:
        if default is None:
            raise CairnError.invalid(f"Missing value for required field '{field}'")
        return default
    try:
        return kind(raw)
    except (ValueError, TypeError) as exc:
        allowed = ", ".join(str(k.value) for k in kind)
        raise CairnError.invalid(
            f"Invalid value {str(raw)[:100]!r} for field '{field}': one of {allowed}"
        ) from exc


def _number(body: dict[str, Any], field: str, *, positive: bool = False) -> float:
    raw = body.get(field)
    if raw is None:
        raise CairnError.invalid(f"Missing value for required field '{field}'")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise CairnError.invalid(f"Invalid value for field '{field}': expected a number")
    try:
        number = float(raw)
    except ValueError as exc:
        raise CairnError.invalid(
            f"Invalid value {str(raw)[:100]!r} for field '{field}': expected a number"
        ) from exc
    if not math.isfinite(number):
        raise CairnError.invalid(f"Invalid value for field '{field}': must be finite")
    if positive and number <= 0:
        raise CairnError.invalid(f"Invalid value {number:g} for field '{field}': must be > 0")
    return number


def _metric(body: dict[str, Any], kind: RuleKind) -> str:
    raw = body.get("metric")
    if raw is None or raw == "":
        raise CairnError.invalid("Missing value for required field 'metric'")
    if raw == ANY_METRIC and kind in (RuleKind.THRESHOLD, RuleKind.NON_FINITE):
        return ANY_METRIC
    try:
        return v.validate_key("Metric", raw)
    except CairnError as exc:
        raise CairnError.invalid(f"Invalid value for field 'metric': {exc.message}") from exc


def check_filter(text: object) -> str | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise CairnError.invalid("Invalid value for field 'filter': expected a string")
    if len(text) > MAX_FILTER:
        raise CairnError.invalid(f"Field 'filter' is longer than {MAX_FILTER} characters")
    try:
        parse_filter(text, RUNS)
    except CairnError as exc:
        raise CairnError.invalid(f"Invalid value for field 'filter': {exc.message}") from exc
    return text


def rule_values(body: dict[str, Any], scope_is_model: bool) -> dict[str, Any]:
    """A rule's columns from a request body (every field checked; errors name the field)."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CairnError.invalid("Missing value for required field 'name'")
    if len(name) > MAX_RULE_NAME:
        raise CairnError.invalid(f"Field 'name' is longer than {MAX_RULE_NAME} characters")
    kind: RuleKind = _choice(body, "kind", RuleKind)
    if scope_is_model and kind in RUN_ONLY_KINDS:
        raise CairnError.invalid(
            f"Invalid value '{kind}' for field 'kind': a model-scoped rule is one of "
            + ", ".join(sorted(k.value for k in METRIC_KINDS))
        )
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise CairnError.invalid("Invalid value for field 'enabled': expected true or false")
    values: dict[str, Any] = {
        "name": name.strip(),
        "kind": kind.value,
        "enabled": enabled,
        "filter": None if scope_is_model else check_filter(body.get("filter")),
    }
    if scope_is_model and body.get("filter"):
        raise CairnError.invalid("Invalid field 'filter': only an experiment-scoped rule filters")
    for column in ("metric", "op", "value", "against", "measure", "direction", "minutes"):
        values[column] = None
    if kind in METRIC_KINDS:
        values["metric"] = _metric(body, kind)
    if kind is RuleKind.THRESHOLD:
        op = body.get("op")
        if op not in OPERATORS:
            raise CairnError.invalid(
                f"Invalid value {str(op)[:20]!r} for field 'op': one of {', '.join(OPERATORS)}"
            )
        values["op"] = op
        values["value"] = _number(body, "value")
    elif kind is RuleKind.DROP:
        values["against"] = _choice(body, "against", Against, Against.BEST).value
        values["measure"] = _choice(body, "measure", Measure, Measure.PERCENT).value
        values["value"] = _number(body, "value", positive=True)
        guessed = Direction(str(guess_direction(values["metric"])))
        values["direction"] = _choice(body, "direction", Direction, guessed).value
    elif kind is RuleKind.STALLED:
        minutes = body.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise CairnError.invalid("Invalid value for field 'minutes': expected a whole number")
        if not 1 <= minutes <= MAX_MINUTES:
            raise CairnError.invalid(
                f"Invalid value {minutes} for field 'minutes': between 1 and {MAX_MINUTES}"
            )
        values["minutes"] = minutes
    return values


def _rule_id(value: object) -> int:
    number = decimal(value)
    if number is None:
        raise CairnError.invalid(f"Invalid alert rule id {str(value)[:40]!r}")
    if number >= 2**31:
        raise CairnError.not_found(f"Alert rule {number} not found")
    return number


def _alert_id(value: object) -> int:
    number = decimal(value)
    if number is None:
        raise CairnError.invalid(f"Invalid alert id {str(value)[:40]!r}")
    if number >= 2**31:
        raise CairnError.not_found(f"Alert {number} not found")
    return number


def _page_token(token: str | None) -> int | None:
    if not token:
        return None
    number = decimal(token, high=10**12 - 1)
    if number is None:
        raise CairnError.invalid(f"Invalid page_token {token[:40]!r}")
    return number


class AlertService:
    def __init__(self, db: Database, access: AccessService | None = None):
        """``access``: who may manage and read (None when access control is off)."""
        self.db = db
        self.access = access

    # --------------------------------------------------------------------------- who
    def _permission(
        self, who: Identity, experiment_id: str | None, model: str | None
    ) -> Permission:
        if who.unrestricted or who.is_admin or self.access is None:
            return Permission.MANAGE
        if model is not None:
            return self.access.permission(who, ResourceType.REGISTERED_MODEL, model)
        assert experiment_id is not None
        return self.access.permission(who, ResourceType.EXPERIMENT, experiment_id)

    def _check_manage(self, who: Identity, experiment_id: str | None, model: str | None) -> None:
        if who.read_only:
            raise CairnError(
                "A read-only token cannot manage alert rules", ErrorCode.PERMISSION_DENIED
            )
        if self._permission(who, experiment_id, model) < Permission.MANAGE:
            what = f"registered model {model}" if model else f"experiment {experiment_id}"
            raise CairnError(
                f"Managing alert rules needs MANAGE on the {what}", ErrorCode.PERMISSION_DENIED
            )

    def _readable(self, who: Identity, experiment_id: str | None, model: str | None) -> bool:
        return self._permission(who, experiment_id, model) >= Permission.READ

    def allowed(self, who: Identity) -> tuple[Visibility, Visibility] | None:
        """What the caller may read, as (experiments, models); None for everything."""
        if who.unrestricted or who.is_admin or self.access is None:
            return None
        return (
            self.access.visibility(who, ResourceType.EXPERIMENT),
            self.access.visibility(who, ResourceType.REGISTERED_MODEL),
        )

    # ------------------------------------------------------------------------- rules
    @staticmethod
    def _scope(body: dict[str, Any]) -> tuple[str | None, str | None]:
        experiment_id, model_name = body.get("experiment_id"), body.get("model_name")
        if (experiment_id in (None, "")) == (model_name in (None, "")):
            raise CairnError.invalid(
                "A rule names exactly one scope: field 'experiment_id' or field 'model_name'"
            )
        if model_name not in (None, ""):
            return None, validate_name(model_name, "model_name")
        number = decimal(experiment_id, high=2**31 - 1)
        if number is None:
            raise CairnError.invalid(
                f"Invalid value {str(experiment_id)[:40]!r} for field 'experiment_id'"
            )
        return str(number), None

    def create_rule(self, who: Identity, body: object) -> AlertRule:
        if not isinstance(body, dict):
            raise CairnError.invalid("The request body must be a JSON object")
        experiment_id, model_name = self._scope(body)
        values = rule_values(body, model_name is not None)
        self._check_manage(who, experiment_id, model_name)
        by = who.username or "local"
        return self.db.write(lambda c: store.create_rule(c, values, experiment_id, model_name, by))

    def get_rule(self, who: Identity, rule_id: object) -> AlertRule:
        rid = _rule_id(rule_id)
        rule = self.db.read(lambda c: store.get_rule(c, rid))
        if not self._readable(who, rule.experiment_id, rule.model_name):
            raise CairnError.not_found(f"Alert rule {rid} not found")
        return rule

    def update_rule(self, who: Identity, rule_id: object, body: object) -> AlertRule:
        """Change a rule: the body holds the fields to change (the scope stays)."""
        if not isinstance(body, dict):
            raise CairnError.invalid("The request body must be a JSON object")
        rule = self.get_rule(who, rule_id)
        self._check_manage(who, rule.experiment_id, rule.model_name)
        if {"experiment_id", "model_name"} & {k for k, val in body.items() if val is not None}:
            raise CairnError.invalid("A rule's scope cannot change: create another rule")
        merged = {**rule.to_json(), **{k: val for k, val in body.items() if val is not None}}
        values = rule_values(merged, rule.model_name is not None)
        return self.db.write(lambda c: store.update_rule(c, rule.id, values))

    def delete_rule(self, who: Identity, rule_id: object) -> None:
        rule = self.get_rule(who, rule_id)
        self._check_manage(who, rule.experiment_id, rule.model_name)
        self.db.write(lambda c: store.delete_rule(c, rule.id))

    def list_rules(
        self,
        who: Identity,
        experiment_id: object = None,
        model_name: object = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[AlertRule], str | None]:
        eid = None
        if experiment_id not in (None, ""):
            eid, _ = self._scope({"experiment_id": experiment_id})
        name = validate_name(model_name, "model_name") if model_name else None
        if not 1 <= max_results <= MAX_PAGE:
            raise CairnError.invalid(f"Parameter 'max_results' must be between 1 and {MAX_PAGE}")
        before = _page_token(page_token)
        allowed = self.allowed(who)
        found = self.db.read(
            lambda c: store.list_rules(c, eid, name, allowed, max_results + 1, before)
        )
        if len(found) > max_results:
            return found[:max_results], str(found[max_results - 1].id)
        return found, None

    # ------------------------------------------------------------------------ alerts
    def list_alerts(
        self,
        who: Identity,
        state: object = None,
        rule_id: object = None,
        experiment_id: object = None,
        model_name: object = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[Alert], str | None]:
        """Newest first; the page token is the last id answered."""
        st = None
        if state not in (None, "", "all"):
            try:
                st = AlertState(str(state).lower())
            except ValueError as exc:
                raise CairnError.invalid(
                    f"Invalid value {str(state)[:40]!r} for parameter 'state': "
                    "firing, resolved or all"
                ) from exc
        rid = None if rule_id in (None, "") else _rule_id(rule_id)
        eid = None
        if experiment_id not in (None, ""):
            eid, _ = self._scope({"experiment_id": experiment_id})
        name = validate_name(model_name, "model_name") if model_name else None
        if not 1 <= max_results <= MAX_PAGE:
            raise CairnError.invalid(f"Parameter 'max_results' must be between 1 and {MAX_PAGE}")
        before = _page_token(page_token)
        allowed = self.allowed(who)
        found = self.db.read(
            lambda c: store.list_alerts(c, st, rid, eid, name, allowed, max_results + 1, before)
        )
        if len(found) > max_results:
            return found[:max_results], str(found[max_results - 1].id)
        return found, None

    def count_firing(self, who: Identity, cap: int = 1000) -> int:
        allowed = self.allowed(who)
        return self.db.read(lambda c: store.count_firing(c, allowed, cap))

    def get_alert(self, who: Identity, alert_id: object) -> Alert:
        aid = _alert_id(alert_id)
        found = self.db.read(lambda c: store.get_alert(c, aid))
        if not self._readable(who, found.experiment_id, found.model_name):
            raise CairnError.not_found(f"Alert {aid} not found")
        return found

    def acknowledge(self, who: Identity, alert_id: object) -> Alert:
        """Mark an alert as seen (anyone who may read it, but not with a read-only token)."""
        if who.read_only:
            raise CairnError(
                "A read-only token cannot acknowledge alerts", ErrorCode.PERMISSION_DENIED
            )
        found = self.get_alert(who, alert_id)
        actor = who.username or "local"
        return self.db.write(lambda c: store.acknowledge(c, found, actor))


__all__ = ["ALL", "AlertService", "check_filter", "rule_values"]
