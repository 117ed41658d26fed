"""The change-event log in SQL: append in the writer's transaction, read, walk the chain.

A writer calls :func:`record` with each :class:`~cairn.entities.events.Change` it makes; the
changes of one write are appended together as the write's last step (a
:func:`~cairn.store.db.before_commit` hook), so a write that fails leaves no event and a write
never commits without its events. Appending locks the one ``change_head`` row, takes the next
ids and links each event's hash to the previous one: ids are gap-free and commit in order,
which is what lets consumers read the log as an outbox by ``id > cursor``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Select, and_, delete, or_, select, update

from cairn.entities.events import (
    ActorKind,
    Change,
    ChangeEvent,
    EventQuery,
    canonical,
    chain_hash,
)
from cairn.store.db import WriteScope, before_commit, job_scope
from cairn.store.schema import change_events, change_head
from cairn.store.sql import now_ms

_PENDING = "changes"


def record(conn: Connection, change: Change) -> None:
    """Append ``change`` to the log as part of the write running on ``conn``."""
    scope = job_scope(conn)
    pending: list[Change] | None = scope.data.get(_PENDING)
    if pending is None:
        pending = scope.data[_PENDING] = []
        before_commit(conn, lambda c: _append(c, scope, pending))
    pending.append(change)


def _dump(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def _append(conn: Connection, scope: WriteScope, changes: list[Change]) -> None:
    if not changes:
        return
    head = conn.execute(
        select(change_head.c.seq, change_head.c.hash).where(change_head.c.id == 1).with_for_update()
    ).one()
    seq, prev = int(head.seq), str(head.hash)
    actor = scope.actor
    now = now_ms()
    rows = []
    for change in changes:
        seq += 1
        before, after = _dump(change.before), _dump(change.after)
        values: dict[str, Any] = {
            "id": seq,
            "time": now,
            "actor": actor.name,
            "actor_kind": str(actor.kind),
            "address": actor.address,
            "request_id": actor.request_id,
            "action": change.action,
            "entity_type": str(change.entity_type),
            "entity_id": change.entity_id,
            "experiment_id": change.experiment_id,
            "model_name": change.model_name,
            "before": orjson.loads(before) if before is not None else None,
            "after": orjson.loads(after) if after is not None else None,
            "claimed_user": change.claimed_user,
        }
        digest = chain_hash(prev, canonical(values), scope.audit_key)
        values.update(before=before, after=after, prev_hash=prev, hash=digest)
        rows.append(values)
        prev = digest
    conn.execute(change_events.insert(), rows)
    conn.execute(update(change_head).where(change_head.c.id == 1).values(seq=seq, hash=prev))
    changes.clear()


def _event(row: Any) -> ChangeEvent:
    return ChangeEvent(
        id=int(row.id),
        time=int(row.time),
        actor=row.actor,
        actor_kind=ActorKind(row.actor_kind),
        address=row.address,
        request_id=row.request_id,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        experiment_id=row.experiment_id,
        model_name=row.model_name,
        before=orjson.loads(row.before) if row.before is not None else None,
        after=orjson.loads(row.after) if row.after is not None else None,
        claimed_user=row.claimed_user,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _filtered(query: EventQuery) -> Select[Any]:
    c = change_events.c
    where = []
    for column, value in (
        (c.actor, query.actor),
        (c.action, query.action),
        (c.entity_type, query.entity_type),
        (c.entity_id, query.entity_id),
        (c.experiment_id, query.experiment_id),
        (c.model_name, query.model_name),
    ):
        if value is not None:
            where.append(column == value)
    if query.since is not None:
        where.append(c.time >= query.since)
    if query.until is not None:
        where.append(c.time < query.until)
    if query.before_id is not None:
        where.append(c.id < query.before_id)
    if query.after_id is not None:
        where.append(c.id > query.after_id)
    scopes = []
    if query.experiment_ids is not None:
        scopes.append(c.experiment_id.in_(query.experiment_ids))
    if query.model_names is not None:
        scopes.append(c.model_name.in_(query.model_names))
    stmt = select(change_events)
    if where:
        stmt = stmt.where(and_(*where))
    if scopes:
        stmt = stmt.where(or_(*scopes))
    return stmt


def search(conn: Connection, query: EventQuery) -> list[ChangeEvent]:
    """The events matching ``query``, newest first (oldest first if ``ascending``), at most
    ``query.limit`` of them."""
    order = change_events.c.id.asc() if query.ascending else change_events.c.id.desc()
    rows = conn.execute(_filtered(query).order_by(order).limit(max(1, query.limit)))
    return [_event(row) for row in rows]


def head(conn: Connection) -> tuple[int, str, int, str]:
    """(last id, last hash, first id kept, the prev_hash the first kept event must carry)."""
    row = conn.execute(select(change_head).where(change_head.c.id == 1)).one()
    return int(row.seq), str(row.hash), int(row.first_id), str(row.first_prev_hash)


def walk(conn: Connection, after_id: int, batch: int = 5000) -> Iterator[ChangeEvent]:
    """Every event with ``id > after_id`` in id order, read in batches of ``batch``."""
    cursor = after_id
    while True:
        rows = conn.execute(
            select(change_events)
            .where(change_events.c.id > cursor)
            .order_by(change_events.c.id.asc())
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield _event(row)
        cursor = int(rows[-1].id)


def prune(conn: Connection, older_than: int) -> int:
    """Delete the events older than ``older_than`` (ms): the retention period's only path.
    The head then records where the chain starts, so :func:`walk` and verification begin at
    the first kept event. Returns how many were deleted."""
    last = conn.execute(
        select(change_events.c.id, change_events.c.hash)
        .where(change_events.c.time < older_than)
        .order_by(change_events.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return 0
    _, _, first_id, _ = head(conn)
    at_head = change_head.c.id == 1
    conn.execute(update(change_head).where(at_head).values(pruning=True))
    gone = conn.execute(delete(change_events).where(change_events.c.id <= last.id)).rowcount
    conn.execute(
        update(change_head)
        .where(at_head)
        .values(first_id=int(last.id) + 1, first_prev_hash=str(last.hash), pruning=False)
    )
    return int(gone or (int(last.id) - first_id + 1))
