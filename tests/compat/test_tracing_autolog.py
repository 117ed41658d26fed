"""Autologging with tracing on, with the stock mlflow 3.17.2 client against a live ``cairn
server`` (SQLite and PostgreSQL): ``workflows/_tracing_autolog.py`` drives
``mlflow.openai.autolog()`` with the openai SDK against a stub model server on loopback and
reads every trace back (spans, token usage, nesting, ``mlflow.search_traces``, feedback).

openai is not in the client venv: ``make compat-venvs`` installs it into
``.venvs/openai-extras`` (pinned against the venv's own packages), put on the script's
``PYTHONPATH``. Nothing here reaches the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.server import REPO, CairnServer
from tests.compat.test_stock_client import run_workflow_script

EXTRAS = REPO / ".venvs" / "openai-extras"


@pytest.mark.compat
def test_openai_autolog_traces_reach_cairn(cairn_server: CairnServer, tmp_path: Path) -> None:
    if not (EXTRAS / "openai").is_dir():
        pytest.fail(f"{EXTRAS} has no openai: run `make compat-venvs` first", pytrace=False)
    offset = cairn_server.log_offset()
    out = run_workflow_script(
        cairn_server,
        "mlflow3",
        "_tracing_autolog",
        tmp_path,
        300,
        extra_env={"PYTHONPATH": str(EXTRAS)},
    )
    assert "tracing autolog workflow ok 3.17.2" in out, out
    log = cairn_server.log_since(offset)
    assert "internal error" not in log, log
    assert "Traceback" not in log, log
