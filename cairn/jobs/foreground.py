"""Requests first: heavy background jobs wait for a quiet moment in the requests this process
answers before they start.

A server process answers requests and, with its embedded worker, runs jobs. Jobs share the
process's interpreter lock and the store's writer with the requests, so a heavy job (an
evaluation benchmark: reading the model, recording runs, metrics and artifacts) run while a
client logs metrics makes every one of those requests wait behind it. A job kind registered
with ``yields=True`` therefore starts only once no write request (``POST``, ``PUT``, ``PATCH``,
``DELETE``: logging metrics, creating runs, uploading artifacts) has arrived for
:data:`QUIET_S`, or after :data:`MAX_WAIT_S` of waiting at most, so a server that is never
quiet still drains its jobs, one per that wait. Reads do not hold jobs back (a client or a
page polling a job's status every few milliseconds would otherwise slow the job it watches),
and arrivals, not requests in flight, count (a long-lived stream does not either). The
request side costs a clock read per write (:func:`write_started`, called by the server's
outermost middleware).
"""

from __future__ import annotations

import threading
import time

QUIET_S = 0.05
"""How long no write request must have arrived for a yielding job to start."""
MAX_WAIT_S = 2.0
"""The longest a yielding job waits for that quiet moment."""
POLL_S = 0.005

_last = 0.0


READS = frozenset({"GET", "HEAD", "OPTIONS"})


def write_started() -> None:
    global _last
    _last = time.monotonic()


def wait_for_quiet(
    stop: threading.Event | None = None, quiet_s: float = QUIET_S, max_wait_s: float = MAX_WAIT_S
) -> float:
    """Block until no write request has arrived at this process for ``quiet_s`` (or
    ``max_wait_s`` passed, or ``stop`` is set); the seconds waited."""
    started = time.monotonic()
    while True:
        now = time.monotonic()
        if now - _last >= quiet_s:
            break
        if now - started >= max_wait_s or (stop is not None and stop.is_set()):
            break
        time.sleep(POLL_S)
    return time.monotonic() - started
