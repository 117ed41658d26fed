"""CPU cost per metric point of log-batch on PostgreSQL, in-process: this process's CPU (the
server's share: validation, statement building) and the PostgreSQL backends' CPU (read from
/proc, so the figure does not depend on the machine's load), per point of 1,000-point
batches to one run.

    python benchmarks/pg_batch_cost.py [--batches 100] [--size 1000] [--keep NAME]

It creates a fresh database on 127.0.0.1:5432 (user postgres, trust), migrates it to this
Cairn's head, logs ``--batches`` batches (after 5 warm-up batches), prints the costs and drops
the database (``--keep NAME`` keeps it under that name instead).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import psycopg

from cairn.entities.tracking import Metric
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(name: str) -> float:
    """Seconds of CPU used so far by the backends connected to database ``name``."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        pids = [
            p
            for (p,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        ]
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--keep", default=None, help="keep the database under this name")
    args = parser.parse_args()
    name = args.keep or f"cairn_cost_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", pool_size=1)
    try:
        ensure_schema(db.write_engine)
        db.start()
        tracking = TrackingService(db)
        run = tracking.create_run(tracking.create_experiment("cost")).info.run_id
        step = 0

        def batch() -> None:
            nonlocal step
            points = [
                Metric(f"m{i % 10}", 0.5 + i * 1e-6, 1_000 + step, step + i // 10)
                for i in range(args.size)
            ]
            step += args.size // 10
            tracking.log_batch(run, metrics=points)

        for _ in range(5):
            batch()
        cpu0, wall0, pg0 = time.process_time(), time.perf_counter(), backend_cpu(name)
        for _ in range(args.batches):
            batch()
        cpu1, wall1, pg1 = time.process_time(), time.perf_counter(), backend_cpu(name)
        n = args.batches * args.size
        print(f"{n} points in {args.batches} batches of {args.size}, load {os.getloadavg()[0]:.1f}")
        print(f"  cairn process CPU per point:   {(cpu1 - cpu0) / n * 1e6:7.2f} us")
        print(f"  PostgreSQL backend CPU / point: {(pg1 - pg0) / n * 1e6:7.2f} us")
        print(f"  wall per batch:                {(wall1 - wall0) / args.batches * 1e3:7.1f} ms")
    finally:
        db.close()
        if not args.keep:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
