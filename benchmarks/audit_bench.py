#!/usr/bin/env python3
"""The audit trail at a million events (docs/benchmarks.md, "Audit trail").

Fills a fresh store with ``--events`` change events (default 1,000,000) through the store API
(many ``record`` calls per write, so every row is properly chained and hashed), then times:

- ``cairn audit export`` of the whole log to /dev/null, JSON Lines and CSV (target < 30 s);
- ``cairn audit verify`` (informative);
- filtered ``GET /api/v1/audit`` pages on a live ``cairn server`` (target < 200 ms): by a
  common and a rare actor, an experiment, one run, a model, a model version, a rare action,
  a time range in the middle of the log, and the second page of a filtered listing. Each is
  the median of ``--reps`` requests after one warm-up.

    python benchmarks/audit_bench.py                 # SQLite, 1,000,000 events
    python benchmarks/audit_bench.py --postgres-uri postgresql+psycopg://postgres@127.0.0.1/db
    python benchmarks/audit_bench.py --events 20000  # a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import free_port, stop, wait_ready  # noqa: E402
from cairn.entities.events import (  # noqa: E402
    ACTING,
    Actor,
    ActorKind,
    Change,
    EntityType,
    EventQuery,
)
from cairn.events.service import AuditService  # noqa: E402
from cairn.store import events  # noqa: E402
from cairn.store.db import Database  # noqa: E402
from cairn.store.migrate import ensure_schema  # noqa: E402

PER_WRITE = 5000
USERS = 50
EXPERIMENTS = 200
RUNS = 20_000
MODELS = 50


def change(n: int) -> Change:
    """A plausible mix: mostly run changes (log batches, tags, creations), some experiment,
    model and user changes, and a rare failed login."""
    kind = n % 100
    run = n % RUNS
    experiment = str(run % EXPERIMENTS)
    if kind < 70:
        return Change(
            "run.log_batch",
            EntityType.RUN,
            f"{run:032x}",
            experiment_id=experiment,
            after={"metrics": {"keys": ["loss", "acc"], "count": 100, "steps": [n, n + 99]}},
            claimed_user=f"user{run % USERS}",
        )
    if kind < 85:
        return Change(
            "run.set_tag",
            EntityType.RUN,
            f"{run:032x}",
            experiment_id=experiment,
            before={"tags": {"stage": "old"}},
            after={"tags": {"stage": f"s{n % 7}"}},
        )
    if kind < 92:
        return Change(
            "run.create", EntityType.RUN, f"{run:032x}", experiment_id=experiment, after={"n": n}
        )
    if kind < 97:
        model = f"model-{n % MODELS}"
        return Change(
            "model_version.transition_stage",
            EntityType.MODEL_VERSION,
            f"{model}/{n % 9 + 1}",
            model_name=model,
            before={"stage": "Staging"},
            after={"stage": "Production"},
        )
    if kind < 99:
        return Change(
            "experiment.rename",
            EntityType.EXPERIMENT,
            experiment,
            experiment_id=experiment,
            before={"name": f"e{n}"},
            after={"name": f"e{n + 1}"},
        )
    if n % 1000 == 999:
        return Change("login.failed", EntityType.USER, "mallory", after={"reason": "password"})
    return Change("user.update", EntityType.USER, f"user{n % USERS}", after={"active": True})


def fill(uri: str, total: int) -> float:
    db = Database(uri)
    ensure_schema(db.write_engine)
    db.start()
    started = time.perf_counter()
    try:
        for w in range(0, total, PER_WRITE):
            # most writes by a few busy users; user "rare" makes one write in a hundred
            who = "rare" if (w // PER_WRITE) % 100 == 37 else f"user{(w // PER_WRITE) % 5}"
            token = ACTING.set(Actor(who, ActorKind.USER, "127.0.0.1", f"req-{w}"))
            try:
                count = min(PER_WRITE, total - w)
                db.write(
                    lambda c, w=w, count=count: [
                        events.record(c, change(w + i)) for i in range(count)
                    ]
                )
            finally:
                ACTING.reset(token)
            done = w + PER_WRITE
            if done % 100_000 == 0:
                print(f"  {done:,} events", file=sys.stderr, flush=True)
    finally:
        db.close()
    return time.perf_counter() - started


def cli(args: list[str], uri: str) -> float:
    env = {**os.environ, "CAIRN_BACKEND_STORE_URI": uri, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(
            [sys.executable, "-m", "cairn", "audit", *args],
            check=True,
            stdout=sink,
            stderr=subprocess.DEVNULL,
            env=env,
            timeout=900,
        )
    return time.perf_counter() - started


def timed_get(base: str, params: dict[str, Any], reps: int) -> tuple[float, int, str | None]:
    url = f"{base}/api/v1/audit?{urllib.parse.urlencode(params)}"
    times = []
    body: dict[str, Any] = {}
    for i in range(reps + 1):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as resp:
            body = json.loads(resp.read())
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, len(body["events"]), body.get("next_page_token")


def time_span(uri: str) -> tuple[int, int]:
    """The times of the first and the last event."""
    db = Database(uri)
    try:
        service = AuditService(db)
        first = service.search(EventQuery(limit=1, ascending=True))[0].time
        last = service.search(EventQuery(limit=1))[0].time
    finally:
        db.close()
    return first, last


def queries(base: str, reps: int, start: int, end: int) -> list[tuple[str, float, int]]:
    span = end - start
    cases: list[tuple[str, dict[str, Any]]] = [
        ("newest 100, no filter", {}),
        ("by actor (busy)", {"actor": "user3"}),
        ("by actor (rare)", {"actor": "rare"}),
        ("by experiment", {"experiment_id": "17"}),
        ("by run (entity)", {"entity_type": "run", "entity_id": f"{4321:032x}"}),
        ("by model", {"model_name": "model-7"}),
        ("by model version", {"entity_type": "model_version", "entity_id": "model-7/8"}),
        ("by action (rare)", {"action": "login.failed"}),
        (
            "time range (middle tenth)",
            {"since": start + span * 45 // 100, "until": start + span * 55 // 100},
        ),
        ("actor + time range", {"actor": "user2", "since": start + span // 2}),
    ]
    results = []
    for label, params in cases:
        ms, count, token = timed_get(base, {**params, "max_results": 100}, reps)
        results.append((label, ms, count))
        if label == "by experiment" and token:
            ms, count, _ = timed_get(
                base, {**params, "max_results": 100, "page_token": token}, reps
            )
            results.append(("by experiment, page 2", ms, count))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--postgres-uri", default=None, help="a fresh, empty PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cairn-audit-bench-") as tmp:
        workdir = Path(tmp)
        uri = args.postgres_uri or f"sqlite:///{workdir / 'cairn.db'}"
        backend = "PostgreSQL" if args.postgres_uri else "SQLite"
        print(f"filling {backend} with {args.events:,} events…", file=sys.stderr)
        fill_s = fill(uri, args.events)
        lines = [
            f"## {args.events:,} events on {backend}",
            "",
            "| what | result |",
            "|---|---|",
            f"| fill through the store API ({PER_WRITE:,} events a write) | {fill_s:.1f} s "
            f"({args.events / fill_s:,.0f} events/s) |",
        ]
        for fmt in ("jsonl", "csv"):
            seconds = cli(["export", "--quiet", "--format", fmt], uri)
            lines.append(f"| `cairn audit export --format {fmt} > /dev/null` | {seconds:.1f} s |")
        seconds = cli(["verify"], uri)
        lines.append(f"| `cairn audit verify` | {seconds:.1f} s |")
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cairn",
                "server",
                "--port",
                str(port),
                "--backend-store-uri",
                uri,
                "--artifacts-destination",
                str(workdir / "artifacts"),
            ],  # fmt: skip
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{base}/version", proc)
            for label, ms, count in queries(base, args.reps, *time_span(uri)):
                lines.append(f"| `GET /api/v1/audit` {label} ({count} events) | {ms:.1f} ms |")
        finally:
            stop(proc)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
