"""The evaluation hub over HTTP on SQLite and PostgreSQL, with access control on and the
in-process job engine running the benchmarks: the seed's three payloads and eval-hub's shape,
recording (experiment, parent and nested runs, params, metrics, tags, artifacts), listing with
filters and keyset paging, cancel and hard delete, logs, external runners and their token's
scope, collections, providers, the SSE stream, and bad payloads answered 400 naming the field.

The benchmarks Cairn runs here come from the test-only provider ``quick_test``
(:mod:`tests.eval_quick`), registered for this module only.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from cairn.access.secrets import digest
from cairn.entities.events import EventQuery
from cairn.entities.webhooks import translate
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.evaluations import KIND, MAX_ATTEMPTS
from cairn.store import evaluations as eval_store
from cairn.store import events as event_store
from cairn.store import jobs as job_store
from tests import eval_quick
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database

ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
MLFLOW, EV = "/api/2.0/mlflow", "/api/v1/evaluations"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
USERS = ("alice", "bob", "carol")
WAIT_S = 60.0
QUICK = eval_quick.ID

SEED_SINGLE: dict[str, Any] = {
    "model": {
        "server": "vllm",
        "name": "meta-llama/llama-3.1-8b",
        "configuration": {"temperature": 0.1, "max_tokens": 512},
    },
    "benchmarks": [
        {"benchmark_id": "arc_easy", "provider_id": "lm_evaluation_harness",
         "config": {"num_fewshot": 0}},
    ],
    "experiment": {
        "name": "arc-easy-evaluation",
        "tags": {"environment": "testing", "model_family": "llama-3.1"},
    },
}  # fmt: skip
SEED_MULTI: dict[str, Any] = {
    "model": {"server": "vllm", "name": "meta-llama/llama-3.1-8b"},
    "benchmarks": [
        {"benchmark_id": "arc_easy", "provider_id": "lm_evaluation_harness",
         "config": {"num_fewshot": 0}},
        {"benchmark_id": "faithfulness", "provider_id": "ragas",
         "config": {"dataset_path": "./data/test.jsonl"}},
    ],
    "experiment": {
        "name": "comprehensive-evaluation",
        "tags": {"evaluation_type": "comprehensive", "model_version": "v1.0"},
    },
}  # fmt: skip
SEED_COLLECTION: dict[str, Any] = {
    "model": {"server": "vllm", "name": "meta-llama/llama-3.1-8b"},
    "experiment": {
        "name": "healthcare-certification",
        "tags": {
            "environment": "production",
            "compliance": "healthcare",
            "certification_level": "grade-a",
        },
    },
}


def quick(payload: dict[str, Any], **config: Any) -> dict[str, Any]:
    """The payload with its lm-eval benchmarks run by the quick provider instead (lm-eval's
    provider is another helper's; the payload is otherwise as the seed writes it)."""
    body = orjson.loads(orjson.dumps(payload))
    for item in body.get("benchmarks", []):
        if item["provider_id"] == "lm_evaluation_harness":
            item["provider_id"] = QUICK
            item["benchmark_id"] = "echo"
            item["config"] = {**item.get("config", {}), **config}
    return body


def as_(name: str) -> dict[str, str]:
    return basic(name, PW)


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def error(answer: Any, status: int, code: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    if code is not None:
        assert answer.json()["error_code"] == code, answer.text
    message: str = answer.json()["message"]
    return message


def wait_for(what: str, probe: Callable[[], Any], seconds: float = WAIT_S) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s", pytrace=False)
        time.sleep(0.05)


def finished(client: TestClient, job_id: str, who: dict[str, str] = AS_ADMIN) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = ok(client.get(f"{EV}/jobs/{job_id}", headers=who))
        return job if job["state"] not in ("pending", "running") else None

    found: dict[str, Any] = wait_for(f"job {job_id} ending", probe)
    return found


@pytest.fixture(scope="module", autouse=True)
def quick_provider() -> Iterator[None]:
    eval_quick.register()
    yield
    eval_quick.unregister()


@pytest.fixture(params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Auth on, no default permission; experiment ``lims`` (admin's): alice MANAGEs it, bob
    READs it, carol has nothing."""
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
            for name in USERS:
                ok(client.post("/api/v1/users", json={"username": name, "password": PW},
                               headers=AS_ADMIN))  # fmt: skip
            eid = ok(client.post(f"{MLFLOW}/experiments/create", json={"name": "lims"},
                                 headers=AS_ADMIN))["experiment_id"]  # fmt: skip
            for name, level in (("alice", "MANAGE"), ("bob", "READ")):
                ok(client.put(f"/api/v1/experiments/{eid}/permissions/{name}",
                              json={"permission": level}, headers=AS_ADMIN))  # fmt: skip
            yield client


def grant(client: TestClient, experiment_id: str, user: str, level: str) -> None:
    ok(client.put(f"/api/v1/experiments/{experiment_id}/permissions/{user}",
                  json={"permission": level}, headers=AS_ADMIN))  # fmt: skip


def run_of(client: TestClient, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(
        client.get(f"{MLFLOW}/runs/get", params={"run_id": run_id}, headers=AS_ADMIN)
    )["run"]
    return found


def tags_of(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def params_of(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("params", [])}


def metrics_of(run: dict[str, Any]) -> dict[str, float]:
    return {t["key"]: t["value"] for t in run["data"].get("metrics", [])}


def artifacts_of(client: TestClient, run_id: str, path: str = "") -> set[str]:
    found = ok(
        client.get(
            f"{MLFLOW}/artifacts/list",
            params={"run_id": run_id, "path": path},
            headers=AS_ADMIN,
        )
    )
    names: set[str] = set()
    for item in found.get("files", []):
        if item["is_dir"]:
            names |= artifacts_of(client, run_id, item["path"])
        else:
            names.add(item["path"])
    return names


# ------------------------------------------------------------------------------ the seed
def test_the_seed_single_benchmark_payload_is_recorded(app: TestClient) -> None:
    job = ok(app.post(EV, json=quick(SEED_SINGLE, score=0.8), headers=as_("alice")), 202)
    assert job["id"].startswith("ev-")
    assert job["state"] == "pending"
    assert job["experiment_name"] == "eval-hub_arc-easy-evaluation"
    assert job["experiment_url"].endswith(f"/#/experiments/{job['experiment_id']}")
    assert job["model"]["configuration"] == {"temperature": 0.1, "max_tokens": 512}
    assert "runner_token" not in job
    (bench,) = job["benchmarks"]
    assert bench["state"] == "pending"
    assert bench["run_id"]
    assert bench["primary_metric"] == "score"
    done = finished(app, job["id"])
    assert done["state"] == "completed"
    assert done["overall_score"] == pytest.approx(0.8)
    (bench,) = done["benchmarks"]
    assert bench["state"] == "completed"
    assert bench["primary_score"] == pytest.approx(0.8)
    assert bench["results"]["acc"] == pytest.approx(0.8)

    exp = ok(app.get(f"{MLFLOW}/experiments/get", params={"experiment_id": job["experiment_id"]},
                     headers=AS_ADMIN))["experiment"]  # fmt: skip
    etags = {t["key"]: t["value"] for t in exp["tags"]}
    assert etags["environment"] == "testing"
    assert etags["model_family"] == "llama-3.1"
    assert etags["model_name"] == "meta-llama/llama-3.1-8b"
    assert etags["model_server"] == "vllm"
    assert etags["job_id"] == job["id"]
    assert "meta-llama/llama-3.1-8b" in etags["mlflow.note.content"]

    parent = run_of(app, done["parent_run_id"])
    assert parent["info"]["status"] == "FINISHED"
    assert parent["info"]["run_name"] == f"eval-{job['id']}"
    ptags = tags_of(parent)
    assert ptags["cairn.eval.role"] == "request"
    assert ptags["cairn.eval.job_id"] == job["id"]
    assert ptags["environment"] == "testing"
    assert params_of(parent) == {
        "model.temperature": "0.1",
        "model.max_tokens": "512",
        "model_name": "meta-llama/llama-3.1-8b",
        "model_server": "vllm",
        "model_url": "",
        "benchmarks": "echo",
    }
    assert metrics_of(parent)["overall_score"] == pytest.approx(0.8)
    assert {"request.json", "logs/job.log"} <= artifacts_of(app, done["parent_run_id"])

    child = run_of(app, bench["run_id"])
    assert child["info"]["status"] == "FINISHED"
    assert child["info"]["run_name"] == "echo"
    ctags = tags_of(child)
    assert ctags["mlflow.parentRunId"] == done["parent_run_id"]
    assert ctags["cairn.eval.role"] == "benchmark"
    assert ctags["cairn.eval.benchmark_id"] == "echo"
    assert ctags["cairn.eval.provider_id"] == QUICK
    assert ctags["cairn.eval.primary_metric"] == "score"
    assert ctags["quick.tag"] == "yes"
    assert ctags["model_name"] == "meta-llama/llama-3.1-8b"
    assert params_of(child) == {
        "config.num_fewshot": "0",
        "config.score": "0.8",
        "quick.version": "1",
    }
    metrics = metrics_of(child)
    # lm-eval's "acc,none" is logged as "acc"; another filter is kept as a suffix
    assert metrics == pytest.approx(
        {"acc": 0.8, "acc_stderr": 0.01, "exact_match_strict-match": 0.8, "score": 0.8}
    )
    history = ok(app.get(f"{MLFLOW}/metrics/get-history",
                         params={"run_id": bench["run_id"], "metric_key": "acc"},
                         headers=AS_ADMIN))["metrics"]  # fmt: skip
    assert [m["step"] for m in history] == [0]
    assert artifacts_of(app, bench["run_id"]) == {
        "results.json", "samples.jsonl", "logs/benchmark.log",
    }  # fmt: skip
    logs = ok(app.get(f"{EV}/jobs/{job['id']}/logs", headers=AS_ADMIN))
    assert any("evaluating meta-llama" in x["line"] for x in logs["lines"])
    assert logs["lines"][-1]["line"] == "job completed"
    later = ok(app.get(f"{EV}/jobs/{job['id']}/logs", params={"after": logs["next"]},
                       headers=AS_ADMIN))  # fmt: skip
    assert later == {"lines": [], "next": logs["next"]}


def test_the_seed_multi_provider_payload_waits_for_its_ragas_runner(app: TestClient) -> None:
    job = ok(app.post(EV, json=quick(SEED_MULTI, score=0.6), headers=as_("alice")), 202)
    token = job["runner_token"]
    assert token.startswith("cairn-evr_")
    assert [b["provider_id"] for b in job["benchmarks"]] == [QUICK, "ragas"]

    def first_done() -> Any:
        found = ok(app.get(f"{EV}/jobs/{job['id']}", headers=as_("alice")))
        return found["benchmarks"][0]["state"] == "completed" and found

    running = wait_for("the in-Cairn benchmark", first_done)
    assert running["state"] == "running"
    assert running["benchmarks"][1]["state"] == "pending"
    runner = {"Authorization": f"Bearer {token}"}
    # the runner reads its job, reports progress, then the RAGAS result file
    assert ok(app.get(f"{EV}/jobs/{job['id']}", headers=runner))["id"] == job["id"]
    step = ok(app.post(f"{EV}/jobs/{job['id']}/events", headers=runner,
                       json={"benchmark_id": "faithfulness", "state": "running",
                             "phase": "scoring", "progress": 0.5,
                             "logs": ["ragas started"]}))  # fmt: skip
    assert step["benchmarks"][1]["state"] == "running"
    assert step["benchmarks"][1]["phase"] == "scoring"
    result = base64.b64encode(b'{"faithfulness": 0.9, "answer_relevancy": 0.7}').decode()
    extra = base64.b64encode(b"question,answer\nq,a\n").decode()
    done = ok(app.post(f"{EV}/jobs/{job['id']}/events", headers=runner,
                       json={"benchmark_index": 1, "state": "completed",
                             "result_file": {"name": "ragas.json", "content_base64": result},
                             "artifacts": {"data/predictions.csv": extra}}))  # fmt: skip
    assert done["state"] == "completed"
    assert done["benchmarks"][1]["primary_score"] == pytest.approx(0.9)
    assert done["overall_score"] == pytest.approx(0.75)
    ragas_run = done["benchmarks"][1]["run_id"]
    assert metrics_of(run_of(app, ragas_run)) == pytest.approx(
        {"faithfulness": 0.9, "answer_relevancy": 0.7}
    )
    assert {"ragas.json", "data/predictions.csv", "logs/benchmark.log"} <= artifacts_of(
        app, ragas_run
    )
    # a finished benchmark takes no more events
    message = error(app.post(f"{EV}/jobs/{job['id']}/events", headers=runner,
                             json={"benchmark_index": 1, "state": "running"}), 400)  # fmt: skip
    assert "completed" in message


def test_the_seed_collection_payload_runs_the_collection_named_like_its_experiment(
    app: TestClient,
) -> None:
    made = ok(app.post(f"{EV}/collections", headers=as_("alice"), json={
        "id": "healthcare-certification", "name": "Healthcare certification",
        "benchmarks": [
            {"benchmark_id": "echo", "provider_id": QUICK, "config": {"score": 0.5}, "weight": 3},
            {"benchmark_id": "echo", "provider_id": QUICK, "config": {"score": 1.0}},
        ]}), 201)  # fmt: skip
    assert made["shipped"] is False
    job = ok(app.post(EV, json=SEED_COLLECTION, headers=as_("alice")), 202)
    assert job["collection_id"] == "healthcare-certification"
    assert [b["weight"] for b in job["benchmarks"]] == [3.0, 1.0]
    done = finished(app, job["id"])
    assert done["state"] == "completed"
    assert done["overall_score"] == pytest.approx((0.5 * 3 + 1.0) / 4)
    assert done["tags"]["compliance"] == "healthcare"
    # a shipped collection by name, in eval-hub's {id} form
    hub = ok(app.post(f"{EV}/jobs", headers=as_("alice"), json={
        "model": {"name": "m1", "url": "http://127.0.0.1:9/v1"},
        "collection": {"id": "quick-suite"}}), 202)  # fmt: skip
    assert [b["config"]["score"] for b in hub["benchmarks"]] == [0.25, 0.75]
    assert finished(app, hub["id"])["state"] == "completed"


def test_the_evalhub_shape_with_weights_primary_scores_and_pass_criteria(
    app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_EVAL_EXPERIMENT_PREFIX", "ci")
    body = {
        "model": {"name": "my-model:v1.0", "url": "http://127.0.0.1:9/v1",
                  "parameters": {"temperature": 0}},
        "benchmarks": [
            {"id": "echo", "provider_id": QUICK, "parameters": {"score": 0.9}, "weight": 2,
             "primary_score": {"metric": "acc"}, "pass_criteria": {"threshold": 0.8}},
            {"id": "error_rate", "provider_id": QUICK, "parameters": {"score": 0.3},
             "pass_criteria": {"threshold": 0.2}},
        ],
        "experiment": {"name": "ci-eval-42", "tags": [{"key": "build_id", "value": "42"}]},
    }  # fmt: skip
    job = ok(app.post(f"{EV}/jobs", json=body, headers=as_("alice")), 202)
    assert job["shape"] == "evalhub"
    assert job["experiment_name"] == "ci_ci-eval-42"
    assert job["model"]["url"] == "http://127.0.0.1:9/v1"
    assert job["benchmarks"][1]["lower_is_better"] is True
    done = finished(app, job["id"])
    first, second = done["benchmarks"]
    assert first["primary_metric"] == "acc"
    assert first["passed"] is True
    assert second["primary_score"] == pytest.approx(0.3)
    assert second["passed"] is False
    assert done["passed"] is False
    assert done["overall_score"] == pytest.approx((0.9 * 2 + 0.3) / 3)
    parent = run_of(app, done["parent_run_id"])
    assert metrics_of(parent)["passed"] == 0.0
    assert tags_of(parent)["build_id"] == "42"


def test_no_experiment_name_makes_one_from_the_model_and_the_time(app: TestClient) -> None:
    body = {"model": {"name": "org/My Model!"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK}]}  # fmt: skip
    job = ok(app.post(EV, json=body, headers=as_("alice")), 202)
    assert job["experiment_name"].startswith("eval-hub_org_My_Model_")
    assert job["experiment_name"].endswith("Z")


def test_a_registered_model_is_resolved_and_linked(app: TestClient) -> None:
    ok(app.post(f"{MLFLOW}/registered-models/create", json={"name": "clf"}, headers=AS_ADMIN))
    run = ok(app.post(f"{MLFLOW}/runs/create", json={"experiment_id": "0"}, headers=AS_ADMIN))
    source = f"runs:/{run['run']['info']['run_id']}/model"
    for _ in range(2):
        ok(app.post(f"{MLFLOW}/model-versions/create",
                    json={"name": "clf", "source": source}, headers=AS_ADMIN))  # fmt: skip
    body = {"model": {"name": "models:/clf/latest"}, "experiment": {"name": "reg"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK}]}  # fmt: skip
    job = ok(app.post(EV, json=body, headers=AS_ADMIN), 202)
    assert job["model"]["registered_name"] == "clf"
    assert job["model"]["registered_version"] == 2
    done = finished(app, job["id"])
    tags = tags_of(run_of(app, done["parent_run_id"]))
    assert tags["cairn.eval.registered_model"] == "clf"
    assert tags["cairn.eval.registered_version"] == "2"
    # carol may not read the model: refused before anything is stored
    denied = error(app.post(EV, json=body, headers=as_("carol")), 403)
    assert "clf" in denied
    found = ok(app.get(f"{EV}/jobs", params={"model": "clf"}, headers=AS_ADMIN))["jobs"]
    assert [j["id"] for j in found] == [job["id"]]


def test_a_promotion_policy_can_require_a_passed_collection(app: TestClient) -> None:
    """Issue 17's gate: Production needs the version to have passed collection ``gate`` (a job
    of that collection that ran on this very version, completed, not failing its criteria)."""
    ok(app.post(f"{MLFLOW}/registered-models/create", json={"name": "gated"}, headers=AS_ADMIN))
    run = ok(app.post(f"{MLFLOW}/runs/create", json={"experiment_id": "0"}, headers=AS_ADMIN))
    source = f"runs:/{run['run']['info']['run_id']}/model"
    for _ in range(2):
        ok(app.post(f"{MLFLOW}/model-versions/create",
                    json={"name": "gated", "source": source}, headers=AS_ADMIN))  # fmt: skip
    ok(app.post(f"{EV}/collections", headers=AS_ADMIN, json={
        "id": "gate", "name": "Gate", "benchmarks": [
            {"benchmark_id": "echo", "provider_id": QUICK, "config": {"score": 0.9},
             "pass_criteria": {"threshold": 0.8}}]}), 201)  # fmt: skip
    policy = {"stages": ["Production"], "required_approvals": 1,
              "evidence": [{"kind": "evaluation", "key": "gate"}]}  # fmt: skip
    stored = ok(app.put("/api/v1/models/gated/promotion-policy", json=policy, headers=AS_ADMIN))
    assert stored["evidence"] == [{"kind": "evaluation", "key": "gate", "value": "passed"}]
    ask = "/api/v1/models/gated/versions/{}/requests"
    # alice manages the model (admins move without asking, so they are not the ones asking)
    ok(app.put("/api/v1/models/gated/permissions/alice", json={"permission": "MANAGE"},
               headers=AS_ADMIN))  # fmt: skip
    alice = as_("alice")

    # no job of the collection ran on version 2 yet: the request is refused, saying why
    refused = error(app.post(ask.format(2), json={"stage": "Production"}, headers=alice), 400)
    assert "evaluation collection gate passed" in refused
    assert "no evaluation job of collection gate ran on this version" in refused

    def run_gate(version: int) -> dict[str, Any]:
        body = {"model": {"name": f"models:/gated/{version}"}, "experiment": {"name": "gate"},
                "collection": "gate"}  # fmt: skip
        return finished(app, ok(app.post(EV, json=body, headers=AS_ADMIN), 202)["id"])

    # the collection passed on version 1 only: version 2 is still refused
    assert run_gate(1)["passed"] is True
    error(app.post(ask.format(2), json={"stage": "Production"}, headers=alice), 400)
    made = ok(app.post(ask.format(1), json={"stage": "Production"}, headers=alice), 201)
    checks = made["evidence"]
    detail = "its jobs of collection gate ended: completed, passed"
    assert checks == [{"check": "evaluation collection gate passed", "ok": True, "detail": detail}]

    # a failing run of the collection does not count as passing
    ok(app.put(f"{EV}/collections/gate", headers=AS_ADMIN, json={
        "name": "Gate", "benchmarks": [
            {"benchmark_id": "echo", "provider_id": QUICK, "config": {"score": 0.5},
             "pass_criteria": {"threshold": 0.8}}]}))  # fmt: skip
    failing = run_gate(2)
    assert failing["state"] == "completed"
    assert failing["passed"] is False
    refused = error(app.post(ask.format(2), json={"stage": "Production"}, headers=alice), 400)
    assert "ended: completed, failed" in refused
    # bad evidence is refused naming the field
    bad = {**policy, "evidence": [{"kind": "evaluation", "key": "gate", "value": "maybe"}]}
    assert "evidence[0].value" in error(
        app.put("/api/v1/models/gated/promotion-policy", json=bad, headers=AS_ADMIN), 400
    )


def test_an_alert_rule_watches_evaluation_metrics(app: TestClient) -> None:
    """Evaluation results are logged like any run's batch, so a threshold rule on the
    evaluation experiment fires on a benchmark run whose score is too low."""
    eid = ok(app.post(f"{MLFLOW}/experiments/create", json={"name": "eval-hub_watched"},
                      headers=AS_ADMIN))["experiment_id"]  # fmt: skip
    rule = {"name": "score low", "experiment_id": eid, "kind": "threshold", "metric": "score",
            "op": "<", "value": 0.5}  # fmt: skip
    ok(app.post("/api/v1/alerts/rules", json=rule, headers=AS_ADMIN), 201)
    body = {"model": {"name": "m"}, "experiment": {"name": "watched"},
            "benchmarks": [
                {"benchmark_id": "echo", "provider_id": QUICK, "config": {"score": 0.2}},
                {"benchmark_id": "echo", "provider_id": QUICK, "config": {"score": 0.9}},
            ]}  # fmt: skip
    done = finished(app, ok(app.post(EV, json=body, headers=AS_ADMIN), 202)["id"])
    assert done["experiment_id"] == eid
    low = done["benchmarks"][0]["run_id"]

    def firing() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ok(
            app.get("/api/v1/alerts", params={"state": "firing"}, headers=AS_ADMIN)
        )["alerts"]
        return found

    alerts = wait_for("the alert on the low score", firing)
    assert {a["subject_id"] for a in alerts} == {low}


# --------------------------------------------------------------------------- failures
def test_a_failed_benchmark_fails_its_run_and_leaves_the_others(app: TestClient) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "mixed"},
            "benchmarks": [
                {"benchmark_id": "echo", "provider_id": QUICK, "config": {"fail": True}},
                {"benchmark_id": "echo", "provider_id": QUICK, "config": {"score": 1}},
            ]}  # fmt: skip
    done = finished(app, ok(app.post(EV, json=body, headers=as_("alice")), 202)["id"])
    assert done["state"] == "partially_failed"
    bad, good = done["benchmarks"]
    assert bad["state"] == "failed"
    assert "asked to fail" in bad["error"]
    assert good["state"] == "completed"
    assert done["overall_score"] == pytest.approx(1.0)
    failed_run = run_of(app, bad["run_id"])
    assert failed_run["info"]["status"] == "FAILED"
    assert "asked to fail" in tags_of(failed_run)["cairn.eval.error"]
    assert run_of(app, done["parent_run_id"])["info"]["status"] == "FINISHED"
    everything_fails = {**body, "benchmarks": body["benchmarks"][:1]}
    alone = finished(app, ok(app.post(EV, json=everything_fails, headers=as_("alice")), 202)["id"])
    assert alone["state"] == "failed"
    assert alone["overall_score"] is None
    assert run_of(app, alone["parent_run_id"])["info"]["status"] == "FAILED"


def test_cancel_mid_run_then_hard_delete(app: TestClient) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "cancel"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK, "config": {"sleep": 30}},
                           {"benchmark_id": "echo", "provider_id": QUICK}]}  # fmt: skip
    job = ok(app.post(EV, json=body, headers=as_("alice")), 202)

    def running() -> bool:
        found = ok(app.get(f"{EV}/jobs/{job['id']}", headers=as_("alice")))
        return bool(found["benchmarks"][0]["state"] == "running")

    wait_for("the first benchmark starting", running)
    grant(app, job["experiment_id"], "bob", "READ")
    error(app.delete(f"{EV}/jobs/{job['id']}", headers=as_("bob")), 403, "PERMISSION_DENIED")
    cancelled = ok(app.delete(f"{EV}/jobs/{job['id']}", headers=as_("alice")))
    assert cancelled["state"] == "cancelled"

    def stopped() -> Any:
        found = ok(app.get(f"{EV}/jobs/{job['id']}", headers=as_("alice")))
        states = [b["state"] for b in found["benchmarks"]]
        return states == ["cancelled", "cancelled"] and found

    found = wait_for("the running benchmark stopping", stopped)
    assert found["state"] == "cancelled"
    for bench in found["benchmarks"]:
        assert run_of(app, bench["run_id"])["info"]["status"] == "KILLED"
    assert run_of(app, found["parent_run_id"])["info"]["status"] == "KILLED"
    again = ok(app.delete(f"{EV}/jobs/{job['id']}", headers=as_("alice")))
    assert again["state"] == "cancelled"  # a finished job is returned unchanged
    ok(app.delete(f"{EV}/jobs/{job['id']}", params={"hard_delete": "true"}, headers=as_("alice")))
    error(app.get(f"{EV}/jobs/{job['id']}", headers=as_("alice")), 404)
    # the runs stay
    assert run_of(app, found["parent_run_id"])["info"]["lifecycle_stage"] == "active"


# ------------------------------------------------------------------------------ listing
def test_listing_filters_pages_and_hides_what_the_caller_cannot_read(app: TestClient) -> None:
    ids = []
    for i in range(3):
        body = {"model": {"name": f"model-{i % 2}"}, "experiment": {"name": "lims-evals",
                "tags": {"team": "lims" if i else "other"}},
                "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK}]}  # fmt: skip
        ids.append(ok(app.post(EV, json=body, headers=as_("alice")), 202)["id"])
    for job_id in ids:
        finished(app, job_id)
    first = ok(app.get(f"{EV}/jobs", params={"max_results": 2}, headers=as_("alice")))
    assert [j["id"] for j in first["jobs"]] == ids[::-1][:2]
    rest = ok(app.get(f"{EV}/jobs", headers=as_("alice"),
                      params={"max_results": 2,
                              "page_token": first["next_page_token"]}))  # fmt: skip
    assert [j["id"] for j in rest["jobs"]] == ids[:1]
    assert rest["next_page_token"] is None
    by_tag = ok(app.get(f"{EV}/jobs", params={"tag": "team:lims"}, headers=as_("alice")))
    assert sorted(j["id"] for j in by_tag["jobs"]) == sorted(ids[1:])
    by_model = ok(app.get(f"{EV}/jobs", params={"model": "model-0"}, headers=as_("alice")))
    assert sorted(j["id"] for j in by_model["jobs"]) == sorted([ids[0], ids[2]])
    eid = first["jobs"][0]["experiment_id"]
    by_exp = ok(app.get(f"{EV}/jobs", params={"experiment_id": eid, "state": "completed"},
                        headers=as_("alice")))  # fmt: skip
    assert len(by_exp["jobs"]) == 3
    assert ok(app.get(f"{EV}/jobs", params={"state": "failed"}, headers=as_("alice")))["jobs"] == []
    # carol reads nothing of alice's experiment (alice created it: she MANAGEs it)
    assert ok(app.get(f"{EV}/jobs", headers=as_("carol")))["jobs"] == []
    error(app.get(f"{EV}/jobs/{ids[0]}", headers=as_("carol")), 404)
    error(app.get(f"{EV}/jobs", params={"state": "bogus"}, headers=as_("alice")), 400)
    error(app.get(f"{EV}/jobs", params={"tag": "nocolon"}, headers=as_("alice")), 400)
    error(app.get(f"{EV}/jobs", params={"page_token": "garbage"}, headers=as_("alice")), 400)
    message = error(app.get(f"{EV}/jobs", headers=as_("alice"),
                            params={"state": "completed",
                                    "page_token": first["next_page_token"]}), 400)  # fmt: skip
    assert "different query" in message


# ------------------------------------------------------------------------ runner tokens
def test_a_runner_token_opens_only_its_own_job(app: TestClient) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "ext"},
            "benchmarks": [{"benchmark_id": "anything-goes",
                            "provider_id": "external"}]}  # fmt: skip
    one = ok(app.post(EV, json=body, headers=as_("alice")), 202)
    two = ok(app.post(EV, json=body, headers=as_("alice")), 202)
    assert one["runner_token"] != two["runner_token"]
    runner = {"Authorization": f"Bearer {one['runner_token']}"}
    ok(app.get(f"{EV}/jobs/{one['id']}", headers=runner))
    ok(app.get(f"{EV}/jobs/{one['id']}/logs", headers=runner))
    assert "runner_token" not in ok(app.get(f"{EV}/jobs/{one['id']}", headers=runner))
    error(app.get(f"{EV}/jobs/{two['id']}", headers=runner), 401, "UNAUTHENTICATED")
    event = {"benchmark_index": 0, "state": "running"}
    error(app.post(f"{EV}/jobs/{two['id']}/events", json=event, headers=runner), 401)
    # nothing else opens to it: listing, cancelling, other APIs
    error(app.get(f"{EV}/jobs", headers=runner), 401)
    error(app.delete(f"{EV}/jobs/{one['id']}", headers=runner), 401)
    error(app.get(f"{MLFLOW}/experiments/search", headers=runner), 401)
    error(app.get(f"{EV}/jobs/{one['id']}",
                  headers={"Authorization": "Bearer cairn-evr_forged"}), 401)  # fmt: skip
    # users: MANAGE on the experiment may post events, READ may not, others see nothing
    error(app.post(f"{EV}/jobs/{one['id']}/events", json=event, headers=as_("carol")), 404)
    ok(app.post(f"{EV}/jobs/{one['id']}/events", json=event, headers=as_("alice")))
    done = ok(app.post(f"{EV}/jobs/{one['id']}/events", headers=runner, json={
        "benchmark_index": 0, "state": "failed", "error": "runner crashed",
        "metrics": {"partial": 0.1}}))  # fmt: skip
    assert done["state"] == "failed"
    assert done["benchmarks"][0]["error"] == "runner crashed"
    assert metrics_of(run_of(app, done["benchmarks"][0]["run_id"])) == {"partial": 0.1}
    # the audit trail names the runner as the actor of what it changed
    finished_by = {"entity_id": one["id"], "action": "evaluation_job.finish"}
    trail = ok(app.get("/api/v1/audit", params=finished_by, headers=AS_ADMIN))
    (finish,) = trail["events"]
    assert finish["actor"] == f"eval-runner:{one['id']}"
    assert finish["actor_kind"] == "token"


def test_events_refuse_bad_reports(app: TestClient) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "ext2"},
            "benchmarks": [
                {"benchmark_id": "b", "provider_id": "external"},
                {"benchmark_id": "echo", "provider_id": QUICK, "config": {"sleep": 5}},
            ]}  # fmt: skip
    job = ok(app.post(EV, json=body, headers=as_("alice")), 202)
    runner = {"Authorization": f"Bearer {job['runner_token']}"}
    url = f"{EV}/jobs/{job['id']}/events"

    def refused(report: dict[str, Any], field: str) -> None:
        message = error(app.post(url, json=report, headers=runner), 400)
        assert field in message, message

    refused({"state": "completed"}, "benchmark_index")
    refused({"benchmark_index": 7}, "benchmark_index")
    refused({"benchmark_index": 1, "state": "completed"}, "benchmark_index")  # run by Cairn
    refused({"benchmark_id": "nope"}, "benchmark_id")
    refused({"benchmark_index": 0, "state": "pending"}, "state")
    refused({"benchmark_index": 0, "progress": 3}, "progress")
    refused({"benchmark_index": 0, "artifacts": {"../../etc/passwd": "eA=="}}, "artifacts")
    refused({"benchmark_index": 0, "artifacts": {"/abs": "eA=="}}, "artifacts")
    refused({"benchmark_index": 0, "artifacts": {"ok.txt": "not base64!"}}, "artifacts")
    refused({"benchmark_index": 0, "result_file": {"name": "../x.json", "content_base64": "e30="}},
            "result_file.name")  # fmt: skip
    refused({"benchmark_index": 0, "result_file": {"name": "x.bin", "content_base64": "e30="}},
            "result_file")  # fmt: skip
    refused({"benchmark_index": 0, "result_file": {"name": "x.json", "content_base64": "bm9w"}},
            "result_file")  # fmt: skip
    error(app.post(url, json={"benchmark_index": "zero"}, headers=runner), 400)
    ok(app.delete(f"{EV}/jobs/{job['id']}", headers=as_("alice")))


# ----------------------------------------------------------------------------- bad input
BAD_CHANGES: list[tuple[dict[str, Any], str]] = [
        ({"benchmarks": [{"benchmark_id": "x", "provider_id": "nope"}]},
         "benchmarks[0].provider_id"),
        ({"benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK},
                         {"benchmark_id": "y", "provider_id": "garak2"}]},
         "benchmarks[1].provider_id"),
        ({"benchmarks": [{"benchmark_id": "missing", "provider_id": QUICK}]},
         "benchmarks[0].benchmark_id"),
        ({"benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK,
                          "config": {"score": "high"}}]}, "config.score"),
        ({"benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK, "weight": -1}]},
         "benchmarks[0].weight"),
        ({"benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK,
                          "config": {"big": "x" * 70_000}}]}, "benchmarks[0].config"),
        ({"benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK}] * 101}, "benchmarks"),
        ({"benchmarks": "echo"}, "benchmarks"),
        ({"benchmarks": []}, "benchmarks"),
        ({"collection": "no-such-collection", "benchmarks": None}, "collection"),
        ({"model": {"name": "models:/nope/1"}}, "model.name"),
        ({"model": {"name": "models:/nope"}}, "model.name"),
        ({"model": {"server": "vllm"}}, "model.name"),
        ({"model": {"name": "m\u0000x"}}, "model.name"),
        ({"model": "m"}, "model"),
        ({"experiment": {"name": "bad name!"}}, "experiment.name"),
        ({"experiment": {"name": "../../etc"}}, "experiment.name"),
        ({"experiment": {"name": "x" * 300}}, "experiment.name"),
        ({"experiment": {"name": "ok", "tags": {"mlflow.user": "x"}}}, "experiment.tags"),
        ({"experiment": {"name": "ok", "tags": {"k": {"nested": 1}}}}, "experiment.tags"),
        ({"experiment": {"name": "ok", "tags": {f"k{i}": "v" for i in range(101)}}},
         "experiment.tags"),
]  # fmt: skip


def test_bad_seed_payloads_name_their_field(app: TestClient) -> None:
    for change, field in BAD_CHANGES:
        body = {"model": {"name": "m"}, "experiment": {"name": "bad-input"},
                "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK}]}  # fmt: skip
        body.update(change)
        body = {k: val for k, val in body.items() if val is not None}
        message = error(app.post(EV, json=body, headers=as_("alice")), 400)
        assert field in message, (change, message)
    assert ok(app.get(f"{EV}/jobs", headers=AS_ADMIN))["jobs"] == []


def test_unknown_provider_lists_the_known_ones_and_bad_json_is_400(app: TestClient) -> None:
    body = {"model": {"name": "m"}, "benchmarks": [{"benchmark_id": "x", "provider_id": "rag"}]}
    message = error(app.post(EV, json=body, headers=as_("alice")), 400)
    assert "external" in message
    assert "ragas" in message
    hub = {"model": {"name": "m"}, "benchmarks": [{"id": "x", "provider_id": "external"}],
           "experiment": {"tags": [{"key": "k"}]}}  # fmt: skip
    assert "experiment.tags" in error(app.post(f"{EV}/jobs", json=hub, headers=as_("alice")), 400)
    raw = app.post(EV, content=b"{not json", headers={**as_("alice"), "content-type":
                                                      "application/json"})  # fmt: skip
    assert raw.status_code == 400
    error(app.get(f"{EV}/jobs/ev-00000000000000000000", headers=AS_ADMIN), 404)
    error(app.get(f"{EV}/jobs/not-an-id", headers=AS_ADMIN), 404)
    error(app.post(EV, json=body), 401)


# -------------------------------------------------------------- providers, collections
def test_providers_and_collections(app: TestClient) -> None:
    listed = ok(app.get(f"{EV}/providers", headers=as_("carol")))["providers"]
    ids = {p["id"] for p in listed}
    assert {"external", "ragas", "garak", QUICK} <= ids
    quick_info = ok(app.get(f"{EV}/providers/{QUICK}", headers=as_("carol")))
    echo = quick_info["benchmarks"][0]
    assert echo["primary_metric"] == "score"
    assert echo["parameters"]["score"] == {
        "type": "float", "description": "The score to report", "default": 0.5, "required": False,
    }  # fmt: skip
    assert ok(app.get(f"{EV}/providers/external", headers=as_("carol")))["runs_in_cairn"] is False
    error(app.get(f"{EV}/providers/nope", headers=as_("carol")), 404)

    collections = ok(app.get(f"{EV}/collections", headers=as_("bob")))["collections"]
    shipped = next(c for c in collections if c["id"] == "quick-suite")
    assert shipped["shipped"] is True
    assert len(shipped["benchmarks"]) == 2
    spec = {"id": "mine", "name": "Mine", "description": "d",
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK}]}  # fmt: skip
    ok(app.post(f"{EV}/collections", json=spec, headers=as_("bob")), 201)
    error(app.post(f"{EV}/collections", json=spec, headers=as_("bob")), 400)
    error(app.post(f"{EV}/collections", json={**spec, "id": "quick-suite"},
                   headers=as_("bob")), 400)  # fmt: skip
    changed = ok(app.put(f"{EV}/collections/mine", headers=as_("bob"),
                         json={**spec, "name": "Renamed"}))  # fmt: skip
    assert changed["name"] == "Renamed"
    assert ok(app.get(f"{EV}/collections/mine", headers=as_("carol")))["name"] == "Renamed"
    error(app.put(f"{EV}/collections/mine", json=spec, headers=as_("carol")), 403)
    error(app.delete(f"{EV}/collections/quick-suite", headers=AS_ADMIN), 400, "INVALID_STATE")
    for bad, field in (
        ({**spec, "id": "bad id"}, "id"),
        ({**spec, "id": "x2", "benchmarks": []}, "benchmarks"),
        ({**spec, "id": "x3", "benchmarks": [{"benchmark_id": "e", "provider_id": "nope"}]},
         "benchmarks[0].provider_id"),
    ):  # fmt: skip
        assert field in error(app.post(f"{EV}/collections", json=bad, headers=as_("bob")), 400)
    ok(app.delete(f"{EV}/collections/mine", headers=as_("bob")))
    error(app.get(f"{EV}/collections/mine", headers=as_("bob")), 404)


def test_the_stream_sends_the_job_until_it_ends(app: TestClient) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "sse"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK,
                            "config": {"sleep": 4}}]}  # fmt: skip
    job = ok(app.post(EV, json=body, headers=as_("alice")), 202)
    grant(app, job["experiment_id"], "bob", "READ")
    states: list[str] = []
    with app.stream("GET", f"{EV}/jobs/{job['id']}/stream", headers=as_("bob")) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                assert event == "job"
                states.append(orjson.loads(line[len("data: ") :])["state"])
            if len(states) > 500:
                break
    assert states[-1] == "completed"
    assert len(states) >= 2
    assert states[0] in ("pending", "running")
    error(app.get(f"{EV}/jobs/{job['id']}/stream", headers=as_("carol")), 404)


# ------------------------------------------------------------- engine side, no auth
@pytest.fixture(params=BACKENDS)
def quiet(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Access control off and no worker in the server: the test plays the engine."""
    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "home"))
    with fresh_database(request.param, tmp_path) as uri:
        settings = Settings(
            backend_store_uri=uri, artifacts_destination=str(tmp_path / "art"), run_jobs=False
        )
        with TestClient(create_app(settings)) as client:
            yield client


def test_a_benchmark_whose_attempts_ran_out_ends_failed_not_running(quiet: TestClient) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "dying"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK}]}  # fmt: skip
    job = ok(quiet.post(EV, json=body), 202)
    state = root_app(quiet.app).state
    db, service = state.db, state.evaluations
    key = f"eval:{job['id']}:0"
    engine_id = db.read(lambda c: job_store.find_unfinished(c, KIND, key))
    assert engine_id is not None
    # a worker takes the benchmark and dies, every attempt: the reaper re-queues, then fails it
    for _ in range(MAX_ATTEMPTS):
        taken = db.write(lambda c: job_store.claim(c, engine_id, "dead-worker", 1))
        assert taken is not None
        found = service.find(job["id"])
        service._start(found, found.benchmarks[0])  # what the handler does first
        time.sleep(0.01)
        db.write(job_store.reap)
    assert db.read(lambda c: job_store.get(c, engine_id)).state == "failed"
    assert ok(quiet.get(f"{EV}/jobs/{job['id']}"))["state"] == "running"
    assert service.reconcile() == [job["id"]]
    done = ok(quiet.get(f"{EV}/jobs/{job['id']}"))
    assert done["state"] == "failed"
    assert "lease expired" in done["benchmarks"][0]["error"]
    assert run_of(quiet, done["benchmarks"][0]["run_id"])["info"]["status"] == "FAILED"
    assert run_of(quiet, done["parent_run_id"])["info"]["status"] == "FAILED"
    assert service.reconcile() == []


