"""Indexes that keep run search flat as a store grows (measured at 1,000,000 runs by
benchmarks/bigstore_bench.py, docs/benchmarks.md "Big stores"):

- ``ix_runs_start_time`` (start_time, run_uuid): a search over several experiments in the
  default order (start_time DESC, then the run) was a full scan and sort of the runs of those
  experiments, since ``ix_runs_experiment_start`` gives that order within one experiment only;
  the database now walks this index from the newest run and stops after a page.
- on PostgreSQL, hash indexes on ``params.value`` and ``run_tags.value``: an equality filter
  on a param or tag (``tags.`mlflow.runName` = 'x'``) read every row with that key. SQLite has
  (key, value) B-trees since 0001; PostgreSQL's B-tree refuses entries over ~2.7 kB and values
  may be 8,000 characters, a hash index stores only the value's hash (as traces' tags, 0013).

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

expand_only = True
"""Only adds indexes: servers of revision 0016 run against it unchanged."""


def upgrade() -> None:
    op.create_index("ix_runs_start_time", "runs", ["start_time", "run_uuid"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_params_value_hash", "params", ["value"], postgresql_using="hash")
        op.create_index("ix_run_tags_value_hash", "run_tags", ["value"], postgresql_using="hash")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_run_tags_value_hash", table_name="run_tags")
        op.drop_index("ix_params_value_hash", table_name="params")
    op.drop_index("ix_runs_start_time", table_name="runs")
