"""The change log's lookups by actor, entity and experiment move to a batched key table.

Appending an event then writes one row (plus the head) instead of a row and three index
entries; the keys of the newest events are written in batches (``change_head.indexed_through``
says how far). Existing events get their keys here.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_INDEXES = (
    ("ix_change_events_actor", ["actor", "id"]),
    ("ix_change_events_entity", ["entity_type", "entity_id", "id"]),
    ("ix_change_events_experiment", ["experiment_id", "id"]),
)


def upgrade() -> None:
    op.create_table(
        "change_event_keys",
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "id", name=op.f("pk_change_event_keys")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_change_event_keys_id", "change_event_keys", ["id"], unique=False)
    op.add_column(
        "change_head",
        sa.Column("indexed_through", sa.BigInteger(), nullable=False, server_default="0"),
    )
    # built with Core: "key" is a reserved word and || is OR on MySQL
    events = sa.table(
        "change_events",
        sa.column("id", sa.BigInteger()),
        sa.column("actor", sa.String()),
        sa.column("entity_type", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("experiment_id", sa.String()),
    )
    keys = sa.table("change_event_keys", sa.column("kind"), sa.column("key"), sa.column("id"))
    e = events.c
    for kind, key in (
        ("a", e.actor),
        ("e", e.entity_type + "/" + e.entity_id),
        ("x", e.experiment_id),
    ):
        chosen = sa.select(sa.literal(kind), key, e.id).where(key.is_not(None))
        op.execute(keys.insert().from_select(["kind", "key", "id"], chosen))
    op.execute("UPDATE change_head SET indexed_through = seq")
    for name, _ in OLD_INDEXES:
        op.drop_index(name, table_name="change_events")


def downgrade() -> None:
    for name, columns in OLD_INDEXES:
        op.create_index(name, "change_events", columns, unique=False)
    op.drop_column("change_head", "indexed_through")
    op.drop_index("ix_change_event_keys_id", table_name="change_event_keys")
    op.drop_table("change_event_keys")
