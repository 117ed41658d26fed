"""Real databases for tests: a fresh SQLite file, PostgreSQL or MariaDB/MySQL database per use.

PostgreSQL must be reachable on 127.0.0.1:5432 (trust auth), MariaDB on 127.0.0.1:3306 (root,
empty password). If one is not running, we try to start the machine's server once; if that
fails the test fails loudly: it never skips.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]
"""The store backends a parametrized fixture runs on (``-m "not mysql"`` leaves one out)."""

PG_HOST = os.environ.get("CAIRN_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CAIRN_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CAIRN_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("CAIRN_TEST_PG_DB", "test")


def _admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname=PG_ADMIN_DB,
        autocommit=True,
        connect_timeout=5,
    )


def ensure_postgres() -> None:
    """Make sure the PostgreSQL server answers; start the local cluster once if it does not."""
    try:
        _admin_connect().close()
        return
    except psycopg.OperationalError:
        pass
    clusters = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    for version in clusters:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            timeout=60,
        )
    _admin_connect().close()  # raises: the test fails loudly, never skips


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URI, drop it afterwards."""
    ensure_postgres()
    name = f"cairn_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        drop_database(name)


def drop_database(name_or_uri: str) -> None:
    """Drop a test database (by name or URI), closing its connections first."""
    name = name_or_uri.rsplit("/", 1)[-1]
    with _admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MYSQL_HOST = os.environ.get("CAIRN_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("CAIRN_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("CAIRN_TEST_MYSQL_USER", "root")


def _mysql_admin_connect() -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, autocommit=True, connect_timeout=5
    )


def ensure_mysql() -> None:
    """Make sure MariaDB (or MySQL) answers; start the machine's server once if it does not."""
    try:
        _mysql_admin_connect().close()
        return
    except pymysql.err.OperationalError:
        pass
    subprocess.run(["service", "mariadb", "start"], check=False, timeout=120)
    _mysql_admin_connect().close()  # raises: the test fails loudly, never skips


_MYSQL_FREE: list[str] = []
"""Emptied databases at the head revision, ready for the next test (this process only)."""
_MYSQL_SEED: dict[str, list[tuple[Any, ...]]] = {}
"""The rows the migrations themselves write, by table: what an emptied database gets back."""


def _mysql_db_connect(name: str) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        database=name,
        autocommit=True,
        connect_timeout=5,
        charset="utf8mb4",
    )


def _mysql_state(cur: Any) -> tuple[str | None, set[str], list[str]]:
    """(alembic revision, trigger names, table names) of the connection's database."""
    cur.execute("SHOW TABLES")
    tables = [r[0] for r in cur.fetchall()]
    revision = None
    if "alembic_version" in tables:
        cur.execute("SELECT version_num FROM alembic_version")
        row = cur.fetchone()
        revision = row[0] if row else None
    cur.execute("SHOW TRIGGERS")
    return revision, {r[0] for r in cur.fetchall()}, tables


def _mysql_empty(name: str) -> bool:
    """Put a used test database back in the state the migrations leave an empty one in;
    False when it cannot be (another schema revision, triggers changed: drop it instead)."""
    from cairn.store.db import MYSQL_SQL_MODE
    from cairn.store.migrate import head_revision

    conn = _mysql_db_connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION lock_wait_timeout = 5")
            cur.execute(f"SET SESSION sql_mode = '{MYSQL_SQL_MODE}'")
            revision, triggers, tables = _mysql_state(cur)
            if revision != head_revision() or triggers != _MYSQL_TRIGGERS:
                return False
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            cur.execute("UPDATE change_head SET pruning = 1")  # lets the guard allow DELETE
            for table in tables:
                if table != "change_head":
                    cur.execute(f"DELETE FROM `{table}`")
            cur.execute("DELETE FROM change_head")
            cur.execute(
                "SELECT TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT > 1"
            )
            for (table,) in cur.fetchall():
                cur.execute(f"ALTER TABLE `{table}` AUTO_INCREMENT = 1")
            for table, rows in _MYSQL_SEED.items():
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    cur.executemany(f"INSERT INTO `{table}` VALUES ({marks})", rows)
            cur.execute("SET FOREIGN_KEY_CHECKS = 1")
        return True
    except pymysql.err.MySQLError:
        return False
    finally:
        conn.close()


_MYSQL_TRIGGERS: set[str] = set()


def _mysql_prepare(name: str) -> None:
    """Migrate a new database to the head revision; the first one also gives the seed rows."""
    from cairn.store.db import Database
    from cairn.store.migrate import ensure_schema

    db = Database(f"mysql+pymysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{name}", pool_size=1)
    try:
        ensure_schema(db.write_engine)
    finally:
        db.close()
    if _MYSQL_SEED:
        return
    conn = _mysql_db_connect(name)
    try:
        with conn.cursor() as cur:
            _, triggers, tables = _mysql_state(cur)
            _MYSQL_TRIGGERS.update(triggers)
            for table in tables:
                cur.execute(f"SELECT * FROM `{table}`")
                _MYSQL_SEED[table] = list(cur.fetchall())
    finally:
        conn.close()


def _mysql_drop(name: str) -> None:
    conn = _mysql_admin_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@contextmanager
def fresh_mysql_database() -> Iterator[str]:
    """An empty MariaDB/MySQL store at the head revision; yields its SQLAlchemy URI.

    Creating Cairn's 60 tables costs MariaDB about ten seconds, so a test's database is
    emptied afterwards (every row deleted, the migrations' own rows put back, counters reset)
    and handed to the next test; one left at another revision or with other triggers is
    dropped. The database is created with the server's defaults: Cairn itself makes its tables
    case-sensitive (``cairn.store.migrations.env``), as it must on a database a user created.
    """
    ensure_mysql()
    if _MYSQL_FREE:
        name = _MYSQL_FREE.pop()
    else:
        name = f"cairn_test_{uuid.uuid4().hex[:12]}"
        conn = _mysql_admin_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}`")
        finally:
            conn.close()
        _mysql_prepare(name)
    try:
        yield f"mysql+pymysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    except BaseException:
        _mysql_drop(name)
        raise
    if _mysql_empty(name):
        _MYSQL_FREE.append(name)
    else:
        _mysql_drop(name)


@contextmanager
def unmigrated_mysql_database() -> Iterator[str]:
    """A MariaDB/MySQL database without any table (for migration tests), dropped afterwards."""
    ensure_mysql()
    name = f"cairn_test_{uuid.uuid4().hex[:12]}"
    conn = _mysql_admin_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
    finally:
        conn.close()
    try:
        yield f"mysql+pymysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    finally:
        _mysql_drop(name)


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URI on ``backend`` (``sqlite``, ``postgres`` or ``mysql``)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'cairn.db'}"
    elif backend == "postgres":
        with fresh_postgres_database() as uri:
            yield uri
    elif backend == "mysql":
        with fresh_mysql_database() as uri:
            yield uri
    else:
        raise ValueError(f"unknown test backend {backend!r}")