def test_the_handler_runs_a_benchmark_once_and_a_second_run_changes_nothing(
    quiet: TestClient,
) -> None:
    body = {"model": {"name": "m"}, "experiment": {"name": "twice"},
            "benchmarks": [{"benchmark_id": "echo", "provider_id": QUICK,
                            "config": {"score": 0.3}}]}  # fmt: skip
    job = ok(quiet.post(EV, json=body), 202)
    state = root_app(quiet.app).state
    service = state.evaluations
    never = lambda: False  # noqa: E731
    assert service.run_benchmark(job["id"], 0, never) == {"state": "completed"}
    first = ok(quiet.get(f"{EV}/jobs/{job['id']}"))
    assert service.run_benchmark(job["id"], 0, never) == {"state": "completed"}
    assert ok(quiet.get(f"{EV}/jobs/{job['id']}")) == first
    assert first["state"] == "completed"
    # the change log holds the job's life, and webhooks see its end
    events = state.db.read(
        lambda c: event_store.search(c, EventQuery(entity_type="evaluation_job", limit=50))
    )
    actions = [e.action for e in reversed(events)]
    assert actions == [
        "evaluation_job.create", "evaluation_job.benchmark", "evaluation_job.start",
        "evaluation_job.benchmark", "evaluation_job.finish",
    ]  # fmt: skip
    translated = translate(events[0])
    assert translated is not None
    assert translated.event == ("evaluation_job", "completed")
    assert translated.data["job_id"] == job["id"]
    assert translated.data["overall_score"] == pytest.approx(0.3)
    # the runner token is stored as a digest, never as itself
    external = {**body, "benchmarks": [{"benchmark_id": "b", "provider_id": "external"}]}
    made = ok(quiet.post(EV, json=external), 202)
    stored = state.db.read(lambda c: eval_store.token_hash(c, made["id"]))
    assert stored == digest(made["runner_token"])
    assert made["runner_token"] not in stored
