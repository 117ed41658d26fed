#!/usr/bin/env python3
"""What the outbox costs and how fast it acts (docs/benchmarks.md, "Webhooks and alerts").

Against a fresh ``cairn server`` on SQLite each time (its own job engine, nothing else
started), with a webhook receiver on 127.0.0.1:

- **delivery latency**: ``--changes`` registered models created one after another; for each,
  the time from the create request's answer to the receiver holding its signed delivery
  (target: p50 under 1 s on an idle server);
- **alert latency**: ``--alerts`` breaching points, each on a run of its own; the time from
  the point's answer to its alert listed as firing (target: under 1 s);
- **ingest with fan-out**: log-batch points/s (``--batches`` requests of 1,000 points into
  one run) with nothing subscribed, and with ``--hooks`` webhooks subscribed to every event
  plus ``--rules`` alert rules on the experiment, alternating over ``--rounds`` rounds, each
  on a fresh store (target: within 10 % of none).

    python benchmarks/outbox_bench.py
    python benchmarks/outbox_bench.py --rounds 5 --batches 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import start_cairn, stop  # noqa: E402

SECRET = "outbox bench secret"
ENV = {"CAIRN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1", "CAIRN_SECRET_KEY": "outbox bench key"}
EVERY_EVENT = [
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_alias.created",
    "run.finished",
    "run.failed",
    "run.killed",
]


class Receiver:
    """Records when each delivery arrived, by the model name it carries."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                when = time.perf_counter()
                name = json.loads(body).get("data", {}).get("name")
                with receiver.lock:
                    if name is not None:
                        receiver.arrived.setdefault(str(name), when)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _server(work: Path) -> tuple[Any, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env.update(ENV, CAIRN_HOME=str(work / "home"))
    return start_cairn(work, str(work / "artifacts"), env)


def _ok(answer: httpx.Response) -> Any:
    if answer.status_code >= 300:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


def _hook(client: httpx.Client, url: str, events: list[str]) -> None:
    _ok(client.post("/api/v1/webhooks", json={"name": "bench", "url": url, "events": events,
                                                "secret": SECRET}))  # fmt: skip


def latency(changes: int) -> list[float]:
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = _server(Path(tmp))
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                _hook(client, receiver.url, ["registered_model.created"])
                out = []
                for i in range(changes):
                    name = f"model-{i}"
                    _ok(client.post("/api/2.0/mlflow/registered-models/create",
                                    json={"name": name}))  # fmt: skip
                    answered = time.perf_counter()
                    deadline = answered + 30
                    while name not in receiver.arrived:
                        if time.perf_counter() > deadline:
                            raise RuntimeError(f"no delivery for {name} within 30 s")
                        time.sleep(0.002)
                    out.append(receiver.arrived[name] - answered)
                return out
        finally:
            stop(proc)
            receiver.close()


def alert_latency(points: int) -> list[float]:
    """Seconds from a breaching point's answer to its alert listed as firing, ``points``
    times (each on a run of its own, after a point that does not breach)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = _server(Path(tmp))
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                eid = _ok(client.post("/api/2.0/mlflow/experiments/create",
                                      json={"name": "alerts"}))["experiment_id"]  # fmt: skip
                rule = {"name": "loss high", "experiment_id": eid, "kind": "threshold",
                        "metric": "val_loss", "op": ">", "value": 0.5}  # fmt: skip
                _ok(client.post("/api/v1/alerts/rules", json=rule))
                out = []
                for i in range(points):
                    rid = _ok(
                        client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid})
                    )["run"]["info"]["run_id"]
                    point = {"run_id": rid, "key": "val_loss", "value": 0.9,
                             "timestamp": 1_700_000_000_000 + i, "step": 0}  # fmt: skip
                    _ok(client.post("/api/2.0/mlflow/runs/log-metric", json=point))
                    answered = time.perf_counter()
                    deadline = answered + 30
                    while True:
                        firing = _ok(client.get("/api/v1/alerts", params={"state": "firing"}))
                        if any(a.get("subject_id") == rid for a in firing["alerts"]):
                            break
                        if time.perf_counter() > deadline:
                            raise RuntimeError(f"no alert for run {rid} within 30 s")
                        time.sleep(0.005)
                    out.append(time.perf_counter() - answered)
                return out
        finally:
            stop(proc)


def ingest(batches: int, hooks: int, rules: int, add_rules: Callable[..., None] | None) -> float:
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = _server(Path(tmp))
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                eid = _ok(client.post("/api/2.0/mlflow/experiments/create",
                                      json={"name": "ingest"}))["experiment_id"]  # fmt: skip
                for _ in range(hooks):
                    _hook(client, receiver.url, EVERY_EVENT)
                if rules and add_rules is not None:
                    add_rules(client, eid, rules)
                rid = _ok(client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid}))[
                    "run"
                ]["info"]["run_id"]
                bodies = [
                    json.dumps(
                        {
                            "run_id": rid,
                            "metrics": [
                                {
                                    "key": f"m{j % 10}",
                                    "value": (b * 1000 + j) * 0.001,
                                    "timestamp": 1_700_000_000_000 + b,
                                    "step": b * 100 + j // 10,
                                }
                                for j in range(1000)
                            ],
                        }
                    )  # fmt: skip
                    for b in range(batches)
                ]
                headers = {"Content-Type": "application/json"}
                started = time.perf_counter()
                for body in bodies:
                    _ok(client.post("/api/2.0/mlflow/runs/log-batch", content=body,
                                    headers=headers))  # fmt: skip
                return batches * 1000 / (time.perf_counter() - started)
        finally:
            stop(proc)
            receiver.close()


def alert_rules(client: httpx.Client, experiment_id: str, count: int) -> None:
    """``count`` threshold rules on the experiment's metrics (``/api/v1/alerts/rules``)."""
    for i in range(count):
        rule = {"name": f"rule-{i}", "experiment_id": experiment_id, "kind": "threshold",
                "metric": f"m{i % 10}", "op": ">", "value": 1e12}  # fmt: skip
        _ok(client.post("/api/v1/alerts/rules", json=rule))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--hooks", type=int, default=5)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    seconds = latency(args.changes)
    ms = sorted(s * 1000 for s in seconds)
    p50, p90 = statistics.median(ms), ms[int(len(ms) * 0.9) - 1]
    print(f"webhook delivery after the change ({len(ms)} changes): p50 {p50:.0f} ms, "
          f"p90 {p90:.0f} ms, max {ms[-1]:.0f} ms", flush=True)  # fmt: skip

    fired = sorted(s * 1000 for s in alert_latency(args.alerts))
    print(f"alert firing after the breaching point ({len(fired)} points): "
          f"p50 {statistics.median(fired):.0f} ms, max {fired[-1]:.0f} ms", flush=True)  # fmt: skip

    bare: list[float] = []
    fanned: list[float] = []
    for r in range(args.rounds):
        order = [(bare, 0, 0), (fanned, args.hooks, args.rules)]
        for target, hooks, rules in order if r % 2 == 0 else order[::-1]:
            target.append(ingest(args.batches, hooks, rules, alert_rules))
    ratios = [f / b for b, f in zip(bare, fanned, strict=True)]
    print("| log-batch, 1,000 points a request | points/s (median [min–max]) |")
    print("|---|---|")
    print(f"| nothing subscribed | {statistics.median(bare):,.0f} "
          f"[{min(bare):,.0f}–{max(bare):,.0f}] |")  # fmt: skip
    label = f"{args.hooks} webhooks + {args.rules} alert rules"
    spread = f"[{min(fanned):,.0f}–{max(fanned):,.0f}]"
    share = f"{statistics.median(ratios):.0%} of none"
    print(f"| {label} | {statistics.median(fanned):,.0f} {spread} · {share} |")


if __name__ == "__main__":
    main()
