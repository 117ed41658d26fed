"""Searching traces with the filter language of cairn.store.search (profile ``TRACES``):
trace attributes, tags, request metadata and spans (name, type, status, attributes), with
``LIKE``/``ILIKE``, ``AND``/``OR``, order and keyset pages.

Every leaf is an indexed membership test on ``traces.id`` (tags and metadata by their
(key, value) index, spans by name); the experiments and the order use the
(experiment_id, request_time, id) index. Order-by keys are wrapped in COALESCE only where the
column may be NULL, so the default newest-first order reads that index without sorting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, cast, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from cairn.entities.errors import CairnError
from cairn.entities.traces import SOURCE_RUN_METADATA, TRACE_NAME_TAG, TraceInfo
from cairn.entities.tracking import Page
from cairn.store import traces as store
from cairn.store.filters import combine, compare, key_value_leaf
from cairn.store.paging import SortKeys, check_max_results, keyset_page, query_fingerprint
from cairn.store.schema import spans, trace_metadata, trace_tags, traces
from cairn.store.search.ast import Comparison, Expr
from cairn.store.search.parser import parse_filter, parse_order_bys
from cairn.store.search.profiles import TRACES

MAX_RESULTS = 1000
t = traces.c

COLUMNS: dict[str, ColumnElement[Any]] = {
    "trace_id": t.trace_id,
    "status": t.state,
    "client_request_id": t.client_request_id,
    "request_preview": t.request_preview,
    "response_preview": t.response_preview,
    "timestamp_ms": t.request_time,
    "execution_time_ms": t.execution_duration,
}
NULLABLE = frozenset({"client_request_id", "execution_time_ms"})
"""The order-by columns that may be NULL; the others keep their index usable."""
SPAN_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": spans.c.name,
    "type": spans.c.span_type,
    "span_type": spans.c.span_type,
    "status": spans.c.status,
}
SPAN_STATUS = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR", "UNSET": "STATUS_CODE_UNSET"}


def _json_field(conn: Connection, column: ColumnElement[Any], key: str) -> ColumnElement[Any]:
    """The text of top-level ``key`` of a JSON text column."""
    if conn.dialect.name == "postgresql":
        found: ColumnElement[Any] = cast(column, JSONB)[key].astext
        return found
    path = '$."' + key + '"'
    if conn.dialect.name == "mysql":  # MySQL's JSON_EXTRACT gives JSON: a string in quotes
        unquoted: ColumnElement[Any] = func.json_unquote(func.json_extract(column, path))
        return unquoted
    return cast(func.json_extract(column, path), String)


def _key_value(conn: Connection, table: Any, c: Comparison) -> ColumnElement[bool]:
    """A tag or metadata condition: membership in the traces the (key, value) index finds."""
    k = table.c
    return key_value_leaf(conn, t.id, k.trace_pk, k.key, k.value, c)


def _span_leaf(conn: Connection, c: Comparison) -> ColumnElement[bool]:
    s = spans.c
    if c.key.startswith("attributes."):
        key = c.key[len("attributes.") :]
        if not key or any(ch in key for ch in '"\\') or any(ord(ch) < 32 for ch in key):
            raise CairnError.invalid(
                f"Invalid span attribute key {key[:60]!r} in the traces filter: it must be "
                "non-empty, without quotes, backslashes or control characters"
            )
        column = _json_field(conn, s.attributes, key)
    else:
        found = SPAN_COLUMNS.get(c.key)
        if found is None:
            raise CairnError.invalid(
                f"Invalid span key 'span.{c.key}' in the traces filter; valid: span.name, "
                "span.type, span.status, span.attributes.<key>"
            )
        column = found
    if c.op == "IS NULL":
        return t.id.not_in(select(s.trace_pk).where(column.is_not(None)))
    value: object = c.value
    if c.key == "status" and isinstance(value, str):
        value = SPAN_STATUS.get(value.upper(), value)
    return t.id.in_(select(s.trace_pk).where(compare(conn, column, c.op, value)))


def _leaf(conn: Connection, c: Comparison) -> ColumnElement[bool]:
    if c.entity == "tag":
        return _key_value(conn, trace_tags, c)
    if c.entity == "metadata":
        return _key_value(conn, trace_metadata, c)
    if c.entity == "span":
        return _span_leaf(conn, c)
    if c.key == "text":
        pattern = str(c.value)
        s = spans.c
        in_spans = select(s.trace_pk).where(
            or_(compare(conn, s.name, c.op, pattern), compare(conn, s.attributes, c.op, pattern))
        )
        return or_(
            t.id.in_(in_spans),
            compare(conn, t.request_preview, c.op, pattern),
            compare(conn, t.response_preview, c.op, pattern),
        )
    if c.key == "name":
        return _key_value(conn, trace_tags, Comparison("tag", TRACE_NAME_TAG, c.op, c.value))
    if c.key == "run_id":
        by_metadata = _key_value(
            conn, trace_metadata, Comparison("metadata", SOURCE_RUN_METADATA, c.op, c.value)
        )
        if c.op == "=" and isinstance(c.value, str):
            return or_(by_metadata, t.id.in_(store.linked_run_pks(conn, c.value)))
        return by_metadata
    column = COLUMNS.get(c.key)
    if column is None:  # pragma: no cover - the profile names only these
        raise CairnError.invalid(f"Invalid attribute key '{c.key}' for traces")
    value = c.value.upper() if c.key == "status" and isinstance(c.value, str) else c.value
    return compare(conn, column, c.op, value)


def condition(conn: Connection, filter_text: str | None) -> ColumnElement[bool]:
    """The SQL condition on ``traces`` of a filter (everything when it is empty)."""
    expr: Expr | None = parse_filter(filter_text, TRACES)
    return combine(expr, lambda c: _leaf(conn, c))


def _sort_keys(order_by: Sequence[str]) -> SortKeys:
    keys: SortKeys = []
    for text, o in zip(order_by, parse_order_bys(order_by, TRACES), strict=True):
        column = COLUMNS.get(o.key) if o.entity == "attribute" else None
        if column is None:
            raise CairnError.invalid(
                f"Invalid order_by clause '{text}' for traces; valid: timestamp_ms, "
                "execution_time_ms, status, trace_id, client_request_id"
            )
        if o.key in NULLABLE:  # keyset paging needs NULL-free keys
            column = func.coalesce(column, "" if o.key == "client_request_id" else -1)
        keys.append((column, o.ascending))
    if not keys:
        keys.append((t.request_time, False))
    keys.append((t.id, False))
    return keys


def search_traces(
    conn: Connection,
    experiment_ids: Sequence[int],
    filter_text: str | None,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> Page[TraceInfo]:
    check_max_results(max_results, MAX_RESULTS)
    keys = _sort_keys(order_by)
    where = condition(conn, filter_text)
    fingerprint = query_fingerprint("traces", list(experiment_ids), filter_text or "", order_by)
    query = select(traces).where(where)
    if experiment_ids:
        query = query.where(t.experiment_id.in_(list(experiment_ids)))
    rows, token = keyset_page(conn, query, keys, max_results, page_token, fingerprint)
    return Page(store.load_infos(conn, rows), next_page_token=token)


def matching_pks(conn: Connection, experiment_ids: Sequence[int], filters: Sequence[str]) -> Any:
    """The subquery of the ids of the traces in ``experiment_ids`` that pass every filter."""
    query = select(t.id).where(t.experiment_id.in_(list(experiment_ids)))
    for text in filters:
        query = query.where(condition(conn, text))
    return query


def count(conn: Connection, experiment_ids: Sequence[int], filters: Sequence[str]) -> int:
    """How many traces of ``experiment_ids`` pass every filter."""
    subquery = matching_pks(conn, experiment_ids, filters).subquery()
    found: int = conn.execute(select(func.count()).select_from(subquery)).scalar_one()
    return found
