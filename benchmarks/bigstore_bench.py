#!/usr/bin/env python3
"""Big stores: up to 1,000,000 runs and 100,000,000 metric points, measured through a live server.

The store is filled in stages (``--stages``, default 10,000, 100,000 and 1,000,000 runs) by
writing Cairn's own schema directly in bulk: the schema is made by Cairn's migrations, then
``INSERT … SELECT`` statements generate the rows inside the database (PostgreSQL's
``generate_series``, a recursive ``WITH`` on SQLite), in chunks of one transaction each, with
foreign-key triggers off for the load on PostgreSQL (``session_replication_role = replica``;
every row refers to one that exists). Nothing crosses the wire but the statements, so the fill
costs what the database's own inserts cost. The shape:

- ``--experiments`` experiments (100); run ``i`` belongs to experiment ``1 + i % 100`` and
  started a minute after run ``i - 1``;
- every run: 10 params (``p0`` one of a/b/c/d, ``p1`` a learning rate, ``p2`` a batch size,
  ``p3``..``p9`` one of 97 values), 3 tags (``team`` one of 5, ``mlflow.user`` one of 50,
  ``mlflow.runName`` unique) and 5 metrics (``loss``, ``accuracy``, ``lr``, ``val_loss``,
  ``grad_norm``) with their latest values;
- 99 runs in 100 log one point per metric; every 100th run is a "long" run with ``S`` steps
  per metric, ``S`` chosen so that the final stage holds ``--points`` points (1,881 for 100
  million at 1,000,000 runs); the first run's ``loss`` has 1,000,000 points.

Values are a hash of (run, key, step), so ``latest_metrics`` holds the last point's value and
filters select fixed shares of the runs (``metrics.loss < 0.5 and params.p0 = 'a'``: about
12 %; ``metrics.accuracy > 0.99 and params.p0 = 'a'``: about 0.25 %).

The fill runs at nice 19 (its thread, and on PostgreSQL its backend, reniced: the latter needs
root); the server and the measurements at normal priority. After each stage (``VACUUM
ANALYZE`` on PostgreSQL, as autovacuum would; nothing on SQLite) a ``cairn server`` is started
on the store and measured over HTTP with keep-alive, one request at a time: filtered searches
over all experiments (p50/p95 of ``--reps``), keyset paging (the first pages and the last
five, reached with a page token made for that position: a token is the last row's sort key,
so any depth is one request away), history reads of the 1,000,000-point metric
(``get-history`` in one answer and paged by 25,000, and the UI's
``/api/v1/metrics/downsample`` at 1,000 buckets), and bytes on disk per metric point (the
``metrics`` and ``latest_metrics`` tables with their indexes). ``--mlflow`` loads the
10,000,000-point stage (100,000 runs, same generator) into MLflow 3.17.2's own schema
(created by starting ``mlflow server`` once on an empty store) to compare bytes per point.

    python benchmarks/bigstore_bench.py --backend postgresql --mlflow
    python benchmarks/bigstore_bench.py --backend sqlite --points 20000000
    python benchmarks/bigstore_bench.py --backend sqlite --stages 1000,10000 --points 200000
    python benchmarks/bigstore_bench.py --backend postgresql --mlflow-only --stages 100000

The database (or SQLite file under ``--workdir``) is dropped at the end unless ``--keep``.
``--measure-only`` measures a kept SQLite store again (after a change to the server), without
filling it:

    python benchmarks/bigstore_bench.py --backend sqlite --stages 1000000 --keep --workdir W
    python benchmarks/bigstore_bench.py --backend sqlite --stages 1000000 --workdir W --measure-only
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from benchmarks.scaleout_bench import CLK_TCK, _all_parents, cpu_ticks, tree  # noqa: E402
from cairn.store.migrate import upgrade  # noqa: E402

T = TypeVar("T")
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
KEYS = ["loss", "accuracy", "lr", "val_loss", "grad_norm"]
GIANT = 1_000_000
"""Points of the first run's ``loss``."""
T0 = 1_700_000_000_000
LONG_EVERY = 100
CHUNK_RUNS = 20_000
"""Runs per transaction when filling runs, params, tags and one-point metrics."""
CHUNK_POINTS = 4_000_000
"""About this many points per transaction for the long runs."""


def md5_hex(value: object) -> str:
    return hashlib.md5(str(value).encode()).hexdigest()


# ---------------------------------------------------------------- SQL that both backends run


def hashv(i: str, k: str, s: str) -> str:
    """A value in [0, 1) from (run, key, step): the same on both backends."""
    return (
        f"CAST(({i} * 2654435761 + {k} * 40503 + CAST({s} AS BIGINT) * 9973) % 1000003"
        " AS DOUBLE PRECISION)"
        " / 1000003.0"
    )


