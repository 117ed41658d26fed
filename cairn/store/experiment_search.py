"""Searching experiments: filter on name, times and tags; order; keyset pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from cairn.entities.access import ALL, Visibility
from cairn.entities.errors import CairnError
from cairn.entities.tracking import Experiment, Page, ViewType, parse_experiment_id
from cairn.store import experiments as experiment_store
from cairn.store.filters import attribute_sort_keys, combine, compare, key_value_leaf
from cairn.store.paging import check_max_results, keyset_page, query_fingerprint
from cairn.store.schema import experiment_tags, experiments
from cairn.store.search.ast import Comparison
from cairn.store.search.parser import parse_filter
from cairn.store.search.profiles import EXPERIMENTS
from cairn.store.visibility import experiment_key, restrict

MAX_RESULTS = 50_000

ATTRIBUTES: dict[str, ColumnElement[Any]] = {
    "name": experiments.c.name,
    "experiment_id": experiments.c.experiment_id,
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
    "lifecycle_stage": experiments.c.lifecycle_stage,
}


def search_experiments(
    conn: Connection,
    view_type: ViewType,
    max_results: int,
    filter_text: str | None,
    order_by: list[str],
    page_token: str | None,
    visibility: Visibility = ALL,
) -> Page[Experiment]:
    """A page of the experiments ``visibility`` lets the caller read that match."""
    check_max_results(max_results, MAX_RESULTS)
    expr = parse_filter(filter_text, EXPERIMENTS)

    def leaf(c: Comparison) -> ColumnElement[bool]:
        if c.entity == "attribute":
            column = ATTRIBUTES.get(c.key)
            if column is None:
                raise CairnError.invalid(f"Invalid attribute key '{c.key}' for experiments")
            value: object = c.value
            if c.key == "experiment_id" and isinstance(value, str):
                value = parse_experiment_id(value)
            return compare(conn, column, c.op, value)
        if c.entity == "tag":
            t = experiment_tags.c
            return key_value_leaf(
                conn, experiments.c.experiment_id, t.experiment_id, t.key, t.value, c
            )
        raise CairnError.invalid(f"Experiments cannot be filtered by {c.entity} '{c.key}'")

    sort_keys = attribute_sort_keys(order_by, EXPERIMENTS, ATTRIBUTES)
    if not sort_keys:
        sort_keys.append((experiments.c.creation_time, False))
    sort_keys.append((experiments.c.experiment_id, False))
    fingerprint = query_fingerprint("experiments", filter_text or "", order_by, view_type.value)
    query = (
        select(experiments)
        .where(experiments.c.lifecycle_stage.in_(view_type.stages()))
        .where(combine(expr, leaf))
    )
    e = experiments.c
    query = restrict(query, visibility, e.experiment_id, experiment_key, e.name)
    rows, token = keyset_page(conn, query, sort_keys, max_results, page_token, fingerprint)
    return Page(experiment_store.load(conn, rows), next_page_token=token)
