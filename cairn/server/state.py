"""Typed access to what the app factory puts on ``app.state`` (the composition root)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request

from cairn.access.service import AccessService
from cairn.entities.access import ALL, LOCAL, Identity, ResourceType, Visibility
from cairn.entities.events import EventScope
from cairn.events.service import AuditService
from cairn.services.alerts import AlertService
from cairn.services.approvals import ApprovalService
from cairn.services.artifact_search import ArtifactSearchService
from cairn.services.artifacts import ArtifactService
from cairn.services.compare import CompareService
from cairn.services.datasets import DatasetService
from cairn.services.eval_leaderboard import EvalLeaderboardService
from cairn.services.evaluations import EvaluationService
from cairn.services.insights import InsightService
from cairn.services.jobs import JobService
from cairn.services.logged_models import LoggedModelService
from cairn.services.metrics import MetricsService
from cairn.services.model_policies import ModelPolicyService
from cairn.services.red_team import RedTeamService
from cairn.services.registry import RegistryService
from cairn.services.retention import RetentionService
from cairn.services.saved_views import SavedViewService
from cairn.services.traces import TraceService
from cairn.services.tracking import TrackingService
from cairn.services.webhooks import WebhookService

S = TypeVar("S")


def _accessor(name: str, _kind: type[S]) -> Callable[[Request], S]:
    """The accessor of the service the lifespan puts on ``app.state`` as ``name``."""

    def service(request: Request) -> S:
        found: S = getattr(request.app.state, name)
        return found

    service.__name__ = service.__qualname__ = name
    return service


tracking = _accessor("tracking", TrackingService)
artifacts = _accessor("artifacts", ArtifactService)
artifact_search = _accessor("artifact_search", ArtifactSearchService)
logged_models = _accessor("logged_models", LoggedModelService)
traces = _accessor("traces", TraceService)
registry = _accessor("registry", RegistryService)
compare = _accessor("compare", CompareService)
metrics = _accessor("metrics", MetricsService)
datasets = _accessor("datasets", DatasetService)
insights = _accessor("insights", InsightService)
access = _accessor("access", AccessService)
audit = _accessor("audit", AuditService)
approvals = _accessor("approvals", ApprovalService)
retention = _accessor("retention", RetentionService)
webhooks = _accessor("webhooks", WebhookService)
jobs = _accessor("jobs", JobService)
model_policies = _accessor("model_policies", ModelPolicyService)
saved_views = _accessor("saved_views", SavedViewService)
alert_service = _accessor("alerts", AlertService)
red_team = _accessor("red_team", RedTeamService)
evaluations = _accessor("evaluations", EvaluationService)
eval_leaderboard = _accessor("eval_leaderboard", EvalLeaderboardService)


def identity(request: Request) -> Identity:
    """Who the request is from, as the access layer found it (the local user when access
    control is off)."""
    found = request.scope.get("state", {}).get("identity")
    return found if isinstance(found, Identity) else LOCAL


def visible(request: Request, kind: ResourceType) -> Visibility:
    """What the caller may read of ``kind``, as a search filter (no filter when access control
    is off or the caller is unrestricted)."""
    who = identity(request)
    service = getattr(request.app.state, "access", None)
    if who.unrestricted or service is None:
        return ALL
    found: Visibility = service.visibility(who, kind)
    return found


def audit_scope(request: Request) -> EventScope | None:
    """Which change events the caller may read (sync: call from a worker thread): None for
    every event (access control off, admins, also through a read-only token), else those of
    the experiments and registered models they hold MANAGE on."""
    who = identity(request)
    service = getattr(request.app.state, "access", None)
    if who.unrestricted or who.is_admin or service is None:
        return None
    return EventScope(
        service.managed(who, ResourceType.EXPERIMENT),
        service.managed(who, ResourceType.REGISTERED_MODEL),
    )


def readable(request: Request, kind: ResourceType, ids: list[str]) -> list[str]:
    """``ids`` without those the caller may not read (sync: call from a worker thread)."""
    who = identity(request)
    service = getattr(request.app.state, "access", None)
    if who.unrestricted or service is None:
        return ids
    found: list[str] = service.readable_ids(who, kind, ids)
    return found


def created(request: Request, kind: ResourceType, resource_id: str) -> None:
    """The caller created ``resource_id``: they get MANAGE on it (sync)."""
    who = identity(request)
    service = getattr(request.app.state, "access", None)
    if service is not None and who.user_id is not None:
        service.grant_creator(who, kind, resource_id)
