"""The governance flow through `cairn server --auth` with a stock mlflow client: train and
register a model, tag the version's run ``Approval_Status: Pending_Review``, ask for Production
(refused for evidence), set ``Approved``, ask again (APPROVAL_REQUIRED naming the request, also
for an alias move), the approver approves, load ``models:/…/Production``, promote a second
version the same way, roll back, and print what happened as JSON on the last line.

Signed in as the requester (MLFLOW_TRACKING_USERNAME/PASSWORD); the approver's credentials in
APPROVER_USERNAME/APPROVER_PASSWORD drive Cairn's /api/v1 (approve, rollback answers).
Run by tests/compat/test_approvals_stock_client.py (the underscore keeps it out of the matrix).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import mlflow
import numpy as np
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

V3 = int(mlflow.__version__.split(".")[0]) >= 3
URL = os.environ["MLFLOW_TRACKING_URI"]
ME = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
APPROVER = (os.environ["APPROVER_USERNAME"], os.environ["APPROVER_PASSWORD"])
NAME = f"governed-{os.environ['CLIENT_LABEL']}-{uuid.uuid4().hex[:6]}"


def api(method: str, path: str, who: tuple[str, str], **body: Any) -> Any:
    answer = requests.request(
        method, f"{URL}/api/v1{path}", json=body or None, auth=who, timeout=30
    )
    assert answer.status_code < 300, (path, answer.status_code, answer.text)
    return answer.json() if answer.content else None


def refused(call: Any) -> str:
    try:
        call()
    except MlflowException as exc:
        return str(exc.message)
    raise AssertionError("the call was not refused")


def train(seed: int) -> tuple[str, LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, 3))
    y = (x[:, 0] - x[:, 2] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    with mlflow.start_run() as run:
        mlflow.log_metric("test_f1", 0.91)
        mlflow.set_tag("Approval_Status", "Pending_Review")
        if V3:
            mlflow.sklearn.log_model(model, name="model")
        else:
            mlflow.sklearn.log_model(model, artifact_path="model")
    return run.info.run_id, model, x


def request_id(message: str) -> str:
    found = re.search(r"approval request (\d+)", message)
    assert found, message
    return found.group(1)


def main() -> None:
    client = MlflowClient()
    mlflow.set_experiment(NAME)
    run_id, model, x = train(0)
    version = mlflow.register_model(f"runs:/{run_id}/model", NAME).version
    # the creator holds MANAGE: give the approver MANAGE too, and set the policy
    api("PUT", f"/models/{NAME}/permissions/{APPROVER[0]}", ME, permission="MANAGE")
    api(
        "PUT",
        f"/models/{NAME}/promotion-policy",
        ME,
        stages=["Production"],
        aliases=["champion"],
        required_approvals=1,
        evidence=[
            {"kind": "tag", "key": "Approval_Status", "value": "Approved"},
            {"kind": "metric", "key": "test_f1", "op": ">=", "value": 0.85},
        ],
    )
    out: dict[str, Any] = {"model": NAME}
    out["evidence_refusal"] = refused(
        lambda: client.transition_model_version_stage(NAME, version, "Production")
    )
    client.set_tag(run_id, "Approval_Status", "Approved")
    out["stage_refusal"] = refused(
        lambda: client.transition_model_version_stage(NAME, version, "Production")
    )
    out["alias_refusal"] = refused(
        lambda: client.set_registered_model_alias(NAME, "champion", version)
    )
    assert client.get_model_version(NAME, version).current_stage == "None"
    first = request_id(out["stage_refusal"])
    out["own_approval"] = requests.post(
        f"{URL}/api/v1/approval-requests/{first}/approve", json={}, auth=ME, timeout=30
    ).json()
    out["approved"] = api("POST", f"/approval-requests/{first}/approve", APPROVER, comment="ok")
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}/Production")
    assert (np.asarray(loaded.predict(x[:5])) == model.predict(x[:5])).all()

    run2, _, _ = train(1)
    client.set_tag(run2, "Approval_Status", "Approved")
    version2 = mlflow.register_model(f"runs:/{run2}/model", NAME).version
    second = request_id(
        refused(
            lambda: client.transition_model_version_stage(
                NAME, version2, "Production", archive_existing_versions=True
            )
        )
    )
    api("POST", f"/approval-requests/{second}/approve", APPROVER)
    assert client.get_model_version(NAME, version).current_stage == "Archived"
    rollback = requests.post(
        f"{URL}/api/v1/models/{NAME}/rollback", json={"stage": "Production"}, auth=ME, timeout=30
    )
    assert rollback.status_code == 201, rollback.text
    out["rollback"] = rollback.json()
    api("POST", f"/approval-requests/{out['rollback']['id']}/approve", APPROVER)
    out["stages"] = {
        v: client.get_model_version(NAME, v).current_stage for v in (version, version2)
    }
    out["history"] = api("GET", f"/models/{NAME}/history", ME)["events"]
    out["versions"] = [version, version2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
