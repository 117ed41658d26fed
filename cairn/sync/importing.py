"""What the importers of MLflow's own stores share: the import's state folder (its ledger and
source id), metric points held per run, MLflow's status numbers and the logged models a source
carries.

An import is a :class:`cairn.sync.engine.Source` with ``keep_ids``: runs keep their ids,
times, status and lifecycle on the destination (see :mod:`cairn.sync.engine`).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

from cairn.entities.numbers import decimal
from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.entities.tracking import Experiment
from cairn.sync.errors import SyncError
from cairn.sync.source import ImportedModel, LocalFiles, SourceStore, StoredPoint

STATE_DIR = ".cairn-import"

#: MLflow's RunStatus enum numbers (the file store writes the number)
RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
#: MLflow's logged-model status numbers
MODEL_STATUS = {1: "LOGGED_MODEL_PENDING", 2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED"}


def models_in_scope(
    source: object,
    models: list[tuple[RegisteredModel, list[ModelVersion]]],
    run_ids: set[str],
) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
    """The registered models an import limited by ``--experiment`` brings: those with a
    version made from one of the imported runs (all of them when the import is not
    limited)."""
    if not getattr(source, "only", None):
        return models
    return [(m, vs) for m, vs in models if any(v.run_id in run_ids for v in vs)]


def run_status(value: object, where: str) -> str:
    """A run status from a number (file store) or a name (SQL store, old folders)."""
    if isinstance(value, int) and value in RUN_STATUS:
        return RUN_STATUS[value]
    if isinstance(value, str):
        number = decimal(value)
        if number is not None and number in RUN_STATUS:
            return RUN_STATUS[number]
        if value.upper() in RUN_STATUS.values():
            return value.upper()
    raise SyncError(f"{where}: unknown run status {value!r}")


def default_state_dir(anchor: Path, name: str) -> Path:
    """``<anchor>/.cairn-import/<name>``: next to the source, never inside an mlruns folder
    (MLflow would take a folder there for an experiment)."""
    return anchor / STATE_DIR / name


def home_state_dir(identity: str) -> Path:
    """For a source that is not a local path (a database server): under the user's home."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Path.home() / STATE_DIR / digest


def point_key(point: StoredPoint) -> tuple[int, int, float, bool]:
    """The order points are sent in (Cairn's history order: step, timestamp, value, NaN last)."""
    step, ts, value, is_nan = point
    return (step, ts, 0.0 if is_nan else value, is_nan)


def parse_value(text: str) -> tuple[float, bool]:
    """A metric value as MLflow writes it (``nan``, ``inf``, ``-inf`` included)."""
    value = float(text)
    if math.isnan(value):
        return 0.0, True
    return value, False


class ImportSource(LocalFiles):
    """The common half of an importer: identity, ledger location and metric paging."""

    keep_ids = True

    def __init__(self, state_dir: Path, experiments: list[str] | None = None):
        self._state_dir = state_dir
        self._store_id: str | None = None
        self.only = set(experiments or [])
        self._cached: tuple[str, dict[str, list[StoredPoint]]] | None = None

    # ------------------------------------------------------------------- identity
    @property
    def state_dir(self) -> Path:
        return self._state_dir

    def has_state(self) -> bool:
        return (self._state_dir / "store-id").is_file()

    @property
    def store_id(self) -> str:
        if self._store_id is None:
            path = self._state_dir / "store-id"
            if path.is_file() and path.read_text().strip():
                self._store_id = path.read_text().strip()
            else:
                self._store_id = SourceStore._new_store_id(path)
        return self._store_id

    def close(self) -> None:
        self._cached = None

    def wanted(self, experiment: Experiment) -> bool:
        return not self.only or experiment.name in self.only

    def check_filter(self, names: set[str]) -> None:
        missing = sorted(self.only - names)
        if missing:
            raise SyncError(
                f"--experiment: no experiment named {', '.join(repr(m) for m in missing)} "
                "in the source"
            )

    def logged_models(self) -> list[ImportedModel]:
        return []

    def registered_models(self) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
        """None by default: only MLflow's stores have a registry."""
        return []

    def named_experiments(self, ids: dict[str, str]) -> list[Experiment]:
        """The experiments of a source that knows only their names (name -> id it assigned),
        filtered by ``--experiment``."""
        out = []
        for name, eid in ids.items():
            experiment = Experiment(
                experiment_id=eid,
                name=name,
                artifact_location="",
                lifecycle_stage="active",
                creation_time=0,
                last_update_time=0,
            )
            if self.wanted(experiment):
                out.append(experiment)
        self.check_filter(set(ids))
        return out

    # -------------------------------------------------------------------- metrics
    def read_points(self, run_id: str) -> dict[str, list[StoredPoint]]:
        """Every metric point of a run, by key (a subclass reads its store)."""
        raise NotImplementedError

    def _points(self, run_id: str) -> dict[str, list[StoredPoint]]:
        if self._cached is None or self._cached[0] != run_id:
            found = self.read_points(run_id)
            for points in found.values():
                points.sort(key=point_key)
            self._cached = (run_id, found)
        return self._cached[1]

    def metric_counts(self, run_id: str) -> dict[str, int]:
        return {key: len(points) for key, points in self._points(run_id).items()}

    def history_after(
        self, run_id: str, key: str, after: StoredPoint | None, page_size: int = 1000
    ) -> Iterator[list[StoredPoint]]:
        points = self._points(run_id).get(key, [])
        start = 0
        if after is not None:
            keys = [point_key(p) for p in points]
            start = bisect.bisect_right(keys, point_key(after))
        for i in range(start, len(points), page_size):
            yield points[i : i + page_size]


def real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def stream_file(path: Path, size: int) -> Iterator[bytes]:
    """The first ``size`` bytes of a local file, in 1 MiB chunks (a file an importer found
    outside an artifact folder: a download, a symlink a run saved)."""
    try:
        with path.open("rb") as fh:
            left = size
            while left > 0:
                chunk = fh.read(min(1 << 20, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
    except OSError as exc:
        raise SyncError(f"Cannot read {path}: {exc.strerror}") from None
