"""Comparison use cases for the web UI: many runs side by side, a model's versions with the
metrics of their source runs, several models' production (or latest) versions. They combine
the tracking and registry stores in one read transaction each; no SQL here, no HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from cairn.entities.access import ALL, Visibility
from cairn.entities.errors import CairnError
from cairn.entities.insights import MetricGoal, ModelTrend
from cairn.entities.registry import ModelVersion, Stage
from cairn.entities.tracking import Run
from cairn.services.insights import DEFAULT_THRESHOLD, check_threshold, goals_of_runs, model_trend
from cairn.services.registry import validate_name
from cairn.store import compare as store
from cairn.store.compare import DatasetUse
from cairn.store.db import Database

MAX_RUNS = 100
MAX_MODELS = 50
LATEST = "latest"


@dataclass(slots=True)
class ComparedRun:
    run: Run
    experiment_name: str | None


@dataclass(slots=True)
class VersionPerformance:
    version: ModelVersion
    run: Run | None
    datasets: list[DatasetUse] = field(default_factory=list)


@dataclass(slots=True)
class ModelPerformance:
    versions: list[VersionPerformance]
    trend: ModelTrend


@dataclass(slots=True)
class ModelPick:
    name: str
    version: ModelVersion | None
    run: Run | None


def _wanted_metrics(run: Run | None, keys: Sequence[str]) -> None:
    """Keep only the metrics named in ``keys`` (all when empty)."""
    if run is not None and keys:
        wanted = set(keys)
        run.metrics = [m for m in run.metrics if m.key in wanted]


def _source_runs(
    conn: Connection, versions: Sequence[ModelVersion], visible: Visibility = ALL
) -> dict[str, Run]:
    """The versions' source runs that exist and whose experiment ``visible`` lets the
    caller read (a model reader does not see runs of experiments hidden from them)."""
    runs, _missing = store.runs_by_ids(conn, [v.run_id for v in versions if v.run_id])
    if not visible.unfiltered:
        names = store.experiment_names(conn, list({r.info.experiment_id for r in runs}))
        runs = [
            r for r in runs if visible.allows(r.info.experiment_id, names.get(r.info.experiment_id))
        ]
    return {r.info.run_id: r for r in runs}


class CompareService:
    def __init__(self, db: Database):
        self.db = db

    def compare_runs(self, run_ids: Sequence[object]) -> list[ComparedRun]:
        """Runs by id, across experiments, with params, tags and latest metrics."""
        ids: list[str] = []
        for i, rid in enumerate(run_ids):
            if not isinstance(rid, str) or not rid:
                raise CairnError.invalid(f"Invalid value {rid!r} for parameter 'run_ids[{i}]'")
            ids.append(rid)
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise CairnError.invalid("Missing value for required parameter 'run_ids'")
        if len(ids) > MAX_RUNS:
            raise CairnError.invalid(
                f"Invalid value for parameter 'run_ids': at most {MAX_RUNS} runs, got {len(ids)}"
            )

        def read(conn: Connection) -> list[ComparedRun]:
            runs, missing = store.runs_by_ids(conn, ids)
            if missing:
                shown = ", ".join(missing[:5])
                raise CairnError.not_found(f"Runs not found (parameter 'run_ids'): {shown}")
            names = store.experiment_names(conn, [r.info.experiment_id for r in runs])
            return [ComparedRun(r, names.get(r.info.experiment_id)) for r in runs]

        return self.db.read(read)

    def model_performance(
        self,
        name: object,
        metrics: Sequence[str] = (),
        goals: Sequence[MetricGoal] = (),
        threshold: float = DEFAULT_THRESHOLD,
        visible: Visibility = ALL,
    ) -> ModelPerformance:
        """Every version of a model, oldest first, with its source run's latest metrics (all,
        or those named in ``metrics``) and the datasets that run used; and the trend of
        ``goals`` (default: the runs' most common metrics, directions guessed) over the
        versions, with a degradation verdict per metric at ``threshold``. Source runs in
        experiments ``visible`` hides are left out (``run`` null)."""
        n = validate_name(name)
        check_threshold(threshold)

        def read(conn: Connection) -> ModelPerformance:
            versions = store.model_versions_of(conn, n)
            runs = _source_runs(conn, versions, visible)
            chosen = goals_of_runs(list(runs.values()), goals, metrics)
            trend = model_trend(versions, runs, chosen, threshold)
            uses: dict[str, list[DatasetUse]] = {}
            for use in store.datasets_of_runs(conn, list(runs)):
                uses.setdefault(use.run_id, []).append(use)
            out = []
            for v in versions:
                run = runs.get(v.run_id) if v.run_id else None
                _wanted_metrics(run, metrics)
                out.append(VersionPerformance(v, run, uses.get(v.run_id or "", [])))
            return ModelPerformance(out, trend)

        return self.db.read(read)

    def compare_models(
        self,
        names: Sequence[object],
        stage: object = None,
        visible: Visibility = ALL,
        field: str = "name",
    ) -> list[ModelPick]:
        """For each model, its highest version in ``stage`` (``Production`` when not given;
        ``latest`` for its highest version of all) with that version's source run (null when
        ``visible`` hides its experiment)."""
        picked: list[str] = list(dict.fromkeys(validate_name(n, field) for n in names))
        if not picked:
            raise CairnError.invalid(f"Missing value for required parameter '{field}'")
        if len(picked) > MAX_MODELS:
            raise CairnError.invalid(
                f"Invalid value for parameter '{field}': at most {MAX_MODELS} models, "
                f"got {len(picked)}"
            )
        wanted: Stage | None
        if stage is None or stage == "":
            wanted = Stage.PRODUCTION
        elif isinstance(stage, str) and stage.lower() == LATEST:
            wanted = None
        else:
            try:
                wanted = Stage.parse(stage)
            except ValueError:
                raise CairnError.invalid(
                    f"Invalid value {stage!r} for parameter 'stage': one of None, Staging, "
                    "Production, Archived or latest"
                ) from None

        def read(conn: Connection) -> list[ModelPick]:
            versions = [store.pick_version(conn, n, wanted) for n in picked]
            runs = _source_runs(conn, [v for v in versions if v is not None], visible)
            return [
                ModelPick(n, v, runs.get(v.run_id) if v is not None and v.run_id else None)
                for n, v in zip(picked, versions, strict=True)
            ]

        return self.db.read(read)
