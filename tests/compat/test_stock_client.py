"""Run every workflow in ``workflows/`` with each stock mlflow client of the matrix against cairn.

Each workflow is a plain script run by the client venv's Python; it exits 0 when every
assertion about the server's behaviour holds.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.compat.server import REPO, CairnServer

WORKFLOW_DIR = Path(__file__).resolve().parent / "workflows"
WORKFLOWS = sorted(p.stem for p in WORKFLOW_DIR.glob("*.py") if not p.stem.startswith("_"))
CLIENTS = {"mlflow3": "3.17.2", "mlflow2": "2.22.5", "mlflow31": "3.1.4", "mlflow318": "3.18.0"}
"""The client matrix: venv under ``.venvs/`` → the mlflow release it holds (``make compat-venvs``;
3.18.0 is ``mlflow-skinny`` where the full package's ``mlflow-tracing==3.18.0`` is missing)."""
WORKFLOW_TIMEOUT_S = 300
OUTPUT_TAIL_CHARS = 8000


def client_python(client: str) -> Path:
    python = REPO / ".venvs" / client / "bin" / "python"
    if not python.exists():
        pytest.fail(
            f"client venv {python.parent.parent} is missing (mlflow=={CLIENTS[client]}): "
            "run `make compat-venvs` first",
            pytrace=False,
        )
    return python


def client_env(server: CairnServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CAIRN_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        MLFLOW_TRACKING_URI=server.url,
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL_CHARS else "…" + text[-OUTPUT_TAIL_CHARS:]


def run_workflow_script(
    server: CairnServer,
    client: str,
    workflow: str,
    cwd: Path,
    timeout: float,
    extra_env: Mapping[str, str] | None = None,
) -> str:
    """Run ``workflows/<workflow>.py`` with a stock client against ``server``; its stdout.
    ``extra_env`` is added to the client's environment (credentials, for instance).

    A timeout or a non-zero exit fails the test with the script's output and the server's
    output during the run."""
    python = client_python(client)
    offset = server.log_offset()
    where = f"{workflow} with {client} ({server.backend} backend)"
    try:
        result = subprocess.run(
            [str(python), str(WORKFLOW_DIR / f"{workflow}.py")],
            cwd=cwd,
            env={**client_env(server), **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{where} did not finish within {timeout} s.\n"
            f"stdout:\n{tail(str(exc.stdout or ''))}\nstderr:\n{tail(str(exc.stderr or ''))}\n"
            f"server output:\n{server.log_since(offset)}",
            pytrace=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"{where} exited with {result.returncode}.\n--- stdout ---\n{tail(result.stdout)}\n"
            f"--- stderr ---\n{tail(result.stderr)}\n"
            f"--- server output during the run ---\n{server.log_since(offset)}",
            pytrace=False,
        )
    return result.stdout


@pytest.mark.compat
def test_workflows_found() -> None:
    assert "runs_basics" in WORKFLOWS, WORKFLOWS
    assert len(WORKFLOWS) >= 8, WORKFLOWS


@pytest.mark.compat
@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_stock_client(
    cairn_server: CairnServer, client: str, workflow: str, tmp_path: Path
) -> None:
    run_workflow_script(cairn_server, client, workflow, tmp_path, WORKFLOW_TIMEOUT_S)
