"""The command line: port choice, schema commands, refusing a newer schema."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from cairn.cli import DEFAULT_PORT, choose_port, main
from cairn.store.migrate import head_revision


def _occupy(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_explicit_port_that_is_taken_is_an_error() -> None:
    sock = _occupy(0)
    port = sock.getsockname()[1]
    try:
        result = CliRunner().invoke(main, ["server", "--port", str(port)])
        assert result.exit_code != 0
        assert f"Port {port}" in result.output
        assert "already in use" in result.output
    finally:
        sock.close()


def test_default_port_moves_to_the_next_free_one(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        sock = _occupy(DEFAULT_PORT)
    except OSError:  # something else holds 5000: the point of the test still stands
        sock = None
    try:
        port = choose_port("127.0.0.1", None)
        assert port > DEFAULT_PORT
        assert f"Port {DEFAULT_PORT} is in use; using port {port}" in capsys.readouterr().err
    finally:
        if sock is not None:
            sock.close()


def test_the_port_note_goes_where_the_banner_goes() -> None:
    """With ``--log-format json`` the server passes its log as ``say``: the note that the
    default port moved is a log record there, not a text line among JSON lines."""
    try:
        sock = _occupy(DEFAULT_PORT)
    except OSError:
        sock = None
    said: list[str] = []
    try:
        port = choose_port("127.0.0.1", None, said.append)
        assert port > DEFAULT_PORT
        assert said == [f"[yellow]Port {DEFAULT_PORT} is in use; using port {port} instead."]
        assert choose_port("127.0.0.1", port, said.append) == port  # a free explicit port: quiet
        assert len(said) == 1
    finally:
        if sock is not None:
            sock.close()


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'c.db'}"
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade", "--backend-store-uri", uri])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["db", "current", "--backend-store-uri", uri])
    assert result.exit_code == 0, result.output
    assert f"current: {head_revision()}" in result.output


def test_server_refuses_a_newer_schema_and_says_what_to_do(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'n.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade", "--backend-store-uri", uri]).exit_code == 0
    engine = create_engine(uri)
    with engine.begin() as conn:  # as a newer Cairn with a contract step leaves it
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        conn.execute(text("UPDATE schema_compat SET oldest_compatible = 'fffe'"))
    engine.dispose()
    sock = _occupy(0)  # never reached: the schema check comes first
    sock.close()
    result = runner.invoke(main, ["server", "--backend-store-uri", uri, "--port", "1"])
    assert result.exit_code != 0
    assert "newer" in result.output
    assert "pip install --upgrade cairn-ml" in result.output
