"""The one interface every evaluation provider implements, and the registry of providers.

A provider offers benchmarks (:class:`BenchmarkInfo`), checks a request for one of them before
anything is queued (:meth:`Provider.validate`), and runs it (:meth:`Provider.run`) inside a job
of the engine, returning what to record (:class:`BenchmarkResult`). The evaluation service does
all the recording: a provider never writes runs, metrics or artifacts itself, so a provider can
be run, retried and tested on its own.

A run may take minutes (lm-eval) or milliseconds (a scikit-learn classifier on a CSV file); a
long one calls ``ctx.progress`` now and then and returns early with :class:`Cancelled` raised
once ``ctx.cancelled()`` is true (in the child process most providers run in, a cancel or the
time limit ``config.timeout_seconds`` kills the process instead: see :mod:`cairn.evals.child`).
Jobs run at least once: ``run`` must be safe to repeat (it writes only under ``ctx.workdir``,
which is emptied before each attempt).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cairn.entities.errors import CairnError


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a benchmark takes in its ``config`` (``parameters`` in eval-hub's shape)."""

    type: str
    """``int``, ``float``, ``str``, ``bool``, ``list`` or ``object``."""
    description: str = ""
    default: Any = None
    required: bool = False


@dataclass(frozen=True)
class BenchmarkInfo:
    """A benchmark a provider offers, as ``GET /api/v1/evaluations/providers/{id}`` lists it."""

    id: str
    name: str
    description: str = ""
    category: str = ""
    metrics: Sequence[str] = ()
    """The metric keys a run records (as logged: ``acc``, ``acc_stderr``, ``f1``…)."""
    primary_metric: str = ""
    """The one score leaderboards and pass criteria use when the request names none."""
    lower_is_better: bool = False
    parameters: Mapping[str, ParamSpec] = field(default_factory=dict)
    open_ended: bool = False
    """True when the provider accepts benchmark ids it does not list (lm-eval: any task of its
    registry, or a task YAML the config points to); ``validate`` then decides."""


@dataclass(frozen=True)
class Collection:
    """A named list of benchmarks run together (``collection`` in a request)."""

    id: str
    name: str
    description: str = ""
    benchmarks: Sequence[Mapping[str, Any]] = ()
    """Each ``{"benchmark_id", "provider_id", "config"?, "weight"?, "primary_score"?,
    "pass_criteria"?}``, the seed's shape."""


@dataclass(frozen=True)
class ModelSpec:
    """The model a request evaluates, in one shape for both request shapes."""

    name: str
    """As given: ``meta-llama/llama-3.1-8b``, or ``models:/NAME/VERSION|STAGE|latest``,
    ``models:/NAME@ALIAS`` for a Cairn-registered model."""
    url: str | None = None
    """An OpenAI-compatible endpoint (eval-hub's ``url``; the seed's ``server`` when it is a
    URL)."""
    server: str | None = None
    """The serving stack the seed names (``vllm``, ``tgi``…), or None."""
    configuration: Mapping[str, Any] = field(default_factory=dict)
    """Generation settings (``temperature``, ``max_tokens``…): the seed's ``configuration``,
    eval-hub's ``parameters``."""
    registered_name: str | None = None
    registered_version: int | None = None
    """Set by the service when ``name`` is a ``models:/`` URI: the version it resolved to at
    submission (a job keeps evaluating that version even if an alias moves meanwhile)."""


class Resources(Protocol):
    """What a provider may fetch from Cairn, implemented by the evaluation service."""

    def model_dir(self, model: ModelSpec, into: Path) -> Path:
        """Download the registered version's model files under ``into``; return the folder
        holding its ``MLmodel``. A CairnError when the model is not a registered version."""
        ...

    def dataset_file(self, ref: str, into: Path) -> Path:
        """A local copy of a dataset: a path under the server's allowed evaluation data root,
        or a logged dataset by name or digest whose source Cairn can read. A CairnError naming
        ``dataset`` / ``dataset_path`` otherwise."""
        ...


