"""The tracking service and SQL store on SQLite and PostgreSQL (real databases)."""

from __future__ import annotations

import math
import threading

import pytest

from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.tracking import Metric, RunQuery, ViewType
from cairn.services.tracking import TrackingService


def _run(t: TrackingService, exp: str, name: str = "r", start: int = 1000) -> str:
    return t.create_run(exp, "alice", start, name).info.run_id


def test_fresh_store_has_default_experiment(tracking: TrackingService) -> None:
    exp = tracking.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == "mlflow-artifacts:/0"


def test_experiment_lifecycle(tracking: TrackingService) -> None:
    eid = tracking.create_experiment("exp-a", tags=[("team", "qa")])
    assert tracking.get_experiment_by_name("exp-a").tags == {"team": "qa"}
    with pytest.raises(CairnError) as err:
        tracking.create_experiment("exp-a")
    assert err.value.error_code == ErrorCode.RESOURCE_ALREADY_EXISTS
    tracking.rename_experiment(eid, "exp-b")
    assert tracking.get_experiment(eid).name == "exp-b"
    tracking.set_experiment_tag(eid, "stage", "dev")
    tracking.delete_experiment_tag(eid, "team")
    assert tracking.get_experiment(eid).tags == {"stage": "dev"}
    with pytest.raises(CairnError) as err:
        tracking.delete_experiment_tag(eid, "team")
    assert err.value.error_code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    with pytest.raises(CairnError) as err:
        tracking.get_experiment("999")
    assert err.value.http_status == 404


def test_experiment_delete_carries_runs_and_restore_brings_back_only_those(
    tracking: TrackingService,
) -> None:
    eid = tracking.create_experiment("carry")
    kept = _run(tracking, eid, "kept")
    deleted_before = _run(tracking, eid, "deleted-before")
    tracking.delete_run(deleted_before)
    tracking.delete_experiment(eid)
    assert tracking.get_run(kept).info.lifecycle_stage == "deleted"
    with pytest.raises(CairnError) as err:
        tracking.log_metric(kept, "m", 1.0, 1, 0)
    assert err.value.error_code == ErrorCode.INVALID_PARAMETER_VALUE
    with pytest.raises(CairnError):
        tracking.create_experiment("carry")  # the name stays taken while deleted
    tracking.restore_experiment(eid)
    assert tracking.get_run(kept).info.lifecycle_stage == "active"
    assert tracking.get_run(deleted_before).info.lifecycle_stage == "deleted"


def test_params_are_immutable_and_batches_atomic(tracking: TrackingService) -> None:
    rid = _run(tracking, "0")
    tracking.log_param(rid, "lr", "0.1")
    tracking.log_param(rid, "lr", "0.1")  # same value is fine
    with pytest.raises(CairnError) as err:
        tracking.log_param(rid, "lr", "0.2")
    assert "lr" in err.value.message
    with pytest.raises(CairnError):  # the whole batch fails: the metric must not be stored
        tracking.log_batch(rid, [Metric("loss", 1.0, 5, 0)], [("lr", "0.3")])
    assert tracking.get_run(rid).metrics == []
    assert tracking.get_run(rid).params == {"lr": "0.1"}


def test_long_values_truncated_by_default_or_rejected(database: object) -> None:
    from cairn.services.validation import ValueLimits
    from cairn.store.db import Database

    assert isinstance(database, Database)
    truncating = TrackingService(database)
    rid = _run(truncating, "0")
    truncating.log_param(rid, "p", "x" * 6001)
    truncating.set_tag(rid, "t", "y" * 8001)
    run = truncating.get_run(rid)
    assert len(run.params["p"]) == 6000
    assert len(run.tags["t"]) == 8000
    strict = TrackingService(database, ValueLimits(truncate=False))
    with pytest.raises(CairnError):
        strict.log_param(rid, "p2", "x" * 6001)
    assert "p2" not in strict.get_run(rid).params


@pytest.mark.parametrize("key", ["", "a" * 251, "../x", "/abs", "a//b", "bad!char", "a/./b"])
def test_invalid_keys_rejected(tracking: TrackingService, key: str) -> None:
    rid = _run(tracking, "0")
    with pytest.raises(CairnError) as err:
        tracking.log_metric(rid, key, 1.0, 1, 0)
    assert err.value.error_code == ErrorCode.INVALID_PARAMETER_VALUE