def value_expr(i: str, k: str, s: str) -> str:
    """``loss`` (key 1) decays with the step; the others are the hash."""
    h = hashv(i, k, s)
    return f"CASE WHEN {k} = 1 THEN {h} / (1.0 + {s} / 100.0) ELSE {h} END"


FILL_NICE = 19
"""The fill's priority: its thread here (Linux priorities are per thread) and, on PostgreSQL,
the backend that does the work; the measurements and the server run at normal priority."""


def niced(fn: Callable[[], T]) -> T:
    """``fn()`` in a thread of its own at :data:`FILL_NICE`."""
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), FILL_NICE)
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=body, name="fill")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class Loader:
    """Runs generated INSERT … SELECT statements on one backend, one transaction per call."""

    def __init__(self, backend: str, target: str) -> None:
        self.backend = backend
        if backend == "postgresql":
            self.pg = psycopg.connect(target, autocommit=True)
            self.pg.execute("SET session_replication_role = replica")
            self.pg.execute("SET synchronous_commit = off")
            pid = self.pg.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            try:
                os.setpriority(os.PRIO_PROCESS, int(pid), FILL_NICE)
            except PermissionError:
                print(f"could not renice PostgreSQL backend {pid} (not root)", file=sys.stderr)
        else:
            self.lite = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            self.lite.create_function("md5", 1, md5_hex, deterministic=True)
            self.lite.execute("PRAGMA journal_mode = WAL")
            self.lite.execute("PRAGMA synchronous = OFF")
            self.lite.execute("PRAGMA cache_size = -1000000")

    def insert(self, head: str, select: str, series: dict[str, tuple[int, int]]) -> None:
        """``head`` (``INSERT INTO t (cols)``) of ``select``, whose ``{from}`` is the cross
        join of the integer series (name → inclusive range), outer first."""
        if any(lo > hi for lo, hi in series.values()):
            return
        if self.backend == "postgresql":
            joined = ", ".join(
                f"generate_series(CAST({lo} AS BIGINT), CAST({hi} AS BIGINT)) AS {n}_({n})"
                for n, (lo, hi) in series.items()
            )
            with self.pg.transaction():
                self.pg.execute(f"{head} {select.format(frm=joined)}")  # type: ignore[arg-type]
        else:
            ctes = ", ".join(
                f"{n}_({n}) AS (SELECT {lo} UNION ALL SELECT {n} + 1 FROM {n}_ WHERE {n} < {hi})"
                for n, (lo, hi) in series.items()
            )
            joined = ", ".join(f"{n}_" for n in series)
            self.lite.execute("BEGIN")
            self.lite.execute(f"WITH RECURSIVE {ctes} {head} {select.format(frm=joined)}")
            self.lite.execute("COMMIT")

    def execute(self, sql: str) -> None:
        if self.backend == "postgresql":
            self.pg.execute(sql)  # type: ignore[arg-type]
        else:
            self.lite.execute(sql)

    def scalar(self, sql: str) -> Any:
        if self.backend == "postgresql":
            row = self.pg.execute(sql).fetchone()  # type: ignore[arg-type]
        else:
            row = self.lite.execute(sql).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        if self.backend == "postgresql":
            self.pg.close()
        else:
            self.lite.close()


def uuid_sql(backend: str, i: str) -> str:
    return f"md5(CAST({i} + 1 AS TEXT))" if backend == "postgresql" else f"md5({i} + 1)"


