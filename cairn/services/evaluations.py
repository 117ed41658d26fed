"""The evaluation hub's use cases: submit a request, follow, cancel and delete jobs, take
reports from external runners, run one benchmark on the engine, record everything as runs.

Submission is one write transaction and runs nothing: it gets or creates the experiment
``{prefix}_{name}``, creates the parent run (``eval-<job id>``) and one nested run per
benchmark (all RUNNING from the start: a benchmark's run exists before it starts, so its id is
in the first answer), the job rows, and one engine job (``evaluation.benchmark``, key
``eval:<job id>:<index>``) per benchmark Cairn runs itself. Benchmarks of providers that run
elsewhere (``external``, ``ragas``, ``garak``) wait for their runner's events.

Recording (see docs/evaluations.md): each metric once at step 0 with the benchmark's start
time as timestamp (a re-run after a crash logs the same points, which the store keeps once),
params only once (a key already logged is not logged again), artifacts overwritten in place.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection

from cairn.access import secrets as sec
from cairn.access.service import RUNNER_USER, AccessService
from cairn.artifacts.paths import clean_path
from cairn.entities.access import ALL, AuthMethod, Identity, Permission, ResourceType, Visibility
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.evaluations import (
    BENCHMARK_TERMINAL,
    BenchmarkState,
    EvaluationBenchmark,
    EvaluationJob,
    JobFilter,
    JobState,
    LogLine,
    UserCollection,
    final_state,
    passes,
    weighted_mean,
)
from cairn.entities.numbers import decimal
from cairn.entities.tracking import LifecycleStage, RunStatus
from cairn.evals import provider as providers
from cairn.evals.builtin import load_plugins  # importing it registers the built-in providers
from cairn.evals.child import ChildFailure, run_provider, timeout_seconds
from cairn.evals.external import EXTERNAL_TIMEOUT_VARIABLE, runner_timeout
from cairn.evals.provider import (
    BenchmarkContext,
    BenchmarkInfo,
    BenchmarkResult,
    Cancelled,
    ModelSpec,
    Provider,
)
from cairn.services import validation as v
from cairn.services.artifacts import ArtifactService
from cairn.services.eval_requests import (
    BenchSpec,
    EvalRequest,
    benchmark,
    collection_body,
    collection_id,
    sized,
)
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService, batch_summary
from cairn.store import evaluations as store
from cairn.store import experiments as exp_store
from cairn.store import jobs as job_store
from cairn.store import runs as run_store
from cairn.store.db import Database
from cairn.store.metric_keys import MetricKeys
from cairn.store.metrics import log_points
from cairn.store.paging import check_max_results, query_fingerprint
from cairn.store.sql import now_ms

log = logging.getLogger(__name__)

KIND = "evaluation.benchmark"
MAX_ATTEMPTS = 3
PREFIX_VARIABLES = ("CAIRN_EVAL_EXPERIMENT_PREFIX", "MLFLOW_EXPERIMENT_PREFIX")
DEFAULT_PREFIX = "eval-hub"
MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_LOG_PAGE = 5000
MAX_EVENT_BYTES = 10 * 1024 * 1024
MAX_EVENT_LINES = 1000
MAX_ERROR = 5000
LOG_FLUSH_LINES = 50
LOG_FLUSH_SECONDS = 0.5
PROGRESS_SECONDS = 0.5
JOB_ID = re.compile(r"^ev-[0-9a-f]{20}$")
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")
UNSAFE_KEY = re.compile(r"[^/\w.\- :]")


def experiment_prefix(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    for name in PREFIX_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value
    return DEFAULT_PREFIX


def metric_key(key: str) -> str:
    """How a result's metric key is logged: lm-eval's ``acc,none`` as ``acc``, another filter
    kept as a suffix (``exact_match,strict-match`` → ``exact_match_strict-match``), characters
    MLflow refuses replaced by ``_``."""
    if "," in key:
        base, _, suffix = key.partition(",")
        key = base if suffix in ("none", "") else f"{base}_{suffix}"
    return UNSAFE_KEY.sub("_", key)[: v.MAX_KEY_LENGTH] or "_"


def _param_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def new_job_id() -> str:
    return "ev-" + secrets.token_hex(10)


def check_job_id(value: object) -> str:
    if not isinstance(value, str) or not JOB_ID.fullmatch(value):
        raise CairnError.not_found(f"Evaluation job {str(value)[:60]!r} not found")
    return value


def is_open_ended(provider: Provider) -> bool:
    return bool(getattr(provider, "open_ended", False)) or any(
        b.open_ended for b in provider.benchmarks()
    )


@dataclass(frozen=True)
class JobPage:
    jobs: list[EvaluationJob]
    next_page_token: str | None


@dataclass(frozen=True)
class CollectionView:
    id: str
    name: str
    description: str
    benchmarks: list[dict[str, Any]]
    shipped: bool
    provider_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "benchmarks": self.benchmarks,
            "shipped": self.shipped,
        }


class _LinkedEvent(threading.Event):
    """A cancel event that is also set once the engine says the job was cancelled."""

    def __init__(self, check: Callable[[], bool]):
        super().__init__()
        self._check = check

    def is_set(self) -> bool:
        if not super().is_set() and self._check():
            self.set()
        return super().is_set()


class _LogSink:
    """A benchmark's log lines, written to the job's log in small batches."""

    def __init__(self, db: Database, job_pk: int, index: int | None):
        self.db, self.job_pk, self.index = db, job_pk, index
        self.lines: list[str] = []
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self.lock:
            self.lines.extend(str(line).rstrip("\n").split("\n"))
            due = time.monotonic() - self.last >= LOG_FLUSH_SECONDS
            if len(self.lines) < LOG_FLUSH_LINES and not due:
                return
            lines, self.lines = self.lines, []
            self.last = time.monotonic()
        self._write(lines)

    def flush(self) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
        self._write(lines)

    def _write(self, lines: list[str]) -> None:
        if lines:
            self.db.write(
                partial(store.append_logs, job_pk=self.job_pk, index=self.index, lines=lines)
            )


class EvaluationService:
    def __init__(
        self,
        db: Database,
        tracking: TrackingService,
        artifacts: ArtifactService,
        registry: RegistryService,
        access: AccessService | None,
        data_root: Path,
        services: Mapping[str, Any] | None = None,
    ):
        """``access``: who may do what (None when access control is off). ``data_root``: the
        server's data directory (benchmark work directories go under ``evaluations/``).
        ``services``: every service of the app, handed to the providers' resources."""
        self.db = db
        self.tracking = tracking
        self.artifacts = artifacts
        self.registry = registry
        self.access = access
        self.data_root = data_root
        self.services: Mapping[str, Any] = services if services is not None else {}
        self.keys: MetricKeys = tracking.keys
        load_plugins()

    # ------------------------------------------------------------------------ who
    def _permission(self, who: Identity, experiment_id: str) -> Permission:
        if self.access is None or who.unrestricted:
            return Permission.MANAGE
        return self.access.permission(who, ResourceType.EXPERIMENT, experiment_id)

    def _readable(self, who: Identity, job: EvaluationJob) -> None:
        if who.method is AuthMethod.RUNNER:
            if who.username != RUNNER_USER + job.job_id:
                raise CairnError(
                    "This runner token is for another job", ErrorCode.PERMISSION_DENIED
                )
            return
        if self._permission(who, job.experiment_id) < Permission.READ:
            raise CairnError.not_found(f"Evaluation job '{job.job_id}' not found")

    def _manageable(self, who: Identity, job: EvaluationJob, what: str) -> None:
        self._readable(who, job)
        if who.method is AuthMethod.RUNNER:
            return
        if self._permission(who, job.experiment_id) < Permission.MANAGE:
            raise CairnError(
                f"Permission denied: {what} evaluation job '{job.job_id}' needs MANAGE on "
                f"experiment '{job.experiment_id}'",
                ErrorCode.PERMISSION_DENIED,
            )

    # --------------------------------------------------------------------- providers
    def providers(self) -> list[Provider]:
        return [providers.PROVIDERS[k] for k in sorted(providers.PROVIDERS)]

    def provider(self, provider_id: str) -> Provider:
        found = providers.PROVIDERS.get(provider_id)
        if found is None:
            raise CairnError.not_found(f"Evaluation provider '{provider_id[:60]}' not found")
        return found

    # ------------------------------------------------------------------- collections
    def collections(self) -> list[CollectionView]:
        shipped = [
            CollectionView(c.id, c.name, c.description, [dict(x) for x in c.benchmarks], True, p.id)
            for p in self.providers()
            for c in p.collections()
        ]
        known = {c.id for c in shipped}
        users = self.db.read(store.list_collections)
        return shipped + [self._view(c) for c in users if c.collection_id not in known]

    @staticmethod
    def _view(found: UserCollection) -> CollectionView:
        return CollectionView(
            found.collection_id, found.name, found.description, found.benchmarks, False
        )

    def collection(self, cid: str) -> CollectionView:
        for found in self.collections():
            if found.id == cid:
                return found
        raise CairnError.not_found(f"Collection '{cid[:128]}' not found")

    def _shipped_ids(self) -> set[str]:
        return {c.id for p in self.providers() for c in p.collections()}

    def _check_collection(self, body: Mapping[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        name, description, specs = collection_body(body)
        model = ModelSpec(name="collection-check")
        for i, spec in enumerate(specs):
            self._check_benchmark(spec, f"benchmarks[{i}]", model, validate=False)
        return name, description, [s.to_json() for s in specs]

    def create_collection(self, who: Identity, body: Mapping[str, Any]) -> CollectionView:
        cid = collection_id(body.get("id"))
        if cid in self._shipped_ids():
            raise CairnError.exists(f"Collection '{cid}' is shipped with a provider")
        name, description, items = self._check_collection(body)
        made = self.db.write(
            partial(
                store.create_collection,
                collection_id=cid,
                name=name,
                description=description,
                benchmarks=items,
                created_by=who.username,
            )
        )
        return self._view(made)

    def _own_collection(self, who: Identity, cid: str) -> UserCollection:
        if cid in self._shipped_ids():
            raise CairnError(
                f"Collection '{cid}' is shipped with a provider and cannot be changed",
                ErrorCode.INVALID_STATE,
            )
        found = self.db.read(partial(store.find_collection, collection_id=cid))
        if found is None:
            raise CairnError.not_found(f"Collection '{cid[:128]}' not found")
        if not (who.unrestricted or who.is_admin or who.username == found.created_by):
            raise CairnError(
                f"Permission denied: only its creator or an admin may change collection '{cid}'",
                ErrorCode.PERMISSION_DENIED,
            )
        return found

    def update_collection(self, who: Identity, cid: str, body: Mapping[str, Any]) -> CollectionView:
        self._own_collection(who, cid)
        name, description, items = self._check_collection(body)
        made = self.db.write(
            partial(
                store.update_collection,
                collection_id=cid,
                name=name,
                description=description,
                benchmarks=items,
            )
        )
        return self._view(made)

    def delete_collection(self, who: Identity, cid: str) -> None:
        self._own_collection(who, cid)
        self.db.write(partial(store.delete_collection, collection_id=cid))

    # ------------------------------------------------------------------------ submit
    def _check_benchmark(
        self, spec: BenchSpec, name: str, model: ModelSpec, *, validate: bool = True
    ) -> tuple[Provider, BenchmarkInfo | None]:
        provider = providers.get(spec.provider_id, f"{name}.provider_id")
        info = providers.benchmark_info(provider, spec.benchmark_id)
        if info is None and not is_open_ended(provider):
            offered = ", ".join(b.id for b in provider.benchmarks()[:50]) or "none"
            raise CairnError.invalid(
                f"{name}.benchmark_id: provider '{provider.id}' offers no benchmark "
                f"{spec.benchmark_id!r} (offered: {offered})"
            )
        if validate:
            try:
                provider.validate(spec.benchmark_id, spec.config, model)
                if provider.runs_in_cairn:
                    timeout_seconds(spec.config)
            except CairnError as exc:
                raise CairnError(f"{name}: {exc.message}", exc.error_code) from None
        return provider, info

    def _expand(self, request: EvalRequest) -> tuple[list[BenchSpec], str | None]:
        if request.benchmarks:
            if request.collection:
                raise CairnError.invalid(
                    "collection: give either 'benchmarks' or a 'collection', not both"
                )
            return request.benchmarks, None
        cid = request.collection
        if cid is None:
            # the seed's collection example names its collection only by the experiment name
            named = request.experiment_name
            if named is not None and any(c.id == named for c in self.collections()):
                cid = named
            else:
                raise CairnError.invalid(
                    "Missing value for required field 'benchmarks': give a list of benchmarks "
                    "or a 'collection'"
                )
        try:
            found = self.collection(cid)
        except CairnError:
            known = ", ".join(c.id for c in self.collections()[:50]) or "none"
            raise CairnError.invalid(
                f"collection: unknown collection {cid[:128]!r} (known: {known})"
            ) from None
        specs = [benchmark(item, f"collection[{i}]") for i, item in enumerate(found.benchmarks)]
        return specs, found.id

    def _resolve_model(self, who: Identity, model: ModelSpec) -> ModelSpec:
        if not model.name.startswith("models:/"):
            return model
        try:
            version = self.registry.resolve_uri(model.name)
        except CairnError as exc:
            message = exc.message.removeprefix("model: ")
            raise CairnError.invalid(f"model.name: {message}") from None
        if (
            self.access is not None
            and not who.unrestricted
            and self.access.permission(who, ResourceType.REGISTERED_MODEL, version.name)
            < Permission.READ
        ):
            raise CairnError(
                f"Permission denied: evaluating '{model.name}' needs READ on registered model "
                f"'{version.name}'",
                ErrorCode.PERMISSION_DENIED,
            )
        return ModelSpec(
            name=model.name,
            url=model.url,
            server=model.server,
            configuration=model.configuration,
            registered_name=version.name,
            registered_version=int(version.version),
        )

    def submit(self, who: Identity, request: EvalRequest) -> tuple[EvaluationJob, str | None]:
        """Check a request, store the job and its runs, queue its benchmarks. Returns the job
        and the runner token (once; None when every benchmark runs in Cairn)."""
        specs, cid = self._expand(request)
        model = self._resolve_model(who, request.model)
        checked: list[tuple[BenchSpec, Provider, BenchmarkInfo | None]] = []
        for i, spec in enumerate(specs):
            provider, info = self._check_benchmark(spec, f"benchmarks[{i}]", model)
            checked.append((spec, provider, info))
        prefix = experiment_prefix()
        if request.experiment_name:
            exp_name = f"{prefix}_{request.experiment_name}"
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            base = UNSAFE_NAME.sub("_", model.registered_name or model.name).strip("_") or "model"
            exp_name = f"{prefix}_{base[:120]}_{stamp}"
        v.validate_experiment_name(exp_name)
        job_id = new_job_id()
        token = None
        if any(not p.runs_in_cairn for _, p, _ in checked):
            token = sec.new_runner_token()
        write = self._submission(who, request, model, checked, cid, exp_name, job_id, token)
        for attempt in range(2):  # another submission may create the experiment meanwhile
            existing = self._experiment_id(exp_name)
            if existing is not None and self._permission(who, existing) < Permission.EDIT:
                raise CairnError(
                    f"Permission denied: experiment.name: user '{who.username}' needs EDIT on "
                    f"experiment '{exp_name}'",
                    ErrorCode.PERMISSION_DENIED,
                )
            try:
                job, created = self.db.write(write)
                break
            except CairnError as exc:
                if exc.error_code is not ErrorCode.RESOURCE_ALREADY_EXISTS or attempt:
                    raise
        if created and self.access is not None:
            self.access.grant_creator(who, ResourceType.EXPERIMENT, job.experiment_id)
        return job, token

    def _experiment_id(self, name: str) -> str | None:
        try:
            return self.tracking.get_experiment_by_name(name).experiment_id
        except CairnError as exc:
            if exc.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST:
                return None
            raise

    def _submission(
        self,
        who: Identity,
        request: EvalRequest,
        model: ModelSpec,
        checked: list[tuple[BenchSpec, Provider, BenchmarkInfo | None]],
        cid: str | None,
        exp_name: str,
        job_id: str,
        token: str | None,
    ) -> Callable[[Connection], tuple[EvaluationJob, bool]]:
        limits = self.tracking.limits
        server = request.model_server or ""
        model_tags = {"model_name": model.name, "model_server": server, "job_id": job_id}
        bench_ids = [spec.benchmark_id for spec, _, _ in checked]
        description = (
            f"Evaluation of model {model.name}"
            + (f" served by {server}" if server else "")
            + f" on {len(bench_ids)} benchmark(s): {', '.join(bench_ids)[:2000]}"
            + (f" (collection {cid})" if cid else "")
        )
        exp_tags = {**request.tags, **model_tags, "mlflow.note.content": description}
        exp_tags = {k: limits.experiment_tag_value(k, val) for k, val in exp_tags.items()}
        registered = {}
        if model.registered_name is not None:
            registered = {
                "cairn.eval.registered_model": model.registered_name,
                "cairn.eval.registered_version": str(model.registered_version),
            }
        parent_tags = {
            **request.tags,
            **model_tags,
            "cairn.eval.job_id": job_id,
            "cairn.eval.role": "request",
            **registered,
        }
        parent_params: dict[str, str] = {}
        for key, value in model.configuration.items():
            parent_params[self._param_key(f"model.{key}", "model.configuration")] = _param_value(
                value
            )
        parent_params.update(
            model_name=model.name,
            model_server=server,
            model_url=model.url or "",
            benchmarks=",".join(bench_ids),
        )
        parent_params = {k: limits.param_value(k, val) for k, val in parent_params.items()}
        bench_rows: list[dict[str, Any]] = []
        bench_tags: list[dict[str, str]] = []
        bench_params: list[dict[str, str]] = []
        for i, (spec, provider, info) in enumerate(checked):
            primary = spec.primary_metric or (info.primary_metric if info else None) or None
            lower = spec.lower_is_better
            if lower is None:
                lower = bool(info.lower_is_better) if info else False
            bench_rows.append(
                {
                    "idx": i,
                    "benchmark_id": spec.benchmark_id,
                    "provider_id": provider.id,
                    "config": store.dump(spec.config),
                    "weight": spec.weight,
                    "primary_metric": primary,
                    "lower_is_better": lower,
                    "threshold": spec.threshold,
                    "state": BenchmarkState.PENDING.value,
                }
            )
            bench_tags.append(
                {
                    "cairn.eval.job_id": job_id,
                    "cairn.eval.role": "benchmark",
                    "cairn.eval.benchmark_id": spec.benchmark_id,
                    "cairn.eval.provider_id": provider.id,
                    "cairn.eval.primary_metric": primary or "",
                    **model_tags,
                    **registered,
                }
            )
            params = {
                self._param_key(f"config.{k}", f"benchmarks[{i}].config"): _param_value(val)
                for k, val in spec.config.items()
            }
            bench_params.append({k: limits.param_value(k, val) for k, val in params.items()})
        normalised = request.to_json()
        normalised["benchmarks"] = [spec.to_json() for spec, _, _ in checked]
        normalised["collection"] = cid
        normalised["experiment"]["full_name"] = exp_name
        normalised["model"]["registered_name"] = model.registered_name
        normalised["model"]["registered_version"] = model.registered_version
        in_cairn = [i for i, (_, p, _) in enumerate(checked) if p.runs_in_cairn]
        artifact_root = self.tracking.artifact_root
        user = who.username

        def write(c: Connection) -> tuple[EvaluationJob, bool]:
            now = now_ms()
            created = False
            try:
                experiment = exp_store.get_by_name(c, exp_name)
            except CairnError:
                experiment = None
            if experiment is None:
                eid = int(exp_store.create(c, exp_name, None, exp_tags, artifact_root))
                created = True
            else:
                if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
                    raise CairnError.invalid(
                        f"experiment.name: experiment '{exp_name}' is deleted; restore it or "
                        "choose another name"
                    )
                eid = int(experiment.experiment_id)
                for key, value in exp_tags.items():
                    if experiment.tags.get(key) != value:
                        exp_store.set_tag(c, eid, key, value)
            parent = run_store.create(c, eid, user, now, f"eval-{job_id}", parent_tags)
            parent_row = run_store.resolve(c, parent.info.run_id)
            run_store.log_params(c, parent_row.id, parent.info.run_id, parent_params)
            for i, row in enumerate(bench_rows):
                tags = {**bench_tags[i], "mlflow.parentRunId": parent.info.run_id}
                run = run_store.create(c, eid, user, now, row["benchmark_id"], tags)
                if bench_params[i]:
                    run_row = run_store.resolve(c, run.info.run_id)
                    run_store.log_params(c, run_row.id, run.info.run_id, bench_params[i])
                row["run_uuid"] = run.info.run_id
            job = store.create_job(
                c,
                {
                    "job_id": job_id,
                    "state": JobState.PENDING.value,
                    "shape": request.shape.value,
                    "request": store.dump(normalised),
                    "model_name": model.name,
                    "registered_name": model.registered_name,
                    "registered_version": model.registered_version,
                    "model_server": request.model_server,
                    "model_url": model.url,
                    "experiment_id": eid,
                    "parent_run_uuid": parent.info.run_id,
                    "collection_id": cid,
                    "tags": store.dump(request.tags),
                    "runner_token_hash": None if token is None else sec.digest(token),
                    "created_by": user,
                    "created_at": now,
                },
                bench_rows,
            )
            for i in in_cairn:
                job_store.enqueue(c, KIND, {"job_id": job_id, "index": i}, key=f"eval:{job_id}:{i}")
            return job, created

        return write

    @staticmethod
    def _param_key(key: str, name: str) -> str:
        try:
            return v.validate_key("Param", key)
        except CairnError as exc:
            raise CairnError.invalid(f"Invalid key in '{name}': {exc.message}") from None

    # ------------------------------------------------------------------------ read
    def find(self, job_id: str) -> EvaluationJob:
        return self.db.read(partial(store.get, job_id=check_job_id(job_id)))

    def get(self, who: Identity, job_id: str) -> EvaluationJob:
        job = self.find(job_id)
        self._readable(who, job)
        return job

    def page(
        self,
        visibility: Visibility = ALL,
        state: str | None = None,
        model: str | None = None,
        experiment_id: str | None = None,
        tag: str | None = None,
        max_results: int = DEFAULT_PAGE,
        page_token: str | None = None,
    ) -> JobPage:
        check_max_results(max_results, MAX_PAGE)
        found_state = None
        if state:
            try:
                found_state = JobState(state.strip().lower())
            except ValueError:
                raise CairnError.invalid(
                    f"Invalid value {state[:40]!r} for parameter 'state': one of "
                    + ", ".join(s.value for s in JobState)
                ) from None
        eid = None
        if experiment_id:
            text = experiment_id.strip()
            if decimal(text, high=10**12) is None:
                raise CairnError.invalid(
                    f"Invalid value {experiment_id[:40]!r} for parameter 'experiment_id'"
                )
            eid = int(text)
        pair = None
        if tag:
            key, sep, value = tag.partition(":")
            if not sep or not key:
                raise CairnError.invalid("Invalid value for parameter 'tag': expected key:value")
            pair = (key, value)
        if model is not None and len(model) > 512:
            raise CairnError.invalid("Parameter 'model' is longer than 512 characters")
        where = JobFilter(found_state, model or None, eid, pair)
        fingerprint = query_fingerprint("evaluations", str(found_state), model, eid, pair)
        jobs, token = self.db.read(
            partial(
                store.page,
                where=where,
                visibility=visibility,
                max_results=max_results,
                token=page_token,
                fingerprint=fingerprint,
            )
        )
        return JobPage(jobs, token)

    def logs(
        self, who: Identity, job_id: str, after: int = 0, limit: int = 1000
    ) -> tuple[list[LogLine], int]:
        """Lines after sequence number ``after`` and the number to ask after next."""
        if not 0 < limit <= MAX_LOG_PAGE:
            raise CairnError.invalid(
                f"Invalid value for parameter 'max_results': 1 to {MAX_LOG_PAGE}"
            )
        if after < 0:
            raise CairnError.invalid("Invalid value for parameter 'after': must be >= 0")
        job = self.get(who, job_id)
        lines = self.db.read(partial(store.read_logs, job_pk=job.id, after=after, limit=limit))
        return lines, (lines[-1].seq if lines else after)

    # ------------------------------------------------------------------- cancel
    def cancel(self, who: Identity, job_id: str, hard_delete: bool = False) -> EvaluationJob:
        """Cancel a job: pending benchmarks at once, running ones asked to stop (their engine
        job's cancel flag); ``hard_delete`` then removes the job's rows (its runs stay)."""
        job = self.find(job_id)
        self._manageable(who, job, "cancelling")
        if who.method is AuthMethod.RUNNER:
            raise CairnError(
                "A runner token cannot cancel or delete its job", ErrorCode.PERMISSION_DENIED
            )
        if not job.terminal:
            job = self.db.write(partial(self._cancel_write, job_id=job.job_id))
        if hard_delete:
            self.db.write(lambda c: store.delete_job(c, store.get(c, job.job_id)))
        return job

    def _cancel_write(self, conn: Connection, job_id: str) -> EvaluationJob:
        job = store.get(conn, job_id)
        if job.terminal:
            return job
        now = now_ms()
        for bench in job.benchmarks:
            if bench.state in BENCHMARK_TERMINAL:
                continue
            provider = providers.PROVIDERS.get(bench.provider_id)
            engine_job = job_store.find_unfinished(conn, KIND, f"eval:{job.job_id}:{bench.index}")
            if engine_job is not None:
                job_store.cancel(conn, engine_job)
            in_cairn = provider is not None and provider.runs_in_cairn
            if bench.state is BenchmarkState.PENDING or not in_cairn:
                store.update_benchmark(
                    conn, job, bench.index, {"state": BenchmarkState.CANCELLED, "finished_at": now}
                )
                if bench.run_id and _live_run(conn, bench.run_id):
                    run_store.update_info(conn, bench.run_id, RunStatus.KILLED, now, None)
        moved = store.update_job(
            conn,
            job,
            {"state": JobState.CANCELLED.value, "finished_at": now},
            "evaluation_job.cancel",
            expect=[JobState.PENDING, JobState.RUNNING],
        )
        if _live_run(conn, job.parent_run_id):
            assert job.parent_run_id is not None
            run_store.update_info(conn, job.parent_run_id, RunStatus.KILLED, now, None)
        store.append_logs(conn, job.id, None, ["job cancelled"])
        return moved or store.get(conn, job_id)

    # ------------------------------------------------------------- the engine's side
    def run_benchmark(
        self, job_id: str, index: int, cancelled: Callable[[], bool]
    ) -> dict[str, Any]:
        """Run benchmark ``index`` of a job (the ``evaluation.benchmark`` job's handler).
        Safe to run again: a terminal benchmark is left alone, a running one starts over."""
        job = self.db.read(partial(store.find, job_id=job_id))
        if job is None:
            return {"skipped": "the job was deleted"}
        bench = next((b for b in job.benchmarks if b.index == index), None)
        if bench is None:
            return {"skipped": "no such benchmark"}
        if bench.state in BENCHMARK_TERMINAL:
            self.finalize(job_id)
            return {"state": bench.state.value}
        if job.state is JobState.CANCELLED:
            self._end_benchmark(job, bench, BenchmarkState.CANCELLED, None, "job cancelled")
            return {"state": "cancelled"}
        provider = providers.PROVIDERS.get(bench.provider_id)
        if provider is None:
            self._end_benchmark(
                job,
                bench,
                BenchmarkState.FAILED,
                None,
                f"provider {bench.provider_id!r} is not installed on this worker",
            )
            return {"state": "failed"}
        job, bench = self._start(job, bench)
        sink = _LogSink(self.db, job.id, index)
        workdir = self.data_root / "evaluations" / job.job_id / str(index)
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True, exist_ok=True)
        model = self._model_of(job)
        ctx = BenchmarkContext(
            job_id=job.job_id,
            index=index,
            benchmark_id=bench.benchmark_id,
            config=dict(bench.config),
            model=model,
            workdir=workdir,
            # the evaluation data root ($CAIRN_EVAL_DATA_ROOT, else <home>/eval-data), not the
            # server's data directory (its database and keys must not be readable as datasets)
            resources=self.services["eval_resources"],
            log=sink,
            progress=self._progress_writer(job, index),
            cancel_event=_LinkedEvent(cancelled),
        )
        sink(f"benchmark {bench.benchmark_id} ({bench.provider_id}) started")
        try:
            # the provider's work runs in a child process at the lowest priority (not with
            # the request threads under this process's GIL); only the recording runs here
            result = run_provider(provider, ctx, timeout_seconds(ctx.config))
        except Cancelled:
            sink("cancelled")
            sink.flush()
            self._end_benchmark(job, bench, BenchmarkState.CANCELLED, None, "cancelled")
            return {"state": "cancelled"}
        except Exception as exc:  # a provider's failure fails its benchmark, not the worker
            message = (
                exc.message
                if isinstance(exc, CairnError | ChildFailure)
                else f"{type(exc).__name__}: {exc}"
            )
            sink(f"failed: {message}")
            sink.flush()
            self._end_benchmark(job, bench, BenchmarkState.FAILED, None, message)
            return {"state": "failed"}
        sink("finished")
        sink.flush()
        state = (
            BenchmarkState.CANCELLED
            if ctx.cancelled() and job.state is JobState.CANCELLED
            else BenchmarkState.COMPLETED
        )
        self._end_benchmark(job, bench, state, result, None)
        return {"state": state.value}

    def _model_of(self, job: EvaluationJob) -> ModelSpec:
        model = job.request.get("model") or {}
        server = job.model_server
        return ModelSpec(
            name=job.model_name,
            url=job.model_url,
            server=None if server is None or server == job.model_url else server,
            configuration=dict(model.get("configuration") or {}),
            registered_name=job.registered_name,
            registered_version=job.registered_version,
        )

    def _start(
        self, job: EvaluationJob, bench: EvaluationBenchmark, *, attempt: bool = True
    ) -> tuple[EvaluationJob, EvaluationBenchmark]:
        """Mark the benchmark running and the job with it. ``attempt``: the engine's handler
        starting (again): the benchmark's earlier log lines and phase go; otherwise an external
        runner's first report, which starts only a pending benchmark."""

        def write(c: Connection) -> EvaluationJob:
            now = now_ms()
            current = store.get(c, job.job_id)
            values: dict[str, Any] = {"state": BenchmarkState.RUNNING}
            if bench.started_at is None:
                values["started_at"] = now
            if attempt:
                store.clear_logs(c, current.id, bench.index)  # a re-run starts its log afresh
                values.update(phase=None, progress=None, error=None)
                store.update_benchmark(c, current, bench.index, values)
            else:
                store.update_benchmark(
                    c, current, bench.index, values, expect=[BenchmarkState.PENDING]
                )
            if current.state is JobState.PENDING:
                store.update_job(
                    c,
                    current,
                    {"state": JobState.RUNNING.value, "started_at": now},
                    "evaluation_job.start",
                    expect=[JobState.PENDING],
                )
            return store.get(c, job.job_id)

        job = self.db.write(write)
        return job, next(b for b in job.benchmarks if b.index == bench.index)

    def _progress_writer(
        self, job: EvaluationJob, index: int
    ) -> Callable[[str, float | None], None]:
        last: dict[str, Any] = {"phase": None, "at": None}

        def progress(phase: str, fraction: float | None) -> None:
            # at most one write per PROGRESS_SECONDS, whatever the phase: a quick benchmark's
            # loading/predicting/scoring/done is one transaction on the store's writer, not four
            now = time.monotonic()
            if last["at"] is not None and now - float(last["at"]) < PROGRESS_SECONDS:
                return
            last.update(phase=phase, at=now)
            value = None
            if isinstance(fraction, int | float) and math.isfinite(fraction):
                value = min(1.0, max(0.0, float(fraction)))
            values = {"phase": str(phase)[:64], "progress": value}
            self.db.write(
                lambda c: store.update_benchmark(
                    c, job, index, values, expect=[BenchmarkState.RUNNING], event=False
                )
            )

        return progress

    def _end_benchmark(
        self,
        job: EvaluationJob,
        bench: EvaluationBenchmark,
        state: BenchmarkState,
        result: BenchmarkResult | None,
        error: str | None,
    ) -> None:
        """Record a benchmark's end: artifacts first (overwritten if this runs twice), then
        metrics, params, tags, its run's status and its row in one transaction; then the job's
        end when it was the last."""
        if bench.run_id:
            self._benchmark_artifacts(job, bench, result)
        self.db.write(
            partial(
                self._end_write,
                job_id=job.job_id,
                index=bench.index,
                state=state,
                result=result,
                error=error,
            )
        )
        self.finalize(job.job_id)

    def _benchmark_artifacts(
        self, job: EvaluationJob, bench: EvaluationBenchmark, result: BenchmarkResult | None
    ) -> None:
        assert bench.run_id is not None
        try:
            info = self.tracking.get_run(bench.run_id).info
        except CairnError as exc:  # the run was deleted meanwhile: the benchmark still ends
            log.warning("evaluation %s: run %s not readable: %s", job.job_id, bench.run_id, exc)
            return
        if result is not None:
            for path, local in list(result.artifacts.items())[:1000]:
                try:
                    self.artifacts.put_file(info, clean_path(path), local)
                except (OSError, CairnError) as exc:
                    log.warning("evaluation %s: artifact %s not stored: %s", job.job_id, path, exc)
        lines = self.db.read(
            partial(store.read_logs, job_pk=job.id, after=0, limit=100_000, index=bench.index)
        )
        text = "".join(f"{_stamp(x.time)} {x.line}\n" for x in lines)
        self.artifacts.put_bytes(info, "logs/benchmark.log", text.encode())

    def _end_write(
        self,
        conn: Connection,
        job_id: str,
        index: int,
        state: BenchmarkState,
        result: BenchmarkResult | None,
        error: str | None,
    ) -> None:
        job = store.get(conn, job_id)
        bench = next(b for b in job.benchmarks if b.index == index)
        if bench.state in BENCHMARK_TERMINAL:
            return
        now = now_ms()
        live = _live_run(conn, bench.run_id)
        values: dict[str, Any] = {"state": state, "finished_at": now, "phase": None}
        tags: dict[str, str] = {}
        if result is not None:
            metrics = {metric_key(k): float(val) for k, val in list(result.metrics.items())[:1000]}
            primary = bench.primary_metric or (
                metric_key(result.primary_metric) if result.primary_metric else None
            )
            score = metrics.get(primary) if primary else None
            values.update(
                results=metrics,
                primary_metric=primary,
                primary_score=score,
                passed=passes(score, bench.threshold, bench.lower_is_better),
                progress=1.0,
            )
            tags.update({str(k): str(val) for k, val in result.tags.items()})
            if primary and not bench.primary_metric:
                tags["cairn.eval.primary_metric"] = primary
            if live:
                self._log_result(conn, bench, metrics, result.params, tags, bench.started_at or now)
        if error:
            values["error"] = error[:MAX_ERROR]
        if live and bench.run_id:
            if error:
                self._set_run_tags(conn, bench.run_id, {"cairn.eval.error": error[:MAX_ERROR]})
            status = {
                BenchmarkState.COMPLETED: RunStatus.FINISHED,
                BenchmarkState.FAILED: RunStatus.FAILED,
                BenchmarkState.CANCELLED: RunStatus.KILLED,
            }[state]
            run_store.update_info(conn, bench.run_id, status, now, None)
        store.update_benchmark(conn, job, index, values)

    def _log_result(
        self,
        conn: Connection,
        bench: EvaluationBenchmark,
        metrics: dict[str, float],
        params: Mapping[str, Any],
        tags: dict[str, str],
        timestamp: int,
    ) -> None:
        assert bench.run_id is not None
        limits = self.tracking.limits
        row = run_store.resolve_active(conn, bench.run_id)
        logged = run_store.get(conn, bench.run_id).params
        fresh = {}
        for key, value in list(params.items())[:100]:
            k = UNSAFE_KEY.sub("_", str(key))[: v.MAX_KEY_LENGTH]
            if k and k not in logged:
                fresh[k] = limits.param_value(k, _param_value(value))
        run_store.log_params(conn, row.id, bench.run_id, fresh)
        self._set_run_tags(conn, bench.run_id, tags)
        points = [(k, val, timestamp, 0) for k, val in metrics.items()]
        if points:
            log_points(conn, self.keys, row.id, points)
            # the same summary as any log-batch, so alert rules and alias policies (which
            # read these events) see evaluation metrics like any run's
            before, after = batch_summary(points, fresh, {}, {})
            run_store.record(conn, "run.log_batch", row, before, after)

    def _set_run_tags(self, conn: Connection, run_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        limits = self.tracking.limits
        row = run_store.resolve_active(conn, run_id)
        clean = {}
        for key, value in list(tags.items())[:100]:
            k = UNSAFE_KEY.sub("_", key)[: v.MAX_KEY_LENGTH]
            if k:
                clean[k] = limits.tag_value(k, value)
        run_store.set_tags(conn, row.id, clean)

    def finalize(self, job_id: str) -> EvaluationJob | None:
        """End the job when every benchmark is terminal: its state, overall score, pass/fail,
        the parent run's metrics, artifacts and status. Nothing when a benchmark is still
        unfinished or the job has ended already."""
        job = self.db.read(partial(store.find, job_id=job_id))
        if job is None or not job.benchmarks:
            return None
        if any(b.state not in BENCHMARK_TERMINAL for b in job.benchmarks):
            return None
        if job.parent_run_id and job.state is not JobState.CANCELLED:
            self._parent_artifacts(job)
        if job.terminal:
            return job
        return self.db.write(partial(self._finish_write, job_id=job_id))

    def _parent_artifacts(self, job: EvaluationJob) -> None:
        assert job.parent_run_id is not None
        try:
            info = self.tracking.get_run(job.parent_run_id).info
            request = orjson.dumps(job.request, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            self.artifacts.put_bytes(info, "request.json", request)
            lines = self.db.read(partial(store.read_logs, job_pk=job.id, after=0, limit=100_000))
            text = "".join(
                f"{_stamp(x.time)} {'' if x.index is None else f'[{x.index}] '}{x.line}\n"
                for x in lines
            )
            self.artifacts.put_bytes(info, "logs/job.log", text.encode())
        except CairnError as exc:  # a deleted parent run: the job still ends
            log.warning("evaluation %s: parent artifacts not stored: %s", job.job_id, exc)

    def _finish_write(self, conn: Connection, job_id: str) -> EvaluationJob:
        job = store.get(conn, job_id)
        if job.terminal or any(b.state not in BENCHMARK_TERMINAL for b in job.benchmarks):
            return job
        now = now_ms()
        state = final_state([b.state for b in job.benchmarks], cancelled=False)
        scored = [
            (b.primary_score, b.weight)
            for b in job.benchmarks
            if b.state is BenchmarkState.COMPLETED and b.primary_score is not None
        ]
        overall = weighted_mean([(float(s), float(w)) for s, w in scored])
        threshold = (job.request.get("pass_criteria") or {}).get("threshold")
        passed: bool | None = None
        if isinstance(threshold, int | float):
            lower = all(b.lower_is_better for b in job.benchmarks)
            passed = passes(overall, float(threshold), lower)
        elif any(b.threshold is not None for b in job.benchmarks):
            passed = all(b.passed is True for b in job.benchmarks if b.threshold is not None)
        errors = [f"{b.benchmark_id}: {b.error}" for b in job.benchmarks if b.error]
        values: dict[str, Any] = {
            "state": state.value,
            "finished_at": now,
            "overall_score": overall,
            "passed": passed,
            "error": "; ".join(errors)[:MAX_ERROR] if errors else None,
        }
        if job.started_at is None:
            values["started_at"] = now
        done = store.update_job(
            conn, job, values, "evaluation_job.finish", expect=[JobState.PENDING, JobState.RUNNING]
        )
        if done is None:
            return store.get(conn, job_id)
        if job.parent_run_id:
            metrics: dict[str, float] = {}
            if overall is not None:
                metrics["overall_score"] = overall
            if passed is not None:
                metrics["passed"] = 1.0 if passed else 0.0
            if _live_run(conn, job.parent_run_id):
                row = run_store.resolve_active(conn, job.parent_run_id)
                if metrics:
                    stamp = job.created_at
                    log_points(
                        conn, self.keys, row.id, [(k, x, stamp, 0) for k, x in metrics.items()]
                    )
                    run_store.record(conn, "run.log_batch", row, None, {"metrics": sorted(metrics)})
                status = {
                    JobState.COMPLETED: RunStatus.FINISHED,
                    JobState.PARTIALLY_FAILED: RunStatus.FINISHED,
                    JobState.FAILED: RunStatus.FAILED,
                }.get(state, RunStatus.KILLED)
                run_store.update_info(conn, job.parent_run_id, status, now, None)
        store.append_logs(conn, job.id, None, [f"job {state.value}"])
        return done

    def reconcile(self) -> list[str]:
        """Benchmarks left ``pending``/``running`` whose engine job ended (its attempts used up
        by dying workers, or cancelled): failed now, so no job is stuck. Returns the job ids
        touched."""
        stuck = self.db.read(partial(store.stranded, kind=KIND))
        touched: list[str] = []
        for job_id, index, error in stuck[:200]:
            job = self.db.read(partial(store.find, job_id=job_id))
            if job is None:
                continue
            bench = next((b for b in job.benchmarks if b.index == index), None)
            if bench is None or bench.state in BENCHMARK_TERMINAL:
                continue
            message = error or "the benchmark's engine job ended without recording a result"
            state = (
                BenchmarkState.CANCELLED
                if job.state is JobState.CANCELLED
                else BenchmarkState.FAILED
            )
            self._end_benchmark(job, bench, state, None, message)
            touched.append(job_id)
        touched += self._expire_runners()
        return touched

    def _expire_runners(self) -> list[str]:
        """Benchmarks of providers run outside Cairn whose runner did not report their end
        within ``config.timeout_seconds`` (default ``CAIRN_EVAL_EXTERNAL_TIMEOUT``, a day):
        failed, so a runner that never came or died leaves no job waiting forever."""
        outside = [p.id for p in providers.PROVIDERS.values() if not p.runs_in_cairn]
        now = now_ms()
        touched: list[str] = []
        for job_id, index, config, since in self.db.read(
            partial(store.waiting, provider_ids=outside)
        ):
            try:
                limit = runner_timeout(config)
            except CairnError:  # stored before the check existed: the default applies
                limit = runner_timeout({})
            if now - since <= limit * 1000:
                continue
            job = self.db.read(partial(store.find, job_id=job_id))
            bench = next((b for b in job.benchmarks if b.index == index), None) if job else None
            if job is None or bench is None or bench.state in BENCHMARK_TERMINAL:
                continue
            message = (
                f"the external runner did not report this benchmark's end within {limit:g} s "
                f"(config.timeout_seconds, default {EXTERNAL_TIMEOUT_VARIABLE})"
            )
            self._end_benchmark(job, bench, BenchmarkState.FAILED, None, message)
            touched.append(job_id)
        return touched

    # -------------------------------------------------------------- external runners
    def post_event(self, who: Identity, job_id: str, body: Mapping[str, Any]) -> EvaluationJob:
        """A report from an external runner (or a MANAGE holder of the job's experiment)."""
        job = self.find(job_id)
        self._manageable(who, job, "reporting on")
        bench = self._event_benchmark(job, body)
        provider = providers.PROVIDERS.get(bench.provider_id)
        if provider is not None and provider.runs_in_cairn:
            raise CairnError.invalid(
                f"benchmark_index: benchmark {bench.index} ({bench.benchmark_id}) is run by Cairn "
                f"(provider '{bench.provider_id}'); only external benchmarks take events"
            )
        if job.terminal or bench.state in BENCHMARK_TERMINAL:
            raise CairnError(
                f"Benchmark {bench.index} of evaluation job '{job.job_id}' is {bench.state.value}"
                f" (job {job.state.value}): it takes no more events",
                ErrorCode.INVALID_STATE,
            )
        state = self._event_state(body.get("state"))
        lines = body.get("logs") or []
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise CairnError.invalid("Invalid value for field 'logs': a list of strings")
        if len(lines) > MAX_EVENT_LINES:
            raise CairnError.invalid(f"Too many lines in 'logs': at most {MAX_EVENT_LINES}")
        metrics = self._event_metrics(body.get("metrics"))
        params = body.get("params") or {}
        if not isinstance(params, Mapping):
            raise CairnError.invalid("Invalid value for field 'params': an object")
        sized(dict(params), "params")
        files = self._event_files(body.get("artifacts"))
        phase = body.get("phase")
        if phase is not None and (not isinstance(phase, str) or len(phase) > 64):
            raise CairnError.invalid("Invalid value for field 'phase': a string of at most 64")
        progress = body.get("progress")
        if progress is not None and (
            isinstance(progress, bool)
            or not isinstance(progress, int | float)
            or not 0 <= progress <= 1
        ):
            raise CairnError.invalid("Invalid value for field 'progress': a number from 0 to 1")
        error = body.get("error")
        if error is not None and not isinstance(error, str):
            raise CairnError.invalid("Invalid value for field 'error': a string")
        result = BenchmarkResult(
            metrics=dict(metrics), params={str(k): _param_value(x) for k, x in params.items()}
        )
        workdir = self.data_root / "evaluations" / job.job_id / f"{bench.index}-events"
        report = self._event_report(body.get("result_file"), provider, workdir)
        if report is not None:
            result.metrics = {**report.metrics, **result.metrics}
            result.params = {**{k: str(x) for k, x in report.params.items()}, **result.params}
            result.tags = dict(report.tags)
            result.artifacts = dict(report.artifacts)
            result.primary_metric = report.primary_metric
        for path, data in files.items():
            target = workdir / "artifacts" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            result.artifacts[path] = target
        # the job starts with its first report
        if job.state is JobState.PENDING or bench.state is BenchmarkState.PENDING:
            job, bench = self._start(job, bench, attempt=False)
        if lines:
            self.db.write(
                partial(
                    store.append_logs,
                    job_pk=job.id,
                    index=bench.index,
                    lines=[str(x) for x in lines],
                )
            )
        if phase is not None or progress is not None:
            values = {"phase": phase, "progress": None if progress is None else float(progress)}
            self.db.write(
                lambda c: store.update_benchmark(c, job, bench.index, values, event=False)
            )
        if state in (BenchmarkState.COMPLETED, BenchmarkState.FAILED, BenchmarkState.CANCELLED):
            final_error = error or (
                "failed (reported by the runner)" if state is BenchmarkState.FAILED else None
            )
            self._end_benchmark(job, bench, state, result, final_error)
        elif result.metrics or result.params or result.artifacts or result.tags:
            self._interim(job, bench, result)
        return self.find(job_id)

    def _interim(
        self, job: EvaluationJob, bench: EvaluationBenchmark, result: BenchmarkResult
    ) -> None:
        """Metrics, params and files reported before the end: recorded now, results merged."""
        if bench.run_id:
            info = self.tracking.get_run(bench.run_id).info
            for path, local in result.artifacts.items():
                self.artifacts.put_file(info, clean_path(path), local)

        def write(c: Connection) -> None:
            current = store.get(c, job.job_id)
            cur = next(b for b in current.benchmarks if b.index == bench.index)
            metrics = {metric_key(k): float(x) for k, x in result.metrics.items()}
            if _live_run(c, cur.run_id):
                self._log_result(
                    c, cur, metrics, result.params, dict(result.tags), cur.started_at or now_ms()
                )
            merged = {**(cur.results or {}), **metrics}
            primary = cur.primary_metric
            values: dict[str, Any] = {"results": merged}
            if primary and primary in merged:
                values["primary_score"] = merged[primary]
            store.update_benchmark(c, current, bench.index, values, event=False)

        self.db.write(write)

    @staticmethod
    def _event_benchmark(job: EvaluationJob, body: Mapping[str, Any]) -> EvaluationBenchmark:
        index = body.get("benchmark_index")
        bid = body.get("benchmark_id")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise CairnError.invalid("Invalid value for field 'benchmark_index': an integer")
            found = next((b for b in job.benchmarks if b.index == index), None)
            if found is None:
                raise CairnError.invalid(
                    f"Invalid value {index} for field 'benchmark_index': the job has "
                    f"{len(job.benchmarks)} benchmark(s)"
                )
            return found
        if bid is not None:
            if not isinstance(bid, str):
                raise CairnError.invalid("Invalid value for field 'benchmark_id': a string")
            matches = [b for b in job.benchmarks if b.benchmark_id == bid]
            if len(matches) != 1:
                raise CairnError.invalid(
                    f"Invalid value {bid[:80]!r} for field 'benchmark_id': "
                    + ("not in this job" if not matches else "ambiguous, use benchmark_index")
                )
            return matches[0]
        raise CairnError.invalid(
            "Missing value for required field 'benchmark_index' (or 'benchmark_id')"
        )

    @staticmethod
    def _event_state(value: Any) -> BenchmarkState | None:
        if value is None:
            return None
        try:
            state = BenchmarkState(value)
        except ValueError:
            state = None
        if state is None or state is BenchmarkState.PENDING:
            raise CairnError.invalid(
                f"Invalid value {str(value)[:40]!r} for field 'state': running, completed, "
                "failed or cancelled"
            )
        return state

    @staticmethod
    def _event_metrics(value: Any) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise CairnError.invalid("Invalid value for field 'metrics': an object of numbers")
        if len(value) > 1000:
            raise CairnError.invalid("Too many values in 'metrics': at most 1000")
        out: dict[str, float] = {}
        for key, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise CairnError.invalid(
                    f"Invalid value for field 'metrics.{str(key)[:60]}': a number"
                )
            out[str(key)] = float(number)
        return out

    @staticmethod
    def _decode(text: Any, name: str) -> bytes:
        if not isinstance(text, str):
            raise CairnError.invalid(f"Invalid value for field '{name}': base64 text")
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise CairnError.invalid(f"Invalid value for field '{name}': not base64") from None

    def _event_files(self, value: Any) -> dict[str, bytes]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise CairnError.invalid(
                "Invalid value for field 'artifacts': an object {path: base64}"
            )
        files: dict[str, bytes] = {}
        total = 0
        for path, text in value.items():
            try:
                clean = clean_path(str(path))
            except CairnError as exc:
                raise CairnError.invalid(f"Invalid path in 'artifacts': {exc.message}") from None
            data = self._decode(text, f"artifacts.{clean[:60]}")
            total += len(data)
            if total > MAX_EVENT_BYTES:
                raise CairnError.invalid("Field 'artifacts' is larger than 10 MB in one event")
            files[clean] = data
        return files

    def _event_report(
        self, value: Any, provider: Provider | None, workdir: Path
    ) -> BenchmarkResult | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise CairnError.invalid(
                "Invalid value for field 'result_file': {name, content_base64}"
            )
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise CairnError.invalid("Missing value for required field 'result_file.name'")
        try:
            clean = clean_path(name)
        except CairnError as exc:
            raise CairnError.invalid(
                f"Invalid value for field 'result_file.name': {exc.message}"
            ) from None
        if "/" in clean:
            raise CairnError.invalid(
                "Invalid value for field 'result_file.name': a file name, no folders"
            )
        data = self._decode(value.get("content_base64"), "result_file.content_base64")
        if len(data) > MAX_EVENT_BYTES:
            raise CairnError.invalid("Field 'result_file' is larger than 10 MB")
        target = workdir / "result" / clean
        shutil.rmtree(target.parent, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        reader = provider if provider is not None else providers.PROVIDERS["external"]
        try:
            report = reader.report(target)
        except CairnError as exc:
            if reader.id == "external":
                raise CairnError.invalid(
                    f"result_file: {exc.message.removeprefix('result_file: ')}"
                ) from None
            report = providers.PROVIDERS["external"].report(target)
        report.artifacts.setdefault(clean, target)
        return report


def _live_run(conn: Connection, run_id: str | None) -> bool:
    """The run exists and is not deleted (a user may delete a benchmark's run mid-job)."""
    if run_id is None:
        return False
    try:
        run_store.resolve_active(conn, run_id)
    except CairnError:
        return False
    return True


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
