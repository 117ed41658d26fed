"""Saved views: each user's named views of an experiment's runs table (the web UI's filter,
columns, sort, grouping and chart mode, kept as the view's URL query). A user sees and
changes only their own; with access control off every caller is the local user."""

from __future__ import annotations

from urllib.parse import parse_qsl

from sqlalchemy import Connection

from cairn.entities.errors import CairnError
from cairn.entities.saved_views import SavedView
from cairn.services.retention import parse_experiment_id
from cairn.store import experiments as experiment_store
from cairn.store import saved_views as store
from cairn.store.db import Database

MAX_NAME = 100
MAX_QUERY = 8000
VIEW_KEYS = frozenset({"q", "order", "cols", "pin", "deleted", "mode", "group", "agg"})
"""The runs table's URL parameters a view holds (web/src/pages/runs/savedViews.ts)."""


def parse_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CairnError.invalid("Field 'name' must be a non-empty string")
    name = value.strip()
    if len(name) > MAX_NAME:
        raise CairnError.invalid(f"Field 'name' must be at most {MAX_NAME} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise CairnError.invalid("Field 'name' must not contain control characters")
    return name


def parse_query(value: object) -> str:
    """A URL query of the runs table's view parameters only (``q=…&cols=…``)."""
    if not isinstance(value, str):
        raise CairnError.invalid("Field 'query' must be a string (a URL query)")
    if len(value) > MAX_QUERY:
        raise CairnError.invalid(f"Field 'query' must be at most {MAX_QUERY} characters")
    try:
        pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=bool(value))
    except ValueError:
        raise CairnError.invalid("Field 'query' must be a URL query such as q=…&cols=…") from None
    unknown = sorted({k for k, _ in pairs} - VIEW_KEYS)
    if unknown:
        raise CairnError.invalid(
            f"Field 'query' has unknown parameters {unknown}; allowed: {sorted(VIEW_KEYS)}"
        )
    return value


class SavedViewService:
    def __init__(self, db: Database):
        self.db = db

    def list_views(self, owner: str, experiment_id: object) -> list[SavedView]:
        eid = int(parse_experiment_id(experiment_id))

        def read(c: Connection) -> list[SavedView]:
            experiment_store.get(c, eid)
            return store.list_views(c, eid, owner)

        return self.db.read(read)

    def put_view(self, owner: str, experiment_id: object, name: object, query: object) -> SavedView:
        eid = int(parse_experiment_id(experiment_id))
        n, q = parse_name(name), parse_query(query)

        def write(c: Connection) -> SavedView:
            experiment_store.get(c, eid)
            return store.put_view(c, eid, owner, n, q)

        return self.db.write(write)

    def delete_view(self, owner: str, experiment_id: object, name: object) -> None:
        eid = int(parse_experiment_id(experiment_id))
        n = parse_name(name)
        self.db.write(lambda c: store.delete_view(c, eid, owner, n))
