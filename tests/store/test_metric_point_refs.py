"""Metric points always belong to an existing run and key: on SQLite and MySQL by foreign
keys, on PostgreSQL by the statement-level triggers of migration 0019 (same guarantees)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from cairn.services.tracking import TrackingService
from cairn.store import gc
from cairn.store.db import Database
from cairn.store.metrics import INSERT_POINTS
from cairn.store.migrate import ensure_schema
from cairn.store.schema import metric_keys, metrics, runs
from tests.databases import fresh_postgres_database

INTEGRITY = (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)
"""From SQLAlchemy, or from the driver: prepared statements run on the driver's cursor."""


def _run_id(database: Database, run_uuid: str) -> int:
    return database.read(
        lambda c: c.execute(select(runs.c.id).where(runs.c.run_uuid == run_uuid)).scalar_one()
    )


def _points(database: Database, run_id: int) -> int:
    return database.read(
        lambda c: c.execute(
            select(func.count()).select_from(metrics).where(metrics.c.run_id == run_id)
        ).scalar_one()
    )


def test_purging_a_run_removes_its_points_and_no_others(
    database: Database, tracking: TrackingService
) -> None:
    exp = tracking.create_experiment("refs")
    gone = tracking.create_run(exp).info.run_id
    kept = tracking.create_run(exp).info.run_id
    for run in (gone, kept):
        tracking.log_batch(run, metrics=[("m", 1.0, 1, s) for s in range(50)])
    gone_id, kept_id = _run_id(database, gone), _run_id(database, kept)
    assert _points(database, gone_id) == 50
    database.write(lambda c: gc.purge_runs(c, [gone_id]))
    assert _points(database, gone_id) == 0
    assert _points(database, kept_id) == 50


def test_a_point_of_a_missing_run_or_key_is_refused(
    database: Database, tracking: TrackingService
) -> None:
    run = tracking.create_run(tracking.create_experiment("refs")).info.run_id
    tracking.log_metric(run, "m", 1.0, 1, 0)
    run_id = _run_id(database, run)
    key_id = database.read(lambda c: c.execute(select(metric_keys.c.id)).scalar_one())
    for bad in ((run_id + 1000, key_id), (run_id, key_id + 1000)):

        def insert(c: Connection, bad: tuple[int, int] = bad) -> None:
            INSERT_POINTS.many(
                c, [(bad[0], bad[1], 5, 1, 2.0, False), (run_id, key_id, 6, 1, 2.0, False)]
            )

        if database.dialect == "mysql":  # INSERT IGNORE: the orphan row is skipped, not stored
            database.write(insert)
        else:
            with pytest.raises(INTEGRITY):
                database.write(insert)
    stored = database.read(lambda c: c.execute(select(metrics.c.run_id, metrics.c.key_id)).all())
    assert set(stored) == {(run_id, key_id)}
    with pytest.raises(INTEGRITY):  # a key in use cannot go
        database.write(lambda c: c.execute(metric_keys.delete()))


def test_postgresql_an_insert_holds_off_a_concurrent_purge() -> None:
    """The insert locks its run as the foreign key did: a delete of the run waits for it,
    then removes the committed points with the run (no orphan), and an insert after the
    delete fails."""
    with fresh_postgres_database() as uri:
        database = Database(uri)
        ensure_schema(database.write_engine)
        database.start()
        try:
            _holds_off_a_concurrent_delete(database, TrackingService(database))
        finally:
            database.close()


def _holds_off_a_concurrent_delete(database: Database, tracking: TrackingService) -> None:
    run = tracking.create_run(tracking.create_experiment("refs")).info.run_id
    tracking.log_metric(run, "m", 1.0, 1, 0)
    run_id = _run_id(database, run)
    key_id = database.read(lambda c: c.execute(select(metric_keys.c.id)).scalar_one())
    gone = delete(runs).where(runs.c.id == run_id)
    with database.engine.connect() as writer, database.engine.connect() as purger:
        writer.begin()
        INSERT_POINTS.many(writer, [(run_id, key_id, s, 1, 2.0, False) for s in range(1, 20)])
        purger.begin()
        purger.exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
        with pytest.raises(OperationalError, match="lock timeout"):
            purger.execute(gone)
        purger.rollback()
        writer.commit()
        assert _points(database, run_id) == 20
        with purger.begin():
            purger.execute(gone)
        assert _points(database, run_id) == 0
        with pytest.raises(INTEGRITY), writer.begin():
            INSERT_POINTS.many(writer, [(run_id, key_id, 99, 1, 2.0, False)])
        assert _points(database, run_id) == 0
