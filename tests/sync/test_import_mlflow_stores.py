"""``cairn import mlruns`` and ``cairn import mlflow-db``: stores written by the stock mlflow
client (3.x and 2.x file stores, a SQLite and a PostgreSQL database) are imported into a live
``cairn server``, and the stock client reads both sides: ids, times, status, users, params,
tags, every metric point, dataset inputs, artifacts (sizes and sha256), registry stages,
aliases and ``models:/`` loading must be equal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from cairn.sync import SyncError
from cairn.sync.imports import run_import, verify_import
from cairn.sync.mlflow_db import MlflowDbSource
from cairn.sync.mlflow_files import MlrunsSource
from tests.compat.server import REPO, CairnServer
from tests.compat.test_stock_client import client_env, client_python, tail
from tests.databases import fresh_postgres_database
from tests.sync.builder import env_without_cairn
from tests.sync.conftest import Requests
from tests.sync.mlruns_builder import write_mlruns

KILL_WAIT_S = 120.0

SCRIPT = Path(__file__).resolve().parent / "scripts" / "mlflow_source.py"
TIMEOUT_S = 300


def stock(
    client: str, mode: str, cwd: Path, uri: str, prefix: str, script: str = SCRIPT.name
) -> str:
    """Run a stock-client script of ``scripts/`` (default: ``mlflow_source.py``) with
    ``MLFLOW_TRACKING_URI=uri``; its stdout."""
    env = {k: v for k, v in client_env_base().items()}
    env.update(
        MLFLOW_TRACKING_URI=uri,
        MLFLOW_ALLOW_FILE_STORE="true",
        IMPORT_PREFIX=prefix,
    )
    if os.environ.get("PYTHONPATH_STOCK"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH_STOCK"]
    result = subprocess.run(
        [str(client_python(client)), str(SCRIPT.with_name(script)), mode],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"stock client {client} '{mode}' exited with {result.returncode}\n"
            f"{tail(result.stderr)}",
            pytrace=False,
        )
    return result.stdout


def client_env_base() -> dict[str, str]:
    class _Any:
        url = ""

    env = client_env(_Any())  # type: ignore[arg-type]
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def summary(client: str, cwd: Path, uri: str, prefix: str) -> dict[str, Any]:
    doc = json.loads(stock(client, "summary", cwd, uri, prefix))
    assert isinstance(doc, dict)
    return doc


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert set(after["experiments"]) == set(before["experiments"])
    for name, exp in before["experiments"].items():
        assert after["experiments"][name] == exp, name
    assert set(after["runs"]) == set(before["runs"])  # the same run ids
    for rid, run in before["runs"].items():
        got = after["runs"][rid]
        for field in run:
            assert got[field] == run[field], (rid, field)
    assert after["models"] == before["models"]


def check_source(before: dict[str, Any]) -> None:
    """The source holds what the test needs (a broken fill script would prove nothing)."""
    runs = before["runs"].values()
    assert len(before["runs"]) == 5
    assert {r["lifecycle"] for r in runs} == {"active", "deleted"}
    assert any(r["tags"].get("mlflow.parentRunId") for r in runs)
    assert any(r["inputs"] for r in runs)
    assert any("folder/sub/data.bin" in r["files"] for r in runs)
    assert before["experiments"][next(iter(before["experiments"]))]
    if any(r["outputs"] for r in runs):  # mlflow 3: the run that logged the model
        assert [r["outputs"] for r in runs if r["outputs"]][0][0][0].startswith("m-")
    model = next(iter(before["models"].values()))
    assert model["aliases"]
    assert {v["stage"] for v in model["versions"].values()} == {"Production", "Staging"}
    assert all(v["prediction"] == [2.0, 8.0] for v in model["versions"].values())


@pytest.mark.compat
@pytest.mark.parametrize("client", ["mlflow3", "mlflow2"])
def test_mlruns_written_by_the_stock_client_imports_whole(
    dest: CairnServer, tmp_path: Path, client: str
) -> None:
    prefix = f"imp{uuid.uuid4().hex[:6]}"
    stock(client, "write", tmp_path, "file:./mlruns", prefix)
    before = summary(client, tmp_path, "file:./mlruns", prefix)
    check_source(before)

    report = run_import(MlrunsSource(tmp_path / "mlruns"), dest.url)
    assert report.failures == []
    assert report.runs_created == 5
    assert report.versions_created == 2
    after = summary(client, tmp_path, dest.url, prefix)
    assert_same(before, after)

    seen = Requests()
    again = run_import(MlrunsSource(tmp_path / "mlruns"), dest.url, request_hook=seen)
    assert seen.writes == 0, seen.by_path
    assert again.runs_created == again.runs_updated == 0
    assert again.runs_unchanged == 5


@pytest.fixture
def pg_driver(tmp_path: Path) -> Path:
    """psycopg for the stock client's venv (which has no PostgreSQL driver): the project's
    own copy, put on its PYTHONPATH through a folder of links."""
    site = Path(psycopg.__file__).resolve().parent.parent
    folder = tmp_path / "pg-driver"
    folder.mkdir()
    for entry in site.iterdir():
        if entry.name.startswith(("psycopg", "psycopg_binary")):
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.mark.compat
@pytest.mark.parametrize(
    ("backend", "client"), [("sqlite", "mlflow3"), ("postgres", "mlflow3"), ("sqlite", "mlflow2")]
)
def test_an_mlflow_database_written_by_the_stock_client_imports_whole(
    dest: CairnServer, tmp_path: Path, backend: str, client: str, pg_driver: Path
) -> None:
    prefix = f"db{uuid.uuid4().hex[:6]}"
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        else:
            uri = stack.enter_context(fresh_postgres_database())
        os.environ["PYTHONPATH_STOCK"] = str(pg_driver)
        try:
            stock(client, "write", tmp_path, uri, prefix)
            before = summary(client, tmp_path, uri, prefix)
        finally:
            os.environ.pop("PYTHONPATH_STOCK", None)
        check_source(before)

        report = run_import(MlflowDbSource(uri), dest.url)
        assert report.failures == []
        assert report.runs_created == 5
        assert report.logged_models == (1 if client == "mlflow3" else 0)
        after = summary(client, tmp_path, dest.url, prefix)
        assert_same(before, after)
        assert verify_import(MlflowDbSource(uri), dest.url) == []

        seen = Requests()
        again = run_import(MlflowDbSource(uri), dest.url, request_hook=seen)
        assert seen.writes == 0, seen.by_path
        assert again.runs_unchanged == 5


def _ledger_runs(state: Path) -> dict[str, Any]:
    for path in state.glob("*.json"):
        if not path.name.startswith("."):
            doc = json.loads(path.read_text())
            runs = doc.get("runs", {})
            assert isinstance(runs, dict)
            return runs
    raise FileNotFoundError(state)


def test_a_killed_import_resumes_and_completes(dest: CairnServer, tmp_path: Path) -> None:
    info = write_mlruns(
        tmp_path / "mlruns", experiment=f"kill-{uuid.uuid4().hex[:6]}", runs=6, points=6000
    )
    state = tmp_path / ".cairn-import" / "mlruns"
    log = tmp_path / "import.log"
    command = [sys.executable, "-m", "cairn", "import", "mlruns", str(info.root), "--to", dest.url]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env_without_cairn(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + KILL_WAIT_S
        done = 0
        while done < 1:
            assert proc.poll() is None, f"the import ended before the kill:\n{log.read_text()}"
            assert time.monotonic() < deadline, "no run was imported in time"
            time.sleep(0.005)
            try:
                runs = _ledger_runs(state)
            except (FileNotFoundError, ValueError):
                continue
            done = sum(1 for r in runs.values() if r.get("complete"))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    finished = [r for r in _ledger_runs(state).values() if r.get("complete")]
    assert 1 <= len(finished) < len(info.run_ids), "the import was not killed half-way"

    report = run_import(MlrunsSource(info.root), dest.url)
    assert report.failures == []
    assert report.runs_created + report.runs_updated <= len(info.run_ids) - len(finished) + 1
    assert verify_import(MlrunsSource(info.root), dest.url) == []
    seen = Requests()
    run_import(MlrunsSource(info.root), dest.url, request_hook=seen)
    assert seen.writes == 0, seen.by_path


def test_verify_names_each_difference(dest: CairnServer, tmp_path: Path) -> None:
    info = write_mlruns(
        tmp_path / "mlruns",
        experiment=f"verify-{uuid.uuid4().hex[:6]}",
        runs=2,
        points=50,
        file_bytes=1000,
    )
    run_import(MlrunsSource(info.root), dest.url)
    assert verify_import(MlrunsSource(info.root), dest.url) == []
    rid = info.run_ids[0]
    api = f"{dest.url}/api/2.0/mlflow"
    with httpx.Client(timeout=60) as http:
        http.post(
            f"{api}/runs/log-metric",
            json={"run_id": rid, "key": "loss", "value": 9.0, "timestamp": 1, "step": 999},
        ).raise_for_status()
        http.post(
            f"{api}/runs/set-tag", json={"run_id": rid, "key": "deep/key", "value": "changed"}
        ).raise_for_status()
        run = http.get(f"{api}/runs/get", params={"run_id": rid}).json()["run"]
        prefix = run["info"]["artifact_uri"].split(":", 1)[1].strip("/")
        http.put(
            f"{dest.url}/api/2.0/mlflow-artifacts/artifacts/{prefix}/model.bin", content=b"x"
        ).raise_for_status()
    found = verify_import(MlrunsSource(info.root), dest.url)
    text = "\n".join(found)
    assert f"run {rid}: metric 'loss' has 51 distinct point(s) on the destination, 50" in text
    assert f"run {rid}: tag 'deep/key' differs" in text
    assert (
        f"run {rid}: artifact 'model.bin' is 1 bytes on the destination, 1000 in the source" in text
    )
    assert len(found) == 3, found


def test_bad_inputs_name_the_file_and_write_nothing(dest: CairnServer, tmp_path: Path) -> None:
    with pytest.raises(SyncError, match="is not an mlruns folder"):
        MlrunsSource(tmp_path)
    with pytest.raises(SyncError, match="is not a folder"):
        MlrunsSource(tmp_path / "nowhere")
    name = f"bad-{uuid.uuid4().hex[:6]}"
    info = write_mlruns(tmp_path / "mlruns", experiment=name, runs=2, points=5)
    run_dir = info.root / "123456789" / info.run_ids[1]
    metric = run_dir / "metrics" / "loss"
    metric.write_text(metric.read_text() + "1700000000000 not-a-number 3\n")
    with pytest.raises(SyncError) as caught:
        run_import(MlrunsSource(info.root), dest.url)
    assert f"{metric}, line 6: not a metric line" in caught.value.message
    with httpx.Client(timeout=60) as http:
        got = http.get(
            f"{dest.url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        )
    assert got.status_code == 404  # nothing was written
    metric.write_text("1700000000000 1.0 0\n")
    meta = run_dir / "meta.yaml"
    meta.write_text("run_id: [unclosed\n")
    with pytest.raises(SyncError, match=f"{meta} is not valid YAML"):
        run_import(MlrunsSource(info.root), dest.url)
    meta.write_text("status: 3\nrun_id: x\nstart_time: yesterday\n")
    with pytest.raises(SyncError, match=f"{meta}: 'start_time' is not a number"):
        run_import(MlrunsSource(info.root), dest.url)
    with pytest.raises(SyncError, match="no experiment named 'nope'"):
        run_import(MlrunsSource(info.root, experiments=["nope"]), dest.url)

    not_mlflow = tmp_path / "other.db"
    sqlite3.connect(not_mlflow).execute("CREATE TABLE experiments (x INTEGER)").connection.commit()
    with pytest.raises(SyncError, match=r"not an MLflow tracking database: it has no .*runs"):
        MlflowDbSource(f"sqlite:///{not_mlflow}")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 10)
    with pytest.raises(SyncError, match="Cannot read the database"):
        MlflowDbSource(f"sqlite:///{junk}")
    with pytest.raises(SyncError, match="does not exist"):
        MlflowDbSource(f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(SyncError, match="not a database URI"):
        MlflowDbSource("::nonsense::")


def test_the_cli_dry_run_filter_and_embedded_destination(tmp_path: Path) -> None:
    """Without --to the import writes to the store `cairn server` would open ($CAIRN_HOME)."""
    info = write_mlruns(tmp_path / "mlruns", experiment="cli-exp", runs=3, points=10)
    env = {**env_without_cairn(), "CAIRN_HOME": str(tmp_path / "home")}
    base = [sys.executable, "-m", "cairn", "import", "mlruns", str(info.root)]

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
        )

    dry = cli("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run, nothing written:" in dry.stdout
    assert "runs created 3, updated 0, unchanged 0" in dry.stdout
    assert "metric points        30" in dry.stdout
    # no store was made (the embedded app still writes its secret.key into $CAIRN_HOME)
    assert not (tmp_path / "home" / "cairn.db").exists()
    none = cli("--experiment", "absent")
    assert none.returncode == 1
    assert "no experiment named 'absent'" in none.stderr
    first = cli("--experiment", "cli-exp", "--verify")
    assert first.returncode == 0, first.stderr
    assert "runs created 3" in first.stdout
    assert "123456789 -> 1" in first.stdout
    assert "verify: the destination matches" in first.stdout
    assert (tmp_path / "home" / "cairn.db").is_file()
    second = cli()
    assert second.returncode == 0, second.stderr
    assert "runs created 0, updated 0, unchanged 3" in second.stdout
    assert (
        "--artifact-root"
        in subprocess.run(
            [sys.executable, "-m", "cairn", "import", "mlflow-db", "--help"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )


def test_an_mlflow_1x_folder_imports(dest: CairnServer, tmp_path: Path) -> None:
    """1.x wrote run_uuid (no run_id), status names, 'timestamp value' lines without a step,
    no lifecycle_stage for old experiments, and named runs only by tag."""
    name = f"old-{uuid.uuid4().hex[:6]}"
    rid = uuid.uuid4().hex
    root = tmp_path / "mlruns"
    exp = root / "1"
    run = exp / rid
    for sub in ("metrics", "params", "tags/a", "artifacts/sub"):
        (run / sub).mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        f"artifact_location: ./mlruns/1\nexperiment_id: '1'\nname: {name}\n"
    )
    (run / "meta.yaml").write_text(
        f"artifact_uri: ./mlruns/1/{rid}/artifacts\nend_time: 1500000001000\n"
        f"experiment_id: '1'\nlifecycle_stage: active\nname: ''\nrun_uuid: {rid}\n"
        "source_name: train.py\nsource_type: 4\nstart_time: 1500000000000\nstatus: FAILED\n"
        "tags: []\nuser_id: olduser\n"
    )
    (run / "metrics" / "acc").write_text("1500000000100 0.5\n1500000000200 0.75\n")
    (run / "params" / "alpha").write_text("0.1")
    (run / "tags" / "mlflow.runName").write_text("legacy")
    (run / "tags" / "a" / "b").write_text("nested")
    (run / "artifacts" / "sub" / "f.txt").write_text("old file")
    report = run_import(MlrunsSource(root), dest.url)
    assert report.failures == []
    assert report.runs_created == 1
    api = f"{dest.url}/api/2.0/mlflow"
    with httpx.Client(timeout=60) as http:
        got = http.get(f"{api}/runs/get", params={"run_id": rid}).json()["run"]
        history = http.get(
            f"{api}/metrics/get-history", params={"run_id": rid, "metric_key": "acc"}
        ).json()["metrics"]
    info, data = got["info"], got["data"]
    assert (info["status"], info["user_id"], info["run_name"]) == ("FAILED", "olduser", "legacy")
    assert (info["start_time"], info["end_time"]) == (1500000000000, 1500000001000)
    assert {t["key"]: t["value"] for t in data["tags"]}["a/b"] == "nested"
    assert {p["key"]: p["value"] for p in data["params"]} == {"alpha": "0.1"}
    assert sorted((m["step"], m["timestamp"], m["value"]) for m in history) == [
        (0, 1500000000100, 0.5),
        (0, 1500000000200, 0.75),
    ]
    assert verify_import(MlrunsSource(root), dest.url) == []
