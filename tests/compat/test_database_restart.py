"""PostgreSQL restarted under a live `cairn server` while the stock `mlflow` client logs: the
requests that meet the outage get 503 `TEMPORARILY_UNAVAILABLE` with `Retry-After`, the
client retries them on its own, the server reconnects once the database is back, and every
point is stored exactly once. The log has one line per failed request or background read,
no traceback.

The database is a PostgreSQL cluster of the test's own (initdb in a temporary folder, on a
free loopback port), so restarting it disturbs nothing else."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.compat.server import start_server

ROOT = Path(__file__).resolve().parents[2]
STOCK_PYTHON = ROOT / ".venvs" / "mlflow3" / "bin" / "python"
POINTS = 150
OUTAGE_S = 3.0
WAIT_S = 120.0

CLIENT = """
import sys, time
from pathlib import Path
import mlflow

client = mlflow.MlflowClient(sys.argv[1])
progress = Path(sys.argv[2])
run_id = client.create_run("0").info.run_id
progress.write_text(f"{run_id} 0")
for step in range(int(sys.argv[3])):
    client.log_metric(run_id, "loss", 1.0 / (step + 1), timestamp=1_700_000_000_000 + step,
                      step=step)
    progress.write_text(f"{run_id} {step + 1}")
    time.sleep(0.01)
print(run_id)
"""


class Cluster:
    """A PostgreSQL cluster in ``folder`` on ``port`` (as the ``postgres`` user when this
    process is root, which initdb refuses to run as)."""

    def __init__(self, folder: Path, port: int):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            pytest.fail("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are missing")
        self.bin = Path(found[-1]).parent
        self.folder, self.port = folder, port
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-A", "trust",
                  "-U", "postgres")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
                  "-l", str(self.folder / "postgres.log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                  "-w", "stop")  # fmt: skip


def _logged(progress: Path) -> int:
    """How many points the client says it has logged (0 while it writes the file)."""
    try:
        parts = progress.read_text().split()
    except FileNotFoundError:
        return 0
    return int(parts[1]) if len(parts) == 2 else 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="cairn-pg-restart-", dir="/tmp"))
    cluster = Cluster(folder, _free_port())
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_database_restart_under_a_logging_client_loses_nothing(tmp_path: Path) -> None:
    with _cluster() as cluster:
        uri = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        runs = start_server("postgresql", uri, tmp_path / "server")
        server = next(runs)
        try:
            progress = tmp_path / "progress"
            env = {**os.environ, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                   "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "8"}  # fmt: skip
            client = subprocess.Popen(
                [str(STOCK_PYTHON), "-c", CLIENT, server.url, str(progress), str(POINTS)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + WAIT_S
                while _logged(progress) < 20:
                    assert client.poll() is None, client.communicate()
                    assert time.monotonic() < deadline, "the client made no progress"
                    time.sleep(0.05)
                cluster.stop()  # mid-stream: the client's next requests meet the outage
                time.sleep(OUTAGE_S)
                cluster.start()
                out, err = client.communicate(timeout=WAIT_S)
            finally:
                if client.poll() is None:
                    client.kill()
                    client.wait()
            assert client.returncode == 0, err
            run_id = out.strip().splitlines()[-1]

            with httpx.Client(base_url=server.url, timeout=30) as http:
                history = http.get(
                    "/api/2.0/mlflow/metrics/get-history",
                    params={"run_id": run_id, "metric_key": "loss", "max_results": 10_000},
                )
            assert history.status_code == 200, history.text
            steps = sorted(m["step"] for m in history.json()["metrics"])
            assert steps == list(range(POINTS))  # every point, once
            log = server.log_since()
            assert "database unreachable" in log  # the outage did meet requests
            assert "Traceback" not in log
        finally:
            runs.close()
