"""Tracking use cases: MLflow's rules applied, then one store transaction per call."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from cairn.entities.access import ALL, Visibility
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.logged_models import ModelMetricPoint
from cairn.entities.tracking import (
    Dataset,
    Experiment,
    ExperimentSummary,
    LifecycleStage,
    Metric,
    MetricHistory,
    MetricPoint,
    Page,
    Run,
    RunInfo,
    RunQuery,
    RunStatus,
    ViewType,
    parse_experiment_id,
)
from cairn.services import validation as v
from cairn.services.names import random_run_name
from cairn.store import experiment_summary as summary_store
from cairn.store import experiments as exp_store
from cairn.store import inputs as input_store
from cairn.store import logged_models as model_store
from cairn.store import metrics as metric_store
from cairn.store import runs as run_store
from cairn.store.db import Database
from cairn.store.experiment_search import search_experiments
from cairn.store.metric_keys import MetricKeys
from cairn.store.run_search import search_runs

MAX_BULK_RUNS = 100
MAX_BULK_RESULTS = 25_000
"""MLflow's default and bound for ``get-history-bulk``."""
MAX_INTERVAL_RESULTS = 2500
"""MLflow's bound on ``max_results`` of ``get-history-bulk-interval``."""
MAX_SUMMARY_IDS = 1000
# batches up to this size may be written on the event loop when the writer is idle
SMALL_BATCH = 20
# the change events of the logging routes: one per call, named for the route's intent
LOG_BATCH, LOG_METRIC, LOG_PARAM, SET_TAG = (
    "run.log_batch",
    "run.log_metric",
    "run.log_param",
    "run.set_tag",
)


def batch_summary(
    points: Sequence[MetricPoint],
    params: dict[str, str],
    tags: dict[str, str],
    old_tags: dict[str, str],
    model_metrics: Sequence[ModelMetricPoint] = (),
) -> tuple[dict[str, object] | None, dict[str, object]]:
    """(before, after) of one log-batch's change event: params and tags as logged (the tags'
    earlier values before), metrics summarised as keys, point count and step range, and the
    run's ``name`` before and after when the batch renames it (``mlflow.runName``)."""
    after: dict[str, object] = {}
    if len(points) == 1:  # one-point log-metric, the stock client's every call
        step = points[0][3]
        after["metrics"] = {"keys": [points[0][0]], "count": 1, "steps": [step, step]}
    elif points:
        steps = [p[3] for p in points]
        after["metrics"] = {
            "keys": sorted({p[0] for p in points}),
            "count": len(points),
            "steps": [min(steps), max(steps)],
        }
    if model_metrics:
        after["model_metrics"] = {
            "models": sorted({p[0] for p in model_metrics}),
            "count": len(model_metrics),
        }
    if params:
        after["params"] = params
    if tags:
        after["tags"] = tags
    changed = {k: old_tags[k] for k in tags if k in old_tags and old_tags[k] != tags[k]}
    before: dict[str, object] = {"tags": changed} if changed else {}
    name = tags.get(run_store.RUN_NAME_TAG)
    if name is not None and old_tags.get(run_store.RUN_NAME_TAG) != name:
        before["name"] = old_tags.get(run_store.RUN_NAME_TAG)
        after["name"] = name
    return (before or None), after


