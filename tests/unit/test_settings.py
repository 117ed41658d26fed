"""The settings table: every Settings field is a row, values survive the trip through the
environment, and a bad value is an error naming its variable, not a traceback."""

from __future__ import annotations

from dataclasses import fields

import pytest
from click.testing import CliRunner

from cairn.cli import main
from cairn.entities.errors import CairnError
from cairn.server.settings import SETTINGS, Settings


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
