"""Small SQL helpers that hide the few differences between SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table
from sqlalchemy.dialects import postgresql, sqlite


def now_ms() -> int:
    return int(time.time() * 1000)


def upsert_insert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return dialect_insert(conn.dialect.name, table)


def dialect_insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def like(conn: Connection, column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    """Case-sensitive LIKE on every backend (SQLite's LIKE ignores case, so use GLOB there)."""
    if conn.dialect.name == "sqlite":
        return column.op("GLOB")(like_to_glob(pattern))
    return column.like(pattern)


def ilike(column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    return column.ilike(pattern)


def like_to_glob(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


AnyRow = Row[*tuple[Any, ...]]
"""A result row of any shape (SQLAlchemy 2.1 types rows by their column tuple)."""
