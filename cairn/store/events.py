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
from dataclasses import dataclass, replace
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
    chain_hash,
)
from cairn.store.db import WriteScope, after_commit, forget_on_rollback, job_scope
from cairn.store.prepared import Prepared, cursor
from cairn.store.schema import (
    INDEX_BATCH,
    KEY_ACTOR,
    KEY_ENTITY,
    KEY_EXPERIMENT,
    LOGGING_ACTIONS,
    UNCOMMON_ACTIONS,
    change_event_keys,
    change_events,
    change_head,
)
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
        scope.finish.append(lambda c: _append(c, scope, pending))  # before_commit, inlined
        if _COMMITTED:
            after_commit(conn, _notify)
    pending.append(change)


_DUMP = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _dump(value: Any) -> str | None:
    """``before``/``after`` as stored: sorted-key JSON, which reads back as the value whose
    JSON it is (so the text can stand for that value in the hashed bytes)."""
    if value is None:
        return None
    return orjson.dumps(value, option=_DUMP).decode()


_HEAD = Prepared(
    select(change_head.c.seq, change_head.c.hash, change_head.c.time, change_head.c.indexed_through)
    .where(change_head.c.id == bindparam("head"))
    .with_for_update()
)
_MOVE_HEAD = Prepared(
    update(change_head)
    .where(change_head.c.id == bindparam("head"), change_head.c.seq == bindparam("was"))
    .values(
        seq=bindparam("seq"),
        hash=bindparam("hash"),
        time=bindparam("time"),
        indexed_through=bindparam("indexed"),
    ),
    columns=("seq", "hash", "time", "indexed", "head", "was"),
)
_COLUMNS = tuple(column.name for column in change_events.columns)
_INSERT = Prepared(change_events.insert(), columns=_COLUMNS)
_KEYED = Prepared(
    select(
        change_events.c.id,
        change_events.c.actor,
        change_events.c.entity_type,
        change_events.c.entity_id,
        change_events.c.experiment_id,
    )
    .where(change_events.c.id > bindparam("after"), change_events.c.id <= bindparam("through"))
    .order_by(change_events.c.id.asc())
)
_INSERT_KEYS = Prepared(change_event_keys.insert(), columns=("kind", "key", "id"))

_KNOWN_HEAD = "cairn.change_head"
"""Where a connection keeps the head it last wrote (``conn.info``): the next append on it
starts from there instead of reading the head row."""

forget_on_rollback(_KNOWN_HEAD)  # a head whose write rolled back was never the log's

Head = tuple[int, str, int, int]
"""(last id, last hash, last time, last id indexed)."""


def _read_head(conn: Connection) -> Head:
    found = _HEAD.rows(conn, head=1)
    if not found:
        raise NoResultFound("the change log's head row (change_head id 1) is missing")
    seq, digest, when, indexed = found[0]
    return int(seq), str(digest), int(when), int(indexed)


def _append(conn: Connection, scope: WriteScope, changes: list[Change]) -> None:
    """Append the write's changes: chain each change to the one before, move the head, insert
    them in one statement; every :data:`INDEX_BATCH` events, also write the keys of the events
    since the last batch.

    Runs on the hot path of every tracking write (one event per logged batch), so it reads
    nothing in the common case: it starts from the head this connection last wrote and moves
    the head row only if it still is that head (a compare-and-set, which also locks the row
    until commit, so appends stay in id order). When another connection or process appended
    meanwhile, or that write rolled back, the set changes nothing, and the append reads the
    head under lock and chains again. Its statements are prepared
    (:mod:`cairn.store.prepared`) and each event is serialised once."""
    if not changes:
        return
    info = conn.info
    known: Head | None = info.get(_KNOWN_HEAD)
    head = known if known is not None else _read_head(conn)
    rows, moved = _chain(head, scope, changes)
    cur = cursor(conn)  # one driver cursor for the head and the rows
    try:
        if not _MOVE_HEAD.many(conn, [(*moved, 1, head[0])], cur):
            head = _read_head(conn)  # now locked: the set below cannot miss
            rows, moved = _chain(head, scope, changes)
            if not _MOVE_HEAD.many(conn, [(*moved, 1, head[0])], cur):
                raise NoResultFound("the change log's head moved while locked")
        info[_KNOWN_HEAD] = moved
        _INSERT.many(conn, rows, cur)
    finally:
        cur.close()
    if moved[3] != head[3]:
        _index_keys(conn, head[3], moved[3])
    changes.clear()


def _chain(head: Head, scope: WriteScope, changes: list[Change]) -> tuple[list[Any], Head]:
    """The rows of ``changes`` appended after ``head``, and the head after them."""
    seq, prev, last, indexed = head
    actor = scope.actor
    kind = str(actor.kind)
    now = max(now_ms(), last)  # the log's clock never goes backwards
    rows = []
    for change in changes:
        seq += 1
        before, after = _dump(change.before), _dump(change.after)
        entity_type = str(change.entity_type)
        # the hash covers the values as they read back: the stored JSON text is that value's
        # canonical form already (sorted keys, keys as strings, tuples as lists)
        hashed = {
            "id": seq,
            "time": now,
            "actor": actor.name,
            "actor_kind": kind,
            "address": actor.address,
            "request_id": actor.request_id,
            "action": change.action,
            "entity_type": entity_type,
            "entity_id": change.entity_id,
            "experiment_id": change.experiment_id,
            "model_name": change.model_name,
            "before": None if before is None else orjson.Fragment(before),
            "after": None if after is None else orjson.Fragment(after),
            "claimed_user": change.claimed_user,
        }
        digest = chain_hash(
            prev, orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS), scope.audit_key
        )
        rows.append(
            (
                seq, now, actor.name, kind, actor.address, actor.request_id, change.action,
                entity_type, change.entity_id, change.experiment_id, change.model_name,
                before, after, change.claimed_user, prev, digest,
            )
        )  # fmt: skip
        prev = digest
    if seq - indexed >= INDEX_BATCH:
        indexed = seq
    return rows, (seq, prev, now, indexed)


