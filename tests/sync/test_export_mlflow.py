"""``cairn export mlflow``: Cairn's history written back into MLflow.

The round trip: an ``mlruns`` folder written by the stock mlflow client is imported into a live
``cairn server``, exported into a new folder, and the stock client reads both folders: every
field must compare equal (experiments, run ids, times, status, user, lifecycle, params, tags,
every metric point, dataset inputs, logged-model outputs, artifacts with their sha256, the
registry with versions, stages, aliases and ``models:/`` loading)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from cairn.sync import SyncError
from cairn.sync.exports import run_export, verify_export
from cairn.sync.imports import run_import
from cairn.sync.mlflow_files import MlrunsSource
from cairn.sync.remote import SYNC_TAG
from tests.compat.server import REPO, CairnServer, start_stock_mlflow_server
from tests.compat.test_stock_client import client_python
from tests.sync.builder import env_without_cairn
from tests.sync.conftest import Requests
from tests.sync.mlruns_builder import write_mlruns
from tests.sync.test_import_mlflow_stores import assert_same, check_source, stock, summary


def _names(prefix: str) -> list[str]:
    return [f"{prefix}-main", f"{prefix}-gone", f"{prefix}-other"]


def _files(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its modification time (ns)."""
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.mark.compat
def test_mlruns_to_cairn_to_mlruns_leaves_the_data_equal(dest: CairnServer, tmp_path: Path) -> None:
    prefix = f"exp{uuid.uuid4().hex[:6]}"
    stock("mlflow3", "write", tmp_path, "file:./mlruns", prefix)
    before = summary("mlflow3", tmp_path, "file:./mlruns", prefix)
    check_source(before)
    imported = run_import(MlrunsSource(tmp_path / "mlruns"), dest.url)
    assert imported.failures == []

    out = tmp_path / "out"
    report = run_export(dest.url, str(out), experiments=_names(prefix))
    assert report.failures == []
    assert (report.experiments_created, report.runs_created) == (3, 5)
    assert (report.models_created, report.versions_created, report.logged_models) == (1, 2, 1)
    assert verify_export(dest.url, str(out), experiments=_names(prefix)) == []

    after = summary("mlflow3", tmp_path, "file:./out", prefix)
    assert after["experiments"] == before["experiments"]
    assert_same(before, after)

    # MLflow 2.x's client reads the folder as well (runs, metrics, params, stages)
    assert _read_with_mlflow2(out) == {
        rid: [run["status"], run["start"], run["end"], len(run["metrics"]), len(run["params"])]
        for rid, run in before["runs"].items()
    }

    # the experiments keep Cairn's ids, the deleted one is in .trash
    for name in _names(prefix):
        cairn_id = imported.experiment_ids[_source_id(tmp_path / "mlruns", name)]
        place = out / (".trash" if name.endswith("-gone") else "") / cairn_id
        assert yaml.safe_load((place / "meta.yaml").read_text())["name"] == name

    # a second export writes nothing
    seen = _files(out)
    time.sleep(0.01)
    again = run_export(dest.url, str(out), experiments=_names(prefix))
    assert (again.runs_created, again.runs_updated, again.runs_unchanged) == (0, 0, 5)
    assert (again.points, again.artifacts, again.params, again.tags) == (0, 0, 0, 0)
    assert _files(out) == seen


READ_2X = """
import json, sys
from mlflow import MlflowClient
from mlflow.entities import ViewType
client = MlflowClient(tracking_uri="file:" + sys.argv[1])
out = {}
for e in client.search_experiments(view_type=ViewType.ALL):
    for r in client.search_runs([e.experiment_id], run_view_type=ViewType.ALL):
        i, d = r.info, r.data
        out[i.run_id] = [i.status, i.start_time, i.end_time, len(d.metrics), len(d.params)]
stages = sorted(v.current_stage for v in client.search_model_versions())
print(json.dumps({"runs": out, "stages": stages}))
"""


