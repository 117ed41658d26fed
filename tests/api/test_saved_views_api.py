"""/api/v1/views over HTTP on SQLite and PostgreSQL: a user's named views of an experiment's
runs table are saved, replaced, listed and deleted with a change event each; every user sees
only their own; READ on the experiment is needed; bad input is a 400 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store import events
from cairn.store.db import Database
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database

URL = "/api/v1/views"
MLFLOW = "/api/2.0/mlflow"
ADMIN, ADMIN_PW, PW = "root", "root-password-0001", "user-password-0001"
AS_ADMIN = basic(ADMIN, ADMIN_PW)


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if status != 204 else None


def _experiment(client: TestClient, name: str, headers: dict[str, str] | None = None) -> str:
    body = ok(client.post(f"{MLFLOW}/experiments/create", json={"name": name}, headers=headers))
    experiment_id: str = body["experiment_id"]
    return experiment_id


def _actions(client: TestClient) -> list[tuple[str, str | None]]:
    db: Database = root_app(client.app).state.db
    found = db.read(lambda c: list(events.walk(c, 0)))
    return [(e.action, e.experiment_id) for e in found if e.action.startswith("saved_view.")]


def test_save_replace_list_delete(any_client: TestClient) -> None:
    client = any_client
    eid = _experiment(client, "views")
    other = _experiment(client, "other")
    assert ok(client.get(URL, params={"experiment_id": eid})) == {"views": []}

    query = "q=params.model+%3D+%27rf%27&cols=metrics.loss,params.lr&group=params.model&agg=max"
    saved = ok(
        client.put(URL, json={"experiment_id": eid, "name": " rf by model ", "query": query})
    )
    assert (saved["name"], saved["query"], saved["experiment_id"]) == ("rf by model", query, eid)
    ok(client.put(URL, json={"experiment_id": eid, "name": "all", "query": ""}))
    ok(client.put(URL, json={"experiment_id": other, "name": "elsewhere", "query": "mode=charts"}))
    listed = ok(client.get(URL, params={"experiment_id": eid}))["views"]
    assert [v["name"] for v in listed] == ["all", "rf by model"]

    # the same name replaces; saving it unchanged records nothing more
    ok(client.put(URL, json={"experiment_id": eid, "name": "all", "query": "deleted=1"}))
    ok(client.put(URL, json={"experiment_id": eid, "name": "all", "query": "deleted=1"}))
    listed = ok(client.get(URL, params={"experiment_id": eid}))["views"]
    assert [v["query"] for v in listed] == ["deleted=1", query]

    ok(client.delete(URL, params={"experiment_id": eid, "name": "all"}), 204)
    assert [v["name"] for v in ok(client.get(URL, params={"experiment_id": eid}))["views"]] == [
        "rf by model"
    ]
    gone = client.delete(URL, params={"experiment_id": eid, "name": "all"})
    assert gone.status_code == 404
    assert gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert _actions(client) == [
        ("saved_view.set", eid),
        ("saved_view.set", eid),
        ("saved_view.set", other),
        ("saved_view.set", eid),
        ("saved_view.delete", eid),
    ]

    # deleting the experiment for good takes its views with it is the store's cascade; an
    # unknown experiment is a 404
    missing = client.get(URL, params={"experiment_id": "987654"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("method", "body", "named"),
    [
        ("put", {"name": "x", "query": ""}, "experiment_id"),
        ("put", {"experiment_id": "E", "query": ""}, "name"),
        ("put", {"experiment_id": "E", "name": "x"}, "query"),
        ("put", {"experiment_id": "E", "name": "   ", "query": ""}, "'name'"),
        ("put", {"experiment_id": "E", "name": "x" * 101, "query": ""}, "'name'"),
        ("put", {"experiment_id": "E", "name": "a\nb", "query": ""}, "'name'"),
        ("put", {"experiment_id": "E", "name": 5, "query": ""}, "name"),
        ("put", {"experiment_id": "E", "name": "x", "query": "q=" + "a" * 8000}, "'query'"),
        ("put", {"experiment_id": "E", "name": "x", "query": "sel=abc"}, "'query'"),
        ("put", {"experiment_id": "E", "name": "x", "query": "../../etc=1"}, "'query'"),
        ("put", {"experiment_id": "../1", "name": "x", "query": ""}, "experiment_id"),
        ("put", {"experiment_id": "E", "name": "x", "query": "", "owner": "bob"}, "owner"),
        ("get", {"experiment_id": "one"}, "experiment_id"),
        ("get", {}, "experiment_id"),
        ("delete", {"experiment_id": "E"}, "name"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, method: str, body: dict[str, Any], named: str
) -> None:
    eid = _experiment(client, "bad")
    filled = {k: (eid if v == "E" else v) for k, v in body.items()}
    if method == "put":
        answer = client.put(URL, json=filled)
    elif method == "get":
        answer = client.get(URL, params=filled)
    else:
        answer = client.delete(URL, params=filled)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert named in answer.json()["message"]


@pytest.fixture(params=BACKENDS)
def auth_client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Auth on, nobody may read an experiment by default; alice and bob may READ it."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with fresh_database(request.param, tmp_path) as uri:
        settings = Settings(backend_store_uri=uri, auth=True, default_permission="NO_PERMISSIONS")
        with TestClient(create_app(settings)) as client:
            for name in ("alice", "bob", "carol"):
                body = {"username": name, "password": PW}
                ok(client.post("/api/v1/users", json=body, headers=AS_ADMIN))
            yield client


def test_each_user_sees_their_own_and_needs_read(auth_client: TestClient) -> None:
    client = auth_client
    eid = _experiment(client, "shared", AS_ADMIN)
    for name in ("alice", "bob"):
        url = f"/api/v1/experiments/{eid}/permissions/{name}"
        ok(client.put(url, json={"permission": "READ"}, headers=AS_ADMIN))
    alice, bob, carol = (basic(n, PW) for n in ("alice", "bob", "carol"))
    body = {"experiment_id": eid, "name": "mine", "query": "q=metrics.loss+%3C+1"}
    ok(client.put(URL, json=body, headers=alice))
    ok(client.put(URL, json={**body, "query": "mode=charts"}, headers=bob))
    mine = ok(client.get(URL, params={"experiment_id": eid}, headers=alice))["views"]
    theirs = ok(client.get(URL, params={"experiment_id": eid}, headers=bob))["views"]
    assert [v["query"] for v in mine] == ["q=metrics.loss+%3C+1"]
    assert [v["query"] for v in theirs] == ["mode=charts"]
    # bob deleting "mine" deletes his own, never alice's
    ok(client.delete(URL, params={"experiment_id": eid, "name": "mine"}, headers=bob), 204)
    assert len(ok(client.get(URL, params={"experiment_id": eid}, headers=alice))["views"]) == 1

    # carol cannot read the experiment: no views of it, and none saved
    for answer in (
        client.get(URL, params={"experiment_id": eid}, headers=carol),
        client.put(URL, json=body, headers=carol),
    ):
        assert answer.status_code in (403, 404), answer.text
    assert client.get(URL, params={"experiment_id": eid}).status_code == 401
