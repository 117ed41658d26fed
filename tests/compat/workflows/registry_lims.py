"""LIMS contamination classifier: train, log, register three ways, promote, alias, search,
load by every models:/ form and predict; datasets read back. Stock mlflow client only."""

from __future__ import annotations

import os
import uuid

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier

V3 = int(mlflow.__version__.split(".")[0]) >= 3
TAG = uuid.uuid4().hex[:8]
NAME = f"lims-contamination-{TAG}"


def samples(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "ph": rng.normal(7.0, 0.6, n),
            "turbidity": rng.gamma(2.0, 1.5, n),
            "temperature": rng.normal(21.0, 2.0, n),
            "colony_count": rng.poisson(30, n).astype(float),
        }
    )
    label = ((frame["turbidity"] > 4) | (frame["colony_count"] > 38)).astype(int).to_numpy()
    return frame, label


def log_model(model: RandomForestClassifier, x: pd.DataFrame, registered: str | None = None):
    signature = infer_signature(x, model.predict(x))
    kwargs = {
        "signature": signature,
        "input_example": x.head(3),
        "serialization_format": "cloudpickle",
    }
    if registered:
        kwargs["registered_model_name"] = registered
    if V3:
        return mlflow.sklearn.log_model(model, name="model", **kwargs)
    return mlflow.sklearn.log_model(model, artifact_path="model", **kwargs)


def main() -> None:
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    client = MlflowClient()
    mlflow.set_experiment(f"lims-{TAG}")
    x_train, y_train = samples(400, 1)
    x_val, y_val = samples(100, 2)
    new, _ = samples(5, 3)
    predictions = {}
    run_ids = []
    for depth in (3, 6):
        with mlflow.start_run(run_name=f"rf-d{depth}") as run:
            mlflow.log_params({"n_estimators": 50, "max_depth": depth})
            train_ds = mlflow.data.from_pandas(
                x_train.assign(label=y_train), name="samples", targets="label"
            )
            val_ds = mlflow.data.from_pandas(
                x_val.assign(label=y_val), name="samples-val", targets="label"
            )
            mlflow.log_input(train_ds, context="training")
            mlflow.log_input(val_ds, context="validation")
            model = RandomForestClassifier(n_estimators=50, max_depth=depth, random_state=0)
            model.fit(x_train, y_train)
            mlflow.log_metric("accuracy", float((model.predict(x_val) == y_val).mean()))
            mlflow.set_tags({"governance.owner": "qa-lab", "governance.reviewed": "false"})
            info = log_model(model, x_train, registered=NAME if depth == 3 else None)
            predictions[run.info.run_id] = model.predict(new)
            run_ids.append((run.info.run_id, info))
    # way 2: register_model from runs:/
    first_run, second_run = run_ids[0][0], run_ids[1][0]
    v2 = mlflow.register_model(f"runs:/{second_run}/model", NAME)
    assert v2.version == "2", v2.version
    # way 3: create_model_version with the model's own URI
    source = run_ids[1][1].model_uri
    v3 = client.create_model_version(NAME, source, run_id=second_run)
    assert v3.version == "3", v3.version
    # stages with archiving
    client.transition_model_version_stage(NAME, "1", "Production")
    client.transition_model_version_stage(NAME, "2", "Production", archive_existing_versions=True)
    assert client.get_model_version(NAME, "1").current_stage == "Archived"
    assert client.get_model_version(NAME, "2").current_stage == "Production"
    client.transition_model_version_stage(NAME, "3", "Staging")
    latest = {v.current_stage: v.version for v in client.get_latest_versions(NAME)}
    assert latest == {"Archived": "1", "Production": "2", "Staging": "3"}, latest
    # aliases: set, move, read, delete
    client.set_registered_model_alias(NAME, "champion", "2")
    client.set_registered_model_alias(NAME, "best", "1")
    client.set_registered_model_alias(NAME, "best", "2")
    assert client.get_model_version_by_alias(NAME, "best").version == "2"
    client.delete_registered_model_alias(NAME, "best")
    try:
        client.get_model_version_by_alias(NAME, "best")
        raise AssertionError("a deleted alias must not resolve")
    except mlflow.exceptions.MlflowException as exc:
        assert exc.error_code == "INVALID_PARAMETER_VALUE", exc.error_code
    model = client.get_registered_model(NAME)
    assert {a for a in model.aliases} == {"champion"}, model.aliases
    # search
    found = [m.name for m in client.search_registered_models(filter_string=f"name = '{NAME}'")]
    assert found == [NAME], found
    versions = client.search_model_versions(f"name = '{NAME}'")
    assert sorted(v.version for v in versions) == ["1", "2", "3"]
    by_run = client.search_model_versions(f"run_id = '{second_run}'")
    assert sorted(v.version for v in by_run) == ["2", "3"], [v.version for v in by_run]
    # load by every models:/ form and predict
    expect_second = predictions[second_run]
    uris = [
        f"models:/{NAME}/2",
        f"models:/{NAME}/Production",
        f"models:/{NAME}/latest",
        f"models:/{NAME}@champion",
        f"runs:/{second_run}/model",
    ]
    if V3:
        uris.append(f"models:/{run_ids[1][1].model_id}")
    for uri in uris:
        loaded = mlflow.pyfunc.load_model(uri)
        got = np.asarray(loaded.predict(new))
        assert (got == expect_second).all(), (uri, got, expect_second)
    staged = np.asarray(mlflow.pyfunc.load_model(f"models:/{NAME}/Staging").predict(new))
    assert (staged == expect_second).all()
    archived = np.asarray(mlflow.pyfunc.load_model(f"models:/{NAME}/1").predict(new))
    assert (archived == predictions[first_run]).all()
    # datasets read back field by field
    run = client.get_run(first_run)
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"samples", "samples-val"}, set(inputs)
    contexts = {
        n: {t.key: t.value for t in i.tags}["mlflow.data.context"] for n, i in inputs.items()
    }
    assert contexts == {"samples": "training", "samples-val": "validation"}, contexts
    assert inputs["samples"].dataset.digest == train_ds.digest
    assert inputs["samples"].dataset.source_type
    # sources outside the artifact store are refused (reading server files is a known hole)
    for bad in ("/etc/passwd", "file:///etc/passwd", "../../secret", "file:../../x"):
        try:
            client.create_model_version(NAME, bad)
            raise AssertionError(f"source {bad!r} must be refused")
        except mlflow.exceptions.MlflowException as exc:
            assert exc.error_code == "INVALID_PARAMETER_VALUE", (bad, exc.error_code)
    # version deletion: numbers are never reused; rename; delete
    client.delete_model_version(NAME, "3")
    v4 = client.create_model_version(NAME, source, run_id=second_run)
    assert v4.version == "4", v4.version
    renamed = f"{NAME}-renamed"
    client.rename_registered_model(NAME, renamed)
    moved = client.get_registered_model(renamed)
    assert {a for a in moved.aliases} == {"champion"}
    assert client.get_model_version(renamed, "2").current_stage == "Production"
    client.delete_registered_model(renamed)
    assert not client.search_registered_models(filter_string=f"name = '{renamed}'")
    print("registry workflow OK")


if __name__ == "__main__":
    main()
