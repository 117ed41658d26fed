"""Build an offline Cairn store the way the embedded SDK lays it out, through Cairn's own
services (TrackingService for the database, the artifact repository for files), and read a
destination server back to compare. Used by tests/sync and benchmarks/sync_bench.py."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cairn.artifacts.local import LocalArtifactRepository
from cairn.entities.tracking import Dataset, RunStatus
from cairn.services.artifacts import ArtifactService
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema

SYNC_TAG = "cairn.sync.source"
T0 = 1_700_000_000_000


@dataclass
class SourceRun:
    run_id: str
    name: str
    params: dict[str, str]
    tags: dict[str, str]
    points: dict[str, int]  # metric key -> count
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    sizes: dict[str, int] = field(default_factory=dict)
    status: str = RunStatus.FINISHED
    end_time: int | None = None
    start_time: int = 0
    parent: str | None = None


@dataclass
class SourceStoreInfo:
    root: Path
    experiment: str
    runs: list[SourceRun]

    @property
    def total_points(self) -> int:
        return sum(sum(r.points.values()) for r in self.runs)

    @property
    def total_bytes(self) -> int:
        return sum(sum(r.sizes.values()) for r in self.runs)


class OfflineStore:
    """An embedded store ``root/cairn.db`` + ``root/artifacts`` opened through services."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.db = Database(f"sqlite:///{root / 'cairn.db'}")
        ensure_schema(self.db.write_engine)
        self.db.start()
        self.tracking = TrackingService(self.db)
        self.artifacts = ArtifactService(LocalArtifactRepository(root / "artifacts"))

    def close(self) -> None:
        self.db.close()

    def write_file(self, run_id: str, path: str, chunks: Iterator[bytes]) -> tuple[str, int]:
        info = self.tracking.get_run(run_id).info
        writer = self.artifacts.repo.open_write(self.artifacts.in_run(info, path))
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
            writer.write(chunk)
        return digest.hexdigest(), writer.commit()

    def log_points(self, run_id: str, key: str, start: int, count: int, seed: int) -> None:
        for first in range(start, start + count, 1000):
            last = min(first + 1000, start + count)
            batch = [(key, _value(seed, step), T0 + step * 10, step) for step in range(first, last)]
            self.tracking.log_batch(run_id, metrics=batch)


def _value(seed: int, step: int) -> float:
    if step == 7:
        return math.nan
    if step == 11:
        return math.inf
    return math.sin(seed + step / 50.0) + step * 1e-4


