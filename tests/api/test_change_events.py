"""Every tracking change over the wire writes exactly one change event, with its actor, its
experiment and what changed; a change that fails writes none; reads write nothing.

Events are read straight from the log (:func:`cairn.store.events.search`) on the server's own
database, on SQLite and PostgreSQL. Only the tracking entities are looked at, so events of
other kinds (users, grants) that the same requests may cause do not blur the counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.entities.events import ActorKind, ChangeEvent, EventQuery
from cairn.events.service import AuditService
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store import events as event_store
from cairn.store.db import Database
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts"
TRACKED = ("experiment", "run", "artifact", "dataset", "logged_model")


class Log:
    """The tracking events written since the last look."""

    def __init__(self, client: TestClient):
        self.db: Database = root_app(client.app).state.db
        self.mark = self.db.read(event_store.head)[0]

    def new(self) -> list[ChangeEvent]:
        query = EventQuery(after_id=self.mark, ascending=True, limit=10_000)
        found = self.db.read(lambda c: event_store.search(c, query))
        if found:
            self.mark = found[-1].id
        return [e for e in found if e.entity_type in TRACKED]

    def one(self, action: str, entity_id: str | None = None) -> ChangeEvent:
        """The one new event, which must be ``action`` (on ``entity_id``)."""
        found = self.new()
        assert [e.action for e in found] == [action], [e.to_json() for e in found]
        event = found[0]
        if entity_id is not None:
            assert event.entity_id == entity_id, event
        return event

    def none(self) -> None:
        found = self.new()
        assert found == [], [e.to_json() for e in found]


def ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def refused(resp: Any, status: int) -> None:
    assert resp.status_code == status, resp.text


def local(event: ChangeEvent) -> None:
    assert (event.actor, event.actor_kind) == ("local", ActorKind.USER), event
    assert event.request_id, event


def test_experiment_changes(any_client: TestClient) -> None:
    client, log = any_client, Log(any_client)
    body = {"name": "exp-a", "tags": [{"key": "team", "value": "red"}]}
    eid = ok(client.post(f"{API}/experiments/create", json=body))["experiment_id"]
    event = log.one("experiment.create", eid)
    local(event)
    assert event.entity_type == "experiment"
    assert event.experiment_id == eid
    assert event.after is not None
    assert event.after["name"] == "exp-a"
    assert event.after["tags"] == {"team": "red"}

    ok(client.post(f"{API}/experiments/update", json={"experiment_id": eid, "new_name": "exp-b"}))
    event = log.one("experiment.rename", eid)
    local(event)
    assert (event.before, event.after) == ({"name": "exp-a"}, {"name": "exp-b"})
    assert event.experiment_id == eid

    tag = {"experiment_id": eid, "key": "team", "value": "blue"}
    ok(client.post(f"{API}/experiments/set-experiment-tag", json=tag))
    event = log.one("experiment.set_tag", eid)
    assert (event.before, event.after) == ({"tags": {"team": "red"}}, {"tags": {"team": "blue"}})
    ok(client.post(f"{API}/experiments/set-experiment-tag", json={**tag, "key": "new"}))
    event = log.one("experiment.set_tag", eid)
    assert (event.before, event.after) == (None, {"tags": {"new": "blue"}})

    ok(
        client.post(
            f"{API}/experiments/delete-experiment-tag", json={"experiment_id": eid, "key": "team"}
        )
    )
    event = log.one("experiment.delete_tag", eid)
    assert (event.before, event.after) == ({"tags": {"team": "blue"}}, None)

    run_id = ok(client.post(f"{API}/runs/create", json={"experiment_id": eid}))["run"]["info"][
        "run_id"
    ]
    log.one("run.create", run_id)
    ok(client.post(f"{API}/experiments/delete", json={"experiment_id": eid}))
    event = log.one("experiment.delete", eid)
    assert event.before == {"lifecycle_stage": "active"}
    assert event.after == {"lifecycle_stage": "deleted", "runs": 1}
    ok(client.post(f"{API}/experiments/restore", json={"experiment_id": eid}))
    event = log.one("experiment.restore", eid)
    assert event.before == {"lifecycle_stage": "deleted"}
    assert event.after == {"lifecycle_stage": "active", "runs": 1}

    # failures write nothing
    other = ok(client.post(f"{API}/experiments/create", json={"name": "other"}))["experiment_id"]
    log.one("experiment.create", other)
    refused(client.post(f"{API}/experiments/create", json={"name": "other"}), 400)
    clash = {"experiment_id": eid, "new_name": "other"}
    refused(client.post(f"{API}/experiments/update", json=clash), 400)
    gone = {"experiment_id": eid, "key": "never"}
    refused(client.post(f"{API}/experiments/delete-experiment-tag", json=gone), 404)
    refused(client.post(f"{API}/experiments/restore", json={"experiment_id": eid}), 400)
    refused(client.post(f"{API}/experiments/delete", json={"experiment_id": "0"}), 400)
    # reads write nothing
    ok(client.get(f"{API}/experiments/get", params={"experiment_id": eid}))
    ok(client.post(f"{API}/experiments/search", json={"max_results": 10}))
    log.none()


def _run(client: TestClient, log: Log, name: str = "exp") -> tuple[str, str]:
    eid = ok(client.post(f"{API}/experiments/create", json={"name": name}))["experiment_id"]
    body = {"experiment_id": eid, "user_id": "claimed-user", "run_name": "first"}
    run_id = ok(client.post(f"{API}/runs/create", json=body))["run"]["info"]["run_id"]
    assert [e.action for e in log.new()] == ["experiment.create", "run.create"]
    return eid, run_id


def test_run_changes_name_their_route(any_client: TestClient) -> None:
    client = any_client
    log = Log(client)
    eid, run_id = _run(client, log)

    def run_event(action: str) -> ChangeEvent:
        event = log.one(action, run_id)
        local(event)
        assert event.entity_type == "run"
        assert event.experiment_id == eid
        assert event.claimed_user == "claimed-user"
        return event

    ok(
        client.post(
            f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.1"}
        )
    )
    assert run_event("run.log_param").after == {"params": {"lr": "0.1"}}
    metric = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 3}
    ok(client.post(f"{API}/runs/log-metric", json=metric))
    event = run_event("run.log_metric")
    assert event.after == {"metrics": {"keys": ["loss"], "count": 1, "steps": [3, 3]}}
    ok(client.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": "v"}))
    assert run_event("run.set_tag").after == {"tags": {"k": "v"}}
    ok(client.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": "w"}))
    event = run_event("run.set_tag")
    assert (event.before, event.after) == ({"tags": {"k": "v"}}, {"tags": {"k": "w"}})

    points = [{"key": "acc", "value": i / 10, "timestamp": i, "step": i} for i in range(5)] + [
        {"key": "loss", "value": 1.0, "timestamp": 9, "step": 7}
    ]
    batch = {
        "run_id": run_id,
        "metrics": points,
        "params": [{"key": "depth", "value": "4"}],
        "tags": [{"key": "stage", "value": "train"}],
    }
    ok(client.post(f"{API}/runs/log-batch", json=batch))
    event = run_event("run.log_batch")
    assert event.after == {
        "metrics": {"keys": ["acc", "loss"], "count": 6, "steps": [0, 7]},
        "params": {"depth": "4"},
        "tags": {"stage": "train"},
    }

    # renaming, either way, shows the name before and after
    ok(client.post(f"{API}/runs/update", json={"run_id": run_id, "run_name": "second"}))
    event = run_event("run.update")
    assert (event.before, event.after) == ({"name": "first"}, {"name": "second"})
    rename = {"run_id": run_id, "key": "mlflow.runName", "value": "third"}
    ok(client.post(f"{API}/runs/set-tag", json=rename))
    event = run_event("run.set_tag")
    assert event.before == {"name": "second", "tags": {"mlflow.runName": "second"}}
    assert event.after == {"name": "third", "tags": {"mlflow.runName": "third"}}

    end = {"run_id": run_id, "status": "FINISHED", "end_time": 99}
    ok(client.post(f"{API}/runs/update", json=end))
    event = run_event("run.update")
    assert event.before == {"status": "RUNNING", "end_time": None}
    assert event.after == {"status": "FINISHED", "end_time": 99}
    ok(client.post(f"{API}/runs/update", json=end))  # nothing changes: nothing recorded
    log.none()

    ok(client.post(f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "k"}))
    assert run_event("run.delete_tag").before == {"tags": {"k": "w"}}
    ok(client.post(f"{API}/runs/delete", json={"run_id": run_id}))
    assert run_event("run.delete").after == {"lifecycle_stage": "deleted"}
    ok(client.post(f"{API}/runs/restore", json={"run_id": run_id}))
    assert run_event("run.restore").after == {"lifecycle_stage": "active"}

    # failures write nothing
    changed = {"run_id": run_id, "key": "lr", "value": "0.2"}
    refused(client.post(f"{API}/runs/log-parameter", json=changed), 400)
    refused(client.post(f"{API}/runs/log-batch", json={**batch, "params": [changed]}), 400)
    refused(client.post(f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "nope"}), 404)
    ok(client.post(f"{API}/runs/delete", json={"run_id": run_id}))
    run_event("run.delete")
    refused(client.post(f"{API}/runs/log-metric", json=metric), 400)
    refused(
        client.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "a", "value": "b"}), 400
    )
    refused(client.post(f"{API}/runs/update", json=end), 400)
    # reads write nothing
    ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))
    ok(client.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "acc"}))
    ok(client.post(f"{API}/runs/search", json={"experiment_ids": [eid], "run_view_type": "ALL"}))
    log.none()


def test_dataset_inputs_and_model_outputs(any_client: TestClient) -> None:
    client = any_client
    log = Log(client)
    eid, run_id = _run(client, log)
    dataset = {"name": "iris", "digest": "d1", "source_type": "local", "source": "/data/iris"}
    body = {
        "run_id": run_id,
        "datasets": [
            {"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "train"}]},
            {"dataset": {**dataset, "name": "wine", "digest": "d2"}, "tags": []},
        ],
    }
    ok(client.post(f"{API}/runs/log-inputs", json=body))
    event = log.one("run.log_inputs", run_id)
    local(event)
    assert event.experiment_id == eid
    assert event.after == {
        "datasets": [
            {"name": "iris", "digest": "d1", "context": "train"},
            {"name": "wine", "digest": "d2", "context": None},
        ]
    }
    ok(client.get("/api/v1/datasets", params={"experiment_id": eid}))
    refused(client.post(f"{API}/runs/log-inputs", json={**body, "run_id": "f" * 32}), 404)
    log.none()

    model_json = json.dumps(
        {
            "run_id": run_id,
            "artifact_path": "model",
            "utc_time_created": "2026-01-01 00:00:00.000000",
            "flavors": {"python_function": {"loader_module": "x"}},
        }
    )
    ok(client.post(f"{API}/runs/log-model", json={"run_id": run_id, "model_json": model_json}))
    event = log.one("run.log_model", run_id)
    assert event.after is not None
    assert event.after["model"]["artifact_path"] == "model"
    refused(client.post(f"{API}/runs/log-model", json={"run_id": run_id, "model_json": "{"}), 400)
    log.none()


def test_logged_model_changes(any_client: TestClient) -> None:
    client = any_client
    log = Log(client)
    eid, run_id = _run(client, log)
    created = {
        "experiment_id": eid,
        "name": "net",
        "source_run_id": run_id,
        "params": [{"key": "alpha", "value": "0.5"}],
        "tags": [{"key": "t", "value": "1"}],
    }
    model_id = ok(client.post(f"{API}/logged-models", json=created))["model"]["info"]["model_id"]
    event = log.one("logged_model.create", model_id)
    local(event)
    assert event.entity_type == "logged_model"
    assert event.experiment_id == eid
    assert event.after is not None
    assert event.after["params"] == {"alpha": "0.5"}
    assert event.after["tags"] == {"t": "1"}
    assert event.after["status"] == "LOGGED_MODEL_PENDING"

    outputs = {"run_id": run_id, "models": [{"model_id": model_id, "step": 2}]}
    ok(client.post(f"{API}/runs/outputs", json=outputs))
    event = log.one("run.log_outputs", run_id)
    assert event.after == {"models": [{"model_id": model_id, "step": 2}]}

    metric = {"run_id": run_id, "key": "acc", "value": 0.9, "timestamp": 7, "step": 1}
    ok(client.post(f"{API}/runs/log-metric", json={**metric, "model_id": model_id}))
    event = log.one("run.log_metric", run_id)  # one event: the run's, naming the model
    assert event.after is not None
    assert event.after["model_metrics"] == {"models": [model_id], "count": 1}

    model = f"{API}/logged-models/{model_id}"
    ok(client.post(f"{model}/params", json={"params": [{"key": "beta", "value": "2"}]}))
    assert log.one("logged_model.log_params", model_id).after == {"params": {"beta": "2"}}
    ok(client.post(f"{model}/params", json={"params": [{"key": "beta", "value": "2"}]}))
    log.none()  # the same value again changes nothing
    ok(client.patch(f"{model}/tags", json={"tags": [{"key": "t", "value": "2"}]}))
    event = log.one("logged_model.set_tags", model_id)
    assert (event.before, event.after) == ({"tags": {"t": "1"}}, {"tags": {"t": "2"}})
    ok(client.delete(f"{model}/tags/t"))
    assert log.one("logged_model.delete_tag", model_id).before == {"tags": {"t": "2"}}
    ok(client.patch(model, json={"model_id": model_id, "status": "LOGGED_MODEL_READY"}))
    event = log.one("logged_model.finalize", model_id)
    assert event.before == {"status": "LOGGED_MODEL_PENDING"}
    assert event.after == {"status": "LOGGED_MODEL_READY"}

    # failures write nothing
    bad = {"params": [{"key": "beta", "value": "3"}]}
    refused(client.post(f"{model}/params", json=bad), 400)
    refused(client.delete(f"{model}/tags/never"), 404)
    refused(client.patch(model, json={"model_id": model_id, "status": "LOGGED_MODEL_PENDING"}), 400)
    ok(client.get(model))
    log.none()

    ok(client.delete(model))
    event = log.one("logged_model.delete", model_id)
    assert event.after == {"lifecycle_stage": "deleted"}
    refused(client.delete(model), 404)
    log.none()


def test_artifact_writes_and_deletes(any_client: TestClient) -> None:
    client = any_client
    log = Log(client)
    eid, run_id = _run(client, log)
    path = f"{eid}/{run_id}/artifacts/dir/notes.txt"
    ok(client.put(f"{ARTIFACTS}/artifacts/{path}", content=b"12345"))
    event = log.one("artifact.write", path)
    local(event)
    assert event.entity_type == "artifact"
    assert event.experiment_id == eid
    assert event.after == {"size": 5, "run_id": run_id}
    assert event.claimed_user == "claimed-user"

    # downloads and listings write nothing
    assert client.get(f"{ARTIFACTS}/artifacts/{path}").content == b"12345"
    ok(client.get(f"{ARTIFACTS}/artifacts", params={"path": f"{eid}/{run_id}/artifacts"}))
    ok(client.get(f"{API}/artifacts/list", params={"run_id": run_id}))
    assert client.get("/get-artifact", params={"run_uuid": run_id, "path": "dir/notes.txt"}).content
    log.none()

    # a multipart upload is one write, when it completes
    folder = f"{eid}/{run_id}/artifacts/big"
    created = ok(
        client.post(f"{ARTIFACTS}/mpu/create/{folder}", json={"path": "/tmp/w.bin", "num_parts": 2})
    )
    etags = []
    for credential, data in zip(created["credentials"], (b"a" * 10, b"b" * 7), strict=True):
        url = credential["url"].split("://", 1)[1].split("/", 1)[1]
        put = client.put(f"/{url}", content=data)
        assert put.status_code == 200, put.text
        etags.append({"part_number": credential["part_number"], "etag": put.headers["ETag"]})
    log.none()
    done = {"path": "/tmp/w.bin", "upload_id": created["upload_id"], "parts": etags}
    ok(client.post(f"{ARTIFACTS}/mpu/complete/{folder}", json=done))
    event = log.one("artifact.write", f"{folder}/w.bin")
    assert event.after == {"size": 17, "run_id": run_id}

    # outside any run: the experiment when the path names one, else nothing
    ok(client.put(f"{ARTIFACTS}/artifacts/{eid}/loose.txt", content=b"x"))
    event = log.one("artifact.write", f"{eid}/loose.txt")
    assert (event.experiment_id, event.after) == (eid, {"size": 1})
    ok(client.put(f"{ARTIFACTS}/artifacts/elsewhere/file.txt", content=b"xy"))
    event = log.one("artifact.write", "elsewhere/file.txt")
    assert (event.experiment_id, event.after) == (None, {"size": 2})
    long_name = "/".join(["segment-" + "x" * 50] * 12)
    ok(client.put(f"{ARTIFACTS}/artifacts/{eid}/{long_name}", content=b"z"))
    event = log.one("artifact.write")
    assert len(event.entity_id) == 512
    assert event.after is not None
    assert event.after["path"] == f"{eid}/{long_name}"

    ok(client.delete(f"{ARTIFACTS}/artifacts/{eid}/{run_id}/artifacts/dir"))
    event = log.one("artifact.delete", f"{eid}/{run_id}/artifacts/dir")
    assert (event.before, event.after) == ({"files": 1}, {"run_id": run_id})
    assert event.experiment_id == eid
    ok(client.delete(f"{ARTIFACTS}/artifacts/{eid}/{run_id}/artifacts/dir"))
    log.none()  # nothing was there: nothing changed


# -------------------------------------------------------------------- with access control
ADMIN = ("admin", "admin-password-1")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-123")


@pytest.fixture(params=BACKENDS)
def auth_client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN[0])
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN[1])

    def run(uri: str) -> Iterator[TestClient]:
        with TestClient(create_app(Settings(backend_store_uri=uri, auth=True))) as client:
            for name, password in (ALICE, BOB):
                body = {"username": name, "password": password}
                ok(client.post(f"{API}/users/create", json=body, headers=basic(*ADMIN)))
            yield client

    with fresh_database(request.param, tmp_path) as uri:
        yield from run(uri)


def test_only_an_admin_import_keeps_the_runs_author(auth_client: TestClient) -> None:
    """With Cairn's ``run_id`` extension (imports), an admin's run keeps the author it is
    given and the event names the admin; a user's is theirs whatever they claim; without
    ``run_id`` an admin's run is the admin's too (the stock client's ``user_id`` is the
    machine's login)."""
    client = auth_client
    log = Log(client)
    eid = ok(client.post(f"{API}/experiments/create", json={"name": "imported"},
                         headers=basic(*ADMIN)))["experiment_id"]  # fmt: skip
    log.new()

    def made(who: tuple[str, str], run_id: str | None) -> tuple[str, str, str]:
        author = [{"key": "mlflow.user", "value": "original-author"}]
        body: dict[str, Any] = {"experiment_id": eid, "user_id": "original-author", "tags": author}
        if run_id:
            body["run_id"] = run_id
        run = ok(client.post(f"{API}/runs/create", json=body, headers=basic(*who)))["run"]
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        return run["info"]["user_id"], tags["mlflow.user"], log.one("run.create").actor

    assert made(ADMIN, "a" * 32) == ("original-author", "original-author", ADMIN[0])
    assert made(ADMIN, None) == (ADMIN[0], ADMIN[0], ADMIN[0])
    grant = {"experiment_id": eid, "username": ALICE[0], "permission": "EDIT"}
    ok(client.post(f"{API}/experiments/permissions/create", json=grant, headers=basic(*ADMIN)))
    log.new()
    assert made(ALICE, "b" * 32) == (ALICE[0], ALICE[0], ALICE[0])


def test_events_name_the_authenticated_caller(auth_client: TestClient) -> None:
    client = auth_client
    log = Log(client)
    alice, bob = basic(*ALICE), basic(*BOB)
    eid = ok(client.post(f"{API}/experiments/create", json={"name": "a"}, headers=alice))[
        "experiment_id"
    ]
    event = log.one("experiment.create", eid)
    assert (event.actor, event.actor_kind) == ("alice", ActorKind.USER)
    body = {"experiment_id": eid, "user_id": "someone-else"}
    run_id = ok(client.post(f"{API}/runs/create", json=body, headers=alice))["run"]["info"][
        "run_id"
    ]
    event = log.one("run.create", run_id)
    assert (event.actor, event.claimed_user) == ("alice", "alice")

    secret = ok(client.post("/api/v1/tokens", json={"name": "ci"}, headers=alice))["secret"]
    token = {"Authorization": f"Bearer {secret}"}
    param = {"run_id": run_id, "key": "p", "value": "1"}
    ok(client.post(f"{API}/runs/log-parameter", json=param, headers=token))
    event = log.one("run.log_param", run_id)
    assert (event.actor, event.actor_kind) == ("alice", ActorKind.TOKEN)
    path = f"{eid}/{run_id}/artifacts/f.txt"
    ok(client.put(f"{ARTIFACTS}/artifacts/{path}", content=b"abc", headers=token))
    event = log.one("artifact.write", path)
    assert (event.actor, event.actor_kind) == ("alice", ActorKind.TOKEN)

    bobs = ok(client.post(f"{API}/experiments/create", json={"name": "b"}, headers=bob))
    event = log.one("experiment.create", bobs["experiment_id"])
    assert (event.actor, event.actor_kind) == ("bob", ActorKind.USER)
    # bob may not change alice's experiment: refused, and nothing recorded
    rename = {"experiment_id": eid, "new_name": "bobs-now"}
    refused(client.post(f"{API}/experiments/update", json=rename, headers=bob), 403)
    refused(client.post(f"{API}/runs/log-parameter", json={**param, "key": "q"}, headers=bob), 403)
    refused(client.post(f"{API}/experiments/create", json={"name": "anon"}), 401)
    log.none()
    assert AuditService(log.db).verify().ok
