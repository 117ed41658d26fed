"""Initial schema: experiments, runs, params, tags, metrics, datasets.

Frozen: this revision spells its tables out and never imports cairn.store.schema, so that later
schema changes cannot rewrite history. tests/store/test_migrations.py checks that the migrated
database matches the live schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KEY = 250


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.String(1000), nullable=True),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            ondelete="CASCADE",
            name="fk_experiment_tags_experiment_id_experiments",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(KEY), nullable=True),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=True),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("artifact_uri", sa.String(1000), nullable=True),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        sa.Column("deleted_with_experiment", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            ondelete="CASCADE",
            name="fk_runs_experiment_id_experiments",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint("run_uuid", name="uq_runs_run_uuid"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time", "run_uuid"])
    for name in ("params", "run_tags"):
        op.create_table(
            name,
            sa.Column("run_id", sa.Integer, nullable=False),
            sa.Column("key", sa.String(KEY), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.ForeignKeyConstraint(
                ["run_id"], ["runs.id"], ondelete="CASCADE", name=f"fk_{name}_run_id_runs"
            ),
            sa.PrimaryKeyConstraint("run_id", "key", name=f"pk_{name}"),
            sqlite_with_rowid=False,
        )
        op.create_index(f"ix_{name}_key", name, ["key"])
        if op.get_bind().dialect.name == "sqlite":  # PostgreSQL caps btree entries at ~2.7 kB
            op.create_index(f"ix_{name}_key_value", name, ["key", "value"])
    op.create_table(
        "metric_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metric_keys"),
        sa.UniqueConstraint("key", name="uq_metric_keys_key"),
    )
    point_columns = (
        ("step", sa.BigInteger),
        ("timestamp", sa.BigInteger),
        ("value", sa.Double),
        ("is_nan", sa.Boolean),
    )
    for name, pk in (
        ("metrics", ("run_id", "key_id", "step", "timestamp", "value", "is_nan")),
        ("latest_metrics", ("run_id", "key_id")),
    ):
        op.create_table(
            name,
            sa.Column("run_id", sa.Integer, nullable=False),
            sa.Column("key_id", sa.Integer, nullable=False),
            *[sa.Column(col, typ, nullable=False) for col, typ in point_columns],
            sa.ForeignKeyConstraint(
                ["run_id"], ["runs.id"], ondelete="CASCADE", name=f"fk_{name}_run_id_runs"
            ),
            sa.ForeignKeyConstraint(
                ["key_id"], ["metric_keys.id"], name=f"fk_{name}_key_id_metric_keys"
            ),
            sa.PrimaryKeyConstraint(*pk, name=f"pk_{name}"),
            sqlite_with_rowid=False,
        )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key_id", "is_nan", "value"])
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_uuid", sa.String(36), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=True),
        sa.Column("profile", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            ondelete="CASCADE",
            name="fk_datasets_experiment_id_experiments",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint(
            "experiment_id", "name", "digest", name="uq_datasets_experiment_id_name_digest"
        ),
        sa.UniqueConstraint("dataset_uuid", name="uq_datasets_dataset_uuid"),
    )
    op.create_table(
        "run_inputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            ondelete="CASCADE",
            name="fk_run_inputs_dataset_id_datasets",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_run_inputs_run_id_runs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_run_inputs"),
        sa.UniqueConstraint("run_id", "dataset_id", name="uq_run_inputs_run_id_dataset_id"),
    )
    op.create_index("ix_run_inputs_dataset", "run_inputs", ["dataset_id"])
    op.create_table(
        "input_tags",
        sa.Column("input_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["input_id"],
            ["run_inputs.id"],
            ondelete="CASCADE",
            name="fk_input_tags_input_id_run_inputs",
        ),
        sa.PrimaryKeyConstraint("input_id", "key", name="pk_input_tags"),
    )
    # MLflow's convention: a fresh store has experiment "0" named "Default"
    experiments = sa.table(
        "experiments",
        sa.column("experiment_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("artifact_location", sa.String),
        sa.column("lifecycle_stage", sa.String),
        sa.column("creation_time", sa.BigInteger),
        sa.column("last_update_time", sa.BigInteger),
    )
    now = int(time.time() * 1000)
    op.bulk_insert(
        experiments,
        [
            {
                "experiment_id": 0,
                "name": "Default",
                "artifact_location": None,
                "lifecycle_stage": "active",
                "creation_time": now,
                "last_update_time": now,
            }
        ],
    )


def downgrade() -> None:
    for name in (
        "input_tags",
        "run_inputs",
        "datasets",
        "latest_metrics",
        "metrics",
        "metric_keys",
        "run_tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(name)
