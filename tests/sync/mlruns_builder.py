"""Writes an ``mlruns`` folder in MLflow's file-store layout (as 2.x/3.x write it), fast, for
sizes the stock client would take minutes to log (the kill/resume test, the benchmark).
The layout matches what ``tests/sync/scripts/mlflow_source.py`` gets from the stock client."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

T0 = 1_700_000_000_000


@dataclass
class MlrunsInfo:
    root: Path
    experiment: str
    run_ids: list[str]
    points: int  # in all
    files: int


def write_mlruns(
    root: Path,
    *,
    experiment: str,
    runs: int,
    points: int,
    params: int = 5,
    file_bytes: int = 0,
    experiment_id: str = "123456789",
) -> MlrunsInfo:
    """``runs`` finished runs in one experiment, each with ``points`` points of metric
    ``loss`` (step i), ``params`` params, a nested tag and (when ``file_bytes``) one file."""
    exp_dir = root / experiment_id
    exp_dir.mkdir(parents=True)
    (root / "0").mkdir(exist_ok=True)
    (root / "0" / "meta.yaml").write_text(
        yaml.safe_dump(
            {
                "artifact_location": (root / "0").as_uri(),
                "creation_time": T0,
                "experiment_id": "0",
                "last_update_time": T0,
                "lifecycle_stage": "active",
                "name": "Default",
            }
        )
    )
    (exp_dir / "meta.yaml").write_text(
        yaml.safe_dump(
            {
                "artifact_location": exp_dir.as_uri(),
                "creation_time": T0,
                "experiment_id": experiment_id,
                "last_update_time": T0,
                "lifecycle_stage": "active",
                "name": experiment,
            }
        )
    )
    run_ids = []
    for i in range(runs):
        rid = f"{i:08x}" + os.urandom(12).hex()
        run_ids.append(rid)
        run = exp_dir / rid
        for sub in ("metrics", "params", "tags/deep", "artifacts"):
            (run / sub).mkdir(parents=True)
        (run / "meta.yaml").write_text(
            yaml.safe_dump(
                {
                    "artifact_uri": (run / "artifacts").as_uri(),
                    "end_time": T0 + 10_000 + i,
                    "entry_point_name": "",
                    "experiment_id": experiment_id,
                    "lifecycle_stage": "active",
                    "run_id": rid,
                    "run_name": f"run-{i}",
                    "run_uuid": rid,
                    "source_name": "",
                    "source_type": 4,
                    "source_version": "",
                    "start_time": T0 + i,
                    "status": 3,
                    "tags": [],
                    "user_id": "someone",
                }
            )
        )
        (run / "tags" / "mlflow.runName").write_text(f"run-{i}")
        (run / "tags" / "deep" / "key").write_text(f"v{i}")
        for p in range(params):
            (run / "params" / f"p{p}").write_text(str(p * i))
        lines = "".join(f"{T0 + s} {1.0 / (s + 1 + i)} {s}\n" for s in range(points))
        (run / "metrics" / "loss").write_text(lines)
        if file_bytes:
            (run / "artifacts" / "model.bin").write_bytes(os.urandom(file_bytes))
    return MlrunsInfo(root, experiment, run_ids, runs * points, runs if file_bytes else 0)
