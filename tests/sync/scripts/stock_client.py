"""Run with a stock mlflow client's Python (no cairn installed there).

``write``: log an experiment the way training code does, to MLFLOW_TRACKING_URI.
``summary``: print, as JSON, everything about that experiment a user would look at.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

EXPERIMENT = "stock-offline"


def write() -> None:
    mlflow.set_experiment(EXPERIMENT)
    mlflow.set_experiment_tag("team", "lims")
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["a", "b", "a"]})
    dataset = mlflow.data.from_pandas(frame, name="samples", targets="label")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "report"
        (folder / "plots" / "deep").mkdir(parents=True)
        (folder / "summary.txt").write_text("ok\n")
        (folder / "plots" / "deep" / "curve.csv").write_text("step,loss\n1,0.5\n")
        with mlflow.start_run(run_name="parent", description="the sweep") as parent:
            mlflow.log_params({"sweep": "grid"})
            mlflow.log_input(dataset, context="training")
            for i in range(2):
                with mlflow.start_run(run_name=f"child-{i}", nested=True):
                    mlflow.log_param("max_depth", i + 3)
                    for step in range(300):
                        mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
                    mlflow.log_artifacts(str(folder), artifact_path="report")
                    mlflow.log_text("x" * 3000, "notes/long.txt")
            mlflow.log_metric("best", 0.25)
        print(parent.info.run_id)


def summary() -> None:
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    names = {r.info.run_id: r.info.run_name for r in runs}
    out = {"experiment_tags": {"team": experiment.tags.get("team")}, "runs": {}}
    for run in runs:
        tags = {k: v for k, v in run.data.tags.items() if not k.startswith("cairn.sync")}
        parent = tags.pop("mlflow.parentRunId", None)
        history = {
            key: [
                (m.step, m.timestamp, m.value)
                for m in client.get_metric_history(run.info.run_id, key)
            ]
            for key in run.data.metrics
        }
        files = []
        pending = [""]
        while pending:
            for item in client.list_artifacts(run.info.run_id, pending.pop() or None):
                if item.is_dir:
                    pending.append(item.path)
                else:
                    files.append((item.path, item.file_size))
        with tempfile.TemporaryDirectory() as tmp:
            contents = {}
            for path, _ in files:
                local = client.download_artifacts(run.info.run_id, path, tmp)
                contents[path] = Path(local).read_text()
        out["runs"][run.info.run_name] = {
            "status": run.info.status,
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
            "user_id": run.info.user_id,
            "parent": names.get(parent) if parent else None,
            "params": run.data.params,
            "tags": {k: v for k, v in tags.items() if k != "mlflow.runName"},
            "history": history,
            "files": sorted(files),
            "contents": contents,
            "inputs": [
                (
                    d.dataset.name,
                    d.dataset.digest,
                    d.dataset.source_type,
                    d.dataset.schema,
                    d.dataset.profile,
                    sorted((t.key, t.value) for t in d.tags),
                )
                for d in run.inputs.dataset_inputs
            ],
        }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    {"write": write, "summary": summary}[sys.argv[1]]()