def steps_per_long_run(final_runs: int, points: int) -> int:
    """Points per metric of a long run, so that the final stage holds ``points``."""
    long_runs = -(-final_runs // LONG_EVERY)
    short_runs = final_runs - long_runs
    rest = points - GIANT - 5 * short_runs
    return max(1, rest // (5 * long_runs))


def last_step(i: int, k: int, steps: int) -> int:
    if i == 0 and k == 1:
        return GIANT - 1
    return steps - 1 if i % LONG_EVERY == 0 else 0


def fill_cairn(load: Loader, lo: int, hi: int, experiments: int, steps: int) -> int:
    """Runs ``lo`` … ``hi - 1`` with everything they hold; returns the points written."""
    b = load.backend
    if lo == 0:
        load.insert(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,"
            " creation_time, last_update_time)",
            f"SELECT e, 'bench-' || e, 'mlflow-artifacts:/' || e, 'active', {T0}, {T0}"
            " FROM {frm}",
            {"e": (1, experiments)},
        )
        for kid, key in enumerate(KEYS, 1):
            load.execute(f"INSERT INTO metric_keys (id, key) VALUES ({kid}, '{key}')")
    points = 0
    for a in range(lo, hi, CHUNK_RUNS):
        z = min(hi, a + CHUNK_RUNS) - 1
        uid = uuid_sql(b, "i")
        load.insert(
            "INSERT INTO runs (id, run_uuid, experiment_id, name, user_id, status, start_time,"
            " end_time, lifecycle_stage, artifact_uri, deleted_time, deleted_with_experiment)",
            f"SELECT i + 1, {uid}, 1 + i % {experiments}, 'run-' || i, 'user' || (i % 50),"
            f" 'FINISHED', {T0} + i * 60000, {T0} + i * 60000 + 3600000, 'active',"
            f" 'mlflow-artifacts:/' || (1 + i % {experiments}) || '/' || {uid} || '/artifacts',"
            " NULL, false FROM {frm}",
            {"i": (a, z)},
        )
        load.insert(
            "INSERT INTO params (run_id, key, value)",
            "SELECT i + 1, 'p' || k, CASE k"
            " WHEN 0 THEN CASE (i * 7 + 3) % 4 WHEN 0 THEN 'a' WHEN 1 THEN 'b' WHEN 2 THEN 'c'"
            " ELSE 'd' END"
            " WHEN 1 THEN CASE i % 3 WHEN 0 THEN '0.001' WHEN 1 THEN '0.01' ELSE '0.1' END"
            " WHEN 2 THEN CASE i % 4 WHEN 0 THEN '32' WHEN 1 THEN '64' WHEN 2 THEN '128'"
            " ELSE '256' END"
            " ELSE 'v' || ((i * (k + 13)) % 97) END FROM {frm}",
            {"i": (a, z), "k": (0, 9)},
        )
        load.insert(
            "INSERT INTO run_tags (run_id, key, value)",
            "SELECT i + 1, CASE t WHEN 0 THEN 'team' WHEN 1 THEN 'mlflow.user'"
            " ELSE 'mlflow.runName' END, CASE t"
            " WHEN 0 THEN CASE (i * 3) % 5 WHEN 0 THEN 'vision' WHEN 1 THEN 'nlp'"
            " WHEN 2 THEN 'speech' WHEN 3 THEN 'rl' ELSE 'infra' END"
            " WHEN 1 THEN 'user' || (i % 50) ELSE 'run-' || i END FROM {frm}",
            {"i": (a, z), "t": (0, 2)},
        )
        if b == "postgresql":
            # every point of the chunk's runs in one statement, in primary-key order (each
            # series depends on the one before), so the index is only ever appended to
            last = (
                f"CASE WHEN i = 0 AND k = 1 THEN {GIANT - 1} WHEN i % {LONG_EVERY} = 0"
                f" THEN {steps - 1} ELSE 0 END"
            )
            with load.pg.transaction():
                load.pg.execute(
                    "INSERT INTO metrics (run_id, key_id, step, timestamp, value, is_nan)"  # type: ignore[arg-type]
                    f" SELECT i + 1, k, s, {T0} + i * 60000 + 1000 * s,"
                    f" {value_expr('i', 'k', 's')}, false"
                    f" FROM generate_series(CAST({a} AS BIGINT), {z}) AS i_(i),"
                    " generate_series(1 + 0 * i, 5) AS k_(k),"
                    f" generate_series(CAST(0 AS BIGINT), {last}) AS s_(s)"
                )
            points += sum(last_step(i, k, steps) + 1 for i in range(a, z + 1) for k in range(1, 6))
            print(f"  runs {a}..{z}: {points:,} points", flush=True)
        # one point per metric of the short runs; step 0
        if b != "postgresql":
            load.insert(
                "INSERT INTO metrics (run_id, key_id, step, timestamp, value, is_nan)",
                f"SELECT i + 1, k, 0, {T0} + i * 60000, {value_expr('i', 'k', '0')}, false"
                f" FROM {{frm}} WHERE i % {LONG_EVERY} <> 0",
                {"i": (a, z), "k": (1, 5)},
            )
            points += 5 * sum(1 for i in range(a, z + 1) if i % LONG_EVERY)
        # the latest point of every metric of every run
        last = (
            f"CASE WHEN i = 0 AND k = 1 THEN {GIANT - 1} WHEN i % {LONG_EVERY} = 0"
            f" THEN {steps - 1} ELSE 0 END"
        )
        load.insert(
            "INSERT INTO latest_metrics (run_id, key_id, step, timestamp, value, is_nan)",
            f"SELECT i + 1, k, {last}, {T0} + i * 60000 + 1000 * CAST({last} AS BIGINT),"
            f" {value_expr('i', 'k', last)}, false FROM {{frm}}",
            {"i": (a, z), "k": (1, 5)},
        )
    if b == "postgresql":
        return points
    # the long runs: every 100th, ``steps`` points per metric (the first run's loss: GIANT)
    first_j, last_j = -(-lo // LONG_EVERY), (hi - 1) // LONG_EVERY
    per_chunk = max(1, CHUNK_POINTS // (5 * steps))
    for j0 in range(first_j, last_j + 1, per_chunk):
        j1 = min(last_j, j0 + per_chunk - 1)
        i = f"(j * {LONG_EVERY})"
        load.insert(
            "INSERT INTO metrics (run_id, key_id, step, timestamp, value, is_nan)",
            f"SELECT {i} + 1, k, s, {T0} + {i} * 60000 + 1000 * s, {value_expr(i, 'k', 's')},"
            " false FROM {frm} WHERE NOT (j = 0 AND k = 1)",
            {"j": (j0, j1), "k": (1, 5), "s": (0, steps - 1)},
        )
        points += 5 * steps * (j1 - j0 + 1) - (steps if j0 == 0 else 0)
        print(f"  long runs {j0 * LONG_EVERY}..{j1 * LONG_EVERY}: {points:,} points", flush=True)
    if lo == 0:
        for s0 in range(0, GIANT, CHUNK_POINTS):
            load.insert(
                "INSERT INTO metrics (run_id, key_id, step, timestamp, value, is_nan)",
                f"SELECT 1, 1, s, {T0} + 1000 * s, {value_expr('0', '1', 's')}, false FROM {{frm}}",
                {"s": (s0, min(GIANT, s0 + CHUNK_POINTS) - 1)},
            )
        points += GIANT
    return points


def finish_fill(load: Loader) -> None:
    """What a store filled by Cairn would have: sequences past the ids, statistics."""
    if load.backend == "postgresql":
        for table, column in (
            ("runs", "id"),
            ("experiments", "experiment_id"),
            ("metric_keys", "id"),
        ):
            load.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" (SELECT max({column}) FROM {table}))"
            )
        load.execute("VACUUM ANALYZE")
    else:
        load.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# ---------------------------------------------------------------- sizes


def metric_bytes(load: Loader, tables: tuple[str, ...]) -> dict[str, int]:
    """Bytes on disk of each table with its indexes (and TOAST on PostgreSQL)."""
    out = {}
    for table in tables:
        if load.backend == "postgresql":
            out[table] = int(load.scalar(f"SELECT pg_total_relation_size('{table}')"))
        else:
            names = [
                r[0]
                for r in load.lite.execute(
                    "SELECT name FROM sqlite_master WHERE tbl_name = ?", (table,)
                )
            ]
            marks = ",".join("?" * len(names))
            row = load.lite.execute(
                f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({marks})", names
            ).fetchone()
            out[table] = int(row[0] or 0)
    return out


# ---------------------------------------------------------------- measuring over HTTP


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(client: httpx.Client, method: str, path: str, **kw: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    resp = client.request(method, path, **kw)
    seconds = time.perf_counter() - started
    if resp.status_code != 200:
        raise RuntimeError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:300]}")
    return seconds, resp.json()


class CpuMeter:
    """CPU seconds (utime + stime) of the server's process tree and, on PostgreSQL, of the
    store database's backends: less sensitive to a busy machine than wall time."""

    def __init__(self, server_pid: int, dbname: str | None) -> None:
        self.server_pid, self.dbname = server_pid, dbname
        self.admin = psycopg.connect(PG_ADMIN, autocommit=True) if dbname else None

    def _pids(self) -> list[int]:
        pids = tree(self.server_pid, _all_parents())
        if self.admin is not None:
            rows = self.admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.dbname,)
            )
            pids += [int(r[0]) for r in rows]
        return pids

    def now(self) -> dict[int, int]:
        return cpu_ticks(self._pids())

    @staticmethod
    def since(before: dict[int, int], after: dict[int, int]) -> float:
        return sum(t - before.get(pid, 0) for pid, t in after.items()) / CLK_TCK

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()


