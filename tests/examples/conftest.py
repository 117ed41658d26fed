"""Run the examples and `cairn demo` as a user would: as scripts, in a fresh folder, against
the embedded default and against a live `cairn server` on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.compat.server import REPO, CairnServer, start_server
from tests.databases import fresh_postgres_database

EXAMPLES = REPO / "examples"
MLFLOW3 = REPO / ".venvs" / "mlflow3" / "bin" / "python"
SCRIPT_TIMEOUT_S = 300
TAIL = 6000


def script_env(**extra: str) -> dict[str, str]:
    """This environment without tracking settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        PYTHONUNBUFFERED="1",
        MPLBACKEND="Agg",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def run_script(
    args: list[str], cwd: Path, env: dict[str, str], python: Path | str = sys.executable
) -> str:
    """Run ``python args…`` in ``cwd``; fail with its output unless it exits 0. Its stdout,
    then its stderr (where `cairn` commands print)."""
    try:
        result = subprocess.run(
            [str(python), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{args} did not finish within {SCRIPT_TIMEOUT_S} s:\n{exc.stdout}\n{exc.stderr}"
        )
    if result.returncode != 0:
        pytest.fail(
            f"{args} exited with {result.returncode}\nstdout:\n{result.stdout[-TAIL:]}\n"
            f"stderr:\n{result.stderr[-TAIL:]}",
            pytrace=False,
        )
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    """A live `cairn server` on a fresh PostgreSQL database."""
    workdir = tmp_path_factory.mktemp("examples-postgres")
    with fresh_postgres_database() as uri:
        yield from start_server("postgres", uri, workdir)


class Api:
    """Read-only checks over HTTP against a server (MLflow's API and Cairn's /api/v1)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: object) -> dict[str, object]:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return dict(response.json())

    def post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        response = self.http.post(path, json=body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return dict(response.json())

    def experiment_id(self, name: str) -> str:
        found = self.get("/api/2.0/mlflow/experiments/get-by-name", experiment_name=name)
        return str(found["experiment"]["experiment_id"])  # type: ignore[index]

    def runs(self, experiment: str, filter_string: str = "") -> list[dict[str, object]]:
        body = {
            "experiment_ids": [self.experiment_id(experiment)],
            "filter": filter_string,
            "max_results": 1000,
        }
        return list(self.post("/api/2.0/mlflow/runs/search", body).get("runs", []))  # type: ignore[arg-type]

    def versions(self, model: str) -> list[dict[str, object]]:
        found = self.get("/api/2.0/mlflow/model-versions/search", filter=f"name = '{model}'")
        return list(found.get("model_versions", []))  # type: ignore[arg-type]

    def datasets(self, experiment: str) -> list[dict[str, object]]:
        found = self.get(
            "/api/v1/datasets", experiment_id=self.experiment_id(experiment), max_results=1000
        )
        return list(found.get("datasets", []))  # type: ignore[arg-type]
