"""The change-event log: one hash-chained row per state change, and the chain's head.

Frozen like every revision: it spells its tables out and never imports cairn.store.schema.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "change_events",
        # INTEGER on SQLite: the id is the rowid, no second b-tree for the primary key
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("experiment_id", sa.String(length=32), nullable=True),
        sa.Column("model_name", sa.String(length=256), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("claimed_user", sa.String(length=256), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
    )
    for name, columns in (
        ("ix_change_events_actor", ["actor", "id"]),
        ("ix_change_events_entity", ["entity_type", "entity_id", "id"]),
        ("ix_change_events_experiment", ["experiment_id", "id"]),
    ):
        op.create_index(name, "change_events", columns, unique=False)
    # the tracking hot path's actions (most of the log) stay out of the action index
    uncommon = sa.text(
        "action NOT IN ('run.log_batch', 'run.log_metric', 'run.log_param', 'run.set_tag')"
    )
    op.create_index(
        "ix_change_events_action",
        "change_events",
        ["action", "id"],
        unique=False,
        sqlite_where=uncommon,
        postgresql_where=uncommon,
    )
    # most events (a run's) belong to no registered model: they stay out of this index
    only_models = sa.text("model_name IS NOT NULL")
    op.create_index(
        "ix_change_events_model",
        "change_events",
        ["model_name", "id"],
        unique=False,
        sqlite_where=only_models,
        postgresql_where=only_models,
    )
    head = op.create_table(
        "change_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("first_prev_hash", sa.String(length=64), nullable=False),
        sa.Column("pruning", sa.Boolean(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_head")),
    )
    op.bulk_insert(
        head,
        [
            {
                "id": 1,
                "seq": 0,
                "hash": GENESIS,
                "first_id": 1,
                "first_prev_hash": GENESIS,
                "pruning": False,
                "time": 0,
            }
        ],
    )
    for statement in APPEND_ONLY.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


# The database itself refuses to update or delete change events: only the retention prune,
# which raises change_head.pruning inside its own transaction, may delete.
APPEND_ONLY = {
    "sqlite": (
        """CREATE TRIGGER change_events_no_update BEFORE UPDATE ON change_events
        BEGIN SELECT RAISE(ABORT, 'change_events is append-only'); END""",
        """CREATE TRIGGER change_events_no_delete BEFORE DELETE ON change_events
        WHEN (SELECT pruning FROM change_head WHERE id = 1) = 0
        BEGIN SELECT RAISE(ABORT, 'change_events is append-only'); END""",
    ),
    "postgresql": (
        """CREATE FUNCTION cairn_change_events_append_only() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND (SELECT pruning FROM change_head WHERE id = 1) THEN
                RETURN NULL;
            END IF;
            RAISE EXCEPTION 'change_events is append-only';
        END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER change_events_append_only
        BEFORE UPDATE OR DELETE OR TRUNCATE ON change_events
        FOR EACH STATEMENT EXECUTE FUNCTION cairn_change_events_append_only()""",
    ),
    # MySQL/MariaDB: row triggers (a TRUNCATE is not refused: it needs the DROP privilege)
    "mysql": (
        """CREATE TRIGGER change_events_no_update BEFORE UPDATE ON change_events
        FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'change_events is append-only'""",
        """CREATE TRIGGER change_events_no_delete BEFORE DELETE ON change_events
        FOR EACH ROW IF (SELECT pruning FROM change_head WHERE id = 1) = 0 THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'change_events is append-only';
        END IF""",
    ),
}
DROP = {
    "sqlite": ("DROP TRIGGER change_events_no_update", "DROP TRIGGER change_events_no_delete"),
    "mysql": ("DROP TRIGGER change_events_no_update", "DROP TRIGGER change_events_no_delete"),
    "postgresql": (
        "DROP TRIGGER change_events_append_only ON change_events",
        "DROP FUNCTION cairn_change_events_append_only()",
    ),
}


def downgrade() -> None:
    for statement in DROP.get(op.get_bind().dialect.name, ()):
        op.execute(statement)
    op.drop_table("change_head")
    op.drop_table("change_events")
