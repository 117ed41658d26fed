"""Saved views in SQL: a user's named views of an experiment's runs table.

Saving (create or replace) and deleting a view record a change event (entity ``setting``,
action ``saved_view.set`` / ``saved_view.delete``, with the experiment) in the same
transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.saved_views import SavedView
from cairn.store import events
from cairn.store.schema import saved_views
from cairn.store.sql import now_ms, upsert_insert

sv = saved_views.c

MAX_PER_USER = 100
"""Views one user may keep per experiment."""


def _view(row: Any) -> SavedView:
    return SavedView(str(row.experiment_id), row.owner, row.name, row.query, int(row.updated_at))


def list_views(conn: Connection, experiment_id: int, owner: str) -> list[SavedView]:
    rows = conn.execute(
        select(saved_views)
        .where(sv.experiment_id == experiment_id, sv.owner == owner)
        .order_by(sv.name)
    ).all()
    return [_view(r) for r in rows]


def _one(conn: Connection, experiment_id: int, owner: str, name: str) -> SavedView | None:
    row = conn.execute(
        select(saved_views).where(
            sv.experiment_id == experiment_id, sv.owner == owner, sv.name == name
        )
    ).first()
    return None if row is None else _view(row)


def _change(conn: Connection, action: str, view: SavedView, before: Any, after: Any) -> None:
    events.record(
        conn,
        Change(
            action,
            EntityType.SETTING,
            f"saved_view:{view.experiment_id}:{view.name}",
            experiment_id=view.experiment_id,
            before=before,
            after=after,
        ),
    )


def put_view(conn: Connection, experiment_id: int, owner: str, name: str, query: str) -> SavedView:
    """Create or replace ``owner``'s view ``name`` (an event when it changed)."""
    old = _one(conn, experiment_id, owner, name)
    if old is None:
        count = len(list_views(conn, experiment_id, owner))
        if count >= MAX_PER_USER:
            raise CairnError.invalid(
                f"Field 'name': at most {MAX_PER_USER} saved views per user and experiment"
            )
    values = {"query": query, "updated_at": now_ms()}
    stmt = upsert_insert(conn, saved_views).values(
        experiment_id=experiment_id, owner=owner, name=name, **values
    )
    key = [sv.experiment_id, sv.owner, sv.name]
    conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=values))
    new = _one(conn, experiment_id, owner, name)
    assert new is not None
    if old is None or old.query != new.query:
        before = None if old is None else {"owner": owner, "query": old.query}
        _change(conn, "saved_view.set", new, before, {"owner": owner, "query": query})
    return new


def delete_view(conn: Connection, experiment_id: int, owner: str, name: str) -> None:
    old = _one(conn, experiment_id, owner, name)
    if old is None:
        raise CairnError.not_found(f"No saved view named {name!r} in experiment {experiment_id}")
    conn.execute(
        delete(saved_views).where(
            sv.experiment_id == experiment_id, sv.owner == owner, sv.name == name
        )
    )
    _change(conn, "saved_view.delete", old, {"owner": owner, "query": old.query}, None)
