"""Metric alerts on SQLite and PostgreSQL: rules judged from the change stream (the log walked
and fed to :func:`evaluate_events` as the job engine does), the stalled check driven with a
``now``, de-duplication, the events alerts record, the seed tag, access to rules."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts.uri import repository_for
from cairn.entities.access import AuthMethod, Identity
from cairn.entities.alerts import Alert
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import ACTING, SYSTEM_ACTOR, EventQuery
from cairn.entities.tracking import Metric
from cairn.services.alert_jobs import SEED_RULE_NAME, check_stalled, evaluate_events
from cairn.services.alerts import AlertService
from cairn.services.artifacts import ArtifactService
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService
from cairn.store import events
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema

LOCAL = Identity("local", AuthMethod.LOCAL)


class Evaluator:
    """The ``alerts`` consumer as the job engine runs it: the events after a cursor, in one
    write transaction, the cursor moved past them."""

    def __init__(self, db: Database):
        self.db = db
        self.cursor = 0

    def __call__(self) -> None:
        def run(conn: Any) -> None:
            found = list(events.walk(conn, self.cursor))
            if found:
                self.cursor = found[-1].id
            evaluate_events(conn, found)

        token = ACTING.set(SYSTEM_ACTOR)
        try:
            self.db.write(run)
        finally:
            ACTING.reset(token)


@pytest.fixture
def alerts(database: Database) -> AlertService:
    return AlertService(database)


@pytest.fixture
def evaluate(database: Database) -> Evaluator:
    return Evaluator(database)


def _log(tracking: TrackingService, run_id: str, key: str, value: float, step: int = 0) -> None:
    tracking.log_batch(run_id, metrics=[Metric(key, value, 1_000 + step, step)])


def _alerts(service: AlertService, state: str | None = None) -> list[Alert]:
    found, _ = service.list_alerts(LOCAL, state=state)
    return found


def _rule(service: AlertService, **body: Any) -> str:
    return str(service.create_rule(LOCAL, {"name": "r", **body}).id)


def test_threshold_fires_once_and_resolves(
    tracking: TrackingService, alerts: AlertService, evaluate: Evaluator, database: Database
) -> None:
    eid = tracking.create_experiment("e")
    rule = _rule(alerts, experiment_id=eid, kind="threshold", metric="val_loss", op=">", value=0.5)
    run = tracking.create_run(eid).info.run_id
    _log(tracking, run, "val_loss", 0.4, 0)
    evaluate()
    assert _alerts(alerts) == []
    _log(tracking, run, "val_loss", 0.7, 1)
    evaluate()
    (fired,) = _alerts(alerts)
    assert (fired.state, fired.subject_id, fired.rule_id) == ("firing", run, int(rule))
    assert fired.value == pytest.approx(0.7)
    assert "val_loss" in fired.message
    # a second breaching point, in another batch and twice in one: still one alert
    _log(tracking, run, "val_loss", 0.9, 2)
    _log(tracking, run, "val_loss", 0.8, 3)
    evaluate()
    assert len(_alerts(alerts)) == 1
    _log(tracking, run, "val_loss", 0.3, 4)
    evaluate()
    (resolved,) = _alerts(alerts)
    assert resolved.state == "resolved"
    assert resolved.resolved_at is not None
    # breaching again opens a new alert: history keeps both
    _log(tracking, run, "val_loss", 0.6, 5)
    evaluate()
    assert [a.state for a in _alerts(alerts)] == ["firing", "resolved"]
    assert len(_alerts(alerts, "firing")) == 1
    found = database.read(
        lambda c: events.search(c, EventQuery(entity_type="alert", ascending=True))
    )
    assert [e.action for e in found] == ["alert.fired", "alert.resolved", "alert.fired"]
    assert {e.actor for e in found} == {"system"}
    assert {e.actor_kind for e in found} == {"system"}
    assert found[0].experiment_id == eid
    assert found[0].after is not None
    assert found[0].after["subject_id"] == run
    assert found[0].after["rule_id"] == rule


@pytest.mark.parametrize(
    ("measure", "amount", "ok_value", "bad_value"),
    [("percent", 3, 0.94, 0.90), ("absolute", 0.05, 0.91, 0.89)],
)
def test_drop_against_best(
    tracking: TrackingService,
    alerts: AlertService,
    evaluate: Evaluator,
    measure: str,
    amount: float,
    ok_value: float,
    bad_value: float,
) -> None:
    eid = tracking.create_experiment("e")
    body = {"metric": "test_f1", "against": "best", "measure": measure, "value": amount}
    _rule(alerts, experiment_id=eid, kind="drop", **body)
    best = tracking.create_run(eid).info.run_id
    _log(tracking, best, "test_f1", 0.90)
    other = tracking.create_run(eid).info.run_id
    _log(tracking, other, "test_f1", 0.70)  # worse, but not the baseline's run
    evaluate()
    (first,) = _alerts(alerts)
    assert first.subject_id == other
    assert "best" in first.message
    _log(tracking, other, "test_f1", 0.95, 1)  # now the best itself
    evaluate()
    assert _alerts(alerts)[0].state == "resolved"
    run = tracking.create_run(eid).info.run_id
    _log(tracking, run, "test_f1", ok_value)  # within the rule of the best, 0.95
    evaluate()
    assert len(_alerts(alerts, "firing")) == 0
    _log(tracking, run, "test_f1", bad_value, 1)
    evaluate()
    (fired,) = _alerts(alerts, "firing")
    assert fired.subject_id == run
    assert fired.value == pytest.approx(bad_value)


def test_drop_against_previous_and_lower_is_better(
    tracking: TrackingService, alerts: AlertService, evaluate: Evaluator
) -> None:
    eid = tracking.create_experiment("e")
    # a loss: direction guessed as min, so a rise of more than 10 % is a drop
    rule = alerts.create_rule(
        LOCAL,
        {"name": "loss", "experiment_id": eid, "kind": "drop", "metric": "loss",
         "against": "previous", "value": 10},
    )  # fmt: skip
    assert rule.direction is not None
    assert rule.direction.value == "min"
    first = tracking.create_run(eid, start_time=1_000).info.run_id
    _log(tracking, first, "loss", 1.0)
    second = tracking.create_run(eid, start_time=2_000).info.run_id
    _log(tracking, second, "loss", 1.05)  # 5 % above the previous run: fine
    evaluate()
    assert _alerts(alerts) == []
    third = tracking.create_run(eid, start_time=3_000).info.run_id
    _log(tracking, third, "loss", 1.2)  # 14 % above the previous (second), not the first
    evaluate()
    (fired,) = _alerts(alerts)
    assert fired.subject_id == third
    assert second in fired.message


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite(
    tracking: TrackingService, alerts: AlertService, evaluate: Evaluator, bad: float
) -> None:
    eid = tracking.create_experiment("e")
    _rule(alerts, experiment_id=eid, kind="non_finite", metric="loss")
    run = tracking.create_run(eid).info.run_id
    # the bad point is not the latest one: the batch's points are read, not only the latest
    tracking.log_batch(run, metrics=[Metric("loss", bad, 1, 1), Metric("loss", 0.5, 2, 2)])
    evaluate()
    (fired,) = _alerts(alerts)
    assert fired.state == "firing"
    assert fired.to_json()["value"] is None
    assert ("NaN" if math.isnan(bad) else "inf") in fired.message
    _log(tracking, run, "loss", 0.4, 3)
    evaluate()
    assert _alerts(alerts)[0].state == "resolved"


def test_failed_run_and_filter_scope(
    tracking: TrackingService, alerts: AlertService, evaluate: Evaluator
) -> None:
    eid = tracking.create_experiment("e")
    _rule(alerts, experiment_id=eid, kind="failed_run", filter="tags.team = 'lims'")
    _rule(alerts, experiment_id=eid, kind="threshold", metric="acc", op="<", value=0.5,
          filter="tags.team = 'lims'")  # fmt: skip
    lims = tracking.create_run(eid, tags=[("team", "lims")]).info.run_id
    other = tracking.create_run(eid, tags=[("team", "web")]).info.run_id
    for run in (lims, other):
        _log(tracking, run, "acc", 0.1)
        tracking.update_run(run, status="FAILED")
    evaluate()
    found = _alerts(alerts)
    assert {a.subject_id for a in found} == {lims}
    assert sorted(a.kind.value for a in found) == ["failed_run", "threshold"]
    # deleting the experiment (its runs go with it) closes its alerts
    tracking.delete_experiment(eid)
    evaluate()
    assert _alerts(alerts, "firing") == []


def test_stalled(
    tracking: TrackingService, alerts: AlertService, evaluate: Evaluator, database: Database
) -> None:
    eid = tracking.create_experiment("e")
    _rule(alerts, experiment_id=eid, kind="stalled", minutes=10)
    quiet = tracking.create_run(eid, start_time=0).info.run_id
    busy = tracking.create_run(eid, start_time=0).info.run_id
    tracking.log_batch(busy, metrics=[Metric("m", 1.0, 15 * 60_000, 0)])
    done = tracking.create_run(eid, start_time=0).info.run_id
    tracking.update_run(done, status="FINISHED")
    check_stalled(database, 20 * 60_000)
    (fired,) = _alerts(alerts)
    assert fired.subject_id == quiet
    assert "10 min" in fired.message
    check_stalled(database, 21 * 60_000)  # still quiet: the same alert
    assert len(_alerts(alerts)) == 1
    check_stalled(database, 30 * 60_000)  # now busy is quiet too
    assert {a.subject_id for a in _alerts(alerts, "firing")} == {quiet, busy}
    # a metric arriving closes the stalled alert as the stream is read
    tracking.log_batch(quiet, metrics=[Metric("m", 1.0, 30 * 60_000, 0)])
    evaluate()
    assert {a.subject_id for a in _alerts(alerts, "firing")} == {busy}
    # stopping the run closes it on the next check
    tracking.update_run(busy, status="KILLED")
    check_stalled(database, 31 * 60_000)
    assert _alerts(alerts, "firing") == []


def test_model_version_rules(
    tracking: TrackingService,
    alerts: AlertService,
    evaluate: Evaluator,
    database: Database,
    tmp_path: Path,
) -> None:
    reg = RegistryService(database, ArtifactService(repository_for(str(tmp_path))))
    reg.create_model("m")
    _rule(alerts, model_name="m", kind="drop", metric="acc", against="previous", value=5)
    _rule(alerts, model_name="m", kind="threshold", metric="acc", op="<", value=0.5)
    values = [0.9, 0.88, 0.7, 0.3]
    for value in values:
        run = tracking.create_run("0").info.run_id
        _log(tracking, run, "acc", value)
        reg.create_version("m", f"runs:/{run}/model", run_id=run)
    evaluate()
    firing = _alerts(alerts, "firing")
    by_subject = {(a.subject_id, a.kind.value) for a in firing}
    assert by_subject == {("m/3", "drop"), ("m/4", "drop"), ("m/4", "threshold")}
    assert all(a.model_name == "m" and a.experiment_id is None for a in firing)
    # logging to a version's source run judges the version again
    run4 = reg.get_version("m", "4").run_id
    _log(tracking, run4, "acc", 0.95, 1)
    evaluate()
    assert {(a.subject_id, a.kind.value) for a in _alerts(alerts, "firing")} == {("m/3", "drop")}
    reg.delete_version("m", "3")
    evaluate()
    assert _alerts(alerts, "firing") == []


def test_seed_tag_makes_a_threshold_rule(
    tracking: TrackingService, alerts: AlertService, evaluate: Evaluator
) -> None:
    tags = [("monitoring", "true"), ("alert_threshold", "0.85")]
    eid = tracking.create_experiment("production-monitoring", tags=tags)
    evaluate()
    (rule,) = alerts.list_rules(LOCAL, experiment_id=eid)[0]
    assert (rule.name, rule.kind.value, rule.metric, rule.op, rule.value) == (
        SEED_RULE_NAME, "threshold", "*", "<", 0.85,
    )  # fmt: skip
    assert rule.seeded
    assert rule.created_by == "system"
    run = tracking.create_run(eid).info.run_id
    tracking.log_batch(run, metrics=[Metric("arc_easy", 0.80, 1, 0), Metric("mmlu", 0.9, 1, 0)])
    evaluate()
    (fired,) = _alerts(alerts)
    assert "arc_easy" in fired.message
    # naming a metric narrows the rule; the open alert is closed (judged by the old rule)
    tracking.set_experiment_tag(eid, "alert_metric", "mmlu")
    evaluate()
    (rule,) = alerts.list_rules(LOCAL, experiment_id=eid)[0]
    assert rule.metric == "mmlu"
    assert _alerts(alerts, "firing") == []
    tracking.delete_experiment_tag(eid, "alert_threshold")
    evaluate()
    assert alerts.list_rules(LOCAL, experiment_id=eid)[0] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "threshold", "metric": "m", "op": "~", "value": 1}, "op"),
        ({"kind": "threshold", "metric": "m", "op": ">", "value": "x"}, "value"),
        ({"kind": "threshold", "metric": "bad/../name\x00", "op": ">", "value": 1}, "metric"),
        (
            {"kind": "threshold", "metric": "m", "op": ">", "value": 1, "filter": "tags.x = "},
            "filter",
        ),
        ({"kind": "stalled", "minutes": -5}, "minutes"),
        ({"kind": "stalled", "minutes": "10"}, "minutes"),
        ({"kind": "nope"}, "kind"),
        ({"kind": "drop", "metric": "m", "value": 0}, "value"),
        ({"kind": "drop", "metric": "m", "value": 3, "against": "worst"}, "against"),
        ({"kind": "threshold", "metric": "m", "op": ">", "value": 1, "name": ""}, "name"),
    ],
)
def test_bad_rules_name_the_field(
    tracking: TrackingService, alerts: AlertService, body: dict[str, Any], field: str
) -> None:
    eid = tracking.create_experiment("e")
    with pytest.raises(CairnError) as exc:
        alerts.create_rule(LOCAL, {"name": "r", "experiment_id": eid, **body})
    assert exc.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE
    assert f"'{field}'" in exc.value.message


def test_rule_changes_are_events(
    tracking: TrackingService, alerts: AlertService, database: Database
) -> None:
    eid = tracking.create_experiment("e")
    rule = _rule(alerts, experiment_id=eid, kind="failed_run")
    alerts.update_rule(LOCAL, rule, {"enabled": False})
    alerts.delete_rule(LOCAL, rule)
    found = database.read(
        lambda c: events.search(c, EventQuery(entity_type="alert_rule", ascending=True))
    )
    assert [e.action for e in found] == [
        "alert_rule.create", "alert_rule.update", "alert_rule.delete",
    ]  # fmt: skip
    assert found[1].before == {**(found[1].after or {}), "enabled": True}
    with pytest.raises(CairnError) as exc:
        alerts.get_rule(LOCAL, rule)
    assert exc.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_metric_key_ids_are_per_database(
    tracking: TrackingService, alerts: AlertService, evaluate: Evaluator, tmp_path: Path
) -> None:
    """Key ids differ between databases: one process evaluating two must not mix them."""
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    ensure_schema(other.write_engine)
    other.start()
    try:
        their = TrackingService(other)
        eid = their.create_experiment("o")
        run = their.create_run(eid).info.run_id
        their.log_batch(run, metrics=[Metric("first", 1.0, 1, 0)])  # id 1 there
        AlertService(other).create_rule(
            LOCAL, {"name": "r", "experiment_id": eid, "kind": "non_finite", "metric": "loss"}
        )
        their.log_batch(run, metrics=[Metric("loss", 1.0, 1, 0)])  # "loss" is id 2 there
        Evaluator(other)()
    finally:
        other.close()
    eid = tracking.create_experiment("e")
    _rule(alerts, experiment_id=eid, kind="non_finite", metric="loss")
    run = tracking.create_run(eid).info.run_id
    _log(tracking, run, "loss", 1.0)  # "loss" is id 1 here
    _log(tracking, run, "first", 1.0)  # and id 2 is another key
    tracking.log_batch(run, metrics=[Metric("loss", math.nan, 1, 1), Metric("loss", 0.5, 2, 2)])
    evaluate()
    (fired,) = _alerts(alerts)
    assert "loss = NaN" in fired.message
