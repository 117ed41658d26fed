"""Per-block summaries of metric series, so a chart of long series reads blocks, not points.

``metric_blocks`` holds, per run, metric key and block of 16 steps (block ``k`` covers steps
``16k`` to ``16k + 15``, steps ≥ 0 only), the block's row count, and the count, step range,
min, max and sum of its finite values and its NaN, +Infinity and -Infinity counts. The read
path (cairn/store/metric_blocks.py) builds a series' blocks after a chart first reads it and
uses them only while the series' row count still equals the sum of its blocks' row counts:
points are only ever added to a series (an identical point is a no-op; a run's points go
only with the run, and its blocks with it by the cascade), so an equal count means the same
points. Nothing on the write path touches the table.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

expand_only = True
"""Only adds a table that servers of revisions 0017 and 0019 never read nor write: they run
against it unchanged (their metric writes make blocks stale, which the count check sees;
their run deletions take the blocks along by the cascade)."""


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("key_id", sa.Integer, nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("finite_count", sa.BigInteger, nullable=False),
        sa.Column("step_min", sa.BigInteger, nullable=True),
        sa.Column("step_max", sa.BigInteger, nullable=True),
        sa.Column("value_min", sa.Double, nullable=True),
        sa.Column("value_max", sa.Double, nullable=True),
        sa.Column("value_sum", sa.Double, nullable=True),
        sa.Column("nan_count", sa.BigInteger, nullable=False),
        sa.Column("pos_inf_count", sa.BigInteger, nullable=False),
        sa.Column("neg_inf_count", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_metric_blocks_run_id_runs"
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["metric_keys.id"], name="fk_metric_blocks_key_id_metric_keys"
        ),
        sa.PrimaryKeyConstraint("run_id", "key_id", "block", name="pk_metric_blocks"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("metric_blocks")
