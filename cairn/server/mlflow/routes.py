"""The MLflow-compatible route table, mounted under every prefix MLflow serves it on."""

from __future__ import annotations

from starlette.routing import Route

from cairn.server.mlflow import experiments, logged_models, runs
from cairn.server.mlflow.endpoint import Endpoint

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")

ENDPOINTS: list[Endpoint] = [*runs.ENDPOINTS, *experiments.ENDPOINTS, *logged_models.ENDPOINTS]


def mlflow_routes() -> list[Route]:
    return [endpoint.route(prefix) for prefix in PREFIXES for endpoint in ENDPOINTS]
