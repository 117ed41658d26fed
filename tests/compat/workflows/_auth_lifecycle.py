"""One user's whole workflow through `cairn server --auth`, signed in however the environment
says (MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN): experiment, run, params,
metrics, a batch, a file and a folder through the artifact proxy, an sklearn model logged,
registered, aliased, staged, loaded back by alias and used to predict. The run claims another
user (LOGNAME and the mlflow.user tag); the script prints what the server recorded as JSON on
its last line, for the test to judge. Stock mlflow client only; run by
tests/compat/test_auth_clients.py (the leading underscore keeps it out of the open-server
matrix)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from sklearn.linear_model import LogisticRegression

V3 = int(mlflow.__version__.split(".")[0]) >= 3
TAG = uuid.uuid4().hex[:8]
LABEL = os.environ["AUTH_LABEL"]


def main() -> None:
    client = MlflowClient()
    name = f"auth-{LABEL}-{TAG}"
    experiment_id = mlflow.create_experiment(name)
    mlflow.set_experiment(experiment_id=experiment_id)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    with mlflow.start_run(tags={"mlflow.user": "x", "team": "auth"}) as run:
        run_id = run.info.run_id
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("loss", 0.25, step=1)
        client.log_batch(
            run_id,
            metrics=[Metric("acc", 0.9, 1, 2), Metric("acc", 0.95, 2, 3)],
            params=[Param("solver", "lbfgs")],
            tags=[RunTag("batch", "yes")],
        )
        with tempfile.TemporaryDirectory() as tmp:
            note = Path(tmp) / "note.txt"
            note.write_text("signed in\n")
            mlflow.log_artifact(str(note))
            folder = Path(tmp) / "plots"
            (folder / "inner").mkdir(parents=True)
            (folder / "a.csv").write_text("a,b\n1,2\n")
            (folder / "inner" / "b.json").write_text('{"b": 2}')
            mlflow.log_artifacts(str(folder), artifact_path="plots")
        if V3:
            mlflow.sklearn.log_model(model, name="model")
        else:
            mlflow.sklearn.log_model(model, artifact_path="model")

    registered = f"auth-model-{LABEL}-{TAG}"
    version = mlflow.register_model(f"runs:/{run_id}/model", registered)
    client.set_registered_model_alias(registered, "champion", version.version)
    client.transition_model_version_stage(registered, version.version, "Staging")
    assert client.get_model_version(registered, version.version).current_stage == "Staging"
    loaded = mlflow.pyfunc.load_model(f"models:/{registered}@champion")
    predicted = np.asarray(loaded.predict(x[:5]))
    assert (predicted == model.predict(x[:5])).all(), predicted

    with tempfile.TemporaryDirectory() as tmp:
        got = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=tmp))
        assert (got / "note.txt").read_text() == "signed in\n"
        assert (got / "plots" / "inner" / "b.json").read_text() == '{"b": 2}'
    listed = sorted(f.path for f in client.list_artifacts(run_id, "plots"))
    assert listed == ["plots/a.csv", "plots/inner"], listed

    found = client.get_run(run_id)
    assert found.data.params == {"alpha": "0.5", "solver": "lbfgs"}, found.data.params
    history = [(m.step, m.value) for m in client.get_metric_history(run_id, "acc")]
    assert history == [(2, 0.9), (3, 0.95)], history
    print(
        json.dumps(
            {
                "experiment_id": experiment_id,
                "run_id": run_id,
                "user_id": found.info.user_id,
                "tags": found.data.tags,
                "model": registered,
                "version": version.version,
            }
        )
    )


if __name__ == "__main__":
    main()