def _index_keys(conn: Connection, after: int, through: int) -> None:
    """Write the lookup keys of the events ``after < id <= through`` (sorted, so that each
    key's entries go in together)."""
    keys = []
    for event_id, actor, entity_type, entity_id, experiment_id in _KEYED.rows(
        conn, after=after, through=through
    ):
        keys.append((KEY_ACTOR, actor, event_id))
        keys.append((KEY_ENTITY, f"{entity_type}/{entity_id}", event_id))
        if experiment_id is not None:
            keys.append((KEY_EXPERIMENT, experiment_id, event_id))
    keys.sort()
    _INSERT_KEYS.many(conn, keys)


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
    ``query.limit`` of them. A filter by entity, experiment or actor (or a caller's scope of
    experiments) reads the key index for the indexed events and scans the short unindexed
    tail; the two id ranges are merged (an id found twice, when a batch of keys committed in
    between, counts once)."""
    limit = max(1, query.limit)
    c, k = change_events.c, change_event_keys.c
    query = _time_as_ids(conn, query)
    base = _filtered(conn, query)
    plan = _lookup(query)
    if plan is None:
        order = c.id.asc() if query.ascending else c.id.desc()
        return [_event(row) for row in conn.execute(base.order_by(order).limit(limit)).all()]
    kind, keys, models = plan
    indexed = int(conn.execute(select(change_head.c.indexed_through)).scalar_one())
    parts: list[Select[Any]] = []
    if keys:
        keyed = base.join(change_event_keys, k.id == c.id).where(
            k.kind == kind, k.key == keys[0] if len(keys) == 1 else k.key.in_(keys)
        )
        parts.append(_ordered(keyed, k.id, query, limit))
    if models is not None:  # a scope's registered models: the model index finds those
        parts.append(_ordered(base.where(models), c.id, query, limit))
    parts.append(_ordered(base.where(c.id > indexed), c.id, query, limit))
    found: dict[int, Any] = {}
    for part in parts:
        for row in conn.execute(part).all():
            found[int(row[0])] = row
    ids = sorted(found, reverse=not query.ascending)[:limit]
    return [_event(found[i]) for i in ids]


def _time_as_ids(conn: Connection, query: EventQuery) -> EventQuery:
    """``query`` with its time range as an id range: times never go backwards in id order, so
    ``time >= since`` is ``id >= first_at(since)``, which the primary key (and the key
    index, whose entries end in the id) answer."""
    if query.since is None and query.until is None:
        return query
    after, before = query.after_id, query.before_id
    if query.since is not None:
        low = first_at(conn, query.since) - 1
        after = low if after is None else max(after, low)
    if query.until is not None:
        high = first_at(conn, query.until)
        before = high if before is None else min(before, high)
    return replace(query, since=None, until=None, after_id=after, before_id=before)


Lookup = tuple[str, list[str], ColumnElement[bool] | None]


def _lookup(query: EventQuery) -> Lookup | None:
    """Which keys find the events of ``query``: its entity, else its experiment, else its
    actor, else (a caller who manages only some experiments and models) those experiments,
    with the condition that finds the events of those models. None: scan by id."""
    if query.entity_type is not None and query.entity_id is not None:
        return KEY_ENTITY, [f"{query.entity_type}/{query.entity_id}"], None
    if query.experiment_id is not None:
        return KEY_EXPERIMENT, [query.experiment_id], None
    if query.actor is not None:
        return KEY_ACTOR, [query.actor], None
    scope = query.scope
    if scope is None or scope.experiments.everything:
        return None
    models = _within(change_events.c.model_name, scope.models)
    return KEY_EXPERIMENT, sorted(scope.experiments.allow_ids), models


def _ordered(stmt: Select[Any], id_column: Any, query: EventQuery, limit: int) -> Select[Any]:
    """``stmt`` in the query's order of ``id_column`` (the keys' own id, so that the key index
    gives the order), bounded by the query's keyset page, at most ``limit`` rows."""
    if query.before_id is not None:
        stmt = stmt.where(id_column < query.before_id)
    if query.after_id is not None:
        stmt = stmt.where(id_column > query.after_id)
    order = id_column.asc() if query.ascending else id_column.desc()
    return stmt.order_by(order).limit(limit)


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
    conn.execute(delete(change_event_keys).where(change_event_keys.c.id <= last.id))
    conn.execute(
        update(change_head)
        .where(at_head)
        .values(first_id=int(last.id) + 1, first_prev_hash=str(last.hash), pruning=False)
    )
    deleted = int(gone) if gone and gone > 0 else int(last.id) - first_id + 1
    return Pruned(deleted, int(last.id), str(last.hash))
