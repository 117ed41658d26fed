"""Promotion approvals: a registered model's promotion policy, approval requests and votes.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _model_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["model_id"],
        ["registered_models.id"],
        name=op.f(f"fk_{table}_model_id_registered_models"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "promotion_policies",
        sa.Column("model_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stages", sa.Text(), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("approver_role", sa.String(length=256), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        _model_fk("promotion_policies"),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_promotion_policies")),
    )
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("target_stage", sa.String(length=20), nullable=True),
        sa.Column("target_alias", sa.String(length=256), nullable=True),
        sa.Column("archive_existing", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=False),
        _model_fk("approval_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_approval_requests_state", "approval_requests", ["state", "id"], unique=False
    )
    op.create_index(
        "ix_approval_requests_model", "approval_requests", ["model_id", "version"], unique=False
    )
    op.create_table(
        "approval_votes",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["approval_requests.id"],
            name=op.f("fk_approval_votes_request_id_approval_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "actor", name=op.f("pk_approval_votes")),
    )


def downgrade() -> None:
    op.drop_table("approval_votes")
    op.drop_index("ix_approval_requests_model", table_name="approval_requests")
    op.drop_index("ix_approval_requests_state", table_name="approval_requests")
    op.drop_table("approval_requests")
    op.drop_table("promotion_policies")
