"""The app factory: the one place where settings, database, services and routes meet."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Match, Mount
from starlette.types import Scope

from cairn._version import MLFLOW_API_VERSION, __version__
from cairn.access.policy import PUBLIC, USER_READ, requires
from cairn.access.sealing import Sealer, key_from_file
from cairn.access.secrets import dummy_hash
from cairn.access.service import AccessService
from cairn.artifacts.uri import repository_for
from cairn.entities.access import Permission
from cairn.entities.errors import CairnError
from cairn.events import jobs as _audit_jobs  # noqa: F401 (registers audit.prune)
from cairn.events.service import AuditService
from cairn.jobs.engine import JobEngine
from cairn.jobs.queue import JobQueue, default_queue_uri
from cairn.server import errors
from cairn.server.access import AccessLayer, RouteNeeds
from cairn.server.acting import Acting
from cairn.server.guard import RequestGuard
from cairn.server.limits import InputLimits
from cairn.server.logs import configure as configure_logging
from cairn.server.mlflow.artifacts import artifact_routes
from cairn.server.mlflow.graphql import graphql_routes
from cairn.server.mlflow.otlp import otlp_routes
from cairn.server.mlflow.routes import MlflowDispatch
from cairn.server.openapi import install_openapi
from cairn.server.prometheus import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from cairn.server.prometheus import RequestMetrics, ServerMetrics
from cairn.server.settings import Settings, data_dir
from cairn.server.state import tracking
from cairn.server.v1.alerts import router as alerts_router
from cairn.server.v1.approvals import router as approvals_router
from cairn.server.v1.artifacts import router as artifacts_router
from cairn.server.v1.audit import router as audit_router
from cairn.server.v1.auth import router as auth_router
from cairn.server.v1.datasets import router as datasets_router
from cairn.server.v1.eval_leaderboard import router as eval_leaderboard_router
from cairn.server.v1.evaluations import router as evaluations_router
from cairn.server.v1.experiments import router as experiments_router
from cairn.server.v1.jobs import router as jobs_router
from cairn.server.v1.metrics import router as metrics_router
from cairn.server.v1.model_policies import router as model_policies_router
from cairn.server.v1.models import router as models_router
from cairn.server.v1.permissions import router as permissions_router
from cairn.server.v1.red_team import router as red_team_router
from cairn.server.v1.retention import router as retention_router
from cairn.server.v1.runs import router as runs_router
from cairn.server.v1.users import router as users_router
from cairn.server.v1.views import router as views_router
from cairn.server.v1.webhooks import router as webhooks_router
from cairn.server.web import WebUI
from cairn.server.wire import json_response
from cairn.services import alert_jobs as _alert_jobs  # noqa: F401 (registers the alert jobs)
from cairn.services import eval_jobs as _eval_jobs  # noqa: F401 (registers the evaluation jobs)
from cairn.services import metric_block_jobs as _block_jobs  # noqa: F401 (its periodic job)
from cairn.services.alerts import AlertService
from cairn.services.approvals import ApprovalService
from cairn.services.artifact_search import ArtifactSearchService
from cairn.services.artifacts import ArtifactService
from cairn.services.compare import CompareService
from cairn.services.datasets import DatasetService
from cairn.services.eval_leaderboard import EvalLeaderboardService
from cairn.services.eval_resources import ServiceResources
from cairn.services.evaluations import EvaluationService
from cairn.services.insights import InsightService
from cairn.services.jobs import JobService
from cairn.services.logged_models import LoggedModelService
from cairn.services.metrics import MetricsService
from cairn.services.model_policies import ModelPolicyService
from cairn.services.operations import OperationsService
from cairn.services.red_team import RedTeamService
from cairn.services.registry import RegistryService
from cairn.services.retention import RetentionService
from cairn.services.saved_views import SavedViewService
from cairn.services.traces import TraceService
from cairn.services.tracking import TrackingService
from cairn.services.validation import ValueLimits
from cairn.services.webhook_delivery import DeliveryConfig
from cairn.services.webhook_jobs import enqueue_deliveries  # registers the webhook jobs
from cairn.services.webhook_targets import AllowList
from cairn.services.webhooks import WebhookService
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema

log = logging.getLogger("cairn.server")

ADMIN_USERNAME = "CAIRN_ADMIN_USERNAME"
ADMIN_PASSWORD = "CAIRN_ADMIN_PASSWORD"

JSON_API_PREFIXES = (
    "/api/2.0/mlflow/",
    "/ajax-api/2.0/mlflow/",
    "/api/3.0/mlflow/",
    "/ajax-api/3.0/mlflow/",
)
JSON_PREFIXES = (*JSON_API_PREFIXES, "/api/v1/")
"""Where request bodies are JSON: the body limit and the NUL check apply (not to artifact
uploads, whose bodies are files)."""

DOCS_ASSETS = "/docs/assets"
DOCS_FILES = frozenset(
    {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"}
)
"""The pinned Swagger UI and ReDoc files /docs and /redoc load from Cairn itself, not a CDN
(the static files of the ``fastapi-offline`` package, pinned in pyproject.toml)."""


def docs_asset(name: str) -> Path | None:
    if name not in DOCS_FILES:
        return None
    found = Path(str(files("fastapi_offline") / "static" / name))
    return found if found.is_file() else None


class Fallback(Mount):
    """A mount that takes only what no other route claims, even partly: a known path with the
    wrong method still gets its 405 from the route that owns the path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.PARTIAL if match == Match.FULL else match), child_scope


