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
import math
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter
from prometheus_client import generate_latest as _render
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
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
            "Writes waiting for the SQLite writer or PostgreSQL's group writer (0 on MySQL)",
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


class Tally:
    """A histogram kept as plain counts, read into Prometheus' format at each scrape.

    prometheus-client's :class:`~prometheus_client.Histogram` takes a lock per value it
    touches and walks its buckets in Python: a few microseconds on every request, as much as
    some requests' own work. This keeps one list of per-bucket counts (the last one past the
    highest bound) and the sum; :meth:`observe` is a bisection and two additions. Counts read
    while one is added may lag by that one observation, never go backwards."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, ``+Inf`` last (the count of every value)."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, n in zip((*self.bounds, math.inf), list(self.counts), strict=True):
            running += n
            out.append(("+Inf" if bound == math.inf else repr(float(bound)), running))
        return out


class ServerMetrics:
    """This app's registry and the series counted as requests and writes happen (plain
    counts, :class:`Tally`, turned into Prometheus' families when scraped)."""

    def __init__(self, operations: Callable[[], OperationsService | None]):
        self.registry = CollectorRegistry()
        self._requests: dict[tuple[str, str, int], list[Any]] = {}
        """(method, route, status) -> [count, the (method, route) latency tally]"""
        self._latency: dict[tuple[str, str], Tally] = {}
        self._groups = Tally(GROUP_BUCKETS)
        self._groups_lock = threading.Lock()  # the writer thread and the event loop add
        self.registry.register(_Families(self))
        self.retries = Counter(  # rare: a prometheus-client series is cheap enough
            "cairn_db_transaction_retries",
            "Write transactions run again after the database aborted them, by reason "
            "(deadlock, serialization failure, lock wait timeout)",
            ["reason"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(operations))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._requests.get((method, route, status))
        if series is None:
            tally = self._latency.setdefault((method, route), Tally(LATENCY_BUCKETS))
            series = self._requests[(method, route, status)] = [0, tally]
        series[0] += 1
        series[1].observe(seconds)

    def transaction_retry(self, reason: str) -> None:
        self.retries.labels(reason).inc()

    def observe_write_group(self, size: int) -> None:
        with self._groups_lock:
            self._groups.observe(size)

    def families(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "cairn_http_requests",
            "HTTP requests answered, by method, route template and status",
            labels=["method", "route", "status"],
        )
        for (method, route, status), series in list(self._requests.items()):
            requests.add_metric([method, route, str(status)], series[0])
        yield requests
        latency = HistogramMetricFamily(
            "cairn_http_request_duration_seconds",
            "Time from a request's arrival to its response's end, by method and route template",
            labels=["method", "route"],
        )
        for (method, route), tally in list(self._latency.items()):
            latency.add_metric([method, route], tally.buckets(), tally.total)
        yield latency
        groups = HistogramMetricFamily(
            "cairn_sqlite_write_group_size",
            "Writes the SQLite writer or PostgreSQL's group writer committed in one transaction",
        )
        with self._groups_lock:
            buckets, total = self._groups.buckets(), self._groups.total
        groups.add_metric([], buckets, total)
        yield groups

    def render(self) -> bytes:
        return _render(self.registry)


class _Families(Collector):
    def __init__(self, metrics: ServerMetrics):
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.families()


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
