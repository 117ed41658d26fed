"""The evaluation hub: evaluation jobs, their benchmarks and logs, and user collections.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("shape", sa.String(length=16), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("model_name", sa.String(length=512), nullable=False),
        sa.Column("registered_name", sa.String(length=256), nullable=True),
        sa.Column("registered_version", sa.Integer(), nullable=True),
        sa.Column("model_server", sa.String(length=256), nullable=True),
        sa.Column("model_url", sa.Text(), nullable=True),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("parent_run_uuid", sa.String(length=32), nullable=True),
        sa.Column("collection_id", sa.String(length=256), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("overall_score", sa.Double(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("runner_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_jobs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_evaluation_jobs_job_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_evaluation_jobs_state", "evaluation_jobs", ["state", "id"])
    op.create_index("ix_evaluation_jobs_experiment", "evaluation_jobs", ["experiment_id", "id"])
    op.create_index("ix_evaluation_jobs_model", "evaluation_jobs", ["model_name", "id"])
    op.create_index(
        "ix_evaluation_jobs_registered",
        "evaluation_jobs",
        ["registered_name", "registered_version", "id"],
    )
    op.create_table(
        "evaluation_benchmarks",
        sa.Column("job", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("benchmark_id", sa.String(length=256), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("weight", sa.Double(), server_default=sa.text("1"), nullable=False),
        sa.Column("primary_metric", sa.String(length=250), nullable=True),
        sa.Column("lower_is_better", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=64), nullable=True),
        sa.Column("progress", sa.Double(), nullable=True),
        sa.Column("run_uuid", sa.String(length=32), nullable=True),
        sa.Column("results", sa.Text(), nullable=True),
        sa.Column("primary_score", sa.Double(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job"],
            ["evaluation_jobs.id"],
            name=op.f("fk_evaluation_benchmarks_job_evaluation_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job", "idx", name=op.f("pk_evaluation_benchmarks")),
    )
    op.create_table(
        "evaluation_logs",
        sa.Column("job", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=True),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job"],
            ["evaluation_jobs.id"],
            name=op.f("fk_evaluation_logs_job_evaluation_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job", "seq", name=op.f("pk_evaluation_logs")),
    )
    op.create_table(
        "evaluation_collections",
        sa.Column("collection_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("benchmarks", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_evaluation_collections")),
    )


def downgrade() -> None:
    op.drop_table("evaluation_collections")
    op.drop_table("evaluation_logs")
    op.drop_table("evaluation_benchmarks")
    op.drop_index("ix_evaluation_jobs_registered", table_name="evaluation_jobs")
    op.drop_index("ix_evaluation_jobs_model", table_name="evaluation_jobs")
    op.drop_index("ix_evaluation_jobs_experiment", table_name="evaluation_jobs")
    op.drop_index("ix_evaluation_jobs_state", table_name="evaluation_jobs")
    op.drop_table("evaluation_jobs")
