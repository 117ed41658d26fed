"""The request guard: one ASGI middleware in front of every route (MLflow's API, artifacts,
/api/v1, the UI, /docs, /health) that keeps other web pages out.

Cairn has no users or sessions yet, so a browser that can reach the server can do anything
with it. What the guard stops is a *foreign page in that browser* doing so:

- **Host allow-list** (DNS rebinding): a request whose ``Host`` is not on the list gets 403
  before any route sees it. A page on ``evil.example`` whose name was re-pointed at
  127.0.0.1 still sends ``Host: evil.example``.
- **Cross-site writes** (POST, PUT, PATCH, DELETE): refused when the browser says the request
  comes from another site (``Sec-Fetch-Site: cross-site`` or ``same-site``), or when an
  ``Origin`` is sent that is neither the server's own nor on the CORS allow-list
  (``Origin: null`` included). Non-browser clients send neither header and pass.
- **JSON only for POST**: the one write a browser sends cross-site without asking first (no
  CORS preflight) is a POST with a "simple" content type: ``text/plain``,
  ``application/x-www-form-urlencoded``, ``multipart/form-data`` or none. Every real client
  (the mlflow client, the Cairn SDK, ``cairn sync``, the UI) posts JSON, so a POST with a
  body must say ``application/json`` (or ``application/*+json``); others get 415. The one
  exception is MLflow's UI upload (:data:`RAW_BODY_POSTS`), whose body is the file: a
  browser's cross-site one is still refused by ``Sec-Fetch-Site``/``Origin`` above.
- **Preflights**: an ``OPTIONS`` preflight is approved only for an origin on the allow-list;
  any other goes on to the app, which approves nothing.
- **Headers**: every response carries ``X-Content-Type-Options: nosniff``; every HTML
  response (the UI, /docs) also ``Content-Security-Policy: frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``, so no other page can frame it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.entities.errors import CairnError, ErrorCode
from cairn.server.wire import json_response

ANY = "*"
RAW_BODY_POSTS = frozenset({"/ajax-api/2.0/mlflow/upload-artifact"})
"""POST routes whose body is a file, not JSON (MLflow's web UI upload)."""
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FOREIGN_SITES = frozenset({"cross-site", "same-site"})
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_PORTS = {"http": 80, "https": 443}
PREFLIGHT_MAX_AGE = "600"
ALLOWED_REQUEST_HEADERS = "Accept, Authorization, Content-Type, Range"

NOSNIFF = ("x-content-type-options", "nosniff")
NO_FRAMING = (
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-frame-options", "DENY"),
)


def split_host(host: str) -> tuple[str, str | None]:
    """``host[:port]`` as (lower-case name, port or None); an IPv6 name keeps its brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        name, rest = host[: end + 1], host[end + 1 :]
        return name, (rest[1:] if rest.startswith(":") and rest[1:] else None)
    if host.count(":") == 1:
        name, port = host.split(":")
        return name, port or None
    if ":" in host:  # a bare IPv6 address, as an entry may be written
        return f"[{host}]", None
    return host, None


def host_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """Whether the ``Host`` header ``host`` matches an entry: ``*`` (any), a name (any port),
    ``name:port`` (that port only) or ``*.domain`` (any name under ``domain``)."""
    entries = list(allowed)
    if ANY in entries:
        return True
    if not host:
        return False
    name, port = split_host(host)
    for entry in entries:
        want_name, want_port = split_host(entry)
        if want_port is not None and want_port != port:
            continue
        if want_name == name:
            return True
        if want_name.startswith("*.") and name.endswith(want_name[1:]):
            return True
    return False


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, the default port left out, no trailing slash."""
    parts = urlsplit(origin.strip().rstrip("/").lower())
    try:
        port = parts.port
    except ValueError:
        return origin
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS.get(parts.scheme):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` names this server as the request reached it (its ``Host``).

    The host and port must match; the scheme only has to be http or https, because behind a
    TLS-terminating proxy the browser's origin is https while the request arrives as http.
    A page cannot pose as this origin unless its name is this server's name, and a name that
    is not on the host allow-list never gets this far."""
    if not host:
        return False
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False
    try:
        origin_port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    origin_name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    name, port = split_host(host)
    return origin_name == name and origin_port == int(port or DEFAULT_PORTS[parts.scheme])


def json_content_type(value: str) -> bool:
    """``application/json`` or ``application/<anything>+json``, with any parameters."""
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def has_body(headers: Headers) -> bool:
    """Whether the request declares a body (HTTP/1.1: a non-zero Content-Length, or chunked)."""
    length = headers.get("content-length")
    if length is not None:
        return length.strip() != "0"
    return "transfer-encoding" in headers


def denied(message: str) -> CairnError:
    return CairnError(message, ErrorCode.PERMISSION_DENIED)


OTLP_PATHS = frozenset({"/v1/traces"})
PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})


def _otlp_protobuf(scope: Scope, content_type: str) -> bool:
    """OTLP's protobuf POSTs (``/v1/traces``): a type no browser form can send without a
    preflight, so it is as safe from cross-site requests as JSON."""
    media = content_type.split(";", 1)[0].strip().lower()
    return scope["path"] in OTLP_PATHS and media in PROTOBUF_TYPES


class RequestGuard:
    """The guard around the whole app (see the module docstring). ``allowed_hosts`` and
    ``allowed_origins`` are the settings' lists; ``*`` in either means any."""

    def __init__(
        self, app: ASGIApp, allowed_hosts: Iterable[str], allowed_origins: Iterable[str] = ()
    ):
        self.app = app
        self.allowed_hosts = tuple(allowed_hosts)
        origins = tuple(allowed_origins)
        self.any_origin = ANY in origins
        self.allowed_origins = frozenset(normalize_origin(o) for o in origins if o != ANY)

    def origin_listed(self, origin: str) -> bool:
        return origin != "null" and (
            self.any_origin or normalize_origin(origin) in self.allowed_origins
        )

    def refusal(self, scope: Scope, headers: Headers) -> CairnError | None:
        """Why the request is refused, or None when it may go on."""
        host = headers.get("host")
        if not host_allowed(host, self.allowed_hosts):
            return denied(
                f"Host {host!r} is not allowed: add it to --allowed-hosts "
                "($CAIRN_ALLOWED_HOSTS) if this server is meant to be reached by that name"
            )
        method = scope["method"]
        if method not in WRITES:
            return None
        origin = headers.get("origin")
        listed = origin is not None and self.origin_listed(origin)
        site = headers.get("sec-fetch-site", "").strip().lower()
        if site in FOREIGN_SITES and not listed:
            return denied(f"Cross-site {method} refused (Sec-Fetch-Site: {site})")
        if origin is not None and not listed and not same_origin(origin, host):
            return denied(
                f"Cross-origin {method} from {origin!r} refused: add the origin to "
                "--cors-allowed-origins ($CAIRN_CORS_ALLOWED_ORIGINS) to allow it"
            )
        if method == "POST" and scope["path"] not in RAW_BODY_POSTS:
            content_type = headers.get("content-type")
            # A POST without a body and without a content type carries nothing to act on
            # beyond its path; no real client sends one that changes anything, and a browser's
            # cross-site one has already been refused above by Sec-Fetch-Site or Origin
            # (browsers send Origin on every cross-origin POST).
            if content_type is None and not has_body(headers):
                return None
            if content_type is not None and _otlp_protobuf(scope, content_type):
                return None
            if content_type is None or not json_content_type(content_type):
                return CairnError(
                    f"A POST must send a JSON body with Content-Type: application/json "
                    f"(got {content_type or 'no content type'})",
                    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                )
        return None

    def preflight(self, scope: Scope, headers: Headers) -> MutableHeaders | None:
        """The CORS headers approving this preflight, or None when it is not one from an
        allowed origin (the app then answers it, approving nothing)."""
        origin = headers.get("origin")
        if (
            scope["method"] != "OPTIONS"
            or origin is None
            or "access-control-request-method" not in headers
            or not self.origin_listed(origin)
        ):
            return None
        approved = self.cors_headers(origin)
        approved["Access-Control-Allow-Methods"] = "GET, HEAD, POST, PUT, PATCH, DELETE"
        approved["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
        approved["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return approved

    def cors_headers(self, origin: str) -> MutableHeaders:
        out = MutableHeaders()
        out["Access-Control-Allow-Origin"] = "*" if self.any_origin else origin
        out["Vary"] = "Origin"
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        listed = origin is not None and self.origin_listed(origin)
        cors = self.cors_headers(origin) if origin is not None and listed else None

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if NOSNIFF[0] not in out:
                    out.append(*NOSNIFF)
                if out.get("content-type", "").lower().startswith("text/html"):
                    for name, value in NO_FRAMING:
                        if name not in out:
                            out.append(name, value)
                if cors is not None:
                    for name, value in cors.items():
                        if name == "vary":
                            out.add_vary_header(value)
                        else:
                            out[name] = value
            await send(message)

        refused = self.refusal(scope, headers)
        if refused is not None:
            response = json_response(refused.to_json(), refused.http_status)
            await response(scope, receive, send_guarded)
            return
        approved = self.preflight(scope, headers)
        if approved is not None:
            await send_guarded(
                {"type": "http.response.start", "status": 204, "headers": approved.raw}
            )
            await send_guarded({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send_guarded)
