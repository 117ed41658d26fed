"""``cairn import mlruns``: MLflow's file store folder, read directly (never written).

The layouts of MLflow 1.x to 3.x::

    mlruns/<experiment id>/meta.yaml            experiment (name, lifecycle, tags in 3.x)
    mlruns/<experiment id>/tags/<key>           experiment tags, one file per key
    mlruns/<experiment id>/<run id>/meta.yaml   run (run_id or run_uuid, status as a number
                                                or a name, times, user, lifecycle)
    .../<run id>/params/<key>, tags/<key>       one file per key; a key with '/' is a folder
    .../<run id>/metrics/<key>                  'timestamp value [step [...]]' per line
    .../<run id>/inputs/<id>/meta.yaml          a dataset input -> <experiment>/datasets/<id>
    .../<run id>/artifacts/                     the run's files (when stored locally)
    mlruns/<experiment id>/models/m-<id>/       MLflow 3 logged models (meta, params, tags,
                                                artifacts)
    mlruns/.trash/<experiment id>/              deleted experiments
    mlruns/models/<name>/meta.yaml              the registry: model, aliases (3.x in meta),
    mlruns/models/<name>/{tags,aliases}/        tags and aliases one file per key,
    mlruns/models/<name>/version-<n>/           versions with meta.yaml and tags/

A file that cannot be read or parsed stops the import with an error naming it; nothing of the
run it belongs to has been sent yet (a run is read whole before anything of it is sent).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.entities.tracking import Dataset, DatasetInput, Experiment, Run, RunInfo
from cairn.sync.errors import SyncError
from cairn.sync.importing import (
    MODEL_STATUS,
    ImportSource,
    default_state_dir,
    parse_value,
    real,
    run_status,
)
from cairn.sync.source import ImportedModel, StoredPoint

TRASH = ".trash"
REGISTRY = "models"
NOT_RUNS = {"tags", "datasets", "models", "traces", "evaluation_datasets"}


def _yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SyncError(f"Cannot read {path}: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SyncError(f"{path} is not valid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise SyncError(f"{path} is not an MLflow meta.yaml: expected a mapping")
    return doc


def _key_files(folder: Path) -> Iterator[tuple[str, Path, str]]:
    """(key, path, text) of every file under ``folder``: one file per key, a key with '/'
    being a sub folder (params, tags, metrics)."""
    if not folder.is_dir():
        return
    for dirpath, _dirs, files in os.walk(folder):
        for name in sorted(files):
            path = Path(dirpath) / name
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SyncError(f"Cannot read {path}: {exc}") from None
            yield path.relative_to(folder).as_posix(), path, text


def _keyed_files(folder: Path) -> dict[str, str]:
    """One value per key, as written."""
    return {key: text for key, _path, text in _key_files(folder)}


def _int(doc: dict[str, Any], key: str, where: Path) -> int | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SyncError(f"{where}: '{key}' is not a number ({value!r})") from None


def _local(uri: str | None) -> Path | None:
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


class MlrunsSource(ImportSource):
    """An ``mlruns`` folder as a source of the sync engine."""

    def __init__(
        self,
        root: str | Path,
        *,
        state_dir: Path | None = None,
        experiments: list[str] | None = None,
    ):
        path = Path(root).expanduser()
        if not path.is_dir():
            raise SyncError(f"'{root}' is not a folder (an mlruns folder was expected)")
        self.root = real(path)
        found = [
            d
            for d in self._children(self.root)
            if d.name != REGISTRY and (d / "meta.yaml").exists()
        ]
        trash = self.root / TRASH
        if not found and not trash.is_dir() and not (self.root / REGISTRY).is_dir():
            raise SyncError(
                f"'{root}' is not an mlruns folder: it has no experiment folder holding a "
                "meta.yaml (MLflow's file store keeps one per experiment, e.g. 0/meta.yaml)"
            )
        state = state_dir or default_state_dir(self.root.parent, self.root.name)
        super().__init__(state, experiments)
        self._runs: dict[str, Path] = {}  # run id -> folder
        self._artifacts: dict[str, Path] = {}  # artifact uri -> local folder
        self._experiment_dirs: dict[str, Path] = {}

    @staticmethod
    def _children(folder: Path) -> list[Path]:
        try:
            return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
        except OSError as exc:
            raise SyncError(f"Cannot list {folder}: {exc.strerror}") from None

    # ---------------------------------------------------------------- experiments
    def experiments(self) -> list[Experiment]:
        out: list[Experiment] = []
        folders = [d for d in self._children(self.root) if d.name != REGISTRY]
        trash = self.root / TRASH
        if trash.is_dir():
            folders += self._children(trash)
        names: set[str] = set()
        for folder in folders:
            meta = folder / "meta.yaml"
            if not meta.is_file():
                continue
            doc = _yaml(meta)
            eid = str(doc.get("experiment_id", folder.name))
            name = doc.get("name")
            if not isinstance(name, str) or not name:
                raise SyncError(f"{meta}: the experiment has no name")
            tags = {str(k): str(v) for k, v in (doc.get("tags") or {}).items()}
            tags.update(_keyed_files(folder / "tags"))
            stage = str(doc.get("lifecycle_stage") or "active")
            if folder.parent == trash:
                stage = "deleted"
            experiment = Experiment(
                experiment_id=eid,
                name=name,
                artifact_location=str(doc.get("artifact_location") or ""),
                lifecycle_stage=stage,
                creation_time=_int(doc, "creation_time", meta) or 0,
                last_update_time=_int(doc, "last_update_time", meta) or 0,
                tags=tags,
            )
            names.add(name)
            if self.wanted(experiment):
                self._experiment_dirs[eid] = folder
                out.append(experiment)
        self.check_filter(names)
        out.sort(key=lambda e: (len(e.experiment_id), e.experiment_id))
        return out

    # ----------------------------------------------------------------------- runs
    def runs(self, experiment_id: str) -> list[Run]:
        folder = self._experiment_dirs[experiment_id]
        out = [
            self._run(d, folder)
            for d in self._children(folder)
            if d.name not in NOT_RUNS and (d / "meta.yaml").is_file()
        ]
        out.sort(key=lambda r: (r.info.start_time or 0, r.info.run_id))
        return out

    def _run(self, folder: Path, experiment_dir: Path) -> Run:
        meta = folder / "meta.yaml"
        doc = _yaml(meta)
        rid = str(doc.get("run_id") or doc.get("run_uuid") or folder.name)
        tags = _keyed_files(folder / "tags")
        params = _keyed_files(folder / "params")
        name = doc.get("run_name") or doc.get("name") or tags.get("mlflow.runName")
        user = doc.get("user_id")
        artifact_uri = doc.get("artifact_uri")
        info = RunInfo(
            run_id=rid,
            experiment_id=str(doc.get("experiment_id", experiment_dir.name)),
            run_name=str(name) if name else None,
            user_id=str(user) if user is not None else None,
            status=run_status(doc.get("status", 1), str(meta)),
            start_time=_int(doc, "start_time", meta),
            end_time=_int(doc, "end_time", meta),
            artifact_uri=str(artifact_uri) if artifact_uri else None,
            lifecycle_stage=str(doc.get("lifecycle_stage") or "active"),
        )
        local = folder / "artifacts"
        if not local.is_dir():
            local = _local(info.artifact_uri) or local
        if info.artifact_uri is None:
            info.artifact_uri = local.as_uri()
        self._artifacts[info.artifact_uri] = local
        self._runs[rid] = folder
        run = Run(info=info, params=params, tags=tags, inputs=self._inputs(folder, experiment_dir))
        run.outputs = self._outputs(folder)
        return run

    def _outputs(self, folder: Path) -> list[tuple[str, int]]:
        """The logged models a run produced (MLflow 3: outputs/<model id>/meta.yaml)."""
        out: list[tuple[str, int]] = []
        outputs = folder / "outputs"
        if not outputs.is_dir():
            return out
        for item in self._children(outputs):
            meta = item / "meta.yaml"
            if meta.is_file():
                doc = _yaml(meta)
                model_id = str(doc.get("destination_id") or item.name)
                out.append((model_id, _int(doc, "step", meta) or 0))
        return out

    def _inputs(self, folder: Path, experiment_dir: Path) -> list[DatasetInput]:
        out: list[DatasetInput] = []
        inputs = folder / "inputs"
        if not inputs.is_dir():
            return out
        for item in self._children(inputs):
            meta = item / "meta.yaml"
            if not meta.is_file():
                continue
            doc = _yaml(meta)
            if str(doc.get("source_type", "DATASET")).upper() != "DATASET":
                continue
            dataset_meta = experiment_dir / "datasets" / str(doc.get("source_id")) / "meta.yaml"
            if not dataset_meta.is_file():
                raise SyncError(f"{meta}: its dataset {dataset_meta} is missing")
            d = _yaml(dataset_meta)
            dataset = Dataset(
                name=str(d.get("name") or ""),
                digest=str(d.get("digest") or ""),
                source_type=str(d.get("source_type") or ""),
                source=str(d.get("source") or ""),
                schema=d.get("schema"),
                profile=d.get("profile"),
            )
            tags = {str(k): str(v) for k, v in (doc.get("tags") or {}).items()}
            out.append(DatasetInput(dataset, tags))
        return out

    # -------------------------------------------------------------------- metrics
    def read_points(self, run_id: str) -> dict[str, list[StoredPoint]]:
        return _metric_files(self._runs[run_id] / "metrics")

    # ------------------------------------------------------------------ artifacts
    def artifact_dir(self, artifact_uri: str | None) -> Path | None:
        if not artifact_uri:
            return None
        return self._artifacts.get(artifact_uri) or _local(artifact_uri)

    # ------------------------------------------------------------- logged models
    def logged_models(self) -> list[ImportedModel]:
        out: list[ImportedModel] = []
        for eid, folder in self._experiment_dirs.items():
            models = folder / "models"
            if not models.is_dir():
                continue
            for item in self._children(models):
                meta = item / "meta.yaml"
                if not meta.is_file():
                    continue
                doc = _yaml(meta)
                status = doc.get("status")
                out.append(
                    ImportedModel(
                        model_id=str(doc.get("model_id") or item.name),
                        experiment_id=eid,
                        name=str(doc.get("name") or item.name),
                        source_run_id=doc.get("source_run_id"),
                        model_type=doc.get("model_type"),
                        status=MODEL_STATUS.get(status, str(status))
                        if isinstance(status, int)
                        else str(status or "LOGGED_MODEL_READY"),
                        tags=_keyed_files(item / "tags"),
                        params=_keyed_files(item / "params"),
                        folder=item / "artifacts",
                        lifecycle_stage=str(doc.get("lifecycle_stage") or "active"),
                    )
                )
        return out

    # ------------------------------------------------------------------- registry
    def registered_models(self) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
        registry = self.root / REGISTRY
        if not registry.is_dir():
            return []
        out: list[tuple[RegisteredModel, list[ModelVersion]]] = []
        for folder in self._children(registry):
            meta = folder / "meta.yaml"
            if not meta.is_file():
                continue
            doc = _yaml(meta)
            aliases = {str(k): int(v) for k, v in (doc.get("aliases") or {}).items()}
            for alias, number in _keyed_files(folder / "aliases").items():
                aliases[alias] = int(number.strip())
            model = RegisteredModel(
                name=str(doc.get("name") or folder.name),
                creation_timestamp=_int(doc, "creation_timestamp", meta) or 0,
                last_updated_timestamp=_int(doc, "last_updated_timestamp", meta) or 0,
                description=doc.get("description"),
                tags=_keyed_files(folder / "tags"),
                aliases=aliases,
            )
            versions: list[ModelVersion] = []
            for item in self._children(folder):
                if item.name.startswith("version-") and (item / "meta.yaml").is_file():
                    version = self._version(item)
                    if version is not None:
                        versions.append(version)
            out.append((model, sorted(versions, key=lambda v: v.version)))
        return out

    @staticmethod
    def _version(folder: Path) -> ModelVersion | None:
        meta = folder / "meta.yaml"
        doc = _yaml(meta)
        if str(doc.get("current_stage")) == "Deleted_Internal":
            return None  # a deleted version the file store keeps as a tombstone
        number = _int(doc, "version", meta)
        if number is None:
            raise SyncError(f"{meta}: the model version has no number")
        return ModelVersion(
            name=str(doc.get("name")),
            version=number,
            creation_timestamp=_int(doc, "creation_timestamp", meta) or 0,
            last_updated_timestamp=_int(doc, "last_updated_timestamp", meta) or 0,
            description=doc.get("description"),
            user_id=doc.get("user_id"),
            current_stage=str(doc.get("current_stage") or "None"),
            source=str(doc.get("source") or ""),
            run_id=doc.get("run_id") or None,
            status=str(doc.get("status") or "READY"),
            tags=_keyed_files(folder / "tags"),
            model_id=doc.get("model_id"),
        )


def _metric_files(folder: Path) -> dict[str, list[StoredPoint]]:
    """Every metric file of a run: ``timestamp value [step ...]`` lines (1.x had no step; 3.x
    logged-model metrics add columns after the step)."""
    out: dict[str, list[StoredPoint]] = {}
    for key, path, text in _key_files(folder):
        points: list[StoredPoint] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                ts = int(parts[0])
                value, is_nan = parse_value(parts[1])
                step = int(parts[2]) if len(parts) > 2 else 0
            except (IndexError, ValueError):
                raise SyncError(
                    f"{path}, line {number}: not a metric line ('timestamp value step'): "
                    f"{line[:80]!r}"
                ) from None
            points.append((step, ts, value, is_nan))
        out[key] = points
    return out
