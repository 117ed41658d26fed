"""Writes that meet each other on PostgreSQL and MariaDB: a real deadlock (two connections
locking rows in opposite order) or serialisation failure aborts one transaction, the store runs
that write again, whole, and it commits exactly once; any other error is not retried.

Nothing is simulated: the conflicts are the databases' own, made by real transactions on the
test's fresh database. SQLite has no such failures (one writer per process) and is not here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from sqlalchemy import Connection, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.requests import Request

from cairn.entities.errors import TRANSACTION_ATTEMPTS, transaction_conflict
from cairn.events.service import AuditService
from cairn.server.errors import internal_error
from cairn.services.tracking import TrackingService
from cairn.store import experiments as exp_store
from cairn.store.db import Database, retry_wait
from cairn.store.metric_keys import MetricKeys
from cairn.store.migrate import ensure_schema
from cairn.store.schema import experiment_tags
from tests.databases import fresh_database

SERVER_BACKENDS = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("postgres-grouped", marks=pytest.mark.postgres),  # CAIRN_DB_GROUP_COMMIT
    pytest.param("mysql", marks=pytest.mark.mysql),
]
WAIT_S = 20.0
"""Bound on every wait for the other transaction (a lock wait, a barrier)."""
CAIRN_DEADLOCK_TIMEOUT = "5s"
"""PostgreSQL checks for a deadlock once a wait has lasted ``deadlock_timeout``, and the
transaction whose check finds the cycle is the one aborted. Cairn's connections check after
5 s, the raw one after a minute: the cycle is closed well within Cairn's 5 s (even on a
loaded machine), so Cairn's write is the one aborted (and retried), never the raw one."""


