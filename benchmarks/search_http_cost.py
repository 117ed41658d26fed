"""The server's CPU for one page of the harness's run search over HTTP, from /proc.

    python benchmarks/search_http_cost.py --url DB_URL [--requests 300] [--port 5821]

Starts ``python -m cairn server`` (this interpreter, this PYTHONPATH, one worker) on the
store ``DB_URL`` (which must hold the runs of ``benchmarks/pg_search_cost.py``), sends it
``POST /api/2.0/mlflow/runs/search`` with the shared harness's scenario (ii) (filter
``metrics.m0 > 0.5 and params.p1 = 'v3'``, ``metrics.m0 DESC``, 100 a page) one at a time on
one keep-alive connection, and prints the wall p50 and the CPU the server's processes spent
(utime + stime from ``/proc``, children included) per request, with the load average. The
database's own CPU is not in it (see ``benchmarks/pg_search_cost.py``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.pg_search_cost import FILTER

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """utime + stime of ``root`` and its descendants, in seconds."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(name)] = int(fields[1])
        times[int(name)] = (int(fields[11]) + int(fields[12])) / TICK
    wanted, total = [root], 0.0
    while wanted:
        pid = wanted.pop()
        total += times.get(pid, 0.0)
        wanted.extend(p for p, parent in parents.items() if parent == pid)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the store")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--port", type=int, default=5821)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "cairn", "server", "--port", str(args.port)]
        + ["--backend-store-uri", args.url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                conn.request("GET", "/health")
                conn.getresponse().read()
                break
            except OSError:
                conn.close()
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)

        def call(method: str, path: str, body: object = None) -> bytes:
            data = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"} if data else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            out = resp.read()
            if resp.status != 200:
                raise SystemExit(f"{path}: {resp.status} {out[:200]!r}")
            return out

        api = "/api/2.0/mlflow"
        found = json.loads(call("GET", f"{api}/experiments/get-by-name?experiment_name=search"))
        body = {
            "experiment_ids": [found["experiment"]["experiment_id"]],
            "filter": FILTER,
            "order_by": ["metrics.m0 DESC"],
            "max_results": 100,
        }
        for _ in range(20):  # warm: plans, caches, prepared statements
            size = len(call("POST", f"{api}/runs/search", body))
        load0 = os.getloadavg()[0]
        walls = []
        cpu0 = tree_cpu(server.pid)
        for _ in range(args.requests):
            t = time.perf_counter()
            call("POST", f"{api}/runs/search", body)
            walls.append(time.perf_counter() - t)
        cpu = (tree_cpu(server.pid) - cpu0) / args.requests
        print(
            f"load {load0:.1f}-{os.getloadavg()[0]:.1f}, {size} bytes a page: wall p50 "
            f"{statistics.median(walls) * 1e3:.2f} ms, server CPU {cpu * 1e3:.2f} ms a request"
        )
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
