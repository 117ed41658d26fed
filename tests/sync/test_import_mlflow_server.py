"""``cairn import mlflow --from URL``: a stock MLflow server (3.17.2 and 2.22.5), filled through
the stock client (experiments, nested runs, params, tags, metric points with steps and
timestamps, NaN, a dataset input, artifacts, a logged model registered with stages and
aliases, a deleted run and experiment), is imported into a live ``cairn server`` and the stock
client reads both sides field by field; ``--verify`` finds no difference; a second import
writes nothing; the CLI prints the summary."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.sync import SyncError
from cairn.sync.imports import run_import, verify_import
from cairn.sync.mlflow_server import MlflowServerSource
from tests.compat.server import REPO, CairnServer, start_server, start_stock_mlflow_server
from tests.sync.builder import env_without_cairn
from tests.sync.conftest import Requests
from tests.sync.test_import_mlflow_stores import assert_same, check_source, stock, summary


@pytest.fixture(scope="module")
def cairn_dest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    workdir = tmp_path_factory.mktemp("import-server-dest")
    yield from start_server("sqlite", f"sqlite:///{workdir / 'cairn.db'}", workdir)


@pytest.fixture(scope="module", params=["mlflow3", "mlflow2"])
def mlflow_source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, CairnServer]]:
    client = str(request.param)
    workdir = tmp_path_factory.mktemp(f"import-server-{client}")
    for server in start_stock_mlflow_server(workdir, venv=client):
        yield client, server


@pytest.mark.compat
def test_a_stock_mlflow_server_imports_whole(
    mlflow_source: tuple[str, CairnServer], cairn_dest: CairnServer, tmp_path: Path
) -> None:
    client, source = mlflow_source
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    stock(client, "write", tmp_path, source.url, prefix)
    before = summary(client, tmp_path, source.url, prefix)
    check_source(before)

    state = tmp_path / "state"
    report = run_import(MlflowServerSource(source.url, state_dir=state), cairn_dest.url)
    assert report.failures == []
    assert report.runs_created == 5
    assert report.versions_created == 2
    assert report.logged_models == (1 if client == "mlflow3" else 0)
    after = summary(client, tmp_path, cairn_dest.url, prefix)
    assert_same(before, after)
    assert verify_import(MlflowServerSource(source.url, state_dir=state), cairn_dest.url) == []

    seen = Requests()
    again = run_import(
        MlflowServerSource(source.url, state_dir=state), cairn_dest.url, request_hook=seen
    )
    assert seen.writes == 0, seen.by_path
    assert again.runs_unchanged == 5


@pytest.mark.compat
def test_the_cli_imports_one_experiment_and_verifies(
    mlflow_source: tuple[str, CairnServer], cairn_dest: CairnServer, tmp_path: Path
) -> None:
    client, source = mlflow_source
    prefix = f"cli{uuid.uuid4().hex[:6]}"
    stock(client, "write", tmp_path, source.url, prefix)
    command = [
        sys.executable, "-m", "cairn", "import", "mlflow", "--from", source.url,
        "--to", cairn_dest.url, "--experiment", f"{prefix}-other",
        "--state-dir", str(tmp_path / "state"), "--verify",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=env_without_cairn(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the destination matches" in done.stdout
    after = summary(client, tmp_path, cairn_dest.url, prefix)
    assert set(after["experiments"]) == {f"{prefix}-other"}


def test_a_url_that_is_not_an_mlflow_server_is_refused(cairn_dest: CairnServer) -> None:
    with pytest.raises(SyncError, match="not an MLflow server|http"):
        MlflowServerSource("ftp://127.0.0.1/x")
    with pytest.raises(SyncError, match="cannot reach|refused"):
        MlflowServerSource("http://127.0.0.1:9")
