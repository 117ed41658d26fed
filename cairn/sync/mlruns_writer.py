"""``cairn export mlflow --to ./mlruns``: write a source (a Cairn store read over MLflow's REST
API) into MLflow's file store layout, the one :mod:`cairn.sync.mlflow_files` reads and the
stock ``mlflow`` 3.x client writes, keeping experiment ids, run ids, logged model ids, times,
status, users and version numbers::

    <id>/meta.yaml, <id>/tags/<key>                 experiments (deleted ones in .trash/<id>)
    <id>/<run id>/meta.yaml                         run info (status as MLflow's number)
    <id>/<run id>/{params,tags}/<key>               one file per key ('/' makes sub folders)
    <id>/<run id>/metrics/<key>                     'timestamp value step' per point
    <id>/<run id>/inputs/<input id>/meta.yaml       dataset inputs -> <id>/datasets/<id>/
    <id>/<run id>/outputs/<model id>/meta.yaml      the logged models a run produced
    <id>/<run id>/artifacts/                        the run's files
    <id>/models/<model id>/                         MLflow 3 logged models (meta, params,
                                                    tags, artifacts)
    models/<name>/{meta.yaml,tags/,aliases/}        the registry, versions in version-<n>/

Every file is compared with what the folder already holds and written (to a temporary name,
then renamed into place) only when it differs, so a second export writes nothing and an export
that was killed continues: a file is either whole or absent. An artifact already there with the
source's size is not copied again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.entities.tracking import DatasetInput, Experiment, Run
from cairn.sync.engine import DELETED, Progress, Source, SyncReport, _NoProgress
from cairn.sync.errors import SyncError
from cairn.sync.importing import MODEL_STATUS, RUN_STATUS, models_in_scope
from cairn.sync.mlflow_files import REGISTRY, TRASH
from cairn.sync.registry import RunMap
from cairn.sync.source import ImportedModel

STATUS_NUMBER = {name: number for number, name in RUN_STATUS.items()}
MODEL_STATUS_NUMBER = {name: number for number, name in MODEL_STATUS.items()}
PAGE = 10_000


def _yaml_bytes(doc: dict[str, Any]) -> bytes:
    """A meta.yaml as the stock file store writes it (block style, keys sorted)."""
    text = yaml.safe_dump(doc, default_flow_style=False, allow_unicode=True, sort_keys=True)
    return text.encode("utf-8")


def _md5(*parts: str) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for part in parts:
        h.update(part.encode("utf-8"))
    return h.hexdigest()


def _number(value: float, is_nan: bool) -> str:
    """A metric value as Python (and so MLflow) prints it: ``0.5``, ``nan``, ``inf``."""
    return "nan" if is_nan else repr(float(value))


@dataclass
class _RunWork:
    experiment: Experiment
    run: Run
    folder: Path
    files: list[tuple[str, int, int]]
    artifacts: Path | None


class MlrunsWriter:
    """Writes ``source`` into the mlruns folder ``root``; :meth:`run` returns what it wrote
    (with ``dry_run``, what it would write)."""

    def __init__(
        self,
        root: Path,
        source: Source,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ):
        self.root = Path(os.path.abspath(root.expanduser()))
        self.source = source
        self.dry_run = dry_run
        self.progress: Progress = progress or _NoProgress()
        self.report = SyncReport(dry_run=dry_run)
        self._written = False  # anything written for the object being exported

    # -------------------------------------------------------------------- files
    def _put(self, path: Path, data: bytes) -> bool:
        """Write ``data`` at ``path`` unless it already holds exactly that."""
        try:
            if path.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SyncError(f"Cannot read {path}: {exc.strerror}") from None
        self._written = True
        if self.dry_run:
            return True
        tmp = path.with_name(f".{path.name}.cairn-tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise SyncError(f"Cannot write {path}: {exc.strerror}") from None
        return True

    def _key_path(self, folder: Path, key: str, what: str) -> Path | None:
        """The file of a param, tag or metric key; None (with a failure naming it) for a key
        MLflow's file store cannot hold (empty, ``.`` or ``..`` path parts)."""
        parts = key.split("/")
        if any(p in ("", ".", "..") for p in parts):
            self.report.failures.append(
                f"{what}: the key '{key}' cannot be a file name in MLflow's file store; "
                "not exported"
            )
            return None
        return folder.joinpath(*parts)

    def _keyed(self, folder: Path, values: dict[str, str], what: str) -> int:
        """One file per key, its value as the content, and no file for a key the source no
        longer has (a tag deleted since the last export); how many were written."""
        written = 0
        for key, value in values.items():
            path = self._key_path(folder, key, what)
            if path is not None and self._put(path, value.encode("utf-8")):
                written += 1
        for stale in self._stale_files(folder, set(values)):
            self._written = True
            if not self.dry_run:
                stale.unlink()
        return written

    @staticmethod
    def _stale_files(folder: Path, keys: set[str]) -> list[Path]:
        """Files under ``folder`` (one per key, '/' making sub folders) whose key is not in
        ``keys``."""
        if not folder.is_dir():
            return []
        return [
            path
            for path in sorted(folder.rglob("*"))
            if path.is_file()
            and not path.name.startswith(".")
            and path.relative_to(folder).as_posix() not in keys
        ]

    def _copy(self, folder: Path, rel: str, size: int, dest: Path) -> bool:
        """Stream one artifact into ``dest`` unless a file of its size is there."""
        try:
            if dest.stat().st_size == size:
                self.progress.bytes_sent(size)
                return False
        except FileNotFoundError:
            pass
        self._written = True
        self.report.artifacts += 1
        self.report.bytes += size
        if self.dry_run:
            return True
        tmp = dest.with_name(f".{dest.name}.cairn-tmp")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                for chunk in self.source.read_artifact(folder, rel, size):
                    out.write(chunk)
                    self.progress.bytes_sent(len(chunk))
            os.replace(tmp, dest)
        except OSError as exc:
            raise SyncError(f"Cannot write {dest}: {exc.strerror}") from None
        return True

    # ---------------------------------------------------------------------- run
    def run(self) -> SyncReport:
        experiments = self.source.experiments()
        self._check_folder(experiments)
        works: list[_RunWork] = []
        points = 0
        for experiment in experiments:
            folder = self._experiment_folder(experiment)
            for run in self.source.runs(experiment.experiment_id):
                artifacts = self.source.artifact_dir(run.info.artifact_uri)
                files = list(self.source.artifact_files(artifacts)) if artifacts else []
                works.append(_RunWork(experiment, run, folder / run.info.run_id, files, artifacts))
                points += sum(self.source.metric_counts(run.info.run_id).values())
        logged = self.source.logged_models()
        nbytes = sum(s for w in works for _, s, _ in w.files) + sum(
            size
            for m in logged
            if m.folder is not None
            for _, size, _ in self.source.artifact_files(m.folder)
        )
        self.progress.planned(len(works), points, nbytes)
        for experiment in experiments:
            self._experiment(experiment)
        runs = RunMap()
        for work in works:
            self._run(work)
            runs.add(
                work.run.info.run_id,
                work.run.info.artifact_uri,
                work.run.info.run_id,
                self._artifact_uri(work).rstrip("/"),
            )
            self.progress.run_done()
        by_id = {e.experiment_id: e for e in experiments}
        model_folders: dict[str, Path] = {}
        for logged_model in logged:
            owner = by_id.get(logged_model.experiment_id)
            if owner is None:
                continue
            mid = logged_model.model_id
            self._logged_model(logged_model, self._experiment_folder(owner) / "models" / mid)
            runs.logged[mid] = mid
            model_folders[mid] = self._home(owner) / "models" / mid
        in_scope = models_in_scope(
            self.source, self.source.registered_models(), {w.run.info.run_id for w in works}
        )
        for model, versions in in_scope:
            self._registered_model(model, versions, runs, model_folders)
        return self.report

    # -------------------------------------------------------------- experiments
    def _home(self, experiment: Experiment) -> Path:
        """Where an experiment lives while active (its artifact location)."""
        return self.root / experiment.experiment_id

    def _experiment_folder(self, experiment: Experiment) -> Path:
        if experiment.lifecycle_stage == DELETED:
            return self.root / TRASH / experiment.experiment_id
        return self._home(experiment)

    def _check_folder(self, experiments: list[Experiment]) -> None:
        """Refuse a folder whose experiments are another store's: the same id holding
        another name, or the same name under another id."""
        if self.root.exists() and not self.root.is_dir():
            raise SyncError(f"'{self.root}' is a file; --to must be a folder (an mlruns folder)")
        names: dict[str, str] = {}  # name -> id, of what the folder holds
        for base in (self.root, self.root / TRASH):
            if not base.is_dir():
                continue
            for meta in sorted(base.glob("*/meta.yaml")):
                if meta.parent.name == REGISTRY:
                    continue
                try:
                    doc = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
                except (OSError, yaml.YAMLError) as exc:
                    raise SyncError(f"{meta} cannot be read: {exc}") from None
                if isinstance(doc, dict) and doc.get("name"):
                    names[str(doc["name"])] = str(doc.get("experiment_id", meta.parent.name))
        ids = {eid: name for name, eid in names.items()}
        for experiment in experiments:
            eid, name = experiment.experiment_id, experiment.name
            if eid in ids and ids[eid] != name:
                raise SyncError(
                    f"{self.root / eid} holds the experiment '{ids[eid]}', not '{name}': "
                    "export into an empty folder (or the one an earlier export wrote)"
                )
            if name in names and names[name] != eid:
                raise SyncError(
                    f"{self.root} already has an experiment '{name}' under id {names[name]} "
                    f"(this store's is {eid}): export into an empty folder"
                )

    def _experiment(self, experiment: Experiment) -> None:
        folder = self._experiment_folder(experiment)
        home, trash = self._home(experiment), self.root / TRASH / experiment.experiment_id
        other = trash if folder == home else home
        if other.is_dir() and not folder.exists():
            # deleted or restored since the last export: move it, as MLflow does
            self._written = True
            self.report.deleted += folder == trash
            if not self.dry_run:
                folder.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(other, folder)
        existed = (folder / "meta.yaml").is_file()
        self._written = False
        doc = {
            "artifact_location": self._home(experiment).as_uri(),
            "creation_time": experiment.creation_time,
            "experiment_id": experiment.experiment_id,
            "last_update_time": experiment.last_update_time,
            "lifecycle_stage": experiment.lifecycle_stage,
            "name": experiment.name,
        }
        self._put(folder / "meta.yaml", _yaml_bytes(doc))
        self.report.tags += self._keyed(
            folder / "tags", experiment.tags, f"experiment '{experiment.name}'"
        )
        if not existed:
            self.report.experiments_created += 1
            if experiment.lifecycle_stage == DELETED:
                self.report.deleted += 1

    # --------------------------------------------------------------------- runs
    def _artifact_uri(self, work: _RunWork) -> str:
        """A run's artifact URI as MLflow records it: under the experiment's home (also
        while the experiment is in .trash)."""
        return (self._home(work.experiment) / work.run.info.run_id / "artifacts").as_uri()

    def _run(self, work: _RunWork) -> None:
        run, folder = work.run, work.folder
        rid = run.info.run_id
        what = f"run {rid}"
        existed = (folder / "meta.yaml").is_file()
        self._written = False
        doc: dict[str, Any] = {
            "artifact_uri": self._artifact_uri(work),
            "end_time": run.info.end_time,
            "entry_point_name": "",
            "experiment_id": work.experiment.experiment_id,
            "lifecycle_stage": run.info.lifecycle_stage,
            "run_id": rid,
            "run_name": run.info.run_name or "",
            "source_name": "",
            "source_type": 4,
            "source_version": "",
            "start_time": run.info.start_time,
            "status": STATUS_NUMBER.get(run.info.status, 3),
            "tags": [],
            "user_id": run.info.user_id,
        }
        self._put(folder / "meta.yaml", _yaml_bytes(doc))
        if not self.dry_run:  # the stock store finds a run only in a folder with all four
            for sub in ("metrics", "params", "tags", "artifacts"):
                (folder / sub).mkdir(exist_ok=True)
        if run.info.lifecycle_stage == DELETED and not existed:
            self.report.deleted += 1
        self.report.params += self._keyed(folder / "params", run.params, what)
        self.report.tags += self._keyed(folder / "tags", run.tags, what)
        for key in self.source.metric_counts(rid):
            self._metric(folder / "metrics", rid, key)
        for item in run.inputs:
            self._input(work, item)
        for model_id, step in run.outputs:
            # the ids as the stock 3.x store writes them (and its reader reads the model
            # id from destination_id)
            out = {
                "destination_id": model_id,
                "destination_type": "MODEL_OUTPUT",
                "source_id": model_id,
                "source_type": "RUN_OUTPUT",
                "step": step,
                "tags": {},
            }
            self._put(folder / "outputs" / model_id / "meta.yaml", _yaml_bytes(out))
        if work.artifacts is not None:
            for rel, size, _ in work.files:
                dest = self._key_path(folder / "artifacts", rel, f"{what} artifact")
                if dest is not None:
                    self._copy(work.artifacts, rel, size, dest)
        elif run.info.artifact_uri:
            self.report.notes.append(
                f"{what}: its artifacts at '{run.info.artifact_uri}' cannot be read; not exported"
            )
        if not existed:
            self.report.runs_created += 1
        elif self._written:
            self.report.runs_updated += 1
        else:
            self.report.runs_unchanged += 1

    def _metric(self, folder: Path, rid: str, key: str) -> None:
        path = self._key_path(folder, key, f"run {rid}")
        lines: list[str] = []
        for page in self.source.history_after(rid, key, None, PAGE):
            lines.extend(f"{t} {_number(v, n)} {s}\n" for s, t, v, n in page)
        if path is None:
            return
        if self._put(path, "".join(lines).encode("utf-8")):
            self.report.points += len(lines)
        self.progress.points_sent(len(lines))

    def _input(self, work: _RunWork, item: DatasetInput) -> None:
        d = item.dataset
        dataset_id = _md5(d.name, d.digest)
        rid = work.run.info.run_id
        dataset = {
            "digest": d.digest,
            "name": d.name,
            "profile": d.profile,
            "schema": d.schema,
            "source": d.source,
            "source_type": d.source_type,
        }
        datasets = self._experiment_folder(work.experiment) / "datasets"
        self._put(datasets / dataset_id / "meta.yaml", _yaml_bytes(dataset))
        link = {
            "destination_id": dataset_id,  # as the stock 3.x store writes it
            "destination_type": "RUN",
            "source_id": dataset_id,
            "source_type": "DATASET",
            "tags": dict(item.tags),
        }
        if self._put(
            work.folder / "inputs" / _md5(dataset_id, rid) / "meta.yaml", _yaml_bytes(link)
        ):
            self.report.inputs += 1

    # ------------------------------------------------------------ logged models
    def _logged_model(self, model: ImportedModel, folder: Path) -> None:
        existed = (folder / "meta.yaml").is_file()
        doc = {
            "artifact_location": (folder / "artifacts").as_uri(),
            "creation_timestamp": 0,
            "experiment_id": model.experiment_id,
            "last_updated_timestamp": 0,
            "model_id": model.model_id,
            "model_type": model.model_type,
            "name": model.name,
            "source_run_id": model.source_run_id,
            "status": MODEL_STATUS_NUMBER.get(model.status, 2),
            "status_message": None,
        }
        self._put(folder / "meta.yaml", _yaml_bytes(doc))
        what = f"logged model {model.model_id}"
        self._keyed(folder / "params", model.params, what)
        self._keyed(folder / "tags", model.tags, what)
        if model.folder is not None:
            for rel, size, _ in self.source.artifact_files(model.folder):
                dest = self._key_path(folder / "artifacts", rel, f"{what} artifact")
                if dest is not None:
                    self._copy(model.folder, rel, size, dest)
        if not existed:
            self.report.logged_models += 1

    # ----------------------------------------------------------------- registry
    def _registered_model(
        self,
        model: RegisteredModel,
        versions: list[ModelVersion],
        runs: RunMap,
        model_folders: dict[str, Path],
    ) -> None:
        folder = self.root / REGISTRY / model.name
        if "/" in model.name or model.name in ("", ".", ".."):
            self.report.failures.append(
                f"registered model '{model.name}': the name cannot be a folder name in "
                "MLflow's file store; not exported"
            )
            return
        existed = (folder / "meta.yaml").is_file()
        doc = {
            "aliases": {alias: str(number) for alias, number in sorted(model.aliases.items())},
            "creation_timestamp": model.creation_timestamp,
            "description": model.description,
            "last_updated_timestamp": model.last_updated_timestamp,
            "name": model.name,
        }
        self._put(folder / "meta.yaml", _yaml_bytes(doc))
        what = f"registered model '{model.name}'"
        self._keyed(folder / "tags", model.tags, what)
        aliases = {alias: str(number) for alias, number in model.aliases.items()}
        self._keyed(folder / "aliases", aliases, what)
        if not existed:
            self.report.models_created += 1
        for version in versions:
            self._version(folder, version, runs, model_folders)

    def _version(
        self,
        folder: Path,
        version: ModelVersion,
        runs: RunMap,
        model_folders: dict[str, Path],
    ) -> None:
        target = runs.rewrite(version)
        source, run_id = (version.source, version.run_id) if target is None else target
        if target is None:
            self.report.notes.append(
                f"model '{version.name}' version {version.version}: its files "
                f"('{version.source}') are not in an exported run or logged model; its "
                "source is written as it is"
            )
        storage = source
        if version.model_id and version.model_id in model_folders:
            storage = (model_folders[version.model_id] / "artifacts").as_uri()
        path = folder / f"version-{version.version}"
        existed = (path / "meta.yaml").is_file()
        doc: dict[str, Any] = {
            "creation_timestamp": version.creation_timestamp,
            "current_stage": version.current_stage,
            "description": version.description,
            "last_updated_timestamp": version.last_updated_timestamp,
            "name": version.name,
            "run_id": run_id or None,
            "run_link": version.run_link,
            "source": source,
            "status": version.status,
            "status_message": version.status_message,
            "storage_location": storage,
            "user_id": version.user_id,
            "version": version.version,
        }
        if version.model_id:
            doc["model_id"] = version.model_id
        self._put(path / "meta.yaml", _yaml_bytes(doc))
        self._keyed(
            path / "tags", version.tags, f"model '{version.name}' version {version.version}"
        )
        if not existed:
            self.report.versions_created += 1
