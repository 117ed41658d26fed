"""A full disk under a live `cairn server`: the request that finds no space gets 507
`RESOURCE_EXHAUSTED` naming what is full, nothing of it is stored (no partial artifact, no
half of a batch), everything acknowledged before is intact, and the server goes on serving.

The server runs in a mount namespace of its own (``unshare -Urm``, no privileges needed) with
its artifact store, or its SQLite database, on a tmpfs of a few MB; the test looks at that
file system through ``/proc/<pid>/root``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.compat.server import CairnServer, start_server

ROOT = Path(__file__).resolve().parents[2]
STOCK_PYTHON = ROOT / ".venvs" / "mlflow3" / "bin" / "python"
MOUNT_TWO = (
    'mount -t tmpfs -o size="$1" tmpfs "$2" && mount -t tmpfs -o size="$3" tmpfs "$4" '
    '&& shift 4 && exec "$@"'
)
MB = 1024 * 1024
MAX_BATCHES = 400


@contextmanager
def _server_on_small_disks(
    tmp_path: Path, *, artifacts_size: str, database_size: str
) -> Iterator[tuple[CairnServer, Path, Path]]:
    """A server whose artifacts and SQLite database live on tmpfs mounts of the given sizes,
    seen from here through /proc/<pid>/root."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to give the server a small disk")
    artifacts, database = tmp_path / "artifacts", tmp_path / "db"
    artifacts.mkdir()
    database.mkdir()
    wrapper = ["unshare", "-Urm", "sh", "-c", MOUNT_TWO, "sh",
               artifacts_size, str(artifacts), database_size, str(database)]  # fmt: skip
    runs = start_server(
        "sqlite",
        f"sqlite:///{database / 'cairn.db'}",
        tmp_path / "work",
        ["--artifacts-destination", str(artifacts)],
        wrapper=wrapper,
    )
    server = next(runs)
    try:
        inside = Path(f"/proc/{server.process.pid}/root")
        yield server, inside / str(artifacts).lstrip("/"), inside / str(database).lstrip("/")
    finally:
        runs.close()


def _files(folder: Path) -> dict[str, int]:
    return {
        str(Path(base, name).relative_to(folder)): os.path.getsize(Path(base, name))
        for base, _dirs, names in os.walk(folder)
        for name in names
    }


def _full(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 507, answer.text
    body = answer.json()
    assert body["error_code"] == "RESOURCE_EXHAUSTED"
    assert f"{what} is full" in body["message"]
    assert "nothing of this request was stored" in body["message"]


def test_a_full_artifact_disk_stores_nothing_and_keeps_serving(tmp_path: Path) -> None:
    with (
        _server_on_small_disks(tmp_path, artifacts_size="2m", database_size="64m") as (
            server,
            artifacts,
            _db,
        ),
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        assert _files(artifacts) == {}
        made = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
        run_id = made.json()["run"]["info"]["run_id"]
        files = f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts"

        too_big = os.urandom(3 * MB)
        _full(client.put(f"{files}/model.bin", content=too_big), "the server's disk")
        assert _files(artifacts) == {}  # not even a hidden temp file
        listed = client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
        assert listed.json().get("files", []) == []

        # the stock client's multipart upload: a part finds the disk full, the client aborts
        big = tmp_path / "weights.bin"
        big.write_bytes(too_big)
        script = (
            "import sys, mlflow\n"
            "client = mlflow.MlflowClient(sys.argv[1])\n"
            "try:\n"
            "    client.log_artifact(sys.argv[2], sys.argv[3])\n"
            "except Exception as exc:\n"
            "    print('RAISED', exc)\n"
        )
        env = {**os.environ, "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
               "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(MB),
               "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(MB)}  # fmt: skip
        stock = subprocess.run(
            [str(STOCK_PYTHON), "-c", script, server.url, run_id, str(big)],
            capture_output=True, text=True, timeout=120, env=env, check=True,
        )  # fmt: skip
        assert "RAISED" in stock.stdout, stock.stdout + stock.stderr
        assert "RESOURCE_EXHAUSTED" in stock.stdout or "507" in stock.stdout, stock.stdout
        assert not any(name.endswith("weights.bin") for name in _files(artifacts))

        # what fits is still stored and read back whole
        small = os.urandom(200_000)
        assert client.put(f"{files}/config.bin", content=small).status_code == 200
        assert client.get(f"{files}/config.bin").content == small
        assert set(_files(artifacts)) == {f"0/{run_id}/artifacts/config.bin"}
        assert "storage full" in server.log_since()
        assert "Traceback" not in server.log_since()


def test_a_full_database_disk_loses_nothing_acknowledged(tmp_path: Path) -> None:
    with (
        _server_on_small_disks(tmp_path, artifacts_size="8m", database_size="3m") as (
            server,
            _artifacts,
            _db,
        ),
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        made = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
        run_id = made.json()["run"]["info"]["run_id"]
        acknowledged: dict[str, set[int]] = {}
        refused = 0
        for batch in range(MAX_BATCHES):
            key = f"loss_{batch % 5}"
            points = [
                {"key": key, "value": float(i), "timestamp": 1_700_000_000_000 + i,
                 "step": batch * 1000 + i}
                for i in range(1000)
            ]  # fmt: skip
            answer = client.post(
                "/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": points}
            )
            if answer.status_code == 200:
                acknowledged.setdefault(key, set()).update(p["step"] for p in points)
                continue
            _full(answer, "the database's disk")
            refused += 1
            if refused == 3:
                break
        assert refused == 3, f"the 3 MB database never filled in {MAX_BATCHES} batches"
        assert acknowledged, "nothing fitted before the disk was full"

        # every acknowledged point is there once; nothing of a refused batch is
        for key, steps in acknowledged.items():
            history = client.get(
                "/api/2.0/mlflow/metrics/get-history",
                params={"run_id": run_id, "metric_key": key, "max_results": 1_000_000},
            )
            assert history.status_code == 200, history.text
            stored = [m["step"] for m in history.json()["metrics"]]
            assert len(stored) == len(set(stored))
            assert set(stored) == steps, key
        assert client.get("/health").status_code == 200
        got = client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
        assert got.status_code == 200
        assert json.loads(got.text)["run"]["info"]["status"] == "RUNNING"
