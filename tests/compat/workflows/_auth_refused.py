"""Every write the stock client can make on someone else's experiment, run and registered
model, each of which must be refused with AUTH_EXPECT (an MLflow error code) and the HTTP
status that goes with it. The targets come from the environment (TARGET_EXPERIMENT,
TARGET_RUN, TARGET_MODEL, TARGET_VERSION); AUTH_OWN=1 also tries to create things of the
caller's own (refused too without credentials or with a read-only token). Prints the
refusals as JSON on its last line. Run by tests/compat/test_auth_clients.py."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

EXPECT = os.environ["AUTH_EXPECT"]
STATUS = {"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403}[EXPECT]
EXP = os.environ["TARGET_EXPERIMENT"]
RUN = os.environ["TARGET_RUN"]
MODEL = os.environ["TARGET_MODEL"]
VERSION = os.environ["TARGET_VERSION"]
TAG = uuid.uuid4().hex[:8]


def upload(client: MlflowClient) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "planted.txt"
        path.write_text("planted")
        client.log_artifact(RUN, str(path))


def attempts(client: MlflowClient) -> dict[str, Callable[[], object]]:
    found: dict[str, Callable[[], object]] = {
        "set_experiment_tag": lambda: client.set_experiment_tag(EXP, "k", "v"),
        "rename_experiment": lambda: client.rename_experiment(EXP, f"stolen-{TAG}"),
        "delete_experiment": lambda: client.delete_experiment(EXP),
        "restore_experiment": lambda: client.restore_experiment(EXP),
        "create_run": lambda: client.create_run(EXP),
        "log_param": lambda: client.log_param(RUN, "planted", "1"),
        "log_metric": lambda: client.log_metric(RUN, "planted", 1.0),
        "log_batch": lambda: client.log_batch(
            RUN, [Metric("planted", 1.0, 1, 1)], [Param("p2", "1")], [RunTag("t", "1")]
        ),
        "set_tag": lambda: client.set_tag(RUN, "mlflow.user", "mallory"),
        "delete_tag": lambda: client.delete_tag(RUN, "team"),
        "update_run": lambda: client.set_terminated(RUN, "FAILED"),
        "delete_run": lambda: client.delete_run(RUN),
        "restore_run": lambda: client.restore_run(RUN),
        "log_artifact": lambda: upload(client),
        "update_registered_model": lambda: client.update_registered_model(MODEL, "planted"),
        "rename_registered_model": lambda: client.rename_registered_model(MODEL, f"x-{TAG}"),
        "set_registered_model_tag": lambda: client.set_registered_model_tag(MODEL, "k", "v"),
        "delete_registered_model_tag": lambda: client.delete_registered_model_tag(MODEL, "k"),
        "create_model_version": lambda: client.create_model_version(
            MODEL, f"runs:/{RUN}/model", RUN
        ),
        "update_model_version": lambda: client.update_model_version(MODEL, VERSION, "planted"),
        "transition_stage": lambda: client.transition_model_version_stage(
            MODEL, VERSION, "Production"
        ),
        "set_model_version_tag": lambda: client.set_model_version_tag(MODEL, VERSION, "k", "v"),
        "set_alias": lambda: client.set_registered_model_alias(MODEL, "hijacked", VERSION),
        "delete_alias": lambda: client.delete_registered_model_alias(MODEL, "champion"),
        "delete_model_version": lambda: client.delete_model_version(MODEL, VERSION),
        "delete_registered_model": lambda: client.delete_registered_model(MODEL),
    }
    if hasattr(client, "delete_experiment_tag"):  # mlflow 3 only
        found["delete_experiment_tag"] = lambda: client.delete_experiment_tag(EXP, "k")
    if os.environ.get("AUTH_OWN") == "1":
        found["create_experiment"] = lambda: client.create_experiment(f"own-{TAG}")
        found["create_registered_model"] = lambda: client.create_registered_model(f"own-{TAG}")
    return found


def main() -> None:
    client = MlflowClient()
    refusals: dict[str, str] = {}
    for name, call in attempts(client).items():
        try:
            call()
        except MlflowException as exc:
            status = exc.get_http_status_code()
            assert exc.error_code == EXPECT, (name, exc.error_code, exc.message)
            assert status == STATUS, (name, status, exc.message)
            refusals[name] = exc.message
        except requests.HTTPError as exc:  # the artifact repository raises the HTTP error
            assert exc.response is not None
            assert exc.response.status_code == STATUS, (name, exc.response.text)
            assert exc.response.json()["error_code"] == EXPECT, (name, exc.response.text)
            refusals[name] = exc.response.json()["message"]
        else:
            raise AssertionError(f"{name} was allowed, expected {EXPECT}")
    print(json.dumps(refusals))


if __name__ == "__main__":
    main()
