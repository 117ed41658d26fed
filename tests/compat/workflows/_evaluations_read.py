"""Read an evaluation's experiment back with the stock mlflow client
(tests/compat/test_evaluations_live.py).

EVAL_EXPERIMENT names the experiment; prints, as JSON on its last line: the experiment's id
and tags, and for every run in it (parent and nested) its name, status, parent, tags, params,
metrics (with their steps), artifact paths (recursively) and the text of ``results.json`` /
``request.json`` when the run has one.

Run with the stock mlflow client; MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mlflow import MlflowClient


def artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    found: list[str] = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found.extend(artifacts(client, run_id, item.path))
        else:
            found.append(item.path)
    return found


def main() -> None:
    client = MlflowClient()
    experiment = client.get_experiment_by_name(os.environ["EVAL_EXPERIMENT"])
    assert experiment is not None, "no such experiment"
    runs: list[dict[str, Any]] = []
    for run in client.search_runs([experiment.experiment_id], max_results=100):
        rid = run.info.run_id
        files = artifacts(client, rid)
        texts = {}
        for name in ("results.json", "request.json"):
            if name in files:
                with tempfile.TemporaryDirectory() as tmp:
                    local = client.download_artifacts(rid, name, tmp)
                    texts[name] = Path(local).read_text(encoding="utf-8")
        history = {
            key: [m.step for m in client.get_metric_history(rid, key)] for key in run.data.metrics
        }
        runs.append(
            {
                "run_id": rid,
                "name": run.info.run_name,
                "status": run.info.status,
                "parent": run.data.tags.get("mlflow.parentRunId"),
                "tags": run.data.tags,
                "params": run.data.params,
                "metrics": run.data.metrics,
                "steps": history,
                "artifacts": sorted(files),
                "texts": texts,
            }
        )
    print(
        json.dumps(
            {
                "experiment_id": experiment.experiment_id,
                "name": experiment.name,
                "tags": experiment.tags,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
