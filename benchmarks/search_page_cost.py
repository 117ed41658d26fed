"""Cairn's own CPU for one page of the harness's run search, in-process, on any backend.

    python benchmarks/search_page_cost.py --url DB_URL [--reps 200] [--profile N]

Measures what the server spends for ``POST /api/2.0/mlflow/runs/search`` with the shared
harness's scenario (ii) (``metrics.m0 > 0.5 and params.p1 = 'v3'``, ordered by ``metrics.m0
DESC``, 100 runs a page) apart from the HTTP layer: the search (query, page loads, the runs)
and the response body (the MLflow JSON, encoded). The figure is this thread's CPU time
(``time.thread_time``), so the database's own CPU (PostgreSQL's backend) is not in it and the
load of other processes changes it little. ``DB_URL``'s store must hold the runs of
``benchmarks/pg_search_cost.py`` (its ``--db`` fills a PostgreSQL one;
``--fill N`` here fills an empty store of any backend the same way). ``--profile N``: a
cProfile of N more searches timed by thread CPU, the top 25 by own time. ``--server-heap``
builds the server's app first (the objects a server holds: the cyclic GC's full collections
traverse them), ``--freeze`` then freezes them as ``cairn server`` does.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import time
from typing import Any

import orjson

from benchmarks.pg_search_cost import FILTER, fill
from cairn.entities.tracking import RunQuery
from cairn.server.app import create_app
from cairn.server.mlflow.runs import search_page
from cairn.server.settings import Settings
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema


def search_body(page: Any) -> bytes:
    """The response body the endpoint sends for ``page`` (its handler's dict, by orjson)."""
    return orjson.dumps(search_page(page))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the store")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --reps; median shown")
    parser.add_argument("--fill", type=int, default=0, help="fill N runs if the store has none")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument(
        "--server-heap",
        action="store_true",
        help="build the server's app first (not started), for a server-sized heap",
    )
    parser.add_argument(
        "--freeze", action="store_true", help="then gc.freeze() it, as `cairn server` does"
    )
    args = parser.parse_args()
    if args.server_heap:
        held = create_app(Settings(backend_store_uri=args.url))
        print(f"server heap: {len(gc.get_objects())} objects tracked ({type(held).__name__})")
    if args.freeze:
        gc.collect()
        gc.freeze()
    db = Database(args.url, pool_size=2)
    try:
        ensure_schema(db.write_engine)
        db.start()
        tracking = TrackingService(db)
        found = [e for e in tracking.search_experiments().items if e.name == "search"]
        if found:
            eid = found[0].experiment_id
        elif args.fill:
            print(f"filling {args.fill} runs")
            eid = fill(tracking, args.fill)
        else:
            raise SystemExit(f"{args.url}: no experiment 'search' (use --fill)")
        query = RunQuery([int(eid)], filter=FILTER, order_by=("metrics.m0 DESC",), max_results=100)
        body = search_body(tracking.search_runs(query))  # warm: plans, caches
        print(f"load {os.getloadavg()[0]:.1f}, {len(body)} bytes a page")
        per_round = []
        for _ in range(args.rounds):
            t0 = time.thread_time()
            for _ in range(args.reps):
                search_body(tracking.search_runs(query))
            per_round.append((time.thread_time() - t0) / args.reps)
        mid, low = statistics.median(per_round) * 1e3, min(per_round) * 1e3
        rounds = " ".join(f"{x * 1e3:.2f}" for x in per_round)
        print(f"  thread CPU per page (search + JSON body): min {low:.2f} ms, median {mid:.2f} ms")
        print(f"    rounds {rounds}")
        t0 = time.thread_time()
        for _ in range(args.reps):
            tracking.search_runs(query)
        search_only = (time.thread_time() - t0) / args.reps
        page = tracking.search_runs(query)
        t0 = time.thread_time()
        for _ in range(args.reps):
            search_body(page)
        body_only = (time.thread_time() - t0) / args.reps
        print(f"  of which search {search_only * 1e3:.2f} ms, JSON body {body_only * 1e3:.2f} ms")
        if args.profile:
            prof = cProfile.Profile(time.thread_time)
            prof.enable()
            for _ in range(args.profile):
                search_body(tracking.search_runs(query))
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    finally:
        db.close()


if __name__ == "__main__":
    main()
