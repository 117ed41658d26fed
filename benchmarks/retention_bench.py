#!/usr/bin/env python3
"""Retention at scale (docs/benchmarks.md, "Retention"): a store with ``--runs`` finished runs
(default 100,000) in 20 experiments, every 50th behind a model version and every 40th tagged
``cairn.keep``, all ended 40 days ago; then times a dry run and the real cleanup
(``days_old=30``), and the longest single write transaction (one batch of 500 runs with
their events): the writer is never held longer than that, so other writes go between batches.

    python benchmarks/retention_bench.py                  # SQLite, 100,000 runs
    python benchmarks/retention_bench.py --runs 5000      # a smoke test
    python benchmarks/retention_bench.py --postgres-uri postgresql+psycopg://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, insert  # noqa: E402

from cairn.entities.retention import KEEP_TAG, RetentionRule  # noqa: E402
from cairn.services.retention import DAY_MS, RetentionService  # noqa: E402
from cairn.store.db import Database  # noqa: E402
from cairn.store.migrate import ensure_schema  # noqa: E402
from cairn.store.schema import (  # noqa: E402
    experiments,
    model_versions,
    registered_models,
    run_tags,
    runs,
)
from cairn.store.sql import now_ms  # noqa: E402

EXPERIMENTS = 20
FILL = 5000


def fill(db: Database, count: int) -> None:
    now = now_ms()
    end = now - 40 * DAY_MS

    def experiments_and_model(conn: Connection) -> None:
        conn.execute(
            insert(experiments),
            [
                {
                    "experiment_id": i,
                    "name": f"bench-{i}",
                    "artifact_location": f"/tmp/bench/{i}",
                    "lifecycle_stage": "active",
                    "creation_time": now,
                    "last_update_time": now,
                }
                for i in range(1, EXPERIMENTS + 1)
            ],
        )
        conn.execute(
            insert(registered_models).values(
                name="bench", creation_time=now, last_updated_time=now, next_version=1
            )
        )

    db.write(experiments_and_model)
    version = 0
    for start in range(0, count, FILL):
        rows, tags, versions = [], [], []
        for i in range(start, min(count, start + FILL)):
            run_uuid = uuid.uuid4().hex
            rows.append(
                {
                    "id": i + 1,
                    "run_uuid": run_uuid,
                    "experiment_id": 1 + i % EXPERIMENTS,
                    "name": f"r{i}",
                    "status": "FINISHED" if i % 3 else "FAILED",
                    "start_time": end - 1000,
                    "end_time": end + i,
                    "lifecycle_stage": "active",
                    "artifact_uri": f"/tmp/bench/{run_uuid}",
                    "deleted_with_experiment": False,
                }
            )
            if i % 40 == 0:
                tags.append({"run_id": i + 1, "key": KEEP_TAG, "value": "yes"})
            if i % 50 == 0:
                version += 1
                versions.append(
                    {
                        "model_id": 1,
                        "version": version,
                        "creation_time": now,
                        "last_updated_time": now,
                        "current_stage": "None",
                        "source": f"runs:/{run_uuid}/model",
                        "run_id": run_uuid,
                        "status": "READY",
                    }
                )

        def write(
            conn: Connection, rows: list = rows, tags: list = tags, vs: list = versions
        ) -> None:
            conn.execute(insert(runs), rows)
            if tags:
                conn.execute(insert(run_tags), tags)
            if vs:
                conn.execute(insert(model_versions), vs)

        db.write(write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--postgres-uri", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.postgres_uri or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(uri)
        ensure_schema(db.write_engine)
        db.start()
        try:
            started = time.perf_counter()
            fill(db, args.runs)
            print(f"filled {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
            service = RetentionService(db)
            started = time.perf_counter()
            dry = service.cleanup(30, dry_run=True)
            took = time.perf_counter() - started
            print(f"dry run: {dry.deleted_runs:,} runs would go, {took:.2f} s")
            writes: list[float] = []
            write = db.write

            def timed(fn):  # type: ignore[no-untyped-def]
                begun = time.perf_counter()
                try:
                    return write(fn)
                finally:
                    writes.append(time.perf_counter() - begun)

            db.write = timed  # type: ignore[method-assign]
            started = time.perf_counter()
            done = service.apply([RetentionRule("cleanup", 30)], now_ms(), False)
            took = time.perf_counter() - started
            out = done.to_json()
            writes.sort()
            print(
                f"cleanup: {out['deleted_runs']:,} deleted, {out['kept_registered']:,} kept "
                f"(model versions), {out['kept_tagged']:,} kept (cairn.keep) in {took:.1f} s; "
                f"{len(writes)} write transactions of up to 500 runs with their events: "
                f"median {writes[len(writes) // 2] * 1000:.0f} ms, "
                f"longest {writes[-1] * 1000:.0f} ms"
            )
        finally:
            db.close()


if __name__ == "__main__":
    main()
