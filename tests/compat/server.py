"""Start and stop a live ``cairn server`` subprocess for the compatibility tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.databases import fresh_database

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = (
    240.0  # a bound, not a timing: MLflow's server takes 2 min to start on a loaded 2-core machine
)
STOP_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 6000


@dataclass
class CairnServer:
    """A running server: its base URL, its process and the file its stdout+stderr go to."""

    backend: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int = 0) -> str:
        """Server output written after ``offset`` (its last few thousand characters)."""
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
        return text if len(text) <= LOG_TAIL_CHARS else "…" + text[-LOG_TAIL_CHARS:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env["CAIRN_HOME"] = str(home)
    return env


def _leads_group(process: subprocess.Popen[bytes]) -> bool:
    """Whether the server was started in a session of its own (``start_new_session``)."""
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals, group: bool) -> None:
    """``sig`` to the server's process group when it leads one (MLflow 2's ``mlflow server``
    runs gunicorn as a child that outlives a signal to the parent alone), else to it alone."""
    try:
        if group:
            os.killpg(process.pid, sig)
        elif process.poll() is None:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server we started, by its PID (and its process group when it leads one):
    SIGTERM, then SIGKILL if it lingers; children the group's leader left behind end too."""
    group = _leads_group(process)
    if process.poll() is None:
        _signal(process, signal.SIGTERM, group)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL, group)
            process.wait(timeout=STOP_TIMEOUT_S)
    if group:
        _signal(process, signal.SIGKILL, group)


def start_server(
    backend: str,
    uri: str,
    workdir: Path,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> Iterator[CairnServer]:
    """Run ``cairn server`` on a free loopback port until the generator is closed.

    ``extra_args`` go after the standard options; ``extra_env`` is added to the server's
    environment after the ``CAIRN_*``/``MLFLOW_*`` variables of this process are dropped;
    ``wrapper`` is a command the server's command line is appended to (one that ends by
    ``exec``-ing it, so the process stopped by PID is the server).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        *wrapper, sys.executable, "-m", "cairn", "server",
        "--host", "127.0.0.1", "--port", str(port), "--backend-store-uri", uri,
        *extra_args,
    ]  # fmt: skip
    env = _server_env(workdir / "home")
    env.update(extra_env or {})
    yield from _serve(backend, "cairn server", command, env, url, workdir)


def _serve(
    backend: str, what: str, command: list[str], env: dict[str, str], url: str, workdir: Path
) -> Iterator[CairnServer]:
    """Start ``command`` (a server that answers ``GET /health`` at ``url``), yield it once
    healthy, stop it by its PID when the generator is closed."""
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = CairnServer(backend, url, process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(
                    f"{what} ({backend}) exited with code {process.returncode} before "
                    f"answering /health.\ncommand: {command}\noutput:\n{server.log_since()}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{what} ({backend}) did not answer GET /health with 200 within "
                    f"{STARTUP_TIMEOUT_S:.0f} s.\ncommand: {command}\n"
                    f"output:\n{server.log_since()}",
                    pytrace=False,
                )
            time.sleep(0.2)
        yield server
    finally:
        _stop(process)


@dataclass
class CairnWorker:
    """A running ``cairn worker``: its process and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log_path: Path
    owner: str
    """Its job engine's name (``host:pid:id``), the ``lease_owner`` of the jobs it runs."""


WORKER_STARTED = re.compile(rb"cairn worker (\S+): ")


def start_worker(
    uri: str,
    workdir: Path,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[CairnWorker]:
    """Run ``cairn worker`` on store ``uri`` (its queue follows the store unless
    ``extra_args`` name one) until the generator is closed; yielded once it says it runs."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "cairn", "worker", "--backend-store-uri", uri, *extra_args,
    ]  # fmt: skip
    env = _server_env(workdir / "home")
    env.update(extra_env or {})
    log_path = workdir / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            found = WORKER_STARTED.search(log_path.read_bytes())
            if found:
                break
            output = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
            if process.poll() is not None:
                pytest.fail(
                    f"cairn worker exited with code {process.returncode} before it started.\n"
                    f"command: {command}\noutput:\n{output}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"cairn worker did not start within {STARTUP_TIMEOUT_S:.0f} s.\n"
                    f"command: {command}\noutput:\n{output}",
                    pytrace=False,
                )
            time.sleep(0.2)
        yield CairnWorker(process, log_path, found.group(1).decode())
    finally:
        _stop(process)


def start_stock_mlflow_server(
    workdir: Path,
    venv: str = "mlflow3",
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[CairnServer]:
    """A stock MLflow server (3.17.2 from the ``.venvs/mlflow3`` client venv, or 2.22.5 with
    ``venv="mlflow2"``) on a free loopback port, with a fresh SQLite store and proxied
    artifacts in ``workdir``: for Cairn's SDK, ``cairn demo``, ``cairn sync`` and ``cairn
    import mlflow`` against MLflow itself. ``extra_args`` (``--app-name basic-auth``) and
    ``extra_env`` go to the server."""
    mlflow = REPO / ".venvs" / venv / "bin" / "mlflow"
    assert mlflow.exists(), f"{mlflow} is missing: run `make compat-venvs`"
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    command = [
        str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination", str(workdir / "artifacts"), "--workers", "1", *extra_args,
    ]  # fmt: skip
    env = _server_env(workdir / "home")
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env.update(extra_env or {})
    yield from _serve("mlflow", "mlflow server", command, env, f"http://127.0.0.1:{port}", workdir)


def server_for_backend(backend: str, workdir: Path) -> Iterator[CairnServer]:
    """A live server on ``backend``: a SQLite file in ``workdir``, or a fresh PostgreSQL or
    MariaDB database that is released when the generator is closed."""
    with fresh_database(backend, workdir) as uri:
        yield from start_server(backend, uri, workdir)