def measure(
    url: str, runs: int, experiments: int, steps: int, reps: int, meter: CpuMeter
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    exp_ids = [str(e) for e in range(1, experiments + 1)]
    with httpx.Client(base_url=url, timeout=600) as client:

        def search(body: dict[str, Any]) -> tuple[float, Any]:
            full = {"experiment_ids": exp_ids, **body}
            return timed(client, "POST", "/api/2.0/mlflow/runs/search", json=full)

        searches = {
            "filter loss<0.5 and p0='a', top 100": {
                "filter": "metrics.loss < 0.5 and params.p0 = 'a'",
                "max_results": 100,
            },
            "filter accuracy>0.99 and p0='a', top 100": {
                "filter": "metrics.accuracy > 0.99 and params.p0 = 'a'",
                "max_results": 100,
            },
            "filter tags.team='nlp', top 100": {
                "filter": "tags.team = 'nlp'",
                "max_results": 100,
            },
            "filter unique tag runName, top 100": {
                "filter": f"tags.`mlflow.runName` = 'run-{runs // 2}'",
                "max_results": 100,
            },
            "order by metrics.accuracy DESC, top 100": {
                "order_by": ["metrics.accuracy DESC"],
                "max_results": 100,
            },
            "filter p0='a' order by metrics.loss, top 100": {
                "filter": "params.p0 = 'a'",
                "order_by": ["metrics.loss ASC"],
                "max_results": 100,
            },
            "no filter, one experiment, top 100": {
                "experiment_ids": ["7"],
                "max_results": 100,
            },
        }
        for name, body in searches.items():
            search(body)  # warm
            cpu0 = meter.now()
            times = [search(body)[0] for _ in range(reps)]
            cpu = meter.since(cpu0, meter.now())
            out[f"search {name} p50 ms"] = 1000 * statistics.median(times)
            out[f"search {name} p95 ms"] = 1000 * percentile(times, 0.95)
            out[f"search {name}: server + db CPU ms per request"] = 1000 * cpu / reps
        # keyset paging in the default order (start_time DESC): the first pages, then deep
        page = min(1000, max(10, runs // 10))
        times, token, cpu0 = [], None, meter.now()
        for _ in range(5):
            seconds, doc = search({"max_results": page, **({"page_token": token} if token else {})})
            times.append(seconds)
            token = doc.get("next_page_token")
        cpu = meter.since(cpu0, meter.now())
        out[f"paging first 5 pages ({page}) p50 ms"] = 1000 * statistics.median(times)
        out["paging first 5 pages: server + db CPU ms per page"] = 1000 * cpu / 5
        first = search({"max_results": page})[1]
        deep = deep_token(first["next_page_token"], first["runs"][-1], 5 * page + 1)
        times, cpu0 = [], meter.now()
        for n in range(5):
            seconds, doc = search({"max_results": page, "page_token": deep})
            times.append(seconds)
            assert len(doc["runs"]) == page, len(doc["runs"])
            expected = f"run-{5 * page - n * page}"  # the token is after run 5 * page + 1
            assert doc["runs"][0]["info"]["run_name"] == expected, (doc["runs"][0], expected)
            deep = doc["next_page_token"]
        cpu = meter.since(cpu0, meter.now())
        out[f"paging the last 5 pages ({page}) p50 ms"] = 1000 * statistics.median(times)
        out["paging the last 5 pages: server + db CPU ms per page"] = 1000 * cpu / 5
        # paging with a filter and a metric order: the first 5 pages
        times, token = [], None
        for _ in range(5):
            body = {"filter": "params.p0 = 'a'", "order_by": ["metrics.loss ASC"],
                    "max_results": page, **({"page_token": token} if token else {})}  # fmt: skip
            seconds, doc = search(body)
            times.append(seconds)
            token = doc.get("next_page_token")
        out["paging filter+metric order first 5 pages p50 ms"] = 1000 * statistics.median(times)
        # history of the 1,000,000-point metric
        giant = md5_hex(1)
        hist = "/api/2.0/mlflow/metrics/get-history"
        params: dict[str, Any] = {"run_id": giant, "metric_key": "loss"}
        times, cpu0 = [], meter.now()
        for _ in range(3):
            seconds, doc = timed(client, "GET", hist, params=params)
            assert len(doc["metrics"]) == GIANT, len(doc["metrics"])
            times.append(seconds)
        cpu = meter.since(cpu0, meter.now())
        out["history 1M points, one answer p50 s"] = statistics.median(times)
        out["history 1M points, one answer: server + db CPU s"] = cpu / 3
        started, pages, token, got = time.perf_counter(), [], None, 0
        for _ in range(GIANT // 25_000 + 2):
            query = {**params, "max_results": 25_000, **({"page_token": token} if token else {})}
            seconds, doc = timed(client, "GET", hist, params=query)
            pages.append(seconds)
            got += len(doc["metrics"])
            token = doc.get("next_page_token")
            if not token:
                break
        assert got == GIANT, got
        out["history 1M points, paged by 25,000: total s"] = time.perf_counter() - started
        out["history paged: first 5 pages p50 ms"] = 1000 * statistics.median(pages[:5])
        out["history paged: last 5 pages p50 ms"] = 1000 * statistics.median(pages[-5:])
        long_run = md5_hex((runs // 2 // LONG_EVERY) * LONG_EVERY + 1)
        times = [
            timed(client, "GET", hist, params={"run_id": long_run, "metric_key": "accuracy"})[0]
            for _ in range(reps)
        ]
        out[f"history of a {steps:,}-point metric p50 ms"] = 1000 * statistics.median(times)
        down = "/api/v1/metrics/downsample"
        for x in ("step", "wall"):
            q = {"run_id": giant, "key": "loss", "width": 1000, "x": x}
            n, cpu0 = max(3, reps // 4), meter.now()
            times = [timed(client, "GET", down, params=q)[0] for _ in range(n)]
            out[f"downsample 1M points (x={x}): server + db CPU ms"] = (
                1000 * meter.since(cpu0, meter.now()) / n
            )
            out[f"downsample 1M points to 1000 buckets (x={x}) p50 ms"] = 1000 * statistics.median(
                times
            )
        q = {"run_id": giant, "key": "loss", "width": 1000, "x_min": 400_000, "x_max": 410_000}
        times = [timed(client, "GET", down, params=q)[0] for _ in range(reps)]
        out["downsample zoomed 10,000 steps p50 ms"] = 1000 * statistics.median(times)
    return out


def deep_token(token: str, last: dict[str, Any], target_i: int) -> str:
    """A page token for the default order (start_time DESC, then the run) whose page starts
    after run ``target_i`` (with ``5 * page + 1``: the last five pages, the deepest there are):
    the last run of page 1 with its sort values swapped for that run's. Run ``i`` has id
    ``i + 1`` and uuid ``md5(i + 1)``."""
    doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    info = last["info"]
    last_i = int(info["run_name"].removeprefix("run-"))
    swap = {
        info["start_time"]: T0 + target_i * 60000,
        info["run_id"]: md5_hex(target_i + 1),
        last_i + 1: target_i + 1,
    }
    doc["k"] = [swap.get(v, v) if not isinstance(v, (dict, list)) else v for v in doc["k"]]
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@contextmanager
def live_server(uri: str, workdir: Path) -> Iterator[tuple[str, int]]:
    from tests.compat.server import start_server

    gen = start_server("bench", uri, workdir / f"server-{time.time():.0f}")
    server = next(gen)
    try:
        yield server.url, server.process.pid
    finally:
        gen.close()


# ---------------------------------------------------------------- stores


@contextmanager
def store(backend: str, workdir: Path, keep: bool) -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URI, loader target) of a fresh empty store; dropped after unless keep."""
    if backend == "postgresql":
        name = f"bigstore_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        try:
            yield (
                f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                f"host=127.0.0.1 port=5432 user=postgres dbname={name}",
            )
        finally:
            if not keep:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    else:
        path = workdir / "cairn.db"
        try:
            yield f"sqlite:///{path}", str(path)
        finally:
            if not keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)


def migrate_to_head(uri: str) -> None:
    engine = create_engine(uri)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def run_cairn(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    stages = [int(s) for s in args.stages.split(",")]
    steps = steps_per_long_run(stages[-1], args.points)
    results = []
    with store(args.backend, workdir, args.keep) as (uri, target):
        migrate_to_head(uri)
        load = Loader(args.backend, target)
        points, done = 0, 0
        try:
            for stage in stages:
                started = time.monotonic()
                lo, hi = done, stage
                points += niced(lambda: fill_cairn(load, lo, hi, args.experiments, steps))  # noqa: B023
                done = stage
                niced(lambda: finish_fill(load))
                fill_s = time.monotonic() - started
                sizes = metric_bytes(load, ("metrics", "latest_metrics"))
                counted = int(load.scalar("SELECT count(*) FROM metrics"))
                assert counted == points, (counted, points)
                result: dict[str, Any] = {
                    "backend": args.backend,
                    "runs": stage,
                    "points": points,
                    "steps per long run": steps,
                    "fill s (this stage)": fill_s,
                    "metrics bytes": sizes["metrics"],
                    "latest_metrics bytes": sizes["latest_metrics"],
                    "bytes per point (metrics + latest)": sum(sizes.values()) / points,
                    "load average": os.getloadavg()[0],
                }
                print(json.dumps(result), flush=True)
                # the schema brought to this checkout's head here, at nice 19, not by the
                # server at start (a migration added meanwhile would outlast its start timeout)
                niced(lambda: migrate_to_head(uri))
                with live_server(uri, workdir) as (url, pid):
                    dbname = uri.rsplit("/", 1)[-1] if args.backend == "postgresql" else None
                    meter = CpuMeter(pid, dbname)
                    try:
                        result.update(
                            measure(url, stage, args.experiments, steps, args.reps, meter)
                        )
                    finally:
                        meter.close()
                result["load average after"] = os.getloadavg()[0]
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            load.close()
    return results


def measure_kept(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The measurements of :func:`run_cairn`'s last stage on a kept SQLite store, unfilled."""
    path = workdir / "cairn.db"
    if args.backend != "sqlite" or not path.exists():
        raise SystemExit(f"--measure-only needs --backend sqlite and {path} (from --keep)")
    stage = int(args.stages.split(",")[-1])
    steps = steps_per_long_run(stage, args.points)
    uri = f"sqlite:///{path}"
    result: dict[str, Any] = {"backend": "sqlite", "runs": stage, "steps per long run": steps}
    result["load average"] = os.getloadavg()[0]
    with live_server(uri, workdir) as (url, pid):
        meter = CpuMeter(pid, None)
        result.update(measure(url, stage, args.experiments, steps, args.reps, meter))
    result["load average after"] = os.getloadavg()[0]
    print(json.dumps(result), flush=True)
    return result


# ---------------------------------------------------------------- MLflow's schema


def mlflow_schema(backend: str, uri: str, workdir: Path, venv: Path) -> None:
    """Start ``mlflow server`` on the empty store once: it creates its schema."""
    from benchmarks.run import free_port, psycopg_path, stop, wait_ready

    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    if backend == "postgresql":
        env["PYTHONPATH"] = psycopg_path(workdir)
    with (workdir / "mlflow.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(venv / "bin" / "mlflow"), "server", "--backend-store-uri", uri,
             "--artifacts-destination", str(workdir / "mlartifacts"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True, env=env,
        )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", proc, seconds=300)
    finally:
        stop(proc)


def fill_mlflow(load: Loader, runs: int, steps: int) -> int:
    """The same metric points as :func:`fill_cairn` for runs 0 … ``runs - 1``, in MLflow's
    ``metrics`` and ``latest_metrics`` (the key's name on every row, the run by uuid)."""
    b = load.backend
    key = "CASE k WHEN 1 THEN 'loss' WHEN 2 THEN 'accuracy' WHEN 3 THEN 'lr'" \
        " WHEN 4 THEN 'val_loss' ELSE 'grad_norm' END"  # fmt: skip
    points = 0
    head = "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
    for a in range(0, runs, CHUNK_RUNS):
        z = min(runs, a + CHUNK_RUNS) - 1
        load.insert(
            head,
            f"SELECT {key}, {value_expr('i', 'k', '0')}, {T0} + i * 60000, {uuid_sql(b, 'i')},"
            f" 0, false FROM {{frm}} WHERE i % {LONG_EVERY} <> 0",
            {"i": (a, z), "k": (1, 5)},
        )
        points += 5 * sum(1 for i in range(a, z + 1) if i % LONG_EVERY)
        last = (
            f"CASE WHEN i = 0 AND k = 1 THEN {GIANT - 1} WHEN i % {LONG_EVERY} = 0"
            f" THEN {steps - 1} ELSE 0 END"
        )
        load.insert(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)",
            f"SELECT {key}, {value_expr('i', 'k', last)},"
            f" {T0} + i * 60000 + 1000 * CAST({last} AS BIGINT), {last}, false,"
            f" {uuid_sql(b, 'i')} FROM {{frm}}",
            {"i": (a, z), "k": (1, 5)},
        )
    last_j = (runs - 1) // LONG_EVERY
    per_chunk = max(1, CHUNK_POINTS // (5 * steps))
    for j0 in range(0, last_j + 1, per_chunk):
        j1 = min(last_j, j0 + per_chunk - 1)
        i = f"(j * {LONG_EVERY})"
        load.insert(
            head,
            f"SELECT {key}, {value_expr(i, 'k', 's')}, {T0} + {i} * 60000 + 1000 * s,"
            f" {uuid_sql(b, i)}, s, false FROM {{frm}} WHERE NOT (j = 0 AND k = 1)",
            {"j": (j0, j1), "k": (1, 5), "s": (0, steps - 1)},
        )
        points += 5 * steps * (j1 - j0 + 1) - (steps if j0 == 0 else 0)
    for s0 in range(0, GIANT, CHUNK_POINTS):
        load.insert(
            head,
            f"SELECT 'loss', {value_expr('0', '1', 's')}, {T0} + 1000 * s, {uuid_sql(b, '0')},"
            " s, false FROM {frm}",
            {"s": (s0, min(GIANT, s0 + CHUNK_POINTS) - 1)},
        )
    return points + GIANT


def run_mlflow(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    stages = [int(s) for s in args.stages.split(",")]
    final = int(args.final_runs or stages[-1])
    steps = steps_per_long_run(final, args.points)
    runs = stages[0]
    with store(args.backend, workdir, args.keep) as (uri, target):
        if args.backend == "sqlite":
            uri = f"sqlite:///{workdir / 'mlflow.db'}"
            target = str(workdir / "mlflow.db")
        mlflow_schema(args.backend, uri, workdir, args.mlflow_venv)
        load = Loader(args.backend, target)
        try:
            started = time.monotonic()
            points = niced(lambda: fill_mlflow(load, runs, steps))
            # MLflow's primary key starts with the key's name, so rows made in Cairn's order
            # land all over its index: rebuilt compact, as Cairn's (appended in order) is
            if args.backend == "postgresql":
                niced(lambda: load.execute("REINDEX TABLE metrics"))
                niced(lambda: load.execute("REINDEX TABLE latest_metrics"))
                niced(lambda: load.execute("VACUUM ANALYZE metrics"))
                niced(lambda: load.execute("VACUUM ANALYZE latest_metrics"))
            else:
                niced(lambda: load.execute("VACUUM"))
            sizes = metric_bytes(load, ("metrics", "latest_metrics"))
            counted = int(load.scalar("SELECT count(*) FROM metrics"))
            assert counted == points, (counted, points)
        finally:
            load.close()
            if args.backend == "sqlite" and not args.keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{target}{suffix}").unlink(missing_ok=True)
    result = {
        "backend": args.backend,
        "schema": "mlflow 3.17.2",
        "runs": runs,
        "points": points,
        "fill s": time.monotonic() - started,
        "metrics bytes": sizes["metrics"],
        "latest_metrics bytes": sizes["latest_metrics"],
        "bytes per point (metrics + latest)": sum(sizes.values()) / points,
        "load average": os.getloadavg()[0],
    }
    print(json.dumps(result), flush=True)
    return result


def render(results: list[dict[str, Any]]) -> str:
    """One markdown table: a row per measure, a column per store (backend, schema, runs)."""
    cols = [r for r in results]
    head = [f"{r['backend']}{' (' + r['schema'] + ')' if 'schema' in r else ''} {r['runs']:,} runs"
            for r in cols]  # fmt: skip
    names: list[str] = []
    for r in cols:
        names += [k for k in r if k not in names and k not in ("backend", "schema", "runs")]
    lines = ["| measure | " + " | ".join(head) + " |", "|---" * (len(cols) + 1) + "|"]
    for name in names:
        cells = []
        for r in cols:
            v = r.get(name)
            if v is None:
                cells.append("")
            elif isinstance(v, float):
                cells.append(f"{v:,.3g}" if v < 10 else f"{v:,.0f}")
            else:
                cells.append(f"{v:,}" if isinstance(v, int) else str(v))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--stages", default="10000,100000,1000000", help="runs after each stage")
    p.add_argument("--points", type=int, default=100_000_000, help="points at the last stage")
    p.add_argument("--experiments", type=int, default=100)
    p.add_argument("--reps", type=int, default=20, help="repetitions per timed request")
    p.add_argument("--workdir", type=Path, help="for SQLite files and server logs [a temp dir]")
    p.add_argument("--keep", action="store_true", help="keep the store (do not drop it)")
    p.add_argument(
        "--measure-only",
        action="store_true",
        help="SQLite: no fill; measure the store a --keep run left in --workdir (its last\n"
        "--stages value and --points must be the ones it was filled with)",
    )
    p.add_argument("--mlflow", action="store_true", help="also: MLflow's schema, bytes/point")
    p.add_argument("--mlflow-only", action="store_true", help="only MLflow's schema, bytes/point")
    p.add_argument(
        "--final-runs",
        type=int,
        help="with --mlflow-only: the final stage whose shape (points per long run) to use",
    )
    p.add_argument("--mlflow-venv", type=Path, default=ROOT / ".venvs" / "mlflow3")
    p.add_argument("--json-out", type=Path)
    p.add_argument("--render", type=Path, nargs="+", help="only print the table of these JSONs")
    args = p.parse_args()
    if args.render:
        print(render([r for f in args.render for r in json.loads(f.read_text())]))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bigstore-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    try:
        if args.measure_only:
            results.append(measure_kept(args, workdir))
        elif not args.mlflow_only:
            results += run_cairn(args, workdir)
        if args.mlflow or args.mlflow_only:
            ml_args = argparse.Namespace(**vars(args))
            if args.mlflow and not args.mlflow_only:
                ml_args.stages = ",".join(args.stages.split(",")[1:2] or args.stages.split(","))
                ml_args.final_runs = int(args.stages.split(",")[-1])
            results.append(run_mlflow(ml_args, workdir))
    finally:
        if args.json_out:
            args.json_out.parent.mkdir(parents=True, exist_ok=True)
            args.json_out.write_text(json.dumps(results, indent=1))
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
