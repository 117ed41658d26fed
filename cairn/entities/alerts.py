"""Metric alerts: rules over a scope (an experiment's runs, optionally filtered, or a
registered model's versions), and the alerts they open and close.

A rule has a kind: ``threshold`` (the latest value of a metric compares with ``op`` to
``value``), ``drop`` (the latest value fell below the best or the previous run/version by a
percentage or an absolute amount, in the metric's ``direction``), ``non_finite`` (a NaN or
infinite point), ``stalled`` (a RUNNING run logged no metric for ``minutes``) and
``failed_run``. Judging a value is pure and lives here; finding the values is the store's.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

ANY_METRIC = "*"
"""A threshold or non-finite rule on every metric of its scope (the seeded rule, when the
experiment does not name one)."""


class RuleKind(StrEnum):
    THRESHOLD = "threshold"
    DROP = "drop"
    NON_FINITE = "non_finite"
    STALLED = "stalled"
    FAILED_RUN = "failed_run"


RUN_ONLY_KINDS = frozenset({RuleKind.STALLED, RuleKind.FAILED_RUN})
"""Kinds about runs themselves: an experiment scope only."""
METRIC_KINDS = frozenset({RuleKind.THRESHOLD, RuleKind.DROP, RuleKind.NON_FINITE})


class Against(StrEnum):
    BEST = "best"
    PREVIOUS = "previous"


class Measure(StrEnum):
    PERCENT = "percent"
    ABSOLUTE = "absolute"


class Direction(StrEnum):
    MAX = "max"
    """Higher is better: a drop is a fall."""
    MIN = "min"
    """Lower is better: a drop is a rise."""


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class SubjectType(StrEnum):
    RUN = "run"
    MODEL_VERSION = "model_version"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule as stored. Scope: ``experiment_id`` (with ``filter`` in the run search
    language) or ``model_name`` (its versions, judged by their source runs' metrics)."""

    id: int
    name: str
    kind: RuleKind
    experiment_id: str | None = None
    model_name: str | None = None
    filter: str | None = None
    metric: str | None = None
    op: str | None = None
    value: float | None = None
    against: Against | None = None
    measure: Measure | None = None
    direction: Direction | None = None
    minutes: int | None = None
    enabled: bool = True
    seeded: bool = False
    created_by: str = "system"
    created_at: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "kind": self.kind.value,
            "experiment_id": self.experiment_id,
            "model_name": self.model_name,
            "filter": self.filter,
            "metric": self.metric,
            "op": self.op,
            "value": self.value,
            "against": None if self.against is None else self.against.value,
            "measure": None if self.measure is None else self.measure.value,
            "direction": None if self.direction is None else self.direction.value,
            "minutes": self.minutes,
            "enabled": self.enabled,
            "seeded": self.seeded,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }

    def applies_to(self, key: str) -> bool:
        return self.metric == ANY_METRIC or self.metric == key

    def describe(self) -> str:
        """The rule's condition in words (the alert's message starts with it)."""
        if self.kind is RuleKind.THRESHOLD:
            return f"{self.metric} {self.op} {self.value:g}"
        if self.kind is RuleKind.DROP:
            unit = "%" if self.measure is Measure.PERCENT else ""
            way = "below" if self.direction is Direction.MAX else "above"
            return f"{self.metric} more than {self.value:g}{unit} {way} the {self.against}"
        if self.kind is RuleKind.NON_FINITE:
            return f"{self.metric} is NaN or infinite"
        if self.kind is RuleKind.STALLED:
            return f"no metric for {self.minutes} min while RUNNING"
        return "run failed"

    # ------------------------------------------------------------------ judging values
    def breached(self, value: float) -> bool:
        """Threshold: whether ``value`` meets the condition (a NaN never does)."""
        if math.isnan(value) or self.op is None or self.value is None:
            return False
        return OPERATORS[self.op](value, self.value)

    def dropped(self, value: float, baseline: float) -> bool:
        """Drop: whether ``value`` is worse than ``baseline`` by more than the rule allows
        (percent of the baseline's magnitude, or absolute)."""
        if not (math.isfinite(value) and math.isfinite(baseline)) or self.value is None:
            return False
        worse = baseline - value if self.direction is not Direction.MIN else value - baseline
        limit = self.value
        if self.measure is Measure.PERCENT:
            limit = abs(baseline) * self.value / 100.0
        return worse > limit

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is better than ``b`` in the rule's direction."""
        return a < b if self.direction is Direction.MIN else a > b


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: ``rule_id`` judged ``subject_id`` (a run id, or ``name/version``) as
    breaching at ``fired_at``; resolved when it no longer does. At most one firing alert per
    rule and subject."""

    id: int
    rule_id: int
    rule_name: str
    kind: RuleKind
    subject_type: SubjectType
    subject_id: str
    experiment_id: str | None
    model_name: str | None
    state: AlertState
    value: float | None
    message: str
    fired_at: int
    resolved_at: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        value = self.value
        return {
            "id": str(self.id),
            "rule_id": str(self.rule_id),
            "rule_name": self.rule_name,
            "kind": self.kind.value,
            "subject_type": self.subject_type.value,
            "subject_id": self.subject_id,
            "experiment_id": self.experiment_id,
            "model_name": self.model_name,
            "state": self.state.value,
            # JSON has no NaN or infinity: those are told by the message, the value is null
            "value": value if value is not None and math.isfinite(value) else None,
            "message": self.message,
            "fired_at": self.fired_at,
            "resolved_at": self.resolved_at,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one evaluation found for a rule and subject: breaching or not, with the value
    and the words for the alert."""

    rule: AlertRule
    subject_type: SubjectType
    subject_id: str
    experiment_id: str | None
    model_name: str | None
    breaching: bool
    value: float | None = None
    message: str = ""
