"""Red-team runs of one model across every experiment, for the vulnerability trend.

A red-team run (``POST /api/v1/red-team/log``, or a ``red_team`` evaluation benchmark) carries
the tag ``cairn.red_team.model_name`` (and ``cairn.red_team.model_version`` when the model is
registered). The trend reads those runs by that tag: ``ix_run_tags_key_value`` (SQLite) or
``ix_run_tags_key`` (PostgreSQL, where only red-team runs have the key) finds them without
scanning runs, then their latest red-team metrics come from ``latest_metrics`` by run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, select

from cairn.entities.access import ALL, Visibility
from cairn.entities.tracking import LifecycleStage
from cairn.store.schema import experiments, latest_metrics, metric_keys, run_tags, runs
from cairn.store.visibility import condition, experiment_key

MODEL_NAME_TAG = "cairn.red_team.model_name"
MODEL_VERSION_TAG = "cairn.red_team.model_version"
METRIC_PREFIXES = ("red_team_", "attack_", "benign_")


@dataclass
class RedTeamRun:
    run_id: str
    experiment_id: str
    start_time: int | None
    version: str | None
    metrics: dict[str, float] = field(default_factory=dict)


def model_runs(
    conn: Connection, model_name: str, limit: int, visibility: Visibility = ALL
) -> list[RedTeamRun]:
    """The newest ``limit`` active red-team runs of ``model_name`` that ``visibility`` lets
    the caller read, oldest first, with their red-team metrics (latest values)."""
    r, t, e = runs.c, run_tags.c, experiments.c
    version = run_tags.alias("version_tag")
    query = (
        select(r.id, r.run_uuid, r.experiment_id, r.start_time, version.c.value.label("version"))
        .select_from(
            runs.join(run_tags, and_(t.run_id == r.id, t.key == MODEL_NAME_TAG)).outerjoin(
                version,
                and_(version.c.run_id == r.id, version.c.key == MODEL_VERSION_TAG),
            )
        )
        .where(t.value == model_name, r.lifecycle_stage == LifecycleStage.ACTIVE.value)
        .order_by(r.start_time.desc(), r.id.desc())
        .limit(limit)
    )
    readable = condition(visibility, e.experiment_id, experiment_key, e.name)
    if readable is not None:
        query = query.where(r.experiment_id.in_(select(e.experiment_id).where(readable)))
    rows = list(reversed(conn.execute(query).all()))
    found = {
        row.id: RedTeamRun(row.run_uuid, str(row.experiment_id), row.start_time, row.version)
        for row in rows
    }
    if not found:
        return []
    m, k = latest_metrics.c, metric_keys.c
    points = conn.execute(
        select(m.run_id, k.key, m.value, m.is_nan)
        .join(metric_keys, k.id == m.key_id)
        .where(m.run_id.in_(list(found)))
    ).all()
    for point in points:
        if point.key.startswith(METRIC_PREFIXES):
            found[point.run_id].metrics[point.key] = (
                float("nan") if point.is_nan else float(point.value)
            )
    return list(found.values())
