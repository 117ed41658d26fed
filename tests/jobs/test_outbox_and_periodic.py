"""Outbox consumers see every committed change event exactly once, across restarts and
failures, never a rolled-back one; periodic jobs run once per period across engines."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from cairn.entities.events import ActorKind, Change, ChangeEvent, EntityType, EventQuery
from cairn.jobs.registry import JobContext, consumer, periodic
from cairn.store import events as event_store
from cairn.store import jobs as job_store
from cairn.store.db import _scoped
from cairn.store.schema import jobs
from tests.jobs.conftest import Setup, wait_for


def _change(setup: Setup, n: int) -> int:
    def write(conn: Connection) -> None:
        event_store.record(conn, Change("setting.test", EntityType.SETTING, f"s{n}"))

    setup.db.write(write)
    return int(setup.db.read(event_store.head)[0])


def _jobs_of(setup: Setup, kind: str) -> int:
    return int(
        setup.db.read(
            lambda c: c.execute(select(func.count()).where(jobs.c.kind == kind)).scalar_one()
        )
    )


def test_a_consumer_sees_each_event_once_across_restarts(setup: Setup, kind_name: str) -> None:
    seen: list[int] = []
    fail_next = threading.Event()

    @consumer(kind_name, batch=7)
    def fan_out(conn: Connection, events: Sequence[ChangeEvent]) -> None:
        for event in events:
            job_store.enqueue(conn, f"{kind_name}.job", {"event": event.id}, key=str(event.id))
        if fail_next.is_set():  # everything above rolls back with the cursor
            fail_next.clear()
            raise RuntimeError("consumer failed once")
        seen.extend(e.id for e in events)

    before = int(setup.db.read(event_store.head)[0])
    engine = setup.engine(tick=0.2)
    committed = [_change(setup, n) for n in range(20)]

    class Rollback(Exception):
        pass

    def rolled_back(conn: Connection) -> None:
        event_store.record(conn, Change("setting.test", EntityType.SETTING, "gone"))
        raise Rollback

    with pytest.raises(Rollback):
        setup.db.write(rolled_back)
    wait_for(lambda: len(seen) >= 20, what="the first 20 events")
    engine.stop(timeout=10)

    fail_next.set()
    committed += [_change(setup, n) for n in range(20, 45)]  # written while no engine runs
    setup.engine(tick=0.2)  # a restart: the cursor was kept
    wait_for(lambda: len(seen) >= 45, what="the next 25 events")
    # the consumer saw them inside its transaction: wait for that commit
    wait_for(lambda: _jobs_of(setup, f"{kind_name}.job") >= 45, what="the last batch's commit")
    assert seen == committed
    assert seen == list(range(before + 1, before + 46))  # the rolled-back write left no event
    assert _jobs_of(setup, f"{kind_name}.job") == 45  # one job per event, the failure undone


def test_what_a_consumer_records_is_the_system_actors(setup: Setup, kind_name: str) -> None:
    @consumer(kind_name)
    def echo(conn: Connection, events: Sequence[ChangeEvent]) -> None:
        for event in events:
            if event.action == "setting.test":
                echoed = Change("setting.echo", EntityType.SETTING, event.entity_id)
                event_store.record(conn, echoed)

    setup.engine(tick=0.2)
    _change(setup, 7)

    def echoed() -> list[ChangeEvent]:
        query = EventQuery(action="setting.echo")
        return setup.db.read(lambda c: event_store.search(c, query))

    wait_for(lambda: len(echoed()) == 1, what="the consumer's own event")
    assert (echoed()[0].actor, echoed()[0].actor_kind) == ("system", ActorKind.SYSTEM)


def test_a_new_consumer_starts_at_the_head(setup: Setup, kind_name: str) -> None:
    old = _change(setup, 0)
    seen: list[int] = []

    @consumer(kind_name)
    def reader(conn: Connection, events: Sequence[ChangeEvent]) -> None:
        seen.extend(e.id for e in events)

    setup.engine(tick=0.2)
    new = _change(setup, 1)
    wait_for(lambda: new in seen, what="the new event")
    assert old not in seen


def test_an_idle_consumer_passes_over_events_unread_and_reads_again_once_it_is_not(
    setup: Setup, kind_name: str
) -> None:
    seen: list[int] = []
    asked: list[int] = []
    idle = threading.Event()
    idle.set()

    def nothing_to_do(conn: Connection) -> bool:
        asked.append(1)
        return idle.is_set()

    @consumer(kind_name, batch=4, idle=nothing_to_do)
    def reader(conn: Connection, events: Sequence[ChangeEvent]) -> None:
        seen.extend(e.id for e in events)

    setup.engine(tick=0.2)
    passed = [_change(setup, n) for n in range(10)]

    def cursor() -> int:
        return setup.db.read(job_store.cursors).get(kind_name, -1)

    wait_for(lambda: cursor() == passed[-1], what="the idle consumer's cursor at the head")
    assert asked  # it was asked
    assert seen == []  # and moved past ten events, none read

    idle.clear()
    wanted = [_change(setup, n) for n in range(10, 19)]  # more than two batches of 4
    wait_for(lambda: len(seen) >= len(wanted), what="the events after it stopped being idle")
    wait_for(lambda: cursor() == wanted[-1], what="the cursor at the last batch")
    assert seen == wanted


@pytest.mark.postgres
def test_a_periodic_job_runs_once_across_two_engines_on_postgres(
    postgres_setup: Setup, kind_name: str
) -> None:
    _once_across_engines(postgres_setup, kind_name)


def test_a_periodic_job_runs_once_across_two_engines_on_sqlite(
    sqlite_setup: Setup, kind_name: str
) -> None:
    _once_across_engines(sqlite_setup, kind_name)


def _once_across_engines(setup: Setup, kind_name: str) -> None:
    runs: list[str] = []
    lock = threading.Lock()

    @periodic(kind_name, every=3600)
    def hourly(ctx: JobContext) -> None:
        with lock:
            runs.append(ctx.worker)

    engines = [
        setup.engine(start=False),
        setup.engine(start=False, db=setup.another_database()),
    ]
    barrier = threading.Barrier(len(engines))

    def race(engine: Any) -> None:
        barrier.wait(30)
        for _ in range(5):
            engine._next_check.clear()  # ask the database every time, not the local schedule
            engine.run_periodics(wait=True)

    threads = [threading.Thread(target=race, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(runs) == 1
    schedule = {row["name"]: row for row in setup.db.read(job_store.periodic_schedule)}
    assert schedule[kind_name]["owner"] == runs[0]
    assert schedule[kind_name]["last_finished"] is not None


def test_the_audit_prune_is_a_daily_periodic_job() -> None:
    from cairn.events import jobs as audit_jobs
    from cairn.jobs.registry import PERIODICS

    assert PERIODICS["audit.prune"].every == audit_jobs.DAY_SECONDS


@pytest.mark.postgres
def test_a_consumer_never_sees_an_uncommitted_change(postgres_setup: Setup, kind_name: str) -> None:
    setup = postgres_setup
    seen: list[int] = []

    @consumer(kind_name)
    def reader(conn: Connection, events: Sequence[ChangeEvent]) -> None:
        seen.extend(e.id for e in events)

    engine = setup.engine(start=False)
    setup.db.write(engine._open_cursors)
    first = _change(setup, 1)
    engine.run_consumers()
    assert seen == [first]

    def write(conn: Connection) -> None:
        event_store.record(conn, Change("setting.test", EntityType.SETTING, "open"))

    with setup.db.engine.connect() as conn:
        transaction = conn.begin()
        _scoped(write, None)(conn)  # the event is appended, the transaction still open
        engine.run_consumers()
        assert seen == [first]  # not visible: not handed out
        transaction.commit()
    engine.run_consumers()
    assert seen == [first, first + 1]
