"""The change-event log's own guarantees, on SQLite and PostgreSQL: events ride in the writer's
transaction (a failed write leaves none, a write never commits without them), carry the actor
of the code that asked for the write whichever thread runs it, get gap-free ids, and the
database itself refuses to edit or delete them."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError, NoResultFound

from cairn.entities.errors import CairnError
from cairn.entities.events import ACTING, Actor, ActorKind, Change, EntityType, EventQuery
from cairn.events.service import AuditService
from cairn.store import events
from cairn.store.db import Database
from cairn.store.schema import experiments


def _change(n: int) -> Change:
    return Change("test.change", EntityType.EXPERIMENT, str(n), after={"n": n})


def _all(database: Database) -> list[int]:
    found = AuditService(database).search(EventQuery(limit=1000, ascending=True))
    return [int(e.entity_id) for e in found]


def test_a_failed_write_leaves_no_event(database: Database) -> None:
    def failing(conn: Connection) -> None:
        events.record(conn, _change(1))
        raise CairnError.invalid("refused")

    with pytest.raises(CairnError):
        database.write(failing)
    database.write(lambda c: events.record(c, _change(2)))
    assert _all(database) == [2]
    assert AuditService(database).verify().ok


def test_a_write_whose_events_cannot_be_appended_is_rolled_back(database: Database) -> None:
    """The change and its event commit together or not at all: with the log unwritable (the
    head row gone), the experiment the write inserted is not there afterwards."""
    database.write(lambda c: c.execute(text("DELETE FROM change_head")))

    def create(conn: Connection) -> None:
        conn.execute(
            experiments.insert().values(
                name="orphan", lifecycle_stage="active", creation_time=1, last_update_time=1
            )
        )
        events.record(conn, _change(1))

    with pytest.raises(NoResultFound):
        database.write(create)
    names = database.read(lambda c: c.execute(select(experiments.c.name)).scalars().all())
    assert "orphan" not in names


def test_events_carry_the_actor_of_the_caller_not_of_the_writer_thread(
    database: Database,
) -> None:
    seen: dict[str, str] = {}

    def write_as(name: str, kind: ActorKind) -> None:
        token = ACTING.set(Actor(name, kind, "127.0.0.1", f"req-{name}"))
        try:
            database.write(lambda c: events.record(c, _change(len(name))))
        finally:
            ACTING.reset(token)
        seen[name] = kind

    threads = [
        threading.Thread(target=write_as, args=(f"user{i}", ActorKind.USER)) for i in range(6)
    ]
    threads.append(threading.Thread(target=write_as, args=("bot-token", ActorKind.TOKEN)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    found = AuditService(database).search(EventQuery(limit=100))
    assert sorted((e.actor, str(e.actor_kind), e.request_id) for e in found) == sorted(
        (name, str(kind), f"req-{name}") for name, kind in seen.items()
    )


def test_ids_are_gap_free_and_the_chain_verifies_under_concurrent_writers(
    database: Database,
) -> None:
    errors: list[BaseException] = []

    def writer(base: int) -> None:
        try:
            for i in range(25):
                n = base * 100 + i
                database.write(lambda c, n=n: [events.record(c, _change(n)) for _ in range(2)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b,)) for b in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    found = AuditService(database).search(EventQuery(limit=1000, ascending=True))
    assert [e.id for e in found] == list(range(1, 8 * 25 * 2 + 1))
    report = AuditService(database).verify()
    assert report.ok, report
    assert report.checked == 400


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE change_events SET actor = 'someone else' WHERE id = 2",
        "DELETE FROM change_events WHERE id = 2",
        "DELETE FROM change_events",
    ],
)
def test_the_database_refuses_to_edit_or_delete_events(database: Database, statement: str) -> None:
    database.write(lambda c: [events.record(c, _change(n)) for n in range(3)])
    with pytest.raises(DBAPIError, match="append-only"):
        database.write(lambda c: c.execute(text(statement)))
    assert _all(database) == [0, 1, 2]


def test_prune_is_the_one_delete_and_keeps_the_chain_verifiable(database: Database) -> None:
    database.write(lambda c: [events.record(c, _change(n)) for n in range(4)])
    cutoff = database.read(lambda c: events.head(c))
    assert cutoff[0] == 4
    gone = database.write(lambda c: events.prune(c, older_than=2**62))
    assert gone is not None
    assert (gone.deleted, gone.through_id) == (4, 4)
    database.write(lambda c: events.record(c, _change(9)))
    report = AuditService(database).verify()
    assert report.ok, report
    assert (report.first_id, report.head_id, report.checked) == (5, 5, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        database.write(lambda c: c.execute(text("DELETE FROM change_events")))
