"""``cairn sync``: copy an offline store to a server, sending each thing once.

A sync has two phases. **Plan** reads the source and the ledger (and, on the destination,
only the experiments by name and, when the ledger does not know a run, the runs earlier syncs
tagged) and works out what is missing. **Send** delivers it run by run, parents before
children, recording in the ledger what the server acknowledged. A second sync of an unchanged
store plans nothing and sends nothing.

Identity: every destination run carries the tag ``cairn.sync.source = <store id>/<run id>``,
set in the same request that creates it. A run the ledger does not know (a sync killed right
after creating it, or a lost ledger) is found again by that tag instead of being created twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import httpx

from cairn import wire
from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.entities.tracking import DatasetInput, Experiment, LifecycleStage, Run
from cairn.sync.errors import ServerRefused, SyncError
from cairn.sync.importing import models_in_scope
from cairn.sync.ledger import Ledger, exclusive, hashes, value_hash
from cairn.sync.registry import RegistrySync, RunMap
from cairn.sync.remote import SYNC_TAG, Destination, Hook, RegistryCalls, artifact_prefix
from cairn.sync.source import ImportedModel, SourceStore, StoredPoint, locate

DELETED = LifecycleStage.DELETED

PARENT_TAG = "mlflow.parentRunId"
METRICS_PER_BATCH = 1000
PARAMS_TAGS_PER_BATCH = 100
INPUTS_PER_CALL = 100
CHEAP_SAVE_S = 0.002
SAVE_SPACING = 10


class Source(Protocol):
    """What the engine reads: an offline Cairn store (:class:`SourceStore`) or a foreign
    tracker's data (the importers in :mod:`cairn.sync.mlflow_files` and
    :mod:`cairn.sync.mlflow_db`).

    ``keep_ids``: destination runs take the source's run ids (the server's ``run_id``
    extension of runs/create), so the id itself is the identity and no sync tag is added;
    deleted experiments and runs are copied as deleted. Otherwise (``cairn sync``) the
    destination makes new ids and the sync tag finds them again.

    Two optional methods let a source whose metric points are slow to read (an MLflow
    server) work ahead: ``guess_counts(run_id, sent)`` answers the plan instead of
    ``metric_counts`` (see :meth:`Syncer._plan_counts`), and ``prefetch(run_ids, files)`` is
    told the order the runs will be sent in and each one's artifact files to send. An import
    whose source has traces offers ``traces(experiment_id)``: MLflow 3's trace objects
    (``trace_info`` and OTLP ``spans``), copied under their own ids after the runs."""

    keep_ids: bool

    @property
    def state_dir(self) -> Path: ...
    @property
    def store_id(self) -> str: ...
    def has_state(self) -> bool: ...
    def experiments(self) -> list[Experiment]: ...
    def runs(self, experiment_id: str) -> list[Run]: ...
    def registered_models(self) -> list[tuple[RegisteredModel, list[ModelVersion]]]: ...
    def metric_counts(self, run_id: str) -> dict[str, int]: ...
    def history_after(
        self, run_id: str, key: str, after: StoredPoint | None, page_size: int
    ) -> Iterator[list[StoredPoint]]: ...
    def logged_models(self) -> list[ImportedModel]: ...
    def artifact_dir(self, artifact_uri: str | None) -> Path | None: ...
    def artifact_files(self, folder: Path) -> Iterator[tuple[str, int, int]]: ...
    def read_artifact(self, folder: Path, rel: str, size: int) -> Iterator[bytes]: ...
    def close(self) -> None: ...


class Progress(Protocol):
    def planned(self, runs: int, points: int, nbytes: int) -> None: ...
    def run_done(self) -> None: ...
    def points_sent(self, n: int) -> None: ...
    def bytes_sent(self, n: int) -> None: ...


class _NoProgress:
    def planned(self, runs: int, points: int, nbytes: int) -> None:
        pass

    def run_done(self) -> None:
        pass

    def points_sent(self, n: int) -> None:
        pass

    def bytes_sent(self, n: int) -> None:
        pass


@dataclass
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    experiments_created: int = 0
    runs_created: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    points: int = 0
    params: int = 0
    tags: int = 0
    inputs: int = 0
    artifacts: int = 0
    bytes: int = 0
    models_created: int = 0
    versions_created: int = 0
    logged_models: int = 0
    logged_models_in_runs: int = 0  # to an MLflow 2.x server: as their run's artifacts
    logged_models_skipped: int = 0  # to an MLflow 2.x server without their run
    traces: int = 0  # MLflow 3 traces copied with their spans and assessments
    deleted: int = 0  # experiments and runs marked deleted on the destination
    experiment_ids: dict[str, str] = field(default_factory=dict)  # source -> destination
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _RunWork:
    run: Run
    experiment_id: str  # source
    depth: int
    points: int = 0  # points to send (estimate when the ledger's last point moved)
    files: list[tuple[str, int, int]] = field(default_factory=list)
    folder: Path | None = None
    pending: bool = False  # anything at all to send

    @property
    def nbytes(self) -> int:
        return sum(size for _, size, _ in self.files)


def _input_key(item: DatasetInput) -> str:
    doc = [*wire.dataset_values(item.dataset), sorted(item.tags.items())]
    return value_hash(json.dumps(doc))


def _chunks(items: dict[str, str], size: int) -> Iterator[dict[str, str]]:
    keys = list(items)
    for i in range(0, len(keys), size):
        yield {k: items[k] for k in keys[i : i + size]}


class Syncer:
    def __init__(
        self,
        source: Source,
        destination: Destination,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ):
        self.source = source
        self.dest = destination
        self.dry_run = dry_run
        self.progress: Progress = progress or _NoProgress()
        self.report = SyncReport(dry_run=dry_run)
        self.store_id: str | None = None
        self.keep_ids = source.keep_ids
        # deleted experiments and runs arrive deleted (imports, and an export to MLflow,
        # whose runs get new ids); a plain sync sends active ones only
        self.keep_lifecycle = bool(getattr(source, "keep_lifecycle", source.keep_ids))
        self.ledger = Ledger(source.state_dir / "unused.json", "", destination.identity)
        # source experiment id -> destination experiment (None: to be created)
        self._dest_experiments: dict[str, str | None] = {}
        self._blocked: set[str] = set()  # source experiments whose runs cannot be sent
        self._restore: set[str] = set()  # deleted there, deleted here, runs still to send
        # keep_ids: runs of each destination experiment (id -> run as the server shows it)
        self._there: dict[str, dict[str, dict[str, Any]]] = {}
        self._pending_experiments: set[str] = set()
        # params sent with a run's first metric batch, and the ledger entry they go to
        self._carry: dict[str, str] = {}
        self._carry_into: dict[str, str] = {}
        self._no_logged_models = False  # the destination has no logged-model routes (2.x)
        self._runs: dict[str, Run] = {}  # source runs by id

    # -------------------------------------------------------------------- running
    def run(self) -> SyncReport:
        self.dest.ping()
        state_dir = self.source.state_dir
        if self.dry_run:
            if self.source.has_state():
                self.store_id = self.source.store_id
                self.ledger = Ledger.load(state_dir, self.store_id, self.dest.identity)
            # else: never synced, so there is nothing to find and nothing is written
            return self._run()
        with exclusive(state_dir, self.dest.identity):
            self.store_id = self.source.store_id
            self.ledger = Ledger.load(state_dir, self.store_id, self.dest.identity)
            return self._run()

    def _run(self) -> SyncReport:
        experiments = self.source.experiments()
        works: list[_RunWork] = []
        for experiment in experiments:
            runs = self.source.runs(experiment.experiment_id)
            self._resolve_experiment(experiment, runs)
            works.extend(self._plan_runs(experiment, runs))
        works.sort(key=lambda w: (w.depth, int(w.experiment_id), w.run.info.start_time or 0))
        self._runs = {w.run.info.run_id: w.run for w in works}
        pending = [w for w in works if w.pending]
        self._pending_experiments = {w.experiment_id for w in pending}
        self._refuse_same_store(pending)
        self.report.runs_unchanged = len(works) - len(pending)
        prefetch = getattr(self.source, "prefetch", None)
        if prefetch is not None and not self.dry_run:
            sending = [w for w in pending if w.experiment_id not in self._blocked]
            files = {
                w.run.info.run_id: (w.folder, w.files) for w in sending if w.folder and w.files
            }
            prefetch([w.run.info.run_id for w in sending], files)
        logged = self.source.logged_models()
        if not self.dry_run:
            done = self.ledger.data.get("logged_models", {})
            model_bytes = sum(
                size
                for m in logged
                if m.folder is not None and m.model_id not in done
                for _, size, _ in self.source.artifact_files(m.folder)
            )
            self.progress.planned(
                len(pending),
                sum(w.points for w in pending),
                sum(w.nbytes for w in pending) + model_bytes,
            )
        models = models_in_scope(
            self.source, self.source.registered_models(), {w.run.info.run_id for w in works}
        )
        if self.dry_run:
            self._dry_report(experiments, pending)
            known = self.ledger.data.get("logged_models", {})
            self.report.logged_models = sum(1 for m in logged if m.model_id not in known)
            self._registry(works).plan(models)
            self._send_traces(experiments)
            return self.report
        try:
            for experiment in experiments:
                self._ensure_experiment(experiment)
            for work in pending:
                if work.experiment_id in self._blocked:
                    continue
                try:
                    self._send_run(work)
                except ServerRefused as exc:
                    self.report.failures.append(f"run {work.run.info.run_id}: {exc.message}")
                self.progress.run_done()
            for model in logged:
                try:
                    self._send_logged_model(model)
                except ServerRefused as exc:
                    self.report.failures.append(f"logged model {model.model_id}: {exc.message}")
            for work in works:
                if work.run.outputs and work.experiment_id not in self._blocked:
                    try:
                        self._send_outputs(work.run)
                    except ServerRefused as exc:
                        self.report.failures.append(
                            f"run {work.run.info.run_id} outputs: {exc.message}"
                        )
            self._registry(works).sync(models)
            self._send_traces(experiments)
            for experiment in experiments:
                self._experiment_lifecycle(experiment)
        finally:
            if self.ledger.dirty:
                self.ledger.save()
        return self.report

    def _refuse_same_store(self, pending: list[_RunWork]) -> None:
        """Syncing a store to the server that serves it would copy every run into itself."""
        if self.keep_ids:
            return  # the same ids are the point; _recover adopts runs made by earlier imports
        unknown = (
            w for w in pending if "dest_id" not in (self.ledger.run(w.run.info.run_id) or {})
        )
        first = next(unknown, None)
        if first is not None and self.dest.has_run(first.run.info.run_id):
            raise SyncError(
                f"{self.dest.url} already has run {first.run.info.run_id} under the same id: "
                "it serves this very store (or a copy of it), so there is nothing to sync"
            )

    def _registry(self, works: list[_RunWork]) -> RegistrySync:
        runs = RunMap()
        for work in works:
            entry = self.ledger.run(work.run.info.run_id) or {}
            if "dest_id" in entry:
                runs.add(
                    work.run.info.run_id,
                    work.run.info.artifact_uri,
                    entry["dest_id"],
                    entry.get("artifact_uri"),
                )
        for mid, made in self.ledger.data.get("logged_models", {}).items():
            if "run_path" in made:  # exported as run artifacts (an MLflow 2.x destination)
                runs.in_runs[mid] = (str(made["run_path"]), str(made["dest_run"]))
            else:
                runs.logged[mid] = str(made.get("dest_id", mid))
        calls = RegistryCalls(self.dest)
        store_id = self.store_id or ""
        return RegistrySync(calls, self.ledger, store_id, runs, self.report, self.keep_ids)

    def _dry_report(self, experiments: list[Experiment], pending: list[_RunWork]) -> None:
        r = self.report
        r.experiments_created = sum(
            1 for e in experiments if self._dest_experiments.get(e.experiment_id) is None
        )
        for work in pending:
            known = self.ledger.run(work.run.info.run_id)
            if known is None or "dest_id" not in known:
                r.runs_created += 1
            else:
                r.runs_updated += 1
            r.points += work.points
            if self.keep_lifecycle and work.run.info.lifecycle_stage == DELETED:
                r.deleted += 1
            r.artifacts += len(work.files)
            r.bytes += work.nbytes

    # ---------------------------------------------------------------- experiments
    def _resolve_experiment(self, experiment: Experiment, runs: list[Run]) -> None:
        """Match a source experiment with the destination's by name; check the ledger still
        describes that destination experiment; find runs the ledger lost."""
        eid = experiment.experiment_id
        found = self.dest.experiment_by_name(experiment.name)
        recorded = self.ledger.experiments.get(eid)
        if found is None:
            if recorded is not None or any(
                r.get("experiment") == eid for r in self.ledger.runs.values()
            ):
                self.ledger.forget_experiment(eid)
            self._dest_experiments[eid] = None
            return
        dest_id = str(found["experiment_id"])
        self.report.experiment_ids[eid] = dest_id
        deleted_there = found.get("lifecycle_stage") == DELETED
        if deleted_there and self.keep_lifecycle and experiment.lifecycle_stage == DELETED:
            self._restore.add(eid)  # restored only if runs remain to be sent
        elif deleted_there:
            self._blocked.add(eid)
            self.report.failures.append(
                f"experiment '{experiment.name}' is deleted on the destination: restore it "
                f"there (or rename one of the two) and sync again; its {len(runs)} run(s) "
                "were not sent"
            )
        if recorded is not None and recorded.get("dest_id") != dest_id:
            self.ledger.forget_experiment(eid)
            recorded = None
        self._dest_experiments[eid] = dest_id
        if recorded is None and not self.dry_run:
            tags = wire.kv_dict(found.get("tags"))
            self.ledger.experiments[eid] = {
                "dest_id": dest_id,
                "name": experiment.name,
                "tags": hashes(tags),
            }
            self.ledger.dirty = True
        unknown = [r for r in runs if "dest_id" not in (self.ledger.run(r.info.run_id) or {})]
        if unknown and self.store_id is not None:
            self._recover(eid, dest_id, unknown)

    def _runs_there(self, dest_id: str) -> dict[str, dict[str, Any]]:
        """keep_ids: the destination experiment's runs (deleted ones too), by id."""
        if dest_id not in self._there:
            self._there[dest_id] = self.dest.runs_of(dest_id)
        return self._there[dest_id]

    def _recover(self, eid: str, dest_id: str, unknown: list[Run]) -> None:
        """Runs an earlier sync created but did not record: adopt them, with what the
        destination shows of their tags, params and status (the rest is resent: the server
        stores a repeated metric point once, and artifact uploads replace)."""
        assert self.store_id is not None
        if self.keep_ids:
            there = self._runs_there(dest_id)
        else:
            there = self.dest.runs_from_store(dest_id, self.store_id)
        for run in unknown:
            match = there.get(run.info.run_id)
            if match is None:
                continue
            info = match.get("info", {})
            data = match.get("data", {})
            tags = wire.kv_dict(data.get("tags"))
            params = wire.kv_dict(data.get("params"))
            self.ledger.runs[run.info.run_id] = {
                "dest_id": wire.run_id(info),
                "experiment": eid,
                "artifact_uri": info.get("artifact_uri"),
                "tags": hashes(tags),
                "params": hashes(params),
                "status": info.get("status"),
                "end_time": info.get("end_time"),
                "lifecycle": info.get("lifecycle_stage", "active"),
                "metrics": {},
                "inputs": [],
                "artifacts": {},
                "complete": False,
            }
            self.ledger.dirty = True

    def _synced_run(self, dest_experiment: str, store_id: str, rid: str) -> dict[str, Any] | None:
        return self.dest.runs_from_store(dest_experiment, store_id).get(rid)

    def _pending_in(self, eid: str) -> bool:
        return eid in self._pending_experiments

    def _experiment_lifecycle(self, experiment: Experiment) -> None:
        """keep_ids: a deleted source experiment ends deleted on the destination (after its
        runs were sent: a deleted experiment takes no new runs)."""
        eid = experiment.experiment_id
        if not self.keep_lifecycle or experiment.lifecycle_stage != DELETED or eid in self._blocked:
            return
        recorded = self.ledger.experiments.get(eid)
        dest_id = self._dest_experiments.get(eid)
        if recorded is None or dest_id is None or recorded.get("lifecycle") == DELETED:
            if eid not in self._restore:
                return
        assert dest_id is not None
        try:
            self.dest.delete_experiment(dest_id)
        except ServerRefused as exc:
            self.report.failures.append(f"experiment '{experiment.name}': {exc.message}")
            return
        if recorded is not None:
            recorded["lifecycle"] = DELETED
        self.report.deleted += 1
        self.ledger.save()

    def _ensure_experiment(self, experiment: Experiment) -> None:
        eid = experiment.experiment_id
        if eid in self._blocked:
            return
        dest_id = self._dest_experiments.get(eid)
        if dest_id is not None and eid in self._restore:
            if not self._pending_in(eid):
                self._restore.discard(eid)
                return
            self.dest.restore_experiment(dest_id)
            recorded = self.ledger.experiments.get(eid)
            if recorded is not None:
                recorded["lifecycle"] = "active"
        if dest_id is None:
            try:
                dest_id = self.dest.create_experiment(experiment.name, experiment.tags)
            except ServerRefused as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                found = self.dest.experiment_by_name(experiment.name)
                if found is None:
                    raise
                dest_id = str(found["experiment_id"])
            else:
                self.report.experiments_created += 1
                self.report.tags += len(experiment.tags)
                self.ledger.experiments[eid] = {
                    "dest_id": dest_id,
                    "name": experiment.name,
                    "tags": hashes(experiment.tags),
                }
                self.ledger.save()
            self._dest_experiments[eid] = dest_id
            self.report.experiment_ids[eid] = dest_id
        recorded = self.ledger.experiments.setdefault(
            eid, {"dest_id": dest_id, "name": experiment.name, "tags": {}}
        )
        sent: dict[str, str] = recorded.setdefault("tags", {})
        for key, value in experiment.tags.items():
            h = value_hash(value)
            if sent.get(key) != h:
                self.dest.set_experiment_tag(dest_id, key, value)
                sent[key] = h
                self.report.tags += 1
                self.ledger.dirty = True

    # ---------------------------------------------------------------------- plans
    def _plan_runs(self, experiment: Experiment, runs: list[Run]) -> list[_RunWork]:
        by_id = {r.info.run_id: r for r in runs}
        out = []
        for run in runs:
            depth, parent = 0, run.tags.get(PARENT_TAG)
            seen = {run.info.run_id}
            while parent in by_id and parent not in seen and depth < 1000:
                seen.add(parent)
                depth += 1
                parent = by_id[parent].tags.get(PARENT_TAG)
            out.append(self._plan_run(experiment, run, depth))
        return out

    def _plan_run(self, experiment: Experiment, run: Run, depth: int) -> _RunWork:
        work = _RunWork(run, experiment.experiment_id, depth)
        entry = self.ledger.run(run.info.run_id) or {}
        pending = "dest_id" not in entry or not entry.get("complete")
        sent_tags = entry.get("tags", {})
        if any(sent_tags.get(k) != value_hash(v) for k, v in self._tags_for(run).items()):
            pending = True
        sent_params = entry.get("params", {})
        if any(sent_params.get(k) != value_hash(v) for k, v in run.params.items()):
            pending = True
        sent_metrics = entry.get("metrics", {})
        for key, count in self._plan_counts(run.info.run_id, sent_metrics).items():
            have = sent_metrics.get(key, {}).get("count", 0)
            if count > have:
                work.points += count - have
        sent_inputs = set(entry.get("inputs", []))
        if any(_input_key(i) not in sent_inputs for i in run.inputs):
            pending = True
        if entry.get("status") != run.info.status or entry.get("end_time") != run.info.end_time:
            pending = True
        if self.keep_lifecycle and entry.get("lifecycle", "active") != run.info.lifecycle_stage:
            pending = True
        work.folder = self.source.artifact_dir(run.info.artifact_uri)
        if work.folder is None and run.info.artifact_uri:
            self.report.notes.append(
                f"run {run.info.run_id}: artifacts at '{run.info.artifact_uri}' are not in a "
                "local folder; they were not synced"
            )
        elif work.folder is not None:
            sent_files = entry.get("artifacts", {})
            for rel, size, mtime in self.source.artifact_files(work.folder):
                if sent_files.get(rel) != [size, mtime]:
                    work.files.append((rel, size, mtime))
        work.pending = pending or work.points > 0 or bool(work.files)
        return work

    def _plan_counts(self, rid: str, sent_metrics: dict[str, Any]) -> dict[str, int]:
        """Each metric's point count for the plan. A source whose points are slow to read
        (an MLflow server) may guess them from what it already knows (``guess_counts``): the
        plan only decides which runs to visit and sizes the progress bar, and the run's exact
        counts are read when it is sent. A dry run counts exactly."""
        guess = getattr(self.source, "guess_counts", None)
        if guess is None or self.dry_run:
            return self.source.metric_counts(rid)
        found: dict[str, int] = guess(rid, sent_metrics)
        return found

    def _tags_for(self, run: Run) -> dict[str, str]:
        """The tags the destination run should carry: the source's, the parent id mapped to
        the destination's run, and the sync identity tag."""
        tags = dict(run.tags)
        parent = tags.get(PARENT_TAG)
        if parent:
            mapped = (self.ledger.run(parent) or {}).get("dest_id")
            if mapped:
                tags[PARENT_TAG] = mapped
        if self.store_id is not None and not self.keep_ids:
            tags[SYNC_TAG] = f"{self.store_id}/{run.info.run_id}"
        return tags

    # ----------------------------------------------------------------------- send
    def _record(self) -> None:
        """Record an acknowledged request before sending the next one: a sync killed at any
        point resends at most the one request that was in flight. A ledger so large that
        writing it costs more than CHEAP_SAVE_S (thousands of runs) is written at most every
        SAVE_SPACING times that cost instead, so it never takes more than a tenth of the
        time; a killed sync then resends the requests of that short window, which the
        server stores once."""
        self.ledger.dirty = True
        cost = self.ledger.last_save_s
        if cost > CHEAP_SAVE_S and time.monotonic() - self.ledger.saved_at < cost * SAVE_SPACING:
            return
        self.ledger.save()

    def _send_run(self, work: _RunWork) -> None:
        run = work.run
        rid = run.info.run_id
        report = self.report
        tags = self._tags_for(run)
        entry = self.ledger.run(rid)
        created = False
        sent_anything = False
        if entry is None or "dest_id" not in entry:
            dest_experiment = self._dest_experiments[work.experiment_id]
            assert dest_experiment is not None
            store_id = self.store_id or ""
            find: Callable[[], dict[str, Any] | None]
            if self.keep_ids:
                find = partial(self.dest.run_in, dest_experiment, rid)
            else:
                find = partial(self._synced_run, dest_experiment, store_id, rid)
            made = self.dest.create_run(
                dest_experiment,
                run.info.run_name,
                run.info.user_id,
                run.info.start_time,
                tags,
                find=find,
                run_id=rid if self.keep_ids else None,
            )
            info = made["info"]
            entry = {
                "dest_id": info["run_id"],
                "experiment": work.experiment_id,
                "artifact_uri": info.get("artifact_uri"),
                "tags": hashes(tags),
                "params": {},
                "status": info.get("status"),
                "end_time": info.get("end_time"),
                "lifecycle": "active",
                "metrics": {},
                "inputs": [],
                "artifacts": {},
                "complete": False,
            }
            self.ledger.runs[rid] = entry
            self.ledger.save()
            created = True
            report.runs_created += 1
            report.tags += len(tags)
        dest_id: str = entry["dest_id"]

        sent_tags: dict[str, str] = entry.setdefault("tags", {})
        changed = {k: v for k, v in tags.items() if sent_tags.get(k) != value_hash(v)}
        for part in _chunks(changed, PARAMS_TAGS_PER_BATCH):
            self.dest.log_batch(dest_id, tags=part)
            sent_tags.update(hashes(part))
            report.tags += len(part)
            sent_anything = True
            self._record()

        sent_params: dict[str, str] = entry.setdefault("params", {})
        new_params = {k: v for k, v in run.params.items() if sent_params.get(k) != value_hash(v)}
        counts = self.source.metric_counts(rid)
        sent_metrics: dict[str, dict[str, Any]] = entry.setdefault("metrics", {})
        if 0 < len(new_params) <= PARAMS_TAGS_PER_BATCH and any(
            sent_metrics.get(k, {}).get("count", 0) < n for k, n in counts.items()
        ):
            # few params and points to send: they ride along with the first metric batch
            self._carry, self._carry_into = new_params, sent_params
            new_params = {}
        for part in _chunks(new_params, PARAMS_TAGS_PER_BATCH):
            self.dest.log_batch(dest_id, params=part)
            sent_params.update(hashes(part))
            report.params += len(part)
            sent_anything = True
            self._record()

        for key, count in counts.items():
            have = sent_metrics.get(key)
            if have is not None and have.get("count", 0) >= count:
                continue
            sent_anything |= self._send_metric(dest_id, rid, key, count, sent_metrics)
        if self._carry:  # no metric batch took them after all
            carried, self._carry = self._carry, {}
            self.dest.log_batch(dest_id, params=carried)
            sent_params.update(hashes(carried))
            report.params += len(carried)
            sent_anything = True
            self._record()

        sent_inputs: list[str] = entry.setdefault("inputs", [])
        fresh = [i for i in run.inputs if _input_key(i) not in sent_inputs]
        for start in range(0, len(fresh), INPUTS_PER_CALL):
            group = fresh[start : start + INPUTS_PER_CALL]
            self.dest.log_inputs(dest_id, [wire.dataset_input(i.dataset, i.tags) for i in group])
            sent_inputs.extend(_input_key(i) for i in group)
            report.inputs += len(group)
            sent_anything = True
            self._record()

        if work.files and work.folder is not None:
            sent_anything |= self._send_artifacts(entry, work.folder, work.files)

        if entry.get("status") != run.info.status or entry.get("end_time") != run.info.end_time:
            self.dest.update_run(dest_id, run.info.status, run.info.end_time)
            entry["status"] = run.info.status
            entry["end_time"] = run.info.end_time
            sent_anything = True
        lifecycle = run.info.lifecycle_stage if self.keep_lifecycle else "active"
        if entry.get("lifecycle", "active") != lifecycle:
            if lifecycle == DELETED:
                self.dest.delete_run(dest_id)
                report.deleted += 1
            else:
                self.dest.restore_run(dest_id)
            entry["lifecycle"] = lifecycle
            sent_anything = True
        entry["complete"] = True
        self._record()
        if not created:
            if sent_anything:
                report.runs_updated += 1
            else:
                report.runs_unchanged += 1

    def _send_logged_model(self, model: ImportedModel) -> None:
        """An MLflow 3 logged model with its files: under its own id (keep_ids sources), or
        under the id the destination gives it (an export to MLflow), its source run mapped."""
        dest_experiment = self._dest_experiments.get(model.experiment_id)
        if dest_experiment is None or model.experiment_id in self._blocked:
            return
        sent: dict[str, dict[str, Any]] = self.ledger.data.setdefault("logged_models", {})
        entry = sent.get(model.model_id)
        if entry is None and self._no_logged_models:
            entry = self._logged_model_in_run(model)
            if entry is None:
                return
        if entry is None:
            run_id = model.source_run_id
            if not self.keep_ids and run_id:
                run_id = (self.ledger.run(run_id) or {}).get("dest_id")
            try:
                info = self.dest.create_logged_model(
                    dest_experiment, model, keep_id=self.keep_ids, source_run_id=run_id
                )
                self.report.logged_models += 1
            except ServerRefused as exc:
                if not self.keep_ids and (
                    exc.status == 404 or exc.error_code == "ENDPOINT_NOT_FOUND"
                ):
                    self._no_logged_models = True  # an MLflow 2.x server
                    self._send_logged_model(model)
                    return
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                info = self.dest.get_logged_model(model.model_id)
            entry = {
                "dest_id": str(info.get("model_id") or model.model_id),
                "experiment": model.experiment_id,
                "artifact_uri": info.get("artifact_uri"),
                "status": info.get("status"),
                "artifacts": {},
            }
            sent[model.model_id] = entry
            self.ledger.save()
        if model.folder is not None:
            done = entry.setdefault("artifacts", {})
            files = [
                f
                for f in self.source.artifact_files(model.folder)
                if done.get(f[0]) != [f[1], f[2]]
            ]
            if files:
                self._send_artifacts(entry, model.folder, files)
        if entry.get("status") != model.status and model.status != "LOGGED_MODEL_PENDING":
            self.dest.finalize_logged_model(entry["dest_id"], model.status)
            entry["status"] = model.status
            self.ledger.save()

    def _send_traces(self, experiments: list[Experiment]) -> None:
        """An import's traces (keep_ids sources that have them), each once: its spans, its
        info and its assessments, under its own id (see :meth:`Destination.import_trace`).
        A dry run counts the ones the ledger does not know."""
        read = getattr(self.source, "traces", None)
        if read is None or not self.keep_ids:
            return
        done: dict[str, str] = self.ledger.data.setdefault("traces", {})
        for experiment in experiments:
            eid = experiment.experiment_id
            dest_experiment = self._dest_experiments.get(eid)
            if eid in self._blocked or (dest_experiment is None and not self.dry_run):
                continue
            for trace in read(eid):
                tid = str((trace.get("trace_info") or {}).get("trace_id") or "")
                if not tid or tid in done:
                    continue
                if self.dry_run:
                    self.report.traces += 1
                    continue
                assert dest_experiment is not None
                try:
                    self.dest.import_trace(dest_experiment, trace)
                except ServerRefused as exc:
                    self.report.failures.append(f"trace {tid}: {exc.message}")
                    continue
                done[tid] = dest_experiment
                self.report.traces += 1
                self._record()

    def _logged_model_in_run(self, model: ImportedModel) -> dict[str, Any] | None:
        """A destination without logged models (MLflow 2.x): the model's files go to its
        source run's artifacts, under the model's name (as MLflow 2's ``log_model`` put them;
        ``<name>-<model id>`` when the run has files there already), and versions registered
        from it point at ``runs:/<run>/<name>``. Without an exported source run it is skipped.
        Either way a note says so; the ledger entry (returned) has no ``dest_id``."""
        label = f"logged model {model.model_id} ('{model.name}')"
        run = self._runs.get(model.source_run_id or "")
        made = self.ledger.run(model.source_run_id or "") or {}
        if run is None or not made.get("dest_id") or not made.get("artifact_uri"):
            self.report.logged_models_skipped += 1
            self.report.notes.append(
                f"{label}: the destination has no logged models (MLflow 2.x) and its source "
                "run was not exported; not exported"
            )
            return None
        path = model.name or model.model_id
        folder = self.source.artifact_dir(run.info.artifact_uri)
        taken = folder is not None and any(
            rel == path or rel.startswith(f"{path}/")
            for rel, _, _ in self.source.artifact_files(folder)
        )
        if taken:
            path = f"{path}-{model.model_id}"
        entry: dict[str, Any] = {
            "experiment": model.experiment_id,
            "run_path": f"runs:/{made['dest_id']}/{path}",
            "dest_run": made["dest_id"],
            "artifact_uri": f"{str(made['artifact_uri']).rstrip('/')}/{path}",
            "status": model.status,
            "artifacts": {},
        }
        self.ledger.data.setdefault("logged_models", {})[model.model_id] = entry
        self.ledger.save()
        self.report.logged_models_in_runs += 1
        self.report.notes.append(
            f"{label}: the destination has no logged models (MLflow 2.x); its files are "
            f"artifacts '{path}' of run {made['dest_id']} ({entry['run_path']})"
        )
        return entry

    def _send_outputs(self, run: Run) -> None:
        """The run -> logged model links (MLflow 3 outputs), once the models exist."""
        entry = self.ledger.run(run.info.run_id)
        made = self.ledger.data.get("logged_models", {})
        if entry is None or "dest_id" not in entry:
            return
        sent: list[str] = entry.setdefault("outputs", [])
        fresh = [
            (m, s)
            for m, s in run.outputs
            if f"{m}:{s}" not in sent and "dest_id" in made.get(m, {})
        ]
        if not fresh:
            return
        self.dest.log_outputs(entry["dest_id"], [(made[m]["dest_id"], s) for m, s in fresh])
        sent.extend(f"{m}:{s}" for m, s in fresh)
        self.ledger.save()

    def _send_metric(
        self,
        dest_id: str,
        rid: str,
        key: str,
        count: int,
        sent_metrics: dict[str, dict[str, Any]],
    ) -> bool:
        """Send the points of one metric after the last one delivered. If points appeared
        before it (rare: logged out of step order after a sync), send the whole history
        again; the server keeps a repeated identical point once."""
        have = sent_metrics.get(key)
        after: StoredPoint | None = None
        base = 0
        if have is not None and have.get("last") is not None:
            s, t, v, n = have["last"]
            after = (int(s), int(t), float(v), bool(n))
            base = int(have.get("count", 0))
        sent = self._stream_points(dest_id, rid, key, after, base, sent_metrics)
        if base + sent < count:  # points were added before the last delivered one
            sent += self._stream_points(dest_id, rid, key, None, 0, sent_metrics)
        return sent > 0

    def _stream_points(
        self,
        dest_id: str,
        rid: str,
        key: str,
        after: StoredPoint | None,
        base: int,
        sent_metrics: dict[str, dict[str, Any]],
    ) -> int:
        sent = 0
        size = METRICS_PER_BATCH - len(self._carry)  # a batch holds 1,000 items in all
        for page in self.source.history_after(rid, key, after, size):
            batch = [wire.metric(key, v, t, s, n) for s, t, v, n in page]
            carried, self._carry = self._carry, {}
            self.dest.log_batch(dest_id, metrics=batch, params=carried)
            if carried:
                self._carry_into.update(hashes(carried))
                self.report.params += len(carried)
            sent += len(page)
            sent_metrics[key] = {"count": base + sent, "last": list(page[-1])}
            self.report.points += len(page)
            self.progress.points_sent(len(page))
            self._record()
        return sent

    def _send_artifacts(
        self, entry: dict[str, Any], folder: Path, files: list[tuple[str, int, int]]
    ) -> bool:
        uri = entry.get("artifact_uri")
        if not uri:
            raise SyncError(f"The destination run {entry['dest_id']} has no artifact URI")
        prefix = artifact_prefix(uri)
        sent_files: dict[str, list[int]] = entry.setdefault("artifacts", {})
        for rel, size, mtime in files:
            self.dest.upload(f"{prefix}/{rel}", size, self._reader(folder, rel, size))
            sent_files[rel] = [size, mtime]
            self.report.artifacts += 1
            self.report.bytes += size
            self._record()
        return bool(files)

    def _reader(self, folder: Path, rel: str, size: int) -> Callable[[], Iterator[bytes]]:
        def body() -> Iterator[bytes]:
            for chunk in self.source.read_artifact(folder, rel, size):
                self.progress.bytes_sent(len(chunk))
                yield chunk

        return body


def sync_store(
    source: str,
    to: str,
    *,
    artifacts: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    request_hook: Hook | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SyncReport:
    """Sync the offline store ``source`` to the server at ``to`` (see :class:`Syncer`)."""
    location = locate(source, artifacts)
    store = SourceStore(location)
    try:
        destination = Destination(to, request_hook=request_hook, transport=transport)
        try:
            return Syncer(store, destination, dry_run=dry_run, progress=progress).run()
        finally:
            destination.close()
    finally:
        store.close()
