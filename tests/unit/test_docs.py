"""The docs cannot drift: every server option and every endpoint is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.cli import server
from cairn.server.mlflow.routes import ENDPOINTS
from cairn.server.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("option", [o for p in server.params for o in p.opts if o != "--help"])
def test_server_options_are_documented(option: str) -> None:
    assert f"`{option}`" in (ROOT / "docs" / "server.md").read_text()


@pytest.mark.parametrize("variable", VARIABLES)
def test_settings_are_documented(variable: str) -> None:
    """Every row of the settings table (cairn/server/settings.py) is in docs/server.md."""
    assert f"| `{variable}` |" in (ROOT / "docs" / "server.md").read_text()


@pytest.mark.parametrize("path", sorted({e.prefixes[0] + e.path for e in ENDPOINTS}))
def test_endpoints_are_documented(path: str) -> None:
    assert f"{path}`" in (ROOT / "docs" / "api.md").read_text()


def test_readme_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
