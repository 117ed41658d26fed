"""Webhooks delivered by a live `cairn server`'s own job engine, from the change it records to
a receiver on 127.0.0.1 that checks MLflow's signature: nothing but the server runs (no test
drives the outbox or the attempts). A delivery that is still owed when the server is killed
with SIGKILL arrives after its restart."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.server import CairnServer, start_server
from tests.conftest import BACKENDS
from tests.databases import fresh_postgres_database
from tests.webhook_receiver import Receiver, Reply, receiving

SECRET = "the receiver's shared secret"
SETTINGS = {
    "CAIRN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "CAIRN_SECRET_KEY": "a secret key for the live webhook tests",
}
WAIT_S = 60.0


def _wait(what: str, done: Callable[[], bool], seconds: float = WAIT_S) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s", pytrace=False)
        time.sleep(0.1)


@contextlib.contextmanager
def _server(backend: str, uri: str, workdir: Path) -> Iterator[CairnServer]:
    runs = start_server(backend, uri, workdir, extra_env=SETTINGS)
    try:
        yield next(runs)
    finally:
        runs.close()


@contextlib.contextmanager
def _store(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'cairn.db'}"
    else:
        with fresh_postgres_database() as uri:
            yield uri


def _hook(client: httpx.Client, receiver: Receiver, events: list[str]) -> str:
    body = {"name": "live", "url": receiver.url, "events": events, "secret": SECRET}
    answer = client.post("/api/v1/webhooks", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["webhook_id"])


def _model_created(receiver: Receiver) -> list[Any]:
    return [
        r
        for r in receiver.received
        if r.json().get("entity") == "registered_model" and r.json().get("action") == "created"
    ]


def _owed(client: httpx.Client) -> bool:
    """The one delivery is recorded as pending after its first attempt, and its job waits."""
    hooks = client.get("/api/v1/webhooks").json()["webhooks"]
    deliveries = client.get(f"/api/v1/webhooks/{hooks[0]['webhook_id']}/deliveries").json()
    recorded = [(d["state"], d["attempts"]) for d in deliveries["deliveries"]]
    waiting = client.get("/api/v1/jobs", params={"kind": "webhook.deliver", "state": "pending"})
    return recorded == [("pending", 1)] and len(waiting.json()["jobs"]) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_registered_model_reaches_the_receiver_signed(backend: str, tmp_path: Path) -> None:
    with (
        receiving(SECRET) as receiver,
        _store(backend, tmp_path) as uri,
        _server(backend, uri, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        _hook(client, receiver, ["registered_model.created", "model_version.created"])
        made = client.post("/api/2.0/mlflow/registered-models/create", json={"name": "churn"})
        assert made.status_code == 200, made.text
        _wait("the delivery of registered_model.created", lambda: bool(_model_created(receiver)))
        (delivery,) = _model_created(receiver)
        assert delivery.signature_ok is True
        assert delivery.json()["data"]["name"] == "churn"
        assert delivery.headers["x-mlflow-delivery-id"]
        # the delivery log has it, succeeded, once the server has read the receiver's answer
        # (the receiver sees the request before the server records how it went)
        hooks = client.get("/api/v1/webhooks").json()["webhooks"]
        deliveries = f"/api/v1/webhooks/{hooks[0]['webhook_id']}/deliveries"

        def states() -> set[str]:
            return {d["state"] for d in client.get(deliveries).json()["deliveries"]}

        _wait("the delivery recorded as succeeded", lambda: states() == {"succeeded"})


def test_a_delivery_owed_at_kill_9_arrives_after_the_restart(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'cairn.db'}"
    with receiving(SECRET) as receiver:
        # the first attempt is told to come back later: the delivery is then owed
        receiver.reply(Reply(status=503, headers={"Retry-After": "3"}))
        with (
            _server("sqlite", uri, tmp_path) as server,
            httpx.Client(base_url=server.url, timeout=30) as client,
        ):
            _hook(client, receiver, ["registered_model.created"])
            made = client.post("/api/2.0/mlflow/registered-models/create", json={"name": "m"})
            assert made.status_code == 200, made.text
            _wait("the first attempt", lambda: len(_model_created(receiver)) == 1)
            # owed: the server has recorded the 503 and put the delivery's job back to wait
            # (killed mid-attempt instead, the attempt's lease, not the restart, frees it)
            _wait("the delivery owed", lambda: _owed(client))
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=30)
        assert len(_model_created(receiver)) == 1
        with _server("sqlite", uri, tmp_path):
            _wait("the attempt after the restart", lambda: len(_model_created(receiver)) >= 2)
        first, again = _model_created(receiver)[:2]
        assert again.signature_ok is True
        # the same delivery, tried again: the receiver can de-duplicate by its id
        assert again.headers["x-mlflow-delivery-id"] == first.headers["x-mlflow-delivery-id"]


def test_a_metric_alert_fires_and_resolves_to_the_receiver(tmp_path: Path) -> None:
    """The whole chain on a live server: logged points, the alerts consumer, the alert's
    events, the webhooks consumer, the signed delivery."""
    uri = f"sqlite:///{tmp_path / 'cairn.db'}"
    with (
        receiving(SECRET) as receiver,
        _server("sqlite", uri, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        _hook(client, receiver, ["alert.fired", "alert.resolved"])
        eid = client.post("/api/2.0/mlflow/experiments/create", json={"name": "watched"})
        experiment = eid.json()["experiment_id"]
        rule = {"name": "loss high", "experiment_id": experiment, "kind": "threshold",
                "metric": "val_loss", "op": ">", "value": 0.5}  # fmt: skip
        made = client.post("/api/v1/alerts/rules", json=rule)
        assert made.status_code == 201, made.text
        run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment})
        run_id = run.json()["run"]["info"]["run_id"]

        def log(value: float, step: int) -> None:
            point = {"run_id": run_id, "key": "val_loss", "value": value,
                     "timestamp": 1_700_000_000_000 + step, "step": step}  # fmt: skip
            answer = client.post("/api/2.0/mlflow/runs/log-metric", json=point)
            assert answer.status_code == 200, answer.text

        def actions() -> list[str]:
            return [r.json()["action"] for r in receiver.received if r.json()["entity"] == "alert"]

        log(0.9, 0)
        _wait("the alert.fired delivery", lambda: actions() == ["fired"])
        fired = receiver.received[0].json()["data"]
        assert (fired["subject_id"], fired["rule_name"]) == (run_id, "loss high")
        log(0.2, 1)
        _wait("the alert.resolved delivery", lambda: actions() == ["fired", "resolved"])
        assert all(r.signature_ok for r in receiver.received)
        firing = client.get("/api/v1/alerts", params={"state": "firing"}).json()
        assert firing["alerts"] == []