def _read_with_mlflow2(folder: Path) -> dict[str, list[object]]:
    result = subprocess.run(
        [str(client_python("mlflow2")), "-c", READ_2X, str(folder)],
        env=env_without_cairn(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["stages"] == ["Production", "Staging"]
    runs: dict[str, list[object]] = doc["runs"]
    return runs


def _source_id(root: Path, name: str) -> str:
    for meta in [*root.glob("*/meta.yaml"), *root.glob(".trash/*/meta.yaml")]:
        doc = yaml.safe_load(meta.read_text())
        if doc.get("name") == name:
            return str(doc["experiment_id"])
    raise AssertionError(name)


def test_an_interrupted_export_continues_and_verify_names_differences(
    dest: CairnServer, tmp_path: Path
) -> None:
    name = f"part-{uuid.uuid4().hex[:6]}"
    info = write_mlruns(tmp_path / "mlruns", experiment=name, runs=3, points=40, file_bytes=500)
    run_import(MlrunsSource(info.root), dest.url)
    out = tmp_path / "out"
    run_export(dest.url, str(out), experiments=[name])
    eid = next(p.parent.name for p in out.glob("*/meta.yaml") if name in p.read_text())
    first, second = info.run_ids[0], info.run_ids[1]
    # what a killed export leaves: a run half written, another not at all
    (out / eid / first / "metrics" / "loss").unlink()
    (out / eid / first / "artifacts" / "model.bin").write_bytes(b"partial")
    (out / eid / first / "params" / "p1").write_text("changed")
    (out / eid / first / "tags" / "stray").write_text("a tag Cairn does not have")
    found = verify_export(dest.url, str(out), experiments=[name])
    text = "\n".join(found)
    assert f"run {first}: params differ" in text
    assert f"run {first}: artifact 'model.bin' is 500 bytes in Cairn, 7 in the export" in text
    assert f"run {first}: metric 'loss' missing from the export" in text
    assert f"run {first}: tag 'stray' differs" in text
    assert len(found) == 4, found
    shutil.rmtree(out / eid / second)
    report = run_export(dest.url, str(out), experiments=[name])
    assert (report.runs_created, report.runs_updated, report.runs_unchanged) == (1, 1, 1)
    assert report.points == 80  # the deleted file and the run that was missing
    assert verify_export(dest.url, str(out), experiments=[name]) == []
    assert (out / eid / first / "artifacts" / "model.bin").stat().st_size == 500
    assert (out / eid / first / "params" / "p1").read_text() == "0"  # p1 of run 0
    assert not (out / eid / first / "tags" / "stray").exists()

    # an experiment deleted in Cairn since moves to .trash, as MLflow keeps it
    cairn_id = next(i for i in _cairn_ids(dest, name))
    with httpx.Client(timeout=60) as http:
        http.post(
            f"{dest.url}/api/2.0/mlflow/experiments/delete", json={"experiment_id": cairn_id}
        ).raise_for_status()
    moved = run_export(dest.url, str(out), experiments=[name])
    assert moved.deleted == 1
    assert not (out / eid).exists()
    meta = yaml.safe_load((out / ".trash" / eid / "meta.yaml").read_text())
    assert meta["lifecycle_stage"] == "deleted"
    assert verify_export(dest.url, str(out), experiments=[name]) == []


def _cairn_ids(dest: CairnServer, name: str) -> list[str]:
    with httpx.Client(timeout=60) as http:
        got = http.get(
            f"{dest.url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        )
    got.raise_for_status()
    return [str(got.json()["experiment"]["experiment_id"])]


def test_the_cli_exports_the_embedded_store(tmp_path: Path) -> None:
    info = write_mlruns(tmp_path / "mlruns", experiment="cli-exp", runs=2, points=10)
    env = {**env_without_cairn(), "CAIRN_HOME": str(tmp_path / "home")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cairn", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    missing = cli("export", "mlflow", "--to", str(tmp_path / "out"))
    assert missing.returncode == 1
    assert "There is no Cairn store at" in missing.stderr
    assert cli("import", "mlruns", str(info.root)).returncode == 0
    out = tmp_path / "out"
    dry = cli("export", "mlflow", "--to", str(out), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run, nothing written:" in dry.stdout
    assert "runs created 2, updated 0, unchanged 0" in dry.stdout
    assert "metric points        20" in dry.stdout
    assert not out.exists()
    first = cli("export", "mlflow", "--to", str(out), "--experiment", "cli-exp", "--verify")
    assert first.returncode == 0, first.stderr
    assert "Exported:" in first.stdout
    assert "runs created 2" in first.stdout
    assert f"verify: {out} matches Cairn" in first.stdout
    assert {p.name for p in out.glob("1/*") if p.is_dir()} == set(info.run_ids)
    loss = (out / "1" / info.run_ids[0] / "metrics" / "loss").read_text().splitlines()
    assert loss[:2] == ["1700000000000 1.0 0", "1700000000001 0.5 1"]
    again = cli("export", "mlflow", "--to", str(out))
    assert "runs created 0, updated 0, unchanged 2" in again.stdout
    assert "--from" in cli("export", "mlflow", "--help").stdout
    none = cli("export", "mlflow", "--to", str(out), "--experiment", "absent")
    assert none.returncode == 1
    assert "no experiment named 'absent'" in none.stderr


def test_a_folder_holding_another_store_is_refused(dest: CairnServer, tmp_path: Path) -> None:
    name = f"clash-{uuid.uuid4().hex[:6]}"
    info = write_mlruns(tmp_path / "mlruns", experiment=name, runs=1, points=1)
    run_import(MlrunsSource(info.root), dest.url)
    with pytest.raises(SyncError, match="already has an experiment"):
        run_export(dest.url, str(info.root), experiments=[name])  # 123456789 there, not ours
    target = tmp_path / "taken"
    run_export(dest.url, str(target), experiments=[name])
    eid = next(p.parent.name for p in target.glob("*/meta.yaml") if name in p.read_text())
    meta = target / eid / "meta.yaml"
    meta.write_text(meta.read_text().replace(name, "someone-else"))
    with pytest.raises(SyncError, match=f"holds the experiment 'someone-else', not '{name}'"):
        run_export(dest.url, str(target), experiments=[name])
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(SyncError, match="is a file"):
        run_export(dest.url, str(afile), experiments=[name])


@pytest.fixture(scope="module")
def mlflow_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    workdir = tmp_path_factory.mktemp("export-mlflow-target")
    yield from start_stock_mlflow_server(workdir, venv="mlflow3")


class _Interrupt:
    """A request hook that fails the ``after``-th metric batch: an export killed midway."""

    def __init__(self, after: int):
        self.left = after

    def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/runs/log-batch"):
            self.left -= 1
            if self.left == 0:
                raise KeyboardInterrupt


@pytest.mark.compat
def test_export_to_a_stock_mlflow_server_keeps_everything_but_the_ids(
    dest: CairnServer, mlflow_target: CairnServer, tmp_path: Path
) -> None:
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    stock("mlflow3", "write", tmp_path, "file:./mlruns", prefix)
    before = summary("mlflow3", tmp_path, "file:./mlruns", prefix)
    check_source(before)
    assert run_import(MlrunsSource(tmp_path / "mlruns"), dest.url).failures == []

    state = tmp_path / "state"
    with pytest.raises(KeyboardInterrupt):  # killed after its third metric batch
        run_export(
            dest.url,
            mlflow_target.url,
            experiments=_names(prefix),
            state_dir=state,
            request_hook=_Interrupt(3),
        )
    report = run_export(dest.url, mlflow_target.url, experiments=_names(prefix), state_dir=state)
    assert report.failures == []
    assert report.runs_created + report.runs_updated <= 5
    assert report.runs_unchanged >= 1  # the runs the killed export finished
    assert (report.models_created, report.versions_created, report.logged_models) == (1, 2, 1)

    after = summary("mlflow3", tmp_path, mlflow_target.url, prefix)
    assert after["experiments"] == before["experiments"]
    # new run ids on MLflow; the sync tag names the Cairn (and so the source) run
    ids = {r["tags"].pop(SYNC_TAG).split("/")[1]: rid for rid, r in after["runs"].items()}
    assert set(ids) == set(before["runs"])
    for rid, run in before["runs"].items():
        got = after["runs"][ids[rid]]
        parent = run["tags"].get("mlflow.parentRunId")
        if parent:
            run["tags"]["mlflow.parentRunId"] = ids[parent]
        for field in run:
            if field == "outputs":  # the logged model has a new id as well
                assert [o[1] for o in got[field]] == [o[1] for o in run[field]]
                assert all(o[0].startswith("m-") for o in got[field])
                continue
            assert got[field] == run[field], (rid, field)
    for model in before["models"].values():
        for version in model["versions"].values():
            version["run_id"] = ids[version["run_id"]]
    for model in after["models"].values():  # versions carry the sync tag too
        for number, version in model["versions"].items():
            assert version["tags"].pop(SYNC_TAG).endswith(f"/{number}")
    assert after["models"] == before["models"]  # stages, aliases, models:/ loading
    assert (
        verify_export(dest.url, mlflow_target.url, experiments=_names(prefix), state_dir=state)
        == []
    )

    seen = Requests()
    again = run_export(
        dest.url, mlflow_target.url, experiments=_names(prefix), state_dir=state, request_hook=seen
    )
    assert seen.writes == 0, seen.by_path
    assert again.runs_unchanged == 5

    # --verify finds a change made on the MLflow side
    rid = next(r for r, run in before["runs"].items() if "loss" in run["metrics"])
    with httpx.Client(timeout=60) as http:
        http.post(
            f"{mlflow_target.url}/api/2.0/mlflow/runs/set-tag",
            json={"run_id": ids[rid], "key": "kind", "value": "changed"},
        ).raise_for_status()
    found = verify_export(dest.url, mlflow_target.url, experiments=_names(prefix), state_dir=state)
    assert found == [f"run {rid}: tag 'kind' differs"]


@pytest.fixture(scope="module")
def mlflow2_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    workdir = tmp_path_factory.mktemp("export-mlflow2-target")
    yield from start_stock_mlflow_server(workdir, venv="mlflow2")


@pytest.mark.compat
def test_export_to_a_stock_mlflow_2_server_puts_logged_models_in_their_runs(
    dest: CairnServer, mlflow2_target: CairnServer, tmp_path: Path
) -> None:
    """MLflow 2.22 has no logged models: the model's files become artifacts of the run that
    logged it (a note says so, nothing fails) and its versions load from there."""
    prefix = f"two{uuid.uuid4().hex[:6]}"
    stock("mlflow3", "write", tmp_path, "file:./mlruns", prefix)
    before = summary("mlflow3", tmp_path, "file:./mlruns", prefix)
    check_source(before)
    assert run_import(MlrunsSource(tmp_path / "mlruns"), dest.url).failures == []

    state = tmp_path / "state"
    names = _names(prefix)
    report = run_export(dest.url, mlflow2_target.url, experiments=names, state_dir=state)
    assert report.failures == []
    assert (report.runs_created, report.models_created, report.versions_created) == (5, 1, 2)
    assert (report.logged_models, report.logged_models_in_runs) == (0, 1)
    assert [n for n in report.notes if "logged model" in n and "MLflow 2.x" in n] != []

    after = summary("mlflow2", tmp_path, mlflow2_target.url, prefix)
    ids = {r["tags"].pop(SYNC_TAG).split("/")[1]: rid for rid, r in after["runs"].items()}
    assert set(ids) == set(before["runs"])
    for rid, run in before["runs"].items():
        got = after["runs"][ids[rid]]
        for field in ("status", "start", "end", "user", "params", "metrics", "lifecycle"):
            assert got[field] == run[field], (rid, field)
    [model] = after["models"].values()
    [source_model] = before["models"].values()
    assert model["aliases"] == source_model["aliases"]
    for number, version in model["versions"].items():
        mine = source_model["versions"][number]
        assert version["stage"] == mine["stage"]
        assert version["run_id"] == ids[mine["run_id"]]
        assert version["prediction"] == mine["prediction"]  # models:/NAME/N loads on 2.22
    assert verify_export(dest.url, mlflow2_target.url, experiments=names, state_dir=state) == []

    seen = Requests()
    again = run_export(
        dest.url, mlflow2_target.url, experiments=names, state_dir=state, request_hook=seen
    )
    assert seen.writes == 0, seen.by_path
    assert again.failures == []
