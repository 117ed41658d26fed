"""``cairn import wandb``: runs written by the stock ``wandb`` client in offline mode (its own
service process writes the ``.wandb`` log) are imported into a live ``cairn server`` and read
back through the REST API: project, run names, status from the exit code, config as params,
every history value with its step and time, summary-only values, notes and tags, and the
run's files (a saved file is a symlink in files/); a second import writes nothing; corrupt,
truncated and foreign logs are refused by name with nothing written."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.sync import SyncError
from cairn.sync.imports import run_import, verify_import
from cairn.sync.wandb_runs import WandbSource
from tests.compat.server import CairnServer
from tests.sync.builder import env_without_cairn
from tests.sync.conftest import Requests

WRITER = """
import sys, wandb
project, folder = sys.argv[1], sys.argv[2]
with open(folder + "/notes.txt", "w") as f:
    f.write("saved by the run")
run = wandb.init(project=project, id="good1", name="first", dir=folder, mode="offline",
                 notes="a note", tags=["b", "a"], group="sweep", job_type="train",
                 config={"lr": 0.01, "optimizer": "adam", "layers": [64, 32], "dropout": True})
for i in range(40):
    run.log({"loss": 1.0 / (i + 1), "val/acc": i / 40}, step=i)
run.log({"nested": {"deep": 2.5}}, step=40)
run.config.update({"late": "added"})
run.summary["best"] = 0.875
run.save(folder + "/notes.txt", base_path=folder)
run.finish()
bad = wandb.init(project=project, id="bad1", name="second", dir=folder, mode="offline")
bad.log({"loss": 3.0}, step=0)
bad.finish(exit_code=1)
"""


def write_runs(folder: Path, project: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    env = {**env_without_cairn(), "WANDB_SILENT": "true", "WANDB_MODE": "offline"}
    env = {k: v for k, v in env.items() if not k.startswith("WANDB_API")}
    result = subprocess.run(
        [sys.executable, "-c", WRITER, project, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def rid(project: str, wandb_id: str) -> str:
    return hashlib.sha256(f"wandb\0{project}\0{wandb_id}".encode()).hexdigest()[:32]


def _api(http: httpx.Client, base: str, path: str, **params: Any) -> Any:
    got = http.get(f"{base}/api/2.0/mlflow/{path}", params=params)
    assert got.status_code == 200, got.text
    return got.json()


def test_offline_runs_written_by_wandb_import_whole(dest: CairnServer, tmp_path: Path) -> None:
    project = f"proj-{uuid.uuid4().hex[:6]}"
    before = int(time.time() * 1000)
    write_runs(tmp_path, project)
    after = int(time.time() * 1000)
    report = run_import(WandbSource(tmp_path / "wandb"), dest.url)
    assert report.failures == []
    assert report.runs_created == 2
    assert report.points == 40 + 40 + 1 + 1 + 1  # loss, val/acc, nested/deep, best; bad run

    good, bad = rid(project, "good1"), rid(project, "bad1")
    with httpx.Client(timeout=60) as http:
        exp = _api(http, dest.url, "experiments/get-by-name", experiment_name=project)
        assert exp["experiment"]["name"] == project
        run = _api(http, dest.url, "runs/get", run_id=good)["run"]
        info = run["info"]
        assert (info["run_name"], info["status"]) == ("first", "FINISHED")
        assert before - 1000 <= info["start_time"] <= info["end_time"] <= after + 1000
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        assert params == {
            "lr": "0.01",
            "optimizer": "adam",
            "layers": "[64,32]",
            "dropout": "True",
            "late": "added",
        }
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        assert tags["mlflow.note.content"] == "a note"
        assert sorted(tags["wandb.tags"].split(",")) == ["a", "b"]
        assert (tags["wandb.group"], tags["wandb.job_type"]) == ("sweep", "train")
        assert tags["wandb.run_id"] == "good1"
        loss = _api(http, dest.url, "metrics/get-history", run_id=good, metric_key="loss")
        points = sorted((int(m["step"]), m["value"], int(m["timestamp"])) for m in loss["metrics"])
        assert [(s, v) for s, v, _ in points] == [(i, 1.0 / (i + 1)) for i in range(40)]
        stamps = [t for _, _, t in points]
        assert stamps == sorted(stamps)
        assert before - 1000 <= stamps[0]
        assert stamps[-1] <= after + 1000
        acc = _api(http, dest.url, "metrics/get-history", run_id=good, metric_key="val/acc")
        assert sorted(m["value"] for m in acc["metrics"]) == [i / 40 for i in range(40)]
        deep = _api(http, dest.url, "metrics/get-history", run_id=good, metric_key="nested/deep")
        assert [(m["step"], m["value"]) for m in deep["metrics"]] == [(40, 2.5)]
        best = _api(http, dest.url, "metrics/get-history", run_id=good, metric_key="best")
        assert [m["value"] for m in best["metrics"]] == [0.875]
        prefix = info["artifact_uri"].split(":", 1)[1].strip("/")
        saved = http.get(f"{dest.url}/api/2.0/mlflow-artifacts/artifacts/{prefix}/notes.txt")
        assert saved.status_code == 200
        assert saved.content == b"saved by the run"
        failed = _api(http, dest.url, "runs/get", run_id=bad)["run"]
        assert (failed["info"]["run_name"], failed["info"]["status"]) == ("second", "FAILED")

    assert verify_import(WandbSource(tmp_path / "wandb"), dest.url) == []
    seen = Requests()
    again = run_import(WandbSource(tmp_path / "wandb"), dest.url, request_hook=seen)
    assert seen.writes == 0, seen.by_path
    assert again.runs_unchanged == 2
    # the folder holding wandb/ names the same runs (a new ledger, the same run ids)
    assert run_import(WandbSource(tmp_path), dest.url).runs_created == 0

    # bad input, on a copy of the logs: a corrupt, a truncated and a foreign file
    log = next((tmp_path / "wandb").glob("offline-run-*/run-bad1.wandb"))
    good_bytes = log.read_bytes()

    def refused(match: str) -> None:
        seen = Requests()
        with pytest.raises(SyncError, match=match):
            run_import(WandbSource(log.parent), dest.url, request_hook=seen)
        assert seen.writes == 0, seen.by_path

    middle = len(good_bytes) // 2
    log.write_bytes(
        good_bytes[:middle] + bytes([good_bytes[middle] ^ 0xFF]) + good_bytes[middle + 1 :]
    )
    refused(f"{log}: (corrupt log \\(the record at byte \\d+ fails|the record at byte \\d+ has)")
    log.write_bytes(good_bytes[: len(good_bytes) - 5])
    refused(f"{log}: the record at byte \\d+ is cut short|{log}: the log ends inside")
    log.write_bytes(json.dumps({"not": "wandb"}).encode())
    refused(f"{log} is not a W&B run log")
    (tmp_path / "none").mkdir()
    with pytest.raises(SyncError, match="holds no W&B run"):
        WandbSource(tmp_path / "none")
