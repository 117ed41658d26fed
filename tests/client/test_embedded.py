"""The embedded default store is the one `cairn server` serves; auth headers reach servers."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import cairn
from cairn.client import embedded, fluent
from tests.client.servers import FlakyProxy, free_port, server_on
from tests.compat.server import CairnServer


def test_cairn_server_in_the_same_folder_shows_embedded_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, experiment_name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cairn.get_tracking_uri() == str(tmp_path / "cairn-data")
    cairn.set_experiment(experiment_name)
    with cairn.start_run(run_name="offline") as run:
        cairn.log_param("p", 1)
        for step in range(1200):
            cairn.log_metric("m", step, step=step)
        cairn.log_text("offline notes", "notes.txt")
    assert embedded._apps  # it ran in-process
    fluent._reset()  # what interpreter exit does: flush, close the database
    assert not embedded._apps
    assert (tmp_path / "cairn-data" / "cairn.db").is_file()

    with server_on(free_port(), tmp_path, defaults=True) as url:
        client = cairn.Client(url)
        got = client.get_run(run.info.run_id)
        assert (got.info.run_name, got.info.status) == ("offline", "FINISHED")
        assert got.data.params == {"p": "1"}
        assert len(client.get_metric_history(run.info.run_id, "m")) == 1200
        notes = client.download_artifacts(run.info.run_id, "notes.txt", tmp_path / "dl")
        assert Path(notes).read_text() == "offline notes"
        experiment = client.get_experiment_by_name(experiment_name)
        assert experiment is not None


def test_auth_headers(
    sqlite_server: CairnServer, monkeypatch: pytest.MonkeyPatch, experiment_name: str
) -> None:
    with FlakyProxy(sqlite_server.url, failures=0) as proxy:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
        cairn.Client(proxy.url).get_experiment("0")
        fluent._reset()
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
        cairn.set_tracking_uri(proxy.url)
        cairn.set_experiment(experiment_name)
        with cairn.start_run():
            cairn.log_metric("m", 1)
    basic = "Basic " + base64.b64encode(b"ana:pw").decode()
    assert proxy.authorization[0] == "Bearer s3cret"
    assert len(proxy.authorization) > 4
    assert set(proxy.authorization[1:]) == {basic}


def test_closed_store_reopens(tmp_path: Path) -> None:
    cairn.set_tracking_uri(f"sqlite:///{tmp_path / 'one.db'}")
    with cairn.start_run() as run:
        cairn.log_metric("m", 1)
    fluent._reset()
    client = cairn.Client(f"sqlite:///{tmp_path / 'one.db'}")
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    assert (tmp_path / "artifacts").is_dir()


@pytest.mark.postgres
def test_embedded_on_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.databases import fresh_postgres_database

    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "home"))
    with fresh_postgres_database() as uri:
        cairn.set_tracking_uri(uri)
        with cairn.start_run() as run:
            cairn.log_metrics({"a": 1.0, "b": 2.0}, step=2)
            cairn.log_text("pg", "x.txt")
        client = cairn.Client()
        assert client.get_run(run.info.run_id).data.metrics == {"a": 1.0, "b": 2.0}
        assert client.list_artifacts(run.info.run_id)[0].path == "x.txt"
        fluent._reset()  # close the embedded store before the database is dropped
    assert list((tmp_path / "home" / "artifacts").rglob("x.txt"))
