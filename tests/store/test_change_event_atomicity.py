"""A change and its event commit together or not at all; gc purges are recorded as the
``system`` actor's and leave the log alone; concurrent writers get gap-free ids.

Failures are injected with a trigger that makes the database refuse the ``INSERT INTO
change_events`` (all of them, or only those whose rows mention a marker): the change that came
with it must be rolled back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, create_engine, event, select

from cairn.artifacts.local import LocalArtifactRepository
from cairn.cli import main
from cairn.entities.errors import CairnError
from cairn.entities.events import ActorKind, ChangeEvent, EventQuery
from cairn.entities.tracking import LifecycleStage
from cairn.events.service import AuditService
from cairn.services.artifacts import ArtifactService
from cairn.services.gc import GarbageCollector
from cairn.services.logged_models import LoggedModelService
from cairn.services.tracking import TrackingService
from cairn.store import events as event_store
from cairn.store import experiments as exp_store
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema
from cairn.store.schema import change_events

INJECTED = "injected: the change_events insert fails"


def _inject(dialect: str, marker: str | None) -> tuple[str, ...]:
    """A trigger that makes the database refuse the matching change_events inserts."""
    seen = "COALESCE(NEW.entity_id, '') || COALESCE(NEW.before, '') || COALESCE(NEW.after, '')"
    when = "1 = 1" if marker is None else f"({seen}) LIKE '%{marker}%'"
    if dialect == "sqlite":
        return (
            f"""CREATE TRIGGER inject_event_failure BEFORE INSERT ON change_events
            WHEN {when} BEGIN SELECT RAISE(ABORT, '{INJECTED}'); END""",
        )
    if dialect == "mysql":
        seen = "CONCAT(COALESCE(NEW.entity_id, ''), COALESCE(NEW.`before`, ''), "
        seen += "COALESCE(NEW.`after`, ''))"
        when = "1 = 1" if marker is None else f"{seen} LIKE '%{marker}%'"
        return (
            f"""CREATE TRIGGER inject_event_failure BEFORE INSERT ON change_events
            FOR EACH ROW IF {when} THEN
                SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{INJECTED}';
            END IF""",
        )
    return (
        f"""CREATE FUNCTION inject_event_failure() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION '{INJECTED}'; END $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER inject_event_failure BEFORE INSERT ON change_events
        FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION inject_event_failure()""",
    )


_UNDO = {
    "sqlite": ("DROP TRIGGER inject_event_failure",),
    "mysql": ("DROP TRIGGER inject_event_failure",),
    "postgresql": (
        "DROP TRIGGER inject_event_failure ON change_events",
        "DROP FUNCTION inject_event_failure()",
    ),
}


@contextmanager
def failing_event_insert(engine: Engine, marker: str | None = None) -> Iterator[None]:
    """The database refuses every ``INSERT INTO change_events`` (only the rows that mention
    ``marker``, when given) while the block runs: a trigger, so it holds whichever way the
    insert is executed (the log's hot path runs its statements on the driver's cursor)."""
    admin = create_engine(engine.url)
    try:
        with admin.begin() as conn:
            for statement in _inject(engine.dialect.name, marker):
                conn.exec_driver_sql(statement)
        try:
            yield
        finally:
            with admin.begin() as conn:
                for statement in _UNDO[engine.dialect.name]:
                    conn.exec_driver_sql(statement)
    finally:
        admin.dispose()


def refused(exc: BaseException) -> bool:
    return INJECTED in str(exc)


def all_events(db: Database) -> list[ChangeEvent]:
    query = EventQuery(ascending=True, limit=100_000)
    return db.read(lambda c: event_store.search(c, query))


def gap_free(db: Database) -> list[ChangeEvent]:
    """Every event, after checking the ids follow each other up to the head and the chain
    verifies."""
    found = all_events(db)
    ids = [e.id for e in found]
    assert ids == list(range(1, len(ids) + 1))
    assert db.read(event_store.head)[0] == len(ids)
    report = AuditService(db).verify()
    assert report.ok, report
    assert report.checked == len(ids)
    return found


def test_a_change_whose_event_fails_is_rolled_back(
    database: Database, tracking: TrackingService, tmp_path: Path
) -> None:
    models = LoggedModelService(database, ArtifactService(LocalArtifactRepository(tmp_path)))
    eid = tracking.create_experiment("kept", tags=[("t", "1")])
    run = tracking.create_run(eid, run_name="r").info
    tracking.log_batch(run.run_id, [("m", 1.0, 1, 0)], [("p", "1")], [("k", "v")])
    model = models.create(eid, "net")
    before = gap_free(database)
    expected = tracking.get_run(run.run_id)

    with failing_event_insert(database.write_engine):
        attempts = [
            lambda: tracking.create_experiment("doomed"),
            lambda: tracking.rename_experiment(eid, "renamed"),
            lambda: tracking.set_experiment_tag(eid, "t", "2"),
            lambda: tracking.delete_experiment(eid),
            lambda: tracking.create_run(eid),
            lambda: tracking.log_batch(run.run_id, [("m", 2.0, 2, 1)], [("q", "2")], [("k", "w")]),
            lambda: tracking.log_param(run.run_id, "q", "2"),
            lambda: tracking.update_run(run.run_id, "FINISHED", 5),
            lambda: tracking.delete_run(run.run_id),
            lambda: tracking.delete_tag(run.run_id, "k"),
            lambda: models.finalize(model.model_id, "LOGGED_MODEL_READY"),
            lambda: models.delete(model.model_id),
        ]
        for attempt in attempts:
            with pytest.raises(Exception, match=INJECTED):
                attempt()

    with pytest.raises(CairnError):
        tracking.get_experiment_by_name("doomed")
    exp = tracking.get_experiment(eid)
    assert (exp.name, exp.tags, exp.lifecycle_stage) == ("kept", {"t": "1"}, "active")
    assert tracking.get_run(run.run_id) == expected
    got = models.get(model.model_id)
    assert (got.status, got.lifecycle_stage) == (model.status, "active")
    assert gap_free(database) == before

    # the same writes succeed once the log takes them, each with its one event
    tracking.rename_experiment(eid, "renamed")
    tracking.log_param(run.run_id, "q", "2")
    assert [e.action for e in gap_free(database)[len(before) :]] == [
        "experiment.rename",
        "run.log_param",
    ]


def test_gc_purge_is_rolled_back_without_its_event(
    database: Database, tracking: TrackingService, tmp_path: Path
) -> None:
    artifacts = ArtifactService(LocalArtifactRepository(tmp_path / "artifacts"))
    collector = GarbageCollector(database, artifacts)
    run = tracking.create_run("0", run_name="old").info
    tracking.delete_run(run.run_id)
    time.sleep(0.002)
    plan = collector.plan(timedelta(0))
    with failing_event_insert(database.write_engine), pytest.raises(Exception, match=INJECTED):
        collector.run(plan)
    assert tracking.get_run(run.run_id).info.lifecycle_stage == LifecycleStage.DELETED
    assert collector.run(collector.plan(timedelta(0))).runs_purged == 1  # retryable
    assert gap_free(database)[-1].action == "run.purge"


def test_one_failing_job_in_a_sqlite_group_rolls_back_alone(tmp_path: Path) -> None:
    """SQLite's writer commits queued writes as one transaction, each in a savepoint: the one
    whose event fails is rolled back with its change; the others commit with theirs."""
    db = Database(f"sqlite:///{tmp_path / 'group.db'}")
    ensure_schema(db.write_engine)
    db.start()
    begins: list[int] = []
    event.listen(db.write_engine, "begin", lambda conn: begins.append(1))
    names = ["fine-0", "fine-1", "doomed", "fine-3", "fine-4"]
    started, release = threading.Event(), threading.Event()

    def blocker(conn: Connection) -> None:
        started.set()
        release.wait(timeout=30)

    async def scenario() -> list[Any]:
        loop = asyncio.get_running_loop()
        first = asyncio.ensure_future(db.awrite(blocker))
        assert await loop.run_in_executor(None, started.wait, 30)
        jobs = [
            asyncio.ensure_future(
                db.awrite(partial(exp_store.create, name=n, artifact_location=None, tags={}))
            )
            for n in names
        ]
        await asyncio.sleep(0)  # every job is now queued behind the blocker
        begins.clear()
        release.set()
        await first
        return list(await asyncio.gather(*jobs, return_exceptions=True))

    try:
        with failing_event_insert(db.write_engine, marker="doomed"):
            outcomes = asyncio.run(scenario())
        assert len(begins) == 1  # the five jobs ran as one group, in one transaction
        assert [refused(o) if isinstance(o, Exception) else type(o).__name__ for o in outcomes] == [
            "str",
            "str",
            True,
            "str",
            "str",
        ]
        stored = db.read(lambda c: [r[0] for r in c.execute(select(exp_store.experiments.c.name))])
        assert "doomed" not in stored
        assert {n for n in names if n != "doomed"} <= set(stored)
        found = gap_free(db)
        created = [e.after["name"] for e in found if e.action == "experiment.create" and e.after]
        assert created == ["fine-0", "fine-1", "fine-3", "fine-4"]
    finally:
        db.close()


WRITERS = 8
WRITES_EACH = 15


def test_concurrent_writers_get_gap_free_ids(database: Database, tracking: TrackingService) -> None:
    eid = tracking.create_experiment("busy")

    def work(worker: int) -> int:
        run = tracking.create_run(eid, run_name=f"w{worker}").info
        for i in range(WRITES_EACH):
            tracking.log_batch(run.run_id, [("m", float(i), i, i)], [(f"p{i}", "x")])
        tracking.update_run(run.run_id, "FINISHED", 1)
        return WRITES_EACH + 2

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        written = sum(pool.map(work, range(WRITERS), timeout=300))
    found = gap_free(database)
    assert len(found) == 1 + written  # the experiment, then every run's writes
    per_run: dict[str, int] = {}
    for e in found[1:]:
        per_run[e.entity_id] = per_run.get(e.entity_id, 0) + 1
    assert sorted(per_run.values()) == [WRITES_EACH + 2] * WRITERS


def test_gc_records_purges_as_system_and_keeps_the_log(
    database: Database, tracking: TrackingService, tmp_path: Path
) -> None:
    artifacts = ArtifactService(LocalArtifactRepository(tmp_path / "artifacts"))
    keep = tracking.create_experiment("keep")
    gone = tracking.create_experiment("gone")
    dropped = tracking.create_run(keep, run_name="dropped").info
    in_gone = tracking.create_run(gone, run_name="in-gone").info
    tracking.log_metric(dropped.run_id, "m", 1.0, 1, 0)
    tracking.delete_run(dropped.run_id)
    tracking.delete_experiment(gone)
    before = gap_free(database)
    time.sleep(0.002)
    collector = GarbageCollector(database, artifacts)
    outcome = collector.run(collector.plan(timedelta(0)))
    assert (outcome.runs_purged, outcome.experiments_purged) == (2, 1)

    found = gap_free(database)
    assert found[: len(before)] == before  # nothing of the log went with the rows
    purges = found[len(before) :]
    assert [(e.action, e.entity_id) for e in purges] == [
        ("run.purge", dropped.run_id),
        ("run.purge", in_gone.run_id),
        ("experiment.purge", gone),
    ]
    for e in purges:
        assert (e.actor, e.actor_kind) == ("system", ActorKind.SYSTEM)
    assert purges[0].experiment_id == keep
    assert purges[0].before == {"name": "dropped", "lifecycle_stage": "deleted"}
    assert purges[2].before == {"name": "gone", "lifecycle_stage": "deleted"}
    history = database.read(
        lambda c: c.execute(
            select(change_events.c.action).where(change_events.c.entity_id == dropped.run_id)
        ).all()
    )
    assert [r[0] for r in history] == ["run.create", "run.log_metric", "run.delete", "run.purge"]


def test_gc_command_records_its_purges(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'gc.db'}"
    db = Database(uri)
    ensure_schema(db.write_engine)
    db.start()
    tracking = TrackingService(db)
    run = tracking.create_run("0", run_name="old").info
    tracking.delete_run(run.run_id)
    db.close()
    time.sleep(0.002)
    args = ["gc", "--older-than", "0", "--backend-store-uri", uri]
    result = CliRunner().invoke(main, [*args, "--artifacts-destination", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    db = Database(uri)
    try:
        last = gap_free(db)[-1]
    finally:
        db.close()
    assert (last.action, last.entity_id, last.actor) == ("run.purge", run.run_id, "system")
    assert last.actor_kind == ActorKind.SYSTEM
    assert last.address is not None
    assert last.address.startswith("cli:")
