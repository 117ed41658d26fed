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

``--tracking-against COMMIT`` measures instead what recording the change events costs on the
write path: the shared tracking harness's ``log_metric_single`` and ``log_batch`` against this
tree's server and against ``COMMIT``'s (unpacked with ``git archive`` into a temporary folder),
alternating which goes first over ``--rounds`` rounds, each on a fresh SQLite store; a cell is
the median over rounds [min–max] and the ratio the median of the per-round ratios.

    python benchmarks/audit_bench.py --tracking-against 99aa6cb --rounds 3
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

from benchmarks.run import free_port, start_cairn, stop, wait_ready  # noqa: E402
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
        model = f"model-{(n // 100) % MODELS}"
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


def time_span(uri: str, total: int) -> tuple[int, int]:
    """The times of the events at 45 % and 55 % of the log (events of one write share a time,
    so the range is taken from real events)."""
    db = Database(uri)
    try:
        service = AuditService(db)
        low, high = (
            service.search(EventQuery(after_id=total * p // 100, limit=1, ascending=True))[0].time
            for p in (45, 55)
        )
    finally:
        db.close()
    return low, high


def queries(base: str, reps: int, low: int, high: int) -> list[tuple[str, float, int]]:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("newest 100, no filter", {}),
        ("by actor (busy)", {"actor": "user3"}),
        ("by actor (rare)", {"actor": "rare"}),
        ("by experiment", {"experiment_id": "17"}),
        ("by run (entity)", {"entity_type": "run", "entity_id": f"{4321:032x}"}),
        ("by model", {"model_name": "model-7"}),
        ("by model version", {"entity_type": "model_version", "entity_id": "model-7/8"}),
        ("by action (rare)", {"action": "login.failed"}),
        ("time range (the middle tenth)", {"since": low, "until": high}),
        ("actor + time range", {"actor": "user2", "since": low, "until": high}),
        ("experiment + time range", {"experiment_id": "17", "since": low, "until": high}),
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


HARNESS = ROOT.parent / "shared" / "bench" / "tracking_bench.py"
FIGURES = [
    ("log_metric_single", ("sequential", "requests_per_s"), "log-metric, sequential", "req/s"),
    ("log_metric_single", ("concurrent", "requests_per_s"), "log-metric, 8 threads", "req/s"),
    ("log_batch", ("points_per_s",), "log-batch", "points/s"),
]


def tracking_run(code: Path, label: str, workdir: Path, harness: Path) -> dict[str, Any]:
    """One server from the tree at ``code`` on a fresh store, the harness against it."""
    store = workdir / label
    store.mkdir()
    env = {**os.environ, "PYTHONPATH": str(code), "CAIRN_HOME": str(store)}
    proc, base = start_cairn(store, str(store / "artifacts"), env, cwd=code)
    out = store / "result.json"
    try:
        subprocess.run(
            [
                sys.executable,
                str(harness),
                "--url",
                base,
                "--label",
                label,
                "--scenario",
                "log_metric_single,log_batch",
                "--server-pid",
                str(proc.pid),
                "--quiet",
                "--json-out",
                str(out),
            ],  # fmt: skip
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=1800,
        )
    finally:
        stop(proc)
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def figure(doc: dict[str, Any], scenario: str, path: tuple[str, ...]) -> float:
    found: Any = doc["scenarios"][scenario]["metrics"]
    for key in path:
        found = found[key]
    return float(found)


def compare_tracking(commit: str, rounds: int, harness: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="cairn-audit-tracking-") as tmp:
        workdir = Path(tmp)
        before = workdir / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for r in range(rounds):
            order = [("before", before), ("after", ROOT)]
            for name, code in order if r % 2 == 0 else reversed(order):
                print(f"round {r + 1}: {name}", file=sys.stderr, flush=True)
                runs[name].append(tracking_run(code, f"{name}-{r}", workdir, harness))
    lines = [
        f"| server | {' | '.join(f'{label} ({unit})' for _, _, label, unit in FIGURES)} |",
        "|---|" + "---|" * len(FIGURES),
    ]
    for name, title in (("before", f"before the change log ({commit})"), ("after", "with it")):
        cells = []
        for scenario, path, _, _ in FIGURES:
            values = [figure(doc, scenario, path) for doc in runs[name]]
            cell = f"{statistics.median(values):,.0f} [{min(values):,.0f}–{max(values):,.0f}]"
            if name == "after":
                ratios = [
                    figure(a, scenario, path) / figure(b, scenario, path)
                    for a, b in zip(runs["after"], runs["before"], strict=True)
                ]
                cell += f" · {statistics.median(ratios) * 100:.0f} % of before"
            cells.append(cell)
        lines.append(f"| {title} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--postgres-uri", default=None, help="a fresh, empty PostgreSQL database")
    parser.add_argument("--tracking-against", metavar="COMMIT", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--harness", type=Path, default=HARNESS, help="tracking_bench.py")
    args = parser.parse_args()
    if args.tracking_against:
        print(compare_tracking(args.tracking_against, args.rounds, args.harness))
        return 0
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
        startup = cli(["export", "--quiet", "--until", "1"], uri)
        lines.append(
            f"| `cairn audit export` of nothing (the command's start-up) | {startup:.1f} s |"
        )
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
            for label, ms, count in queries(base, args.reps, *time_span(uri, args.events)):
                lines.append(f"| `GET /api/v1/audit` {label} ({count} events) | {ms:.1f} ms |")
        finally:
            stop(proc)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
