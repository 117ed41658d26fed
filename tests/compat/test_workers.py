"""Several server processes on one SQLite file: concurrent writers never fail."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.compat.server import start_server

API = "/api/2.0/mlflow"


@pytest.mark.compat
def test_two_workers_share_one_sqlite_store(tmp_path: Path) -> None:
    gen = start_server(
        "sqlite", f"sqlite:///{tmp_path / 'w.db'}", tmp_path / "srv", extra_args=("--workers", "2")
    )
    server = next(gen)
    try:
        base = server.url + API
        run_ids = [
            httpx.post(f"{base}/runs/create", json={"experiment_id": "0"}, timeout=30).json()[
                "run"
            ]["info"]["run_id"]
            for _ in range(4)
        ]
        failures: list[str] = []

        def writer(run_id: str) -> None:
            with httpx.Client(timeout=60) as client:
                for step in range(150):
                    resp = client.post(
                        f"{base}/runs/log-metric",
                        json={
                            "run_id": run_id,
                            "key": "m",
                            "value": step,
                            "timestamp": step,
                            "step": step,
                        },
                    )
                    if resp.status_code != 200:
                        failures.append(f"{resp.status_code} {resp.text[:200]}")
                        return

        threads = [threading.Thread(target=writer, args=(r,)) for r in run_ids for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert failures == [], failures[:3]
        for run_id in run_ids:
            history = httpx.get(
                f"{base}/metrics/get-history",
                params={"run_id": run_id, "metric_key": "m"},
                timeout=30,
            ).json()["metrics"]
            assert len(history) == 150  # two writers logged the same 150 points: stored once
    finally:
        gen.close()
