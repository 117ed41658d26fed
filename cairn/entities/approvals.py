"""Promotion approvals: a registered model's promotion policy, approval requests and the
evidence a request must show.

A policy names the target stages and aliases that need approval, how many approvals, who may
give them (MANAGE holders of the model, or the holders of one role) and the evidence the
version's source run must carry (a tag value, a metric bound), or an evaluation the version
must have passed (a collection of the evaluation hub). Checking evidence is pure: it reads the
run's tags and latest metrics, and the version's evaluation outcomes, handed to it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One required fact about the version: ``kind`` ``tag`` (its source run's tag ``key``
    equals ``value``), ``metric`` (the run's latest value of ``key`` compares with ``op`` to
    ``value``) or ``evaluation`` (an evaluation job of the collection ``key`` ran on this very
    version and ended ``value``: ``passed`` — completed and not failing its pass criteria — or
    just ``completed``)."""

    kind: str
    key: str
    value: Any
    op: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "key": self.key}
        if self.kind == "metric":
            out["op"] = self.op
        out["value"] = self.value
        return out

    @property
    def label(self) -> str:
        if self.kind == "tag":
            return f"run tag {self.key} = {self.value}"
        if self.kind == "evaluation":
            return f"evaluation collection {self.key} {self.value}"
        return f"run metric {self.key} {self.op} {self.value}"

    def check(
        self,
        run_id: str | None,
        tags: dict[str, str],
        metrics: dict[str, float],
        evaluations: Mapping[str, frozenset[str]] | None = None,
    ) -> Check:
        """``evaluations``: per collection id, the outcomes of the version's evaluation jobs
        of that collection (``passed``, ``completed``, ``failed``, ``running``…)."""
        if self.kind == "evaluation":
            outcomes = (evaluations or {}).get(self.key, frozenset())
            ok = self.value in outcomes
            if not outcomes:
                detail = f"no evaluation job of collection {self.key} ran on this version"
            else:
                detail = f"its jobs of collection {self.key} ended: {', '.join(sorted(outcomes))}"
            return Check(self.label, ok, detail)
        if run_id is None:
            return Check(self.label, False, "the version has no source run")
        if self.kind == "tag":
            found = tags.get(self.key)
            if found is None:
                return Check(self.label, False, f"run {run_id} has no tag {self.key}")
            return Check(self.label, found == self.value, f"run {run_id} has {self.key} = {found}")
        value = metrics.get(self.key)
        if value is None or math.isnan(value):
            return Check(self.label, False, f"run {run_id} has no value of metric {self.key}")
        ok = OPERATORS[self.op or ">="](value, float(self.value))
        return Check(self.label, ok, f"run {run_id} has {self.key} = {value:g}")


EVALUATION_OUTCOMES = ("passed", "completed")
"""What an ``evaluation`` evidence may ask of the version's jobs of a collection."""


def evaluation_outcomes(state: str, passed: bool | None) -> frozenset[str]:
    """What one evaluation job shows of its version: a completed job that did not fail its
    pass criteria (or had none) ``passed``; any completed job ``completed``; else its state."""
    if state != "completed":
        return frozenset({state})
    return frozenset({"completed", "passed"} if passed is not False else {"completed", "failed"})


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one evidence check on a version."""

    check: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    model_name: str
    stages: tuple[str, ...]
    aliases: tuple[str, ...]
    required_approvals: int
    approver_role: str | None
    evidence: tuple[Evidence, ...]
    updated_at: int = 0
    updated_by: str = ""

    def covers(self, stage: str | None, alias: str | None) -> bool:
        """Whether moving to ``stage`` (or ``alias``) needs approval under this policy."""
        if stage is not None:
            return stage in self.stages
        return alias is not None and alias in self.aliases

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "stages": list(self.stages),
            "aliases": list(self.aliases),
            "required_approvals": self.required_approvals,
            "approver_role": self.approver_role,
            "evidence": [e.to_json() for e in self.evidence],
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True, slots=True)
class Vote:
    actor: str
    time: int
    comment: str | None


@dataclass(slots=True)
class ApprovalRequest:
    """A move of ``version`` to ``target_stage`` or ``target_alias`` waiting for approvals
    (or decided). ``evidence`` and ``changes_since_request`` are filled in when read."""

    id: int
    model_name: str
    version: int
    target_stage: str | None
    target_alias: str | None
    archive_existing: bool
    state: RequestState
    requested_by: str
    requested_at: int
    comment: str | None
    required_approvals: int
    approvals: list[Vote] = field(default_factory=list)
    decided_by: str | None = None
    decided_at: int | None = None
    decision_comment: str | None = None
    evidence: list[Check] = field(default_factory=list)
    changes_since_request: list[str] = field(default_factory=list)

    @property
    def target(self) -> dict[str, str]:
        if self.target_stage is not None:
            return {"stage": self.target_stage}
        return {"alias": self.target_alias or ""}

    @property
    def target_label(self) -> str:
        if self.target_stage is not None:
            return f"stage {self.target_stage}"
        return f"alias {self.target_alias}"
