"""Group commit on PostgreSQL: writes that arrive while the process's group writer is busy
run together in one transaction, a savepoint each, with one COMMIT.

Everything is real: a fresh PostgreSQL database, the store's own write paths, the database's
own errors and deadlocks. A write is kept running (:class:`Held`) so that the writes submitted
meanwhile are known to form the next group, instead of hoping that threads overlap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from cairn.events.service import AuditService
from cairn.services.tracking import TrackingService
from cairn.store import experiments as exp_store
from cairn.store.db import Database, before_commit
from cairn.store.metric_keys import MetricKeys
from tests.databases import fresh_database
from tests.store.test_transaction_retries import (
    WAIT_S,
    Raw,
    count_events,
    in_thread,
    joined,
    opened,
    retries_of,
    tags_of,
    waiting_on_a_lock,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def uri(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgres", tmp_path) as found:
        yield found


@pytest.fixture
def db(uri: str) -> Iterator[Database]:
    database = opened(uri, group_commit=True)
    assert database.group_commit
    groups: list[int] = []
    database.observe_write_groups(groups.append)
    database.groups = groups  # type: ignore[attr-defined]
    try:
        yield database
    finally:
        database.close()


def groups_of(db: Database) -> list[int]:
    found: list[int] = db.groups  # type: ignore[attr-defined]
    return found


class Held:
    """A write that keeps the group writer busy until :meth:`release`."""

    def __init__(self, db: Database):
        self.started = threading.Event()
        self.go = threading.Event()

        def fn(conn: Connection) -> None:
            self.started.set()
            assert self.go.wait(WAIT_S), "the held write was never released"

        self.running = in_thread(lambda: db.write(fn))
        assert self.started.wait(WAIT_S), "the held write never ran"

    def release(self) -> None:
        self.go.set()
        joined(*self.running)


def queued(db: Database, count: int) -> None:
    """Return once ``count`` writes wait for the group writer."""
    deadline = time.monotonic() + WAIT_S
    while db.queued_writes() != count:
        if time.monotonic() > deadline:
            pytest.fail(f"{db.queued_writes()} writes queued, not {count}")
        time.sleep(0.005)


def submitted_in_order(
    db: Database, writes: list[Callable[[], Any]]
) -> list[tuple[threading.Thread, dict[str, Any]]]:
    """Each of ``writes`` on its own thread, queued in this order behind a held write."""
    started = []
    for i, write in enumerate(writes):
        started.append(in_thread(write))
        queued(db, i + 1)
    return started


def failure(thread: threading.Thread, outcome: dict[str, Any]) -> BaseException:
    thread.join(WAIT_S * 2)
    assert not thread.is_alive(), "the write never finished"
    assert "error" in outcome, outcome
    found: BaseException = outcome["error"]
    return found


def test_a_sequential_client_writes_alone(db: Database) -> None:
    tracking = TrackingService(db)
    eid = int(tracking.create_experiment("alone"))
    groups_of(db).clear()
    for i in range(10):
        tracking.set_experiment_tag(eid, f"k{i}", "v")
    assert groups_of(db) == [1] * 10


def test_writes_that_arrive_together_commit_as_one_group(db: Database) -> None:
    tracking = TrackingService(db)
    ids = [int(tracking.create_experiment(f"e{i}")) for i in range(6)]
    groups_of(db).clear()
    held = Held(db)
    writes = submitted_in_order(
        db,
        [
            lambda eid=eid, i=i: tracking.set_experiment_tag(eid, "k", f"v{i}")  # type: ignore[misc]
            for i, eid in enumerate(ids)
        ],
    )
    held.release()
    for write in writes:
        joined(*write)

    assert groups_of(db) == [1, 6]  # the held write alone, then the six in one transaction
    for i, eid in enumerate(ids):
        assert tags_of(db, eid) == {"k": f"v{i}"}
    assert count_events(db, "experiment.set_tag") == 6
    report = AuditService(db).verify()
    assert report.ok, report


def test_many_threads_every_acknowledged_write_once(db: Database) -> None:
    """8 threads log 30 points each at once: every point acknowledged is stored once, with
    one change event each, in groups that together hold every write, and the chain verifies."""
    tracking = TrackingService(db)
    eid = tracking.create_experiment("busy")
    run_ids = [tracking.create_run(eid).info.run_id for _ in range(8)]
    groups_of(db).clear()
    points = 30

    def logger(run_id: str) -> Callable[[], int]:
        def log_points() -> int:
            for step in range(points):
                tracking.log_metric(run_id, "loss", step / 10, 1_700_000_000_000 + step, step)
            return points

        return log_points

    threads = [in_thread(logger(r)) for r in run_ids]
    assert sum(joined(*t) for t in threads) == 8 * points

    assert sum(groups_of(db)) == 8 * points  # each write ran in exactly one transaction
    assert max(groups_of(db)) > 1, groups_of(db)
    stored = db.read(
        lambda c: c.execute(
            text("SELECT COUNT(*), COUNT(DISTINCT (run_id, step)) FROM metrics")
        ).one()
    )
    assert tuple(stored) == (8 * points, 8 * points)
    assert count_events(db, "run.log_metric") == 8 * points
    report = AuditService(db).verify()
    assert report.ok, report


def test_a_failing_write_fails_alone_and_leaves_nothing(db: Database) -> None:
    """In one group: a write failing on a unique violation, and one failing after its change
    event was appended (having asked to cache a metric key's id after its commit). Each gets
    its own error; the others commit; the failed ones leave no row, no event, no cached id,
    and the change log's chain goes on from the last committed head."""
    tracking = TrackingService(db)
    ids = [int(tracking.create_experiment(f"e{i}")) for i in range(3)]
    keys = MetricKeys()

    def taken(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time) VALUES ('e0', 'x', 'active', 0, 0)"
            )
        )

    def fails_after_its_event(conn: Connection) -> None:
        exp_store.set_tag(conn, ids[0], "doomed", "yes")
        keys.ensure(conn, ["loss"])

        def refuse(_conn: Connection) -> None:
            raise ValueError("refused after the event was appended")

        before_commit(conn, refuse)

    groups_of(db).clear()
    held = Held(db)
    writes = submitted_in_order(
        db,
        [
            lambda: tracking.set_experiment_tag(ids[0], "k", "a"),
            lambda: db.write(fails_after_its_event),
            lambda: tracking.set_experiment_tag(ids[1], "k", "b"),
            lambda: db.write(taken),
            lambda: tracking.set_experiment_tag(ids[2], "k", "c"),
        ],
    )
    held.release()

    assert isinstance(failure(*writes[1]), ValueError)
    assert isinstance(failure(*writes[3]), IntegrityError)
    for i in (0, 2, 4):
        joined(*writes[i])
    assert groups_of(db) == [1, 5]
    assert tags_of(db, ids[0]) == {"k": "a"}
    assert tags_of(db, ids[1]) == {"k": "b"}
    assert tags_of(db, ids[2]) == {"k": "c"}
    assert count_events(db, "experiment.set_tag") == 3
    assert db.read(lambda c: keys.lookup(c, ["loss"])) == {}
    assert retries_of(db) == []
    report = AuditService(db).verify()
    assert report.ok, report


