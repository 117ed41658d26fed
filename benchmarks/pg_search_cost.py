"""The shared harness's run searches on PostgreSQL, in-process, with load-independent costs.

    python benchmarks/pg_search_cost.py --db NAME [--runs 10000] [--reps 30] [--profile]
        [--explain]

Fills database NAME on 127.0.0.1:5432 (user postgres, trust; created if missing, filled only
if it holds no runs) with the runs of ``/work/shared/bench/tracking_bench.py``'s search
scenario (10 params ``p0..p9`` = ``v0..v9``, 5 metrics ``m0..m4``, 5 tags, the same
generator and seed), analyzes it, then runs its query (ii) (``metrics.m0 > 0.5 and
params.p1 = 'v3'``, ordered by ``metrics.m0 DESC``, top 100) and query (i) (no filter, top
100) ``--reps`` times each and prints per query: wall p50, this process's CPU and the
PostgreSQL backend's CPU (from /proc). ``--profile``: cProfile of query (ii).
``--explain``: ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement query (ii) sends.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import time
from typing import Any

import psycopg

from benchmarks.pg_batch_cost import ADMIN, backend_cpu
from cairn.entities.tracking import Metric, RunQuery
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema

BASE_TS = 1_700_000_000_000
SEED = 42
FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"


def run_data(i: int) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """The harness's data for run ``i`` (its ``_search_run_data`` with the default sizes)."""
    rng = random.Random(SEED * 1_000_003 + i)
    metrics = {f"m{j}": rng.random() for j in range(5)}
    params = {f"p{j}": f"v{rng.randrange(10)}" for j in range(10)}
    tags = {f"t{j}": f"tag{rng.randrange(100)}" for j in range(5)}
    return params, metrics, tags


def fill(tracking: TrackingService, n: int) -> str:
    eid = tracking.create_experiment("search")
    started = time.perf_counter()
    for i in range(n):
        params, metrics, tags = run_data(i)
        rid = tracking.create_run(eid, start_time=BASE_TS + i, run_name=f"r{i:06d}").info.run_id
        tracking.log_batch(
            rid,
            metrics=[Metric(k, v, BASE_TS + i, 0) for k, v in metrics.items()],
            params=list(params.items()),
            tags=list(tags.items()),
        )
        if i % 1000 == 999:
            print(f"  {i + 1} runs, {time.perf_counter() - started:.0f} s", flush=True)
    return eid


def measure(tracking: TrackingService, name: str, query: RunQuery, reps: int) -> None:
    tracking.search_runs(query)  # warm: plans, caches
    walls = []
    cpu0, pg0 = time.process_time(), backend_cpu(name)
    for _ in range(reps):
        t = time.perf_counter()
        tracking.search_runs(query)
        walls.append(time.perf_counter() - t)
    cpu1, pg1 = time.process_time(), backend_cpu(name)
    print(
        f"  wall p50 {statistics.median(walls) * 1e3:7.2f} ms, cairn CPU "
        f"{(cpu1 - cpu0) / reps * 1e3:6.2f} ms, PostgreSQL CPU {(pg1 - pg0) / reps * 1e3:6.2f} ms"
        " per query"
    )


def explain(db: Database, tracking: TrackingService, query: RunQuery) -> None:
    """Record the statements the search sends (on psycopg's cursors), then EXPLAIN each."""
    sent: list[tuple[str, Any]] = []
    original = psycopg.Cursor.execute

    def recording(self: Any, sql: Any, params: Any = None, **kw: Any) -> Any:
        sent.append((sql, params))
        return original(self, sql, params, **kw)

    psycopg.Cursor.execute = recording  # type: ignore[method-assign]
    try:
        tracking.search_runs(query)
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for sql, params in sent:
            if not str(sql).lstrip().upper().startswith("SELECT"):
                continue
            print("--", " ".join(str(sql).split())[:400])
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + str(sql), params)
            for (line,) in cur.fetchall():
                print("   ", line)
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="database name (kept)")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.db,)).fetchone():
            conn.execute(f'CREATE DATABASE "{args.db}"')
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.db}", pool_size=2)
    try:
        ensure_schema(db.write_engine)
        db.start()
        tracking = TrackingService(db)
        found = [e for e in tracking.search_experiments().items if e.name == "search"]
        if found:
            eid = found[0].experiment_id
        else:
            print(f"filling {args.runs} runs")
            eid = fill(tracking, args.runs)
        with psycopg.connect(ADMIN.replace("dbname=postgres", f"dbname={args.db}")) as conn:
            conn.execute("ANALYZE")  # committed on leaving the block
        print(f"load {os.getloadavg()[0]:.1f}")
        ids = [int(eid)]
        q_ii = RunQuery(ids, filter=FILTER, order_by=("metrics.m0 DESC",), max_results=100)
        q_i = RunQuery(ids, max_results=100)
        print("(ii) filter + order, top 100:")
        measure(tracking, args.db, q_ii, args.reps)
        print("(i) no filter, top 100:")
        measure(tracking, args.db, q_i, args.reps)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(args.reps):
                tracking.search_runs(q_ii)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        if args.explain:
            explain(db, tracking, q_ii)
    finally:
        db.close()


if __name__ == "__main__":
    main()