def test_metrics_dedupe_latest_and_nan(tracking: TrackingService) -> None:
    rid = _run(tracking, "0")
    tracking.log_metric(rid, "loss", 0.5, 10, 3)
    tracking.log_metric(rid, "loss", 0.5, 10, 3)  # identical point: stored once
    tracking.log_metric(rid, "loss", 0.7, 11, 3)  # other value at the same step: kept
    tracking.log_metric(rid, "loss", 0.9, 5, 1)  # older step: not the latest
    tracking.log_metric(rid, "acc", math.nan, 1, 0)
    tracking.log_metric(rid, "big", math.inf, 1, 0)
    history = tracking.get_metric_history(rid, "loss").metrics()
    assert [(m.step, m.value) for m in history] == [(1, 0.9), (3, 0.5), (3, 0.7)]
    latest = {m.key: m for m in tracking.get_run(rid).metrics}
    assert latest["loss"].value == 0.7
    assert latest["loss"].step == 3
    assert math.isnan(latest["acc"].value)
    assert latest["big"].value == math.inf


def test_one_batch_stores_each_point_once_with_exact_values(tracking: TrackingService) -> None:
    """A whole batch goes in as one statement on PostgreSQL (arrays, not a row at a time):
    points repeated within it are stored once and every double reads back bit for bit."""
    rid = _run(tracking, "0")
    values = [0.1, -0.0, 1e-300, 5e-324, 1.5e308, -math.inf, math.inf, 1 / 3]
    points = [Metric("x", val, 1_700_000_000_000 + i, 2**62 + i) for i, val in enumerate(values)]
    tracking.log_batch(rid, [*points, points[0], Metric("x", math.nan, 7, 2**62)])
    tracking.log_batch(rid, points[:3])  # again: nothing new
    history = tracking.get_metric_history(rid, "x").metrics()
    got = [(m.step, m.timestamp, m.value) for m in history if not math.isnan(m.value)]
    assert got == [(p.step, p.timestamp, p.value) for p in points]
    assert [m.timestamp for m in history if math.isnan(m.value)] == [7]
    latest = {m.key: m for m in tracking.get_run(rid).metrics}
    assert latest["x"].step == 2**62 + len(values) - 1
    assert latest["x"].value == 1 / 3


