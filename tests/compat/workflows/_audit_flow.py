"""A typical tracking workflow whose change events tests/compat/test_audit_stock_client.py
checks: create an experiment, start a run, log a param, a metric, a tag and a batch, upload an
artifact, end the run, delete it. Prints the experiment and run ids as JSON on its last line.

Run with the stock mlflow client; MLFLOW_TRACKING_URI must point at the server and
AUDIT_EXPERIMENT names the experiment to create.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag


def main() -> None:
    client = MlflowClient()
    eid = client.create_experiment(os.environ["AUDIT_EXPERIMENT"])
    run = client.create_run(eid, run_name="audited")
    rid = run.info.run_id
    client.log_param(rid, "lr", "0.1")
    client.log_metric(rid, "loss", 0.5, step=1)
    client.set_tag(rid, "stage", "train")
    now = int(time.time() * 1000)
    client.log_batch(
        rid,
        metrics=[Metric("acc", 0.1 * i, now, i) for i in range(3)],
        params=[Param("depth", "3")],
        tags=[RunTag("kind", "baseline")],
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "notes.txt"
        path.write_text("twelve bytes")
        client.log_artifact(rid, str(path))
    assert [f.path for f in client.list_artifacts(rid)] == ["notes.txt"]
    client.set_terminated(rid)
    client.delete_run(rid)
    print(json.dumps({"experiment_id": eid, "run_id": rid}))


if __name__ == "__main__":
    main()
