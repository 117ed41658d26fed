"""What a caller may read, as SQL: a :class:`Visibility` turned into one condition on a
resource's id (and name) column, so searches filter in the query and keyset paging stays
exact (a page is never short because rows were hidden).

The one place that does this; every open-ended search and list calls :func:`restrict`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_

from cairn.entities.access import Visibility
from cairn.entities.numbers import decimal

Key = TypeVar("Key", int, str)
SelectT = TypeVar("SelectT", bound=Select[Any])


def experiment_key(value: str) -> int | None:
    """An experiment id of a :class:`Visibility` as the column holds it (an integer); None
    for text that is no experiment id (it can match no row, so leaving it out is exact)."""
    return decimal(value)


def model_key(value: str) -> str:
    """Registered models are keyed by name: the value as it is."""
    return value


def _keys(values: Iterable[str], parse: Callable[[str], Key | None]) -> list[Key]:
    parsed = (parse(v) for v in values)
    return sorted({k for k in parsed if k is not None})


def condition(
    visibility: Visibility,
    id_column: ColumnElement[Key],
    parse: Callable[[str], Key | None],
    name_column: ColumnElement[str] | None = None,
) -> ColumnElement[bool] | None:
    """The rows ``visibility`` lets a caller read, as a condition on ``id_column`` (and
    ``name_column`` for ``allow_names``); None when it filters nothing. ``parse`` turns an id
    of the visibility into a value of ``id_column`` (None: matches no row)."""
    if visibility.unfiltered:
        return None
    allowed: ColumnElement[bool] | None = None
    if not visibility.everything:
        alternatives: list[ColumnElement[bool]] = []
        ids = _keys(visibility.allow_ids, parse)
        if ids:
            alternatives.append(id_column.in_(ids))
        if name_column is not None and visibility.allow_names:
            alternatives.append(name_column.in_(sorted(visibility.allow_names)))
        if not alternatives:
            return false()
        allowed = or_(*alternatives)
    denied = _keys(visibility.deny_ids, parse)
    if denied:
        refused = id_column.not_in(denied)
        allowed = refused if allowed is None else and_(allowed, refused)
    # everything with deny ids that name no row: nothing is hidden after all
    return allowed


def restrict(
    query: SelectT,
    visibility: Visibility,
    id_column: ColumnElement[Key],
    parse: Callable[[str], Key | None],
    name_column: ColumnElement[str] | None = None,
) -> SelectT:
    """``query`` keeping only what ``visibility`` lets a caller read; the very same query
    object (no extra clause) when it filters nothing."""
    cond = condition(visibility, id_column, parse, name_column)
    return query if cond is None else query.where(cond)
