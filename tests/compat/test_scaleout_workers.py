"""Background jobs in the reference deployment: two ``cairn server --no-worker`` processes behind
nginx only enqueue, two ``cairn worker`` processes run the jobs, and ``kill -9`` of a worker in
the middle of its work loses nothing: the jobs it held are run by the other worker once their
lease has lapsed, and each effect happens once.

The jobs are webhook deliveries to a real receiver on loopback (tests/webhook_receiver.py),
made from registered models created through the balancer. The receiver answers each delivery
after a second, so the worker is killed while it has a request out. That delivery reaches the
receiver twice (the dead worker's attempt, then the other worker's), with the same
``X-MLflow-Delivery-Id``: the id a receiver de-duplicates by, which is what "once" means for a
side effect outside the database.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.balancer import Cluster, start_cluster
from tests.webhook_receiver import Reply, receiving

API = "/api/2.0/mlflow"
SECRET = "the receiver's shared secret"
MODELS = 16
REPLY_DELAY_S = 1.0
LEASE_S = 3
"""CAIRN_JOB_LEASE_SECONDS for every process: a dead worker's jobs are free 3 s on."""
WEBHOOK_TIMEOUT_S = 2
"""A delivery's own claim lasts 3 × this + 30 s (services/webhook_delivery.py): the other
worker's attempt comes that long after the dead worker's began, so the wait below allows it."""
SETTINGS = {
    "CAIRN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "CAIRN_JOB_LEASE_SECONDS": str(LEASE_S),
    "CAIRN_WEBHOOK_TIMEOUT": str(WEBHOOK_TIMEOUT_S),
}
KILL_WAIT_S = 60.0
DONE_WAIT_S = 120.0
POLL_S = 0.05

pytestmark = [pytest.mark.compat, pytest.mark.postgres]


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.status_code} {resp.text[:300]}"
    return resp.json()


def running(client: httpx.Client) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {
        "kind": "webhook.deliver",
        "state": "running",
        "max_results": 100,
    }
    jobs: list[dict[str, Any]] = ok(client.get("/api/v1/jobs", params=params))["jobs"]
    return jobs


def all_jobs(client: httpx.Client) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"kind": "webhook.deliver", "max_results": 100}
    jobs: list[dict[str, Any]] = ok(client.get("/api/v1/jobs", params=params))["jobs"]
    return jobs


def until(what: str, seconds: float, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s", pytrace=False)
        time.sleep(POLL_S)


def test_kill_9_of_a_worker_hands_its_jobs_to_the_other_once(tmp_path: Path) -> None:
    gen = start_cluster(tmp_path / "cluster", 2, extra_env=SETTINGS, workers=2)
    cluster: Cluster = next(gen)
    try:
        victim, survivor = cluster.workers
        with (
            receiving(SECRET) as receiver,
            cluster.client() as client,
        ):
            receiver.default = Reply(delay_s=REPLY_DELAY_S)
            hook = ok(
                client.post(
                    "/api/v1/webhooks",
                    json={"name": "workers", "url": receiver.url, "secret": SECRET,
                          "events": ["registered_model.created"]},
                ),
                201,
            )  # fmt: skip
            hook_id = hook["webhook_id"]
            names = [f"model-{i}" for i in range(MODELS)]
            for name in names:
                ok(client.post(f"{API}/registered-models/create", json={"name": name}))

            # who runs what: every running delivery job, polled; the victim is killed as soon
            # as it is seen holding one (its request is then out to the slow receiver)
            owners: dict[int, set[str]] = defaultdict(set)
            held: list[dict[str, Any]] = []

            def look() -> list[dict[str, Any]]:
                jobs = running(client)
                for job in jobs:
                    owners[int(job["id"])].add(str(job["lease_owner"]))
                return jobs

            def victim_mid_attempt() -> bool:
                mine = [j for j in look() if j["lease_owner"] == victim.owner]
                out = {r.headers["x-mlflow-delivery-id"] for r in list(receiver.received)}
                if any(str(j["payload"]["delivery_id"]) in out for j in mine):
                    held.extend(mine)  # it holds these, and one's request has reached us
                    return True
                return False

            until("a delivery of the first worker's at the receiver", KILL_WAIT_S,
                  victim_mid_attempt)  # fmt: skip
            os.kill(victim.process.pid, signal.SIGKILL)
            victim.process.wait(timeout=30)
            killed_at = time.monotonic()
            held_ids = {int(j["id"]) for j in held}
            held_deliveries = {str(j["payload"]["delivery_id"]) for j in held}

            deliveries_path = f"/api/v1/webhooks/{hook_id}/deliveries"

            def delivered() -> bool:
                look()
                found = ok(client.get(deliveries_path, params={"max_results": 100}))
                states = [d["state"] for d in found["deliveries"]]
                return len(states) == MODELS and set(states) == {"succeeded"}

            until("every delivery succeeded", DONE_WAIT_S, delivered)
            recovered_after = time.monotonic() - killed_at
            deliveries = ok(client.get(deliveries_path, params={"max_results": 100}))
            jobs = all_jobs(client)
            received = list(receiver.received)

        # run by the workers only (the servers run --no-worker), the dead one's by the other
        workers = {victim.owner, survivor.owner}
        seen = set().union(*owners.values())
        assert seen <= workers, seen - workers
        for job_id in held_ids:
            assert survivor.owner in owners[job_id], (job_id, owners[job_id])

        # every job done, once; the ones the dead worker held took another attempt
        assert len(jobs) == MODELS
        assert {j["state"] for j in jobs} == {"succeeded"}
        by_id = {int(j["id"]): j for j in jobs}
        for job_id in held_ids:
            assert by_id[job_id]["attempts"] >= 2, by_id[job_id]

        # each model's event delivered under one delivery id, every delivery received
        recorded = {d["delivery_id"]: d for d in deliveries["deliveries"]}
        assert len(recorded) == MODELS
        ids_per_name: dict[str, set[str]] = defaultdict(set)
        for request in received:
            assert request.signature_ok is True
            ids_per_name[request.json()["data"]["name"]].add(
                request.headers["x-mlflow-delivery-id"]
            )
        assert sorted(ids_per_name) == sorted(names)
        assert all(len(ids) == 1 for ids in ids_per_name.values()), ids_per_name
        arrivals = Counter(r.headers["x-mlflow-delivery-id"] for r in received)
        assert set(arrivals) == set(recorded)
        repeated = {d for d, n in arrivals.items() if n > 1}
        # what came twice: what the dead worker had out (one at least), or an attempt that
        # failed on record (a receiver too slow for the timeout on a loaded machine)
        failed_once = {
            d for d, rec in recorded.items() if any(a["error"] for a in rec["attempt_log"])
        }
        assert repeated <= held_deliveries | failed_once, (repeated, held_deliveries)
        assert repeated & held_deliveries, "the killed worker had no request out"
        assert all(n <= 2 for i, n in arrivals.items() if i not in failed_once), arrivals
        print(
            f"killed {victim.owner} holding {sorted(held_ids)}; all {MODELS} deliveries "
            f"succeeded {recovered_after:.1f} s later; sent twice: {len(repeated)}"
        )
    finally:
        gen.close()
