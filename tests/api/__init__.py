"""The HTTP surface in-process."""

from __future__ import annotations

import base64
from typing import Any

from starlette.applications import Starlette


def root_app(app: Any) -> Starlette:
    """The Starlette root inside what ``create_app`` returns (the request guard around the
    MLflow dispatcher, and whatever a test wraps around that): its routes and ``state``."""
    for _ in range(8):
        if isinstance(app, Starlette):
            return app
        app = app.app
    raise AssertionError(f"no Starlette app inside {app!r}")


def basic(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP basic auth, as the mlflow client sends it."""
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}
