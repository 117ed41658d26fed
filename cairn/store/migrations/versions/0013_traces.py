"""MLflow traces: trace info, tags, request metadata, spans (one row each), assessments and
links to runs.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _key_value(table: str) -> None:
    op.create_table(
        table,
        sa.Column("trace_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_pk"],
            ["traces.id"],
            name=op.f(f"fk_{table}_trace_pk_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trace_pk", "key", name=op.f(f"pk_{table}")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f(f"ix_{table}_key"), table, ["key"])
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(op.f(f"ix_{table}_key_value"), table, ["key", "value"])


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "traces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("client_request_id", sa.String(length=250), nullable=True),
        sa.Column("request_time", sa.BigInteger(), nullable=False),
        sa.Column("execution_duration", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("request_preview", sa.Text(), nullable=True),
        sa.Column("response_preview", sa.Text(), nullable=True),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name=op.f("fk_traces_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
        sa.UniqueConstraint("trace_id", name=op.f("uq_traces_trace_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_traces_experiment_id_request_time", "traces", ["experiment_id", "request_time", "id"]
    )
    op.create_index(
        "ix_traces_experiment_id_state", "traces", ["experiment_id", "state", "request_time"]
    )
    _key_value("trace_tags")
    _key_value("trace_metadata")
    if dialect == "postgresql":
        op.create_index(
            "ix_trace_tags_value_hash", "trace_tags", ["value"], postgresql_using="hash"
        )
    op.create_table(
        "spans",
        sa.Column("trace_pk", sa.Integer(), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("span_type", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("inputs_preview", sa.Text(), nullable=True),
        sa.Column("outputs_preview", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["trace_pk"], ["traces.id"], name=op.f("fk_spans_trace_pk_traces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("trace_pk", "span_id", name=op.f("pk_spans")),
        sqlite_with_rowid=False,
    )
    if dialect == "sqlite":
        op.create_index("ix_spans_name", "spans", ["name", "trace_pk"])
    if dialect == "postgresql":
        op.create_index("ix_spans_name_hash", "spans", ["name"], postgresql_using="hash")
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assessment_id", sa.String(length=64), nullable=False),
        sa.Column("trace_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=250), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        sa.Column("overrides", sa.String(length=64), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_pk"],
            ["traces.id"],
            name=op.f("fk_assessments_trace_pk_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
        sa.UniqueConstraint("assessment_id", name=op.f("uq_assessments_assessment_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_assessments_trace_pk", "assessments", ["trace_pk"])
    op.create_table(
        "trace_runs",
        sa.Column("trace_pk", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_pk"],
            ["traces.id"],
            name=op.f("fk_trace_runs_trace_pk_traces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_trace_runs_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("trace_pk", "run_id", name=op.f("pk_trace_runs")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_trace_runs_run_id", "trace_runs", ["run_id"])


def downgrade() -> None:
    for table in ("trace_runs", "assessments", "spans", "trace_metadata", "trace_tags", "traces"):
        op.drop_table(table)
