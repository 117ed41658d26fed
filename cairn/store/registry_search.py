"""Searching registered models and model versions, and reading the promotion history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from cairn.entities.access import ALL, Visibility
from cairn.entities.errors import CairnError
from cairn.entities.registry import ModelEvent, ModelVersion, RegisteredModel
from cairn.entities.tracking import Page
from cairn.store.filters import Leaf, attribute_sort_keys, combine, compare, key_value_leaf
from cairn.store.paging import SortKeys, check_max_results, keyset_page, query_fingerprint
from cairn.store.registry_load import load_models, load_versions
from cairn.store.schema import (
    model_events,
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)
from cairn.store.search.ast import Comparison
from cairn.store.search.parser import parse_filter
from cairn.store.search.profiles import MODEL_VERSIONS, REGISTERED_MODELS
from cairn.store.visibility import model_key, restrict

MAX_MODELS = 1000
MAX_VERSIONS = 200_000
MAX_EVENTS = 1000

rm, mv = registered_models.c, model_versions.c

MODEL_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": rm.name,
    "creation_timestamp": rm.creation_time,
    "last_updated_timestamp": rm.last_updated_time,
}
VERSION_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": rm.name,
    "version_number": mv.version,
    "run_id": mv.run_id,
    "source_path": mv.source,
    "creation_timestamp": mv.creation_time,
    "last_updated_timestamp": mv.last_updated_time,
}


def _leaf(
    conn: Connection,
    what: str,
    columns: dict[str, ColumnElement[Any]],
    subject: ColumnElement[int],
    owner: ColumnElement[int],
    key_col: ColumnElement[str],
    value_col: ColumnElement[str],
) -> Leaf:
    """The filter leaves of a registry search: attributes (``columns``) and tags, where ``!=``
    and ``NOT IN`` hold for objects without the tag."""

    def leaf(c: Comparison) -> ColumnElement[bool]:
        if c.entity == "tag":
            return key_value_leaf(
                conn, subject, owner, key_col, value_col, c, absent_is_unequal=True
            )
        column = columns.get(c.key)
        if c.entity != "attribute" or column is None:
            raise CairnError.invalid(f"{what} cannot be filtered by '{c.key}'")
        return compare(conn, column, c.op, c.value)

    return leaf


def search_models(
    conn: Connection,
    filter_text: str | None,
    max_results: int,
    order_by: list[str],
    page_token: str | None,
    visibility: Visibility = ALL,
) -> Page[RegisteredModel]:
    """A page of the registered models ``visibility`` lets the caller read that match."""
    check_max_results(max_results, MAX_MODELS)
    expr = parse_filter(filter_text, REGISTERED_MODELS)
    t = registered_model_tags.c
    leaf = _leaf(conn, "Registered models", MODEL_COLUMNS, rm.id, t.model_id, t.key, t.value)
    keys = attribute_sort_keys(order_by, REGISTERED_MODELS, MODEL_COLUMNS)
    if not any(col is rm.name for col, _ in keys):
        keys.append((rm.name, True))
    fingerprint = query_fingerprint("registered_models", filter_text or "", order_by)
    query = select(registered_models).where(combine(expr, leaf))
    query = restrict(query, visibility, rm.name, model_key)
    rows, token = keyset_page(conn, query, keys, max_results, page_token, fingerprint)
    return Page(load_models(conn, rows), next_page_token=token)


def search_versions(
    conn: Connection,
    filter_text: str | None,
    max_results: int,
    order_by: list[str],
    page_token: str | None,
    visibility: Visibility = ALL,
) -> Page[ModelVersion]:
    """A page of the matching versions of the models ``visibility`` lets the caller read."""
    check_max_results(max_results, MAX_VERSIONS)
    expr = parse_filter(filter_text, MODEL_VERSIONS)
    t = model_version_tags.c
    leaf = _leaf(conn, "Model versions", VERSION_COLUMNS, mv.id, t.version_id, t.key, t.value)
    keys = attribute_sort_keys(order_by, MODEL_VERSIONS, VERSION_COLUMNS)
    if not keys:
        keys.append((mv.last_updated_time, False))
    keys += [(rm.name, True), (mv.version, False)]
    fingerprint = query_fingerprint("model_versions", filter_text or "", order_by)
    query = (
        select(model_versions, rm.name.label("model_name"))
        .join(registered_models, rm.id == mv.model_id)
        .where(combine(expr, leaf))
    )
    query = restrict(query, visibility, rm.name, model_key)
    rows, token = keyset_page(conn, query, keys, max_results, page_token, fingerprint)
    names = {r.model_id: r.model_name for r in rows}
    return Page(load_versions(conn, rows, names), next_page_token=token)


def history(
    conn: Connection, name: str, max_results: int, page_token: str | None
) -> Page[ModelEvent]:
    """Events of the model called ``name``, newest first. A live model answers with its whole
    history (also from before renames); otherwise the events of deleted models last called
    ``name`` are returned. No model and no events: 404."""
    check_max_results(max_results, MAX_EVENTS)
    e = model_events.c
    model_id = conn.execute(select(rm.id).where(rm.name == name)).scalar_one_or_none()
    if model_id is not None:
        cond = e.model_id == model_id
    else:
        cond = (e.model_id.is_(None)) & (e.model_name == name)
        if conn.execute(select(e.id).where(cond).limit(1)).first() is None:
            raise CairnError.not_found(f"Registered Model with name={name} not found")
    keys: SortKeys = [(e.id, False)]
    query = select(model_events).where(cond)
    rows, token = keyset_page(
        conn, query, keys, max_results, page_token, query_fingerprint("events", name)
    )
    events = [
        ModelEvent(r.model_name, r.version, r.kind, r.from_value, r.to_value, r.actor, r.time)
        for r in rows
    ]
    return Page(events, next_page_token=token)
