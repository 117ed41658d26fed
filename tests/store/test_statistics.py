"""Planner statistics on PostgreSQL: the periodic job analyzes the tables that changed a lot."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from cairn.entities.tracking import Metric, RunQuery
from cairn.jobs.engine import analyze_changed_tables
from cairn.jobs.registry import PERIODICS
from cairn.services.tracking import TrackingService
from cairn.store.db import Database
from cairn.store.statistics import analyze_stale, stale_tables


def _analyzed(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        count = conn.execute(
            text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
        ).scalar_one()
    return int(count)


@pytest.mark.postgres
@pytest.mark.parametrize("store_uri", ["postgres"], indirect=True)
def test_a_freshly_filled_table_is_analyzed_once(
    database: Database, tracking: TrackingService
) -> None:
    rid = tracking.create_run("0").info.run_id
    tracking.log_batch(rid, [Metric("m", float(i), i, i) for i in range(500)])
    # a backend reports its changes to the cumulative statistics when idle, at most once a
    # second (and within 10 s): look a few times, bounded
    for _ in range(75):
        if "metrics" in stale_tables(database.engine):
            break
        time.sleep(0.2)
    assert "metrics" in stale_tables(database.engine)
    before = _analyzed(database, "metrics")
    assert "metrics" in analyze_stale(database.engine)
    assert "metrics" not in stale_tables(database.engine)
    assert analyze_stale(database.engine) == []  # nothing changed since: nothing to do
    assert _analyzed(database, "metrics") == before + 1
    page = tracking.search_runs(RunQuery(experiment_ids=[0], filter="metrics.m > 400"))
    assert [r.info.run_id for r in page.items] == [rid]


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
def test_sqlite_has_nothing_to_analyze(database: Database, tracking: TrackingService) -> None:
    rid = tracking.create_run("0").info.run_id
    tracking.log_batch(rid, [Metric("m", float(i), i, i) for i in range(500)])
    assert stale_tables(database.engine) == []
    assert analyze_stale(database.engine) == []


def test_the_job_is_registered_as_periodic() -> None:
    job = PERIODICS["db.analyze"]
    assert job.fn is analyze_changed_tables
    assert job.every == 10.0
