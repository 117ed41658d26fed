"""Experiments: create, get, get_by_name, rename, tags, delete, restore and their errors.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import os
import time
import uuid

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


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


def check_default_experiment(client: MlflowClient) -> None:
    default = client.get_experiment("0")
    assert default.name == "Default", f"experiment 0 should be 'Default', got {default.name!r}"
    assert default.lifecycle_stage == "active", default.lifecycle_stage


def check_create_and_get(client: MlflowClient, prefix: str) -> str:
    name = f"{prefix}-main"
    before = int(time.time() * 1000) - 5000
    exp_id = client.create_experiment(name, tags={"team": "core", "purpose": "compat"})
    assert isinstance(exp_id, str) and exp_id, f"experiment id must be a non-empty str: {exp_id!r}"

    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id, (exp.experiment_id, exp_id)
    assert exp.name == name, (exp.name, name)
    assert exp.lifecycle_stage == "active", exp.lifecycle_stage
    assert exp.tags.get("team") == "core", f"tags not returned by get_experiment: {exp.tags}"
    assert exp.tags.get("purpose") == "compat", exp.tags
    assert exp.artifact_location, "artifact_location must be set"
    assert exp.creation_time and exp.creation_time >= before, (exp.creation_time, before)
    assert exp.last_update_time and exp.last_update_time >= exp.creation_time, (
        exp.last_update_time,
        exp.creation_time,
    )

    by_name = client.get_experiment_by_name(name)
    assert by_name is not None, f"get_experiment_by_name({name!r}) returned None"
    assert by_name.experiment_id == exp_id, (by_name.experiment_id, exp_id)
    assert by_name.tags.get("team") == "core", by_name.tags

    fluent = mlflow.get_experiment_by_name(name)
    assert fluent is not None and fluent.experiment_id == exp_id, fluent
    return exp_id


def check_set_experiment(prefix: str) -> None:
    name = f"{prefix}-fluent"
    exp = mlflow.set_experiment(name)  # get-by-name 404 -> create -> get
    assert exp.name == name and exp.lifecycle_stage == "active", exp
    again = mlflow.set_experiment(name)  # now found by name
    assert again.experiment_id == exp.experiment_id, (again.experiment_id, exp.experiment_id)
    by_id = mlflow.set_experiment(experiment_id=exp.experiment_id)
    assert by_id.name == name, by_id.name
    with mlflow.start_run() as run:
        assert run.info.experiment_id == exp.experiment_id, run.info.experiment_id


def check_errors(client: MlflowClient, prefix: str, exp_id: str) -> None:
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_experiment, f"{prefix}-main")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment, "987654321")
    missing = client.get_experiment_by_name(f"{prefix}-does-not-exist")
    assert missing is None, f"unknown name should give None, got {missing}"
    expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_experiment, "987654321")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.rename_experiment, "987654321", f"{prefix}-x")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.set_experiment_tag, "987654321", "k", "v")
    expect_error("INVALID_PARAMETER_VALUE", client.create_experiment, "")
    expect_error("INVALID_PARAMETER_VALUE", client.create_experiment, "n" * 600)
    expect_error("INVALID_PARAMETER_VALUE", client.set_experiment_tag, exp_id, "a/../b", "v")
    # names are free text: unicode, spaces, slashes and query characters round-trip
    for name in (f"{prefix}-日本語 ✓", f"{prefix} a b/c?d=e&f#g%20"):
        new_id = client.create_experiment(name)
        assert client.get_experiment(new_id).name == name, client.get_experiment(new_id).name
        found = client.get_experiment_by_name(name)
        assert found is not None and found.experiment_id == new_id, (name, found)
    # renaming onto an existing name is refused
    other = client.create_experiment(f"{prefix}-other")
    exc = None
    try:
        client.rename_experiment(other, f"{prefix}-main")
    except MlflowException as e:
        exc = e
    assert exc is not None, "renaming onto an existing experiment name must fail"
    assert client.get_experiment(other).name == f"{prefix}-other"
    assert client.get_experiment(exp_id).name == f"{prefix}-main"


def check_tags(client: MlflowClient, exp_id: str) -> None:
    client.set_experiment_tag(exp_id, "stage", "dev")
    client.set_experiment_tag(exp_id, "stage", "prod")  # overwrite
    client.set_experiment_tag(exp_id, "note", "x" * 5000)
    tags = client.get_experiment(exp_id).tags
    assert tags.get("stage") == "prod", f"tag overwrite failed: {tags}"
    assert tags.get("note") == "x" * 5000, "long experiment tag value not stored verbatim"
    assert tags.get("team") == "core", tags
    if hasattr(client, "delete_experiment_tag"):  # the client has it from 3.2 on (not 3.1.4)
        client.delete_experiment_tag(exp_id, "stage")
        tags = client.get_experiment(exp_id).tags
        assert "stage" not in tags, f"delete_experiment_tag did not remove tag: {tags}"
        assert tags.get("team") == "core", tags


def check_rename(client: MlflowClient, prefix: str, exp_id: str) -> None:
    old = client.get_experiment(exp_id)
    time.sleep(0.01)
    client.rename_experiment(exp_id, f"{prefix}-renamed")
    exp = client.get_experiment(exp_id)
    assert exp.name == f"{prefix}-renamed", exp.name
    assert exp.last_update_time >= old.last_update_time, (exp.last_update_time, old)
    assert client.get_experiment_by_name(f"{prefix}-main") is None, "old name still resolves"
    found = client.get_experiment_by_name(f"{prefix}-renamed")
    assert found is not None and found.experiment_id == exp_id, found
    # the old name is free again
    new_id = client.create_experiment(f"{prefix}-main")
    assert new_id != exp_id, (new_id, exp_id)


def check_delete_restore(client: MlflowClient, prefix: str) -> None:
    name = f"{prefix}-doomed"
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted", f"after delete: {exp.lifecycle_stage}"
    by_name = client.get_experiment_by_name(name)
    assert by_name is not None, "deleted experiments are still returned by get-by-name"
    assert by_name.lifecycle_stage == "deleted", by_name.lifecycle_stage
    # the name stays taken while the experiment is deleted
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_experiment, name)
    # set_experiment refuses a deleted experiment (client-side check on lifecycle_stage)
    try:
        mlflow.set_experiment(name)
    except MlflowException:
        pass
    else:
        raise AssertionError("set_experiment on a deleted experiment must raise")
    # starting a run in a deleted experiment is refused
    try:
        client.create_run(exp_id)
    except MlflowException as e:
        print("create_run in deleted experiment ->", e.error_code)
    else:
        raise AssertionError("create_run in a deleted experiment must fail")

    client.restore_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "active", f"after restore: {exp.lifecycle_stage}"
    assert mlflow.set_experiment(name).experiment_id == exp_id


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    prefix = f"compat-exp-{uuid.uuid4().hex[:12]}"

    check_default_experiment(client)
    exp_id = check_create_and_get(client, prefix)
    check_set_experiment(prefix)
    check_errors(client, prefix, exp_id)
    check_tags(client, exp_id)
    check_rename(client, prefix, exp_id)
    check_delete_restore(client, prefix)
    print(f"experiments_lifecycle OK (mlflow {mlflow.__version__})")


if __name__ == "__main__":
    main()
