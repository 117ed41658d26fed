#!/usr/bin/env python3
"""Metric alerts: what evaluation costs ingest, and how soon a tripping point fires.

In process on a fresh SQLite store (the tracking service, no HTTP): ``--batches`` log-batch
calls of 10 points (two metric keys) spread over ``--runs`` runs, timed

1. with no alert rules (the alerts consumer running beside the ingest, finding nothing to
   judge);
2. with 20 rules (thresholds, drops against the best and the previous run, non-finite, some
   filtered by a tag, a failed-run rule) and the alerts consumer running beside the ingest in
   a thread, polling the change log every ``--poll-ms`` as the job engine would.

Then the fire latency: a point that trips a rule is logged while the consumer polls, and the
time until its alert is open is measured (``--trips`` times; p50 and max).

    .venv/bin/python benchmarks/alerts_bench.py --batches 3000 --runs 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cairn.entities.access import LOCAL  # noqa: E402
from cairn.entities.events import ACTING, SYSTEM_ACTOR  # noqa: E402
from cairn.entities.tracking import Metric  # noqa: E402
from cairn.services.alert_jobs import evaluate_events  # noqa: E402
from cairn.services.alerts import AlertService  # noqa: E402
from cairn.services.tracking import TrackingService  # noqa: E402
from cairn.store import events  # noqa: E402
from cairn.store.db import Database  # noqa: E402
from cairn.store.migrate import ensure_schema  # noqa: E402


def rules(eid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(6):
        out.append({"kind": "threshold", "metric": "loss", "op": ">", "value": 5 + i})
    for i in range(4):
        out.append({"kind": "threshold", "metric": "acc", "op": "<", "value": 0.01 * i,
                    "filter": "tags.team = 'lims'"})  # fmt: skip
    for against in ("best", "previous"):
        for measure, value in (("percent", 50), ("absolute", 0.5)):
            out.append({"kind": "drop", "metric": "acc", "against": against,
                        "measure": measure, "value": value})  # fmt: skip
    for key in ("loss", "acc", "*"):
        out.append({"kind": "non_finite", "metric": key})
    out.append({"kind": "failed_run"})
    out.append({"kind": "stalled", "minutes": 60})
    out.append({"kind": "threshold", "metric": "*", "op": ">", "value": 1e9})
    assert len(out) == 20
    return [{"name": f"rule {i}", "experiment_id": eid, **r} for i, r in enumerate(out)]


class Consumer(threading.Thread):
    """The alerts consumer: the events after its cursor, one write, every ``poll`` s."""

    def __init__(self, db: Database, poll: float):
        super().__init__(daemon=True)
        self.db, self.poll = db, poll
        self.cursor = db.read(lambda c: events.head(c)[0])
        self.stop = threading.Event()
        self.batches = 0
        self.seconds = 0.0

    def step(self) -> None:
        def run(conn: Any) -> None:
            found = []
            for event in events.walk(conn, self.cursor, batch=1000):
                found.append(event)
                if len(found) >= 1000:
                    break
            if found:
                self.cursor = found[-1].id
                evaluate_events(conn, found)

        started = time.perf_counter()
        token = ACTING.set(SYSTEM_ACTOR)
        try:
            self.db.write(run)
        finally:
            ACTING.reset(token)
        self.seconds += time.perf_counter() - started
        self.batches += 1

    def run(self) -> None:
        deadline = time.monotonic() + 3600
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.step()
            self.stop.wait(self.poll)


def ingest(tracking: TrackingService, runs: list[str], batches: int, base: float) -> float:
    started = time.perf_counter()
    for i in range(batches):
        run = runs[i % len(runs)]
        step = i // len(runs)
        points = [Metric("loss", base - step * 1e-4, 1_000 + step, step)] * 5
        points += [Metric("acc", 0.5 + (i % 7) / 100, 1_000 + step, step)] * 5
        tracking.log_batch(run, metrics=points)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--poll-ms", type=float, default=200)
    parser.add_argument("--trips", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cairn-alerts-bench-"))
    db = Database(f"sqlite:///{work / 'cairn.db'}")
    ensure_schema(db.write_engine)
    db.start()
    try:
        tracking = TrackingService(db)
        service = AlertService(db)
        plain = tracking.create_experiment("plain")
        watched = tracking.create_experiment("watched")
        tags = [("team", "lims")]
        plain_runs = [tracking.create_run(plain, tags=tags).info.run_id for _ in range(args.runs)]
        watched_runs = [
            tracking.create_run(watched, tags=tags).info.run_id for _ in range(args.runs)
        ]
        ingest(tracking, plain_runs, 200, 1.0)  # warm up
        consumer = Consumer(db, args.poll_ms / 1000)
        consumer.start()
        none = ingest(tracking, plain_runs, args.batches, 1.0)
        consumer.stop.set()
        consumer.join()
        for body in rules(watched):
            service.create_rule(LOCAL, body)
        consumer = Consumer(db, args.poll_ms / 1000)
        consumer.start()
        with_rules = ingest(tracking, watched_runs, args.batches, 1.0)
        consumer.stop.set()
        consumer.join()
        consumer.step()  # the tail
        rate_none, rate_rules = args.batches * 10 / none, args.batches * 10 / with_rules
        print(f"ingest, no rules:                 {rate_none:10.0f} points/s")
        print(f"ingest, 20 rules + consumer:      {rate_rules:10.0f} points/s "
              f"({100 * (rate_rules / rate_none - 1):+.1f} %)")  # fmt: skip
        per = 1000 * consumer.seconds / max(1, consumer.batches)
        print(f"consumer: {consumer.batches} polls, {per:.1f} ms each on average")

        consumer = Consumer(db, args.poll_ms / 1000)
        consumer.start()
        latencies = []
        trip = service.create_rule(LOCAL, {"name": "trip", "experiment_id": watched,
                                           "kind": "threshold", "metric": "trip", "op": ">",
                                           "value": 0.5})  # fmt: skip
        for i in range(args.trips):
            run = watched_runs[i % len(watched_runs)]
            tracking.log_batch(run, metrics=[Metric("trip", 0.1, 1, 2 * i)])
            time.sleep(0.05)
            tracking.log_batch(run, metrics=[Metric("trip", 0.9, 1, 2 * i + 1)])
            started = time.perf_counter()
            deadline = started + 10
            while time.perf_counter() < deadline:
                found, _ = service.list_alerts(LOCAL, state="firing", rule_id=str(trip.id))
                if any(a.subject_id == run for a in found):
                    break
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            tracking.log_batch(run, metrics=[Metric("trip", 0.1, 1, 2 * i + 2)])
            time.sleep(args.poll_ms / 1000 * 2)
        consumer.stop.set()
        consumer.join()
        p50, top = 1000 * statistics.median(latencies), 1000 * max(latencies)
        print(f"fire latency (poll {args.poll_ms:.0f} ms): p50 {p50:.0f} ms, max {top:.0f} ms")
    finally:
        db.close()


if __name__ == "__main__":
    main()
