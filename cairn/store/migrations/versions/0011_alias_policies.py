"""Model policies: the aliases Cairn keeps on a registered model's versions by itself.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alias_policies",
        sa.Column("model_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("latest", sa.Boolean(), nullable=False),
        sa.Column("latest_alias", sa.String(length=256), nullable=False),
        sa.Column("best_metric", sa.String(length=256), nullable=True),
        sa.Column("best_direction", sa.String(length=8), nullable=False),
        sa.Column("best_alias", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_alias_policies_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_alias_policies")),
    )


def downgrade() -> None:
    op.drop_table("alias_policies")
