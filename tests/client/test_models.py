"""log_dataset, log_model and load_model (they use cairn.ml), and interop with the stock
mlflow 3.17 client in both directions."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import cairn
from tests.compat.server import REPO, CairnServer

MLFLOW3 = REPO / ".venvs" / "mlflow3" / "bin" / "python"


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    labels = (frame["a"] + 0.5 * frame["b"] > 0).astype(int).to_numpy()
    return frame, labels


def _mlflow(script: str, server: CairnServer, *args: str) -> str:
    assert MLFLOW3.exists(), f"{MLFLOW3} is missing: run `make compat-venvs`"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CAIRN_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_DISABLE_TELEMETRY="true")
    done = subprocess.run(
        [str(MLFLOW3), "-c", textwrap.dedent(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout.strip().splitlines()[-1]


def test_log_dataset(tracking_uri: str, experiment_name: str) -> None:
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    frame, labels = _data()
    frame["label"] = labels
    with cairn.start_run() as run:
        cairn.log_dataset(frame, name="train", targets="label")
        cairn.log_dataset(frame.head(20), name="val", context="validation", targets="label")
    inputs = cairn.Client().get_run(run.info.run_id).inputs
    by_name = {i.name: i for i in inputs}
    assert set(by_name) == {"train", "val"}
    assert by_name["train"].tags == {"mlflow.data.context": "training"}
    assert by_name["val"].tags == {"mlflow.data.context": "validation"}
    assert by_name["train"].profile is not None
    profile = json.loads(by_name["train"].profile)
    assert profile["num_rows"] == 120
    assert profile["targets"] == "label"
    assert sum(profile["label_distribution"].values()) == 120
    assert set(profile["numeric"]) >= {"a", "b"}
    assert by_name["train"].digest != by_name["val"].digest


def test_log_model_and_load_it_back(tracking_uri: str, experiment_name: str) -> None:
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    frame, labels = _data()
    model = LogisticRegression().fit(frame, labels)
    name = f"{experiment_name}-clf"
    with cairn.start_run() as run:
        info = cairn.log_model(
            model, "model", input_example=frame.head(3), registered_model_name=name
        )
    assert info.model_uri == f"runs:/{run.info.run_id}/model"
    assert info.registered_model_version == "1"
    client = cairn.Client()
    client.set_registered_model_alias(name, "best", 1)
    client.transition_model_version_stage(name, 1, "Staging")
    expected = model.predict(frame)
    for uri in (
        info.model_uri,
        f"models:/{name}/1",
        f"models:/{name}@best",
        f"models:/{name}/Staging",
    ):
        loaded = cairn.load_model(uri)
        assert (loaded.predict(frame) == expected).all(), uri
    files = {f.path for f in client.list_artifacts(run.info.run_id, "model")}
    assert {"model/MLmodel", "model/model.pkl", "model/requirements.txt"} <= files
    history = client.get_run(run.info.run_id).data.tags.get("mlflow.log-model.history")
    assert history is not None
    assert json.loads(history)[0]["artifact_path"] == "model"


STOCK_LOGS = """
    import json, sys
    import mlflow, numpy as np, pandas as pd
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(7)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = (X["a"] + 0.5 * X["b"] > 0).astype(int)
    mlflow.set_experiment(sys.argv[1])
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            LogisticRegression(C=0.3).fit(X, y), name="model", input_example=X.head(2),
            registered_model_name=sys.argv[2], serialization_format="cloudpickle",
        )
    print(json.dumps({"run_id": run.info.run_id, "model_id": info.model_id,
                      "pred": mlflow.pyfunc.load_model(info.model_uri).predict(X).tolist()}))
"""


def test_model_logged_by_stock_mlflow_loads_with_cairn(
    sqlite_server: CairnServer, experiment_name: str
) -> None:
    name = f"{experiment_name}-stock"
    out = json.loads(_mlflow(STOCK_LOGS, sqlite_server, experiment_name, name))
    cairn.set_tracking_uri(sqlite_server.url)
    frame, _ = _data()
    for uri in (
        f"models:/{name}/1",
        f"models:/{name}/latest",
        f"runs:/{out['run_id']}/model",
        f"models:/{out['model_id']}",
    ):
        assert cairn.load_model(uri).predict(frame).tolist() == out["pred"], uri


STOCK_LOADS = """
    import json, sys
    import mlflow, numpy as np, pandas as pd
    rng = np.random.default_rng(7)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    print(json.dumps([mlflow.pyfunc.load_model(uri).predict(X).tolist() for uri in sys.argv[1:]]))
"""


def test_model_logged_by_cairn_loads_with_stock_mlflow(
    sqlite_server: CairnServer, experiment_name: str
) -> None:
    cairn.set_tracking_uri(sqlite_server.url)
    cairn.set_experiment(experiment_name)
    frame, labels = _data()
    model = LogisticRegression(C=2.0).fit(frame, labels)
    name = f"{experiment_name}-cairn"
    with cairn.start_run():
        info = cairn.log_model(
            model, "clf", input_example=frame.head(2), registered_model_name=name
        )
    cairn.Client().set_registered_model_alias(name, "prod", 1)
    uris = [info.model_uri, f"models:/{name}/1", f"models:/{name}@prod"]
    predictions = json.loads(_mlflow(STOCK_LOADS, sqlite_server, *uris))
    expected = model.predict(frame).tolist()
    assert predictions == [expected, expected, expected]
    assert cairn.load_model(f"models:/{name}/1").predict(frame).tolist() == expected


def test_load_model_from_a_local_folder(tmp_path: Path) -> None:
    from cairn.ml.models import save_model

    frame, labels = _data()
    model = LogisticRegression().fit(frame, labels)
    save_model(model, tmp_path / "m")
    cairn.set_tracking_uri(tmp_path / "store")
    assert (cairn.load_model(str(tmp_path / "m")).predict(frame) == model.predict(frame)).all()