@dataclass
class BenchmarkContext:
    """Everything ``run`` gets."""

    job_id: str
    index: int
    """The benchmark's position in the request (0-based)."""
    benchmark_id: str
    config: Mapping[str, Any]
    model: ModelSpec
    workdir: Path
    resources: Resources
    log: Callable[[str], None] = print
    """Append one line to the job's log (``GET …/jobs/{id}/logs``)."""
    progress: Callable[[str, float | None], None] = lambda phase, fraction: None
    """Report a phase (``loading``, ``running``, ``scoring``…) and a fraction done, or None."""
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


@dataclass
class BenchmarkResult:
    """What one benchmark run produced; the service records it on the benchmark's run."""

    metrics: dict[str, float] = field(default_factory=dict)
    """Logged as metrics under these keys (non-finite values are kept, as MLflow does)."""
    params: dict[str, str] = field(default_factory=dict)
    """Extra params beyond the benchmark config the service logs anyway."""
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    """Artifact path in the run → local file to upload (``results.json``, ``predictions.csv``…)."""
    primary_metric: str | None = None
    """The metric that is this benchmark's score, when the request named none."""
    details: dict[str, Any] = field(default_factory=dict)
    """Anything else worth keeping in the job's results (JSON-serialisable, small)."""


class Cancelled(Exception):
    """Raised by ``run`` when it stopped because ``ctx.cancelled()`` became true."""


class Provider(Protocol):
    """One evaluation provider: ``lm_evaluation_harness``, ``cairn``, ``red_team``,
    ``external``…"""

    id: str
    name: str
    description: str
    runs_in_cairn: bool
    """False for ``external``: its benchmarks are run by a runner outside Cairn that reports
    through ``POST /api/v1/evaluations/jobs/{id}/events``; the engine only waits for it."""
    # Optional: ``own_process = True`` for a provider whose ``run`` only starts and watches a
    # process of its own (lm-eval): it then runs in the worker. Every other in-Cairn provider's
    # ``run`` runs in a low-priority child process (cairn/evals/child.py), where ``ctx``'s
    # resources, log and progress are answered by the worker over the child's pipes.

    def benchmarks(self) -> Sequence[BenchmarkInfo]: ...

    def collections(self) -> Sequence[Collection]:
        """The collections this provider ships (listed with the user's own)."""
        ...

    def validate(self, benchmark_id: str, config: Mapping[str, Any], model: ModelSpec) -> None:
        """Raise a CairnError (INVALID_PARAMETER_VALUE) naming the field when the request
        cannot run: unknown benchmark, bad config value, a model this provider cannot
        evaluate. Called at submission, before anything is stored; must be fast (no network,
        no model loading)."""
        ...

    def run(self, ctx: BenchmarkContext) -> BenchmarkResult:
        """Run one benchmark; raise CairnError or any exception to fail it (the message is
        recorded), :class:`Cancelled` when cancelled."""
        ...

    def report(self, path: Path) -> BenchmarkResult:
        """Turn a result file this provider's tool wrote (run elsewhere) into a result: used
        by external runners that upload a raw file and by imports. Providers without a file
        format raise CairnError."""
        ...


PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Make ``provider`` available under its id (a second provider with that id is refused)."""
    existing = PROVIDERS.get(provider.id)
    if existing is not None and existing is not provider:
        raise ValueError(f"the evaluation provider {provider.id!r} is registered twice")
    PROVIDERS[provider.id] = provider
    return provider


def get(provider_id: object, field_name: str = "provider_id") -> Provider:
    """The provider with this id, or a 400 naming ``field_name`` and the known ids."""
    found = PROVIDERS.get(provider_id) if isinstance(provider_id, str) else None
    if found is None:
        known = ", ".join(sorted(PROVIDERS)) or "none"
        raise CairnError.invalid(
            f"{field_name}: unknown evaluation provider {provider_id!r} (known: {known})"
        )
    return found


def benchmark_info(provider: Provider, benchmark_id: str) -> BenchmarkInfo | None:
    """The listed benchmark of that id, or None (an open-ended provider may still accept it)."""
    return next((b for b in provider.benchmarks() if b.id == benchmark_id), None)
