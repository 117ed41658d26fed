"""The other direction: Cairn's SDK, ``cairn demo --tracking-uri URL`` and ``cairn sync``
against a stock MLflow 3.17.2 server (which stores ``runs:/`` sources on model versions and
answers ``get-download-uri`` with them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cairn
from tests.compat.server import CairnServer, start_stock_mlflow_server

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 900


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[CairnServer]:
    yield from start_stock_mlflow_server(tmp_path / "mlflow")


def _cairn(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "cairn", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    return out


def _get(server: CairnServer, path: str, **query: str) -> Any:
    url = f"{server.url}{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _loads_registered_model(server: CairnServer, name: str) -> None:
    version = _get(server, "/api/2.0/mlflow/model-versions/get", name=name, version="1")
    source = version["model_version"]["source"]
    assert source.startswith("runs:/"), source  # what MLflow keeps; the SDK refused it
    cairn.set_tracking_uri(server.url)  # the conftest's clean_sdk resets it afterwards
    model = cairn.load_model(f"models:/{name}/1")
    assert hasattr(model, "predict"), model


@pytest.mark.compat
def test_demo_into_a_stock_mlflow_server(mlflow_server: CairnServer, tmp_path: Path) -> None:
    out = _cairn("demo", "--tracking-uri", mlflow_server.url, "--curve-steps", "20", cwd=tmp_path)
    assert "Done." in out, out[-4000:]
    _loads_registered_model(mlflow_server, "lims_contamination_detector")


@pytest.mark.compat
def test_sync_into_a_stock_mlflow_server(mlflow_server: CairnServer, tmp_path: Path) -> None:
    store = tmp_path / "store"
    _cairn("demo", "--tracking-uri", str(store), "--curve-steps", "20", cwd=tmp_path)
    out = _cairn("sync", str(store), "--to", mlflow_server.url, cwd=tmp_path)
    assert "runs created 17" in out, out[-4000:]
    _loads_registered_model(mlflow_server, "lims_contamination_detector")
    again = _cairn("sync", str(store), "--to", mlflow_server.url, cwd=tmp_path)
    assert "runs created 0" in again, again[-4000:]
