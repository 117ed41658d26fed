"""Searching runs: filter, order and keyset-paginate in SQL, then load the page in bulk."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Table,
    and_,
    case,
    func,
    select,
)

from cairn.entities.errors import CairnError
from cairn.entities.tracking import Page, Run, RunQuery
from cairn.store.filters import RunFilter
from cairn.store.metric_keys import MetricKeys
from cairn.store.paging import (
    SortKeys,
    check_max_results,
    decode_token,
    keyset_page,
    query_fingerprint,
)
from cairn.store.run_data import INFO_COLUMNS, load_runs
from cairn.store.schema import latest_metrics, params, run_tags, runs
from cairn.store.search.ast import And, Comparison, Expr, Or, OrderBy
from cairn.store.search.parser import parse_filter, parse_order_bys
from cairn.store.search.profiles import RUNS

MAX_RESULTS = 50_000

ATTRIBUTES: dict[str, ColumnElement[Any]] = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
    "lifecycle_stage": runs.c.lifecycle_stage,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "experiment_id": runs.c.experiment_id,
}


def search_runs(conn: Connection, keys: MetricKeys, q: RunQuery) -> Page[Run]:
    check_max_results(q.max_results, MAX_RESULTS)
    expr = parse_filter(q.filter, RUNS)
    orders = parse_order_bys(q.order_by, RUNS)
    sort_keys, source, joined = _sort_keys(conn, keys, orders, _required_metrics(expr))
    fingerprint = query_fingerprint(
        "runs", sorted(q.experiment_ids), q.filter or "", list(q.order_by), q.view_type.value
    )
    found = None
    if conn.dialect.name == "sqlite":
        found = _windowed(conn, keys, q, expr, orders, sort_keys, source, joined, fingerprint)
    if found is None:
        listed = _shortest_list(conn, keys, expr, joined) if conn.dialect.name == "sqlite" else None
        run_filter = RunFilter(
            conn, keys, runs.c.id, ATTRIBUTES, joined, correlated=listed is not None, listed=listed
        )
        query = _query(q, source, runs.c.experiment_id, run_filter(expr))
        found = keyset_page(conn, query, sort_keys, q.max_results, q.page_token, fingerprint)
    rows, token = found
    return Page(load_runs(conn, rows), next_page_token=token)


def _query(
    q: RunQuery,
    source: FromClause,
    experiment_id: ColumnElement[int],
    condition: ColumnElement[bool],
) -> Select[Any]:
    return (
        select(*INFO_COLUMNS)
        .select_from(source)
        .where(experiment_id.in_(q.experiment_ids))
        .where(runs.c.lifecycle_stage.in_(q.view_type.stages()))
        .where(condition)
    )


LIST_PROBE = 20_000
"""Runs counted at most per condition by :func:`_shortest_list`."""


def _shortest_list(
    conn: Connection, keys: MetricKeys, expr: Expr | None, joined: dict[str, FromClause]
) -> Comparison | None:
    """SQLite: of the filter's top-level param, tag and metric conditions, the one that matches
    the fewest runs if it matches fewer than :data:`LIST_PROBE` (each counted up to that), or
    None. The plain query then lists only its runs and tests the other conditions run by run
    (``EXISTS``) instead of listing every condition's matches: ``accuracy > 0.99 and p0 = 'a'``
    listed 250,000 ``p0`` runs for 2,500 matches."""
    if expr is None or isinstance(expr, Or):
        return None
    items = expr.items if isinstance(expr, And) else (expr,)
    listing = RunFilter(conn, keys, runs.c.id, ATTRIBUTES).listing
    lists = [
        (c, sub)
        for c in items
        if isinstance(c, Comparison)
        and not (c.entity == "metric" and c.key in joined)
        and (sub := listing(c)) is not None
    ]
    if len(lists) < 2:  # nothing to choose from
        return None
    best: tuple[int, Comparison] | None = None
    for c, sub in lists:
        counted = select(func.count()).select_from(sub.limit(LIST_PROBE).subquery())
        n = int(conn.execute(counted).scalar_one())
        if n < LIST_PROBE and (best is None or n < best[0]):
            best = (n, c)
    return None if best is None else best[1]


WINDOWS = (8, 64)
"""Window sizes tried by :func:`_windowed`, in rows of the order per row asked for."""


def _windowed(
    conn: Connection,
    keys: MetricKeys,
    q: RunQuery,
    expr: Expr | None,
    orders: list[OrderBy],
    sort_keys: SortKeys,
    source: FromClause,
    joined: dict[str, FromClause],
    fingerprint: str,
) -> tuple[list[Any], str | None] | None:
    """SQLite: the page from a window at the head of the order, or None (then the caller runs
    the plain query).

    SQLite plans the plain query from the filter's side: each condition lists all the runs it
    matches (``IN (SELECT …)``), and the runs are sorted after. That grows with the store, even
    for a top 100 of a filter half the runs match. Here the order's own index is read first:
    the window is the first ``w`` rows of the order from the page's start (``start_time``, by
    ``ix_runs_start_time``, or the first ordered-by metric's value, by
    ``ix_latest_metrics_key_value``), bounded by the ``w``-th one's key, and the filter is
    tested in it run by run (``EXISTS``, an index lookup each). If the window holds a full
    page, that page is the answer: every row outside it sorts after all rows inside. If not
    (a selective filter, experiments with few of the window's runs, the end of the results),
    a larger window if the share of the first that matched promises a page in it, then None:
    the plain query, as before (it still lists every match of each condition). Only the
    default order and orders led by a metric have such an index. The other databases run the
    plain query (PostgreSQL walks ``ix_runs_start_time`` for the default order by itself)."""
    last = decode_token(q.page_token, fingerprint, len(sort_keys)) if q.page_token else None
    many = len(q.experiment_ids) > 1
    if not orders:
        start: ColumnElement[int] = runs.c.start_time
        head = select(start).where(start.is_not(None))
        if not many:
            head = head.where(runs.c.experiment_id.in_(q.experiment_ids))
        if last is not None:
            if last[0] is None:
                return None
            head = head.where(start <= last[0])
        head = head.order_by(start.desc())

        def within(cut: Any) -> ColumnElement[bool]:
            return and_(start >= cut)

    elif orders[0].entity == "metric":
        kid = keys.lookup(conn, [orders[0].key]).get(orders[0].key)
        if kid is None or (last is not None and last[0] != 0):
            return None
        ascending = orders[0].ascending
        lm = latest_metrics.c
        head = select(lm.value).where(lm.key_id == kid, lm.is_nan.is_(False))
        if last is not None:
            head = head.where(lm.value >= last[1] if ascending else lm.value <= last[1])
        head = head.order_by(lm.value.asc() if ascending else lm.value.desc())
        ordered = sort_keys[1][0].table.c  # the joined latest_metrics row ordered by

        def within(cut: Any) -> ColumnElement[bool]:
            bound = ordered.value <= cut if ascending else ordered.value >= cut
            return and_(ordered.is_nan.is_(False), bound)

        many = True  # the window's index, not the experiment's, leads the plan
    else:
        return None
    condition = RunFilter(conn, keys, runs.c.id, ATTRIBUTES, joined, correlated=True)(expr)
    # ``+ 0``: not an indexed column, so that SQLite does not read the experiments' runs
    experiment_id = runs.c.experiment_id + 0 if many else runs.c.experiment_id
    wanted = q.max_results + 1
    for size, larger in zip(WINDOWS, (*WINDOWS[1:], None), strict=True):
        cut = conn.execute(head.limit(1).offset(size * wanted - 1)).scalar()
        if cut is None:  # fewer rows are left than the window would hold
            return None
        query = _query(q, source, experiment_id, condition).where(within(cut))
        rows, token = keyset_page(conn, query, sort_keys, q.max_results, q.page_token, fingerprint)
        if token is not None:
            return rows, token
        if larger is None or len(rows) * larger // size < wanted // 2:
            return None  # at the share this window matched, the larger would not fill a page
    return None


@functools.lru_cache(maxsize=64)
def _alias(table: Table, name: str) -> FromClause:
    """``table AS name``, made once: an alias builds a proxy of each of its table's columns
    when first used (about a fifth of the client CPU of building a search's query, by
    cProfile in thread time). The same object serves every query (it holds no state of one)."""
    alias = table.alias(name)
    _ = alias.c  # build the columns now, not in the first concurrent use
    return alias


def _required_metrics(expr: Expr | None) -> set[str]:
    """The metrics every matching run has a (non-NaN) value of: those a top-level conjunct of
    the filter compares (any comparator but ``IS NULL`` / ``IS NOT NULL``)."""
    if expr is None or isinstance(expr, Or):
        return set()
    items = expr.items if isinstance(expr, And) else (expr,)
    return {
        c.key
        for c in items
        if isinstance(c, Comparison)
        and c.entity == "metric"
        and c.op not in ("IS NULL", "IS NOT NULL")
    }


def _sort_keys(
    conn: Connection, keys: MetricKeys, orders: list[OrderBy], required: set[str]
) -> tuple[SortKeys, FromClause, dict[str, FromClause]]:
    """(expression, ascending) pairs: the user's order, then start_time DESC, run id ASC, the
    FROM clause they need (one outer join per metric, param or tag ordered by), and the
    latest-metric joins that the filter may test instead of a subquery of its own.

    Missing values sort last in either direction (MLflow's rule), NaN metrics just before them;
    each nullable key is preceded by a rank key so that keyset paging stays exact.
    A metric in ``required`` (every match has it) is joined, not outer-joined: its filter
    conditions then test the joined row (one lookup per run instead of two).
    """
    out: SortKeys = []
    source: FromClause = runs
    joined: dict[str, FromClause] = {}
    seen_start = False
    for i, o in enumerate(orders):
        if o.entity == "attribute":
            column = ATTRIBUTES.get(o.key)
            if column is None:
                raise CairnError.invalid(f"Invalid order_by key 'attributes.{o.key}'")
            if o.key == "start_time":
                seen_start = True
            if o.key == "end_time":
                out.append((case((column.is_(None), 1), else_=0), True))
            out.append((column, o.ascending))
        elif o.entity == "metric":
            kid = keys.lookup(conn, [o.key]).get(o.key)
            lm = _alias(latest_metrics, f"order_{i}")
            on = and_(lm.c.run_id == runs.c.id, lm.c.key_id == (-1 if kid is None else kid))
            if o.key in required and o.key not in joined:
                source = source.join(lm, on)
                joined[o.key] = lm
            else:
                source = source.outerjoin(lm, on)
            rank = case((lm.c.run_id.is_(None), 2), (lm.c.is_nan.is_(True), 1), else_=0)
            out.append((rank, True))
            out.append((lm.c.value, o.ascending))
        elif o.entity in ("param", "tag"):
            kv = _alias(params if o.entity == "param" else run_tags, f"order_{i}")
            source = source.outerjoin(kv, and_(kv.c.run_id == runs.c.id, kv.c.key == o.key))
            out.append((case((kv.c.run_id.is_(None), 1), else_=0), True))
            out.append((kv.c.value, o.ascending))
        else:
            raise CairnError.invalid(f"Cannot order runs by {o.entity} '{o.key}'")
    if not seen_start:
        out.append((runs.c.start_time, False))
    out.append((runs.c.run_uuid, True))
    return out, source, joined
