"""Metric history: steps, timestamps, de-duplication, latest-value rules, large batches.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import os
import time
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

BIG_HISTORY = 25_500  # more than one 25,000-point page of get-history
T0 = 1_700_000_000_000


def points(client: MlflowClient, run_id: str, key: str) -> list[tuple[float, int, int]]:
    """The metric history as sorted (step, timestamp, value) tuples."""
    return sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key))


def check_steps_and_timestamps(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    for step in range(10):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), timestamp=T0 + step * 1000, step=step)
    hist = client.get_metric_history(run_id, "loss")
    assert len(hist) == 10, f"expected 10 points, got {len(hist)}"
    for metric in hist:
        assert metric.key == "loss", metric.key
        assert metric.timestamp == T0 + metric.step * 1000, metric
        assert metric.value == 1.0 / (metric.step + 1), metric
    assert client.get_run(run_id).data.metrics["loss"] == 0.1

    # the fluent API: default step is 0, default timestamp is "now"
    before = int(time.time() * 1000) - 5000
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("fluent", 3.0)
        mlflow.log_metric("fluent", 4.0, step=4, timestamp=T0)
        mlflow.log_metrics({"fluent_a": 1.0, "fluent_b": 2.0}, step=9)
    (step, ts, value), last = points(client, run_id, "fluent")
    assert step == 0 and value == 3.0 and ts >= before, (step, ts, value)
    assert last == (4, T0, 4.0), last
    assert points(client, run_id, "fluent_a")[0][0] == 9

    assert client.get_metric_history(run_id, "never-logged") == [], "unknown key: empty history"

    # MlflowClient.get_metric_history returns Metric entities with all four fields
    (metric,) = client.get_metric_history(run_id, "fluent_b")
    assert (metric.key, metric.value, metric.step) == ("fluent_b", 2.0, 9), metric


def check_dedup(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=T0, step=1)
    client.log_metric(run_id, "m", 1.0, timestamp=T0, step=1)  # identical point: stored once
    client.log_batch(run_id, metrics=[Metric("m", 1.0, T0, 1)])
    assert points(client, run_id, "m") == [(1, T0, 1.0)], points(client, run_id, "m")

    client.log_metric(run_id, "m", 2.0, timestamp=T0, step=1)  # other value, same step: kept
    client.log_metric(run_id, "m", 1.0, timestamp=T0 + 1, step=1)  # other timestamp: kept
    got = points(client, run_id, "m")
    assert got == [(1, T0, 1.0), (1, T0, 2.0), (1, T0 + 1, 1.0)], got

    client.log_batch(run_id, metrics=[Metric("b", 5.0, T0, 0), Metric("b", 5.0, T0, 0)])
    assert points(client, run_id, "b") == [(0, T0, 5.0)], points(client, run_id, "b")


def check_latest(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    # the latest value is the one with the highest step, not the last logged
    client.log_metric(run_id, "acc", 0.9, timestamp=T0, step=5)
    client.log_metric(run_id, "acc", 0.1, timestamp=T0 + 10_000, step=1)
    assert client.get_run(run_id).data.metrics["acc"] == 0.9, client.get_run(run_id).data.metrics
    # same step: the highest timestamp wins
    client.log_metric(run_id, "ts", 1.0, timestamp=T0 + 200, step=3)
    client.log_metric(run_id, "ts", 2.0, timestamp=T0 + 100, step=3)
    assert client.get_run(run_id).data.metrics["ts"] == 1.0
    # same step and timestamp: the highest value wins
    client.log_metric(run_id, "val", 2.0, timestamp=T0, step=3)
    client.log_metric(run_id, "val", 1.0, timestamp=T0, step=3)
    assert client.get_run(run_id).data.metrics["val"] == 2.0
    # a batch whose last element is not the latest
    client.log_batch(
        run_id,
        metrics=[Metric("bt", 7.0, T0, 7), Metric("bt", 3.0, T0 + 5, 3), Metric("bt", 1.0, T0, 0)],
    )
    assert client.get_run(run_id).data.metrics["bt"] == 7.0
    # search sees the latest value too
    found = client.search_runs([exp_id], filter_string="metrics.acc = 0.9")
    assert [r.info.run_id for r in found] == [run_id], found
    found = client.search_runs([exp_id], filter_string="metrics.acc = 0.1")
    assert list(found) == [], "search must compare against the latest value only"


def check_big_batches(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    # one log_batch call; the client splits it into requests of at most 1000 metrics
    client.log_batch(
        run_id,
        metrics=[Metric("big", float(i), T0 + i, i) for i in range(BIG_HISTORY)],
    )
    hist = client.get_metric_history(run_id, "big")
    assert len(hist) == BIG_HISTORY, f"history has {len(hist)} of {BIG_HISTORY} points"
    assert sorted(m.step for m in hist) == list(range(BIG_HISTORY)), "steps lost or duplicated"
    assert client.get_run(run_id).data.metrics["big"] == float(BIG_HISTORY - 1)

    # many keys at once, mixed with params and tags (split by the client)
    ts = int(time.time() * 1000)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"k{i}": float(i) for i in range(1200)}, step=1)
        mlflow.log_params({f"p{i}": str(i) for i in range(150)})
        mlflow.set_tags({f"t{i}": str(i) for i in range(150)})
    data = client.get_run(run_id).data
    keyed = [k for k in data.metrics if k.startswith("k")]
    assert len(keyed) == 1200, f"{len(keyed)} of 1200 metric keys stored"
    assert len([k for k in data.params if k.startswith("p")]) == 150, len(data.params)
    assert len([k for k in data.tags if k.startswith("t")]) == 150, len(data.tags)
    (point,) = client.get_metric_history(run_id, "k1199")
    assert point.value == 1199.0 and point.step == 1 and point.timestamp >= ts - 5000, point


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp_id = client.create_experiment(f"compat-history-{uuid.uuid4().hex[:12]}")
    mlflow.set_experiment(experiment_id=exp_id)
    check_steps_and_timestamps(client, exp_id)
    check_dedup(client, exp_id)
    check_latest(client, exp_id)
    check_big_batches(client, exp_id)
    print(f"metric_history OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
