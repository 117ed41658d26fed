"""``cairn sync`` refuses clearly: exit code 1, a message naming the problem, no traceback."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cairn.cli import main
from cairn.sync.ledger import destination_key, normalize_url
from cairn.sync.source import locate
from tests.compat.server import CairnServer
from tests.sync.builder import build_store


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _sync(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sync", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small") / "cairn-data"
    build_store(root, runs=1, points=10, big_file_bytes=0, experiment="small")
    return root


def test_an_unreachable_server_is_named(small_store: Path) -> None:
    url = _dead_url()
    code, output = _sync(str(small_store), "--to", url)
    assert code == 1
    assert f"Cannot reach the server at {url}" in output
    assert "connection refused" in output
    assert "Traceback" not in output


def test_a_url_that_is_not_http_is_refused(small_store: Path) -> None:
    code, output = _sync(str(small_store), "--to", "ftp://127.0.0.1/x")
    assert code == 1
    assert "--to must be an http(s) URL" in output


def test_a_folder_without_a_database_is_not_a_store(tmp_path: Path) -> None:
    code, output = _sync(str(tmp_path), "--to", _dead_url())
    assert code == 1
    assert "is not a Cairn store: the folder has no cairn.db" in output


def test_a_missing_source_is_named(tmp_path: Path) -> None:
    code, output = _sync(str(tmp_path / "nope"), "--to", _dead_url())
    assert code == 1
    assert "does not exist" in output


def test_a_file_that_is_not_sqlite_is_not_a_store(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("just some text, long enough to not be a database header at all\n" * 20)
    code, output = _sync(str(bogus), "--to", _dead_url())
    assert code == 1
    assert "is not a Cairn store: not a SQLite database" in output
    assert "Traceback" not in output


def test_a_foreign_sqlite_database_is_not_a_store(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE things (id INTEGER)")
    code, output = _sync(f"sqlite:///{other}", "--to", _dead_url())
    assert code == 1
    assert "is not a Cairn store: it has no alembic_version, experiments, metrics, runs" in output


def test_a_server_store_uri_is_refused() -> None:
    code, output = _sync("postgresql://postgres@127.0.0.1/cairn", "--to", _dead_url())
    assert code == 1
    assert "is not an offline store" in output


def test_every_source_form_locates_the_same_store(small_store: Path) -> None:
    db = small_store / "cairn.db"
    by_dir = locate(str(small_store))
    assert locate(str(db)) == by_dir
    assert locate(f"sqlite:///{db}") == by_dir
    assert by_dir.artifacts_root == small_store.resolve() / "artifacts"
    assert by_dir.state_dir == small_store.resolve() / ".cairn-sync"
    custom = locate(str(db), artifacts=str(small_store / "elsewhere"))
    assert custom.artifacts_root == small_store.resolve() / "elsewhere"


def test_destinations_are_told_apart_by_normalised_url() -> None:
    assert normalize_url("HTTP://LocalHost:5000/") == "http://localhost:5000"
    assert destination_key("http://localhost:5000/") == destination_key("http://LOCALHOST:5000")
    assert destination_key("http://localhost:5000") != destination_key("http://localhost:5001")


def test_sync_from_a_db_path_and_uri_with_the_artifacts_next_to_it(
    dest: CairnServer, tmp_path: Path
) -> None:
    info = build_store(tmp_path / "data", runs=1, points=10, big_file_bytes=0, experiment="by-uri")
    code, output = _sync(f"sqlite:///{info.root / 'cairn.db'}", "--to", dest.url)
    assert code == 0, output
    assert "runs created 1" in output
    assert "artifacts            5 file(s)" in output
    code, output = _sync(str(info.root / "cairn.db"), "--to", dest.url)
    assert code == 0, output
    assert "unchanged 1" in output


def test_help_describes_the_command() -> None:
    result = CliRunner().invoke(main, ["sync", "--help"])
    assert result.exit_code == 0
    for text in ("SOURCE", "--to", "--dry-run", "--source-artifacts", "cairn.db"):
        assert text in result.output


def test_two_syncs_of_one_store_to_one_server_cannot_overlap(
    dest: CairnServer, small_store: Path
) -> None:
    from cairn.sync.ledger import exclusive

    with exclusive(small_store / ".cairn-sync", dest.url + "/"):
        code, output = _sync(str(small_store), "--to", dest.url)
    assert code == 1
    assert "Another `cairn sync` of this store to" in output
    code, output = _sync(str(small_store), "--to", dest.url)
    assert code == 0, output


def test_every_option_is_documented() -> None:
    from cairn.cli import sync

    text = (Path(__file__).resolve().parents[2] / "docs" / "sync.md").read_text()
    options = [o for p in sync.params for o in p.opts if o != "--help" and o.startswith("--")]
    assert options
    for option in options:
        assert f"`{option}" in text, option


def test_syncing_a_store_to_the_server_that_serves_it_is_refused(tmp_path: Path) -> None:
    from tests.compat.server import start_server

    info = build_store(tmp_path / "data", runs=1, points=10, big_file_bytes=0, experiment="self")
    server = start_server(
        "sqlite",
        f"sqlite:///{info.root / 'cairn.db'}",
        tmp_path / "server",
        extra_args=["--artifacts-destination", str(info.root / "artifacts")],
    )
    serving = next(server)
    try:
        code, output = _sync(str(info.root), "--to", serving.url)
    finally:
        server.close()
    assert code == 1
    assert f"already has run {info.runs[0].run_id} under the same id" in output
    assert "serves this very store" in output