class TrackingService:
    def __init__(
        self,
        db: Database,
        limits: v.ValueLimits | None = None,
        artifact_root: str = exp_store.DEFAULT_ARTIFACT_ROOT,
    ):
        """``artifact_root``: where new experiments put artifacts by default:
        ``mlflow-artifacts:`` when the server proxies them, else the storage URI itself."""
        self.db = db
        self.keys = MetricKeys()
        self.limits = limits or v.ValueLimits()
        self.artifact_root = artifact_root
        db.write(lambda c: exp_store.settle_default_location(c, artifact_root))

    # ---------------------------------------------------------------- experiments
    def create_experiment(
        self,
        name: object,
        artifact_location: str | None = None,
        tags: Iterable[tuple[str, object]] = (),
    ) -> str:
        checked = v.validate_experiment_name(name)
        tag_map = {
            v.validate_key("Tag", k): self.limits.experiment_tag_value(k, val) for k, val in tags
        }
        root = self.artifact_root
        return self.db.write(
            lambda c: exp_store.create(c, checked, artifact_location, tag_map, root)
        )

    def get_experiment(self, experiment_id: object) -> Experiment:
        eid = parse_experiment_id(experiment_id)
        return self.db.read(lambda c: exp_store.get(c, eid))

    def get_experiment_by_name(self, name: str) -> Experiment:
        return self.db.read(lambda c: exp_store.get_by_name(c, name))

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_text: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        *,
        visibility: Visibility = ALL,
    ) -> Page[Experiment]:
        """A page of the matching experiments that ``visibility`` lets the caller read."""
        return self.db.read(
            lambda c: search_experiments(
                c, view_type, max_results, filter_text, list(order_by), page_token, visibility
            )
        )

    def summarize_experiments(self, experiment_ids: Sequence[object]) -> list[ExperimentSummary]:
        """Run counts and last activity of the experiments asked for that exist, in the order
        asked (deleted runs are not counted)."""
        if len(experiment_ids) > MAX_SUMMARY_IDS:
            raise CairnError.invalid(
                f"Too many values for parameter 'experiment_id': {len(experiment_ids)} "
                f"(at most {MAX_SUMMARY_IDS})"
            )
        ids = [parse_experiment_id(value) for value in experiment_ids]
        return self.db.read(lambda c: summary_store.summarize(c, ids))

    def rename_experiment(self, experiment_id: object, new_name: object) -> None:
        eid = parse_experiment_id(experiment_id)
        name = v.validate_experiment_name(new_name)
        self.db.write(lambda c: exp_store.rename(c, eid, name))

    def delete_experiment(self, experiment_id: object) -> None:
        eid = parse_experiment_id(experiment_id)
        self.db.write(lambda c: exp_store.set_lifecycle(c, eid, LifecycleStage.DELETED))

    def restore_experiment(self, experiment_id: object) -> None:
        eid = parse_experiment_id(experiment_id)
        self.db.write(lambda c: exp_store.set_lifecycle(c, eid, LifecycleStage.ACTIVE))

    def set_experiment_tag(self, experiment_id: object, key: object, value: object) -> None:
        eid = parse_experiment_id(experiment_id)
        k = v.validate_key("Tag", key)
        val = self.limits.experiment_tag_value(k, value)
        self.db.write(lambda c: exp_store.set_tag(c, eid, k, val))

    def delete_experiment_tag(self, experiment_id: object, key: object) -> None:
        eid = parse_experiment_id(experiment_id)
        k = v.validate_key("Tag", key)
        self.db.write(lambda c: exp_store.delete_tag(c, eid, k))

    # ----------------------------------------------------------------------- runs
    def create_run(
        self,
        experiment_id: object = "0",
        user_id: str | None = None,
        start_time: int | None = None,
        run_name: str | None = None,
        tags: Iterable[tuple[str, object]] = (),
        run_id: str | None = None,
    ) -> Run:
        """``run_id``: the id to give the run (imports keep their source's ids)."""
        return self.db.write(
            self._create_run_job(experiment_id, user_id, start_time, run_name, tags, run_id)
        )

    async def acreate_run(
        self,
        experiment_id: object = "0",
        user_id: str | None = None,
        start_time: int | None = None,
        run_name: str | None = None,
        tags: Iterable[tuple[str, object]] = (),
        run_id: str | None = None,
    ) -> Run:
        job = self._create_run_job(experiment_id, user_id, start_time, run_name, tags, run_id)
        return await self.db.awrite(job, small=True)

    def _create_run_job(
        self,
        experiment_id: object,
        user_id: str | None,
        start_time: int | None,
        run_name: str | None,
        tags: Iterable[tuple[str, object]],
        run_id: str | None = None,
    ) -> Callable[[Connection], Run]:
        eid = parse_experiment_id(experiment_id)
        chosen = v.validate_new_run_id(run_id) if run_id is not None else None
        tag_map = {v.validate_key("Tag", k): self.limits.tag_value(k, val) for k, val in tags}
        name = run_name or tag_map.get(run_store.RUN_NAME_TAG) or random_run_name()
        name = self.limits.tag_value(run_store.RUN_NAME_TAG, name)
        return lambda c: run_store.create(c, eid, user_id, start_time, name, tag_map, chosen)

    def get_run(self, run_id: object) -> Run:
        rid = v.validate_run_id(run_id)
        return self.db.read(lambda c: run_store.get(c, rid))

    def update_run(
        self,
        run_id: object,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        rid = v.validate_run_id(run_id)
        if status is not None and status not in RunStatus.__members__:
            raise CairnError.invalid(
                f"Invalid run status '{status}'; valid: {', '.join(RunStatus.__members__)}"
            )
        name = self.limits.tag_value(run_store.RUN_NAME_TAG, run_name) if run_name else None
        return self.db.write(lambda c: run_store.update_info(c, rid, status, end_time, name))

    def delete_run(self, run_id: object) -> None:
        rid = v.validate_run_id(run_id)
        self.db.write(lambda c: run_store.set_lifecycle(c, rid, LifecycleStage.DELETED))

    def restore_run(self, run_id: object) -> None:
        rid = v.validate_run_id(run_id)
        self.db.write(lambda c: run_store.set_lifecycle(c, rid, LifecycleStage.ACTIVE))

    def log_batch(
        self,
        run_id: object,
        metrics: Sequence[Metric | MetricPoint] = (),
        params: Sequence[tuple[str, object]] = (),
        tags: Sequence[tuple[str, object]] = (),
        action: str = LOG_BATCH,
    ) -> None:
        """Log metrics, params and tags atomically: all of them are stored, or none.
        ``action`` names the change event (the single-purpose routes name their intent)."""
        self.db.write(self.log_batch_job(run_id, metrics, params, tags, action=action))

    async def alog_batch(
        self,
        run_id: object,
        metrics: Sequence[Metric | MetricPoint] = (),
        params: Sequence[tuple[str, object]] = (),
        tags: Sequence[tuple[str, object]] = (),
        model_metrics: Sequence[ModelMetricPoint] = (),
        action: str = LOG_BATCH,
    ) -> None:
        """:meth:`log_batch` for the event loop (the hot path of every logging endpoint).
        ``model_metrics``: mlflow 3 metrics that name a logged model, attached to their models
        in the same transaction."""
        job = self.log_batch_job(run_id, metrics, params, tags, model_metrics, action)
        small = not model_metrics and len(metrics) + len(params) + len(tags) <= SMALL_BATCH
        await self.db.awrite(job, small=small)

    def log_batch_job(
        self,
        run_id: object,
        metrics: Sequence[Metric | MetricPoint],
        params: Sequence[tuple[str, object]],
        tags: Sequence[tuple[str, object]],
        model_metrics: Sequence[ModelMetricPoint] = (),
        action: str = LOG_BATCH,
    ) -> Callable[[Connection], None]:
        """Validate a batch now; return the write to run in the store's transaction (the run's
        params, tags and metrics, then ``model_metrics`` on their logged models), which
        records one ``action`` event summarising the batch."""
        rid = v.validate_run_id(run_id)
        v.validate_batch_sizes(len(metrics), len(params), len(tags))
        points: list[MetricPoint] = [
            m if isinstance(m, tuple) else (m.key, m.value, m.timestamp, m.step) for m in metrics
        ]
        for key in {p[0] for p in points}:
            v.validate_key("Metric", key)
        for i, p in enumerate(points):
            if type(p[1]) is not float:
                points[i] = (p[0], v.validate_metric_value(p[0], p[1]), p[2], p[3])
        param_map: dict[str, str] = {}
        for key, raw in params:
            k = v.validate_key("Param", key)
            val = self.limits.param_value(k, raw)
            if param_map.get(k, val) != val:
                raise CairnError.invalid(
                    f"Duplicate parameter keys have been submitted: '{k}' with values "
                    f"'{param_map[k]}' and '{val}'"
                )
            param_map[k] = val
        tag_map = {v.validate_key("Tag", k): self.limits.tag_value(k, val) for k, val in tags}
        keys = self.keys

        def write(c: Connection) -> None:
            row = run_store.resolve_active(c, rid)
            old_tags = run_store.tag_values(c, row.id, list(tag_map)) if tag_map else {}
            run_store.log_params(c, row.id, rid, param_map)
            run_store.set_tags(c, row.id, tag_map)
            metric_store.log_points(c, keys, row.id, points)
            if model_metrics:
                model_store.log_metrics(c, rid, model_metrics)
            before, after = batch_summary(points, param_map, tag_map, old_tags, model_metrics)
            run_store.record(c, action, row, before, after)

        return write

    def log_metric(self, run_id: object, key: str, value: float, timestamp: int, step: int) -> None:
        self.log_batch(run_id, metrics=[Metric(key, value, timestamp, step)], action=LOG_METRIC)

    def log_param(self, run_id: object, key: object, value: object) -> None:
        param = (str(key) if key is not None else "", value)
        self.log_batch(run_id, params=[param], action=LOG_PARAM)

    def set_tag(self, run_id: object, key: object, value: object) -> None:
        self.log_batch(run_id, tags=[(str(key) if key is not None else "", value)], action=SET_TAG)

    def delete_tag(self, run_id: object, key: object) -> None:
        rid = v.validate_run_id(run_id)
        k = v.validate_key("Tag", key)
        self.db.write(lambda c: run_store.delete_tag(c, rid, k))

    def search_runs(self, query: RunQuery) -> Page[Run]:
        return self.db.read(lambda c: search_runs(c, self.keys, query))

    # -------------------------------------------------------------------- history
    def get_metric_history(
        self,
        run_id: object,
        key: object,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> MetricHistory:
        rid = v.validate_run_id(run_id)
        if not isinstance(key, str) or not key:
            raise CairnError.invalid("Missing value for required parameter 'metric_key'")
        if max_results is not None and max_results < 1:
            raise CairnError.invalid("Parameter 'max_results' must be at least 1")

        def read(c: Connection) -> MetricHistory:
            row = run_store.resolve(c, rid)
            return metric_store.history(c, self.keys, row.id, key, max_results, page_token)

        return self.db.read(read)

    def get_metric_history_bulk(
        self, run_ids: Sequence[str], key: str | None, max_results: int
    ) -> list[tuple[str, Metric]]:
        """MLflow's ``get-history-bulk``: the whole history of one metric for up to
        :data:`MAX_BULK_RUNS` runs, ordered by run id, each run's by (step, timestamp,
        value), at most ``max_results`` points in all."""
        if not run_ids:
            raise CairnError.invalid(
                "GetMetricHistoryBulk request must specify at least one run_id."
            )
        if len(run_ids) > MAX_BULK_RUNS:
            raise CairnError.invalid(
                f"GetMetricHistoryBulk request cannot specify more than {MAX_BULK_RUNS} "
                f"run_ids. Received {len(run_ids)} run_ids."
            )
        if not key:
            raise CairnError.invalid("GetMetricHistoryBulk request must specify a metric_key.")
        if not 1 <= max_results <= MAX_BULK_RESULTS:
            raise CairnError.invalid(
                f"Invalid value {max_results} for parameter 'max_results' supplied: it must "
                f"be between 1 and {MAX_BULK_RESULTS}"
            )

        def read(c: Connection) -> list[tuple[str, Metric]]:
            out: list[tuple[str, Metric]] = []
            for rid in sorted(set(run_ids)):
                pk = run_store.resolve(c, rid).id
                for s, t, val, n in metric_store.history(c, self.keys, pk, key, None, None).points:
                    out.append((rid, Metric(key, math.nan if n else val, t, s)))
                    if len(out) >= max_results:
                        return out
            return out

        return self.db.read(read)

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[tuple[str, Metric]]:
        """MLflow's ``get-history-bulk-interval``: the points of one metric of many runs at
        the steps MLflow chooses (:func:`mlflow_interval_steps`), run by run, each run's by
        (step, timestamp). Cairn's own charts sample differently (``metric_buckets``)."""
        if not run_ids:
            raise CairnError.invalid("Missing value for required parameter 'run_ids'.")
        if len(run_ids) > MAX_BULK_RUNS:
            raise CairnError.invalid(
                f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} "
                f"run_ids. Received {len(run_ids)} run_ids."
            )
        if not 1 <= max_results <= MAX_INTERVAL_RESULTS:
            raise CairnError.invalid(
                f"max_results must be between 1 and {MAX_INTERVAL_RESULTS}; got {max_results}"
            )
        if not key:
            raise CairnError.invalid("Missing value for required parameter 'metric_key'.")
        if (start_step is None) != (end_step is None):
            raise CairnError.invalid(
                "If either start step or end step are specified, both must be specified."
            )
        if start_step is not None and end_step is not None and start_step > end_step:
            raise CairnError.invalid(
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}."
            )

        def read(c: Connection) -> list[tuple[str, Metric]]:
            pks = {rid: run_store.resolve(c, rid).id for rid in dict.fromkeys(run_ids)}
            steps = {
                rid: metric_store.distinct_steps(c, self.keys, pk, key, start_step, end_step)
                for rid, pk in pks.items()
            }
            chosen = mlflow_interval_steps(list(steps.values()), start_step, end_step, max_results)
            out: list[tuple[str, Metric]] = []
            for rid, pk in pks.items():
                wanted = [s for s in steps[rid] if s in chosen]
                for m in metric_store.points_at_steps(c, self.keys, pk, key, wanted):
                    out.append((rid, m))
            return out

        return self.db.read(read)

    # --------------------------------------------------------------------- inputs
    def log_inputs(
        self,
        run_id: object,
        inputs: Sequence[tuple[Dataset, dict[str, str]]],
        models: Sequence[str] = (),
    ) -> None:
        """Dataset inputs and logged-model inputs (``m-…`` ids, kept as given) of a run."""
        rid = v.validate_run_id(run_id)
        for dataset, _tags in inputs:
            for field in ("name", "digest", "source_type", "source"):
                if not getattr(dataset, field):
                    raise CairnError.invalid(f"Missing value for required dataset field '{field}'")
        for i, model_id in enumerate(models):
            if not isinstance(model_id, str) or not model_id or len(model_id) > 64:
                raise CairnError.invalid(
                    f"Invalid value for parameter 'models[{i}].model_id': a logged model id "
                    "of 1 to 64 characters"
                )
        self.db.write(lambda c: input_store.log_inputs(c, rid, inputs, models))

    # --------------------------------------------------------------------- health
    def check_database(self) -> None:
        """The database answers a query, or TEMPORARILY_UNAVAILABLE (503)."""
        try:
            self.db.ping()
        except SQLAlchemyError as exc:
            raise CairnError(
                f"The database does not answer ({type(exc).__name__})",
                ErrorCode.TEMPORARILY_UNAVAILABLE,
            ) from exc


def mlflow_interval_steps(
    run_steps: Sequence[Sequence[int]],
    start_step: int | None,
    end_step: int | None,
    max_results: int,
) -> set[int]:
    """The steps MLflow's ``get-history-bulk-interval`` returns points at, given each run's
    steps (ascending) in the range: every step when they are few; otherwise one every
    ``ceil((end - start) / max_results)`` steps from the range's start, plus each run's first
    and last step (10 steps 0..9, ``max_results=5``: 0, 2, 4, 6, 8, 9)."""
    every = sorted({s for steps in run_steps for s in steps})
    if not every:
        return set()
    if len(every) <= max_results:
        return set(every)
    lo = every[0] if start_step is None else start_step
    hi = every[-1] if end_step is None else end_step
    interval = max(1, -(-(hi - lo) // max_results))
    chosen = set(range(lo, hi + 1, interval))
    for steps in run_steps:
        if steps:
            chosen.update((steps[0], steps[-1]))
    return chosen
