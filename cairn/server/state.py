"""Typed access to what the app factory puts on ``app.state`` (the composition root)."""

from __future__ import annotations

from starlette.requests import Request

from cairn.services.artifacts import ArtifactService
from cairn.services.compare import CompareService
from cairn.services.datasets import DatasetService
from cairn.services.logged_models import LoggedModelService
from cairn.services.metrics import MetricsService
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService


def tracking(request: Request) -> TrackingService:
    service: TrackingService = request.app.state.tracking
    return service


def artifacts(request: Request) -> ArtifactService:
    service: ArtifactService = request.app.state.artifacts
    return service


def logged_models(request: Request) -> LoggedModelService:
    service: LoggedModelService = request.app.state.logged_models
    return service


def registry(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.registry
    return service


def compare(request: Request) -> CompareService:
    service: CompareService = request.app.state.compare
    return service


def metrics(request: Request) -> MetricsService:
    service: MetricsService = request.app.state.metrics
    return service


def datasets(request: Request) -> DatasetService:
    service: DatasetService = request.app.state.datasets
    return service
