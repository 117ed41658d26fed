"""Compile parsed search filters (cairn.store.search) into SQL conditions, and attribute
order-bys into sort keys.

Every leaf becomes an indexed membership test (``runs.id IN (SELECT run_id FROM …)``) or a
plain column comparison, so AND, OR and parentheses compose freely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    and_,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from cairn.entities.errors import CairnError
from cairn.store.metric_keys import MetricKeys
from cairn.store.paging import SortKeys
from cairn.store.schema import (
    SHORT_VALUE_INDEX,
    datasets,
    input_tags,
    latest_metrics,
    params,
    run_inputs,
    run_tags,
)
from cairn.store.search.ast import And, Comparison, Expr, Or
from cairn.store.search.parser import parse_order_bys
from cairn.store.search.profiles import Profile
from cairn.store.sql import ilike, like

CONTEXT_TAG = "mlflow.data.context"

Leaf = Callable[[Comparison], ColumnElement[bool]]


def combine(expr: Expr | None, leaf: Leaf) -> ColumnElement[bool]:
    if expr is None:
        return true()
    if isinstance(expr, Comparison):
        return leaf(expr)
    parts = [combine(item, leaf) for item in expr.items]
    if isinstance(expr, And):
        return and_(*parts)
    assert isinstance(expr, Or)
    return or_(*parts)


def compare(
    conn: Connection, column: ColumnElement[Any], op: str, value: object
) -> ColumnElement[bool]:
    """``column <op> value`` for every operator of the language."""
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return like(conn, column, str(value))
    if op == "ILIKE":
        return ilike(column, str(value))
    if op == "IN":
        return column.in_(list(value))  # type: ignore[call-overload]
    if op == "NOT IN":
        return column.not_in(list(value))  # type: ignore[call-overload]
    if op == "IS NULL":
        return column.is_(None)
    if op == "IS NOT NULL":
        return column.is_not(None)
    raise CairnError.invalid(f"Unsupported comparator '{op}'")


def key_value_leaf(
    conn: Connection,
    subject: ColumnElement[Any],
    owner: ColumnElement[Any],
    key_col: ColumnElement[str],
    value_col: ColumnElement[str],
    c: Comparison,
    *,
    absent_is_unequal: bool = False,
    short_values: int | None = None,
    correlated: bool = False,
) -> ColumnElement[bool]:
    """A param or tag condition: ``subject IN (SELECT owner FROM <key/value table> WHERE
    key_col = <key> AND value_col <op> <value>)``. ``IS NULL`` holds for objects without the
    key. With ``absent_is_unequal``, ``!=`` and ``NOT IN`` hold for them too (the registry's
    rule, as MLflow: the clients' `` tag.`mlflow.prompt.is_prompt` != 'true' `` must keep
    untagged models).

    ``short_values``: the table has a (key, value) index of the values up to that many
    characters (PostgreSQL, ``WHERE length(value) <= n``: a B-tree refuses long entries). An
    ``=`` or ``IN`` of values no longer than that states the bound, which the value implies,
    so that the planner may use it.

    ``correlated``: ``EXISTS (… WHERE owner = subject …)`` instead of ``IN``: the same rows,
    tested one subject at a time (an index lookup each) instead of listing every match first;
    for a plan that walks the subjects in order and stops after a page."""
    has_key = select(owner).where(key_col == c.key)
    if short_values is not None and c.op in ("=", "IN"):
        values = list(c.value) if isinstance(c.value, tuple) else [c.value]
        if values and all(isinstance(x, str) and len(x) <= short_values for x in values):
            has_key = has_key.where(func.length(value_col) <= short_values)
    if c.op == "IS NULL":
        return not_(member(subject, owner, has_key, correlated))
    if c.op == "IS NOT NULL":
        return member(subject, owner, has_key, correlated)
    if absent_is_unequal and c.op == "!=":
        return not_(member(subject, owner, has_key.where(value_col == c.value), correlated))
    if absent_is_unequal and c.op == "NOT IN":
        matching = has_key.where(compare(conn, value_col, "IN", c.value))
        return not_(member(subject, owner, matching, correlated))
    matching = has_key.where(compare(conn, value_col, c.op, c.value))
    return member(subject, owner, matching, correlated)


def member(
    subject: ColumnElement[Any],
    owner: ColumnElement[Any],
    sub: Select[Any],
    correlated: bool,
) -> ColumnElement[bool]:
    """``subject IN (sub)``, ``sub`` selecting ``owner`` (never NULL); ``correlated``: the
    same as ``EXISTS (sub WHERE owner = subject)``."""
    if correlated:
        return sub.where(owner == subject).exists()
    return subject.in_(sub)


def attribute_sort_keys(
    order_by: list[str], profile: Profile, columns: Mapping[str, ColumnElement[Any]]
) -> SortKeys:
    """The sort keys of order_by clauses that may name only attributes (``columns``)."""
    keys: SortKeys = []
    for text, o in zip(order_by, parse_order_bys(order_by, profile), strict=True):
        column = columns.get(o.key)
        if o.entity != "attribute" or column is None:
            raise CairnError.invalid(f"Invalid order_by clause '{text}' for {profile.name}")
        keys.append((column, o.ascending))
    return keys


class RunFilter:
    """Turns a run filter into a condition on ``runs.id`` (``run_id_col``)."""

    def __init__(
        self,
        conn: Connection,
        keys: MetricKeys,
        run_id_col: ColumnElement[int],
        attributes: Mapping[str, ColumnElement[Any]],
        joined: Mapping[str, FromClause] | None = None,
        *,
        correlated: bool = False,
        listed: Comparison | None = None,
    ):
        """``joined``: latest-metric rows already (inner-)joined to each run, by metric key
        (the search orders by them and every match has them): a condition on such a metric
        tests the joined row instead of a subquery. ``correlated``: membership tests as
        ``EXISTS`` (see :func:`key_value_leaf`), but for the comparison ``listed`` (the
        object itself), which stays a list the plan may start from."""
        self.conn = conn
        self.correlated = correlated
        self.listed = listed
        self.keys = keys
        self.run_id = run_id_col
        self.attributes = attributes
        self.joined = joined or {}

    def __call__(self, expr: Expr | None) -> ColumnElement[bool]:
        return combine(expr, self.leaf)

    def leaf(self, c: Comparison) -> ColumnElement[bool]:
        if c.entity == "attribute":
            column = self.attributes.get(c.key)
            if column is None:
                raise CairnError.invalid(f"Invalid attribute key '{c.key}'")
            return compare(self.conn, column, c.op, c.value)
        if c.entity == "metric":
            return self._metric(c)
        if c.entity in ("param", "tag"):
            table = params if c.entity == "param" else run_tags
            short = SHORT_VALUE_INDEX if self.conn.dialect.name == "postgresql" else None
            return key_value_leaf(
                self.conn,
                self.run_id,
                table.c.run_id,
                table.c.key,
                table.c.value,
                c,
                short_values=short,
                correlated=self._correlated(c),
            )
        if c.entity == "dataset":
            return self._dataset(c)
        raise CairnError.invalid(f"Invalid entity '{c.entity}' in filter")

    def _correlated(self, c: Comparison) -> bool:
        return self.correlated and c is not self.listed

    def listing(self, c: Comparison) -> Select[Any] | None:
        """The ids of the runs a param, tag or metric comparison holds for, as one
        ``SELECT run_id``, or None (``IS NULL``, other entities, a metric nobody logged)."""
        if c.op == "IS NULL":
            return None
        if c.entity in ("param", "tag"):
            t = params if c.entity == "param" else run_tags
            sub = select(t.c.run_id).where(t.c.key == c.key)
        elif c.entity == "metric":
            kid = self.keys.lookup(self.conn, [c.key]).get(c.key)
            if kid is None:
                return None
            lm = latest_metrics.c
            sub = select(lm.run_id).where(lm.key_id == kid)
            if c.op != "IS NOT NULL":
                sub = sub.where(lm.is_nan.is_(False))
            t = latest_metrics
        else:
            return None
        if c.op == "IS NOT NULL":
            return sub
        return sub.where(compare(self.conn, t.c.value, c.op, c.value))

    def _metric(self, c: Comparison) -> ColumnElement[bool]:
        kid = self.keys.lookup(self.conn, [c.key]).get(c.key)
        if kid is None:  # nobody ever logged this metric
            return true() if c.op == "IS NULL" else false()
        row = self.joined.get(c.key)
        if row is not None and c.op not in ("IS NULL", "IS NOT NULL"):
            return and_(row.c.is_nan.is_(False), compare(self.conn, row.c.value, c.op, c.value))
        lm = latest_metrics.c
        has_key = select(lm.run_id).where(lm.key_id == kid)
        correlated = self._correlated(c)
        if c.op == "IS NULL":
            return not_(member(self.run_id, lm.run_id, has_key, correlated))
        if c.op == "IS NOT NULL":
            return member(self.run_id, lm.run_id, has_key, correlated)
        cond = compare(self.conn, lm.value, c.op, c.value)
        matching = has_key.where(lm.is_nan.is_(False), cond)
        return member(self.run_id, lm.run_id, matching, correlated)

    def _dataset(self, c: Comparison) -> ColumnElement[bool]:
        if c.key == "context":
            value_col: ColumnElement[Any] = input_tags.c.value
            sub = (
                select(run_inputs.c.run_id)
                .join(input_tags, input_tags.c.input_id == run_inputs.c.id)
                .where(input_tags.c.key == CONTEXT_TAG)
            )
        elif c.key in ("name", "digest"):
            value_col = datasets.c[c.key]
            sub = select(run_inputs.c.run_id).join(
                datasets, datasets.c.id == run_inputs.c.dataset_id
            )
        else:
            raise CairnError.invalid(
                f"Invalid dataset key '{c.key}'; valid keys are name, digest, context"
            )
        if c.op == "IS NULL":
            return not_(self.run_id.in_(sub))
        if c.op == "IS NOT NULL":
            return self.run_id.in_(sub)
        return self.run_id.in_(sub.where(compare(self.conn, value_col, c.op, c.value)))
