"""Real databases for tests: a fresh SQLite file or a fresh PostgreSQL database per use.

PostgreSQL must be reachable on 127.0.0.1:5432 (trust auth). If it is not running, we try to
start the machine's cluster once; if that fails the test fails loudly: it never skips.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

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
