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
from cairn.sync.remote import Destination
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


CUT_FILL = """
import sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
client = MlflowClient(tracking_uri=sys.argv[1])
eid = client.create_experiment(sys.argv[2])
base = int(time.time() * 1000) - 10**6
for r in range(3):
    rid = client.create_run(eid, start_time=base + r).info.run_id
    points = [Metric("loss", (r * 7 + i) % 1000 / 1000, base + i, 0) for i in range(10_000)]
    for start in range(0, len(points), 1000):
        client.log_batch(rid, metrics=points[start : start + 1000])
    print(rid)
"""


@pytest.mark.compat
def test_histories_read_together_past_mlflows_cap_lose_no_point(
    mlflow_source: tuple[str, CairnServer], cairn_dest: CairnServer, tmp_path: Path
) -> None:
    """Three runs of 10,000 points each logged at step 0: from their latest step they look
    like one point each, so one get-history-bulk request asks for all three; MLflow answers
    its cap of 25,000 points, and the runs it may have cut are read again on their own."""
    client, source = mlflow_source
    name = f"cut{uuid.uuid4().hex[:6]}"
    python = str(REPO / ".venvs" / client / "bin" / "python")
    filled = subprocess.run(
        [python, "-c", CUT_FILL, source.url, name], env=env_without_cairn(),
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    run_ids = filled.stdout.split()[-3:]
    seen = Requests()
    api = Destination(source.url, request_hook=seen)
    try:
        source_api = MlflowServerSource(
            source.url, state_dir=tmp_path / "state", experiments=[name], api=api
        )
        report = run_import(source_api, cairn_dest.url)
    finally:
        api.close()
    assert report.failures == []
    assert report.points == 30_000
    bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
    assert seen.by_path[bulk] >= 2  # the three together, then at least one alone
    for rid in run_ids:
        want = Destination(source.url).metric_history(rid, "loss")
        got = Destination(cairn_dest.url).metric_history(rid, "loss")
        assert len(want) == 10_000
        assert sorted(got) == sorted(want)


def test_a_url_that_is_not_an_mlflow_server_is_refused(cairn_dest: CairnServer) -> None:
    with pytest.raises(SyncError, match="not an MLflow server|http"):
        MlflowServerSource("ftp://127.0.0.1/x")
    with pytest.raises(SyncError, match="cannot reach|refused"):
        MlflowServerSource("http://127.0.0.1:9")


SOURCE_ADMIN = ("admin", "the source's own admin password")
DEST_ADMIN = ("cairn-admin", "the destination's admin password")
FILL = """
import mlflow
mlflow.set_experiment("guarded")
with mlflow.start_run() as run:
    mlflow.log_param("lr", "0.1")
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
print(run.info.run_id)
"""


def test_the_source_and_the_destination_each_have_their_own_credentials(
    tmp_path: Path,
) -> None:
    """An MLflow server with basic auth imported into a Cairn server with access control:
    the source signs in with MLFLOW_SOURCE_TRACKING_*, the destination with
    MLFLOW_TRACKING_*; with only the destination's, the source's refusal says which
    variables to set."""
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{tmp_path / 'basic_auth.db'}\n"
        f"admin_username = {SOURCE_ADMIN[0]}\nadmin_password = {SOURCE_ADMIN[1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    source_env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "k"}
    dest_env = {"CAIRN_ADMIN_USERNAME": DEST_ADMIN[0], "CAIRN_ADMIN_PASSWORD": DEST_ADMIN[1]}
    sources = start_stock_mlflow_server(
        tmp_path / "source", extra_args=["--app-name", "basic-auth"], extra_env=source_env
    )
    dests = start_server(
        "sqlite", f"sqlite:///{tmp_path / 'cairn.db'}", tmp_path / "dest", ["--auth"], dest_env
    )
    try:
        source, dest = next(sources), next(dests)
        fill_env = {**env_without_cairn(), "MLFLOW_TRACKING_URI": source.url,
                    "MLFLOW_TRACKING_USERNAME": SOURCE_ADMIN[0],
                    "MLFLOW_TRACKING_PASSWORD": SOURCE_ADMIN[1]}  # fmt: skip
        filled = subprocess.run(
            [str(REPO / ".venvs" / "mlflow3" / "bin" / "python"), "-c", FILL],
            env=fill_env, capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        run_id = filled.stdout.strip().splitlines()[-1]
        command = [
            sys.executable, "-m", "cairn", "import", "mlflow", "--from", source.url,
            "--to", dest.url, "--state-dir", str(tmp_path / "state"), "--verify",
        ]  # fmt: skip
        dest_only = {**env_without_cairn(), "MLFLOW_TRACKING_USERNAME": DEST_ADMIN[0],
                     "MLFLOW_TRACKING_PASSWORD": DEST_ADMIN[1]}  # fmt: skip
        refused = subprocess.run(
            command, cwd=REPO, env=dest_only, capture_output=True, text=True, timeout=300
        )
        assert refused.returncode != 0
        assert "MLFLOW_SOURCE_TRACKING_USERNAME" in refused.stdout + refused.stderr

        both = {**dest_only, "MLFLOW_SOURCE_TRACKING_USERNAME": SOURCE_ADMIN[0],
                "MLFLOW_SOURCE_TRACKING_PASSWORD": SOURCE_ADMIN[1]}  # fmt: skip
        done = subprocess.run(
            command, cwd=REPO, env=both, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "the destination matches" in done.stdout
        import httpx

        got = httpx.get(
            f"{dest.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, auth=DEST_ADMIN
        )
        assert got.status_code == 200, got.text
        data = got.json()["run"]["data"]
        assert data["params"] == [{"key": "lr", "value": "0.1"}]
        assert [m["key"] for m in data["metrics"]] == ["loss"]
    finally:
        sources.close()
        dests.close()
