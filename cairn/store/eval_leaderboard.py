"""What the evaluation leaderboard reads: the latest completed score of every (model or
registered version) × benchmark, in one windowed query over ``evaluation_benchmarks`` joined
to ``evaluation_jobs``, and each registered model's champion version (its ``champion``
alias, else its newest Production version).

A row's model key is ``(registered_name, registered_version)`` when the job evaluated a
Cairn-registered version, else the ``model_name`` as the request gave it. Only benchmarks
that completed with a finite primary score count; the newest by ``finished_at`` wins.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from cairn.entities.access import Visibility
from cairn.store.schema import (
    evaluation_benchmarks,
    evaluation_jobs,
    model_aliases,
    model_versions,
    registered_models,
)
from cairn.store.visibility import condition, experiment_key, model_key

j = evaluation_jobs.c
b = evaluation_benchmarks.c

MAX_SCORES = 50_000
"""Scores one leaderboard reads at most (models × benchmarks), newest jobs first."""


@dataclass(frozen=True)
class Score:
    """One benchmark's latest score for one model (or registered version)."""

    model_name: str
    registered_name: str | None
    registered_version: int | None
    benchmark_id: str
    provider_id: str
    primary_metric: str | None
    lower_is_better: bool
    score: float
    job_id: str
    run_id: str | None
    finished_at: int | None


def latest_scores(
    conn: Connection,
    *,
    benchmarks: Sequence[str] = (),
    models: Sequence[str] = (),
    provider: str | None = None,
    experiments: Visibility,
    registered: Visibility,
    limit: int = MAX_SCORES,
) -> list[Score]:
    """The newest completed score per model key × benchmark, of the jobs whose experiment
    (and registered model, when there is one) the caller may read. ``models`` matches the
    name a request gave or the registered model's name."""
    where: list[ColumnElement[bool]] = [
        b.state == "completed",
        b.primary_score.is_not(None),
        b.primary_score.between(-sys.float_info.max, sys.float_info.max),
    ]
    if benchmarks:
        where.append(b.benchmark_id.in_(list(benchmarks)))
    if provider:
        where.append(b.provider_id == provider)
    if models:
        names = list(models)
        where.append(or_(j.model_name.in_(names), j.registered_name.in_(names)))
    seen = condition(experiments, j.experiment_id, experiment_key)
    if seen is not None:
        where.append(seen)
    may_model = condition(registered, j.registered_name, model_key)
    if may_model is not None:
        where.append(or_(j.registered_name.is_(None), may_model))

    # registered versions are keyed by name + version; other models by the name as given
    key = func.coalesce(j.registered_name, j.model_name)
    rank = (
        func.row_number()
        .over(
            partition_by=(key, j.registered_version, b.benchmark_id),
            order_by=(b.finished_at.desc(), j.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            j.model_name,
            j.registered_name,
            j.registered_version,
            b.benchmark_id,
            b.provider_id,
            b.primary_metric,
            b.lower_is_better,
            b.primary_score,
            j.job_id,
            b.run_uuid,
            b.finished_at,
            j.id.label("job_pk"),
            rank,
        )
        .select_from(evaluation_benchmarks.join(evaluation_jobs, j.id == b.job))
        .where(and_(*where))
        .subquery()
    )
    r = ranked.c
    query = select(ranked).where(r.rank == 1).order_by(r.job_pk.desc()).limit(limit)
    return [
        Score(
            model_name=row.model_name,
            registered_name=row.registered_name,
            registered_version=row.registered_version,
            benchmark_id=row.benchmark_id,
            provider_id=row.provider_id,
            primary_metric=row.primary_metric,
            lower_is_better=bool(row.lower_is_better),
            score=float(row.primary_score),
            job_id=row.job_id,
            run_id=row.run_uuid,
            finished_at=row.finished_at,
        )
        for row in conn.execute(query)
    ]


def champions(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """Each named registered model's champion version: its ``champion`` alias, else its
    newest version in stage Production; models with neither are left out."""
    if not names:
        return {}
    wanted = sorted(set(names))
    rm = registered_models.c
    found: dict[str, int] = {}
    alias = (
        select(rm.name, model_aliases.c.version)
        .join(model_aliases, model_aliases.c.model_id == rm.id)
        .where(rm.name.in_(wanted), model_aliases.c.alias == "champion")
    )
    for name, version in conn.execute(alias):
        found[name] = int(version)
    rest = [n for n in wanted if n not in found]
    if rest:
        mv = model_versions.c
        production = (
            select(rm.name, func.max(mv.version))
            .join(model_versions, mv.model_id == rm.id)
            .where(rm.name.in_(rest), mv.current_stage == "Production")
            .group_by(rm.name)
        )
        for name, version in conn.execute(production):
            if version is not None:
                found[name] = int(version)
    return found
