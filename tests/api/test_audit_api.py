"""The audit trail over HTTP (/api/v1/audit, /verify, /export), in-process with access control
on: who reads what (admins everything, MANAGE holders what they manage, others nothing),
filters, keyset paging, the export formats, and hostile input."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from cairn.entities.events import ACTING, Actor, ActorKind, Change, EntityType
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store import events
from tests.api import basic, root_app

ADMIN, ADMIN_PW = "root", "root-password-0001"
PW = "user-password-0001"
MLFLOW = "/api/2.0/mlflow"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
AS_ALICE = basic("alice", PW)
AS_BOB = basic("bob", PW)
AS_CAROL = basic("carol", PW)


def _ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _error(answer: Any, status: int = 400, code: str = "INVALID_PARAMETER_VALUE") -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


class World:
    """Alice owns experiment ``mine`` (MANAGE as its creator) and model ``alice-model``; bob
    owns experiment ``bobs``; carol manages experiment ``shared`` through a role naming it;
    a few model events are recorded straight in the log (the registry records none yet)."""

    def __init__(self, client: TestClient):
        self.client = client
        for name in ("alice", "bob", "carol"):
            _ok(
                client.post(
                    "/api/v1/users", json={"username": name, "password": PW}, headers=AS_ADMIN
                )
            )
        self.mine = self._experiment("mine", AS_ALICE)
        self.bobs = self._experiment("bobs", AS_BOB)
        self.shared = self._experiment("shared", AS_ADMIN)
        self.run = _ok(
            client.post(
                f"{MLFLOW}/runs/create", json={"experiment_id": self.mine}, headers=AS_ALICE
            )
        )["run"]["info"]["run_id"]
        for step in range(3):
            _ok(
                client.post(
                    f"{MLFLOW}/runs/log-metric",
                    json={
                        "run_id": self.run,
                        "key": "m",
                        "value": step,
                        "timestamp": 0,
                        "step": step,
                    },
                    headers=AS_ALICE,
                )
            )
        _ok(
            client.post(
                f"{MLFLOW}/registered-models/create", json={"name": "alice-model"}, headers=AS_ALICE
            )
        )
        role = _ok(client.post("/api/v1/roles", json={"name": "shared-managers"}, headers=AS_ADMIN))
        _ok(
            client.post(
                f"/api/v1/roles/{role['id']}/permissions",
                json={"resource_type": "experiment", "pattern": "shared", "permission": "MANAGE"},
                headers=AS_ADMIN,
            )
        )
        _ok(client.put(f"/api/v1/roles/{role['id']}/members/carol", headers=AS_ADMIN))
        db = root_app(client.app).state.db
        token = ACTING.set(Actor("alice", ActorKind.USER, "127.0.0.1", "req-model"))
        try:
            for name, version in (("alice-model", 1), ("alice-model", 2), ("other-model", 1)):
                change = Change(
                    "model_version.create",
                    EntityType.MODEL_VERSION,
                    f"{name}/{version}",
                    model_name=name,
                    after={"version": version},
                )
                db.write(lambda c, change=change: events.record(c, change))
            user_change = Change("user.create", EntityType.USER, "dave", after={"username": "dave"})
            db.write(lambda c: events.record(c, user_change))
        finally:
            ACTING.reset(token)

    def _experiment(self, name: str, headers: dict[str, str]) -> str:
        found = _ok(
            self.client.post(f"{MLFLOW}/experiments/create", json={"name": name}, headers=headers)
        )
        eid: str = found["experiment_id"]
        return eid

    def events(self, headers: dict[str, str] = AS_ADMIN, **params: Any) -> list[dict[str, Any]]:
        """Every event the caller reads with ``params``, following the page tokens."""
        found: list[dict[str, Any]] = []
        token = None
        for _ in range(1000):
            query = {**params, **({"page_token": token} if token else {})}
            page = _ok(self.client.get("/api/v1/audit", params=query, headers=headers))
            found.extend(page["events"])
            token = page["next_page_token"]
            if not token:
                return found
        raise AssertionError("paging did not end")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the module (users' passwords are slow to hash on purpose); the tests only
    read, but for erin and a token, which no other test looks for."""
    path = tmp_path_factory.mktemp("audit") / "audit.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
        env.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
        settings = Settings(backend_store_uri=f"sqlite:///{path}", auth=True)
        with TestClient(create_app(settings)) as client:
            yield World(client)


