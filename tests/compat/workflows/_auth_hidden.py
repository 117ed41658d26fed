"""A user with NO_PERMISSIONS on one experiment (HIDDEN_EXPERIMENT, with run HIDDEN_RUN) and
READ on another (SHARED_EXPERIMENT, run SHARED_RUN), through the stock client: searches do
not show the hidden one, every read of it is refused (403 PERMISSION_DENIED), its artifacts
cannot be fetched by path, and a model version cannot be registered from its run into the
user's own model (OWN_MODEL). Prints what it saw as JSON. Run by
tests/compat/test_auth_clients.py."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable

import mlflow
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

HIDDEN_EXP = os.environ["HIDDEN_EXPERIMENT"]
HIDDEN_RUN = os.environ["HIDDEN_RUN"]
SHARED_EXP = os.environ["SHARED_EXPERIMENT"]
SHARED_RUN = os.environ["SHARED_RUN"]
OWN_MODEL = os.environ["OWN_MODEL"]


def refusal(call: Callable[[], object]) -> str:
    """The 403 PERMISSION_DENIED message ``call`` must end in."""
    try:
        call()
    except MlflowException as exc:
        assert exc.error_code == "PERMISSION_DENIED", (exc.error_code, exc.message)
        assert exc.get_http_status_code() == 403, exc.message
        return exc.message
    except requests.HTTPError as exc:  # the artifact repository raises the HTTP error
        assert exc.response is not None
        assert exc.response.status_code == 403, exc.response.text
        found: str = exc.response.json()["message"]
        return found
    raise AssertionError("allowed, expected 403 PERMISSION_DENIED")


def main() -> None:
    client = MlflowClient()
    names = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    assert SHARED_EXP in names, names
    assert HIDDEN_EXP not in names, names
    runs = mlflow.search_runs([HIDDEN_EXP, SHARED_EXP], output_format="list")
    assert [r.info.run_id for r in runs] == [SHARED_RUN], [r.info.run_id for r in runs]
    assert mlflow.search_runs([HIDDEN_EXP], output_format="list") == []
    with tempfile.TemporaryDirectory() as tmp:
        refusals = {
            "get_experiment": refusal(lambda: client.get_experiment(HIDDEN_EXP)),
            "get_run": refusal(lambda: client.get_run(HIDDEN_RUN)),
            "metric_history": refusal(lambda: client.get_metric_history(HIDDEN_RUN, "m")),
            "list_artifacts": refusal(lambda: client.list_artifacts(HIDDEN_RUN)),
            "download_by_run": refusal(
                lambda: mlflow.artifacts.download_artifacts(run_id=HIDDEN_RUN, dst_path=tmp)
            ),
            "download_by_path": refusal(
                lambda: mlflow.artifacts.download_artifacts(
                    artifact_uri=(
                        f"mlflow-artifacts:/{HIDDEN_EXP}/{HIDDEN_RUN}/artifacts/model/weights.bin"
                    ),
                    dst_path=tmp,
                )
            ),
            "register_from_run": refusal(
                lambda: client.create_model_version(
                    OWN_MODEL, f"runs:/{HIDDEN_RUN}/model", HIDDEN_RUN
                )
            ),
            "register_from_path": refusal(
                lambda: client.create_model_version(
                    OWN_MODEL, f"mlflow-artifacts:/{HIDDEN_EXP}/{HIDDEN_RUN}/artifacts/model"
                )
            ),
        }
        assert os.listdir(tmp) == [], os.listdir(tmp)
    assert client.search_model_versions(f"name = '{OWN_MODEL}'") == []
    # what may be read still reads
    assert client.get_run(SHARED_RUN).info.experiment_id == SHARED_EXP
    print(json.dumps(refusals))


if __name__ == "__main__":
    main()