def create_app(
    settings: Settings | None = None, web_dir: Path | None = None, *, freeze_heap: bool = False
) -> RequestMetrics:
    """The whole server: MLflow's JSON API in an exact-path table in front (its hot paths pay
    for no framework layer they do not use), then a Starlette app with the artifact routes,
    and FastAPI for the rest and the OpenAPI docs, behind the web UI (``web_dir``, by default
    the built app in ``cairn/server/static``), which answers only GETs outside the API. The
    request guard (:mod:`cairn.server.guard`) stands in front of all of it.

    ``freeze_heap`` (a server process of its own: ``cairn server``, the workers' factory):
    once started, everything alive is moved out of the cyclic garbage collector's reach
    (``gc.freeze``, undone at shutdown). The ~220,000 objects of a started server (modules,
    tables, models) were traversed again by every full collection that requests' garbage
    triggers: about 1.2-1.5 ms of a 100-run search page's 6-7 ms of CPU (docs/benchmarks.md).
    Not for a process that hosts the app among its own objects (tests, embedded mode): what
    is frozen is never collected until shutdown."""
    settings = settings or Settings.from_env()

    def operations() -> OperationsService | None:
        found: OperationsService | None = getattr(root.state, "operations", None)
        return found

    metrics = ServerMetrics(operations)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = open_database(settings)
        db.observe_write_groups(metrics.observe_write_group)
        db.observe_retries(metrics.transaction_retry)
        services = build_services(settings, db)
        for name, service in services.items():
            setattr(app.state, name, service)
        app.state.db = db
        if settings.auth:
            await run_in_threadpool(bootstrap_admin, services["access"])
        engine = await run_in_threadpool(start_jobs, settings, db, services, settings.run_jobs)
        app.state.job_engine = engine
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if freeze_heap:
                gc.unfreeze()
            await run_in_threadpool(engine.stop)
            db.close()

    handlers: dict[Any, Any] = {
        CairnError: errors.cairn_error,
        ValidationError: errors.validation_error,
        RequestValidationError: errors.validation_error,
        HTTPException: errors.http_error,
    }  # anything else: errors.Unexpected, in each app's middleware
    api = FastAPI(
        title="Cairn",
        version=__version__,
        description="Experiment tracking and model lifecycle, wire-compatible with MLflow.",
        docs_url=None,  # served below, from Cairn's own copy of Swagger UI
        redoc_url=None,
        openapi_url="/openapi.json",
        exception_handlers=handlers,
        middleware=[Middleware(errors.Unexpected)],
    )
    api.include_router(experiments_router)
    api.include_router(datasets_router)
    api.include_router(artifacts_router)
    api.include_router(models_router)
    api.include_router(approvals_router)
    api.include_router(model_policies_router)
    api.include_router(views_router)
    api.include_router(alerts_router)
    api.include_router(metrics_router)
    api.include_router(runs_router)
    api.include_router(auth_router)
    api.include_router(users_router)
    api.include_router(permissions_router)
    api.include_router(audit_router)
    api.include_router(retention_router)
    api.include_router(webhooks_router)
    api.include_router(jobs_router)
    api.include_router(red_team_router)
    api.include_router(evaluations_router)
    api.include_router(eval_leaderboard_router)
    root = Starlette(
        routes=[
            *artifact_routes(),
            *otlp_routes(),
            *graphql_routes(),
            Fallback("", app=WebUI(api, web_dir)),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
        middleware=[
            Middleware(errors.Unexpected),
            Middleware(InputLimits, limit=settings.max_request_bytes, prefixes=JSON_PREFIXES),
        ],
    )
    api.state = root.state  # handlers on either side see the same services
    root.state.settings = settings
    app = api

    @requires(PUBLIC)
    @app.get(
        "/health",
        tags=["server"],
        response_class=PlainTextResponse,
        summary="Liveness and database check",
        description="`OK` once the database answers `SELECT 1`; 503 `TEMPORARILY_UNAVAILABLE` "
        "in the one error shape when it does not.",
    )
    async def health(request: Request) -> Response:
        await run_in_threadpool(tracking(request).check_database)
        return PlainTextResponse("OK")

    @requires(PUBLIC)
    @app.get(
        "/ready",
        tags=["server"],
        response_class=PlainTextResponse,
        summary="Readiness: the database answers and its schema is current",
        description="`READY` when this server can serve: the database answers and its schema "
        "is at the revision this server needs. 503 `TEMPORARILY_UNAVAILABLE` in the one error "
        "shape, saying which is not so, otherwise (a load balancer takes the server out of "
        "rotation; `/health` only says the process and database are alive).",
    )
    async def ready(request: Request) -> Response:
        await run_in_threadpool(request.app.state.operations.check_ready)
        return PlainTextResponse("READY")

    @requires(USER_READ)
    @app.get(
        "/metrics",
        tags=["server"],
        response_class=PlainTextResponse,
        summary="Prometheus metrics",
        description="Prometheus' text exposition format: requests by method, route template "
        "and status, latency histograms, the SQLite writer's queue depth and group sizes, the "
        "read pool's connections, jobs by state and the oldest waiting job's age, webhook "
        "deliveries by state. With access control on, any signed-in user or token may read it "
        "(it names no experiment, model or user).",
    )
    async def prometheus_metrics() -> Response:
        body = await run_in_threadpool(metrics.render)
        return Response(body, media_type=PROMETHEUS_CONTENT_TYPE)

    @requires(PUBLIC)
    @app.get(
        "/version",
        tags=["server"],
        response_class=PlainTextResponse,
        summary="The MLflow server version whose API this server speaks, as plain text",
        description="What mlflow clients check before they use newer APIs (3.x clients export "
        "spans over OTLP only to servers at 3.4 or newer). Cairn's own version is at "
        "`/api/v1/version`.",
    )
    async def version() -> Response:
        return PlainTextResponse(MLFLOW_API_VERSION)

    @requires(PUBLIC)
    @app.get(
        "/api/v1/version",
        tags=["server"],
        summary="Cairn's own version, and the MLflow API version it speaks",
    )
    async def cairn_version() -> Response:
        return json_response({"version": __version__, "mlflow_api_version": MLFLOW_API_VERSION})

    @requires(PUBLIC)
    @app.get("/api/3.0/mlflow/server-info", tags=["server"], summary="What this server supports")
    async def server_info(request: Request) -> Response:
        store = "SqlStore"
        return json_response(
            {
                "store_type": store,
                "workspaces_enabled": False,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": settings.serve_artifacts,
                "multipart_downloads_enabled": False,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                "features_enabled": {"gateway": False},
                "server": "cairn",
                "version": __version__,
            }
        )

    @requires(USER_READ)
    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Cairn API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @requires(USER_READ)
    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="Cairn API",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    @requires(PUBLIC)
    @app.get(DOCS_ASSETS + "/{name}", include_in_schema=False)
    async def docs_file(name: str) -> Response:
        found = docs_asset(name)
        if found is None:
            raise HTTPException(404)
        return FileResponse(found, headers={"Cache-Control": "public, max-age=86400"})

    install_openapi(api)
    for route in api.routes:  # FastAPI's own /openapi.json route: signed-in users only
        if getattr(route, "path", None) == api.openapi_url:
            requires(USER_READ)(getattr(route, "endpoint"))  # noqa: B009
    dispatch = MlflowDispatch(root, settings.max_request_bytes)

    def route_needs() -> RouteNeeds:
        table, patterns = dispatch.needs()
        return RouteNeeds(table, patterns, [*root.routes[:-1], *api.routes])

    def access_service() -> AccessService | None:
        if not settings.auth:
            return None
        found: AccessService | None = getattr(root.state, "access", None)
        return found

    layer = AccessLayer(dispatch, route_needs, access_service, settings.max_request_bytes)
    acting = Acting(layer, access_control=settings.auth)
    guard = RequestGuard(acting, settings.allowed_hosts, settings.cors_allowed_origins)
    return RequestMetrics(guard, metrics)


def delivery_config(settings: Settings) -> DeliveryConfig:
    """How webhook deliveries are made and their secrets sealed, from the settings."""
    key = settings.secret_key or key_from_file(data_dir())
    return DeliveryConfig(
        sealer=Sealer(key),
        allow=AllowList.parse(settings.webhook_allow_hosts),
        timeout_s=settings.webhook_timeout,
        max_attempts=settings.webhook_max_attempts,
        disable_after=settings.webhook_disable_after,
        ca_bundle=settings.webhook_ca_bundle or None,
    )


def open_database(settings: Settings) -> Database:
    """The store the settings name, its schema brought up to date, its writer started."""
    db = Database(
        settings.backend_store_uri,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
        inline_small_writes=not settings.shared_store,
        audit_key=settings.audit_key.encode() or None,
        group_commit=settings.db_group_commit,
    )
    ensure_schema(db.write_engine)
    db.start()
    return db


def build_services(settings: Settings, db: Database) -> dict[str, Any]:
    """Every service of the app, by the name it has on ``app.state``: the server's request
    handlers and the background jobs (:class:`~cairn.jobs.registry.JobContext`) get the same."""
    artifacts = ArtifactService(
        repository_for(settings.artifacts_destination),
        serve=settings.serve_artifacts,
        max_bytes=settings.max_artifact_bytes,
        db=db,
    )
    limits = ValueLimits(settings.truncate_long_values)
    tracking = TrackingService(db, limits, artifact_root=artifacts.default_root)
    logged_models = LoggedModelService(db, artifacts, limits)
    access = AccessService(db, Permission[settings.default_permission])
    dummy_hash()  # before the first sign-in, so that the first unknown username costs no more
    registry = RegistryService(db, artifacts, logged_models.artifact_uri)
    services: dict[str, Any] = {
        "artifacts": artifacts,
        "artifact_search": ArtifactSearchService(db, artifacts),
        "tracking": tracking,
        "logged_models": logged_models,
        "registry": registry,
        "traces": TraceService(db, artifacts, limits),
        "metrics": MetricsService(db, tracking.keys),
        "datasets": DatasetService(db),
        "compare": CompareService(db),
        "audit": AuditService(db, settings.audit_retention_days),
        "access": access,
        "approvals": ApprovalService(db, access),
        "insights": InsightService(db),
        "model_policies": ModelPolicyService(db),
        "saved_views": SavedViewService(db),
        "alerts": AlertService(db, access),
        "retention": RetentionService(db),
        "webhooks": WebhookService(
            db, delivery_config(settings), access, on_pending=enqueue_deliveries
        ),
        "jobs": JobService(db),
        "operations": OperationsService(db),
        "eval_leaderboard": EvalLeaderboardService(db),
        "red_team": RedTeamService(db, tracking, registry, artifacts, access),
    }
    services["eval_resources"] = ServiceResources(services)
    services["evaluations"] = EvaluationService(
        db, tracking, artifacts, registry, access, data_dir(), services
    )
    return services


def start_jobs(
    settings: Settings,
    db: Database,
    services: dict[str, Any],
    work: bool,
    threads: int = 1,
) -> JobEngine:
    """The job engine on the settings' queue: it always hands committed jobs to the queue;
    with ``work`` it also runs them (``threads`` worker threads), the outbox consumers and
    the periodic jobs."""
    queue_uri = settings.queue_uri or default_queue_uri(settings.backend_store_uri)
    engine = JobEngine(
        db,
        JobQueue(queue_uri),
        services,
        workers=threads,
        lease_seconds=settings.job_lease_seconds,
    )
    engine.start(work=work)
    return engine


def bootstrap_admin(access: AccessService) -> None:
    """The first admin, from ``CAIRN_ADMIN_USERNAME`` and ``CAIRN_ADMIN_PASSWORD``: created
    when missing. Without them and without any user, say how to make one."""
    username = os.environ.get(ADMIN_USERNAME, "").strip()
    password = os.environ.get(ADMIN_PASSWORD, "")
    if username:
        if not password:
            raise CairnError.invalid(
                f"{ADMIN_USERNAME} is set but {ADMIN_PASSWORD} is not: Cairn has no default "
                "password; set both, or create the admin with `cairn users create NAME --admin`"
            )
        access.ensure_admin(username, password)
    elif not access.has_users():
        log.warning(
            "Access control is on and there are no users: set %s and %s, or run "
            "`cairn users create NAME --admin`",
            ADMIN_USERNAME,
            ADMIN_PASSWORD,
        )


def app_from_env() -> RequestMetrics:
    """Factory for uvicorn workers: settings come from the ``CAIRN_*`` environment."""
    settings = Settings.from_env()
    configure_logging(settings)  # a worker process configures its own log
    return create_app(settings, freeze_heap=True)