def _keys(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["action"], e["entity_id"]) for e in found]


def test_admins_read_every_event_newest_first_with_the_contract_fields(world: World) -> None:
    found = world.events()
    ids = [e["id"] for e in found]
    assert ids == sorted(ids, reverse=True)
    assert ids == list(range(len(ids), 0, -1))
    assert ("user.create", "dave") in _keys(found)
    assert ("experiment.create", world.bobs) in _keys(found)
    assert set(found[0]) == {
        "id", "time", "actor", "actor_kind", "address", "request_id", "action", "entity_type",
        "entity_id", "experiment_id", "model_name", "before", "after", "claimed_user",
        "prev_hash", "hash",
    }  # fmt: skip
    run_create = next(e for e in found if e["action"] == "run.create")
    assert (run_create["actor"], run_create["actor_kind"]) == ("alice", "user")
    assert run_create["experiment_id"] == world.mine
    for newer, older in zip(found, found[1:], strict=False):
        assert newer["prev_hash"] == older["hash"]


def test_a_manage_holder_reads_only_the_events_of_what_they_manage(world: World) -> None:
    found = world.events(AS_ALICE)
    assert found
    for event in found:
        assert event["experiment_id"] == world.mine or event["model_name"] == "alice-model", event
    keys = _keys(found)
    assert ("run.create", world.run) in keys
    assert ("model_version.create", "alice-model/2") in keys
    assert ("model_version.create", "other-model/1") not in keys
    assert ("user.create", "dave") not in keys
    assert world.events(AS_ALICE, experiment_id=world.bobs) == []
    mine = world.events(AS_ALICE, entity_type="run", entity_id=world.run)
    assert [e["action"] for e in mine] == ["run.log_metric"] * 3 + ["run.create"]


def test_a_role_pattern_naming_an_experiment_counts_as_managing_it(world: World) -> None:
    found = world.events(AS_CAROL)
    assert ("experiment.create", world.shared) in _keys(found)
    assert {e["experiment_id"] for e in found} == {world.shared}


def test_a_user_who_manages_nothing_gets_an_empty_list_not_a_403(world: World) -> None:
    world.client.post("/api/v1/users", json={"username": "erin", "password": PW}, headers=AS_ADMIN)
    assert world.events(basic("erin", PW)) == []
    assert world.events(basic("erin", PW), experiment_id=world.mine) == []


def test_a_read_only_token_manages_nothing(world: World) -> None:
    created = _ok(
        world.client.post(
            "/api/v1/tokens", json={"name": "ro", "read_only": True}, headers=AS_ALICE
        )
    )
    assert world.events({"Authorization": f"Bearer {created['secret']}"}) == []


def test_verify_and_export_are_for_admins(world: World) -> None:
    for path in ("/api/v1/audit/verify", "/api/v1/audit/export"):
        _error(world.client.get(path, headers=AS_ALICE), 403, "PERMISSION_DENIED")
        _error(world.client.get(path), 401, "UNAUTHENTICATED")
    _error(world.client.get("/api/v1/audit"), 401, "UNAUTHENTICATED")
    report = _ok(world.client.get("/api/v1/audit/verify", headers=AS_ADMIN))
    newest = world.events()[0]
    assert report == {
        "ok": True,
        "checked": newest["id"],
        "first_id": 1,
        "head_id": newest["id"],
        "head_hash": newest["hash"],
        "broken_at": None,
        "reason": None,
    }


