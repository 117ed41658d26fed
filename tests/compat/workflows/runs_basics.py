"""Runs: start/end, names, nesting, params/metrics/tags, batch logging, renaming.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import os
import time
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException

RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"


def now_ms() -> int:
    return int(time.time() * 1000)


def check_fluent_run(exp_id: str) -> str:
    before = now_ms() - 5000
    with mlflow.start_run(experiment_id=exp_id, run_name="fluent-run") as run:
        run_id = run.info.run_id
        assert len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id), run_id
        assert run.info.run_name == "fluent-run", run.info.run_name
        assert run.info.status == "RUNNING", run.info.status
        assert run.info.lifecycle_stage == "active", run.info.lifecycle_stage
        assert run.info.experiment_id == exp_id, (run.info.experiment_id, exp_id)
        assert run.info.start_time >= before, (run.info.start_time, before)
        assert run.info.artifact_uri, "artifact_uri must be set"
        mlflow.log_param("lr", 0.01)
        mlflow.log_param("layers", 3)
        mlflow.log_params({"optimizer": "adam", "dropout": 0.5})
        mlflow.log_metric("loss", 1.5)
        mlflow.log_metric("loss", 1.0, step=1)
        mlflow.log_metric("acc", 0.7, step=0, timestamp=1_700_000_000_000)
        mlflow.log_metrics({"f1": 0.4, "recall": 0.3}, step=2)
        mlflow.set_tag("team", "core")
        mlflow.set_tags({"stage": "dev", "empty": ""})
    data = mlflow.get_run(run_id)
    info = data.info
    assert info.status == "FINISHED", info.status
    assert info.end_time and info.end_time >= info.start_time, (info.end_time, info.start_time)
    params = data.data.params
    assert params == {"lr": "0.01", "layers": "3", "optimizer": "adam", "dropout": "0.5"}, params
    metrics = data.data.metrics
    assert metrics == {"loss": 1.0, "acc": 0.7, "f1": 0.4, "recall": 0.3}, metrics
    tags = data.data.tags
    assert tags.get("team") == "core" and tags.get("stage") == "dev", tags
    assert tags.get("empty") == "", f"empty tag value must round-trip: {tags}"
    assert tags.get(RUN_NAME_TAG) == "fluent-run", tags
    assert "mlflow.user" in tags and "mlflow.source.name" in tags, tags
    assert info.user_id == tags["mlflow.user"], (info.user_id, tags["mlflow.user"])
    assert data.info.run_id == run_id, data.info
    return run_id


def check_generated_name(client: MlflowClient, exp_id: str) -> None:
    run = client.create_run(exp_id)
    name = run.info.run_name
    assert name, "a run created without a name must get one"
    assert run.data.tags.get(RUN_NAME_TAG) == name, (run.data.tags, name)
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == name and fetched.data.tags.get(RUN_NAME_TAG) == name
    client.set_terminated(run.info.run_id)
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


def check_status_and_end(client: MlflowClient, exp_id: str) -> None:
    run = mlflow.start_run(experiment_id=exp_id, run_name="will-fail")
    mlflow.end_run(status="FAILED")
    assert client.get_run(run.info.run_id).info.status == "FAILED"

    try:
        with mlflow.start_run(experiment_id=exp_id, run_name="raises") as run:
            raise KeyError("boom")
    except KeyError:
        pass
    assert client.get_run(run.info.run_id).info.status == "FAILED", "exception must mark FAILED"

    run = client.create_run(exp_id, run_name="killed", start_time=1_600_000_000_000)
    assert run.info.start_time == 1_600_000_000_000, run.info.start_time
    client.set_terminated(run.info.run_id, status="KILLED", end_time=1_600_000_100_000)
    info = client.get_run(run.info.run_id).info
    assert info.status == "KILLED" and info.end_time == 1_600_000_100_000, info

    run = client.create_run(exp_id, run_name="scheduled")
    client.update_run(run.info.run_id, status="SCHEDULED")
    assert client.get_run(run.info.run_id).info.status == "SCHEDULED"
    client.update_run(run.info.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
    assert client.get_run(run.info.run_id).info.status == "RUNNING"
    client.set_terminated(run.info.run_id)


def check_nested(client: MlflowClient, exp_id: str) -> None:
    with mlflow.start_run(experiment_id=exp_id, run_name="parent") as parent:
        child_ids = []
        for fold in range(3):
            with mlflow.start_run(run_name=f"child-{fold}", nested=True) as child:
                mlflow.log_metric("fold_score", fold / 10)
                child_ids.append(child.info.run_id)
        with mlflow.start_run(run_name="grandparent-check", nested=True) as mid:
            with mlflow.start_run(run_name="grandchild", nested=True) as grandchild:
                pass
    for cid in child_ids:
        tags = client.get_run(cid).data.tags
        assert tags.get(PARENT_TAG) == parent.info.run_id, f"child {cid} tags: {tags}"
    gc_tags = client.get_run(grandchild.info.run_id).data.tags
    assert gc_tags.get(PARENT_TAG) == mid.info.run_id, gc_tags
    assert PARENT_TAG not in client.get_run(parent.info.run_id).data.tags
    found = client.search_runs(
        [exp_id], filter_string=f"tags.{PARENT_TAG} = '{parent.info.run_id}'"
    )
    assert sorted(r.info.run_id for r in found) == sorted(child_ids + [mid.info.run_id]), found
    # explicit parent_run_id
    with mlflow.start_run(experiment_id=exp_id, parent_run_id=parent.info.run_id) as late:
        pass
    assert client.get_run(late.info.run_id).data.tags.get(PARENT_TAG) == parent.info.run_id


def check_client_logging(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id, tags={"origin": "client"}).info.run_id
    client.log_param(run_id, "p", "v")
    client.log_param(run_id, "empty", "")
    client.log_metric(run_id, "m", 2.5, timestamp=1_700_000_000_123, step=7)
    client.log_metric(run_id, "epoch0", 1.0, timestamp=0, step=0)
    client.set_tag(run_id, "t", "1")
    client.set_tag(run_id, "t", "2")  # tags are mutable
    client.set_tag(run_id, "gone", "x")
    client.delete_tag(run_id, "gone")
    ts = now_ms()
    client.log_batch(
        run_id,
        metrics=[Metric("bm", 0.1, ts, 0), Metric("bm", 0.2, ts + 1, 1), Metric("bx", -3, ts, 0)],
        params=[Param("bp1", "a"), Param("bp2", "b")],
        tags=[RunTag("bt", "c"), RunTag("t", "3")],
    )
    client.log_batch(run_id)  # empty batch is fine
    run = client.get_run(run_id)
    assert run.data.params == {"p": "v", "empty": "", "bp1": "a", "bp2": "b"}, run.data.params
    assert run.data.metrics == {"m": 2.5, "epoch0": 1.0, "bm": 0.2, "bx": -3.0}, run.data.metrics
    assert client.get_metric_history(run_id, "epoch0")[0].timestamp == 0, "timestamp 0 lost"
    tags = run.data.tags
    assert tags.get("t") == "3" and tags.get("bt") == "c" and tags.get("origin") == "client", tags
    assert "gone" not in tags, f"deleted tag still present: {tags}"
    try:
        client.delete_tag(run_id, "never-set")
    except MlflowException as exc:
        assert exc.error_code == "RESOURCE_DOES_NOT_EXIST", exc.error_code
    else:
        raise AssertionError("delete_tag of a missing tag must fail")
    hist = client.get_metric_history(run_id, "m")
    assert [(h.value, h.timestamp, h.step) for h in hist] == [(2.5, 1_700_000_000_123, 7)], hist
    client.set_terminated(run_id)


def check_rename(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id, run_name="before").info.run_id
    client.update_run(run_id, name="after")
    run = client.get_run(run_id)
    assert run.info.run_name == "after", run.info.run_name
    assert run.data.tags.get(RUN_NAME_TAG) == "after", run.data.tags
    assert run.info.status == "RUNNING", f"rename must not change status: {run.info.status}"

    client.set_tag(run_id, RUN_NAME_TAG, "via-tag")
    run = client.get_run(run_id)
    assert run.info.run_name == "via-tag", f"set_tag runName must rename: {run.info.run_name}"
    found = client.search_runs([exp_id], filter_string="attributes.run_name = 'via-tag'")
    assert [r.info.run_id for r in found] == [run_id], found
    client.set_terminated(run_id)
    client.update_run(run_id, name="after-end")
    run = client.get_run(run_id)
    assert run.info.run_name == "after-end" and run.info.status == "FINISHED", run.info
    # unicode run names round-trip and are searchable
    uni = client.create_run(exp_id, run_name="ラン ✓ (1)").info.run_id
    assert client.get_run(uni).info.run_name == "ラン ✓ (1)", client.get_run(uni).info.run_name
    found = client.search_runs([exp_id], filter_string="attributes.run_name = 'ラン ✓ (1)'")
    assert [r.info.run_id for r in found] == [uni], found
    # run names need not be unique
    dup = client.create_run(exp_id, run_name="after-end").info.run_id
    assert client.get_run(dup).info.run_name == "after-end"


def check_active_run_resume(client: MlflowClient, exp_id: str, run_id: str) -> None:
    with mlflow.start_run(run_id=run_id) as run:
        assert run.info.run_id == run_id
        assert run.info.status == "RUNNING", "resuming a run marks it RUNNING"
        mlflow.log_metric("resumed", 1.0)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.metrics.get("resumed") == 1.0, run
    assert run.info.experiment_id == exp_id


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp_id = client.create_experiment(f"compat-runs-{uuid.uuid4().hex[:12]}")
    # 2.22 starts nested runs in the active experiment, not the parent's: pin it
    mlflow.set_experiment(experiment_id=exp_id)
    run_id = check_fluent_run(exp_id)
    check_generated_name(client, exp_id)
    check_status_and_end(client, exp_id)
    check_nested(client, exp_id)
    check_client_logging(client, exp_id)
    check_rename(client, exp_id)
    check_active_run_resume(client, exp_id, run_id)
    print(f"runs_basics OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
