"""Keyset pages: a page deep into the results enters the index at the token, on every backend."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from cairn.store.metrics import HISTORY_AFTER
from cairn.store.migrate import upgrade
from cairn.store.paging import after_row
from cairn.store.schema import metrics, runs


def test_the_condition_carries_the_first_keys_bound() -> None:
    asc = str(after_row([(metrics.c.step, True), (metrics.c.timestamp, True)], [5, 7]))
    desc = str(after_row([(runs.c.start_time, False), (runs.c.run_uuid, True)], [9, "x"]))
    assert asc.startswith("metrics.step >= :step_1 AND (metrics.step > "), asc
    assert desc.startswith("runs.start_time <= :start_time_1 AND (runs.start_time < "), desc
    # no bound from a NULL: the rows after it are the NULLs of its group only
    assert " >= " not in str(after_row([(runs.c.end_time, True)], [None]))


def test_a_history_page_after_a_token_is_a_range_of_the_primary_key(tmp_path: Path) -> None:
    """SQLite's plan for the page after a token seeks the step (before, the OR of the keyset
    condition left only run and key: every point before the token was read and skipped, so
    paging a 1,000,000-point history slowed with depth, docs/benchmarks.md "Big stores")."""
    engine = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    try:
        with engine.connect() as conn:
            sql, order, defaults = HISTORY_AFTER._sql(conn)
            values = {"run_id": 1, "key_id": 1, "s": 5, "t": 7, "v": 0.5, "n": False, "limit": 10}
            values = {**defaults, **values}
            assert order is not None  # SQLite's placeholders are positional
            args = tuple(values[name] for name in order)
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args).all()
    finally:
        engine.dispose()
    details = " ".join(str(row[-1]) for row in plan)
    assert "PRIMARY KEY (run_id=? AND key_id=? AND step>?)" in details, details
