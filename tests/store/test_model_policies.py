"""Model policies on SQLite and PostgreSQL (real databases, the service, its store and the
``model_policies`` consumer fed the change log): ``latest`` follows versions, ``best``
follows metric values (max and min, ties, missing values, better runs later), an alias the
promotion policy covers becomes one approval request by ``system``, and every move is an
event of the ``system`` actor with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts.uri import repository_for
from cairn.entities.access import AuthMethod, Identity
from cairn.entities.approvals import RequestState
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import ActorKind, ChangeEvent
from cairn.entities.insights import Direction
from cairn.entities.model_policies import choose_best
from cairn.services.approvals import ApprovalService
from cairn.services.artifacts import ArtifactService
from cairn.services.model_policies import ModelPolicyService, apply_model_policies
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService
from cairn.store import alias_policies as alias_store
from cairn.store import events
from cairn.store.db import Database

ALICE = Identity("alice", AuthMethod.PASSWORD, user_id=1)


class Outbox:
    """Feeds the consumer the events after its cursor, in one write, as the job engine does."""

    def __init__(self, db: Database):
        self.db, self.cursor = db, 0

    def run(self) -> list[ChangeEvent]:
        """Run the consumer once; the events it wrote."""

        def step(conn: Any) -> int:
            found = list(events.walk(conn, self.cursor))
            apply_model_policies(conn, found)
            return found[-1].id if found else self.cursor

        self.cursor = self.db.write(step)
        written = self.db.read(lambda c: list(events.walk(c, self.cursor)))
        self.cursor = written[-1].id if written else self.cursor
        return written


@pytest.fixture
def reg(database: Database, tmp_path: Path) -> RegistryService:
    return RegistryService(database, ArtifactService(repository_for(str(tmp_path))))


@pytest.fixture
def policies(database: Database) -> ModelPolicyService:
    return ModelPolicyService(database)


@pytest.fixture
def outbox(database: Database) -> Outbox:
    return Outbox(database)


def _version(reg: RegistryService, tracking: TrackingService, **metrics: float) -> str:
    """A new version of ``m`` from a new run that logged ``metrics``; the run id."""
    run = tracking.create_run("0").info.run_id
    for key, value in metrics.items():
        tracking.log_metric(run, key, value, 1000, 0)
    reg.create_version("m", f"runs:/{run}/model", run_id=run)
    return run


def _alias(reg: RegistryService, alias: str) -> int | None:
    try:
        return int(reg.get_by_alias("m", alias).version)
    except CairnError:
        return None


def test_choose_best_ties_and_non_finite_values() -> None:
    values = [(1, 0.8), (2, 0.9), (3, 0.9), (4, float("nan")), (5, float("inf"))]
    assert choose_best(values, Direction.MAX) == (3, 0.9)
    assert choose_best(values, Direction.MIN) == (1, 0.8)
    assert choose_best([(1, float("nan"))], Direction.MAX) is None
    assert choose_best([], Direction.MIN) is None


def test_policy_set_get_delete_and_bad_input(
    reg: RegistryService, policies: ModelPolicyService
) -> None:
    reg.create_model("m")
    with pytest.raises(CairnError) as exc:
        policies.get_policy("m")
    assert exc.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST
    set_ = policies.set_policy("alice", "m", {"latest": True, "best_metric": "test_f1"})
    assert set_.to_json() | {"updated_at": 0} == {
        "model_name": "m", "latest": True, "latest_alias": "latest", "best_metric": "test_f1",
        "best_direction": "max", "best_alias": "best", "updated_at": 0, "updated_by": "alice",
    }  # fmt: skip
    assert policies.get_policy("m") == set_
    for bad, field in (
        ({"latest": "yes"}, "'latest'"),
        ({"latest": True, "latest_alias": "v1"}, "'latest_alias'"),
        ({"best_metric": "../x"}, "'best_metric'"),
        ({"best_metric": 3}, "'best_metric'"),
        ({"best_metric": "f1", "best_direction": "up"}, "'best_direction'"),
        ({"best_metric": "f1", "best_alias": "latest"}, "'best_alias'"),
        ({"best_metric": "f1", "best_alias": "x" * 300}, "'best_alias'"),
        ({"latest": True, "best_metric": "f1", "best_alias": "latest"}, "'best_alias'"),
        ({}, "'latest'"),
    ):
        with pytest.raises(CairnError) as exc:
            policies.set_policy("alice", "m", bad)
        assert exc.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE, bad
        assert field in exc.value.message, (bad, exc.value.message)
    with pytest.raises(CairnError) as exc:
        policies.set_policy("alice", "nope", {"latest": True})
    assert exc.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST
    policies.delete_policy("alice", "m")
    with pytest.raises(CairnError) as exc:
        policies.delete_policy("alice", "m")
    assert exc.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_latest_follows_new_and_deleted_versions(
    reg: RegistryService,
    tracking: TrackingService,
    policies: ModelPolicyService,
    outbox: Outbox,
) -> None:
    reg.create_model("m")
    _version(reg, tracking)
    _version(reg, tracking)
    policies.set_policy("alice", "m", {"latest": True})
    moved = outbox.run()
    assert _alias(reg, "latest") == 2
    assert [(e.action, e.entity_id, e.actor, e.actor_kind) for e in moved] == [
        ("model_version.set_alias", "m/2", "system", ActorKind.SYSTEM)
    ]
    assert moved[0].after == {
        "alias": "latest", "version": 2, "policy": "latest", "previous_version": None
    }  # fmt: skip
    _version(reg, tracking)
    moved = outbox.run()
    assert _alias(reg, "latest") == 3
    assert moved[0].before == {"alias": "latest", "version": 2}
    assert moved[0].after == {
        "alias": "latest", "version": 3, "policy": "latest", "previous_version": 2
    }  # fmt: skip
    assert outbox.run() == []  # nothing new: nothing moves (and running twice is harmless)
    reg.delete_version("m", 3)
    outbox.run()
    assert _alias(reg, "latest") == 2
    history = reg.history("m").items
    assert history[0].actor == "system"
    reg.delete_version("m", 2)
    reg.delete_version("m", 1)
    moved = outbox.run()
    assert _alias(reg, "latest") is None  # no version left: nothing to hold
    assert moved == []  # the alias went with its version; nothing else to do


def test_the_reserved_latest_alias_leaves_with_its_rule(
    database: Database,
    reg: RegistryService,
    tracking: TrackingService,
    policies: ModelPolicyService,
    outbox: Outbox,
) -> None:
    reg.create_model("m")
    _version(reg, tracking, f1=0.5)
    policies.set_policy("alice", "m", {"latest": True, "best_metric": "f1"})
    outbox.run()
    assert (_alias(reg, "latest"), _alias(reg, "best")) == (1, 1)
    # latest turned off: the reserved alias goes at once, by the user who changed the policy
    policies.set_policy("bob", "m", {"latest": False, "best_metric": "f1"})
    assert _alias(reg, "latest") is None
    written = database.read(lambda c: list(events.walk(c, outbox.cursor)))
    found = [(e.action, e.actor, e.before) for e in written]
    assert found[-1] == ("model_version.delete_alias", "local", {"alias": "latest", "version": 1})
    assert reg.history("m").items[0].actor == "bob"
    assert outbox.run() == []
    policies.set_policy("bob", "m", {"latest": True, "latest_alias": "newest", "best_metric": "f1"})
    outbox.run()
    policies.delete_policy("bob", "m")
    # a name of the user's own stays; so does best
    assert (_alias(reg, "newest"), _alias(reg, "best")) == (1, 1)
    policies.set_policy("bob", "m", {"latest": True})
    outbox.run()
    policies.delete_policy("bob", "m")
    assert _alias(reg, "latest") is None


def test_best_follows_metric_values_max_and_min(
    reg: RegistryService,
    tracking: TrackingService,
    policies: ModelPolicyService,
    outbox: Outbox,
) -> None:
    reg.create_model("m")
    run1 = _version(reg, tracking, test_f1=0.80, val_loss=0.50)
    _version(reg, tracking, test_f1=0.90, val_loss=0.40)
    _version(reg, tracking, test_f1=0.90, val_loss=0.45)  # ties v2 on f1: the newest wins
    _version(reg, tracking)  # no metrics: left out
    policies.set_policy("alice", "m", {"best_metric": "test_f1"})
    moved = outbox.run()
    assert _alias(reg, "best") == 3
    assert moved[0].actor == "system"
    assert moved[0].after == {
        "alias": "best", "version": 3, "policy": "best", "metric": "test_f1",
        "direction": "max", "value": 0.9, "previous_version": None,
    }  # fmt: skip
    # a better version is registered
    _version(reg, tracking, test_f1=0.95)
    outbox.run()
    assert _alias(reg, "best") == 5
    # a source run logs a better value later
    tracking.log_metric(run1, "test_f1", 0.97, 2000, 1)
    moved = outbox.run()
    assert _alias(reg, "best") == 1
    assert moved[0].after is not None
    assert (moved[0].after["value"], moved[0].after["previous_version"]) == (0.97, 5)
    # a metric the rule does not use moves nothing
    tracking.log_metric(run1, "other", 1.0, 3000, 0)
    assert outbox.run() == []
    # min: the lowest loss, under a custom alias name
    policies.set_policy("alice", "m", {"best_metric": "val_loss", "best_direction": "min",
                                       "best_alias": "lowest-loss"})  # fmt: skip
    outbox.run()
    assert _alias(reg, "lowest-loss") == 2
    assert _alias(reg, "best") == 1  # the old rule's alias stays where it was


def test_best_removed_when_no_version_has_the_metric(
    reg: RegistryService,
    tracking: TrackingService,
    policies: ModelPolicyService,
    outbox: Outbox,
) -> None:
    reg.create_model("m")
    _version(reg, tracking, acc=0.5)
    _version(reg, tracking)
    reg.set_alias("m", "best", 2)
    policies.set_policy("alice", "m", {"best_metric": "test_f1"})
    moved = outbox.run()
    assert _alias(reg, "best") is None
    assert [(e.action, e.actor) for e in moved] == [("model_version.delete_alias", "system")]
    assert moved[0].before == {"alias": "best", "version": 2}
    assert moved[0].after == {
        "policy": "best", "metric": "test_f1", "direction": "max", "previous_version": 2
    }  # fmt: skip


def test_an_approval_covered_alias_makes_one_request(
    database: Database,
    reg: RegistryService,
    tracking: TrackingService,
    policies: ModelPolicyService,
    outbox: Outbox,
) -> None:
    approvals = ApprovalService(database)
    reg.create_model("m")
    run1 = _version(reg, tracking, test_f1=0.8)
    approvals.set_policy(ALICE, "m", {"aliases": ["best"], "required_approvals": 1})
    policies.set_policy("alice", "m", {"best_metric": "test_f1", "latest": True})
    moved = outbox.run()
    assert _alias(reg, "best") is None  # asked for, not moved
    assert _alias(reg, "latest") == 1  # not covered: moved
    requests, _ = approvals.list_requests(state="pending")
    found = [(r.version, r.target_alias, r.requested_by) for r in requests]
    assert found == [(1, "best", "system")]
    assert "test_f1" in (requests[0].comment or "")
    created = [e for e in moved if e.action == "approval_request.create"]
    assert created[0].actor == "system"
    assert created[0].after is not None
    assert (created[0].after["policy"], created[0].after["value"]) == ("best", 0.8)
    # the same version is not asked for twice
    tracking.log_metric(run1, "test_f1", 0.8, 2000, 1)
    assert outbox.run() == []
    assert len(approvals.list_requests(state="pending")[0]) == 1
    # a better version: Cairn's stale request is cancelled, a new one made
    _version(reg, tracking, test_f1=0.9)
    outbox.run()
    pending, _ = approvals.list_requests(state="pending")
    assert [(r.version, r.requested_by) for r in pending] == [(2, "system")]
    cancelled, _ = approvals.list_requests(state="cancelled")
    assert [(r.version, r.decided_by) for r in cancelled] == [(1, "system")]
    # an approver applies it
    approvals.approve(ALICE, pending[0].id)
    assert _alias(reg, "best") == 2
    assert outbox.run() == []  # already where the policy says
    assert approvals.get_request(ALICE, pending[0].id).state is RequestState.APPROVED


def test_renamed_deleted_and_unpoliced_models(
    reg: RegistryService,
    tracking: TrackingService,
    policies: ModelPolicyService,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(alias_store, "CHUNK", 1)  # look-ups split into many statements
    reg.create_model("other")
    run = tracking.create_run("0").info.run_id
    reg.create_version("other", f"runs:/{run}/model", run_id=run)
    reg.create_model("m")
    first = _version(reg, tracking, f1=0.5)
    second = _version(reg, tracking, f1=0.4)
    policies.set_policy("alice", "m", {"latest": True, "best_metric": "f1"})
    reg.rename_model("m", "m2")  # the events before name "m": found under the new name
    moved = outbox.run()
    assert {(e.action, e.model_name, e.actor) for e in moved} == {
        ("model_version.set_alias", "m2", "system")
    }
    assert [int(reg.get_by_alias("m2", a).version) for a in ("latest", "best")] == [2, 1]
    # metrics logged by two runs in one batch of events; a model without a policy is left alone
    tracking.log_metric(second, "f1", 0.9, 2000, 1)
    tracking.log_metric(first, "f1", 0.6, 2000, 1)
    tracking.log_metric(run, "f1", 1.0, 2000, 1)
    moved = outbox.run()
    assert [(e.entity_id, e.after and e.after["value"]) for e in moved] == [("m2/2", 0.9)]
    with pytest.raises(CairnError):
        reg.get_by_alias("other", "best")
    # the model is deleted before the consumer reads its events: nothing to do, no error
    _ = reg.create_version("m2", "runs:/" + first + "/model", run_id=first)
    reg.delete_model("m2")
    assert outbox.run() == []
