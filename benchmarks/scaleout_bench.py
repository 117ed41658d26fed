#!/usr/bin/env python3
"""Scale-out efficiency: 1, 2 and 4 ``cairn server`` processes on one PostgreSQL behind nginx.

For each server count a fresh PostgreSQL database, that many servers and the repository's
``deploy/nginx.conf`` are started with ``tests/compat/balancer.py`` (what the scale-out tests
run), then separate client *processes* (not threads: one Python process tops out far below a
server) drive the balancer over HTTPS with keep-alive, one connection each:

- ``log_batch``: each client logs 1,000-point batches (5 keys × 200 steps, new steps every
  batch) to its own run;
- ``log_metric``: each client logs single points (``runs/log-metric``) to its own run;
- ``idle`` (not by default): no client, what the servers and the database use on their own
  (the servers' periodic jobs and pools).

Every phase runs for ``--seconds`` between two instants all clients agree on. At both instants
the CPU time (utime + stime from ``/proc/<pid>/stat``) of every process of each part is read:

- the cairn servers (each server's process tree),
- the PostgreSQL backends of the benchmark's database (listed from ``pg_stat_activity`` and
  read every 0.25 s during the phase: one that started during it counts from zero, one that
  ended counts up to its last reading) and, separately, PostgreSQL's shared
  processes (WAL writer, checkpointer, background writer: children of the postmaster that are
  no backend; they also serve the machine's other databases),
- nginx (master and workers),
- the clients,

and the whole machine's busy time from ``/proc/stat``, whose remainder is everyone else's
("foreign") CPU. The table gives throughput, CPU microseconds per point (or per request) of
each part, and what those imply for a larger machine: the database's CPU per point says how
many points a second a 16-core database host could take, the servers' CPU per point how many
server cores that needs.

    python benchmarks/scaleout_bench.py                       # 1, 2, 4 servers, 8 clients, 20 s
    python benchmarks/scaleout_bench.py --servers 1,2 --clients 6 --seconds 10
    python benchmarks/scaleout_bench.py --json-out bench-results/scaleout.json

Needs nginx (``make balancer``) and the PostgreSQL at 127.0.0.1:5432 (tests/databases.py).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.compat.balancer import Cluster, start_cluster  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
BATCH_KEYS = 5
BATCH_STEPS = 200
POLL_S = 0.25
"""How often the database's backends are listed and read during a phase."""
CLIENT_START_S = 60.0
"""How long the clients may take to start and warm up before the timed phase."""


# ---------------------------------------------------------------- CPU accounting (/proc)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime in ticks) of a process, None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _all_parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                parents[int(entry)] = found[0]
    return parents


def tree(root: int, parents: dict[int, int]) -> list[int]:
    """``root`` and all of its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    out, todo = [], [root]
    while todo and len(out) < 10_000:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    found = {pid: _stat(pid) for pid in pids}
    return {pid: s[1] for pid, s in found.items() if s is not None}


def machine_busy_ticks() -> int:
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
    return sum(values) - values[3] - values[4]


class Parts:
    """The processes of each part of one cluster, looked up when a phase starts."""

    def __init__(self, cluster: Cluster, clients: list[int], dbname: str) -> None:
        parents = _all_parents()
        self.groups: dict[str, list[int]] = {
            "cairn servers": [p for s in cluster.servers for p in tree(s.process.pid, parents)],
            "nginx": tree(int((cluster.nginx_dir / "nginx.pid").read_text()), parents),
            "clients": [p for c in clients for p in tree(c, parents)],
        }
        self.dbname = dbname
        self.admin = psycopg.connect(_admin_dsn(), autocommit=True)
        me = int(self.admin.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        postmaster = (_stat(me) or (0, 0))[0]
        self.groups["postgres shared"] = [
            pid for pid, parent in parents.items() if parent == postmaster and _is_aux(pid)
        ]
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.started = 0.0

    def _backends(self) -> dict[int, float]:
        """The database's backends: pid -> when it started (epoch seconds)."""
        rows = self.admin.execute(
            "SELECT pid, extract(epoch FROM backend_start) FROM pg_stat_activity"
            " WHERE datname = %s",
            (self.dbname,),
        )
        return {int(pid): float(start) for pid, start in rows}

    def poll(self) -> None:
        """Read the CPU of the database's backends: one that started after the phase began
        counts from zero, one that ends between two polls keeps its last reading."""
        for pid, start in self._backends().items():
            ticks = cpu_ticks([pid]).get(pid)
            if ticks is None:
                continue
            if pid not in self.first:
                self.first[pid] = 0 if start > self.started else ticks
            self.last[pid] = ticks

    def sample(self) -> dict[str, dict[int, int]]:
        return {name: cpu_ticks(pids) for name, pids in self.groups.items()}

    def start(self) -> tuple[dict[str, dict[int, int]], float]:
        self.started = time.time()
        self.first, self.last = {}, {}
        self.poll()
        return self.sample(), self.started

    def backends_cpu_s(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last) / CLK_TCK

    def close(self) -> None:
        self.admin.close()


