"""The change-event log in SQL: append in the writer's transaction, read, walk the chain.

A writer calls :func:`record` with each :class:`~cairn.entities.events.Change` it makes; the
changes of one write are appended together as the write's last step (a
:func:`~cairn.store.db.before_commit` hook), so a write that fails leaves no event and a write
never commits without its events. Appending locks the one ``change_head`` row, takes the next
ids and links each event's hash to the previous one: ids are gap-free and commit in order,
which is what lets consumers read the log as an outbox by ``id > cursor``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    false,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import NoResultFound

from cairn.entities.access import Visibility
from cairn.entities.events import (
    ActorKind,
    Change,
    ChangeEvent,
    EventQuery,
    canonical,
    chain_hash,
)
from cairn.store.db import WriteScope, after_commit, before_commit, job_scope
from cairn.store.prepared import Prepared
from cairn.store.schema import LOGGING_ACTIONS, UNCOMMON_ACTIONS, change_events, change_head
from cairn.store.sql import now_ms

_PENDING = "changes"

_COMMITTED: list[Callable[[], None]] = []


def on_committed(listener: Callable[[], None]) -> None:
    """Call ``listener()`` (quickly: it runs on the committing thread) after each commit that
    appended events in this process: the job engine's nudge to its outbox consumers."""
    _COMMITTED.append(listener)


def off_committed(listener: Callable[[], None]) -> None:
    if listener in _COMMITTED:
        _COMMITTED.remove(listener)


def _notify() -> None:
    for listener in tuple(_COMMITTED):
        listener()


def record(conn: Connection, change: Change) -> None:
    """Append ``change`` to the log as part of the write running on ``conn``."""
    scope = job_scope(conn)
    pending: list[Change] | None = scope.data.get(_PENDING)
    if pending is None:
        pending = scope.data[_PENDING] = []
        before_commit(conn, lambda c: _append(c, scope, pending))
        if _COMMITTED:
            after_commit(conn, _notify)
    pending.append(change)


_DUMP = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, option=_DUMP).decode()


_HEAD = Prepared(
    select(change_head.c.seq, change_head.c.hash, change_head.c.time)
    .where(change_head.c.id == bindparam("head"))
    .with_for_update()
)
_MOVE_HEAD = Prepared(
    update(change_head)
    .where(change_head.c.id == bindparam("head"))
    .values(seq=bindparam("seq"), hash=bindparam("hash"), time=bindparam("time")),
    columns=("seq", "hash", "time", "head"),
)
_COLUMNS = tuple(column.name for column in change_events.columns)
_INSERT = Prepared(change_events.insert(), columns=_COLUMNS)


def _append(conn: Connection, scope: WriteScope, changes: list[Change]) -> None:
    """Append the write's changes: lock the head, chain each change to the one before, insert
    them in one statement and move the head. Runs on the hot path of every tracking write
    (one event per logged batch), so its three statements are prepared
    (:mod:`cairn.store.prepared`)."""
    if not changes:
        return
    found = _HEAD.rows(conn, head=1)
    if not found:
        raise NoResultFound("the change log's head row (change_head id 1) is missing")
    seq, prev, last = int(found[0][0]), str(found[0][1]), int(found[0][2])
    actor = scope.actor
    now = max(now_ms(), last)  # the log's clock never goes backwards
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
            # the hash covers the values as they read back (keys as strings, tuples as lists)
            "before": orjson.loads(before) if before is not None else None,
            "after": orjson.loads(after) if after is not None else None,
            "claimed_user": change.claimed_user,
        }
        digest = chain_hash(prev, canonical(values), scope.audit_key)
        values.update(before=before, after=after, prev_hash=prev, hash=digest)
        rows.append(tuple(values[name] for name in _COLUMNS))
        prev = digest
    _INSERT.many(conn, rows)
    _MOVE_HEAD.many(conn, [(seq, prev, now, 1)])
    changes.clear()


