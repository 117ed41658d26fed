"""The one HTTP path: JSON calls to MLflow's REST endpoints, with retries and typed errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from cairn._version import __version__
from cairn.client.config import (
    TRACKING,
    Target,
    auth_headers,
    basic_auth,
    env_float,
    env_int,
    resolve_target,
    tls_verify,
)
from cairn.client.errors import CairnConnectionError, CairnRestError
from cairn.client.state import on_exit

log = logging.getLogger("cairn.client")

API = "/api/2.0/mlflow/"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_retryable(exc: BaseException) -> bool:
    """Connection failures and 408/429/5xx answers may succeed later; 4xx will not."""
    if isinstance(exc, CairnConnectionError):
        return True
    return isinstance(exc, CairnRestError) and exc.status in RETRY_STATUSES


def rest_error(response: httpx.Response, endpoint: str) -> CairnRestError:
    code, message = "INTERNAL_ERROR" if response.status_code >= 500 else "BAD_REQUEST", ""
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body.get("error_code") or code)
            message = str(body.get("message") or "")
    except ValueError:
        message = response.text[:500]
    return CairnRestError(response.status_code, code, message or response.reason_phrase, endpoint)


class RestClient:
    """JSON over HTTP to a server, or to the in-process app for an embedded store.

    Calls retry connection errors and 408/429/5xx answers with exponential backoff
    (``CAIRN_HTTP_MAX_RETRIES``, default 5; ``CAIRN_HTTP_BACKOFF``, default 0.5 s, doubling;
    ``CAIRN_HTTP_TIMEOUT``, default 120 s per request) unless ``retry=False``. The keyword
    arguments replace those settings for one client: ``retry_statuses`` (the answers worth
    retrying), ``max_retries``, ``backoff``, ``timeout``. ``transport`` is httpx's transport
    (default: a connection pool verifying TLS as ``MLFLOW_TRACKING_*`` says, or the
    in-process app for an embedded target); ``request_hook`` sees every request sent.
    Authentication comes from the ``MLFLOW_TRACKING_*`` environment (:mod:`cairn.client.config`),
    or the variables of another prefix given as ``credentials``.
    """

    def __init__(
        self,
        target: Target,
        *,
        transport: httpx.BaseTransport | None = None,
        retry_statuses: Container[int] = RETRY_STATUSES,
        max_retries: int | None = None,
        backoff: float | None = None,
        timeout: httpx.Timeout | None = None,
        request_hook: Callable[[httpx.Request], None] | None = None,
        credentials: str = TRACKING,
    ) -> None:
        self.target = target
        self.retry_statuses = retry_statuses
        self.max_retries = (
            env_int("CAIRN_HTTP_MAX_RETRIES", 5, minimum=0) if max_retries is None else max_retries
        )
        self.backoff = env_float("CAIRN_HTTP_BACKOFF", 0.5) if backoff is None else backoff
        if timeout is None:
            timeout = httpx.Timeout(env_float("CAIRN_HTTP_TIMEOUT", 120.0, minimum=0.001))
        headers = {"User-Agent": f"cairn-sdk/{__version__}", **auth_headers(credentials)}
        if target.embedded:
            from cairn.client.embedded import EMBEDDED_BASE_URL, EmbeddedTransport, embedded_app

            if transport is None:
                transport = EmbeddedTransport(embedded_app(target))
            base_url = EMBEDDED_BASE_URL
        else:
            assert target.url is not None
            if transport is None:
                transport = httpx.HTTPTransport(verify=tls_verify(credentials))
            base_url = target.url
        self.http = httpx.Client(
            base_url=base_url,
            transport=transport,
            auth=basic_auth(credentials),
            headers=headers,
            timeout=timeout,
            event_hooks={"request": [request_hook]} if request_hook else None,
        )

    def close(self) -> None:
        self.http.close()

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1, 2, …): the backoff, doubling."""
        return float(self.backoff * 2 ** (attempt - 1))

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | Path | Callable[[], Iterator[bytes]] | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """One request with the retry policy; raises CairnConnectionError / CairnRestError.
        ``content`` may be a file (reopened per attempt) or a function that returns the body's
        chunks (called again per attempt)."""
        if body is not None:
            content = orjson.dumps(body)
            headers = {**(headers or {}), "Content-Type": "application/json"}
        attempts = (self.max_retries if retry else 0) + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                if isinstance(content, Path):  # streamed from the file, reopened per attempt
                    with content.open("rb") as handle:
                        response = self.http.request(
                            method, path, params=params, content=handle, headers=headers
                        )
                else:
                    response = self.http.request(
                        method,
                        path,
                        params=params,
                        content=content() if callable(content) else content,
                        headers=headers,
                    )
            except httpx.TransportError as exc:
                if last:
                    raise CairnConnectionError(
                        f"Cannot reach the tracking server at {self.target.uri} ({method} "
                        f"{path}): {type(exc).__name__}: {exc}",
                        self.target.uri,
                    ) from exc
                why = repr(exc)
            else:
                if response.status_code < 400:
                    return response
                if last or response.status_code not in self.retry_statuses:
                    raise rest_error(response, path)
                why = str(response.status_code)
            wait = self.delay(attempt + 1)
            log.debug("%s %s: %s; retrying in %.2f s", method, path, why, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def call(
        self,
        method: str,
        endpoint: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """An MLflow JSON endpoint under /api/2.0/mlflow/; returns the decoded JSON object."""
        response = self.request(
            method, API + endpoint, body=body, params=_params(params), retry=retry
        )
        if not response.content:
            return {}
        data = orjson.loads(response.content)
        return data if isinstance(data, dict) else {}


def _params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


# -- the process's shared clients, one per target ----------------------------------------------

_rest: dict[str, RestClient] = {}
_rest_lock = threading.Lock()


def rest_for(tracking_uri: str | Target | None) -> RestClient:
    """The process's shared REST client for a tracking URI (one per target)."""
    target = tracking_uri if isinstance(tracking_uri, Target) else resolve_target(tracking_uri)
    with _rest_lock:
        rest = _rest.get(target.uri)
        if rest is None:
            rest = _rest[target.uri] = RestClient(target)
        return rest


def close_all_rest() -> None:
    with _rest_lock:
        clients = list(_rest.values())
        _rest.clear()
    for rest in clients:
        rest.close()


def _close_at_exit() -> None:
    """This floor's exit step (after fluent's): close the shared clients, then the embedded
    stores."""
    close_all_rest()
    # lazy: embedded.py is imported only where an embedded store is used (it leads to the server)
    from cairn.client import embedded

    try:
        embedded.close_embedded()
    except Exception as exc:
        logging.getLogger("cairn").error("cairn: closing the embedded store failed: %s", exc)


on_exit(_close_at_exit)