@pytest.fixture(params=SERVER_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def uri(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend.removesuffix("-grouped"), tmp_path) as found:
        yield found


def opened(uri: str, *, group_commit: bool = False) -> Database:
    """A started store on ``uri`` whose PostgreSQL connections check for deadlocks after
    :data:`CAIRN_DEADLOCK_TIMEOUT`, counting its retries in ``.retries``."""
    database = Database(uri, pool_size=2, group_commit=group_commit)
    if database.dialect == "postgresql":

        def slower_deadlock_check(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET deadlock_timeout = '{CAIRN_DEADLOCK_TIMEOUT}'")
            dbapi_conn.commit()

        event.listen(database.engine, "connect", slower_deadlock_check)
    ensure_schema(database.write_engine)
    database.start()
    retries: list[str] = []
    database.observe_retries(retries.append)
    database.retries = retries  # type: ignore[attr-defined]
    return database


@pytest.fixture
def db(uri: str, backend: str) -> Iterator[Database]:
    database = opened(uri, group_commit=backend.endswith("-grouped"))
    try:
        yield database
    finally:
        database.close()


def retries_of(db: Database) -> list[str]:
    found: list[str] = db.retries  # type: ignore[attr-defined]
    return found


class Raw:
    """A transaction of the test's own on a driver connection, outside Cairn."""

    def __init__(self, uri: str):
        url = make_url(uri)
        self.mysql = url.get_backend_name() == "mysql"
        if self.mysql:
            self.conn: Any = pymysql.connect(
                host=url.host, port=url.port or 3306, user=url.username, database=url.database,
                autocommit=False, charset="utf8mb4",
            )  # fmt: skip
            self.run("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        else:
            self.conn = psycopg.connect(
                host=url.host, port=url.port or 5432, user=url.username, dbname=url.database
            )
            self.run("SET deadlock_timeout = '60s'")
        self.commit()

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params or None)
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def waiting_on_a_lock(uri: str, at_least: int = 1) -> None:
    """Return once ``at_least`` transactions of the database wait for a row lock."""
    probe = Raw(uri)
    try:
        if probe.mysql:
            sql = "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'"
        else:
            sql = (
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        deadline = time.monotonic() + WAIT_S
        while True:
            (found,) = probe.run(sql)[0]
            probe.commit()
            if int(found) >= at_least:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"no transaction waited for a lock within {WAIT_S:.0f} s")
            time.sleep(0.02)
    finally:
        probe.close()


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def joined(thread: threading.Thread, outcome: dict[str, Any]) -> Any:
    thread.join(WAIT_S * 2)
    assert not thread.is_alive(), "the write never finished"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def count_events(db: Database, action: str) -> int:
    return int(
        db.read(
            lambda c: c.execute(
                text("SELECT COUNT(*) FROM change_events WHERE action = :a"), {"a": action}
            ).scalar_one()
        )
    )


def tags_of(db: Database, experiment_id: int) -> dict[str, str]:
    t = experiment_tags.c
    query = select(t.key, t.value).where(t.experiment_id == experiment_id)
    return db.read(lambda c: {str(k): str(v) for k, v in c.execute(query)})


def test_two_writes_that_deadlock_each_commit_once(
    db: Database, uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two writes lock two experiments' rows in opposite order: the database aborts one, the
    store runs it again, and both commit, each with its tag and its one change event. They
    come from two stores (two server processes): within one process on PostgreSQL with group
    commit, the group writer runs one write at a time, so two of its writes never wait for
    each other."""
    tracking = TrackingService(db)
    other = opened(uri, group_commit=db.group_commit)
    first = int(tracking.create_experiment("first"))
    second = int(tracking.create_experiment("second"))
    both_hold_one = threading.Barrier(2, timeout=WAIT_S)
    runs = {"a": 0, "b": 0}

    def write(name: str, mine: int, theirs: int) -> Callable[[Connection], None]:
        def fn(conn: Connection) -> None:
            runs[name] += 1
            touch = text(
                "UPDATE experiments SET last_update_time = last_update_time + 1 "
                "WHERE experiment_id = :e"
            )
            conn.execute(touch, {"e": mine})
            if runs[name] == 1:  # the first run only: a rerun must not wait for a partner
                both_hold_one.wait()
            conn.execute(touch, {"e": theirs})
            exp_store.set_tag(conn, mine, "written_by", name)

        return fn

    caplog.set_level(logging.WARNING, logger="cairn.store.db")
    a = in_thread(lambda: db.write(write("a", first, second)))
    b = in_thread(lambda: other.write(write("b", second, first)))
    try:
        joined(*a)
        joined(*b)
    finally:
        other.close()

    assert sorted(runs.values()) == [1, 2], runs  # one of them ran again, once
    assert retries_of(db) + retries_of(other) == ["deadlock"]
    retried = [r for r in caplog.records if "run again" in r.getMessage()]
    assert len(retried) == 1, [r.getMessage() for r in caplog.records]
    assert "\n" not in retried[0].getMessage()
    assert "deadlock (attempt 1 of 5)" in retried[0].getMessage()
    assert tags_of(db, first) == {"written_by": "a"}
    assert tags_of(db, second) == {"written_by": "b"}
    assert count_events(db, "experiment.set_tag") == 2
    report = AuditService(db).verify()
    assert report.ok, report


def test_a_cairn_write_aborted_by_a_deadlock_commits_once(
    db: Database, uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The stock write path (TrackingService.set_experiment_tag: the tag, the experiment's
    update time, then its change event under the log's head lock) meets a transaction of
    another client that holds the head and then wants the experiment's row: a real deadlock,
    with Cairn's write the one aborted. It runs again once the other has committed, and the
    tag and its event are there once."""
    tracking = TrackingService(db)
    eid = int(tracking.create_experiment("contended"))
    other = int(tracking.create_experiment("bystander"))
    tracking.set_experiment_tag(eid, "stage", "before")
    caplog.set_level(logging.WARNING, logger="cairn.store.db")
    raw = Raw(uri)
    try:
        # MariaDB aborts the transaction that changed fewer rows: this one changes many
        key = "`key`" if raw.mysql else "key"
        for i in range(200):
            raw.run(
                f"INSERT INTO experiment_tags (experiment_id, {key}, value) VALUES (%s, %s, %s)",
                (other, f"bulk{i}", "x"),
            )
        raw.run("SELECT seq FROM change_head WHERE id = 1 FOR UPDATE")
        write = in_thread(lambda: tracking.set_experiment_tag(eid, "stage", "after"))
        waiting_on_a_lock(uri)  # Cairn's write holds the experiment and waits for the head
        raw.run(
            "UPDATE experiments SET last_update_time = last_update_time + 1 "
            "WHERE experiment_id = %s",
            (eid,),
        )  # closes the cycle: the database aborts Cairn's write, this one goes on
        raw.commit()
    finally:
        raw.close()
    joined(*write)

    assert retries_of(db) == ["deadlock"]
    assert tags_of(db, eid) == {"stage": "after"}
    assert len(tags_of(db, other)) == 200  # the other transaction committed too
    assert count_events(db, "experiment.set_tag") == 2  # "before", and "after" once
    report = AuditService(db).verify()
    assert report.ok, report
    lines = [r.getMessage() for r in caplog.records if "run again" in r.getMessage()]
    assert len(lines) == 1, lines


def test_a_conflict_every_time_gives_up_after_five_runs(
    db: Database, uri: str, backend: str
) -> None:
    """A write that meets a conflict on every run is run five times, then its error goes to
    the caller, and a request would be answered 503 with Retry-After (nothing stored)."""
    tracking = TrackingService(db)
    eid = int(tracking.create_experiment("hot"))
    runs = 0
    raw = Raw(uri)
    try:
        if backend == "mysql":
            # a real lock wait timeout: the row stays locked by the raw transaction
            raw.run("SELECT * FROM experiments WHERE experiment_id = %s FOR UPDATE", (eid,))

            def fn(conn: Connection) -> None:
                nonlocal runs
                runs += 1
                conn.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
                conn.execute(
                    text("UPDATE experiments SET name = 'renamed' WHERE experiment_id = :e"),
                    {"e": eid},
                )
        else:
            # a real serialisation failure: a snapshot taken, the row changed and committed
            # by another transaction meanwhile, then updated here
            raw.commit()

            def fn(conn: Connection) -> None:
                nonlocal runs
                runs += 1
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                conn.execute(text("SELECT name FROM experiments WHERE experiment_id = :e"),
                             {"e": eid})  # fmt: skip
                raw.run(
                    "UPDATE experiments SET last_update_time = last_update_time + 1 "
                    "WHERE experiment_id = %s",
                    (eid,),
                )
                raw.commit()
                conn.execute(
                    text("UPDATE experiments SET name = 'renamed' WHERE experiment_id = :e"),
                    {"e": eid},
                )

        started = time.monotonic()
        with pytest.raises(DBAPIError) as raised:
            db.write(fn)
        took = time.monotonic() - started
    finally:
        raw.rollback()
        raw.close()
    assert runs == TRANSACTION_ATTEMPTS == 5
    expected = "lock wait timeout" if backend == "mysql" else "serialization failure"
    assert transaction_conflict(raised.value) == expected
    assert retries_of(db) == [expected] * 4
    assert took < WAIT_S, took
    assert tracking.get_experiment(eid).name == "hot"

    answer = _answer_to(raised.value)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert b"TEMPORARILY_UNAVAILABLE" in answer.body


def _answer_to(exc: BaseException) -> Any:
    import asyncio

    request = Request({"type": "http", "method": "POST", "path": "/x", "headers": []})
    return asyncio.run(internal_error(request, exc))


def test_an_error_that_is_no_conflict_is_not_retried(db: Database) -> None:
    """A unique violation (a real one, from the database) is raised after one run."""
    tracking = TrackingService(db)
    tracking.create_experiment("taken")
    runs = 0

    def fn(conn: Connection) -> None:
        nonlocal runs
        runs += 1
        conn.execute(
            text(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time) VALUES ('taken', 'x', 'active', 0, 0)"
            )
        )

    with pytest.raises(IntegrityError) as raised:
        db.write(fn)
    assert runs == 1
    assert transaction_conflict(raised.value) is None
    assert retries_of(db) == []


def test_a_failed_write_leaves_nothing_for_the_next_commit(uri: str) -> None:
    """What a write asked to do after its commit (cache a new metric key's id) is dropped when
    it rolls back, not run after the next write on the same pooled connection commits: a
    retried write starts clean, and the cache never holds an id that was rolled back."""
    db = Database(uri, pool_size=1)
    ensure_schema(db.write_engine)
    try:
        keys = MetricKeys()

        def fails(conn: Connection) -> None:
            keys.ensure(conn, ["loss"])
            raise ValueError("the rest of the write failed")

        with pytest.raises(ValueError, match="the rest of the write failed"):
            db.write(fails)
        db.write(lambda c: c.execute(text("SELECT 1")))  # the next write on that connection
        assert db.read(lambda c: keys.lookup(c, ["loss"])) == {}
        made = db.write(lambda c: keys.ensure(c, ["loss"]))
        assert db.read(lambda c: keys.lookup(c, ["loss"])) == made
    finally:
        db.close()


def test_the_retry_wait_is_short_random_and_growing() -> None:
    for attempt, ceiling in ((1, 0.02), (2, 0.04), (3, 0.08), (4, 0.16)):
        waits = {retry_wait(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempt, waits)
        assert len(waits) > 1
