"""A store written by a real ``cairn server`` (its default data-directory layout) through the
stock mlflow client is synced to another server; the stock client then sees the same thing
on both."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cairn.sync import sync_store
from tests.compat.server import CairnServer, start_server
from tests.compat.test_stock_client import client_env, client_python, tail
from tests.sync.conftest import Requests

SCRIPT = Path(__file__).resolve().parent / "scripts" / "stock_client.py"
TIMEOUT_S = 300


def _client(server: CairnServer, mode: str, cwd: Path) -> str:
    result = subprocess.run(
        [str(client_python("mlflow3")), str(SCRIPT), mode],
        cwd=cwd,
        env=client_env(server),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"stock client '{mode}' exited with {result.returncode}\n{tail(result.stderr)}",
            pytrace=False,
        )
    return result.stdout


@pytest.mark.compat
def test_a_store_written_by_the_stock_client_syncs_whole(dest: CairnServer, tmp_path: Path) -> None:
    # the offline side: `cairn server` on its default layout, CAIRN_HOME = home/
    workdir = tmp_path / "offline"
    home = workdir / "home"
    home.mkdir(parents=True)
    server = start_server("sqlite", f"sqlite:///{home / 'cairn.db'}", workdir)
    offline = next(server)
    try:
        _client(offline, "write", tmp_path)
        before = json.loads(_client(offline, "summary", tmp_path))
    finally:
        server.close()
    assert (home / "cairn.db").is_file()
    assert (home / "artifacts").is_dir()

    report = sync_store(str(home), dest.url)
    assert report.failures == []
    assert report.notes == []
    assert report.runs_created == 3
    assert report.points == 2 * 300 + 1
    after = json.loads(_client(dest, "summary", tmp_path))
    assert after == before
    assert before["runs"]["child-0"]["parent"] == "parent"
    assert len(before["runs"]["child-1"]["files"]) == 3

    seen = Requests()
    again = sync_store(str(home), dest.url, request_hook=seen)
    assert seen.writes == 0
    assert again.runs_unchanged == 3
