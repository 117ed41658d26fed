"""Model policies with the stock mlflow client only, in phases (``PHASE``):

- ``register``: three runs log ``test_f1`` (0.81, 0.93, 0.88) and a constant model that
  predicts its own number (1, 2, 3), each registered as a version of ``NAME``.
- ``load``: load ``models:/NAME@best`` and ``models:/NAME@latest`` and predict.
- ``better``: the first run logs ``test_f1`` 0.99.

Prints one JSON line: what it did or found."""

from __future__ import annotations

import json
import os

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.dummy import DummyRegressor

V3 = int(mlflow.__version__.split(".")[0]) >= 3
NAME = os.environ["MODEL_NAME"]
FRAME = pd.DataFrame({"x": [1.0, 2.0]})


def register() -> dict[str, object]:
    mlflow.set_experiment(f"alias-policy-{NAME}")
    runs = []
    for number, f1 in ((1, 0.81), (2, 0.93), (3, 0.88)):
        with mlflow.start_run() as run:
            mlflow.log_metric("test_f1", f1)
            model = DummyRegressor(strategy="constant", constant=float(number))
            model.fit(FRAME, np.zeros(len(FRAME)))
            kwargs = {"registered_model_name": NAME, "serialization_format": "cloudpickle"}
            if V3:
                mlflow.sklearn.log_model(model, name="model", **kwargs)
            else:
                mlflow.sklearn.log_model(model, artifact_path="model", **kwargs)
            runs.append(run.info.run_id)
    return {"runs": runs}


def load() -> dict[str, object]:
    client = MlflowClient()
    out: dict[str, object] = {}
    for alias in ("best", "latest"):
        version = client.get_model_version_by_alias(NAME, alias)
        predicted = mlflow.pyfunc.load_model(f"models:/{NAME}@{alias}").predict(FRAME)
        out[alias] = {"version": version.version, "predicted": float(predicted[0])}
    return out


def better() -> dict[str, object]:
    client = MlflowClient()
    first = client.get_model_version(NAME, "1").run_id
    client.log_metric(first, "test_f1", 0.99)
    return {"run": first}


if __name__ == "__main__":
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    phases = {"register": register, "load": load, "better": better}
    print(json.dumps(phases[os.environ["PHASE"]]()))
