"""Stock-client logging that trips and then resolves metric alerts
(tests/compat/test_alerts_stock_client.py).

Phase ``trip`` (ALERTS_PHASE): in experiment ALERTS_EXPERIMENT_ID, start a run tagged
``team=lims`` and log ``val_loss`` 0.3 then 0.9 (over the rule's 0.5), and a NaN ``loss``;
prints the run id as JSON on its last line. Phase ``resolve``: log ``val_loss`` 0.2 and a
finite ``loss`` to ALERTS_RUN_ID, then end the run as FAILED.

Run with the stock mlflow client; MLFLOW_TRACKING_URI must point at the server.
"""

from __future__ import annotations

import json
import math
import os

from mlflow import MlflowClient


def main() -> None:
    client = MlflowClient()
    if os.environ["ALERTS_PHASE"] == "trip":
        run = client.create_run(os.environ["ALERTS_EXPERIMENT_ID"], tags={"team": "lims"})
        rid = run.info.run_id
        client.log_metric(rid, "val_loss", 0.3, step=0)
        client.log_metric(rid, "val_loss", 0.9, step=1)
        client.log_metric(rid, "loss", math.nan, step=1)
        print(json.dumps({"run_id": rid}))
    else:
        rid = os.environ["ALERTS_RUN_ID"]
        client.log_metric(rid, "val_loss", 0.2, step=2)
        client.log_metric(rid, "loss", 0.25, step=2)
        client.set_terminated(rid, status="FAILED")
        print(json.dumps({"run_id": rid}))


if __name__ == "__main__":
    main()
