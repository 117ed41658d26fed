#!/usr/bin/env python3
"""The job engine end to end (docs/benchmarks.md, "Jobs"): 1,000 no-op jobs (``jobs.noop``)
from the first enqueue until every one is ``succeeded`` in the jobs table (target < 10 s on
SQLite), on each store and queue: SQLite with its SQLite queue file, PostgreSQL with its
PostgreSQL queue, and Redis as the queue of either.

Each case runs twice: the jobs enqueued in one transaction (a consumer fanning out a batch of
events) and in 1,000 transactions of one job each (1,000 requests each causing one), with the
embedded default of one worker thread and with four. A case is the median of ``--rounds``
rounds, each on a fresh store.

    python benchmarks/jobs_bench.py
    python benchmarks/jobs_bench.py --jobs 200 --rounds 1        # a smoke test
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from cairn.jobs.engine import JobEngine  # noqa: E402
from cairn.jobs.queue import JobQueue, default_queue_uri  # noqa: E402
from cairn.store import jobs as job_store  # noqa: E402
from cairn.store.db import Database  # noqa: E402
from cairn.store.migrate import ensure_schema  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"
TIMEOUT_S = 300.0


def _pg_database() -> tuple[str, Callable[[], None]]:
    name = f"cairn_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{PG}/{name}", drop


def one_round(store: str, queue: str, jobs: int, threads: int, batched: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        drop: Callable[[], None] = lambda: None  # noqa: E731
        if store == "sqlite":
            store_uri = f"sqlite:///{Path(tmp) / 'cairn.db'}"
        else:
            store_uri, drop = _pg_database()
        queue_uri = REDIS if queue == "redis" else default_queue_uri(store_uri)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        db = Database(store_uri)
        ensure_schema(db.write_engine)
        db.start()
        engine = JobEngine(db, JobQueue(queue_uri, name), workers=threads)
        engine.start()
        try:
            start = time.perf_counter()
            if batched:
                db.write(lambda c: [job_store.enqueue(c, "jobs.noop", {}) for _ in range(jobs)])
            else:
                for _ in range(jobs):
                    db.write(lambda c: job_store.enqueue(c, "jobs.noop", {}))
            deadline = time.monotonic() + TIMEOUT_S
            while db.read(job_store.counts).get("succeeded", 0) < jobs:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{store}/{queue}: not done in {TIMEOUT_S} s")
                time.sleep(0.01)
            return time.perf_counter() - start
        finally:
            engine.stop()
            db.close()
            drop()
            if queue == "redis":
                client = redis.Redis.from_url(REDIS)
                for key in client.scan_iter(f"huey.*{name.replace('-', '')}*"):
                    client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = [
        ("sqlite", "sqlite"),
        ("postgres", "postgres"),
        ("sqlite", "redis"),
        ("postgres", "redis"),
    ]
    print(f"{args.jobs} no-op jobs, first enqueue to last success, median of {args.rounds}")
    print("| store | queue | enqueued | 1 worker thread | 4 worker threads |")
    print("| --- | --- | --- | --- | --- |")
    for store, queue in cases:
        for batched in (True, False):
            cells = []
            for threads in (1, 4):
                times = [
                    one_round(store, queue, args.jobs, threads, batched) for _ in range(args.rounds)
                ]
                median = statistics.median(times)
                cells.append(f"{median:.2f} s ({args.jobs / median:,.0f} jobs/s)")
            how = "one transaction" if batched else f"{args.jobs} transactions"
            print(f"| {store} | {queue} | {how} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
