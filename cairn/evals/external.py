"""Providers whose benchmarks run outside Cairn: ``external`` (any runner: a container, a
Kubernetes Job, another service), and ``ragas`` and ``garak`` as import-only providers.

Cairn never runs these benchmarks: a job waits for its runner, which reports progress, logs,
metrics and result files through ``POST /api/v1/evaluations/jobs/{id}/events`` with the job's
runner token. A result file uploaded as ``result_file`` is read by :meth:`report`: JSON (a flat
``{metric: number}`` object, ``{"metrics": {...}}``, or lm-evaluation-harness's
``{"results": {task: {metric: number}}}``, keys ``<task>/<metric>`` when it holds several
tasks) or CSV (``metric,value`` rows, or one header row of
metric names over one row of numbers).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cairn.entities.errors import CairnError
from cairn.evals.child import timeout_seconds
from cairn.evals.provider import (
    BenchmarkContext,
    BenchmarkInfo,
    BenchmarkResult,
    Collection,
    ModelSpec,
    register,
)

EXTERNAL_TIMEOUT_VARIABLE = "CAIRN_EVAL_EXTERNAL_TIMEOUT"
"""Seconds an external runner has to report a benchmark's end when its config gives no
``timeout_seconds``: from the runner's first report, or from the submission when it never
reports. Past it the benchmark fails (the periodic ``evaluations.reconcile``)."""
DEFAULT_EXTERNAL_TIMEOUT_S = 24 * 3600.0
MAX_CONFIG_BYTES = 64 * 1024
MAX_REPORT_BYTES = 50 * 1024 * 1024
MAX_METRICS = 1000


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _flat(prefix: str, values: Mapping[str, Any], into: dict[str, float]) -> None:
    for key, value in values.items():
        if len(into) >= MAX_METRICS:
            return
        name = f"{prefix}{key}"
        number = _number(value) if not isinstance(value, str) else None
        if number is not None:
            into[name] = number
        elif isinstance(value, Mapping):
            _flat(f"{name}.", value, into)


def read_json(path: Path) -> dict[str, float]:
    """Metrics from a JSON result file (see the module docstring for the shapes)."""
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise CairnError.invalid(f"result_file: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CairnError.invalid("result_file: a JSON result file must hold an object")
    metrics: dict[str, float] = {}
    results = doc.get("results")
    if isinstance(results, dict) and all(isinstance(v, dict) for v in results.values()):
        single = len(results) == 1
        for task, values in results.items():
            _flat("" if single else f"{task}/", values, metrics)
    elif isinstance(doc.get("metrics"), dict):
        _flat("", doc["metrics"], metrics)
    else:
        _flat("", doc, metrics)
    return metrics


def read_csv(path: Path) -> dict[str, float]:
    """Metrics from a CSV result file: ``metric,value`` rows, or names over one row."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = [row for _, row in zip(range(MAX_METRICS + 2), csv.reader(handle), strict=False)]
    if not rows:
        return {}
    metrics: dict[str, float] = {}
    header = [cell.strip() for cell in rows[0]]
    if [h.lower() for h in header[:2]] in (["metric", "value"], ["name", "value"]):
        for row in rows[1:]:
            if len(row) >= 2 and (found := _number(row[1].strip())) is not None:
                metrics[row[0].strip()] = found
        return metrics
    if len(rows) >= 2:
        for name, cell in zip(header, rows[1], strict=False):
            if name and (found := _number(cell.strip())) is not None:
                metrics[name] = found
    return metrics


@dataclass
class ExternalProvider:
    """A provider that only waits: its benchmarks are run and reported by an outside runner."""

    id: str
    name: str
    description: str
    listed: Sequence[BenchmarkInfo] = field(default_factory=tuple)
    runs_in_cairn: bool = False
    open_ended: bool = True
    """Any benchmark id is accepted (the runner knows what it means)."""

    def benchmarks(self) -> Sequence[BenchmarkInfo]:
        return self.listed

    def collections(self) -> Sequence[Collection]:
        return ()

    def validate(self, benchmark_id: str, config: Mapping[str, Any], model: ModelSpec) -> None:
        if not benchmark_id or len(benchmark_id) > 256:
            raise CairnError.invalid("benchmark_id: 1 to 256 characters")
        if len(orjson.dumps(dict(config), default=str)) > MAX_CONFIG_BYTES:
            raise CairnError.invalid(f"config: larger than {MAX_CONFIG_BYTES // 1024} KB")
        runner_timeout(config)

    def run(self, ctx: BenchmarkContext) -> BenchmarkResult:
        raise CairnError.invalid(
            f"provider {self.id!r} runs outside Cairn: its runner reports through "
            f"POST /api/v1/evaluations/jobs/{ctx.job_id}/events"
        )

    def report(self, path: Path) -> BenchmarkResult:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise CairnError.invalid(
                f"result_file: larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB"
            )
        suffix = path.suffix.lower()
        if suffix == ".json":
            metrics = read_json(path)
        elif suffix in (".csv", ".tsv"):
            metrics = read_csv(path)
        else:
            raise CairnError.invalid(
                f"result_file: {path.name!r} is neither .json nor .csv; provider {self.id!r} "
                "reads those two"
            )
        return BenchmarkResult(metrics=metrics, artifacts={path.name: path})


def runner_timeout(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> float:
    """How long an external benchmark may wait for its runner (see
    :data:`EXTERNAL_TIMEOUT_VARIABLE`); a 400 naming ``config.timeout_seconds`` when bad."""
    return timeout_seconds(config, environ, EXTERNAL_TIMEOUT_VARIABLE, DEFAULT_EXTERNAL_TIMEOUT_S)


def _info(bid: str, name: str, description: str, metric: str, lower: bool = False) -> BenchmarkInfo:
    return BenchmarkInfo(
        id=bid,
        name=name,
        description=description,
        category="external",
        metrics=(metric,),
        primary_metric=metric,
        lower_is_better=lower,
        open_ended=True,
    )


EXTERNAL = register(
    ExternalProvider(
        "external",
        "External runner",
        "Benchmarks run by a runner outside Cairn (a container, a Kubernetes Job, another "
        "service), which reports progress, logs, metrics and result files through the job's "
        "events endpoint with the job's runner token. Any benchmark id is accepted.",
    )
)

RAGAS = register(
    ExternalProvider(
        "ragas",
        "RAGAS (import only)",
        "Retrieval-augmented generation metrics computed by RAGAS outside Cairn: a runner "
        "posts RAGAS's result file (JSON or CSV) as `result_file` to the job's events "
        "endpoint. Cairn does not run RAGAS itself.",
        (
            _info("faithfulness", "Faithfulness", "Answer grounded in the context", "faithfulness"),
            _info(
                "answer_relevancy",
                "Answer relevancy",
                "Answer addresses the question",
                "answer_relevancy",
            ),
            _info("context_precision", "Context precision", "", "context_precision"),
            _info("context_recall", "Context recall", "", "context_recall"),
        ),
    )
)

GARAK = register(
    ExternalProvider(
        "garak",
        "garak (import only)",
        "LLM vulnerability probes run by garak outside Cairn: a runner posts a summary "
        "(JSON or CSV of metrics) as `result_file` to the job's events endpoint. Cairn does "
        "not run garak itself.",
        (
            _info("promptinject", "Prompt injection", "", "attack_success_rate", lower=True),
            _info("dan", "Jailbreak (DAN)", "", "attack_success_rate", lower=True),
            _info("encoding", "Encoding attacks", "", "attack_success_rate", lower=True),
        ),
    )
)