def test_a_rolled_back_write_last_in_a_group_leaves_no_head_behind(db: Database, uri: str) -> None:
    """The last write of a group appends its event, then fails: the head it noted on the
    writer's connection goes with it. Another process then appends an event with the id that
    head had; the next write of this one must chain on that event, not on the rolled-back one
    (a head kept by mistake matches the other's id, and the chain breaks)."""
    tracking = TrackingService(db)
    eid = int(tracking.create_experiment("e"))

    def fails_after_its_event(conn: Connection) -> None:
        exp_store.set_tag(conn, eid, "doomed", "yes")

        def refuse(_conn: Connection) -> None:
            raise ValueError("refused after the event was appended")

        before_commit(conn, refuse)

    held = Held(db)
    writes = submitted_in_order(
        db,
        [
            lambda: tracking.set_experiment_tag(eid, "k", "a"),
            lambda: db.write(fails_after_its_event),
        ],
    )
    held.release()
    joined(*writes[0])
    assert isinstance(failure(*writes[1]), ValueError)

    other = opened(uri, group_commit=True)
    try:
        TrackingService(other).set_experiment_tag(eid, "from", "elsewhere")
    finally:
        other.close()
    tracking.set_experiment_tag(eid, "k", "after")

    assert tags_of(db, eid) == {"k": "after", "from": "elsewhere"}
    assert count_events(db, "experiment.set_tag") == 3
    report = AuditService(db).verify()
    assert report.ok, report


def test_a_deadlock_inside_a_group_rolls_back_one_write_that_then_commits_once(
    db: Database, uri: str
) -> None:
    """The first write of a group holds its experiment's row and waits for the change log's
    head, which another client holds and then wants that experiment's row: a real deadlock.
    PostgreSQL aborts Cairn's statement; only that write's savepoint rolls back, the rest of
    the group commits once the other client has, and the aborted write runs again and commits:
    every write once, one retry counted, the chain intact."""
    tracking = TrackingService(db)
    eid = int(tracking.create_experiment("contended"))
    others = [int(tracking.create_experiment(f"bystander{i}")) for i in range(2)]
    tracking.set_experiment_tag(eid, "stage", "before")
    groups_of(db).clear()
    raw = Raw(uri)
    try:
        held = Held(db)
        raw.run("SELECT seq FROM change_head WHERE id = 1 FOR UPDATE")
        writes = submitted_in_order(
            db,
            [
                lambda: tracking.set_experiment_tag(eid, "stage", "after"),
                lambda: tracking.set_experiment_tag(others[0], "k", "a"),
                lambda: tracking.set_experiment_tag(others[1], "k", "b"),
            ],
        )
        held.release()
        waiting_on_a_lock(uri)  # the group's first write holds the experiment, waits for the head
        raw.run(
            "UPDATE experiments SET last_update_time = last_update_time + 1 "
            "WHERE experiment_id = %s",
            (eid,),
        )  # closes the cycle: PostgreSQL aborts Cairn's statement, this one goes on
        raw.commit()
    finally:
        raw.close()
    for write in writes:
        joined(*write)

    assert retries_of(db) == ["deadlock"]
    assert groups_of(db)[:2] == [1, 3]  # the held write, then the three together
    assert sum(groups_of(db)) == 5  # and the aborted write once more
    assert tags_of(db, eid) == {"stage": "after"}
    assert tags_of(db, others[0]) == {"k": "a"}
    assert tags_of(db, others[1]) == {"k": "b"}
    assert count_events(db, "experiment.set_tag") == 4  # "before", then each write once
    report = AuditService(db).verify()
    assert report.ok, report
