"""Retention on SQLite and PostgreSQL: which runs a rule deletes, which it never touches (model
versions, ``cairn.keep``, still running, the newest K), dry run against real run, batches,
and the change events (actor ``system``, the policy named)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.artifacts.local import LocalArtifactRepository
from cairn.entities.errors import CairnError
from cairn.entities.events import EventQuery
from cairn.entities.retention import RetentionRule
from cairn.entities.tracking import RunStatus
from cairn.services import retention as retention_module
from cairn.services.artifacts import ArtifactService
from cairn.services.registry import RegistryService
from cairn.services.retention import (
    DAY_MS,
    Limits,
    RetentionService,
    run_retention_policies,
)
from cairn.services.tracking import TrackingService
from cairn.store import events
from cairn.store import retention as store
from cairn.store.db import Database
from cairn.store.sql import now_ms

NOW = now_ms()


class World:
    def __init__(self, db: Database, tmp_path: Path):
        self.db = db
        self.tracking = TrackingService(db)
        artifacts = ArtifactService(LocalArtifactRepository(tmp_path / "artifacts"))
        self.registry = RegistryService(db, artifacts)
        self.retention = RetentionService(db)

    def run(
        self,
        experiment: str = "0",
        age_days: float | None = 40,
        status: str = "FINISHED",
        tags: dict[str, str] | None = None,
    ) -> str:
        """A run that ended ``age_days`` ago (None: still running)."""
        info = self.tracking.create_run(experiment, tags=list((tags or {}).items())).info
        if age_days is not None:
            end = NOW - int(age_days * DAY_MS)
            self.tracking.update_run(info.run_id, status=status, end_time=end)
        return info.run_id

    def stage(self, run_id: str) -> str:
        return self.tracking.get_run(run_id).info.lifecycle_stage


@pytest.fixture
def world(database: Database, tmp_path: Path) -> World:
    return World(database, tmp_path)


def test_cleanup_keeps_registered_tagged_running_and_recent_runs(world: World) -> None:
    old = world.run()
    failed = world.run(status="FAILED")
    registered = world.run()
    world.registry.create_model("churn")
    world.registry.create_version("churn", f"runs:/{registered}/model", run_id=registered)
    tagged = world.run(tags={"cairn.keep": ""})  # any value, even empty
    running = world.run(age_days=None)
    recent = world.run(age_days=5)

    dry = world.retention.cleanup(30, dry_run=True, now_ms=NOW).to_json()
    assert dry["dry_run"] is True
    assert dry["deleted_runs"] == 2
    assert {r["run_id"] for r in dry["runs"]} == {old, failed}
    assert dry["kept_registered"] == 1
    assert dry["kept_tagged"] == 1
    assert all("cleanup keeps 30 days" in r["reason"] for r in dry["runs"])
    assert {world.stage(r) for r in (old, failed)} == {"active"}  # the dry run changed nothing

    done = world.retention.cleanup(30, dry_run=False, requested_by="alice", now_ms=NOW).to_json()
    assert done["deleted_runs"] == 2
    assert done["dry_run"] is False
    assert world.stage(old) == world.stage(failed) == "deleted"
    for kept in (registered, tagged, running, recent):
        assert world.stage(kept) == "active"
    again = world.retention.cleanup(30, dry_run=False, now_ms=NOW).to_json()
    assert again["deleted_runs"] == 0

    found = world.db.read(lambda c: events.search(c, EventQuery(action="run.delete")))
    deletes = {e.entity_id: e for e in found}
    assert set(deletes) == {old, failed}
    for event in deletes.values():
        assert event.actor == "system"
        assert str(event.actor_kind) == "system"
        assert event.after is not None
        assert event.after["retention_policy"] == "cleanup"
        assert event.after["requested_by"] == "alice"
        assert event.after["lifecycle_stage"] == "deleted"


def test_status_filter_and_keep_newest(world: World) -> None:
    exp = world.tracking.create_experiment("sweep")
    finished = [world.run(exp, age_days=40 + i) for i in range(4)]  # finished[0] is the newest
    failed = world.run(exp, age_days=50, status="FAILED")
    killed = world.run(exp, age_days=60, status="KILLED")

    only_failed = world.retention.cleanup(30, True, exp, "FAILED,killed", now_ms=NOW).to_json()
    assert {r["run_id"] for r in only_failed["runs"]} == {failed, killed}

    keep2 = world.retention.cleanup(30, True, exp, None, keep_newest=2, now_ms=NOW).to_json()
    assert keep2["kept_newest"] == 2
    assert {r["run_id"] for r in keep2["runs"]} == {finished[2], finished[3], failed, killed}

    # newest K counts every finished run of the experiment, recent ones too
    world.run(exp, age_days=1)
    keep2 = world.retention.cleanup(30, True, exp, None, keep_newest=2, now_ms=NOW).to_json()
    assert keep2["kept_newest"] == 1
    assert finished[0] not in {r["run_id"] for r in keep2["runs"]}


def test_policies_scope_and_override(world: World) -> None:
    long_lived = world.tracking.create_experiment("long-lived")
    plain = world.tracking.create_experiment("plain")
    a = world.run(long_lived, age_days=100)
    b = world.run(long_lived, age_days=400)
    c = world.run(plain, age_days=100)
    world.retention.set_policy("root", None, {"older_than_days": 90})
    world.retention.set_policy("bob", long_lived, {"older_than_days": 365})
    names = [p.name for p in world.retention.list_policies()]
    assert names == ["global", f"experiment:{long_lived}"]

    report = run_retention_policies(world.db, NOW).to_json()
    assert report["deleted_runs"] == 2
    assert world.stage(a) == "active"  # its experiment's own policy keeps a year
    assert world.stage(b) == world.stage(c) == "deleted"
    found = world.db.read(lambda conn: events.search(conn, EventQuery(action="run.delete")))
    policy_of = {e.entity_id: (e.after or {}).get("retention_policy") for e in found}
    assert policy_of == {b: f"experiment:{long_lived}", c: "global"}
    assert all("requested_by" not in (e.after or {}) for e in found)

    # a disabled experiment policy still keeps the global one away from its experiment
    world.retention.set_policy("bob", long_lived, {"older_than_days": 1, "enabled": False})
    assert run_retention_policies(world.db, NOW).deleted_runs == 0
    forced = world.retention.run_policies(True, policy=f"experiment:{long_lived}", now_ms=NOW)
    assert forced.deleted_runs == 1

    policy_events = world.db.read(
        lambda conn: events.search(conn, EventQuery(entity_type="retention_policy"))
    )
    assert [e.action for e in policy_events] == ["retention_policy.set"] * 3
    world.retention.delete_policy(long_lived)
    with pytest.raises(CairnError) as err:
        world.retention.get_policy(long_lived)
    assert err.value.http_status == 404


def test_batches_and_max_runs(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention_module, "BATCH", 3)
    ids = [world.run(age_days=40 + i) for i in range(8)]
    seen: list[tuple[str, int, int]] = []
    rule = RetentionRule("cleanup", 30)
    first = world.retention.apply(
        [rule],
        NOW,
        False,
        limits=Limits(max_runs=5, list_limit=2),
        progress=lambda *a: seen.append(a),
    )
    assert first.deleted_runs == 5
    assert seen == [("cleanup", 3, 5), ("cleanup", 5, 5)]
    out = first.to_json()
    assert out["remaining"] == 3
    assert out["truncated"] is True
    assert len(out["runs"]) == 2
    rest = world.retention.apply([rule], NOW, False)
    assert rest.deleted_runs == 3
    assert all(world.stage(i) == "deleted" for i in ids)


def test_deleted_runs_stay_for_gc(world: World) -> None:
    run = world.run()
    world.retention.cleanup(0, dry_run=False, now_ms=NOW)
    assert world.stage(run) == "deleted"
    world.tracking.restore_run(run)  # a soft delete: restorable until cairn gc purges it
    assert world.stage(run) == "active"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"days_old": -1}, "days_old"),
        ({"days_old": 10**9}, "days_old"),
        ({"days_old": "ten"}, "days_old"),
        ({"days_old": True}, "days_old"),
        ({"days_old": 1, "experiment_id": "../1"}, "experiment_id"),
        ({"days_old": 1, "experiment_id": "99999999999999999999"}, "experiment_id"),
        ({"days_old": 1, "statuses": "RUNNING"}, "status"),
        ({"days_old": 1, "statuses": "FINISHED,<script>"}, "status"),
        ({"days_old": 1, "keep_newest": -3}, "keep_newest"),
    ],
)
def test_hostile_cleanup_input_is_refused_naming_the_field(
    world: World, call: dict[str, object], field: str
) -> None:
    with pytest.raises(CairnError) as err:
        world.retention.cleanup(dry_run=True, now_ms=NOW, **call)  # type: ignore[arg-type]
    assert err.value.http_status == 400
    assert f"'{field}'" in err.value.message


def test_unknown_experiment_is_404(world: World) -> None:
    with pytest.raises(CairnError) as err:
        world.retention.cleanup(30, True, experiment_id="4242", now_ms=NOW)
    assert err.value.http_status == 404
    with pytest.raises(CairnError) as err:
        world.retention.set_policy("x", "4242", {"older_than_days": 3})
    assert err.value.http_status == 404


def test_running_status_is_never_a_candidate(world: World) -> None:
    # a run whose end time was set but whose status still says RUNNING stays
    run = world.run(status=RunStatus.RUNNING)
    assert world.retention.cleanup(0, dry_run=False, now_ms=NOW).deleted_runs == 0
    assert world.stage(run) == "active"


def test_the_delete_checks_again_what_changed_since_the_plan(world: World) -> None:
    """A run registered or tagged between reading the candidates and deleting them stays."""
    registered, tagged, plain = world.run(), world.run(), world.run()
    rule = RetentionRule("cleanup", 30)
    found = world.db.read(lambda c: store.candidates(c, rule, NOW - 30 * DAY_MS))
    assert {c.run_id for c in found} == {registered, tagged, plain}
    world.registry.create_model("late")
    world.registry.create_version("late", f"runs:/{registered}/m", run_id=registered)
    world.tracking.set_tag(tagged, "cairn.keep", "audit")
    ids = [c.id for c in found]
    gone = world.db.write(lambda c: store.delete_runs(c, ids, {"retention_policy": "x"}))
    assert gone == [plain]
    assert world.stage(registered) == world.stage(tagged) == "active"
