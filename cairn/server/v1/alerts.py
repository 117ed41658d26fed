"""Metric alerts over HTTP: alert rules (create, list, read, change, delete: admins and MANAGE
holders of the rule's experiment or registered model) and the alerts they fire (listed to
whoever may read their experiment or model; acknowledge optional). See docs/alerts.md."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import Check, Locate, Names, requires
from cairn.entities.access import Permission, ResourceType
from cairn.entities.alerts import Alert, AlertRule
from cairn.server.state import alert_service, identity

MANAGE = Permission.MANAGE
router = APIRouter(prefix="/api/v1", tags=["alerts"])

MANAGE_SCOPE = p.experiment(
    MANAGE,
    "experiment_id",
    required=False,
    also=(
        Check(
            ResourceType.REGISTERED_MODEL,
            MANAGE,
            Locate(("model_name",), Names.MODEL_NAME),
            required=False,
        ),
    ),
)
"""MANAGE on the experiment or registered model a new rule names (the service checks again
that it names exactly one)."""

Kind = Literal["threshold", "drop", "non_finite", "stalled", "failed_run"]


class RuleIn(BaseModel):
    """A new rule: one scope (``experiment_id``, optionally with a ``filter``, or
    ``model_name``), a ``kind`` and the fields that kind needs."""

    name: str = Field(description="Shown on the alerts", max_length=256)
    kind: str = Field(description="threshold, drop, non_finite, stalled or failed_run")
    experiment_id: str | None = Field(default=None, description="Scope: this experiment's runs")
    model_name: str | None = Field(
        default=None, description="Scope: this registered model's versions (by source run)"
    )
    filter: str | None = Field(
        default=None,
        description="Experiment scope only: the runs the rule judges, in the run search "
        "language (`tags.team = 'lims'`)",
    )
    metric: str | None = Field(
        default=None,
        description="threshold, drop, non_finite: the metric key (`*`: every metric, "
        "threshold and non_finite only)",
    )
    op: str | None = Field(default=None, description="threshold: >, >=, <, <=, == or !=")
    value: float | None = Field(
        default=None,
        description="threshold: the bound; drop: the allowed fall (percent or absolute, > 0)",
    )
    against: str | None = Field(
        default=None, description="drop: `best` (default) or `previous` run/version"
    )
    measure: str | None = Field(default=None, description="drop: `percent` (default) or `absolute`")
    direction: str | None = Field(
        default=None,
        description="drop: `max` (higher is better) or `min`; guessed from the metric's name "
        "when absent (losses, errors, latencies: min)",
    )
    minutes: int | None = Field(
        default=None, description="stalled: minutes without a metric while RUNNING (1 to 525600)"
    )
    enabled: bool = True


class RulePatch(BaseModel):
    """The fields to change (the scope stays)."""

    name: str | None = Field(default=None, max_length=256)
    filter: str | None = None
    metric: str | None = None
    op: str | None = None
    value: float | None = None
    against: str | None = None
    measure: str | None = None
    direction: str | None = None
    minutes: int | None = None
    enabled: bool | None = None


class RuleOut(BaseModel):
    id: str
    name: str
    kind: Kind
    experiment_id: str | None
    model_name: str | None
    filter: str | None
    metric: str | None
    op: str | None
    value: float | None
    against: str | None
    measure: str | None
    direction: str | None
    minutes: int | None
    enabled: bool
    seeded: bool = Field(description="Made from the experiment tag `alert_threshold`")
    created_by: str
    created_at: int


class RuleList(BaseModel):
    rules: list[RuleOut]
    next_page_token: str | None = None


class AlertOut(BaseModel):
    id: str
    rule_id: str
    rule_name: str
    kind: Kind
    subject_type: Literal["run", "model_version"]
    subject_id: str = Field(description="A run id, or `<model name>/<version>`")
    experiment_id: str | None
    model_name: str | None
    state: Literal["firing", "resolved"]
    value: float | None = Field(description="The value that tripped it (null for NaN/Inf)")
    message: str
    fired_at: int
    resolved_at: int | None
    acknowledged_by: str | None
    acknowledged_at: int | None


class AlertList(BaseModel):
    alerts: list[AlertOut]
    next_page_token: str | None = None


class FiringCount(BaseModel):
    firing: int = Field(description="Firing alerts the caller may read (counted up to 1000)")


def rule_out(rule: AlertRule) -> RuleOut:
    return RuleOut.model_validate(rule.to_json())


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut.model_validate(alert.to_json())


# ---------------------------------------------------------------------------------- rules
@router.post(
    "/alerts/rules",
    response_model=RuleOut,
    status_code=201,
    summary="Create an alert rule (MANAGE on its experiment or registered model)",
    description=(
        "Kinds: `threshold` (`metric`, `op`, `value`), `drop` (`metric`, `against` best or "
        "previous, `measure` percent or absolute, `value`, `direction`), `non_finite` "
        "(`metric`), `stalled` (`minutes`), `failed_run`. Bad input is a 400 naming the field."
    ),
)
@requires(MANAGE_SCOPE)
async def create_rule(request: Request, body: RuleIn) -> RuleOut:
    data: dict[str, Any] = body.model_dump(exclude_none=True)
    rule = await run_in_threadpool(alert_service(request).create_rule, identity(request), data)
    return rule_out(rule)


@router.get(
    "/alerts/rules",
    response_model=RuleList,
    summary="Alert rules, newest first (of the experiments and models the caller may read)",
)
@requires(p.USER_READ)
async def list_rules(
    request: Request,
    experiment_id: str | None = Query(None, max_length=32),
    model_name: str | None = Query(None, max_length=256),
    max_results: int = Query(100, ge=1, le=1000),
    page_token: str | None = Query(None, max_length=32),
) -> RuleList:
    found, token = await run_in_threadpool(
        alert_service(request).list_rules,
        identity(request),
        experiment_id,
        model_name,
        max_results,
        page_token,
    )
    return RuleList(rules=[rule_out(r) for r in found], next_page_token=token)


@router.get("/alerts/rules/{rule_id}", response_model=RuleOut, summary="One alert rule")
@requires(p.USER_READ)
async def get_rule(request: Request, rule_id: str) -> RuleOut:
    found = await run_in_threadpool(alert_service(request).get_rule, identity(request), rule_id)
    return rule_out(found)


@router.patch(
    "/alerts/rules/{rule_id}",
    response_model=RuleOut,
    summary="Change an alert rule (MANAGE on its scope); its open alerts are resolved",
)
@requires(p.USER_WRITE)
async def update_rule(request: Request, rule_id: str, body: RulePatch) -> RuleOut:
    data = body.model_dump(exclude_none=True)
    found = await run_in_threadpool(
        alert_service(request).update_rule, identity(request), rule_id, data
    )
    return rule_out(found)


@router.delete(
    "/alerts/rules/{rule_id}",
    status_code=204,
    summary="Delete an alert rule (MANAGE on its scope); its open alerts are resolved",
)
@requires(p.USER_WRITE)
async def delete_rule(request: Request, rule_id: str) -> Response:
    await run_in_threadpool(alert_service(request).delete_rule, identity(request), rule_id)
    return Response(status_code=204)


# --------------------------------------------------------------------------------- alerts
@router.get(
    "/alerts",
    response_model=AlertList,
    summary="Alerts, newest first (of the experiments and models the caller may read)",
    description="Keyset paged: pass `next_page_token` back as `page_token`.",
)
@requires(p.USER_READ)
async def list_alerts(
    request: Request,
    state: str | None = Query(None, description="firing, resolved, or all (default)"),
    rule_id: str | None = Query(None, max_length=12),
    experiment_id: str | None = Query(None, max_length=32),
    model_name: str | None = Query(None, max_length=256),
    max_results: int = Query(100, ge=1, le=1000),
    page_token: str | None = Query(None, max_length=32),
) -> AlertList:
    found, token = await run_in_threadpool(
        alert_service(request).list_alerts,
        identity(request),
        state,
        rule_id,
        experiment_id,
        model_name,
        max_results,
        page_token,
    )
    return AlertList(alerts=[alert_out(a) for a in found], next_page_token=token)


@router.get(
    "/alerts/count",
    response_model=FiringCount,
    summary="How many alerts are firing (the UI's bell)",
)
@requires(p.USER_READ)
async def count_alerts(request: Request) -> FiringCount:
    found = await run_in_threadpool(alert_service(request).count_firing, identity(request))
    return FiringCount(firing=found)


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="One alert")
@requires(p.USER_READ)
async def get_alert(request: Request, alert_id: str) -> AlertOut:
    found = await run_in_threadpool(alert_service(request).get_alert, identity(request), alert_id)
    return alert_out(found)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    summary="Acknowledge an alert (anyone who may read it): records who saw it",
)
@requires(p.USER_WRITE)
async def acknowledge(request: Request, alert_id: str) -> AlertOut:
    found = await run_in_threadpool(alert_service(request).acknowledge, identity(request), alert_id)
    return alert_out(found)
