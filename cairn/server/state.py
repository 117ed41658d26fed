"""Typed access to what the app factory puts on ``app.state`` (the composition root)."""

from __future__ import annotations

from starlette.requests import Request

from cairn.services.artifacts import ArtifactService
from cairn.services.tracking import TrackingService


def tracking(request: Request) -> TrackingService:
    service: TrackingService = request.app.state.tracking
    return service


def artifacts(request: Request) -> ArtifactService:
    service: ArtifactService = request.app.state.artifacts
    return service
