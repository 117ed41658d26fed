"""``kill -9`` of one of three servers behind nginx while the stock client logs batches: every
batch the client saw acknowledged is stored, each point exactly once.

The client is the stock 3.17.2 ``MlflowClient.log_batch`` with its own retry policy (the
``MLFLOW_HTTP_REQUEST_*`` variables, shortened so the test stays within seconds): a request
that was in flight on the killed server comes back from nginx as a 502 and is sent again, to
another server; a request nginx cannot connect with goes to the next server at once
(deploy/nginx.conf, ``proxy_next_upstream``). A batch that the killed server had committed
before it died is stored once all the same: a point repeated with the same step, timestamp
and value is the same point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.balancer import start_cluster
from tests.compat.test_stock_client import WORKFLOW_DIR, client_env, client_python

API = "/api/2.0/mlflow"
BATCHES = 150
PER_BATCH = 100
THREADS = 3
KILL_AFTER = 30
"""Acknowledged batches before the kill: mid-stream, with requests in flight."""
RUN_TIMEOUT_S = 180
RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

pytestmark = [pytest.mark.compat, pytest.mark.postgres]


def history(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    token = None
    for _ in range(1000):
        params: dict[str, Any] = {"run_id": run_id, "metric_key": "loss", "max_results": 25000}
        if token:
            params["page_token"] = token
        resp = client.get(f"{API}/metrics/get-history", params=params)
        assert resp.status_code == 200, resp.text
        data = resp.json()
        points.extend(data.get("metrics", []))
        token = data.get("next_page_token")
        if not token:
            return points
    raise AssertionError("get-history never ended")


def test_kill_9_of_a_server_loses_and_duplicates_nothing_acknowledged(tmp_path: Path) -> None:
    gen = start_cluster(tmp_path / "cluster", 3)
    cluster = next(gen)
    try:
        with cluster.client() as client:
            run = client.post(f"{API}/runs/create", json={"experiment_id": "0"})
            assert run.status_code == 200, run.text
            run_id = run.json()["run"]["info"]["run_id"]
        via = cluster.servers[0]
        env = {
            **client_env(via),
            "MLFLOW_TRACKING_URI": cluster.url,
            **cluster.client_env,
            **RETRIES,
            "DURABLE_RUN_ID": run_id,
            "BATCHES": str(BATCHES),
            "THREADS": str(THREADS),
            "PER_BATCH": str(PER_BATCH),
        }
        victim = cluster.servers[1]
        script = subprocess.Popen(
            [str(client_python("mlflow3")), str(WORKFLOW_DIR / "_durable_log_batch.py")],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        out = script.stdout
        assert out is not None
        reader = threading.Thread(target=lambda: lines.extend(iter(out.readline, "")))
        reader.start()
        killed_at_acks = None
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while script.poll() is None and time.monotonic() < deadline:
                acks = sum(1 for line in list(lines) if line.startswith("ACK"))
                if killed_at_acks is None and acks >= KILL_AFTER:
                    os.kill(victim.process.pid, signal.SIGKILL)
                    victim.process.wait(timeout=10)
                    killed_at_acks = acks
                time.sleep(0.01)
            assert script.poll() is not None, f"the client did not finish in {RUN_TIMEOUT_S} s"
        finally:
            if script.poll() is None:
                script.kill()
            script.wait(timeout=30)
            reader.join(timeout=30)
        stderr = script.stderr.read() if script.stderr else ""
        assert script.returncode == 0, stderr[-4000:]
        assert killed_at_acks is not None, "the client finished before the kill"
        assert killed_at_acks < BATCHES, killed_at_acks

        acked = {int(line.split()[1]) for line in lines if line.startswith("ACK")}
        failed = [line for line in lines if line.startswith("FAIL")]
        assert failed == [], failed[:5]  # the client's retries rode through the kill
        assert acked == set(range(BATCHES))

        with cluster.client() as client:
            points = history(client, run_id)
        steps = Counter(int(p["step"]) for p in points)
        repeated = {s: n for s, n in steps.items() if n > 1}
        assert repeated == {}, f"{len(repeated)} points stored more than once"
        expected = {s for b in acked for s in range(b * PER_BATCH, (b + 1) * PER_BATCH)}
        assert set(steps) == expected, f"{len(expected - set(steps))} acknowledged points lost"
        for p in points:
            assert p["value"] == int(p["step"]) / 2, p
            assert int(p["timestamp"]) == 1_700_000_000_000 + int(p["step"]), p

        # what nginx saw: answers from the killed server before the kill, and the requests
        # that met it dead (a 502 sent back to the client, or a failover to the next server)
        dead = cluster.upstream_of(victim)
        log_batches = [line for line in cluster.access_log() if "/runs/log-batch" in line]
        served = [line for line in log_batches if f"upstream={dead}/200" in line]
        met_dead = [line for line in log_batches if dead in line and f"{dead}/200" not in line]
        print(
            f"log-batch requests: {len(log_batches)} for {BATCHES} batches; answered by the "
            f"killed server: {len(served)}; met it dead (502 or failover): {len(met_dead)}; "
            f"killed after {killed_at_acks} acknowledgements"
        )
        for line in met_dead:
            print("  " + line)
        assert served, "the killed server had answered no log-batch"
        assert met_dead, "no request met the killed server: the kill was not mid-stream"
    finally:
        gen.close()
