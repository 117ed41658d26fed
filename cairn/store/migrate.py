"""Schema versions: create and upgrade with Alembic, refuse a schema newer than this Cairn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from cairn.entities.errors import CairnError, ErrorCode

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration tree must have exactly one head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


PG_MIGRATION_LOCK = 0x636169726E  # "cairn"
"""The PostgreSQL advisory lock (transaction-scoped) held while the schema is upgraded."""
MYSQL_MIGRATION_LOCK = "cairn.migrate"
MYSQL_LOCK_WAIT_S = 600


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` (in one transaction where the DB allows).

    One process at a time: several servers started together on an empty or older database
    would otherwise run the same migration at once (on PostgreSQL the second one fails on a
    duplicate table). The others wait for the lock, then find the schema at ``revision``."""
    cfg = _config()
    with engine.begin() as conn:
        with _migration_lock(conn):
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)


@contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    """PostgreSQL: an advisory lock released when the transaction ends. MySQL/MariaDB (whose
    DDL commits as it goes): a named lock of the connection's session, released after.
    SQLite: nothing (its writers already take turns on the file)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        yield
    elif dialect == "mysql":
        got = conn.execute(
            text("SELECT GET_LOCK(:name, :wait)"),
            {"name": MYSQL_MIGRATION_LOCK, "wait": MYSQL_LOCK_WAIT_S},
        ).scalar()
        if got != 1:
            raise CairnError(
                f"Another process has been migrating the schema for {MYSQL_LOCK_WAIT_S} s",
                ErrorCode.INVALID_STATE,
            )
        try:
            yield
        finally:
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MYSQL_MIGRATION_LOCK})
    else:
        yield


def ensure_schema(engine: Engine, *, auto_upgrade: bool = True) -> str:
    """Bring an older schema up to date; refuse one newer than this version of Cairn."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return head
    if current is not None and current not in known_revisions():
        raise CairnError(
            f"The database schema (revision {current}) is newer than this version of Cairn "
            f"understands (head {head}). Upgrade Cairn (pip install --upgrade cairn-ml), or point "
            "it at another database with --backend-store-uri.",
            ErrorCode.INVALID_STATE,
        )
    if not auto_upgrade:
        raise CairnError(
            f"The database schema is at revision {current or 'none'}, this Cairn needs {head}. "
            "Run: cairn db upgrade --backend-store-uri <uri>",
            ErrorCode.INVALID_STATE,
        )
    upgrade(engine)
    return head
