"""The schema's compatibility record: the oldest revision whose servers may still run against
this schema, for rolling upgrades (written by every upgrade, see cairn.store.migrate).

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

expand_only = True
"""Only adds (a table): servers of revision 0015 run against it unchanged."""


def upgrade() -> None:
    op.create_table(
        "schema_compat",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("oldest_compatible", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schema_compat")),
    )


def downgrade() -> None:
    op.drop_table("schema_compat")
