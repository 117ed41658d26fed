"""``cairn import mlflow`` brings MLflow 3's traces: a stock MLflow 3.17.2 server filled through
the stock client (a traced pipeline with nested spans inside a run, trace tags, an error trace,
feedback and an expectation) is imported into a live ``cairn server``; the stock client reads
both sides and every trace field, span and assessment is equal, the trace still found by its
run; ``--verify`` finds no difference and a second import writes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cairn.sync.imports import run_import, verify_import
from cairn.sync.mlflow_server import MlflowServerSource
from tests.compat.server import start_server, start_stock_mlflow_server
from tests.sync.conftest import Requests
from tests.sync.test_import_mlflow_stores import stock

SCRIPT = "mlflow_traces.py"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    dest_dir = tmp_path_factory.mktemp("traces-dest")
    source_dir = tmp_path_factory.mktemp("traces-source")
    for dest in start_server("sqlite", f"sqlite:///{dest_dir / 'cairn.db'}", dest_dir):
        for source in start_stock_mlflow_server(source_dir):
            yield source.url, dest.url


def traces_summary(cwd: Path, url: str, prefix: str) -> dict[str, Any]:
    doc = json.loads(stock("mlflow3", "summary", cwd, url, prefix, script=SCRIPT))
    assert isinstance(doc, dict)
    return doc


@pytest.mark.compat
def test_traces_import_with_spans_and_assessments(servers: tuple[str, str], tmp_path: Path) -> None:
    source_url, dest_url = servers
    prefix = f"tr{uuid.uuid4().hex[:6]}"
    stock("mlflow3", "write", tmp_path, source_url, prefix, script=SCRIPT)
    before = traces_summary(tmp_path, source_url, prefix)
    assert len(before["traces"]) == 3  # the fill worked: a broken script would prove nothing
    assert {t["state"] for t in before["traces"].values()} == {"OK", "ERROR"}
    assert any(len(t["assessments"]) == 2 for t in before["traces"].values())
    assert any(len(t["spans"]) == 3 for t in before["traces"].values())
    assert [ids for ids in before["by_run"].values() if ids]

    state = tmp_path / "state"
    only = [f"{prefix}-traces"]
    report = run_import(MlflowServerSource(source_url, state_dir=state, experiments=only), dest_url)
    assert report.failures == []
    assert report.traces == 3
    after = traces_summary(tmp_path, dest_url, prefix)
    assert set(after["traces"]) == set(before["traces"])  # the same trace ids
    for tid, trace in before["traces"].items():
        for field, value in trace.items():
            assert after["traces"][tid][field] == value, (tid, field)
    assert after["by_run"] == before["by_run"]
    verify = MlflowServerSource(source_url, state_dir=state, experiments=only)
    assert verify_import(verify, dest_url) == []

    seen = Requests()
    again = run_import(
        MlflowServerSource(source_url, state_dir=state, experiments=only),
        dest_url,
        request_hook=seen,
    )
    assert seen.writes == 0, seen.by_path
    assert again.traces == 0
