"""Metric alerts: alert rules and the alerts they fire and resolve.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("filter", sa.Text(), nullable=True),
        sa.Column("metric", sa.String(length=250), nullable=True),
        sa.Column("op", sa.String(length=4), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("against", sa.String(length=16), nullable=True),
        sa.Column("measure", sa.String(length=16), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("seeded", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name=op.f("fk_alert_rules_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_alert_rules_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_rules_experiment", "alert_rules", ["experiment_id"], unique=False)
    op.create_index("ix_alert_rules_model", "alert_rules", ["model_id"], unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=300), nullable=False),
        sa.Column("experiment_id", sa.String(length=32), nullable=True),
        sa.Column("model_name", sa.String(length=256), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fired_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=256), nullable=True),
        sa.Column("acknowledged_at", sa.BigInteger(), nullable=True),
        sa.Column("open_key", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_alerts_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alerts_open_key")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alerts_state", "alerts", ["state", "id"], unique=False)
    op.create_index("ix_alerts_rule_subject", "alerts", ["rule_id", "subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_rule_subject", table_name="alerts")
    op.drop_index("ix_alerts_state", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_alert_rules_model", table_name="alert_rules")
    op.drop_index("ix_alert_rules_experiment", table_name="alert_rules")
    op.drop_table("alert_rules")
