"""``kill -9`` of one of three servers behind nginx while the stock client logs batches: every
batch the client saw acknowledged is stored, each point exactly once. On PostgreSQL and on
MariaDB (a fresh database each).

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

from tests.compat.balancer import CLUSTER_BACKENDS, Cluster, start_cluster
from tests.compat.server import CairnServer
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

pytestmark = pytest.mark.compat


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


def kill_during(
    cluster: Cluster,
    victim: CairnServer,
    script: str,
    env: dict[str, str],
    kill_after: int,
    cwd: Path,
) -> tuple[list[str], int]:
    """Run workflow ``script`` with the stock 3.x client against the balancer and kill
    ``victim`` with SIGKILL once the script has printed ``kill_after`` ``ACK`` lines; the
    script's output lines and the acknowledgements counted at the kill."""
    full_env = {
        **client_env(victim),
        "MLFLOW_TRACKING_URI": cluster.url,
        **cluster.client_env,
        **RETRIES,
        **env,
    }
    process = subprocess.Popen(
        [str(client_python("mlflow3")), str(WORKFLOW_DIR / script)],
        cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    out = process.stdout
    assert out is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(out.readline, "")))
    reader.start()
    killed_at_acks = None
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            acks = sum(1 for line in list(lines) if line.startswith("ACK"))
            if killed_at_acks is None and acks >= kill_after:
                os.kill(victim.process.pid, signal.SIGKILL)
                victim.process.wait(timeout=10)
                killed_at_acks = acks
            time.sleep(0.01)
        assert process.poll() is not None, f"the client did not finish in {RUN_TIMEOUT_S} s"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        reader.join(timeout=30)
    stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, stderr[-4000:]
    assert killed_at_acks is not None, f"the client finished before the kill: {lines[-5:]}"
    failed = [line for line in lines if line.startswith("FAIL")]
    # The client's retries ride through the kill, but for a request whose answer the dead
    # server had begun to send: nginx cannot take back a response it started to relay, and
    # the stock client does not retry a response cut off mid-body. Such a request was never
    # acknowledged (the callers check that every acknowledged change is there); at most one
    # per client thread can be in flight when the server dies.
    cut_off = [line for line in failed if any(m in line for m in IN_FLIGHT_ERRORS)]
    assert failed == cut_off, failed[:5]
    assert len(cut_off) <= MAX_IN_FLIGHT, cut_off
    return lines, killed_at_acks


IN_FLIGHT_ERRORS = (
    "IncompleteRead",
    "Connection broken",
    "RemoteDisconnected",
    "Connection aborted",
)
MAX_IN_FLIGHT = THREADS
"""The most client threads any workflow here runs at once."""


def met_dead(cluster: Cluster, victim: CairnServer, path: str) -> tuple[list[str], list[str]]:
    """nginx's lines for ``path``: answered by the killed server, and those that met it dead
    (a 502 sent back to the client, or a failover to the next server)."""
    dead = cluster.upstream_of(victim)
    lines = [line for line in cluster.access_log() if path in line]
    served = [line for line in lines if f"upstream={dead}/200" in line]
    dead_lines = [line for line in lines if dead in line and f"{dead}/200" not in line]
    return served, dead_lines


@pytest.mark.parametrize("backend", CLUSTER_BACKENDS)
def test_kill_9_of_a_server_loses_and_duplicates_nothing_acknowledged(
    backend: str, tmp_path: Path
) -> None:
    gen = start_cluster(tmp_path / "cluster", 3, backend)
    cluster = next(gen)
    try:
        with cluster.client() as client:
            run = client.post(f"{API}/runs/create", json={"experiment_id": "0"})
            assert run.status_code == 200, run.text
            run_id = run.json()["run"]["info"]["run_id"]
        victim = cluster.servers[1]
        env = {
            "DURABLE_RUN_ID": run_id,
            "BATCHES": str(BATCHES),
            "THREADS": str(THREADS),
            "PER_BATCH": str(PER_BATCH),
        }
        lines, killed_at_acks = kill_during(
            cluster, victim, "_durable_log_batch.py", env, KILL_AFTER, tmp_path
        )
        assert killed_at_acks < BATCHES, killed_at_acks
        acked = {int(line.split()[1]) for line in lines if line.startswith("ACK")}
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

        served, dead = met_dead(cluster, victim, "/runs/log-batch")
        print(
            f"{backend}: log-batch answered by the killed server: {len(served)}; met it dead "
            f"(502 or failover): {len(dead)}; killed after {killed_at_acks} acknowledgements"
        )
        for line in dead:
            print("  " + line)
        assert served, "the killed server had answered no log-batch"
        assert dead, "no request met the killed server: the kill was not mid-stream"
    finally:
        gen.close()


