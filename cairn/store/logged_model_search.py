"""Searching logged models: filter on attributes, metrics, params and tags; order; keyset
pages. mlflow 3 clients run ``name = '<first path segment>'`` for every ``runs:/`` download,
which the (experiment_id, name) index answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, exists, func, not_, or_, select

from cairn.entities.errors import CairnError
from cairn.entities.logged_models import LoggedModel
from cairn.entities.tracking import LifecycleStage, Page
from cairn.store import logged_models as store
from cairn.store.filters import combine, compare, key_value_leaf
from cairn.store.paging import SortKeys, check_max_results, keyset_page, query_fingerprint
from cairn.store.schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from cairn.store.search.ast import Comparison
from cairn.store.search.parser import check_order_by_count, parse_filter, parse_order_by
from cairn.store.search.profiles import LOGGED_MODELS

MAX_RESULTS = 1000
lm = logged_models.c

ATTRIBUTES: dict[str, ColumnElement[Any]] = {
    "name": lm.name,
    "model_id": lm.model_id,
    "model_type": lm.model_type,
    "status": lm.status,
    "source_run_id": lm.source_run_id,
    "creation_timestamp": lm.creation_time,
    "last_updated_timestamp": lm.last_updated_time,
}


def _latest_metric(key: str) -> Any:
    """Per model, the value of the newest point of metric ``key`` (highest step, then time)."""
    m = logged_model_metrics.c
    ranked = (
        select(
            m.lm_id,
            m.value,
            m.is_nan,
            func.row_number()
            .over(partition_by=m.lm_id, order_by=(m.step.desc(), m.timestamp.desc()))
            .label("rn"),
        )
        .where(m.key == key)
        .subquery()
    )
    return select(ranked.c.lm_id, ranked.c.value, ranked.c.is_nan).where(ranked.c.rn == 1)


def _leaf(conn: Connection, c: Comparison) -> ColumnElement[bool]:
    if c.entity == "attribute":
        column = ATTRIBUTES.get(c.key)
        if column is None:
            raise CairnError.invalid(f"Invalid attribute key '{c.key}' for logged models")
        return compare(conn, column, c.op, c.value)
    if c.entity in ("param", "tag"):
        t = (logged_model_params if c.entity == "param" else logged_model_tags).c
        return key_value_leaf(conn, lm.id, t.lm_id, t.key, t.value, c)
    if c.entity == "metric":
        latest = _latest_metric(c.key).subquery()
        if c.op == "IS NULL":
            return not_(lm.id.in_(select(latest.c.lm_id)))
        if c.op == "IS NOT NULL":
            return lm.id.in_(select(latest.c.lm_id))
        cond = compare(conn, latest.c.value, c.op, c.value)
        return lm.id.in_(select(latest.c.lm_id).where(latest.c.is_nan.is_(False), cond))
    raise CairnError.invalid(f"Logged models cannot be filtered by {c.entity} '{c.key}'")


def _sort_key(field_name: str) -> tuple[ColumnElement[Any], object]:
    """The sort expression of an order_by field, and the filler that stands for NULL."""
    o = parse_order_by(field_name, LOGGED_MODELS)
    if o.entity == "attribute" and o.key in ATTRIBUTES:
        column = ATTRIBUTES[o.key]
        attribute = LOGGED_MODELS.attribute(o.key)
        return column, ("" if attribute is not None and attribute.kind == "string" else 0)
    if o.entity == "metric":
        latest = _latest_metric(o.key).subquery()
        value = (
            select(latest.c.value)
            .where(latest.c.lm_id == lm.id, latest.c.is_nan.is_(False))
            .scalar_subquery()
        )
        return value, 0.0
    raise CairnError.invalid(f"Invalid order_by field '{field_name}' for logged models")


def search_logged_models(
    conn: Connection,
    experiment_ids: Sequence[int],
    filter_text: str | None,
    order_by: Sequence[tuple[str, bool]],
    max_results: int,
    page_token: str | None,
    datasets: Sequence[tuple[str, str | None]] = (),
) -> Page[LoggedModel]:
    """A page of active logged models; ``datasets`` ((name, digest or None) pairs): only
    models with a metric logged against one of them, as MLflow's ``datasets`` filter."""
    check_max_results(max_results, MAX_RESULTS)
    expr = parse_filter(filter_text, LOGGED_MODELS)
    # keyset paging needs NULL-free keys: metric keys carry a "has no value" rank first
    sort_keys: SortKeys = []
    check_order_by_count(order_by)
    for field_name, ascending in order_by:
        key, filler = _sort_key(field_name)
        sort_keys.append((case((key.is_(None), 1), else_=0), True))  # NULLs last
        sort_keys.append((func.coalesce(key, filler), ascending))
    if not sort_keys:
        sort_keys.append((lm.creation_time, False))
    sort_keys.append((lm.id, False))
    fingerprint = query_fingerprint(
        "logged_models", list(experiment_ids), filter_text or "", list(order_by), list(datasets)
    )
    query = (
        select(logged_models)
        .where(lm.lifecycle_stage == LifecycleStage.ACTIVE.value)
        .where(combine(expr, lambda c: _leaf(conn, c)))
    )
    if experiment_ids:
        query = query.where(lm.experiment_id.in_(list(experiment_ids)))
    if datasets:
        mm = logged_model_metrics.c
        matches = [
            and_(mm.dataset_name == name, *([mm.dataset_digest == digest] if digest else []))
            for name, digest in datasets
        ]
        query = query.where(exists(select(mm.lm_id).where(mm.lm_id == lm.id, or_(*matches))))
    rows, token = keyset_page(conn, query, sort_keys, max_results, page_token, fingerprint)
    return Page(store.load(conn, rows), next_page_token=token)