def _json(text: str | None) -> Any:
    """A stored ``before``/``after``: its JSON value, or the text itself when it is not JSON
    (only a row edited behind Cairn's back; verification then finds its hash wrong)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


_KINDS: dict[str, ActorKind] = {str(kind): kind for kind in ActorKind}


def _event(row: Any) -> ChangeEvent:
    """An event from a row of ``select(change_events)`` (columns in table order). Export and
    verification read millions of these: positional unpacking, no per-row enum call."""
    (
        event_id, when, actor, kind, address, request_id, action, entity_type, entity_id,
        experiment_id, model_name, before, after, claimed_user, prev_hash, digest,
    ) = row  # fmt: skip
    return ChangeEvent(
        int(event_id),
        int(when),
        actor,
        # an unknown kind was edited behind Cairn's back: kept as found, so its hash fails
        _KINDS.get(kind, kind),
        address,
        request_id,
        action,
        entity_type,
        entity_id,
        experiment_id,
        model_name,
        _json(before),
        _json(after),
        claimed_user,
        prev_hash,
        digest,
    )


_TIME_AT = Prepared(
    select(change_events.c.time)
    .where(change_events.c.id >= bindparam("id"))
    .order_by(change_events.c.id.asc())
    .limit(bindparam("one"))
)


def first_at(conn: Connection, when: int) -> int:
    """The id of the first event at or after ``when`` (ms), or the head's id + 1 when there is
    none: a binary search over ids, which works because times never go backwards in id order
    (about 20 primary-key lookups for a million events)."""
    seq, _, first_id, _ = head(conn)
    low, high = first_id, seq + 1
    for _ in range(64):
        if low >= high:
            break
        middle = (low + high) // 2
        found = _TIME_AT.rows(conn, id=middle, one=1)
        if not found or int(found[0][0]) >= when:
            high = middle
        else:
            low = middle + 1
    return low


def _filtered(conn: Connection, query: EventQuery) -> Select[Any]:
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
    if query.action is not None and query.action not in LOGGING_ACTIONS:
        # spelled exactly as the index's condition, so that the planner sees it may use it
        where.append(literal_column(UNCOMMON_ACTIONS))
    if query.since is not None:  # time ranges are id ranges: the primary key answers them
        where.extend((c.id >= first_at(conn, query.since), c.time >= query.since))
    if query.until is not None:
        where.extend((c.id < first_at(conn, query.until), c.time < query.until))
    if query.before_id is not None:
        where.append(c.id < query.before_id)
    if query.after_id is not None:
        where.append(c.id > query.after_id)
    if query.scope is not None:
        where.append(
            or_(
                _within(c.experiment_id, query.scope.experiments),
                _within(c.model_name, query.scope.models),
            )
        )
    stmt = select(change_events)
    if where:
        stmt = stmt.where(and_(*where))
    return stmt


def _within(column: Any, allowed: Visibility) -> ColumnElement[bool]:
    """Events whose ``column`` (experiment id or model name) ``allowed`` lets through; an
    event without one is never let through by it."""
    if allowed.everything:
        found: ColumnElement[bool] = column.is_not(None)
    elif allowed.allow_ids:
        found = column.in_(sorted(allowed.allow_ids))
    else:
        return false()
    if allowed.deny_ids:
        found = and_(found, column.not_in(sorted(allowed.deny_ids)))
    return found


def search(conn: Connection, query: EventQuery) -> list[ChangeEvent]:
    """The events matching ``query``, newest first (oldest first if ``ascending``), at most
    ``query.limit`` of them."""
    order = change_events.c.id.asc() if query.ascending else change_events.c.id.desc()
    stmt = _filtered(conn, query).order_by(order).limit(max(1, query.limit))
    return [_event(row) for row in conn.execute(stmt).all()]


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


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune removed: how many events, and the id and hash of the last one (the
    ``prev_hash`` the first kept event carries)."""

    deleted: int
    through_id: int
    through_hash: str


def prune(conn: Connection, older_than: int) -> Pruned | None:
    """Delete the events older than ``older_than`` (ms): the retention period's only path.
    The head then records where the chain starts, so :func:`walk` and verification begin at
    the first kept event. None when nothing is that old."""
    _, _, first_id, _ = head(conn)
    last = conn.execute(
        select(change_events.c.id, change_events.c.hash)
        .where(change_events.c.id < first_at(conn, older_than))
        .order_by(change_events.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    at_head = change_head.c.id == 1
    conn.execute(update(change_head).where(at_head).values(pruning=True))
    gone = conn.execute(delete(change_events).where(change_events.c.id <= last.id)).rowcount
    conn.execute(
        update(change_head)
        .where(at_head)
        .values(first_id=int(last.id) + 1, first_prev_hash=str(last.hash), pruning=False)
    )
    deleted = int(gone) if gone and gone > 0 else int(last.id) - first_id + 1
    return Pruned(deleted, int(last.id), str(last.hash))
