"""The evaluation leaderboard over HTTP on SQLite and PostgreSQL, with access control on and
the in-process job engine running real jobs of the test-only ``quick_test`` provider
(:mod:`tests.eval_quick`): the latest completed score per registered version or model name ×
benchmark, sorting with lower-is-better respected, deltas against the champion (the alias,
else the Production version), filters, rows limited to what the caller may read, bad input.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from tests import eval_quick
from tests.api import basic
from tests.databases import BACKENDS, fresh_database

ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
MLFLOW, EV, V1 = "/api/2.0/mlflow", "/api/v1/evaluations", "/api/v1"
BOARD = f"{EV}/leaderboard"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
QUICK = eval_quick.ID
WAIT_S = 60.0


def as_(name: str) -> dict[str, str]:
    return basic(name, PW)


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def wait_for(what: str, probe: Callable[[], Any], seconds: float = WAIT_S) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s", pytrace=False)
        time.sleep(0.05)


def evaluate(client: TestClient, model: str, **scores: float | dict[str, Any]) -> dict[str, Any]:
    """Submit a job (as alice, into experiment ``board``) of one quick benchmark per keyword
    (``echo=0.7``, ``error_rate=0.2``, or a config dict) and wait for it to end."""
    benchmarks = [
        {
            "benchmark_id": name,
            "provider_id": QUICK,
            "config": value if isinstance(value, dict) else {"score": value},
        }
        for name, value in scores.items()
    ]
    body = {"model": {"name": model}, "benchmarks": benchmarks, "experiment": {"name": "board"}}
    job = ok(client.post(EV, json=body, headers=as_("alice")), 202)

    def probe() -> dict[str, Any] | None:
        found: dict[str, Any] = ok(client.get(f"{EV}/jobs/{job['id']}", headers=as_("alice")))
        return found if found["state"] not in ("pending", "running") else None

    done: dict[str, Any] = wait_for(f"job {job['id']} ending", probe)
    return done


@pytest.fixture(scope="module", autouse=True)
def quick_provider() -> Iterator[None]:
    eval_quick.register()
    yield
    eval_quick.unregister()


@pytest.fixture(params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Auth on, no default permission; alice registers model ``clf`` (versions 1-3) and is
    the one who evaluates; bob and carol start with nothing."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CAIRN_EVAL_EXPERIMENT_PREFIX", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_PREFIX", raising=False)
    with fresh_database(request.param, tmp_path) as uri:
        settings = Settings(
            backend_store_uri=uri,
            artifacts_destination=str(tmp_path / "artifacts"),
            auth=True,
            default_permission="NO_PERMISSIONS",
        )
        with TestClient(create_app(settings)) as client:
            for name in ("alice", "bob", "carol"):
                ok(client.post(f"{V1}/users", json={"username": name, "password": PW},
                               headers=AS_ADMIN))  # fmt: skip
            alice = as_("alice")
            eid = ok(client.post(f"{MLFLOW}/experiments/create", json={"name": "training"},
                                 headers=alice))["experiment_id"]  # fmt: skip
            ok(client.post(f"{MLFLOW}/registered-models/create", json={"name": "clf"},
                           headers=alice))  # fmt: skip
            for _ in range(3):
                run = ok(client.post(f"{MLFLOW}/runs/create", json={"experiment_id": eid},
                                     headers=alice))["run"]["info"]["run_id"]  # fmt: skip
                body = {"name": "clf", "source": f"runs:/{run}/model", "run_id": run}
                ok(client.post(f"{MLFLOW}/model-versions/create", json=body, headers=alice))
            yield client


def board(client: TestClient, who: dict[str, str] = AS_ADMIN, **params: Any) -> dict[str, Any]:
    found: dict[str, Any] = ok(client.get(BOARD, params=params, headers=who))
    return found


def label(row: dict[str, Any]) -> str:
    if row["registered_name"]:
        return f"{row['registered_name']}/{row['registered_version']}"
    name: str = row["model_name"]
    return name


def set_alias(client: TestClient, version: str) -> None:
    body = {"name": "clf", "alias": "champion", "version": version}
    ok(client.post(f"{MLFLOW}/registered-models/alias", json=body, headers=as_("alice")))


def seeded(client: TestClient) -> dict[str, dict[str, Any]]:
    """clf v1 (echo twice: 0.6 then 0.65; error 0.3), v2 by alias (0.7; 0.2), v3 (0.9;
    0.25), an unregistered gpt-x (echo 0.5) and one failed job that must not count."""
    set_alias(client, "2")
    jobs = {
        "v1-old": evaluate(client, "models:/clf/1", echo=0.6, error_rate=0.3),
        "v1": evaluate(client, "models:/clf/1", echo=0.65),
        "v2": evaluate(client, "models:/clf@champion", echo=0.7, error_rate=0.2),
        "v3": evaluate(client, "models:/clf/3", echo=0.9, error_rate=0.25),
        "gpt": evaluate(client, "gpt-x", echo=0.5),
        "failed": evaluate(client, "gpt-x", echo={"score": 0.99, "fail": True}),
    }
    assert jobs["failed"]["state"] == "failed"
    assert jobs["v2"]["model"]["registered_version"] == 2
    return jobs


def test_latest_scores_sorted_with_champion_deltas(app: TestClient) -> None:
    jobs = seeded(app)
    found = board(app, benchmarks="echo,error_rate")
    assert found["benchmarks"] == [
        {"benchmark_id": "echo", "provider_id": QUICK, "primary_metric": "score",
         "lower_is_better": False},
        {"benchmark_id": "error_rate", "provider_id": QUICK, "primary_metric": "error",
         "lower_is_better": True},
    ]  # fmt: skip
    assert [label(r) for r in found["rows"]] == ["clf/3", "clf/2", "clf/1", "gpt-x"]
    assert found["champion"] == {"clf": 2}
    rows = {label(r): r for r in found["rows"]}

    # the newest completed score wins: v1's second job, and its error_rate from the first
    v1 = rows["clf/1"]
    assert v1["scores"]["echo"]["score"] == pytest.approx(0.65)
    assert v1["scores"]["echo"]["job_id"] == jobs["v1"]["id"]
    assert v1["scores"]["echo"]["run_id"] == jobs["v1"]["benchmarks"][0]["run_id"]
    assert v1["scores"]["error_rate"]["job_id"] == jobs["v1-old"]["id"]
    assert v1["scores"]["echo"]["finished_at"] >= v1["scores"]["error_rate"]["finished_at"]

    assert rows["clf/3"]["delta_vs_champion"]["echo"] == pytest.approx(0.2)
    assert rows["clf/3"]["delta_vs_champion"]["error_rate"] == pytest.approx(0.05)
    assert rows["clf/1"]["delta_vs_champion"]["echo"] == pytest.approx(-0.05)
    assert rows["clf/2"]["delta_vs_champion"] == {"echo": 0.0, "error_rate": 0.0}
    # not a registered model: no champion to compare with; a missing score is absent
    assert rows["gpt-x"]["delta_vs_champion"] == {"echo": None, "error_rate": None}
    assert "error_rate" not in rows["gpt-x"]["scores"]
    # the failed job's 0.99 never counts
    assert rows["gpt-x"]["scores"]["echo"]["job_id"] == jobs["gpt"]["id"]

    # lower is better: the lowest error first; rows without the score are not listed
    by_error = board(app, benchmarks="error_rate")
    assert [label(r) for r in by_error["rows"]] == ["clf/2", "clf/3", "clf/1"]
    assert [b["benchmark_id"] for b in by_error["benchmarks"]] == ["error_rate"]

    # all benchmarks (by name) when none are named; the first one sorts
    every = board(app)
    assert [b["benchmark_id"] for b in every["benchmarks"]] == ["echo", "error_rate"]
    assert [label(r) for r in every["rows"]] == ["clf/3", "clf/2", "clf/1", "gpt-x"]


def test_champion_falls_back_to_production_and_filters(app: TestClient) -> None:
    seeded(app)
    alice = as_("alice")
    ok(app.request("DELETE", f"{MLFLOW}/registered-models/alias",
                   json={"name": "clf", "alias": "champion"}, headers=alice))  # fmt: skip
    assert board(app)["champion"] == {}
    assert board(app)["rows"][0]["delta_vs_champion"]["echo"] is None
    body = {"name": "clf", "version": "1", "stage": "Production"}
    ok(app.post(f"{MLFLOW}/model-versions/transition-stage", json=body, headers=alice))
    found = board(app, benchmarks="echo")
    assert found["champion"] == {"clf": 1}
    rows = {label(r): r for r in found["rows"]}
    assert rows["clf/3"]["delta_vs_champion"]["echo"] == pytest.approx(0.25)

    assert [label(r) for r in board(app, models="gpt-x")["rows"]] == ["gpt-x"]
    assert [label(r) for r in board(app, models="clf, nobody")["rows"]] == [
        "clf/3",
        "clf/2",
        "clf/1",
    ]
    assert [label(r) for r in board(app, models="models:/clf/3")["rows"]] == ["clf/3"]
    assert board(app, provider="external")["rows"] == []
    assert len(board(app, provider=QUICK)["rows"]) == 4
    limited = board(app, max_models=2)
    assert [label(r) for r in limited["rows"]] == ["clf/3", "clf/2"]
    assert limited["champion"] == {"clf": 1}
    assert board(app, benchmarks="nothing-ran") == {"benchmarks": [], "rows": [], "champion": {}}


def test_rows_only_from_what_the_caller_may_read(app: TestClient) -> None:
    seeded(app)
    # carol reads nothing: an empty board, not an error
    assert board(app, as_("carol")) == {"benchmarks": [], "rows": [], "champion": {}}
    # bob reads the evaluations' experiment but not the registered model: gpt-x only
    exp = ok(app.get(f"{MLFLOW}/experiments/get-by-name",
                     params={"experiment_name": "eval-hub_board"}, headers=AS_ADMIN))  # fmt: skip
    eid = exp["experiment"]["experiment_id"]
    ok(app.put(f"{V1}/experiments/{eid}/permissions/bob", json={"permission": "READ"},
               headers=AS_ADMIN))  # fmt: skip
    assert [label(r) for r in board(app, as_("bob"))["rows"]] == ["gpt-x"]
    ok(app.put(f"{V1}/models/clf/permissions/bob", json={"permission": "READ"},
               headers=AS_ADMIN))  # fmt: skip
    assert [label(r) for r in board(app, as_("bob"))["rows"]] == [
        "clf/3",
        "clf/2",
        "clf/1",
        "gpt-x",
    ]
    # without credentials: 401
    assert app.get(BOARD).status_code == 401


BAD: list[tuple[dict[str, Any], str]] = [
    ({"max_models": 0}, "max_models"),
    ({"max_models": 501}, "max_models"),
    ({"max_models": "many"}, "max_models"),
    ({"benchmarks": ",".join(f"b{i}" for i in range(51))}, "benchmarks"),
    ({"benchmarks": "x" * 513}, "benchmarks"),
    ({"models": "bad\x01name"}, "models"),
    ({"benchmarks": "y" * 10_001}, "benchmarks"),
    ({"provider": "p" * 129}, "provider"),
]
HOSTILE = ["' OR 1=1 --", "models:/clf/1'; DROP TABLE evaluation_jobs; --", "../../etc/passwd", "%"]


def test_bad_input_is_a_400_naming_the_field_and_hostile_names_match_nothing(
    app: TestClient,
) -> None:
    for params, field in BAD:
        answer = app.get(BOARD, params=params, headers=AS_ADMIN)
        assert answer.status_code == 400, (params, answer.text)
        body = answer.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert field in body["message"], (params, body)
    evaluate(app, "gpt-x", echo=0.5)
    for hostile in HOSTILE:
        for key in ("benchmarks", "models", "provider"):
            assert board(app, **{key: hostile})["rows"] == [], (key, hostile)
    assert len(board(app)["rows"]) == 1
