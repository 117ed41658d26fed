"""``GET /metrics`` in Prometheus' text format (prometheus-client), one registry per app.

Counted as requests pass (:class:`RequestMetrics`, outermost, so refusals by the guard and
the access layer count too): requests by method, route template and status, and their
latency. Counted by the SQLite writer: how many writes each commit grouped. Read when scraped
(:class:`StoreCollector`, through :class:`~cairn.services.operations.OperationsService`):
connections of the read pool in use, writes queued for the SQLite writer, jobs by state and the
age of the oldest waiting one, webhook deliveries by state.

Routes are labelled by their template (``/api/2.0/mlflow/logged-models/{model_id}``), never
by the path asked for, and a path no route serves is ``unmatched``: a scan of random URLs
does not grow the series without bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _render
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.jobs import foreground
from cairn.server.logs import ACCESS, log_access
from cairn.services.operations import OperationsService

CONTENT_TYPE = CONTENT_TYPE_LATEST
ROUTE_KEY = "cairn.route"
"""Where MLflow's dispatcher (which routes without Starlette) leaves the route template."""
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def route_of(scope: Scope) -> str:
    """The template of the route that answered, or :data:`UNMATCHED`."""
    template = scope.get(ROUTE_KEY)
    if template:
        return str(template)
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else UNMATCHED


class StoreCollector(Collector):
    """The store's gauges, read at each scrape (nothing while the app is not started)."""

    def __init__(self, operations: Callable[[], OperationsService | None]):
        self._operations = operations

    def collect(self) -> Iterator[GaugeMetricFamily]:
        operations = self._operations()
        if operations is None:
            return
        found = operations.figures()
        yield GaugeMetricFamily(
            "cairn_database_up", "1 when the database answered this scrape", value=found.database_up
        )
        pool = GaugeMetricFamily(
            "cairn_db_pool_connections",
            "Connections of this process's read pool, by state",
            labels=["state"],
        )
        pool.add_metric(["in_use"], found.pool_in_use)
        pool.add_metric(["kept"], found.pool_size)
        yield pool
        yield GaugeMetricFamily(
            "cairn_sqlite_writer_queue_depth",
            "Writes waiting for the SQLite writer thread (0 on PostgreSQL and MySQL)",
            value=found.queued_writes,
        )
        if not found.database_up:
            return
        jobs = GaugeMetricFamily(
            "cairn_jobs", "Jobs in the queue table, by state", labels=["state"]
        )
        for state, n in sorted(found.jobs.items()):
            jobs.add_metric([state], n)
        yield jobs
        yield GaugeMetricFamily(
            "cairn_jobs_oldest_pending_age_seconds",
            "How long the oldest job still waiting to run has waited (0 when none waits)",
            value=found.oldest_pending_job_age_s or 0.0,
        )
        deliveries = GaugeMetricFamily(
            "cairn_webhook_deliveries", "Webhook deliveries, by state", labels=["state"]
        )
        for state, n in sorted(found.deliveries.items()):
            deliveries.add_metric([state], n)
        yield deliveries


class ServerMetrics:
    """This app's registry and the series counted as requests and writes happen."""

    def __init__(self, operations: Callable[[], OperationsService | None]):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cairn_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cairn_http_request_duration_seconds",
            "Time from a request's arrival to its response's end, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.write_groups = Histogram(
            "cairn_sqlite_write_group_size",
            "Writes the SQLite writer committed together in one transaction",
            buckets=GROUP_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "cairn_db_transaction_retries",
            "Write transactions run again after the database aborted them, by reason "
            "(deadlock, serialization failure, lock wait timeout)",
            ["reason"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(operations))
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def transaction_retry(self, reason: str) -> None:
        self.retries.labels(reason).inc()

    def render(self) -> bytes:
        return _render(self.registry)


class RequestMetrics:
    """Pure ASGI middleware: count each HTTP request once its response is sent (and write its
    access record when the JSON access log is on, :mod:`cairn.server.logs`)."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if scope["method"] not in foreground.READS:
            foreground.write_started()
        status = 500
        sent = 0
        logged = ACCESS.isEnabledFor(logging.INFO)

        async def counted_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif logged and message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            elapsed = time.perf_counter() - started
            route = route_of(scope)
            self.metrics.observe(method, route, status, elapsed)
            if logged:
                log_access(scope, route, status, elapsed, sent)
