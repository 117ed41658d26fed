"""The parsed form of an MLflow search filter and order-by clause.

A filter is a tree of :class:`Comparison` leaves joined by :class:`And` / :class:`Or` nodes.
The parser always hands back a *normalised* tree: an ``And`` never directly contains another
``And`` (likewise ``Or``), and neither ever has fewer than two items.

Entities are canonical (``"metric"``, ``"param"``, ``"tag"``, ``"attribute"``, ``"dataset"``)
and attribute keys have their aliases resolved (``created`` -> ``start_time``), so a consumer
never has to know the spellings a user may type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

#: Every comparator the language knows; each profile accepts a subset per entity / attribute.
OPS: tuple[str, ...] = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "ILIKE",
    "IN",
    "NOT IN",
    "IS NULL",
    "IS NOT NULL",
)

ENTITIES: tuple[str, ...] = ("metric", "param", "tag", "attribute", "dataset")

Value: TypeAlias = str | float | int | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<entity>.<key> <op> <value>``.

    ``value`` is ``None`` for ``IS [NOT] NULL``, a tuple of strings for ``[NOT] IN``, an
    ``int``/``float`` for comparisons against numeric keys and a ``str`` otherwise.
    """

    entity: str
    key: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


Expr: TypeAlias = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``order_by`` clause: ``<entity>.<key> [ASC|DESC]``."""

    entity: str
    key: str
    ascending: bool
