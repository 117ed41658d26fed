"""PostgreSQL: the metric points' references are checked once per statement, not per row,
and params and run tags are indexed by (key, short value).

A foreign key is checked by PostgreSQL row by row: a 1,000-point log-batch ran 2,000 checks
(``metrics.run_id`` → ``runs``, ``metrics.key_id`` → ``metric_keys``), the larger part of
the insert's time in ``EXPLAIN ANALYZE`` (docs/benchmarks.md, "Tracking on PostgreSQL").
On PostgreSQL this revision replaces those two foreign keys by statement-level triggers
that keep every guarantee they gave, for any writer (servers of revision 0017 included):

- after an INSERT into ``metrics``: the distinct runs and keys of the inserted rows (a
  transition table) are locked ``FOR KEY SHARE``, as the foreign key's own check does; one
  missing is a ``foreign_key_violation`` (23503) and the statement fails. The lock holds a
  concurrent delete of the run until the insert commits; a run deleted first is not found.
- after a DELETE from ``runs``: their points are deleted (the ``ON DELETE CASCADE`` the
  foreign key had). It runs after the deleting statement, in its transaction, so an insert
  that held the run's lock has committed by then and its points go too.
- after a DELETE from ``metric_keys``: refused while points use the key (Cairn never
  deletes a metric key).

Also on PostgreSQL, B-tree indexes on params and run tags by (key, value) for values of up
to 256 characters (``WHERE length(value) <= 256``: a B-tree refuses entries over ~2.7 kB). An
equality filter on a param or tag read every row with that key and checked its value (the
hash index on the value alone was not chosen: a value like ``v3`` is shared by many keys);
the search now states the length bound its value implies, and reads only the matching rows
(``EXPLAIN ANALYZE`` at 10,000 runs: 10,000 rows, 3.5 ms → 964 rows, 0.8 ms).

An UPDATE of ``runs.id`` or ``metric_keys.id`` (never done by Cairn) is not checked any more.
``latest_metrics`` keeps its foreign keys (one row per key and batch). SQLite and MySQL keep
theirs: their checks are index probes inside the engine.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

expand_only = True
"""Servers of revision 0017 run against it unchanged: every insert, delete and its failure
behaves as with the foreign keys (same SQLSTATE on a missing run or key); indexes only add."""

UPGRADE = (
    """CREATE FUNCTION cairn_metrics_check_refs() RETURNS trigger AS $$
    DECLARE
        wanted bigint;
        found bigint;
    BEGIN
        SELECT count(DISTINCT run_id) INTO wanted FROM new_points;
        SELECT count(*) INTO found FROM (
            SELECT 1 FROM runs WHERE id IN (SELECT run_id FROM new_points) FOR KEY SHARE
        ) AS locked;
        IF found <> wanted THEN
            RAISE EXCEPTION 'metric points name a run that does not exist'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'metrics',
                      CONSTRAINT = 'fk_metrics_run_id_runs';
        END IF;
        SELECT count(DISTINCT key_id) INTO wanted FROM new_points;
        SELECT count(*) INTO found FROM (
            SELECT 1 FROM metric_keys WHERE id IN (SELECT key_id FROM new_points) FOR KEY SHARE
        ) AS locked;
        IF found <> wanted THEN
            RAISE EXCEPTION 'metric points name a metric key that does not exist'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'metrics',
                      CONSTRAINT = 'fk_metrics_key_id_metric_keys';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER metrics_check_refs AFTER INSERT ON metrics
    REFERENCING NEW TABLE AS new_points
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_metrics_check_refs()""",
    """CREATE FUNCTION cairn_runs_delete_points() RETURNS trigger AS $$
    BEGIN
        DELETE FROM metrics WHERE run_id IN (SELECT id FROM old_runs);
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER runs_delete_points AFTER DELETE ON runs
    REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_runs_delete_points()""",
    """CREATE FUNCTION cairn_metric_keys_in_use() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM metrics WHERE key_id IN (SELECT id FROM old_keys)) THEN
            RAISE EXCEPTION 'a deleted metric key is still used by metric points'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'metrics',
                      CONSTRAINT = 'fk_metrics_key_id_metric_keys';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER metric_keys_in_use AFTER DELETE ON metric_keys
    REFERENCING OLD TABLE AS old_keys
    FOR EACH STATEMENT EXECUTE FUNCTION cairn_metric_keys_in_use()""",
    # the triggers stand before the foreign keys go: no moment without either
    "ALTER TABLE metrics DROP CONSTRAINT fk_metrics_run_id_runs",
    "ALTER TABLE metrics DROP CONSTRAINT fk_metrics_key_id_metric_keys",
)

DOWNGRADE = (
    """ALTER TABLE metrics ADD CONSTRAINT fk_metrics_run_id_runs
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE""",
    """ALTER TABLE metrics ADD CONSTRAINT fk_metrics_key_id_metric_keys
    FOREIGN KEY (key_id) REFERENCES metric_keys (id)""",
    "DROP TRIGGER metric_keys_in_use ON metric_keys",
    "DROP FUNCTION cairn_metric_keys_in_use()",
    "DROP TRIGGER runs_delete_points ON runs",
    "DROP FUNCTION cairn_runs_delete_points()",
    "DROP TRIGGER metrics_check_refs ON metrics",
    "DROP FUNCTION cairn_metrics_check_refs()",
)


SHORT = sa.text("length(value) <= 256")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)
        for table in ("params", "run_tags"):
            op.create_index(
                f"ix_{table}_key_short_value", table, ["key", "value"], postgresql_where=SHORT
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("params", "run_tags"):
            op.drop_index(f"ix_{table}_key_short_value", table_name=table)
        for statement in DOWNGRADE:
            op.execute(statement)
