#!/usr/bin/env python3
"""Trace ingest and trace search, Cairn and MLflow's own server side by side.

1. OTLP ingest: requests of ``--batch`` spans each (traces of 10 spans, as a small agent makes
   them) posted to ``POST /v1/traces`` in protobuf, one after the other over one keep-alive
   connection; spans/s. ``--rounds`` rounds alternate the servers (Cairn, MLflow, MLflow,
   Cairn, ...), each round a new experiment and new trace ids, each bounded by
   ``--batches`` requests and ``--round-seconds``; a server's figure is the median of its
   rounds, and the ratio Cairn / MLflow is of figures measured in the same run.
2. Search (Cairn): seeds ``--traces`` one-span traces (batches of 100 spans, each batch with a
   resource attribute ``bench.group`` = one of 10 values, which servers keep as a trace tag),
   then times ``POST /api/3.0/mlflow/traces/search`` for the newest 100 traces with
   ``tags.`bench.group` = 'g3'`` (a tenth of them); p50/p95. ``--mlflow-search-traces N``
   does the same on MLflow over N traces (seeding MLflow is slow).

Without ``--url`` it starts a fresh ``cairn server`` on SQLite in a temporary folder; without
``--mlflow-url`` (and unless ``--no-mlflow``) a fresh ``mlflow server`` from ``--mlflow-venv``
(mlflow 3.17.2, SQLite store, ``--workers 1`` by default: the requests come one at a time,
and with 4 workers on a loaded machine uvicorn's supervisor kills workers that miss its health
check while they parse a batch). It stops what it started, by PID. The load average is
printed with each phase: on a shared machine only the ratio of the same run counts.

    python benchmarks/trace_bench.py                            # fresh Cairn and MLflow
    python benchmarks/trace_bench.py --no-mlflow --traces 1000   # Cairn only, quick
    python benchmarks/trace_bench.py --url http://127.0.0.1:5000 --mlflow-url http://127.0.0.1:5001
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import free_port, start_cairn, stop, wait_ready  # noqa: E402

T0 = time.time_ns() - 86_400 * 10**9


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def batch(first_trace: int, n_spans: int, spans_per_trace: int, group: str) -> bytes:
    """``n_spans`` spans of traces numbered from ``first_trace``, each with a root."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", "bench"), _kv("bench.group", group)])
    spans = rs.scope_spans.add().spans
    for i in range(n_spans):
        trace = first_trace + i // spans_per_trace
        k = i % spans_per_trace
        start = T0 + trace * 1_000_000 + k * 1000
        span = spans.add(
            trace_id=(trace + 1).to_bytes(16, "big"),
            span_id=(k + 1).to_bytes(8, "big"),
            name="agent" if k == 0 else f"step-{k}",
            start_time_unix_nano=start,
            end_time_unix_nano=start + 900,
            status=Status(code=Status.STATUS_CODE_OK),
        )
        if k:
            span.parent_span_id = (1).to_bytes(8, "big")
        span.attributes.extend(
            [
                _kv("mlflow.spanType", json.dumps("LLM" if k else "AGENT")),
                _kv("mlflow.spanInputs", json.dumps({"question": f"q{trace}"})),
                _kv("mlflow.spanOutputs", json.dumps(f"answer {trace}")),
            ]
        )
    data: bytes = request.SerializeToString()
    return data


def create_experiment(http: httpx.Client, name: str) -> str:
    resp = http.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    resp.raise_for_status()
    eid: str = resp.json()["experiment_id"]
    return eid


def post(http: httpx.Client, eid: str, body: bytes) -> None:
    headers = {"content-type": "application/x-protobuf", "x-mlflow-experiment-id": eid}
    resp = http.post("/v1/traces", content=body, headers=headers)
    if resp.status_code != 200:
        raise SystemExit(f"POST /v1/traces: HTTP {resp.status_code} {resp.text[:300]}")


def load() -> float:
    return round(os.getloadavg()[0], 1)


