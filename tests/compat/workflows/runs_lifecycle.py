"""Run lifecycle: delete/restore runs, writes to deleted runs, experiment delete cascade, errors.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import os
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


def expect_error(code: str, fn, *args, **kwargs) -> MlflowException:
    """Call fn and require an MlflowException carrying the given error code."""
    try:
        fn(*args, **kwargs)
    except MlflowException as exc:
        assert exc.error_code == code, (
            f"{fn.__name__}{args}: expected error {code}, got {exc.error_code}: {exc}"
        )
        return exc
    raise AssertionError(f"{fn.__name__}{args} succeeded, expected MlflowException {code}")


def run_ids(runs) -> set[str]:
    return {r.info.run_id for r in runs}


def check_unknown_ids(client: MlflowClient) -> None:
    missing = "RESOURCE_DOES_NOT_EXIST"
    expect_error(missing, client.get_run, UNKNOWN_RUN)
    expect_error(missing, client.get_run, "not-a-run-id")
    expect_error(missing, client.log_metric, UNKNOWN_RUN, "m", 1.0)
    expect_error(missing, client.log_param, UNKNOWN_RUN, "p", "1")
    expect_error(missing, client.set_tag, UNKNOWN_RUN, "t", "1")
    expect_error(missing, client.delete_tag, UNKNOWN_RUN, "t")
    expect_error(missing, client.log_batch, UNKNOWN_RUN, metrics=[Metric("m", 1.0, 0, 0)])
    expect_error(missing, client.delete_run, UNKNOWN_RUN)
    expect_error(missing, client.restore_run, UNKNOWN_RUN)
    expect_error(missing, client.update_run, UNKNOWN_RUN, status="FINISHED")
    expect_error(missing, client.set_terminated, UNKNOWN_RUN)
    expect_error(missing, client.create_run, "987654321")
    try:
        mlflow.get_run(UNKNOWN_RUN)
    except MlflowException as exc:
        assert exc.error_code == missing, exc.error_code
    else:
        raise AssertionError("mlflow.get_run of an unknown id must fail")


def check_delete_restore_run(client: MlflowClient, exp_id: str) -> None:
    with mlflow.start_run(experiment_id=exp_id, run_name="to-delete") as run:
        mlflow.log_param("p", "1")
        mlflow.log_metric("m", 1.0)
        mlflow.set_tag("t", "1")
    keep = client.create_run(exp_id, run_name="keep").info.run_id
    run_id = run.info.run_id
    client.delete_run(run_id)

    deleted = client.get_run(run_id)  # deleted runs are still readable
    assert deleted.info.lifecycle_stage == "deleted", deleted.info.lifecycle_stage
    assert deleted.data.params == {"p": "1"} and deleted.data.metrics == {"m": 1.0}, deleted.data
    assert deleted.info.status == "FINISHED", "delete must not touch the status"

    assert run_ids(client.search_runs([exp_id])) == {keep}, "ACTIVE_ONLY must hide deleted runs"
    only_deleted = client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert run_ids(only_deleted) == {run_id}, run_ids(only_deleted)
    every = client.search_runs([exp_id], run_view_type=ViewType.ALL)
    assert run_ids(every) == {run_id, keep}, run_ids(every)

    bad = "INVALID_PARAMETER_VALUE"
    expect_error(bad, client.log_metric, run_id, "m", 2.0)
    expect_error(bad, client.log_param, run_id, "p2", "x")
    expect_error(bad, client.set_tag, run_id, "t", "2")
    expect_error(bad, client.delete_tag, run_id, "t")
    expect_error(bad, client.log_batch, run_id, params=[Param("q", "1")], tags=[RunTag("u", "1")])
    expect_error(bad, client.update_run, run_id, status="FAILED")
    expect_error(bad, client.update_run, run_id, name="renamed")
    data = client.get_run(run_id).data
    assert data.params == {"p": "1"} and data.metrics == {"m": 1.0}, "deleted run was modified"
    assert data.tags.get("t") == "1" and "u" not in data.tags, data.tags
    assert client.get_run(run_id).info.run_name == "to-delete"

    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    client.log_metric(run_id, "m", 3.0, step=1)  # writable again
    assert client.get_run(run_id).data.metrics["m"] == 3.0
    assert run_ids(client.search_runs([exp_id])) == {run_id, keep}

    # fluent delete
    with mlflow.start_run(experiment_id=exp_id) as fluent:
        pass
    mlflow.delete_run(fluent.info.run_id)
    assert client.get_run(fluent.info.run_id).info.lifecycle_stage == "deleted"
    client.set_terminated(keep)


def check_experiment_cascade(client: MlflowClient, prefix: str) -> None:
    exp_id = client.create_experiment(f"{prefix}-cascade")
    runs = []
    for i in range(3):
        with mlflow.start_run(experiment_id=exp_id, run_name=f"r{i}") as run:
            mlflow.log_metric("score", float(i))
        runs.append(run.info.run_id)
    client.delete_experiment(exp_id)
    for run_id in runs:
        stage = client.get_run(run_id).info.lifecycle_stage
        assert stage == "deleted", f"run {run_id} of a deleted experiment reads as {stage}"
    assert run_ids(client.search_runs([exp_id])) == set(), "active runs left in deleted exp"
    gone = client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert run_ids(gone) == set(runs), run_ids(gone)
    expect_error("INVALID_PARAMETER_VALUE", client.log_metric, runs[0], "score", 9.0)

    client.restore_experiment(exp_id)
    for run_id in runs:
        stage = client.get_run(run_id).info.lifecycle_stage
        assert stage == "active", f"run {run_id} not restored with its experiment: {stage}"
    assert run_ids(client.search_runs([exp_id])) == set(runs)
    client.log_metric(runs[0], "score", 9.0, step=1)
    assert client.get_run(runs[0]).data.metrics["score"] == 9.0


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    prefix = f"compat-lifecycle-{uuid.uuid4().hex[:12]}"
    exp_id = client.create_experiment(prefix)
    mlflow.set_experiment(experiment_id=exp_id)
    check_unknown_ids(client)
    check_delete_restore_run(client, exp_id)
    check_experiment_cascade(client, prefix)
    print(f"runs_lifecycle OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
