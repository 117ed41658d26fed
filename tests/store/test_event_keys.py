"""Lookups of the change log by entity, experiment, actor and scope, on SQLite and PostgreSQL.

Appends write the lookup keys of the newest events in batches (``INDEX_BATCH``), so a filtered
search reads the key index for the older events and scans the unindexed tail for the newest.
Each filter is checked against the same filter applied to every event (walked in id order),
through every page, in both orders, while the tail holds none, some and a batch's worth of
events, after a retention prune, and for a caller who manages only some experiments and
models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from cairn.entities.access import Visibility
from cairn.entities.events import (
    ACTING,
    Actor,
    ActorKind,
    Change,
    ChangeEvent,
    EntityType,
    EventQuery,
    EventScope,
)
from cairn.events.service import AuditService
from cairn.store import events
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema
from cairn.store.schema import INDEX_BATCH, change_event_keys, change_head

KINDS = (
    ("run.log_batch", EntityType.RUN),
    ("run.create", EntityType.RUN),
    ("experiment.rename", EntityType.EXPERIMENT),
    ("model_version.transition_stage", EntityType.MODEL_VERSION),
    ("user.create", EntityType.USER),
)


def _change(n: int) -> Change:
    action, kind = KINDS[n % len(KINDS)]
    experiment = str(n % 7) if kind in (EntityType.RUN, EntityType.EXPERIMENT) else None
    model = f"model-{n % 3}" if kind is EntityType.MODEL_VERSION else None
    entity = f"{model}/{n % 4 + 1}" if model else f"e{n % 13}"
    return Change(action, kind, entity, experiment_id=experiment, model_name=model)


def _write(db: Database, first: int, count: int, actor: str) -> None:
    token = ACTING.set(Actor(actor, ActorKind.USER, "127.0.0.1", f"req-{first}"))
    try:
        db.write(lambda c: [events.record(c, _change(first + i)) for i in range(count)])
    finally:
        ACTING.reset(token)


@pytest.fixture
def db(store_uri: str) -> Iterator[Database]:
    database = Database(store_uri)
    ensure_schema(database.write_engine)
    database.start()
    try:
        yield database
    finally:
        database.close()


def _everything(db: Database) -> list[ChangeEvent]:
    return db.read(lambda c: list(events.walk(c, 0)))


def _matches(event: ChangeEvent, query: EventQuery) -> bool:
    for name in ("actor", "action", "entity_type", "entity_id", "experiment_id", "model_name"):
        wanted = getattr(query, name)
        if wanted is not None and getattr(event, name) != wanted:
            return False
    if query.since is not None and event.time < query.since:
        return False
    if query.until is not None and event.time >= query.until:
        return False
    scope = query.scope
    if scope is not None:
        in_experiment = event.experiment_id is not None and scope.experiments.allows(
            event.experiment_id
        )
        in_model = event.model_name is not None and scope.models.allows(event.model_name)
        if not (in_experiment or in_model):
            return False
    return True


def _pages(db: Database, query: EventQuery) -> list[int]:
    """Every id the query returns, page by page (keyset on the last id seen)."""
    seen: list[int] = []
    for _ in range(10_000):
        page = db.read(lambda c, q=query: events.search(c, q))
        seen.extend(e.id for e in page)
        if len(page) < query.limit:
            return seen
        last = page[-1].id
        query = replace(query, after_id=last) if query.ascending else replace(query, before_id=last)
    raise AssertionError("paging did not end")


QUERIES = (
    EventQuery(entity_type="run", entity_id="e3"),
    EventQuery(entity_type="model_version", entity_id="model-1/2"),
    EventQuery(experiment_id="4"),
    EventQuery(experiment_id="4", action="run.create"),
    EventQuery(actor="bob"),
    EventQuery(actor="bob", experiment_id="2"),
    EventQuery(actor="nobody"),
    EventQuery(entity_id="e5"),
    EventQuery(
        scope=EventScope(
            Visibility(everything=False, allow_ids=frozenset({"1", "5"})),
            Visibility(everything=False, allow_ids=frozenset({"model-2"})),
        )
    ),
    EventQuery(
        scope=EventScope(
            Visibility(everything=False, allow_ids=frozenset({"3"})), Visibility(everything=False)
        )
    ),
    EventQuery(scope=EventScope(Visibility(everything=False), Visibility())),
)


def _check_all(db: Database) -> None:
    everything = _everything(db)
    times = sorted({e.time for e in everything})
    since, until = times[len(times) // 3], times[2 * len(times) // 3]
    ranged = [
        replace(q, since=since, until=until)
        for q in (EventQuery(actor="bob"), EventQuery(experiment_id="4"), QUERIES[0], QUERIES[-3])
    ]
    ranged.append(EventQuery(experiment_id="2", since=since))
    ranged.append(EventQuery(actor="alice", until=until))
    for query in (*QUERIES, *ranged):
        expected = [e.id for e in everything if _matches(e, query)]
        for limit in (1, 7, 500):
            newest = _pages(db, replace(query, limit=limit))
            oldest = _pages(db, replace(query, limit=limit, ascending=True))
            assert newest == expected[::-1], (query, limit)
            assert oldest == expected, (query, limit)


def _tail(db: Database) -> int:
    def read(conn: Any) -> int:
        head = conn.execute(select(change_head.c.seq, change_head.c.indexed_through)).one()
        return int(head.seq) - int(head.indexed_through)

    return db.read(read)


def test_keyed_search_matches_a_full_scan_across_the_index_and_its_tail(db: Database) -> None:
    _write(db, 0, INDEX_BATCH // 2, "alice")
    assert _tail(db) == INDEX_BATCH // 2  # nothing indexed yet: the tail answers alone
    _check_all(db)
    n = INDEX_BATCH // 2
    for i in range(3 * INDEX_BATCH):  # one event per write, as the tracking hot path appends
        _write(db, n + i, 1, ("alice", "bob", "carol")[i % 3])
        if i % 64 == 0:
            time.sleep(0.003)  # a few distinct times for the time ranges
    assert 0 < _tail(db) < INDEX_BATCH
    _check_all(db)
    _write(db, n + 3 * INDEX_BATCH, 2 * INDEX_BATCH + 5, "bob")  # one write past a batch
    assert _tail(db) == 0
    _check_all(db)


def test_every_event_has_its_keys_once_indexed(db: Database) -> None:
    for i in range(INDEX_BATCH + 3):
        _write(db, i, 1, "dora")

    def keys(conn: Any) -> tuple[int, int]:
        through = int(conn.execute(select(change_head.c.indexed_through)).scalar_one())
        count = int(conn.execute(select(func.count()).select_from(change_event_keys)).scalar_one())
        return through, count

    through, count = db.read(keys)
    assert through == INDEX_BATCH
    indexed = [e for e in _everything(db) if e.id <= through]
    assert count == sum(3 if e.experiment_id is not None else 2 for e in indexed)


def test_a_prune_takes_the_keys_of_the_events_it_deletes(db: Database) -> None:
    for i in range(2 * INDEX_BATCH):
        _write(db, i, 1, "erin")
    everything = _everything(db)
    cut = everything[INDEX_BATCH + 10]
    pruned = db.write(lambda c: events.prune(c, cut.time + 1))
    assert pruned is not None
    left = db.read(
        lambda c: c.execute(select(func.min(change_event_keys.c.id))).scalar_one_or_none()
    )
    assert left is None or left > pruned.through_id
    _check_all(db)
    assert AuditService(db).verify().ok