def test_filters(world: World) -> None:
    every = world.events()
    by_alice = world.events(actor="alice")
    assert by_alice == [e for e in every if e["actor"] == "alice"]
    assert {e["actor"] for e in world.events(actor="bob")} == {"bob"}
    batches = world.events(action="run.log_metric")
    assert len(batches) == 3
    assert world.events(experiment_id=world.mine) == [
        e for e in every if e["experiment_id"] == world.mine
    ]
    of_model = world.events(model_name="alice-model")
    assert {e["model_name"] for e in of_model} == {"alice-model"}
    assert ("registered_model.create", "alice-model") in _keys(of_model)
    versions = world.events(model_name="alice-model", entity_type="model_version")
    assert _keys(versions) == [
        ("model_version.create", "alice-model/2"),
        ("model_version.create", "alice-model/1"),
    ]
    versions = world.events(entity_type="model_version", entity_id="other-model/1")
    assert _keys(versions) == [("model_version.create", "other-model/1")]
    middle = every[len(every) // 2]["time"]
    assert world.events(since=str(middle)) == [e for e in every if e["time"] >= middle]
    assert world.events(until=str(middle)) == [e for e in every if e["time"] < middle]
    assert world.events(since="2000-01-01", until="2100-01-01T00:00:00Z") == every
    assert world.events(since="2100-01-01") == []
    assert world.events(until="2000-01-01T00:00:00+02:00") == []
    assert world.events(actor="alice", action="nothing.like.this") == []


def test_paging_returns_every_event_once_for_any_page_size(world: World) -> None:
    every = world.events(max_results=1000)
    for size in (1, 2, 7):
        assert world.events(max_results=size) == every
    first = _ok(world.client.get("/api/v1/audit", params={"max_results": 2}, headers=AS_ADMIN))
    assert len(first["events"]) == 2
    assert first["next_page_token"]
    last = _ok(
        world.client.get("/api/v1/audit", params={"max_results": len(every)}, headers=AS_ADMIN)
    )
    assert last["next_page_token"] is None


def test_a_page_token_is_tied_to_its_filters(world: World) -> None:
    page = _ok(
        world.client.get(
            "/api/v1/audit", params={"max_results": 1, "actor": "alice"}, headers=AS_ADMIN
        )
    )
    token = page["next_page_token"]
    message = _error(
        world.client.get(
            "/api/v1/audit", params={"page_token": token, "actor": "bob"}, headers=AS_ADMIN
        )
    )
    assert "different query" in message


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"since": "2026-12-04T25:00"}, "since"),
        ({"since": "1e309"}, "since"),
        ({"since": "9" * 40}, "since"),
        ({"max_results": 0}, "max_results"),
        ({"max_results": 1001}, "max_results"),
        ({"max_results": 10**30}, "max_results"),
        ({"max_results": "many"}, "max_results"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"page_token": "eyJrIjpbLTVdLCJxIjoiYWJjIn0"}, "page_token"),
        ({"page_token": "A" * 5000}, "page_token"),
        ({"entity_type": "run' OR '1'='1"}, "entity_type"),
        ({"actor": "x" * 300}, "actor"),
        ({"entity_id": "y" * 2000}, "entity_id"),
        ({"since": "2026-12-05", "until": "2026-12-04"}, "since"),
        ({"actor": "a\x00b"}, "actor"),
        ({"entity_id": "\x00"}, "entity_id"),
    ],
)
def test_hostile_input_is_a_400_naming_the_field(
    world: World, params: dict[str, Any], field: str
) -> None:
    message = _error(world.client.get("/api/v1/audit", params=params, headers=AS_ADMIN))
    assert field in message