def _random_chunks(size: int, seed: int) -> Iterator[bytes]:
    block = hashlib.sha256(str(seed).encode()).digest() * 32768  # 1 MiB
    done = 0
    while done < size:
        piece = block[: min(len(block), size - done)]
        # vary content per chunk so equal-size files differ
        piece = bytes([(done // len(block) + seed) % 256]) + piece[1:] if piece else piece
        done += len(piece)
        yield piece


def build_store(
    root: Path,
    *,
    runs: int = 5,
    points: int = 2000,
    keys: tuple[str, ...] = ("loss", "accuracy"),
    big_file_bytes: int = 5 * 1024 * 1024,
    experiment: str = "offline-training",
    running_last: bool = True,
    file_bytes_per_run: int = 0,
) -> SourceStoreInfo:
    """``runs`` runs of ``points`` points in total per run (spread over ``keys``), params,
    tags, a description, a nested child, a dataset input, artifacts in nested folders and
    one ``big_file_bytes`` file in the first run (plus a ``file_bytes_per_run`` file in every
    run). The last run is left RUNNING."""
    store = OfflineStore(root)
    try:
        tracking = store.tracking
        eid = tracking.create_experiment(experiment, tags=[("team", "lims"), ("phase", "dev")])
        out: list[SourceRun] = []
        per_key = points // len(keys)
        for i in range(runs):
            parent = out[0].run_id if i == 1 and out else None
            tags = {"model": "rf", "mlflow.note.content": f"run {i} description"}
            if parent:
                tags["mlflow.parentRunId"] = parent
            run = tracking.create_run(
                eid, user_id="analyst", start_time=T0 + i, run_name=f"run-{i}", tags=tags.items()
            )
            rid = run.info.run_id
            params = {"n_estimators": str(100 + i), "max_depth": str(4 + i % 3), "seed": str(i)}
            tracking.log_batch(rid, params=list(params.items()))
            counts = {}
            for k, key in enumerate(keys):
                store.log_points(rid, key, 0, per_key, seed=i * 10 + k)
                counts[key] = per_key
            tracking.log_inputs(
                rid,
                [
                    (
                        Dataset(
                            name="samples",
                            digest=f"d{i % 2:07d}",
                            source_type="local",
                            source='{"uri": "file:///data/samples.csv"}',
                            schema='{"mlflow_colspec": [{"name": "x", "type": "double"}]}',
                            profile='{"num_rows": 100}',
                        ),
                        {"mlflow.data.context": "training"},
                    )
                ],
            )
            src = SourceRun(
                rid,
                f"run-{i}",
                params,
                {**tags, "mlflow.runName": f"run-{i}"},
                counts,
                start_time=T0 + i,
                parent=parent,
            )
            files = {
                "report.txt": [f"run {i}\n".encode()],
                "plots/loss/curve ü (v2).csv": [b"step,loss\n" + b"1,0.5\n" * (100 + i)],
                "empty.txt": [b""],
                "model/MLmodel": [b"flavors: {}\n"],
                "model/data/deep/er/weights.bin": list(_random_chunks(20_000 + i, i)),
            }
            if file_bytes_per_run:
                files["model/model.pkl"] = list(_random_chunks(file_bytes_per_run, 1000 + i))
            if i == 0 and big_file_bytes:
                files["big/blob.bin"] = list(_random_chunks(big_file_bytes, 99))
            for path, chunks in files.items():
                digest, size = store.write_file(rid, path, iter(chunks))
                src.files[path] = digest
                src.sizes[path] = size
            if not (running_last and i == runs - 1):
                end = T0 + 100_000 + i
                tracking.update_run(rid, status="FINISHED", end_time=end)
                src.status, src.end_time = RunStatus.FINISHED, end
            else:
                src.status = RunStatus.RUNNING
            out.append(src)
        return SourceStoreInfo(root, experiment, out)
    finally:
        store.close()


# ------------------------------------------------------------------ reading the destination


def dest_runs(http: httpx.Client, experiment: str) -> list[dict[str, Any]]:
    found = http.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": experiment}
    )
    found.raise_for_status()
    eid = found.json()["experiment"]["experiment_id"]
    out: list[dict[str, Any]] = []
    token = None
    for _ in range(1000):
        body: dict[str, Any] = {
            "experiment_ids": [eid],
            "max_results": 1000,
            "run_view_type": "ALL",
        }
        if token:
            body["page_token"] = token
        page = http.post("/api/2.0/mlflow/runs/search", json=body).json()
        out.extend(page.get("runs", []))
        token = page.get("next_page_token")
        if not token:
            break
    return out


def tags_of(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def params_of(run: dict[str, Any]) -> dict[str, str]:
    return {p["key"]: p["value"] for p in run["data"].get("params", [])}


def history(http: httpx.Client, run_id: str, key: str) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    token = None
    for _ in range(10_000):
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 5000}
        if token:
            params["page_token"] = token
        page = http.get("/api/2.0/mlflow/metrics/get-history", params=params).json()
        out.extend((m["step"], m["timestamp"], m["value"]) for m in page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            break
    return out


def artifact_digests(http: httpx.Client, run: dict[str, Any]) -> dict[str, str]:
    """Every artifact file of a destination run: path -> sha256 of the downloaded bytes."""
    run_id = run["info"]["run_id"]
    prefix = run["info"]["artifact_uri"].split(":", 1)[1].strip("/")
    out: dict[str, str] = {}
    pending = [""]
    for _ in range(10_000):
        if not pending:
            break
        path = pending.pop()
        listing = http.get(
            "/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": path}
        ).json()
        for f in listing.get("files", []):
            if f["is_dir"]:
                pending.append(f["path"])
                continue
            digest = hashlib.sha256()
            with http.stream(
                "GET", f"/api/2.0/mlflow-artifacts/artifacts/{prefix}/{f['path']}"
            ) as r:
                r.raise_for_status()
                for chunk in r.iter_bytes():
                    digest.update(chunk)
            out[f["path"]] = digest.hexdigest()
    return out


def source_history(root: Path, run_id: str, key: str) -> list[tuple[int, int, Any]]:
    """The source's points in the wire's spelling (NaN and infinities as strings)."""
    db = Database(f"sqlite:///{root / 'cairn.db'}")
    try:
        hist = TrackingService(db).get_metric_history(run_id, key)
    finally:
        db.close()
    out = []
    for s, t, v, n in hist.points:
        value: Any = v
        if n:
            value = "NaN"
        elif math.isinf(v):
            value = "Infinity" if v > 0 else "-Infinity"
        out.append((s, t, value))
    return out


def assert_destination_matches(http: httpx.Client, info: SourceStoreInfo) -> None:
    """Every source run exactly once on the destination, with everything logged to it."""
    runs = dest_runs(http, info.experiment)
    assert len(runs) == len(info.runs), [r["info"]["run_name"] for r in runs]
    by_source = {tags_of(r)[SYNC_TAG].split("/", 1)[1]: r for r in runs}
    assert set(by_source) == {r.run_id for r in info.runs}
    for src in info.runs:
        run = by_source[src.run_id]
        got = run["info"]
        assert got["run_name"] == src.name
        assert got["status"] == src.status
        assert got["start_time"] == src.start_time
        assert got.get("end_time") == src.end_time
        assert got["user_id"] == "analyst"
        assert got["lifecycle_stage"] == "active"
        assert params_of(run) == src.params
        tags = tags_of(run)
        expected = dict(src.tags)
        if src.parent:
            expected["mlflow.parentRunId"] = by_source[src.parent]["info"]["run_id"]
        for key, value in expected.items():
            assert tags.get(key) == value, key
        for key, count in src.points.items():
            points = history(http, got["run_id"], key)
            assert len(points) == count, (src.name, key)
            assert points == source_history(info.root, src.run_id, key)
        assert artifact_digests(http, run) == src.files
        inputs = run["inputs"]["dataset_inputs"]
        assert len(inputs) == 1
        assert inputs[0]["dataset"]["name"] == "samples"
        assert inputs[0]["dataset"]["profile"] == '{"num_rows": 100}'
        assert inputs[0]["tags"] == [{"key": "mlflow.data.context", "value": "training"}]


def env_without_cairn() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
