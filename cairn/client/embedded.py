"""Embedded mode: Cairn's own server app run in-process, reached through an httpx transport.

The SDK has one code path: the same REST client talks either to a server over HTTP or, here,
to the ASGI app of ``cairn server`` called directly (no socket, no port). The app runs on a
private asyncio event loop in a daemon thread; its lifespan (opening the database, migrating
the schema, starting the SQLite writer) runs on first use and its shutdown (closing the
database) runs at interpreter exit or :func:`close_embedded`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from cairn.client.config import Target
from cairn.client.errors import CairnConfigError

T = TypeVar("T")
STARTUP_TIMEOUT_S = 120.0
SHUTDOWN_TIMEOUT_S = 60.0
EMBEDDED_BASE_URL = "http://cairn.embedded"


class EmbeddedApp:
    """One in-process Cairn app on its own event-loop thread, lifespan started."""

    def __init__(self, target: Target) -> None:
        from cairn.server.app import create_app
        from cairn.server.settings import Settings

        assert target.backend_store_uri is not None
        assert target.artifacts_destination is not None
        if target.backend_store_uri.startswith("sqlite:///"):
            Path(target.backend_store_uri[len("sqlite:///") :]).parent.mkdir(
                parents=True, exist_ok=True
            )
        Path(target.artifacts_destination).mkdir(parents=True, exist_ok=True)
        self.target = target
        self.app = create_app(
            Settings(
                backend_store_uri=target.backend_store_uri,
                artifacts_destination=target.artifacts_destination,
                # a `cairn server` may write to the same file: no inline writes on the loop
                shared_store=True,
            )
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="cairn-embedded", daemon=True)
        self._thread.start()
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._from_app: asyncio.Queue[dict[str, Any]] | None = None
        self._lifespan_task: asyncio.Future[None] | None = None
        self._closed = False
        try:
            self.call(self._lifespan_event("startup"), STARTUP_TIMEOUT_S)
        except BaseException:
            self._stop_loop()
            raise

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the app's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _lifespan_event(self, event: str) -> None:
        if self._lifespan_task is None:
            self._to_app = asyncio.Queue()
            self._from_app = asyncio.Queue()
            to_app, from_app = self._to_app, self._from_app

            async def receive() -> dict[str, Any]:
                return await to_app.get()

            async def send(message: MutableMapping[str, Any]) -> None:
                await from_app.put(dict(message))

            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
            self._lifespan_task = asyncio.ensure_future(self.app(scope, receive, send))
        assert self._to_app is not None
        assert self._from_app is not None
        await self._to_app.put({"type": f"lifespan.{event}"})
        reply = asyncio.ensure_future(self._from_app.get())
        waiting: set[asyncio.Future[Any]] = {reply, self._lifespan_task}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            exc = self._lifespan_task.exception()
            raise CairnConfigError(
                f"The embedded store at {self.target.uri} failed to {event}: {exc!r}"
            )
        message = reply.result()
        if message["type"] == f"lifespan.{event}.failed":
            raise CairnConfigError(
                f"The embedded store at {self.target.uri} failed to {event}: "
                f"{message.get('message', '')}"
            )

    def close(self) -> None:
        """Shut the app down (closes the database) and stop the loop thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.call(self._lifespan_event("shutdown"), SHUTDOWN_TIMEOUT_S)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(SHUTDOWN_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()


class EmbeddedTransport(httpx.BaseTransport):
    """A synchronous httpx transport that hands each request to an :class:`EmbeddedApp`."""

    def __init__(self, embedded: EmbeddedApp) -> None:
        self.embedded = embedded
        self._asgi = httpx.ASGITransport(app=embedded.app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )

        async def run() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._asgi.handle_async_request(forwarded)
            content = await response.aread()
            return response.status_code, response.headers.raw, content

        status, headers, content = self.embedded.call(run())
        return httpx.Response(status, headers=headers, content=content, request=request)


_apps: dict[str, EmbeddedApp] = {}
_apps_lock = threading.Lock()


def embedded_app(target: Target) -> EmbeddedApp:
    """The process's one app for this store (started on first use)."""
    key = target.backend_store_uri or target.uri
    with _apps_lock:
        app = _apps.get(key)
        if app is None or app._closed:
            app = EmbeddedApp(target)
            _apps[key] = app
        return app


def close_embedded() -> None:
    """Shut down every embedded app of this process (run at interpreter exit)."""
    with _apps_lock:
        apps = list(_apps.values())
        _apps.clear()
    for app in apps:
        app.close()