def _is_aux(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return any(w in cmd for w in ("walwriter", "checkpointer", "background writer", "wal writer"))


def cpu_delta(
    before: dict[str, dict[int, int]], after: dict[str, dict[int, int]]
) -> dict[str, float]:
    """CPU seconds per part between two samples (processes present in both)."""
    out = {}
    for name, ticks in after.items():
        start = before.get(name, {})
        out[name] = sum(t - start.get(pid, t) for pid, t in ticks.items()) / CLK_TCK
    return out


def _admin_dsn() -> str:
    from tests.databases import PG_ADMIN_DB, PG_HOST, PG_PORT, PG_USER

    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={PG_ADMIN_DB}"


# ---------------------------------------------------------------- the client process


def client_main(args: argparse.Namespace) -> int:
    """One client: a keep-alive HTTPS connection to the balancer, requests from ``--t0`` to
    ``--t1`` (wall clock), then one JSON line on stdout."""
    host, port = args.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=args.ca)
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=60)
    headers = {"Content-Type": "application/json"}
    step = 0
    now_ms = int(time.time() * 1000)

    def body() -> tuple[str, str, int]:
        nonlocal step
        if args.mode == "log_batch":
            parts = []
            for s in range(step, step + BATCH_STEPS):
                for k in range(BATCH_KEYS):
                    value, stamp = s * 0.5 + k, now_ms + s
                    parts.append(f'{{"key":"m{k}","value":{value},"timestamp":{stamp},"step":{s}}}')
            step += BATCH_STEPS
            text = f'{{"run_id":"{args.run}","metrics":[{",".join(parts)}]}}'
            return "/api/2.0/mlflow/runs/log-batch", text, BATCH_STEPS * BATCH_KEYS
        step += 1
        text = json.dumps(
            {"run_id": args.run, "key": "m", "value": step * 0.5, "timestamp": now_ms + step,
             "step": step}
        )  # fmt: skip
        return "/api/2.0/mlflow/runs/log-metric", text, 1

    def send() -> tuple[int, float]:
        path, text, points = body()
        started = time.perf_counter()
        conn.request("POST", path, body=text, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}")
        return points, time.perf_counter() - started

    for _ in range(3):  # warm up: connection, TLS, the server's caches
        send()
    while time.time() < args.t0:
        time.sleep(min(0.01, max(0.0, args.t0 - time.time())))
    points = requests = 0
    latencies: list[float] = []
    while time.time() < args.t1:
        n, seconds = send()
        points += n
        requests += 1
        latencies.append(seconds)
    conn.close()
    print(json.dumps({"points": points, "requests": requests, "latencies": latencies}))
    return 0


# ---------------------------------------------------------------- one phase, one cluster


def api(cluster: Cluster, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with cluster.client() as http_client:
        resp = http_client.post(path, json=body)
        resp.raise_for_status()
        return dict(resp.json())


def run_phase(
    cluster: Cluster, mode: str, clients: int, seconds: float, dbname: str
) -> dict[str, Any]:
    exp = api(cluster, "/api/2.0/mlflow/experiments/create", {"name": f"{mode}-{time.time()}"})
    runs = [
        api(
            cluster,
            "/api/2.0/mlflow/runs/create",
            {"experiment_id": exp["experiment_id"], "start_time": int(time.time() * 1000)},
        )["run"]["info"]["run_id"]
        for _ in range(0 if mode == "idle" else clients)
    ]
    t0 = time.time() + min(CLIENT_START_S, 8.0 + clients)
    t1 = t0 + seconds
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client",
                "--mode",
                mode,
                "--url",
                cluster.url,
                "--ca",
                str(cluster.ca_file),
                "--run",
                run,
                "--t0",
                str(t0),
                "--t1",
                str(t1),
            ],
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )  # fmt: skip
        for run in runs
    ]
    try:
        time.sleep(max(0.0, t0 - time.time() - 1.0))
        parts = Parts(cluster, [p.pid for p in procs], dbname)
        time.sleep(max(0.0, t0 - time.time()))
        (before, _), busy0, load0 = parts.start(), machine_busy_ticks(), os.getloadavg()[0]
        while time.time() < t1 - POLL_S:
            time.sleep(POLL_S)
            parts.poll()
        time.sleep(max(0.0, t1 - time.time()))
        after, busy1, load1 = parts.sample(), machine_busy_ticks(), os.getloadavg()[0]
        parts.poll()
        parts.close()
        outputs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    if mode == "idle":
        clients = 0
    if any(p.returncode != 0 for p in procs):
        raise RuntimeError(f"{mode}: a client failed (exit codes {[p.returncode for p in procs]})")
    results = [json.loads(out) for out in outputs]
    points = sum(r["points"] for r in results)
    requests = sum(r["requests"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    cpu = cpu_delta(before, after)
    cpu["postgres backends"] = parts.backends_cpu_s()
    total_busy = (busy1 - busy0) / CLK_TCK
    cpu["foreign"] = total_busy - sum(cpu.values())
    return {
        "mode": mode,
        "clients": clients,
        "seconds": seconds,
        "points": points,
        "requests": requests,
        "per_second": (points if mode == "log_batch" else requests) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)] if latencies else None,
        "cpu_s": cpu,
        "load": [load0, load1],
    }