def test_history_pages_are_exact(tracking: TrackingService) -> None:
    rid = _run(tracking, "0")
    tracking.log_batch(rid, [Metric("m", float(i % 7), 100 + i, i // 2) for i in range(1000)])
    seen, token, pages = [], None, 0
    while pages < 100:
        page = tracking.get_metric_history(rid, "m", max_results=64, page_token=token)
        seen.extend((m.step, m.timestamp) for m in page.metrics())
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 16
    assert seen == sorted(seen)
    assert len(set(seen)) == 1000


def test_search_filters_order_and_paging(tracking: TrackingService) -> None:
    eid = tracking.create_experiment("search")
    ids = []
    for i in range(30):
        rid = _run(tracking, eid, f"run-{i:02d}", start=1000 + i)
        metrics = [Metric("acc", i / 30, 1, 0)] if i % 5 else []  # every 5th has no acc
        tracking.log_batch(
            rid, metrics, [("depth", str(i % 4)), ("name", f"Model-{i}")], [("team", "qa")]
        )
        ids.append(rid)

    def search(flt: str | None = None, order: tuple[str, ...] = (), n: int = 1000) -> list[str]:
        page = tracking.search_runs(RunQuery([int(eid)], flt, max_results=n, order_by=order))
        return [r.info.run_id for r in page.items]

    assert search() == ids[::-1]  # start_time DESC by default
    assert search("metrics.acc > 0.5") == [ids[i] for i in range(29, 15, -1) if i % 5]
    assert search("params.depth = '2' and tags.team = 'qa'") == [
        ids[i] for i in range(29, -1, -1) if i % 4 == 2
    ]
    assert search("params.name LIKE 'model-%'") == []  # LIKE is case-sensitive
    assert len(search("params.name ILIKE 'model-%'")) == 30
    assert search("params.depth IN ('1', '3') OR metrics.acc < 0.1") == [
        ids[i] for i in range(29, -1, -1) if i % 4 in (1, 3) or (i % 5 and i / 30 < 0.1)
    ]
    assert search("metrics.acc IS NULL") == [ids[i] for i in range(29, -1, -1) if i % 5 == 0]
    assert search(f"attributes.run_id = '{ids[3]}'") == [ids[3]]
    assert search("run_name = 'run-07'") == [ids[7]]
    # order by a metric: missing values last in either direction
    desc = search(order=("metrics.acc DESC",))
    assert desc[:24] == [ids[i] for i in range(29, -1, -1) if i % 5]
    asc = search(order=("metrics.acc ASC",))
    assert asc[:24] == [ids[i] for i in range(30) if i % 5]
    assert set(asc[24:]) == {ids[i] for i in range(0, 30, 5)}
    # params compare as strings
    assert search(order=("params.depth DESC", "attributes.start_time ASC"))[0] == ids[3]
    # keyset paging over an order with ties and NULLs returns every run exactly once
    for order in [(), ("metrics.acc DESC",), ("params.depth ASC",), ("attributes.end_time",)]:
        got, token = [], None
        for _ in range(20):
            page = tracking.search_runs(
                RunQuery([int(eid)], None, max_results=7, order_by=order, page_token=token)
            )
            got.extend(r.info.run_id for r in page.items)
            token = page.next_page_token
            if not token:
                break
        assert got == search(order=order), order


def test_paging_across_infinite_and_nan_values(tracking: TrackingService) -> None:
    eid = tracking.create_experiment("inf-paging")
    values = [1.0, math.inf, 3.0, -math.inf, math.nan, 2.0]
    for i, value in enumerate(values):
        rid = _run(tracking, eid, f"r{i}", start=1000 + i)
        tracking.log_metric(rid, "s", value, 1, 0)
    for order in ("metrics.s DESC", "metrics.s ASC"):
        full = tracking.search_runs(RunQuery([int(eid)], order_by=(order,))).items
        got, token = [], None
        for _ in range(10):
            page = tracking.search_runs(
                RunQuery([int(eid)], max_results=1, order_by=(order,), page_token=token)
            )
            got.extend(r.info.run_name for r in page.items)
            token = page.next_page_token
            if not token:
                break
        assert got == [r.info.run_name for r in full], order
        assert len(got) == len(values)
    names = [r.info.run_name for r in full]
    assert names[-1] == "r4"  # NaN after every number in both directions


def test_search_view_types_and_bad_input(tracking: TrackingService) -> None:
    eid = tracking.create_experiment("views")
    a, b = _run(tracking, eid, "a"), _run(tracking, eid, "b", start=2000)
    tracking.delete_run(a)

    def ids(view: ViewType) -> set[str]:
        page = tracking.search_runs(RunQuery([int(eid)], view_type=view))
        return {r.info.run_id for r in page.items}

    assert ids(ViewType.ACTIVE_ONLY) == {b}
    assert ids(ViewType.DELETED_ONLY) == {a}
    assert ids(ViewType.ALL) == {a, b}
    for bad in ["metrics.acc >> 1", "params.x = 1", "foo.bar = 'x'", "metrics.a > 1 and"]:
        with pytest.raises(CairnError) as err:
            tracking.search_runs(RunQuery([int(eid)], bad))
        assert err.value.error_code == ErrorCode.INVALID_PARAMETER_VALUE
    with pytest.raises(CairnError):
        tracking.search_runs(RunQuery([int(eid)], max_results=50_001))
    token = tracking.search_runs(
        RunQuery([int(eid)], view_type=ViewType.ALL, max_results=1)
    ).next_page_token
    assert token
    with pytest.raises(CairnError) as err:  # a token from another query is refused
        tracking.search_runs(
            RunQuery([int(eid)], "tags.x = 'y'", view_type=ViewType.ALL, page_token=token)
        )
    assert "page_token" in err.value.message


def test_search_experiments(tracking: TrackingService) -> None:
    for name in ["sweep-a", "sweep-b", "other"]:
        tracking.create_experiment(name, tags=[("kind", name.split("-")[0])])
    page = tracking.search_experiments(filter_text="name LIKE 'sweep-%'", order_by=["name DESC"])
    assert [e.name for e in page.items] == ["sweep-b", "sweep-a"]
    page = tracking.search_experiments(filter_text="tags.kind = 'other'")
    assert [e.name for e in page.items] == ["other"]
    first = tracking.search_experiments(max_results=2)
    assert len(first.items) == 2
    assert first.next_page_token
    rest = tracking.search_experiments(max_results=2, page_token=first.next_page_token)
    names = [e.name for e in first.items + rest.items]
    assert names == ["other", "sweep-b", "sweep-a", "Default"]


def test_run_rename_updates_tag(tracking: TrackingService) -> None:
    rid = _run(tracking, "0", "before")
    tracking.update_run(rid, "FINISHED", 2000, "after")
    run = tracking.get_run(rid)
    assert run.info.run_name == "after"
    assert run.tags["mlflow.runName"] == "after"
    assert run.info.status == "FINISHED"
    assert run.info.end_time == 2000
    tracking.set_tag(rid, "mlflow.runName", "third")
    assert tracking.get_run(rid).info.run_name == "third"


def test_concurrent_writers_never_lock_and_failures_stay_isolated(
    tracking: TrackingService,
) -> None:
    rid = _run(tracking, "0")
    tracking.log_param(rid, "fixed", "1")
    errors: list[Exception] = []

    def writer(n: int) -> None:
        for i in range(50):
            try:
                tracking.log_metric(rid, f"w{n}", float(i), i, i)
                if i % 10 == 0:
                    tracking.log_param(rid, "fixed", "2")  # must fail alone
            except CairnError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert len(errors) == 8 * 5
    assert all(isinstance(e, CairnError) and "fixed" in e.message for e in errors)
    for n in range(8):
        assert len(tracking.get_metric_history(rid, f"w{n}").points) == 50
