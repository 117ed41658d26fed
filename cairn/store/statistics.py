"""Planner statistics on PostgreSQL: Cairn analyzes its own tables once they have changed a lot.

PostgreSQL plans from the statistics ``ANALYZE`` gathers. Its autovacuum daemon runs it on a
table once ``50 + 10 %`` of its rows changed since the last time, but only where autovacuum is
on, and only on its next pass over the database (a minute or more later). A table filled since
then has no statistics or stale ones: with none, the planner guesses, and loading the params
of 100 runs out of 10,000 became a sequential scan of all 100,000 params (100 ms instead of
under one; measured with ``EXPLAIN ANALYZE`` on a freshly filled store). The periodic job
:func:`analyze_stale` applies autovacuum's rule itself, a few seconds after the change, and
whether or not autovacuum is on. Where it is on, whichever analyzes a table first resets its
change count and the other finds nothing to do.

MySQL keeps its own statistics up to date (InnoDB's persistent statistics are recalculated
after 10 % of a table changes); there this does nothing. So it does on SQLite, which has
statistics only once ``ANALYZE`` ran and never gathers them by itself: Cairn does not run it
there. With them as without, SQLite's plan for a filtered run search listed every run each
condition matched (``EXPLAIN QUERY PLAN`` on a 100,000-run store, docs/benchmarks.md "Big
stores"); the run search reads a window of the order's index first instead
(``cairn.store.run_search``), which needs none.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from cairn.store.schema import metadata

THRESHOLD = 50
"""Rows changed before any ANALYZE (autovacuum_analyze_threshold's default)."""
SCALE = 0.1
"""And this share of the table's rows (autovacuum_analyze_scale_factor's default)."""

_CHANGED = text(
    "SELECT s.relname, s.n_mod_since_analyze, c.reltuples "
    "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema()"
)


def stale_tables(engine: Engine) -> list[str]:
    """Cairn's tables that changed by more than autovacuum's rule since their last ANALYZE
    (on PostgreSQL; none elsewhere)."""
    if engine.dialect.name != "postgresql":
        return []
    ours = set(metadata.tables)
    with engine.connect() as conn:
        rows = conn.execute(_CHANGED).all()
    return sorted(
        name
        for name, changed, tuples in rows
        if name in ours and changed > THRESHOLD + SCALE * max(float(tuples), 0.0)
    )


def analyze_stale(engine: Engine) -> list[str]:
    """``ANALYZE`` each of :func:`stale_tables`, each committed on its own; their names."""
    tables = stale_tables(engine)
    if not tables:
        return []
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in tables:
            conn.execute(text(f"ANALYZE {quote(name)}"))
    return tables