def ingest(
    http: httpx.Client, batches: int, size: int, deadline: float, base: int
) -> dict[str, float]:
    """``batches`` requests of ``size`` spans (fewer if ``deadline`` passes), after one
    untimed warm-up request; trace numbers start at ``base`` (unique per round)."""
    eid = create_experiment(http, f"bench-ingest-{time.time_ns()}")
    load_before = load()
    post(http, eid, batch(base, size, 10, "g0"))  # warm the connection and the server
    done = 0
    t0 = time.perf_counter()
    for b in range(1, batches):
        post(http, eid, batch(base + b * size // 10, size, 10, "g0"))
        done += size
        if time.monotonic() > deadline:
            break
    elapsed = time.perf_counter() - t0
    return {
        "spans": done,
        "seconds": round(elapsed, 2),
        "spans_per_s": round(done / elapsed, 1),
        "load_before": load_before,
        "load_after": load(),
    }


def start_mlflow(venv: Path, workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """A fresh ``mlflow server`` (SQLite store, proxied artifacts) on a free loopback port."""
    port = free_port()
    with open(workdir / "mlflow-server.log", "wb") as log:  # the child keeps its own copy
        proc = subprocess.Popen(
            [
                str(venv / "bin" / "mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{workdir / 'mlflow.db'}",
                "--artifacts-destination",
                str(workdir / "mlflow-artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/version", proc, seconds=600)
    except BaseException:
        stop(proc)
        raise
    return proc, url


def version(http: httpx.Client) -> str:
    resp = http.get("/version")
    return resp.text.strip() if resp.status_code == 200 else "?"


def ingest_rounds(
    servers: dict[str, httpx.Client], args: argparse.Namespace
) -> dict[str, dict[str, object]]:
    """Alternate the servers round by round (ABBA...), so drifting machine load hits both."""
    names = list(servers)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    medians: dict[str, float] = {}
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            deadline = time.monotonic() + args.round_seconds
            result = ingest(servers[name], args.batches, args.batch, deadline, (r + 1) * 10**7)
            print(f"ingest round {r + 1} {name}: {result}", file=sys.stderr, flush=True)
            rounds[name].append(result)
    summary: dict[str, dict[str, object]] = {}
    for name in names:
        medians[name] = round(statistics.median(x["spans_per_s"] for x in rounds[name]), 1)
        summary[name] = {
            "version": version(servers[name]),
            "spans_per_s_median": medians[name],
            "rounds": rounds[name],
        }
    if "cairn" in medians and "mlflow" in medians:
        summary["cairn_over_mlflow"] = {"ratio": round(medians["cairn"] / medians["mlflow"], 1)}
    return summary


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``), 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def search(
    http: httpx.Client, traces: int, reps: int, deadline: float, base: int, pid: int | None
) -> dict[str, float]:
    """Seed ``traces`` traces, then time ``reps`` searches; with the server's ``pid`` also
    the server CPU per search, which a busy machine inflates much less than the wall time."""
    eid = create_experiment(http, f"bench-search-{time.time_ns()}")
    t0 = time.perf_counter()
    for b in range(0, traces, 100):
        post(http, eid, batch(base + b, min(100, traces - b), 1, f"g{(b // 100) % 10}"))
        if time.monotonic() > deadline:
            raise SystemExit(f"seeding stopped by --max-seconds after {b} traces")
    seeded = time.perf_counter() - t0
    body = {
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": eid}}],
        "filter": "tags.`bench.group` = 'g3'",
        "max_results": 100,
        "order_by": ["timestamp_ms DESC"],
    }
    # batch b (100 traces) is in group b % 10: the filter matches every tenth batch
    expected = min(100, sum(min(100, traces - b) for b in range(300, traces, 1000)))
    latencies = []
    cpu0 = cpu_seconds(pid)
    for _ in range(reps):
        t1 = time.perf_counter()
        resp = http.post("/api/3.0/mlflow/traces/search", json=body)
        resp.content  # noqa: B018 - read the body inside the timing
        latencies.append(time.perf_counter() - t1)
        if resp.status_code != 200:
            raise SystemExit(f"traces/search: HTTP {resp.status_code} {resp.text[:300]}")
        found = len(resp.json().get("traces", []))
        if found != expected:
            raise SystemExit(f"traces/search found {found} traces, expected {expected}")
    cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / reps
    latencies.sort()
    return {
        "traces": traces,
        "server_cpu_ms_per_search": round(cpu_ms, 2) if pid else -1,
        "seed_seconds": round(seeded, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000, 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", help="a running Cairn (default: start a fresh cairn server)")
    p.add_argument("--mlflow-url", help="a running MLflow (default: start a fresh one)")
    p.add_argument("--no-mlflow", action="store_true", help="measure Cairn only")
    p.add_argument("--mlflow-venv", type=Path, default=ROOT / ".venvs" / "mlflow3")
    p.add_argument("--mlflow-workers", type=int, default=1, help="mlflow server --workers")
    p.add_argument("--batches", type=int, default=200, help="ingest requests a round (200)")
    p.add_argument("--batch", type=int, default=100, help="spans per request (default 100)")
    p.add_argument("--rounds", type=int, default=2, help="ingest rounds per server (2)")
    p.add_argument("--round-seconds", type=float, default=60, help="bound of one round (60)")
    p.add_argument("--traces", type=int, default=100_000, help="traces to search over")
    p.add_argument("--mlflow-search-traces", type=int, default=0, help="same on MLflow (0)")
    p.add_argument("--reps", type=int, default=50, help="timed searches (default 50)")
    p.add_argument("--max-seconds", type=float, default=1200, help="stop seeding after this")
    args = p.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="cairn-tracebench-"))
    url = args.url
    try:
        if url is None:
            proc, url = start_cairn(work, str(work / "art"))
            procs.append(proc)
        urls = {"cairn": url}
        pids: dict[str, int | None] = {"cairn": procs[0].pid if procs else None}
        if not args.no_mlflow:
            mlflow_url = args.mlflow_url
            if mlflow_url is None:
                proc, mlflow_url = start_mlflow(args.mlflow_venv, work, args.mlflow_workers)
                procs.append(proc)
                pids["mlflow"] = None  # the CLI serves through a uvicorn child process
            urls["mlflow"] = mlflow_url
        clients = {name: httpx.Client(base_url=u, timeout=300) for name, u in urls.items()}
        try:
            result: dict[str, object] = {"servers": urls, "cpus": os.cpu_count()}
            result["ingest"] = ingest_rounds(clients, args)
            searches = {"cairn": args.traces}
            if "mlflow" in clients and args.mlflow_search_traces:
                searches["mlflow"] = args.mlflow_search_traces
            found: dict[str, dict[str, float]] = {}
            for name, traces in searches.items():
                deadline = time.monotonic() + args.max_seconds
                found[name] = search(
                    clients[name], traces, args.reps, deadline, 10**9, pids.get(name)
                )
                found[name]["load_after"] = load()
                print(f"search {name}: {found[name]}", file=sys.stderr, flush=True)
            result["search"] = found
        finally:
            for client in clients.values():
                client.close()
        print(json.dumps(result, indent=2))
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
