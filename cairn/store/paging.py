"""Keyset page tokens: opaque to clients, stable under inserts, tied to the query they page."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select, and_, false, or_

from cairn.entities.errors import CairnError

SortKeys = list[tuple[ColumnElement[Any], bool]]
"""(expression, ascending) pairs, in order: what a keyset page is ordered by."""


def check_max_results(max_results: int, limit: int) -> None:
    """A page size must be between 1 and the search's ``limit``."""
    if not 0 < max_results <= limit:
        raise CairnError.invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied: it must be "
            f"between 1 and {limit}"
        )


def query_fingerprint(*parts: object) -> str:
    return hashlib.blake2b(orjson.dumps(parts, default=str), digest_size=6).hexdigest()


def _pack(value: Any) -> Any:
    """JSON has no NaN or infinity; sort keys may be either (metric values)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"f": repr(value)}
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict):
        text = value.get("f")
        if text not in ("inf", "-inf", "nan"):
            raise ValueError(text)
        return float(text)
    return value


def encode_token(values: Sequence[Any], fingerprint: str) -> str:
    raw = orjson.dumps({"k": [_pack(v) for v in values], "q": fingerprint})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, fingerprint: str, n_values: int) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        doc = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        values: list[Any] = [_unpack(v) for v in doc["k"]]
        ok = len(values) == n_values
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise CairnError.invalid(f"Invalid page_token '{token[:60]}': not a token this server made")
    if doc.get("q") != fingerprint:
        raise CairnError.invalid(
            "Invalid page_token: it belongs to a different query (filter, order_by, "
            "experiment ids or view type changed); start again without a page_token"
        )
    return values


def after_row(
    keys: Sequence[tuple[ColumnElement[Any], bool]], last: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows strictly after ``last`` in the order given by ``keys`` ((expression, ascending)).

    A NULL in ``last`` compares equal only to NULL and has nothing after it within its group:
    callers put a "null rank" key before every nullable key, so NULLs sort last.

    The alternatives are ANDed with the first key's bound (``>=`` ascending, ``<=``
    descending), which they imply: an index led by that key is then entered at ``last``
    instead of read from its start (SQLite and PostgreSQL do not derive a range from the OR),
    so a page deep into the results costs what the first one does.
    """
    alternatives: list[ColumnElement[bool]] = []
    equal_so_far: list[ColumnElement[bool]] = []
    for (expr, ascending), value in zip(keys, last, strict=True):
        if value is None:
            beyond: ColumnElement[bool] = false()
            same: ColumnElement[bool] = expr.is_(None)
        else:
            beyond = expr > value if ascending else expr < value
            same = expr == value
        alternatives.append(and_(*equal_so_far, beyond))
        equal_so_far.append(same)
    if not keys or last[0] is None:
        return or_(*alternatives)
    (first, ascending), value = keys[0], last[0]
    return and_(first >= value if ascending else first <= value, or_(*alternatives))


def keyset_page(
    conn: Connection,
    query: Select[Any],
    keys: Sequence[tuple[ColumnElement[Any], bool]],
    max_results: int,
    token: str | None,
    fingerprint: str,
) -> tuple[list[Any], str | None]:
    """One page of ``query`` ordered by ``keys`` (NULL-free sort keys), and the token of the
    next page (None on the last). The sort keys come back as extra columns ``k0``, ``k1``…"""
    labels = [expr.label(f"k{i}") for i, (expr, _) in enumerate(keys)]
    query = query.add_columns(*labels).order_by(
        *[lb.asc() if asc else lb.desc() for lb, (_, asc) in zip(labels, keys, strict=True)]
    )
    if token:
        query = query.where(after_row(keys, decode_token(token, fingerprint, len(keys))))
    rows = list(conn.execute(query.limit(max_results + 1)).all())
    next_token = None
    if len(rows) > max_results:
        rows = rows[:max_results]
        last = rows[-1]._mapping
        next_token = encode_token([last[f"k{i}"] for i in range(len(keys))], fingerprint)
    return rows, next_token
