"""The Alembic history builds exactly the live schema, and newer schemas are refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from cairn.entities.errors import CairnError
from cairn.store.db import Database
from cairn.store.migrate import (
    current_revision,
    ensure_schema,
    head_revision,
    oldest_compatible,
    recorded_oldest_compatible,
    upgrade,
)
from cairn.store.schema import MYSQL_ONLY, metadata
from tests.databases import unmigrated_mysql_database


def _applies_here(dialect: str) -> object:
    def include(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        if dialect == "mysql" and reflected and name in MYSQL_ONLY:
            return False
        ddl_if = getattr(obj, "_ddl_if", None)  # indexes and keys made on some dialects only
        if ddl_if is None or ddl_if.dialect in (None, dialect):
            return True
        return isinstance(ddl_if.dialect, tuple) and dialect in ddl_if.dialect

    return include


def test_migrations_match_schema(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    # reflection on an engine of its own: Cairn's engine binds integers as BIGINT on PostgreSQL
    inspecting = create_engine(database.uri)
    try:
        with inspecting.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": _applies_here(conn.dialect.name)}
            )
            diff = compare_metadata(context, metadata)
    finally:
        inspecting.dispose()
    assert diff == [], diff


def test_older_schema_upgrades_and_newer_is_refused(store_uri: str) -> None:
    db = Database(store_uri)  # not started: the migration owns the write connection
    try:
        ensure_schema(db.write_engine)  # empty -> head
        assert current_revision(db.engine) == head_revision()
        # a newer Cairn whose migrations after this one's head only added: served as it is
        _newer(db, "9999", oldest_compatible=head_revision())
        assert ensure_schema(db.write_engine) == "9999"
        assert current_revision(db.engine) == "9999"  # not touched
        # a newer Cairn that changed what this one uses (a contract step): refused
        _newer(db, "9999", oldest_compatible="9998")
        with pytest.raises(CairnError) as err:
            ensure_schema(db.write_engine)
        assert "newer" in err.value.message
        assert "9998" in err.value.message
    finally:
        db.close()


def _newer(db: Database, revision: str, oldest_compatible: str) -> None:
    """The database as a newer Cairn's upgrade leaves it: its revision and its record of the
    oldest revision whose servers may still run against it."""
    with db.write_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
        conn.execute(text("UPDATE schema_compat SET oldest_compatible = :o"),
                     {"o": oldest_compatible})  # fmt: skip


def test_an_upgrade_records_which_servers_may_still_run(store_uri: str) -> None:
    db = Database(store_uri)
    try:
        ensure_schema(db.write_engine)
        # 0016 (the record's own table) and 0017 (indexes) only add: servers of 0015 may run
        assert oldest_compatible() == "0015"
        assert recorded_oldest_compatible(db.write_engine) == oldest_compatible()
    finally:
        db.close()


@pytest.mark.mysql
@pytest.mark.parametrize(
    ("is_mariadb", "version", "named"),
    [(False, (8, 0, 40), "MySQL 8.0.40"), (True, (10, 4, 34), "MariaDB 10.4.34")],
)
def test_a_server_without_insert_returning_is_refused_before_anything_runs(
    is_mariadb: bool, version: tuple[int, ...], named: str
) -> None:
    """MySQL (no INSERT … RETURNING) and MariaDB before 10.5 are refused when the schema is
    checked or upgraded, with what to use instead, not by a failing request later. Shown on
    the real MariaDB, its dialect told it is the other server once connected."""
    with unmigrated_mysql_database() as uri:
        db = Database(uri)
        try:
            engine = db.write_engine
            with engine.connect():  # the dialect reads the server's kind and version now
                pass
            engine.dialect.is_mariadb = is_mariadb  # type: ignore[attr-defined]
            engine.dialect.server_version_info = version
            for attempt in (ensure_schema, upgrade):
                with pytest.raises(CairnError) as err:
                    attempt(engine)
                assert named in err.value.message
                assert "MariaDB 10.11+ or PostgreSQL" in err.value.message
            assert current_revision(engine) is None  # nothing was created
        finally:
            db.close()
