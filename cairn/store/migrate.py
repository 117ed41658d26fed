"""Schema versions: create and upgrade with Alembic, refuse a schema newer than this Cairn
unless only additions separate them (rolling upgrades).

Every upgrade records, in ``schema_compat``, the oldest revision whose servers may still run
against the new schema: going back from the head over the migrations that only add (tables,
nullable columns, indexes; their module sets ``expand_only = True``), the revision before the
first of them. A server whose own head is that revision or later serves a newer schema as
it is (no upgrade, ready); anything older is refused, naming both revisions. A migration that
removes or changes what older servers use (a contract step) leaves ``expand_only`` unset, so
servers older than it stop being ready once it is applied: roll them first.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, delete, insert, inspect, select, text

from cairn.entities.errors import CairnError, ErrorCode

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def head_revision() -> str:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration tree must have exactly one head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(
        rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()
    )


@functools.cache
def oldest_compatible() -> str:
    """The oldest revision whose servers may run against a schema at this Cairn's head."""
    scripts = ScriptDirectory.from_config(_config())
    rev = scripts.get_revision(head_revision())
    while (
        rev is not None
        and getattr(rev.module, "expand_only", False)
        and isinstance(rev.down_revision, str)
    ):
        rev = scripts.get_revision(rev.down_revision)
    assert rev is not None
    return str(rev.revision)


def _record_compatibility(conn: Connection) -> None:
    from cairn.store.schema import schema_compat

    conn.execute(delete(schema_compat))
    conn.execute(
        insert(schema_compat).values(
            id=1, oldest_compatible=oldest_compatible(), updated_at=int(time.time() * 1000)
        )
    )


def recorded_oldest_compatible(engine: Engine) -> str | None:
    """What the last upgrade recorded (None before revision 0016, or without a record)."""
    from cairn.store.schema import schema_compat

    with engine.connect() as conn:
        if not inspect(conn).has_table("schema_compat"):
            return None
        return conn.execute(select(schema_compat.c.oldest_compatible)).scalar()


def serves(engine: Engine, current: str | None) -> bool:
    """Whether this Cairn serves a schema at ``current`` as it is: its own head, or a newer
    revision whose record says this Cairn's head is still compatible."""
    if current == head_revision():
        return True
    if current is None or current in known_revisions():
        return False  # older: it needs an upgrade
    oldest = recorded_oldest_compatible(engine)
    return oldest is not None and oldest in known_revisions()


PG_MIGRATION_LOCK = 0x636169726E  # "cairn"
"""The PostgreSQL advisory lock (transaction-scoped) held while the schema is upgraded."""
MYSQL_MIGRATION_LOCK = "cairn.migrate"
MYSQL_LOCK_WAIT_S = 600


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` (in one transaction where the DB allows),
    recording which servers may still run against it.

    One process at a time: several servers started together on an empty or older database
    would otherwise run the same migration at once (on PostgreSQL the second one fails on a
    duplicate table). The others wait for the lock, then find the schema at ``revision``."""
    check_server(engine)
    cfg = _config()
    with engine.begin() as conn:
        with _migration_lock(conn):
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            if revision in ("head", head_revision()):
                _record_compatibility(conn)


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


MARIADB_OLDEST = (10, 5)
"""The first MariaDB with ``INSERT … RETURNING``, which the store uses for new rows' ids."""


def check_server(engine: Engine) -> None:
    """Refuse a database server the store cannot run on, before it fails a request: MySQL
    (which has no ``INSERT … RETURNING``) and MariaDB older than 10.5."""
    if engine.dialect.name != "mysql":
        return
    with engine.connect():  # the dialect learns the server's kind and version on connecting
        pass
    version = tuple(
        int(part) for part in engine.dialect.server_version_info or () if isinstance(part, int)
    )
    if getattr(engine.dialect, "is_mariadb", False) and version >= MARIADB_OLDEST:
        return
    shown = ".".join(str(part) for part in version) or "unknown"
    kind = "MariaDB" if getattr(engine.dialect, "is_mariadb", False) else "MySQL"
    raise CairnError(
        f"{kind} {shown} is not supported: Cairn's store needs INSERT … RETURNING, which "
        "MariaDB has from 10.5 (10.11 or newer is tested) and MySQL does not have. Use MariaDB "
        "10.11+ or PostgreSQL (docs/server.md).",
        ErrorCode.INVALID_STATE,
    )


def ensure_schema(engine: Engine, *, auto_upgrade: bool = True) -> str:
    """Bring an older schema up to date; refuse one newer than this version of Cairn, and a
    database server the store cannot run on."""
    check_server(engine)
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return head
    if current is not None and current not in known_revisions():
        if serves(engine, current):  # a newer Cairn only added since: run against it as it is
            return current
        raise CairnError(
            f"The database schema (revision {current}) is newer than this version of Cairn "
            f"understands (head {head}), and the newer Cairn that upgraded it changed what this "
            f"one uses (servers from revision {recorded_oldest_compatible(engine) or 'its own'} "
            "on may run against it). Upgrade Cairn (pip install --upgrade cairn-ml), or point "
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
