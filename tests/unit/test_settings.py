"""The settings table: every Settings field is a row, values survive the trip through the
environment, and a bad value is an error naming its variable, not a traceback."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from cairn.cli import main
from cairn.entities.errors import CairnError
from cairn.server.settings import SETTINGS, VARIABLES, Settings


def test_every_field_is_a_row_of_the_table() -> None:
    assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS]
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_defaults_come_from_the_table() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings().max_request_bytes == 32 * 1024 * 1024
    assert Settings().serve_artifacts is True


def test_to_env_rebuilds_the_same_settings() -> None:
    settings = Settings(
        backend_store_uri="sqlite:////tmp/x.db",
        artifacts_destination="s3://bucket/prefix",
        serve_artifacts=False,
        max_artifact_bytes=7,
        truncate_long_values=False,
        max_request_bytes=1024,
        sqlite_synchronous="FULL",
        shared_store=True,
        allowed_hosts=("localhost", "cairn.example.com:8443"),
        cors_allowed_origins=("https://app.example.com",),
    )
    env = settings.to_env()
    assert set(env) == {s.env for s in SETTINGS}
    assert Settings.from_env(env) == settings


def test_mlflow_variable_is_the_fallback_and_empty_is_unset() -> None:
    assert not Settings.from_env({"MLFLOW_TRUNCATE_LONG_VALUES": "false"}).truncate_long_values
    both = {"MLFLOW_TRUNCATE_LONG_VALUES": "false", "CAIRN_TRUNCATE_LONG_VALUES": "true"}
    assert Settings.from_env(both).truncate_long_values
    assert Settings.from_env({"CAIRN_MAX_REQUEST_BYTES": ""}) == Settings()
    assert Settings.from_env({"CAIRN_SQLITE_SYNCHRONOUS": "full"}).sqlite_synchronous == "FULL"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CAIRN_MAX_ARTIFACT_BYTES", "abc"),
        ("CAIRN_MAX_ARTIFACT_BYTES", "-1"),
        ("CAIRN_MAX_REQUEST_BYTES", "1.5"),
        ("CAIRN_SERVE_ARTIFACTS", "maybe"),
        ("CAIRN_SHARED_STORE", "2"),
        ("CAIRN_SQLITE_SYNCHRONOUS", "OFF"),
        ("MLFLOW_TRUNCATE_LONG_VALUES", "sometimes"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(CairnError) as info:
        Settings.from_env({variable: value})
    assert variable in info.value.message
    assert repr(value) in info.value.message


def test_cairn_server_refuses_a_bad_variable_without_a_traceback() -> None:
    result = CliRunner().invoke(main, ["server"], env={"CAIRN_MAX_ARTIFACT_BYTES": "-5"})
    assert result.exit_code == 2, result.output
    assert "CAIRN_MAX_ARTIFACT_BYTES='-5'" in result.output
    assert "cannot be negative" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, CairnError)


def _server_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], env: dict[str, str]
) -> tuple[str, Settings]:
    """`cairn server ARGS` up to the point where uvicorn would start (nothing listens: the
    port check and uvicorn are stubbed), its output and the settings its app was built with."""
    import uvicorn

    import cairn.cli

    for variable in VARIABLES:  # restored after the test: `cairn server` exports its settings
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr(cairn.cli, "choose_port", lambda host, port, say=None: 5999)
    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.append(app))
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(main, ["server", "--backend-store-uri", uri, *args])
    assert result.exit_code == 0, result.output
    assert len(started) == 1
    return result.output, Settings.from_env()


def test_server_on_loopback_answers_loopback_names_and_warns_of_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    output, settings = _server_output(monkeypatch, tmp_path, ["--host", "127.0.0.1"], {})
    assert settings.allowed_hosts == ("localhost", "127.0.0.1", "[::1]")
    assert "allowed hosts: localhost, 127.0.0.1, [::1]" in output
    assert "Warning" not in output


def test_server_on_all_addresses_warns_twice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    output, settings = _server_output(monkeypatch, tmp_path, ["--host", "0.0.0.0"], {})
    assert settings.allowed_hosts == ("*",)
    flat = " ".join(output.split())
    assert "without access control" in flat
    assert "anyone who can reach this address can read, change and delete everything" in flat
    assert "--allowed-hosts" in flat


def test_server_takes_hosts_and_origins_from_options_or_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    args = ["--host", "0.0.0.0", "--allowed-hosts", "cairn.example.com, localhost:5999"]
    args += ["--cors-allowed-origins", "https://app.example.com"]
    output, settings = _server_output(monkeypatch, tmp_path, args, {})
    assert settings.allowed_hosts == ("cairn.example.com", "localhost:5999")
    assert settings.cors_allowed_origins == ("https://app.example.com",)
    flat = " ".join(output.split())
    assert "without access control" in flat  # still not loopback
    assert "DNS rebinding" not in flat  # but the hosts are set
    env = {"CAIRN_ALLOWED_HOSTS": "cairn.example.com"}
    _, settings = _server_output(monkeypatch, tmp_path, ["--host", "127.0.0.1"], env)
    assert settings.allowed_hosts == ("cairn.example.com",)


def test_allowed_hosts_cannot_be_empty() -> None:
    with pytest.raises(CairnError) as info:
        Settings.from_env({"CAIRN_ALLOWED_HOSTS": " , "})
    assert "CAIRN_ALLOWED_HOSTS" in info.value.message
    assert Settings().allowed_hosts == ("*",)  # an app built in-process answers any host
    assert Settings().cors_allowed_origins == ()
