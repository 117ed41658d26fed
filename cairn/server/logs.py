"""The server's log: uvicorn's text lines, or JSON Lines for log collectors.

``--log-format json`` (``CAIRN_LOG_FORMAT=json``) makes every record of the process one JSON
object on stderr: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``error`` (the
traceback, when there is one), and, for a record written while a request was being answered,
that request's ``request_id`` (the one its response's ``X-Request-Id`` echoes) and ``actor``.
With ``--access-log`` each answered request is one more record of the ``cairn.access`` logger,
written once its response is sent: ``method``, ``path`` (without the query string, which may
carry a token), ``route`` (the template that matched, as in ``/metrics``), ``status``,
``duration_ms``, ``bytes`` (the body sent), ``client``, ``request_id`` and ``actor``.

Nothing here logs headers, bodies or query strings, so passwords, tokens and cookies never
reach the log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from starlette.types import Scope

from cairn.entities.events import ACTING
from cairn.server.settings import Settings

ACCESS = logging.getLogger("cairn.access")
"""One record per answered request (JSON format with ``--access-log`` only)."""

REQUEST_ID_KEY = "cairn.request_id"
"""Scope key where :class:`cairn.server.acting.Acting` leaves the request's id."""
ACTOR_KEY = "cairn.actor"
"""Scope key where :class:`cairn.server.acting.Acting` leaves the actor the request ran as."""

ACCESS_FIELDS = (
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
    "bytes",
    "client",
    "request_id",
    "actor",
)
MAX_PATH = 2048
_LOGGERS = ("uvicorn", "uvicorn.error", "cairn")


def _time(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON (see the module's description for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ACCESS_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if "request_id" not in entry:
            acting = ACTING.get()
            if acting.request_id is not None:  # written while answering a request
                entry["request_id"] = acting.request_id
                entry["actor"] = acting.name
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(settings: Settings) -> None:
    """Send the process's records (Cairn's and uvicorn's from info up, every library's
    warnings and errors) to stderr in the settings' log format; in JSON, with the access
    log on, one ``cairn.access`` record per request. Text leaves it to uvicorn."""
    if settings.log_format != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries' warnings and errors (not a job queue's chatter)
    for name in _LOGGERS:  # Cairn's and uvicorn's records, through the root's handler
        logger = logging.getLogger(name)
        for existing in list(logger.handlers):
            logger.removeHandler(existing)
        logger.propagate = True
        logger.setLevel(logging.INFO)
    # Cairn's own access record replaces uvicorn's line (which has the query string)
    logging.getLogger("uvicorn.access").disabled = True
    ACCESS.setLevel(logging.INFO if settings.access_log else logging.WARNING)


def log_access(scope: Scope, route: str, status: int, seconds: float, sent: int) -> None:
    """The access record of one answered request (only when ``cairn.access`` is on)."""
    client = scope.get("client")
    ACCESS.info(
        "%s %s %d",
        scope["method"],
        scope["path"][:MAX_PATH],
        status,
        extra={
            "method": scope["method"],
            "path": scope["path"][:MAX_PATH],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "bytes": sent,
            "client": client[0] if client else None,
            "request_id": scope.get(REQUEST_ID_KEY),
            "actor": scope.get(ACTOR_KEY),
        },
    )