REGISTRY_OPS = 90
REGISTRY_KILL_AFTER = 20


@pytest.mark.parametrize("backend", CLUSTER_BACKENDS)
def test_kill_9_of_a_server_under_registry_changes_loses_nothing_acknowledged(
    backend: str, tmp_path: Path
) -> None:
    """The stock client creates model versions, sets aliases and tags from three threads while
    one of three servers is killed: every acknowledged version, alias and tag is there, each
    alias and tag once. A version whose create was retried after the dead server had committed
    it exists twice (the client kept the second, as with MLflow): never more often than
    creates met the dead server."""
    gen = start_cluster(tmp_path / "cluster", 3, backend)
    cluster = next(gen)
    try:
        name = "durable"
        with cluster.client() as client:
            made = client.post(f"{API}/registered-models/create", json={"name": name})
            assert made.status_code == 200, made.text
        victim = cluster.servers[1]
        env = {"DURABLE_MODEL": name, "OPS": str(REGISTRY_OPS), "THREADS": str(THREADS)}
        lines, killed_at_acks = kill_during(
            cluster, victim, "_durable_registry.py", env, REGISTRY_KILL_AFTER, tmp_path
        )
        assert killed_at_acks < REGISTRY_OPS, killed_at_acks
        acked = {int(w[1]): w[2] for w in (line.split() for line in lines) if w[0] == "ACK"}
        assert set(acked) == set(range(REGISTRY_OPS))

        with cluster.client() as client:
            versions = model_versions(client, name)
            model = client.get(f"{API}/registered-models/get", params={"name": name})
            assert model.status_code == 200, model.text
        aliases = model.json()["registered_model"].get("aliases", [])
        numbers = [v["version"] for v in versions]
        assert len(set(numbers)) == len(numbers), "a version number given twice"
        tags = {v["version"]: {t["key"]: t["value"] for t in v.get("tags", [])} for v in versions}
        per_op = Counter(t.get("op") for t in tags.values())
        assert set(per_op) == {str(i) for i in range(REGISTRY_OPS)}, "an acknowledged version lost"
        for i, version in acked.items():
            assert tags[version] == {"op": str(i), "aliased": f"a{i}"}, (i, version, tags[version])
        alias_map = {a["alias"]: a["version"] for a in aliases}
        assert len(aliases) == REGISTRY_OPS == len(alias_map)
        assert alias_map == {f"a{i}": version for i, version in acked.items()}

        served, dead = met_dead(cluster, victim, "/model-versions/create")
        _, dead_any = met_dead(cluster, victim, "/api/2.0/mlflow/")
        extra = sum(n - 1 for n in per_op.values())
        print(
            f"{backend}: {len(versions)} versions for {REGISTRY_OPS} operations; creates met "
            f"the dead server {len(dead)} times; requests that did: {len(dead_any)}; "
            f"killed after {killed_at_acks} acknowledgements"
        )
        assert extra <= len(dead), (extra, dead)
        assert dead_any, "no request met the killed server: the kill was not mid-stream"
    finally:
        gen.close()


def model_versions(client: httpx.Client, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    for _ in range(100):
        params: dict[str, Any] = {"filter": f"name='{name}'", "max_results": 200}
        if token:
            params["page_token"] = token
        resp = client.get(f"{API}/model-versions/search", params=params)
        assert resp.status_code == 200, resp.text
        data = resp.json()
        found.extend(data.get("model_versions", []))
        token = data.get("next_page_token")
        if not token:
            return found
    raise AssertionError("model-versions/search never ended")