def test_a_forged_page_token_with_a_huge_id_is_a_400(world: World) -> None:
    """A token carries the query's fingerprint, which anyone can recompute: its id is checked
    too (SQLite's integers stop at 2**63)."""
    page = _ok(world.client.get("/api/v1/audit", params={"max_results": 1}, headers=AS_ADMIN))
    doc = orjson.loads(base64.urlsafe_b64decode(page["next_page_token"] + "=="))
    for forged_id in (10**30, 2**62, -1, 0, 1.5, "7", None):
        raw = json.dumps({"k": [forged_id], "q": doc["q"]}).encode()
        token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        answer = world.client.get("/api/v1/audit", params={"page_token": token}, headers=AS_ADMIN)
        assert "page_token" in _error(answer)


def test_hostile_export_input_is_a_400(world: World) -> None:
    for params in ({"format": "xml"}, {"since": "soon"}, {"entity_type": "nope"}):
        message = _error(world.client.get("/api/v1/audit/export", params=params, headers=AS_ADMIN))
        assert next(iter(params)) in message


@pytest.mark.parametrize(
    "value", ["' OR 1=1 --", "a'; DROP TABLE change_events--", "%", "_", "\\", "ü𝄞"]
)
def test_sql_like_filter_values_match_nothing_and_harm_nothing(world: World, value: str) -> None:
    for field in ("actor", "action", "entity_id", "experiment_id", "model_name"):
        assert world.events(**{field: value}) == []
    assert _ok(world.client.get("/api/v1/audit/verify", headers=AS_ADMIN))["ok"]


def test_export_jsonl_is_every_event_oldest_first(world: World) -> None:
    every = world.events()
    answer = world.client.get("/api/v1/audit/export", headers=AS_ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in answer.headers["content-disposition"]
    lines = [orjson.loads(line) for line in answer.content.splitlines()]
    assert lines == list(reversed(every))
    filtered = world.client.get(
        "/api/v1/audit/export", params={"actor": "bob", "format": "jsonl"}, headers=AS_ADMIN
    )
    assert [orjson.loads(x) for x in filtered.content.splitlines()] == list(
        reversed(world.events(actor="bob"))
    )


def test_export_csv(world: World) -> None:
    every = world.events()
    answer = world.client.get("/api/v1/audit/export", params={"format": "csv"}, headers=AS_ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in reversed(every)]
    by_id = {e["id"]: e for e in every}
    for row in rows:
        event = by_id[int(row["id"])]
        assert row["hash"] == event["hash"]
        assert row["actor"] == event["actor"]
        assert (orjson.loads(row["after"]) if row["after"] else None) == event["after"]


def test_with_access_control_off_everyone_reads_everything(client: TestClient) -> None:
    _ok(client.post(f"{MLFLOW}/experiments/create", json={"name": "e"}))
    found = _ok(client.get("/api/v1/audit"))["events"]
    assert [(e["action"], e["actor"]) for e in found] == [("experiment.create", "local")]
    assert _ok(client.get("/api/v1/audit/verify"))["ok"]
    assert client.get("/api/v1/audit/export").status_code == 200


def test_events_carry_the_request_id_the_response_names(client: TestClient) -> None:
    """A sane client X-Request-Id is kept and echoed; anything else is replaced by a new one."""
    answer = client.post(
        f"{MLFLOW}/experiments/create", json={"name": "a"}, headers={"X-Request-Id": "ci-42.a:b"}
    )
    assert answer.headers["x-request-id"] == "ci-42.a:b"
    hostile = client.post(
        f"{MLFLOW}/experiments/create", json={"name": "b"}, headers={"X-Request-Id": "bad id\t<>"}
    )
    fresh = hostile.headers["x-request-id"]
    assert fresh != "bad id\t<>"
    assert len(fresh) == 32
    assert len(hostile.headers.get_list("x-request-id")) == 1
    found = _ok(client.get("/api/v1/audit", params={"action": "experiment.create"}))["events"]
    assert [e["request_id"] for e in found] == [fresh, "ci-42.a:b"]
