"""The app factory: the one place where settings, database, services and routes meet."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

import cairn
from cairn.entities.errors import CairnError
from cairn.server import errors
from cairn.server.limits import BodyLimit
from cairn.server.mlflow.routes import mlflow_routes
from cairn.server.openapi import install_openapi
from cairn.server.settings import Settings
from cairn.server.wire import json_response
from cairn.services.tracking import TrackingService
from cairn.services.validation import ValueLimits
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema

log = logging.getLogger("cairn.server")

JSON_API_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/", "/api/3.0/mlflow/")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.backend_store_uri,
            sqlite_synchronous=settings.sqlite_synchronous,
            inline_small_writes=not settings.shared_store,
        )
        ensure_schema(db.write_engine)
        db.start()
        app.state.db = db
        app.state.tracking = TrackingService(db, ValueLimits(settings.truncate_long_values))
        try:
            yield
        finally:
            db.close()

    app = FastAPI(
        title="Cairn",
        version=cairn.__version__,
        description="Experiment tracking and model lifecycle, wire-compatible with MLflow.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        exception_handlers={
            CairnError: errors.cairn_error,
            ValidationError: errors.validation_error,
            HTTPException: errors.http_error,
            Exception: errors.internal_error,
        },
    )
    app.state.settings = settings
    app.router.routes.extend(mlflow_routes())

    @app.get("/health", tags=["server"], summary="Liveness and database check")
    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    @app.get("/version", tags=["server"], summary="The server version, as plain text")
    async def version() -> Response:
        return PlainTextResponse(cairn.__version__)

    @app.get("/api/3.0/mlflow/server-info", tags=["server"], summary="What this server supports")
    async def server_info(request: Request) -> Response:
        store = "SqlStore"
        return json_response(
            {
                "store_type": store,
                "workspaces_enabled": False,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": False,
                "multipart_downloads_enabled": False,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                "features_enabled": {"gateway": False},
                "server": "cairn",
                "version": cairn.__version__,
            }
        )

    install_openapi(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes, prefixes=JSON_API_PREFIXES)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings come from the ``CAIRN_*`` environment."""
    return create_app(Settings.from_env())
