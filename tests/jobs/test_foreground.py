"""Heavy jobs wait for a quiet moment in the writes the process answers: they start once
writes stop arriving, or after the longest wait when they never do; reads never hold them."""

from __future__ import annotations

import threading
import time

from cairn.jobs import foreground, registry
from cairn.services import eval_jobs  # noqa: F401 (registers the evaluation job kind)
from cairn.services.evaluations import KIND


def _writes(stop: threading.Event, every_s: float = 0.005) -> threading.Thread:
    def arrive() -> None:
        while not stop.is_set():
            foreground.write_started()
            time.sleep(every_s)

    thread = threading.Thread(target=arrive, daemon=True)
    thread.start()
    return thread


def test_a_yielding_job_starts_once_writes_stop() -> None:
    stop = threading.Event()
    writer = _writes(stop)
    threading.Timer(0.3, stop.set).start()  # the writes stop after 0.3 s
    waited = foreground.wait_for_quiet(quiet_s=0.05, max_wait_s=10.0)
    writer.join(5)
    assert waited >= 0.3  # not while they arrived
    assert waited < 5.0  # but soon after they stopped


def test_a_yielding_job_waits_at_most_the_longest_wait() -> None:
    stop = threading.Event()
    writer = _writes(stop)
    try:
        waited = foreground.wait_for_quiet(quiet_s=0.05, max_wait_s=0.4)
    finally:
        stop.set()
        writer.join(5)
    assert waited >= 0.4
    assert waited < 5.0


def test_a_stopping_engine_does_not_wait() -> None:
    stop = threading.Event()
    writer = _writes(stop)
    try:
        stopping = threading.Event()
        stopping.set()
        assert foreground.wait_for_quiet(stopping, quiet_s=0.05, max_wait_s=10.0) < 1.0
    finally:
        stop.set()
        writer.join(5)


def test_evaluation_benchmarks_yield_and_other_kinds_do_not() -> None:
    assert registry.KINDS[KIND].yields is True
    assert "GET" in foreground.READS
    assert "POST" not in foreground.READS
    assert [k for k in registry.KINDS.values() if k.yields] == [registry.KINDS[KIND]]
