"""The web UI: the built single-page app in ``cairn/server/static/`` served at ``/``.

Files Vite writes under ``assets/`` carry a content hash in their names, so they are cached
for a year; ``index.html`` is revalidated on every load. Any other GET that no API owns is a
client-side route and gets ``index.html`` (the SPA fallback). The API prefixes are never
answered from here, so an unknown API path still gets its JSON 404 from the API.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_DIR = Path(__file__).parent / "static"

# paths the UI never answers, whatever the method: they belong to the APIs and the docs
RESERVED = (
    "/api/",
    "/ajax-api/",
    "/v1/",
    "/static-files/",
    "/get-artifact",
    "/model-versions/get-artifact",
)
RESERVED_EXACT = frozenset(
    {
        "/api",
        "/ajax-api",
        "/health",
        "/ready",
        "/version",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/graphql",
    }
)
RESERVED_UNDER = ("/docs/", "/redoc/", "/health/", "/ready/", "/version/")
NEGOTIATED = frozenset({"/metrics"})
"""Paths the UI shares with an API: a browser (``Accept: text/html``) gets the UI's page (the
metrics explorer), anything else the API's answer (Prometheus' scrape of ``/metrics``)."""

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cairn</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;
line-height:1.5;color:#1c2430}code,pre{background:#f0f2f5;border-radius:4px;padding:2px 5px}
pre{padding:10px 14px}</style></head>
<body><h1>Cairn is running; its web UI is not built</h1>
<p>The server and its API work (see <a href="/docs">/docs</a>). To build the web UI once
(Node.js and npm needed), run this in the Cairn checkout, then reload this page:</p>
<pre>make ui</pre>
<p>(<code>make run</code> builds it too, then starts the server.)</p>
</body></html>
"""


def reserved(path: str, accept: str = "") -> bool:
    """Whether ``path`` belongs to an API rather than the UI (for a request whose ``Accept``
    header is ``accept``)."""
    if path in NEGOTIATED:
        return "text/html" not in accept
    return path in RESERVED_EXACT or path.startswith(RESERVED) or path.startswith(RESERVED_UNDER)


def accept_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return str(value.decode("latin-1"))
    return ""


def ui_request(scope: Scope) -> bool:
    """A GET or HEAD the UI answers (a page or one of its files)."""
    return scope["method"] in ("GET", "HEAD") and not reserved(scope["path"], accept_of(scope))


class WebUI:
    """Serves the UI for GET/HEAD requests outside the reserved paths; passes everything
    else on to ``app``."""

    def __init__(self, app: ASGIApp, directory: Path | None = None):
        self.app = app
        self.directory = (directory or DEFAULT_DIR).resolve()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not ui_request(scope):
            await self.app(scope, receive, send)
            return
        response = self.respond(path)
        await response(scope, receive, send)

    def respond(self, path: str) -> Response:
        index = self.directory / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, headers={"Cache-Control": REVALIDATE})
        relative = path.lstrip("/")
        if relative and relative != "index.html":
            candidate = (self.directory / relative).resolve()
            inside = candidate.is_relative_to(self.directory)
            if inside and candidate.is_file():
                hashed = candidate.is_relative_to(self.directory / "assets")
                return FileResponse(
                    candidate, headers={"Cache-Control": IMMUTABLE if hashed else REVALIDATE}
                )
            if relative.startswith("assets/"):  # a stale hashed name: a real 404, not the app
                return Response("Not found", status_code=404, media_type="text/plain")
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": REVALIDATE})
