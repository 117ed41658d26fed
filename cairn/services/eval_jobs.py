"""Evaluation benchmarks on the job engine: the job that runs one benchmark, and the periodic
check that ends benchmarks whose engine job ended without them (attempts used up by workers
that died, a cancel that found no live worker), so no evaluation stays ``running``.

A benchmark's job has the key ``eval:<job id>:<index>``: while it is unfinished the engine
takes no second one for that benchmark, and only one worker holds its lease, so two workers
never run the same benchmark at once. A worker killed mid-benchmark leaves its lease to expire
and the engine runs the benchmark again (at least once): the handler starts it over.
"""

from __future__ import annotations

from typing import Any

from cairn.jobs.registry import JobContext, job_kind, periodic
from cairn.services.evaluations import KIND, MAX_ATTEMPTS, EvaluationService

RECONCILE_EVERY = 15.0


@job_kind(KIND, max_attempts=MAX_ATTEMPTS, yields=True)
def run_benchmark(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    service = ctx.service("evaluations", EvaluationService)
    return service.run_benchmark(str(payload["job_id"]), int(payload["index"]), ctx.cancelled)


@periodic("evaluations.reconcile", every=RECONCILE_EVERY)
def reconcile(ctx: JobContext) -> None:
    ctx.service("evaluations", EvaluationService).reconcile()
