"""Per-experiment figures for the experiments page: how many runs, how many still running,
and when anything last happened (the latest run start or end, or the experiment's own last
update). One grouped query over the runs of the asked-for experiments."""

from __future__ import annotations

from sqlalchemy import Connection, case, func, select

from cairn.entities.tracking import ExperimentSummary
from cairn.store.schema import experiments, runs


def summarize(conn: Connection, experiment_ids: list[int]) -> list[ExperimentSummary]:
    """Summaries in the order asked, for the ids that exist (deleted experiments included);
    only runs that are not deleted count."""
    if not experiment_ids:
        return []
    r = runs.c
    active = r.lifecycle_stage == "active"
    counts = (
        select(
            r.experiment_id,
            # COUNT(CASE …) rather than COUNT(*) FILTER: MySQL has no FILTER clause
            func.count(case((active, 1))).label("runs"),
            func.count(case((active & (r.status == "RUNNING"), 1))).label("running"),
            func.max(r.start_time).label("started"),
            func.max(r.end_time).label("ended"),
        )
        .where(r.experiment_id.in_(experiment_ids))
        .group_by(r.experiment_id)
        .subquery()
    )
    e = experiments.c
    query = (
        select(
            e.experiment_id,
            e.last_update_time,
            func.coalesce(counts.c.runs, 0),
            func.coalesce(counts.c.running, 0),
            counts.c.started,
            counts.c.ended,
        )
        .select_from(experiments.outerjoin(counts, counts.c.experiment_id == e.experiment_id))
        .where(e.experiment_id.in_(experiment_ids))
    )
    found: dict[int, ExperimentSummary] = {}
    for eid, updated, run_count, running, started, ended in conn.execute(query):
        times = [t for t in (updated, started, ended) if t is not None]
        found[eid] = ExperimentSummary(
            experiment_id=str(eid),
            run_count=int(run_count),
            running_count=int(running),
            last_activity=max(times) if times else None,
        )
    return [found[i] for i in dict.fromkeys(experiment_ids) if i in found]


__all__ = ["summarize"]