def measure(n: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"scaleout-{n}-"))
    cluster_gen = start_cluster(workdir, n=n, backend="postgres")
    cluster = next(cluster_gen)
    try:
        dbname = cluster.store_uri.rsplit("/", 1)[-1]
        out = []
        for mode in args.modes.split(","):
            result = run_phase(cluster, mode, args.clients, args.seconds, dbname)
            result["servers"] = n
            out.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
        return out
    finally:
        cluster_gen.close()


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| phase | servers | round | clients | rate | p50 ms | p95 ms | µs CPU per unit: servers "
        "| pg backends | pg shared | nginx | clients | foreign cores | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    idle = [r for r in results if r["mode"] == "idle"]
    results = [r for r in results if r["mode"] != "idle"]
    for r in sorted(results, key=lambda r: (r["mode"], r["servers"], r.get("round", 1))):
        units = _units(r)
        per = {k: 1e6 * v / units for k, v in r["cpu_s"].items()}
        unit = "pts/s" if r["mode"] == "log_batch" else "req/s"
        lines.append(
            f"| {r['mode']} | {r['servers']} | {r.get('round', 1)} | {r['clients']} "
            f"| {r['per_second']:,.0f} {unit} "
            f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {per['cairn servers']:.1f} "
            f"| {per['postgres backends']:.1f} | {per['postgres shared']:.1f} "
            f"| {per['nginx']:.1f} | {per['clients']:.1f} "
            f"| {r['cpu_s']['foreign'] / r['seconds']:.2f} "
            f"| {r['load'][0]:.1f}–{r['load'][1]:.1f} |"
        )
    lines += [
        "",
        "Medians over the rounds (efficiency: CPU µs per unit of servers + database backends "
        "with 1 server ÷ with n):",
        "",
        "| phase | servers | rate | µs/unit servers | µs/unit pg backends | efficiency "
        "| 16-core db host: units/s | server cores for that |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["mode"], r["servers"]), []).append(r)
    base: dict[str, float] = {}
    for (mode, servers), rs in sorted(groups.items()):
        # the backends' work per unit; the shared processes also serve every other database
        # of the cluster (their column above is an upper bound), so they are not in this
        db_us = statistics.median(1e6 * r["cpu_s"]["postgres backends"] / _units(r) for r in rs)
        srv_us = statistics.median(1e6 * r["cpu_s"]["cairn servers"] / _units(r) for r in rs)
        rate = statistics.median(r["per_second"] for r in rs)
        cost = db_us + srv_us
        base.setdefault(mode, cost)
        host_rate = 16e6 / db_us if db_us > 0 else float("inf")
        lines.append(
            f"| {mode} | {servers} | {rate:,.0f} | {srv_us:.1f} | {db_us:.1f} "
            f"| {base[mode] / cost:.2f} | {host_rate:,.0f} | {host_rate * srv_us / 1e6:.1f} |"
        )
    if idle:
        lines += ["", "With no client (CPU cores used while idle):", "",
                  "| servers | round | servers | pg backends | pg shared | nginx | load (1 min) |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in sorted(idle, key=lambda r: (r["servers"], r.get("round", 1))):
            c = {k: v / r["seconds"] for k, v in r["cpu_s"].items()}
            lines.append(
                f"| {r['servers']} | {r.get('round', 1)} | {c['cairn servers']:.3f} "
                f"| {c['postgres backends']:.3f} | {c['postgres shared']:.3f} "
                f"| {c['nginx']:.3f} | {r['load'][0]:.1f}–{r['load'][1]:.1f} |"
            )
    return "\n".join(lines)


def _units(r: dict[str, Any]) -> int:
    return max(int(r["points"] if r["mode"] == "log_batch" else r["requests"]), 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--servers", default="1,2,4", help="server counts, comma-separated [1,2,4]")
    p.add_argument("--clients", type=int, default=8, help="client processes per phase [8]")
    p.add_argument("--seconds", type=float, default=20.0, help="length of a phase [20]")
    p.add_argument(
        "--rounds", type=int, default=1, help="rounds; odd ones run the counts in reverse"
    )
    p.add_argument("--modes", default="log_batch,log_metric", help="phases [both]")
    p.add_argument("--json-out", type=Path, help="write every result here as JSON")
    # the client process's own arguments
    p.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--ca", help=argparse.SUPPRESS)
    p.add_argument("--run", help=argparse.SUPPRESS)
    p.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    p.add_argument("--t1", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        return client_main(args)
    counts = [int(x) for x in args.servers.split(",")]
    results = []
    for round_ in range(args.rounds):  # every other round in reverse order
        for n in counts if round_ % 2 == 0 else counts[::-1]:
            for r in measure(n, args):
                r["round"] = round_ + 1
                results.append(r)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
