#!/usr/bin/env python3
"""Cairn's web UI against MLflow 3.17.2's, over the same data, in headless Chromium.

Loads 10,000 runs with 10 params and 5 metrics each through each server's REST API (the
same requests for both; one server loading at a time), then, in one headless Chromium, opens
each experiment page in a fresh browser context five times, alternating between the UIs so both
see the same machine, and times from navigation start until the first run rows are visible
and the page answers (``web/bench/ui_timing.mjs``: the first row is on screen, then one
animation frame and one task later the main thread is free; a watcher added to the page
before it loads reports both, so no harness code runs in the page meanwhile). Before each
timed load it waits until the browser and both servers (with their worker processes) have
been idle for 300 ms, so no UI is timed while a server or the browser still works on an
earlier page.

    python benchmarks/ui_bench.py                 # both, 10,000 runs
    python benchmarks/ui_bench.py --runs 500 --only cairn   # a smoke test

Needs ``make ui`` (the built UI), Node with ``web/node_modules`` (``make ui`` installs it),
Chromium at /usr/bin/chromium, and ``.venvs/mlflow3`` for MLflow (``make compat-venvs``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import free_port, server_command, stop, wait_ready  # noqa: E402

TIMING = ROOT / "web" / "bench" / "ui_timing.mjs"
API = "/api/2.0/mlflow"
PARAMS = 10
METRICS = 5
LOAD_THREADS = 8


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(3):
            conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.local.conn = conn
            try:
                conn.request(
                    "POST", API + path, json.dumps(body), {"Content-Type": "application/json"}
                )
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise RuntimeError(f"POST {path} -> {response.status}: {data[:300]!r}")
            parsed: dict[str, Any] = json.loads(data) if data else {}
            return parsed
        raise AssertionError("unreachable")


def load(port: int, runs: int) -> tuple[str, float]:
    """The experiment and its runs, through the API; returns its id and the seconds taken."""
    client = Client(port)
    started = time.perf_counter()
    eid = str(client.post("/experiments/create", {"name": "ui-bench"})["experiment_id"])
    t0 = 1_790_000_000_000

    def one(i: int) -> None:
        created = client.post(
            "/runs/create",
            {"experiment_id": eid, "run_name": f"run-{i:05d}", "start_time": t0 + i * 1000},
        )
        run_id = created["run"]["info"]["run_id"]
        params = [{"key": f"param_{k}", "value": str((i * (k + 3)) % 97)} for k in range(PARAMS)]
        metrics = [
            {"key": f"metric_{k}", "value": (i * (k + 7)) % 1000 / 1000, "timestamp": t0, "step": 0}
            for k in range(METRICS)
        ]
        client.post("/runs/log-batch", {"run_id": run_id, "params": params, "metrics": metrics})

    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        for future in [pool.submit(one, i) for i in range(runs)]:
            future.result()
    return eid, time.perf_counter() - started


def time_uis(
    pages: list[tuple[str, str]], repeats: int, quiet_pids: list[int]
) -> list[list[float]]:
    """Each (url, row selector) page timed `repeats` times, alternating, in one browser."""
    pids = ",".join(map(str, quiet_pids))
    cmd = ["node", str(TIMING), "--repeats", str(repeats), "--pids", pids]
    for url, selector in pages:
        cmd += [url, selector]
    node = subprocess.run(
        cmd,
        cwd=ROOT / "web",
        capture_output=True,
        text=True,
        timeout=60 + repeats * len(pages) * 60,
    )
    if node.returncode != 0:
        raise RuntimeError(f"ui_timing failed:\n{node.stdout}\n{node.stderr}")
    sys.stderr.write(node.stderr)
    result: list[list[float]] = json.loads(node.stdout.strip().splitlines()[-1])["ms"]
    return result


Server = tuple[subprocess.Popen[bytes], int]


def serve(
    kind: str, workdir: Path, args: argparse.Namespace, extra: tuple[str, ...] = ()
) -> Server:
    port = free_port()
    cmd = [*server_command(kind, workdir, port, args), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env["CAIRN_HOME"] = str(workdir)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    log = open(workdir / "server.log", "wb")  # open as long as the server runs
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", proc)
    except BaseException:
        stop(proc)
        raise
    return proc, port


# what "the first rows" are in each UI
SELECTORS = {
    "cairn": "tbody tr.run-row",
    # MLflow 3.17's runs table (ag-grid): the run-name link of a data row
    "mlflow": '.ag-row a[href*="/runs/"]',
}


def page_url(kind: str, port: int, eid: str) -> str:
    if kind == "cairn":
        return f"http://127.0.0.1:{port}/experiments/{eid}"
    return f"http://127.0.0.1:{port}/#/experiments/{eid}/runs"


def measure(kinds: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Load each server in turn (one loading at a time), keep them up, then time the UIs in
    alternation, one load each per round, so both see the same machine."""
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        pids: list[int] = []
        for kind in kinds:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"ui-bench-{kind}-")))
            proc, port = serve(kind, tmp, args)
            stack.callback(stop, proc)
            pids.append(proc.pid)
            eid, seconds = load(port, args.runs)
            print(f"{kind}: loaded {args.runs} runs in {seconds:.1f} s", file=sys.stderr)
            urls[kind] = page_url(kind, port, eid)
        pages = [(urls[kind], SELECTORS[kind]) for kind in kinds]
        times = dict(zip(kinds, time_uis(pages, args.repeats, pids), strict=True))
    return [
        {"ui": k, "ms": ms, "best": min(ms), "median": statistics.median(ms)}
        for k, ms in times.items()
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=["cairn", "mlflow"])
    p.add_argument("--mlflow-venv", type=Path, default=ROOT / ".venvs" / "mlflow3")
    p.set_defaults(cairn_workers=None)  # benchmarks.run.server_command reads it: the default
    args = p.parse_args()
    kinds = [args.only] if args.only else ["cairn", "mlflow"]
    results = measure(kinds, args)
    load1, _, _ = os.getloadavg()
    print(
        f"UI time to first rows, interactive ({args.runs:,} runs x {PARAMS} params x {METRICS} "
        f"metrics; {args.repeats} cold loads each; {platform.node()}, load {load1:.1f})"
    )
    print(f"{'UI':<8}{'best ms':>10}{'median ms':>12}   all")
    for r in results:
        runs = ", ".join(f"{x:.0f}" for x in r["ms"])
        print(f"{r['ui']:<8}{r['best']:>10.0f}{r['median']:>12.0f}   {runs}")
    if len(results) == 2:
        c, m = results
        print(
            f"MLflow / Cairn: best {m['best'] / c['best']:.1f}x, "
            f"median {m['median'] / c['median']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
