"""The job engine: jobs, outbox consumer cursors, periodic job schedule.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UNFINISHED = "key IS NOT NULL AND state IN ('pending', 'running')"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires", sa.BigInteger(), nullable=True),
        sa.Column("run_after", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("key", sa.String(length=256), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"])
    op.create_index("ix_jobs_kind_id", "jobs", ["kind", "id"])
    if op.get_bind().dialect.name == "mysql":  # no partial indexes: see cairn.store.schema
        op.execute(
            "ALTER TABLE jobs ADD COLUMN unfinished_key VARCHAR(256) AS (CASE WHEN "
            f"{UNFINISHED.replace('key', '`key`')} THEN `key` END) VIRTUAL"
        )
        op.execute("CREATE UNIQUE INDEX ix_jobs_unfinished_key ON jobs (kind, unfinished_key)")
    else:
        op.create_index(
            "ix_jobs_unfinished_key",
            "jobs",
            ["kind", "key"],
            unique=True,
            sqlite_where=sa.text(UNFINISHED),
            postgresql_where=sa.text(UNFINISHED),
        )
    op.create_table(
        "job_cursors",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_cursors")),
    )
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("next_at", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("last_started", sa.BigInteger(), nullable=True),
        sa.Column("last_finished", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_periodic_runs")),
    )


def downgrade() -> None:
    op.drop_table("periodic_runs")
    op.drop_table("job_cursors")
    op.drop_index("ix_jobs_unfinished_key", table_name="jobs")
    op.drop_index("ix_jobs_kind_id", table_name="jobs")
    op.drop_index("ix_jobs_state_run_after", table_name="jobs")
    op.drop_table("jobs")
