"""Insights the seeds call by name: an experiment's summary (runs by status, durations, the
best run per metric, a metric trend), a model's performance with its trend over versions and
a degradation verdict, several models compared by a comma-separated list of names; filtered
by what the caller may read; and seed 000's calls as written against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx import Response
from starlette.testclient import TestClient

from cairn.entities.access import Permission, ResourceType
from cairn.server.app import create_app
from cairn.server.settings import Settings
from tests.api import basic, root_app
from tests.compat.server import start_server

API = "/api/2.0/mlflow"
V1 = "/api/v1"


def _ok(resp: Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def _error(resp: Response, status: int, code: str, names: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    assert names in body["message"], body


def _experiment(c: Any, name: str, headers: dict[str, str] | None = None) -> str:
    r = c.post(f"{API}/experiments/create", json={"name": name}, headers=headers)
    eid: str = _ok(r)["experiment_id"]
    return eid


def _run(
    c: Any,
    eid: str,
    name: str,
    start: int,
    metrics: dict[str, float | str],
    status: str | None = None,
    end: int | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    body = {"experiment_id": eid, "run_name": name, "start_time": start}
    run_id: str = _ok(c.post(f"{API}/runs/create", json=body, headers=headers))["run"]["info"][
        "run_id"
    ]
    points = [{"key": k, "value": v, "timestamp": start, "step": 3} for k, v in metrics.items()]
    if points:
        batch = {"run_id": run_id, "metrics": points}
        _ok(c.post(f"{API}/runs/log-batch", json=batch, headers=headers))
    if status is not None:
        update: dict[str, Any] = {"run_id": run_id, "status": status}
        if end is not None:
            update["end_time"] = end
        _ok(c.post(f"{API}/runs/update", json=update, headers=headers))
    return run_id


def _version(c: Any, model: str, run_id: str, headers: dict[str, str] | None = None) -> str:
    body = {"name": model, "source": f"runs:/{run_id}/model", "run_id": run_id}
    version: str = _ok(c.post(f"{API}/model-versions/create", json=body, headers=headers))[
        "model_version"
    ]["version"]
    return version


def _model(c: Any, name: str, headers: dict[str, str] | None = None) -> None:
    _ok(c.post(f"{API}/registered-models/create", json={"name": name}, headers=headers))


def test_experiment_summary(any_client: TestClient) -> None:
    c = any_client
    eid = _experiment(c, "summary")
    r1 = _run(c, eid, "one", 1_000, {"acc": 0.8, "loss": 0.5}, "FINISHED", 61_000)
    r2 = _run(c, eid, "two", 2_000, {"acc": 0.9, "loss": 0.3}, "FINISHED", 32_000)
    r3 = _run(c, eid, "three", 3_000, {"acc": 0.95, "loss": 0.4}, "FAILED", 4_000)
    _run(c, eid, "four", 4_000, {"acc": "NaN"})  # RUNNING, only a NaN: in no best, no trend
    gone = _run(c, eid, "gone", 5_000, {"acc": 0.99, "loss": 0.01}, "FINISHED", 6_000)
    _ok(c.post(f"{API}/runs/delete", json={"run_id": gone}))

    body = _ok(c.get(f"{V1}/experiments/{eid}/summary"))
    assert body["experiment_id"] == eid
    assert body["name"] == "summary"
    assert body["run_count"] == 4
    assert body["status_counts"] == {"FINISHED": 2, "FAILED": 1, "RUNNING": 1}
    assert body["duration"] == {
        "count": 2,
        "min_ms": 30_000,
        "median_ms": 30_000,
        "p90_ms": 60_000,
        "max_ms": 60_000,
        "mean_ms": 45_000.0,
    }
    best = {b["metric"]: b for b in body["best_runs"]}
    assert best["acc"]["run_id"] == r3
    assert best["acc"]["direction"] == "max"
    assert best["acc"]["value"] == 0.95
    assert best["acc"]["step"] == 3
    assert best["loss"]["run_id"] == r2
    assert best["loss"]["direction"] == "min"
    assert best["loss"]["run_name"] == "two"
    trend = body["trend"]
    assert {m["key"]: (m["direction"], m["guessed"]) for m in trend["metrics"]} == {
        "acc": ("max", True),
        "loss": ("min", True),
    }
    assert [p["run_id"] for p in trend["points"]] == [r1, r2, r3]  # by start time
    assert trend["points"][0] == {
        "run_id": r1,
        "run_name": "one",
        "start_time": 1_000,
        "values": {"acc": 0.8, "loss": 0.5},
    }
    assert trend["total_runs"] == 3
    assert trend["stride"] == 1

    # directions given: the lowest acc is now the best; one metric only
    chosen = _ok(c.get(f"{V1}/experiments/{eid}/summary", params={"metrics": "acc:MIN"}))
    assert [(b["metric"], b["run_id"]) for b in chosen["best_runs"]] == [("acc", r1)]
    assert chosen["trend"]["metrics"] == [{"key": "acc", "direction": "min", "guessed": False}]
    repeated = _ok(
        c.get(
            f"{V1}/experiments/{eid}/summary",
            params=[("metrics", "loss:max"), ("metrics", "acc")],
        )
    )
    assert [(b["metric"], b["run_id"]) for b in repeated["best_runs"]] == [
        ("loss", r1),
        ("acc", r3),
    ]

    # the experiments page's list endpoint is still there, beside the new one
    listed = _ok(c.get(f"{V1}/experiments/summary", params={"experiment_id": eid}))
    assert listed["experiments"][0]["run_count"] == 4


def test_experiment_summary_empty_and_bad_input(any_client: TestClient) -> None:
    c = any_client
    eid = _experiment(c, "empty")
    body = _ok(c.get(f"{V1}/experiments/{eid}/summary"))
    assert body["run_count"] == 0
    assert body["status_counts"] == {}
    assert body["duration"] == {
        "count": 0,
        "min_ms": None,
        "median_ms": None,
        "p90_ms": None,
        "max_ms": None,
        "mean_ms": None,
    }
    assert body["best_runs"] == []
    assert body["trend"]["points"] == []
    _run(c, eid, "r", 1, {"acc": 0.5})

    summary = f"{V1}/experiments/{eid}/summary"
    _error(c.get(f"{V1}/experiments/98765/summary"), 404, "RESOURCE_DOES_NOT_EXIST", "98765")
    _error(c.get(f"{V1}/experiments/abc/summary"), 400, "INVALID_PARAMETER_VALUE", "experiment_id")
    _error(c.get(summary, params={"metrics": "nope"}), 400, "INVALID_PARAMETER_VALUE", "metrics")
    _error(c.get(summary, params={"metrics": "acc:up"}), 400, "INVALID_PARAMETER_VALUE", "metrics")
    _error(c.get(summary, params={"metrics": ":max"}), 400, "INVALID_PARAMETER_VALUE", "metrics")
    many = ",".join(f"m{i}" for i in range(21))
    _error(c.get(summary, params={"metrics": many}), 400, "INVALID_PARAMETER_VALUE", "metrics")
    _error(c.get(summary, params={"metrics": "k" * 300}), 400, "INVALID_PARAMETER_VALUE", "metrics")
    for bad in ("1", "201", "x"):
        _error(
            c.get(summary, params={"max_points": bad}),
            400,
            "INVALID_PARAMETER_VALUE",
            "max_points",
        )
    # an empty list is no list: the default metrics
    assert _ok(c.get(summary, params={"metrics": ","}))["trend"]["metrics"][0]["key"] == "acc"


def test_trend_is_thinned_evenly_and_keeps_the_newest(any_client: TestClient) -> None:
    c = any_client
    eid = _experiment(c, "many")
    ids = [_run(c, eid, f"r{i}", 1_000 + i, {"acc": i / 100}) for i in range(25)]
    body = _ok(c.get(f"{V1}/experiments/{eid}/summary", params={"max_points": 10}))
    trend = body["trend"]
    assert trend["total_runs"] == 25
    assert trend["stride"] == 3
    got = [p["run_id"] for p in trend["points"]]
    assert len(got) <= 10
    assert got == [ids[i] for i in range(0, 25, 3)]  # 0, 3, … 24: the newest is among them
    assert [p["values"]["acc"] for p in trend["points"]] == [i / 100 for i in range(0, 25, 3)]


def _versions(c: Any, model: str, eid: str, values: list[dict[str, float]]) -> list[str]:
    _model(c, model)
    runs = [
        _run(c, eid, f"{model}-{i}", 1_000 + i, m, "FINISHED", 2_000) for i, m in enumerate(values)
    ]
    return [_version(c, model, run) for run in runs]


def test_model_performance_trend_and_degradation(any_client: TestClient) -> None:
    c = any_client
    eid = _experiment(c, "models")
    _versions(
        c,
        "distilbert",
        eid,
        [
            {"eval_f1": 0.89, "eval_loss": 0.30},
            {"eval_f1": 0.91, "eval_loss": 0.25},
            {"eval_f1": 0.84, "eval_loss": 0.26},
        ],
    )
    url = f"{V1}/models/distilbert/performance"
    body = _ok(c.get(url))
    assert [v["version"]["version"] for v in body["versions"]] == ["1", "2", "3"]
    trend = body["trend"]
    assert trend["threshold"] == 0.05
    assert trend["series"]["eval_f1"] == [
        {"version": 1, "value": 0.89},
        {"version": 2, "value": 0.91},
        {"version": 3, "value": 0.84},
    ]
    verdicts = {d["metric"]: d for d in trend["degradations"]}
    f1 = verdicts["eval_f1"]
    assert (f1["best_version"], f1["newest_version"], f1["degraded"]) == (2, 3, True)
    assert f1["relative_drop"] == pytest.approx((0.91 - 0.84) / 0.91)
    loss = verdicts["eval_loss"]  # guessed: lower is better; 4 % worse, under 5 %
    assert (loss["direction"], loss["best_version"], loss["degraded"]) == ("min", 2, False)
    assert trend["degraded"] is True

    strict = _ok(c.get(url, params={"metrics": "eval_loss", "threshold": "0.03"}))["trend"]
    assert list(strict["series"]) == ["eval_loss"]
    assert strict["degraded"] is True
    assert strict["degradations"][0]["degraded"] is True

    # asked the other way round, version 3's f1 is the best: nothing fell
    flipped = _ok(c.get(url, params={"metrics": "eval_f1:min"}))["trend"]
    assert flipped["degradations"][0]["best_version"] == 3
    assert flipped["degradations"][0]["relative_drop"] == 0.0
    assert flipped["degraded"] is False

    # the old `metric` filter still narrows each run, and picks the trend's metrics
    narrowed = _ok(c.get(url, params={"metric": "eval_loss"}))
    assert set(narrowed["versions"][0]["run"]["metrics"]) == {"eval_loss"}
    assert list(narrowed["trend"]["series"]) == ["eval_loss"]

    for params, field in (
        ({"metrics": "nope"}, "metrics"),
        ({"metrics": "eval_f1:best"}, "metrics"),
        ({"threshold": "-0.1"}, "threshold"),
        ({"threshold": "nan"}, "threshold"),
        ({"threshold": "11"}, "threshold"),
        ({"threshold": "five"}, "threshold"),
    ):
        _error(c.get(url, params=params), 400, "INVALID_PARAMETER_VALUE", field)
    _error(c.get(f"{V1}/models/nope/performance"), 404, "RESOURCE_DOES_NOT_EXIST", "nope")


def test_model_without_versions_has_an_empty_trend(any_client: TestClient) -> None:
    c = any_client
    _model(c, "bare")
    body = _ok(c.get(f"{V1}/models/bare/performance", params={"metrics": "acc"}))
    assert body["versions"] == []
    assert body["trend"]["series"] == {"acc": []}
    assert body["trend"]["degradations"] == []
    assert body["trend"]["degraded"] is False


def test_models_compare_by_listed_names(any_client: TestClient) -> None:
    c = any_client
    eid = _experiment(c, "cmp")
    for name, f1 in (("distilbert", 0.89), ("bert_base", 0.9), ("roberta_base", 0.92)):
        _versions(c, name, eid, [{"eval_f1": f1}])
    three = "distilbert,bert_base,roberta_base"
    seed = _ok(c.get(f"{V1}/models/compare", params={"model_names": three, "stage": "latest"}))
    assert [m["name"] for m in seed["models"]] == ["distilbert", "bert_base", "roberta_base"]
    assert [m["run"]["metrics"]["eval_f1"] for m in seed["models"]] == [0.89, 0.9, 0.92]
    assert _ok(c.get(f"{V1}/models/compare", params={"names": three, "stage": "latest"})) == seed
    repeated = [("name", n) for n in three.split(",")] + [("stage", "latest")]
    assert _ok(c.get(f"{V1}/models/compare", params=repeated)) == seed
    # no production version yet: each is null under the default stage
    production = _ok(c.get(f"{V1}/models/compare", params={"names": three}))
    assert [m["version"] for m in production["models"]] == [None, None, None]

    _error(
        c.get(f"{V1}/models/compare", params={"names": ","}),
        400,
        "INVALID_PARAMETER_VALUE",
        "names",
    )
    _error(c.get(f"{V1}/models/compare"), 400, "INVALID_PARAMETER_VALUE", "names")
    many = ",".join(f"m{i}" for i in range(51))
    _error(
        c.get(f"{V1}/models/compare", params={"names": many}),
        400,
        "INVALID_PARAMETER_VALUE",
        "names",
    )
    _error(
        c.get(f"{V1}/models/compare", params={"model_names": "distilbert,ghost"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "ghost",
    )


ADMIN, ADMIN_PASSWORD = "root", "root's long password"
READER, READER_PASSWORD = "reader", "reader's long password"


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'api.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        auth=True,
        default_permission="NO_PERMISSIONS",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        root_app(client.app).state.access.create_user(READER, READER_PASSWORD)
        yield client


def test_insights_show_only_what_the_caller_may_read(guarded: TestClient) -> None:
    c = guarded
    admin, reader = basic(ADMIN, ADMIN_PASSWORD), basic(READER, READER_PASSWORD)
    access = root_app(c.app).state.access
    shown = _experiment(c, "shown", admin)
    hidden = _experiment(c, "hidden", admin)
    run_shown = _run(c, shown, "s", 1, {"acc": 0.7}, headers=admin)
    run_hidden = _run(c, hidden, "h", 2, {"acc": 0.9}, headers=admin)
    for name in ("open-model", "closed-model"):
        _model(c, name, admin)
        _version(c, name, run_shown, admin)
        _version(c, name, run_hidden, admin)
    access.set_grant(ResourceType.EXPERIMENT, shown, READER, Permission.READ)
    access.set_grant(ResourceType.REGISTERED_MODEL, "open-model", READER, Permission.READ)

    assert _ok(c.get(f"{V1}/experiments/{shown}/summary", headers=reader))["run_count"] == 1
    _error(
        c.get(f"{V1}/experiments/{hidden}/summary", headers=reader),
        403,
        "PERMISSION_DENIED",
        hidden,
    )
    _error(c.get(f"{V1}/experiments/{hidden}/summary"), 401, "UNAUTHENTICATED", "Authentication")

    # the model is readable, the run of version 2 is in an experiment the reader cannot read
    perf = _ok(c.get(f"{V1}/models/open-model/performance", headers=reader))
    assert [v["run"] is None for v in perf["versions"]] == [False, True]
    assert perf["trend"]["series"] == {"acc": [{"version": 1, "value": 0.7}]}
    full = _ok(c.get(f"{V1}/models/open-model/performance", headers=admin))
    assert full["trend"]["series"]["acc"] == [
        {"version": 1, "value": 0.7},
        {"version": 2, "value": 0.9},
    ]
    _error(
        c.get(f"{V1}/models/closed-model/performance", headers=reader),
        403,
        "PERMISSION_DENIED",
        "closed-model",
    )

    # each listed name is checked, however it is spelled
    for field in ("names", "model_names"):
        _error(
            c.get(
                f"{V1}/models/compare", params={field: "open-model,closed-model"}, headers=reader
            ),
            403,
            "PERMISSION_DENIED",
            "closed-model",
        )
    picked = _ok(
        c.get(
            f"{V1}/models/compare",
            params={"names": "open-model", "stage": "latest"},
            headers=reader,
        )
    )
    assert picked["models"][0]["version"]["version"] == "2"
    assert picked["models"][0]["run"] is None  # its run's experiment is hidden
    both = _ok(
        c.get(
            f"{V1}/models/compare",
            params={"names": "open-model,closed-model", "stage": "latest"},
            headers=admin,
        )
    )
    assert [m["run"]["run_id"] for m in both["models"]] == [run_hidden, run_hidden]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("insights-live")
    uri = f"sqlite:///{folder / 'cairn.db'}"
    yield from (server.url for server in start_server("sqlite", uri, folder))


def test_seed_000_calls_against_a_live_server(live: str) -> None:
    """The seed's three insight calls, spelled as it spells them, on a running server."""
    with httpx.Client(base_url=live, timeout=30) as c:
        eid = _experiment(c, "ML Security Training")
        for name, f1s in (
            ("distilbert", (0.89, 0.91, 0.84)),
            ("bert_base", (0.90,)),
            ("roberta_base", (0.92,)),
        ):
            _model(c, name)
            for i, f1 in enumerate(f1s):
                metrics = {"eval_accuracy": f1 + 0.03, "eval_f1": f1, "eval_loss": 1 - f1}
                run = _run(c, eid, name, 1_000 + i, metrics, "FINISHED", 90_000 + i)
                _version(c, name, run)

        summary = _ok(c.get(f"{V1}/experiments/{eid}/summary"))
        assert summary["run_count"] == 5
        assert summary["status_counts"] == {"FINISHED": 5}
        assert summary["duration"]["count"] == 5
        best = {b["metric"]: b["value"] for b in summary["best_runs"]}
        assert best["eval_f1"] == 0.92
        assert best["eval_loss"] == pytest.approx(0.08)

        history = _ok(c.get(f"{V1}/models/distilbert/performance"))
        assert len(history["versions"]) == 3
        assert history["trend"]["degraded"] is True
        flagged = [d for d in history["trend"]["degradations"] if d["degraded"]]
        assert {d["metric"] for d in flagged} == {"eval_accuracy", "eval_f1", "eval_loss"}
        assert {(d["best_version"], d["newest_version"]) for d in flagged} == {(2, 3)}

        compared = _ok(
            c.get(f"{V1}/models/compare?model_names=distilbert,bert_base,roberta_base&stage=latest")
        )
        assert [m["version"]["version"] for m in compared["models"]] == ["3", "1", "1"]
