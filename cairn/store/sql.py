"""Small SQL helpers that hide the few differences between SQLite, PostgreSQL and MySQL.

MySQL/MariaDB specifics kept here, in one place:

* ``Text`` columns are ``LONGTEXT`` (MySQL's ``TEXT`` holds 64 KB, a quarter of that in
  4-byte characters; the others have no such limit).
* ``INSERT … ON CONFLICT`` is written once with PostgreSQL's and SQLite's spelling
  (:func:`dialect_insert`); on MySQL it becomes ``INSERT IGNORE`` (do nothing) or
  ``ON DUPLICATE KEY UPDATE`` (do update, its ``where`` folded into each assignment).
* MySQL's DOUBLE cannot hold ±infinity: :class:`FloatValue` columns store them as ±the
  largest double (and read that back as infinity), as MLflow does on MySQL; a NaN becomes
  NULL, as SQLite stores it (metric points keep NaN as an ``is_nan`` flag on every backend).
* Comparisons are case-sensitive, as on the others: :func:`mysql_collation` is the binary
  collation every table gets (see ``cairn.store.migrations.env``).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Double,
    Row,
    Table,
    Text,
    TypeDecorator,
    func,
    literal_column,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles


def now_ms() -> int:
    return int(time.time() * 1000)


def upsert_insert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return dialect_insert(conn.dialect.name, table)


def dialect_insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "mysql":
        return _MySQLInsert(table)
    return sqlite.insert(table)


_UPSERT_FLAG = "@cairn_upsert"


class _MySQLInsert(mysql.Insert):
    """MySQL's INSERT with PostgreSQL's ``on_conflict_*`` spelling (any unique key conflicts,
    as every Cairn upsert names its table's only key)."""

    inherit_cache = True

    @property
    def excluded(self) -> Any:
        return self.inserted

    def on_conflict_do_nothing(self, **_: Any) -> Any:
        return self.prefix_with("IGNORE")

    def on_conflict_do_update(
        self, *, set_: dict[Any, Any], where: ColumnElement[bool] | None = None, **_: Any
    ) -> Any:
        if where is None:
            return self.on_duplicate_key_update(set_)
        # MySQL assigns left to right and a later assignment sees the earlier ones' new
        # values: the condition is evaluated once, on the old row, into a session variable
        table = self.table
        out: dict[Any, Any] = {}
        for i, (col, value) in enumerate(set_.items()):
            name = col if isinstance(col, str) else col.name
            old = table.c[name]
            test: Any = literal_column(_UPSERT_FLAG)
            if i == 0:
                test = test.op(":=")(where.self_group())
            out[name] = func.IF(test, value, old)
        return self.on_duplicate_key_update(out)


@compiles(Text, "mysql")
def _mysql_text(type_: Text, compiler: Any, **kw: Any) -> str:
    return "LONGTEXT" if type_.length is None else str(compiler.visit_TEXT(type_, **kw))


def mysql_collation(conn: Connection) -> str:
    """The binary (case-sensitive) utf8mb4 collation that also tells ``'a'`` from ``'a '``:
    MariaDB's ``utf8mb4_nopad_bin``, MySQL 8's ``utf8mb4_0900_bin``, else ``utf8mb4_bin``."""
    for name in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin"):
        if conn.exec_driver_sql(f"SHOW COLLATION LIKE '{name}'").first() is not None:
            return name
    return "utf8mb4_bin"


DBL_MAX = sys.float_info.max


def to_stored(dialect: str, value: float) -> float:
    """``value`` as ``dialect`` can store it (±infinity as ±DBL_MAX on MySQL)."""
    if dialect == "mysql" and math.isinf(value):
        return math.copysign(DBL_MAX, value)
    return value


def from_stored(dialect: str, value: float) -> float:
    """The value :func:`to_stored` stored."""
    if dialect == "mysql" and abs(value) == DBL_MAX:
        return math.copysign(math.inf, value)
    return value


def _to_stored(value: Any) -> Any:
    if value is None or math.isnan(value):  # NULL, as SQLite stores a NaN
        return None
    return to_stored("mysql", value)


def _from_stored(value: Any) -> Any:
    return from_stored("mysql", value) if value is not None else None


class FloatValue(TypeDecorator[float]):
    """A DOUBLE that keeps ±infinity on every backend (no conversion but on MySQL)."""

    impl = Double
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return _to_stored if dialect.name == "mysql" else None

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        return _from_stored if dialect.name == "mysql" else None


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
