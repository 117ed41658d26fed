"""Run by the stock mlflow client (2.x or 3.x venv), never imported by the tests.

``write``: fill the tracking store ``MLFLOW_TRACKING_URI`` names (a ``file:`` mlruns folder or
a SQL database): two experiments, a parent run with two children, params, tags, metrics with
steps and timestamps, a dataset input, artifacts, a logged model registered with stages and
aliases, a deleted run and a deleted experiment.

``summary``: print, as JSON, everything a field-by-field comparison needs, read through the
client from whatever ``MLFLOW_TRACKING_URI`` names (the source store, or a Cairn server after
the import): experiments, runs (ids, times, status, user, lifecycle, params, tags, every metric
point, inputs, artifact files with sizes and sha256), registered models (versions, stages,
aliases, tags, descriptions) and whether ``models:/<name>/<version>`` loads and predicts.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType

MAJOR = int(mlflow.__version__.split(".")[0])
T0 = 1_700_000_000_000
PREFIX = os.environ.get("IMPORT_PREFIX", "imp")  # tests sharing one server use their own
MODEL = f"{PREFIX}-model"


class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc, name-defined]
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return [2 * x for x in list(model_input["x"])]


def write() -> None:
    client = MlflowClient()
    exp = client.create_experiment(f"{PREFIX}-main", tags={"team": "vision", "nested/key": "v"})
    gone = client.create_experiment(f"{PREFIX}-gone")
    other = client.create_experiment(f"{PREFIX}-other")
    parent = client.create_run(exp, start_time=T0, run_name="parent", tags={"kind": "sweep"})
    pid = parent.info.run_id
    client.log_param(pid, "lr", "0.01")
    client.log_param(pid, "nested/param", "x")
    client.set_tag(pid, "stage/sub", "deep")
    for step in range(50):
        client.log_metric(pid, "loss", 1.0 / (step + 1), timestamp=T0 + step, step=step)
    client.log_metric(pid, "acc", float("nan"), timestamp=T0 + 99, step=3)
    client.log_metric(pid, "acc", 0.5, timestamp=T0 + 100, step=3)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "notes.txt").write_text("hello import\n")
        (Path(tmp) / "sub").mkdir()
        (Path(tmp) / "sub" / "data.bin").write_bytes(os.urandom(300_000))
        client.log_artifact(pid, str(Path(tmp) / "notes.txt"))
        client.log_artifacts(pid, tmp, "folder")
    for i in range(2):
        child = client.create_run(
            exp,
            start_time=T0 + 1000 * (i + 1),
            run_name=f"child-{i}",
            tags={"mlflow.parentRunId": pid},
        )
        cid = child.info.run_id
        client.log_batch(
            cid,
            metrics=[mlflow.entities.Metric("m", float(s * i), T0 + s, s) for s in range(20)],
            params=[mlflow.entities.Param("i", str(i))],
        )
        client.set_terminated(cid, "FINISHED" if i == 0 else "FAILED", end_time=T0 + 5000 + i)
    # a dataset input and a logged, registered model in the parent run
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with mlflow.start_run(run_id=pid):
        mlflow.log_input(mlflow.data.from_pandas(frame, name="train"), context="training")
        if MAJOR >= 3:
            info = mlflow.pyfunc.log_model(name="model", python_model=Doubler())
        else:
            info = mlflow.pyfunc.log_model(artifact_path="model", python_model=Doubler())
    client.set_terminated(pid, "FINISHED", end_time=T0 + 9000)
    client.create_registered_model(MODEL, tags={"owner": "ml"}, description="doubles x")
    # an MLflow 3 server refuses a models:/m-… source unless model_id names that model
    linked: dict[str, Any] = {"model_id": info.model_id} if MAJOR >= 3 else {}
    v1 = client.create_model_version(MODEL, info.model_uri, run_id=pid, tags={"v": "1"}, **linked)
    v2 = client.create_model_version(
        MODEL, info.model_uri, run_id=pid, description="second", **linked
    )
    client.transition_model_version_stage(MODEL, v1.version, "Production")
    client.transition_model_version_stage(MODEL, v2.version, "Staging")
    client.set_registered_model_alias(MODEL, "champion", v1.version)
    client.set_registered_model_alias(MODEL, "next", v2.version)
    # a deleted run, a run in an experiment that is then deleted
    doomed = client.create_run(other, start_time=T0 + 7, run_name="doomed")
    client.log_param(doomed.info.run_id, "p", "1")
    client.set_terminated(doomed.info.run_id, end_time=T0 + 8)
    client.delete_run(doomed.info.run_id)
    lost = client.create_run(gone, start_time=T0 + 9, run_name="in-deleted")
    client.log_metric(lost.info.run_id, "x", 1.0, timestamp=T0 + 10, step=0)
    client.set_terminated(lost.info.run_id, end_time=T0 + 11)
    client.delete_experiment(gone)
    print(json.dumps({"parent": pid}))


def _files(client: MlflowClient, run_id: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    if not client.list_artifacts(run_id):
        return out  # (2.x makes no artifacts folder for a run without files)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(run_id, "", tmp))
        for path in sorted(local.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                rel = path.relative_to(local).as_posix()
                out[rel] = [len(data), hashlib.sha256(data).hexdigest()]
    return out


def _points(client: MlflowClient, run_id: str, key: str) -> list[list[Any]]:
    """A metric's distinct points: MLflow's SQL stores (and Cairn) keep a point logged twice
    with the same step, timestamp and value once, the file store twice (MLflow 3 relogs a
    run's metrics when a model is logged)."""
    history = client.get_metric_history(run_id, key)
    points = {(m.step, m.timestamp, repr(m.value)) for m in history}
    return [list(p) for p in sorted(points)]


def summary() -> None:
    client = MlflowClient()
    # models first: loading a model from a local store may write into the run's folder
    # (2.x adds registered_model_meta), which the file listing below must then show
    models = {}
    for model in client.search_registered_models():
        if model.name != MODEL:
            continue
        versions = {}
        for version in client.search_model_versions(f"name = '{model.name}'"):
            loaded = mlflow.pyfunc.load_model(f"models:/{model.name}/{version.version}")
            import pandas as pd

            prediction = list(loaded.predict(pd.DataFrame({"x": [1.0, 4.0]})))
            versions[version.version] = {
                "stage": version.current_stage,
                "run_id": version.run_id,
                "tags": version.tags,
                "description": version.description or "",
                "prediction": prediction,
            }
        models[model.name] = {
            "tags": model.tags,
            "description": model.description,
            "aliases": {k: str(v) for k, v in sorted(model.aliases.items())},
            "versions": versions,
        }
    experiments = {}
    runs = {}
    for exp in client.search_experiments(view_type=ViewType.ALL):
        if not exp.name.startswith(f"{PREFIX}-"):
            continue
        tags = {k: v for k, v in exp.tags.items() if not k.startswith("mlflow.")}
        experiments[exp.name] = {"lifecycle": exp.lifecycle_stage, "tags": tags}
        for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL):
            rid = run.info.run_id
            inputs = []
            if run.inputs is not None:
                for item in run.inputs.dataset_inputs:
                    d = item.dataset
                    tags_in = {t.key: t.value for t in item.tags}
                    inputs.append([d.name, d.digest, d.source_type, d.source, tags_in])
            runs[rid] = {
                "experiment": exp.name,
                "name": run.info.run_name,
                "user": run.info.user_id,
                "status": run.info.status,
                "start": run.info.start_time,
                "end": run.info.end_time,
                "lifecycle": run.info.lifecycle_stage,
                "params": run.data.params,
                "tags": {
                    k: v
                    for k, v in run.data.tags.items()
                    if k not in ("mlflow.log-model.history", "mlflow.source.name")
                },
                "metrics": {k: _points(client, rid, k) for k in sorted(run.data.metrics)},
                "inputs": sorted(inputs, key=json.dumps),
                "outputs": sorted(
                    [o.model_id, o.step]
                    for o in getattr(getattr(run, "outputs", None), "model_outputs", None) or []
                ),
                "files": _files(client, rid),
            }
    json.dump({"experiments": experiments, "runs": runs, "models": models}, sys.stdout)


if __name__ == "__main__":
    {"write": write, "summary": summary}[sys.argv[1]]()
