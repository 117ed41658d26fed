"""Hot-path statements: built with SQLAlchemy Core, compiled once per dialect, executed on the
driver's own cursor.

SQLAlchemy rebuilds statements and processes parameters on every call, which costs more than
SQLite's own insert for a 1,000-point batch and dominates a one-point request (about 35 µs per
statement through ``exec_driver_sql`` against 6 µs on the cursor). A prepared statement keeps
the one-code-path rule (the SQL still comes from Core, compiled for the connection's dialect)
while skipping that per-call work. It runs inside the caller's transaction. Use it only where a
benchmark shows the difference.
"""

from __future__ import annotations

import re
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import BindParameter, Connection, Table, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import Executable

from cairn.store.sql import FloatValue, dialect_insert, from_stored

Build = Callable[[str], Executable]


def cursor(conn: Connection) -> Any:
    """A cursor straight on the driver's connection (not through the pool's proxy), for
    several :meth:`Prepared.many` in a row (the caller closes it)."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _stored_floats(stmt: Any, dialect: str) -> tuple[int, ...]:
    """The positions of the result columns that need :func:`from_stored` on ``dialect`` (the
    driver's cursor skips SQLAlchemy's result processing: ±infinity on MySQL)."""
    if dialect != "mysql":
        return ()
    columns = getattr(stmt, "selected_columns", ())
    return tuple(i for i, c in enumerate(columns) if isinstance(c.type, FloatValue))


def _fix_floats(rows: list[Any], positions: tuple[int, ...]) -> list[Any]:
    out = []
    for row in rows:
        fixed = list(row)
        for i in positions:
            if fixed[i] is not None:
                fixed[i] = from_stored("mysql", fixed[i])
        out.append(tuple(fixed))
    return out


class Prepared:
    def __init__(self, stmt: Executable | Build, columns: Sequence[str] = ()):
        """``stmt`` is a statement, or builds one for a dialect name (for upserts);
        ``columns`` names the order of the tuples given to :meth:`many`."""
        self._stmt = stmt
        self._columns = tuple(columns)
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
        self._floats: dict[str, tuple[int, ...]] = {}
        self._row_type: Any = None
        self._lock = threading.Lock()

    def _sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        """The SQL for the connection's dialect, its positional parameter order, and the
        values the statement itself carries (an implicit OFFSET 0, say). The values are per
        dialect: the same generated name may mean a LIMIT on one and an OFFSET on another."""
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            stmt = self._stmt if isinstance(self._stmt, Executable) else self._stmt(name)
            compiled = stmt.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
            order = tuple(compiled.positiontup) if compiled.positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = (str(compiled), order, defaults)
            with self._lock:
                self._floats[name] = _stored_floats(stmt, name)
                self._compiled[name] = found
        return found

    def rows(self, conn: Connection, **params: Any) -> list[tuple[Any, ...]]:
        """Run a query with named parameters; all result rows as tuples."""
        sql, order, defaults = self._sql(conn)
        if defaults:
            params = {**defaults, **params}
        args: Any = tuple(params[n] for n in order) if order is not None else params
        cur = cursor(conn)
        try:
            cur.execute(sql, args)
            found = list(cur.fetchall())
        finally:
            cur.close()
        floats = self._floats.get(conn.dialect.name)
        return _fix_floats(found, floats) if floats else found

    def first(self, conn: Connection, **params: Any) -> tuple[Any, ...] | None:
        found = self.rows(conn, **params)
        return found[0] if found else None

    def named(self, conn: Connection, **params: Any) -> list[Any]:
        """Like :meth:`rows`, with each row a named tuple of the selected columns."""
        found = self.rows(conn, **params)
        if self._row_type is None:
            stmt = self._stmt if isinstance(self._stmt, Executable) else self._stmt("sqlite")
            names = [c.name for c in stmt.selected_columns]  # type: ignore[attr-defined]
            self._row_type = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        return [self._row_type(*row) for row in found]

    def many(self, conn: Connection, rows: Sequence[tuple[Any, ...]], cur: Any = None) -> int:
        """executemany with rows as tuples in ``columns`` order; the number of rows changed.
        ``cur``: a driver cursor of ``conn`` (:func:`cursor`) to run it on, left open."""
        if not rows:
            return 0
        sql, order, _ = self._sql(conn)
        cols = self._columns
        if order is None:
            args: Any = [dict(zip(cols, row, strict=True)) for row in rows]
        elif order == cols:
            args = rows
        else:
            idx = [cols.index(n) for n in order]
            args = [tuple(row[i] for i in idx) for row in rows]
        own = cur is None
        if own:
            cur = cursor(conn)
        try:
            if len(args) == 1:  # the one-point request's case: execute skips executemany's setup
                cur.execute(sql, args[0])
            else:
                cur.executemany(sql, args)
            return int(cur.rowcount)
        finally:
            if own:
                cur.close()


def _array_text(values: Sequence[Any]) -> str:
    """PostgreSQL's text form of an array of ints, floats or bools (``{1,2.5,inf}``), made by
    one ``join`` (``repr`` of a float reads back as the same double; PostgreSQL reads
    ``inf``/``-inf``). psycopg's own array dumpers treat each element in Python: at 1,000
    points a batch that costs more than the insert. A NaN never reaches here (points store
    it as a flag) and neither does a string."""
    if type(values[0]) is bool:
        return "{" + ",".join(["t" if v else "f" for v in values]) + "}"
    return "{" + ",".join(map(repr, values)) + "}"


class BulkInsert(Prepared):
    """``INSERT … ON CONFLICT DO NOTHING`` of many rows of ``table``.

    On PostgreSQL the rows go in as one statement over one array per column
    (``INSERT … SELECT * FROM unnest(…)``): one Bind/Execute for the whole batch instead of
    one per row, and one plan. In a profile of 1,000-point batches psycopg's pipelined
    ``executemany`` took 9.4 s of 11 s: per-row work in Python and one Bind/Execute per row
    (docs/benchmarks.md, "Tracking on PostgreSQL").
    Rows repeated within a batch are skipped as a conflict, as a second ``executemany`` row
    is. Elsewhere it is :meth:`Prepared.many` of the same INSERT.
    """

    def __init__(self, table: Table, columns: Sequence[str]):
        self._table = table
        super().__init__(self._build, columns)

    def _build(self, dialect: str) -> Executable:
        if dialect != "postgresql":
            stmt: Executable = dialect_insert(dialect, self._table).on_conflict_do_nothing()
            return stmt
        cols = self._columns
        arrays = [cast(bindparam(c), ARRAY(self._table.c[c].type)) for c in cols]
        rows = func.unnest(*arrays).table_valued(*cols).render_derived()
        insert = dialect_insert(dialect, self._table).from_select(cols, select(*rows.c))
        return insert.on_conflict_do_nothing()  # type: ignore[no-any-return]

    def many(self, conn: Connection, rows: Sequence[tuple[Any, ...]], cur: Any = None) -> int:
        if conn.dialect.name != "postgresql" or not rows:
            return super().many(conn, rows, cur)
        sql, _, _ = self._sql(conn)
        columns = zip(*rows, strict=True)
        arrays = {c: _array_text(v) for c, v in zip(self._columns, columns, strict=True)}
        own = cur is None
        if own:
            cur = cursor(conn)
        try:
            cur.execute(sql, arrays)
            return int(cur.rowcount)
        finally:
            if own:
                cur.close()


IN_BUCKETS = (1, 16, 128, 1000)
_ONE_IN = re.compile(r"IN \(%\(ids_1\)s(::[A-Z][A-Z ]*(?:\(\d+\))?)?\)")


def _ids_array(ids: Sequence[Any]) -> Any:
    """The ``= ANY(%(ids)s::INTEGER[])`` parameter (the cast is required) for ``ids``:
    PostgreSQL's text form of the array when they are all ints (a str is sent untyped, so
    the statement's cast reads it), else the
    list for psycopg to dump. psycopg's list dumper treats each element in Python (isinstance
    and a dumper lookup each): in a thread-CPU profile of a 100-run search page its six
    dumps were the costliest client step after building the runs."""
    if {*map(type, ids)} == {int}:
        return _array_text(ids)
    return list(ids)


class PreparedIn:
    """A SELECT with one ``IN (:ids)`` list, precompiled for a few list sizes; shorter lists
    are padded with a value that never names a row (``pad``: ``-1`` for integer ids, ``""``
    for text ones).

    On PostgreSQL the list is one array parameter instead (``= ANY(%(ids)s::BIGINT[])``),
    whatever its length: a statement with 128 or 1,000 parameters is longer than psycopg
    caches, so it parsed the query text again on every call (about 3 ms of client CPU for
    each of the six queries that load a page of runs) and PostgreSQL planned it again too.
    Integer ids go as the array's text form (:func:`_ids_array`), made once for all the
    queries of :meth:`rows_of_all`.
    """

    def __init__(self, build: Callable[[BindParameter[Any]], Executable], pad: Any = -1):
        self._build = build
        self._pad = pad
        self._compiled: dict[tuple[str, int], tuple[str, bool]] = {}
        self._floats: dict[str, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def _sql(self, conn: Connection, size: int) -> tuple[str, bool]:
        key = (conn.dialect.name, size)
        found = self._compiled.get(key)
        if found is None:
            stmt = self._build(bindparam("ids", value=[self._pad] * size, expanding=True))
            compiled = stmt.compile(  # type: ignore[attr-defined]
                dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
            )
            found = (str(compiled), bool(compiled.positional))
            with self._lock:
                self._floats[conn.dialect.name] = _stored_floats(stmt, conn.dialect.name)
                self._compiled[key] = found
        return found

    def _any_sql(self, conn: Connection) -> str | None:
        """PostgreSQL: the statement with ``= ANY`` of one array for the list (None if the
        list was not compiled as expected: then the padded lists serve)."""
        key = (conn.dialect.name, 0)
        found = self._compiled.get(key)
        if found is None:
            sql, _ = self._sql(conn, 1)
            one = _ONE_IN.findall(sql)
            rewritten = ""
            if len(one) == 1:
                rewritten = _ONE_IN.sub(lambda m: f"= ANY(%(ids)s{m.group(1) or ''}[])", sql)
            found = (rewritten, False)
            with self._lock:
                self._compiled[key] = found
        return found[0] or None

    @staticmethod
    def rows_of_all(
        conn: Connection, queries: Sequence[PreparedIn], ids: Sequence[Any]
    ) -> list[list[tuple[Any, ...]]]:
        """The rows of several queries for the same ids. On PostgreSQL they are sent together
        in one pipeline: one round trip instead of one per query (loading a page of runs
        is six). Elsewhere, and if a query has no ``= ANY`` form, one :meth:`rows` each."""
        sqls = [q._any_sql(conn) for q in queries] if conn.dialect.name == "postgresql" else []
        if not ids or not sqls or any(sql is None for sql in sqls):
            return [q.rows(conn, ids) for q in queries]
        driver: Any = conn.connection.dbapi_connection
        typed = all("%(ids)s::" in sql for sql in sqls if sql is not None)
        args = {"ids": _ids_array(ids) if typed else list(ids)}
        cursors = [driver.cursor() for _ in sqls]
        try:
            with driver.pipeline():
                for cur, sql in zip(cursors, sqls, strict=True):
                    cur.execute(sql, args)
            return [list(cur.fetchall()) for cur in cursors]
        finally:
            for cur in cursors:
                cur.close()

    def rows(self, conn: Connection, ids: Sequence[Any]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        top = IN_BUCKETS[-1]
        if conn.dialect.name == "postgresql" and ids:
            sql = self._any_sql(conn)
            if sql is not None:
                cur = cursor(conn)
                try:
                    typed = "%(ids)s::" in sql
                    cur.execute(sql, {"ids": _ids_array(ids) if typed else list(ids)})
                    return list(cur.fetchall())
                finally:
                    cur.close()
        cur = cursor(conn)
        try:
            for start in range(0, len(ids), top):
                part = list(ids[start : start + top])
                size = next(b for b in IN_BUCKETS if b >= len(part))
                part += [self._pad] * (size - len(part))
                sql, positional = self._sql(conn, size)
                args: Any = (
                    tuple(part) if positional else {f"ids_{i + 1}": v for i, v in enumerate(part)}
                )
                cur.execute(sql, args)
                out.extend(cur.fetchall())
        finally:
            cur.close()
        floats = self._floats.get(conn.dialect.name)
        return _fix_floats(out, floats) if floats else out
