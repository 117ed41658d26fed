"""The webhook API's refusals: SSRF-unsafe URLs (400 naming ``url``, at create and update),
bad input of every kind, and who may do what (admins; MANAGE holders for hooks scoped to
their own experiment or model; nobody else sees a hook)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.webhooks import WebhookService
from cairn.store import events
from tests.api import basic, root_app
from tests.databases import BACKENDS, fresh_database
from tests.webhook_receiver import receiving

MLFLOW, V1 = "/api/2.0/mlflow", "/api/v1"
ADMIN, ADMIN_PW, PW = "root", "root's long password", "a user's long password"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
EVENTS = ["model_version.created"]


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def refused(answer: Any, status: int = 400, code: str = "INVALID_PARAMETER_VALUE") -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code, answer.text
    message: str = answer.json()["message"]
    return message


@pytest.fixture
def open_client(tmp_path: Path) -> Iterator[TestClient]:
    """Access control off; only 127.0.0.1 allowed besides public addresses."""
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'hooks.db'}",
        webhook_allow_hosts=("127.0.0.1",),
        secret_key="a test secret key of enough length",
        run_jobs=False,  # the tests drive the outbox and the attempts themselves
    )
    with TestClient(create_app(settings)) as client:
        yield client


HOSTILE = [
    "http://127.0.0.2/hook",  # loopback, not the allowed 127.0.0.1
    "http://localhost:8080/hook",  # a name resolving to loopback (127.0.0.1 is allowed, not it)
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",  # shared address space
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",  # unique-local
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://[::ffff:169.254.169.254]/hook",
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata address
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://2130706433/hook",  # 127.0.0.1 as one number (resolves to loopback)
    "http://0x7f.1/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1/",
    "http:///nohost",
    "http://user:pass@example.com/hook",  # credentials in the URL
    "http://exa mple.com/hook",
    "http://example.com:99999/hook",
    "not a url",
    "http://" + "a" * 2100 + ".com/",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_unsafe_urls_are_refused_naming_url(open_client: TestClient, url: str) -> None:
    message = refused(open_client.post(f"{MLFLOW}/webhooks", json={"name": "x", "url": url,
                      "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}))  # fmt: skip
    assert "url" in message
    message = refused(
        open_client.post(f"{V1}/webhooks", json={"name": "x", "url": url, "events": EVENTS})
    )
    assert "url" in message


def test_unsafe_url_refused_on_update_too(open_client: TestClient) -> None:
    hook = ok(open_client.post(f"{V1}/webhooks", json={"name": "x", "url":
              "http://127.0.0.1:9/hook", "events": EVENTS}), 201)  # fmt: skip
    for url in ("http://169.254.169.254/", "http://localhost/", "http://[::1]/"):
        path = f"{MLFLOW}/webhooks/{hook['webhook_id']}"
        assert "url" in refused(open_client.patch(path, json={"url": url}))
        path = f"{V1}/webhooks/{hook['webhook_id']}"
        assert "url" in refused(open_client.patch(path, json={"url": url}))
    found = ok(open_client.get(f"{V1}/webhooks/{hook['webhook_id']}"))
    assert found["url"] == "http://127.0.0.1:9/hook"


def test_allowed_loopback_and_public_names(open_client: TestClient) -> None:
    ok(open_client.post(f"{V1}/webhooks", json={"name": "a", "url": "http://127.0.0.1:1/x",
       "events": EVENTS}), 201)  # fmt: skip


BAD = [
    ({"url": "http://127.0.0.1/", "events": EVENTS}, "name"),
    ({"name": "", "url": "http://127.0.0.1/", "events": EVENTS}, "name"),
    ({"name": 12, "url": "http://127.0.0.1/", "events": EVENTS}, "name"),
    ({"name": "-bad-", "url": "http://127.0.0.1/", "events": EVENTS}, "name"),
    ({"name": "x" * 300, "url": "http://127.0.0.1/", "events": EVENTS}, "name"),
    ({"name": "x", "events": EVENTS}, "url"),
    ({"name": "x", "url": 12, "events": EVENTS}, "url"),
    ({"name": "x", "url": ["http://127.0.0.1/"], "events": EVENTS}, "url"),
    ({"name": "x", "url": "http://127.0.0.1/"}, "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": []}, "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": "model_version.created"}, "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": ["model_version.exploded"]}, "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": ["nodot"]}, "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": [{"entity": 1, "action": None}]},
     "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": [["a"] * 3]}, "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": EVENTS * 100}, "events"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": EVENTS, "secret": 5}, "secret"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": EVENTS, "secret": "s" * 2000},
     "secret"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": EVENTS, "description": "d" * 5000},
     "description"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": EVENTS, "status": "ON"}, "status"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": EVENTS,
      "scope": {"experiment_id": "abc"}}, "scope.experiment_id"),
    ({"name": "x", "url": "http://127.0.0.1/", "events": EVENTS,
      "scope": {"experiment_id": "0", "model_name": "m"}}, "scope"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field"), BAD)
def test_bad_input_is_a_400_naming_the_field(
    open_client: TestClient, body: dict[str, Any], field: str
) -> None:
    assert field in refused(open_client.post(f"{V1}/webhooks", json=body))


def test_bad_input_on_the_mlflow_wire(open_client: TestClient) -> None:
    path = f"{MLFLOW}/webhooks"
    base = {"name": "x", "url": "http://127.0.0.1/"}
    bad_enum = {**base, "events": [{"entity": "NOT_AN_ENTITY", "action": "CREATED"}]}
    assert "events" in refused(open_client.post(path, json=bad_enum))
    wrong_pair = {**base, "events": [{"entity": "MODEL_VERSION", "action": "EXCEEDED"}]}
    assert "events" in refused(open_client.post(path, json=wrong_pair))
    numbers = {**base, "events": [{"entity": 2, "action": 1}], "status": 2}
    made = ok(open_client.post(path, json=numbers))["webhook"]
    assert made["events"] == [{"entity": "MODEL_VERSION", "action": "CREATED"}]
    assert made["status"] == "DISABLED"
    assert "max_results" in refused(open_client.get(path, params={"max_results": "0"}))
    assert "max_results" in refused(open_client.get(path, params={"max_results": "x"}))
    assert refused(open_client.get(path, params={"page_token": "garbage"}))
    unknown = open_client.get(f"{path}/no-such-id")
    refused(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    refused(open_client.delete(f"{path}/no-such-id"), 404, "RESOURCE_DOES_NOT_EXIST")
    refused(open_client.post(f"{path}/no-such-id/test"), 404, "RESOURCE_DOES_NOT_EXIST")
    malformed = open_client.post(path, content=b"{not json", headers={"Content-Type":
                                 "application/json"})  # fmt: skip
    assert malformed.status_code == 400
    test = open_client.post(f"{path}/{made['webhook_id']}/test",
                            json={"event": {"entity": "RUN", "action": "CREATED"}})  # fmt: skip
    assert "events" in refused(test)


def test_test_delivery_to_a_closed_port_reports_the_error(open_client: TestClient) -> None:
    made = ok(open_client.post(f"{V1}/webhooks", json={"name": "x", "url":
              "http://127.0.0.1:9/hook", "events": EVENTS}), 201)  # fmt: skip
    result = ok(open_client.post(f"{MLFLOW}/webhooks/{made['webhook_id']}/test"))["result"]
    assert result["success"] is False
    assert result["error_message"]
    assert "response_status" not in result


def test_events_listing(open_client: TestClient) -> None:
    found = ok(open_client.get(f"{V1}/webhooks/events"))
    assert {"entity": "model_version", "action": "created"} in found["mlflow"]
    assert {"entity": "run", "action": "finished"} in found["cairn"]


# ----------------------------------------------------------------------------- access
@pytest.fixture(params=BACKENDS)
def secured(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """Auth on; experiment ``lims`` (alice MANAGE, bob EDIT), model ``churn`` (bob MANAGE)."""
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
    with fresh_database(request.param, tmp_path) as uri:
        settings = Settings(
            backend_store_uri=uri,
            auth=True,
            webhook_allow_hosts=("127.0.0.1",),
            secret_key="a test secret key of enough length",
            run_jobs=False,  # the tests drive the outbox and the attempts themselves
        )
        with TestClient(create_app(settings)) as client:
            for name in ("alice", "bob", "carol"):
                ok(client.post(f"{V1}/users", json={"username": name, "password": PW},
                               headers=AS_ADMIN))  # fmt: skip
            ok(client.post(f"{MLFLOW}/experiments/create", json={"name": "lims"},
                           headers=AS_ADMIN))  # fmt: skip
            ok(client.post(f"{MLFLOW}/registered-models/create", json={"name": "churn"},
                           headers=AS_ADMIN))  # fmt: skip
            grants = (("experiments/1", "alice", "MANAGE"), ("experiments/1", "bob", "EDIT"),
                      ("models/churn", "bob", "MANAGE"))  # fmt: skip
            for where, who, level in grants:
                ok(client.put(f"{V1}/{where}/permissions/{who}", json={"permission": level},
                              headers=AS_ADMIN))  # fmt: skip
            yield client


def as_(name: str) -> dict[str, str]:
    return basic(name, PW)


def scoped(scope: dict[str, str]) -> dict[str, Any]:
    return {"name": "s", "url": "http://127.0.0.1:9/h", "events": EVENTS, "scope": scope}


def test_access(secured: TestClient) -> None:
    c = secured
    mlflow_body = {"name": "g", "url": "http://127.0.0.1:9/h",
                   "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}  # fmt: skip
    # global hooks: admins only, on both APIs
    refused(c.post(f"{MLFLOW}/webhooks", json=mlflow_body, headers=as_("alice")), 403,
            "PERMISSION_DENIED")  # fmt: skip
    refused(c.post(f"{V1}/webhooks", json={**mlflow_body, "events": EVENTS},
                   headers=as_("alice")), 403, "PERMISSION_DENIED")  # fmt: skip
    refused(c.post(f"{MLFLOW}/webhooks", json=mlflow_body), 401, "UNAUTHENTICATED")
    glob = ok(c.post(f"{MLFLOW}/webhooks", json=mlflow_body, headers=AS_ADMIN))["webhook"]
    # MANAGE holders: hooks scoped to what they manage, nothing else
    lims = ok(c.post(f"{V1}/webhooks", json=scoped({"experiment_id": "1"}),
                     headers=as_("alice")), 201)  # fmt: skip
    refused(c.post(f"{V1}/webhooks", json=scoped({"experiment_id": "1"}), headers=as_("bob")),
            403, "PERMISSION_DENIED")  # fmt: skip
    refused(c.post(f"{V1}/webhooks", json=scoped({"model_name": "churn"}),
                   headers=as_("alice")), 403, "PERMISSION_DENIED")  # fmt: skip
    churn = ok(c.post(f"{V1}/webhooks", json=scoped({"model_name": "churn"}),
                      headers=as_("bob")), 201)  # fmt: skip
    refused(c.post(f"{V1}/webhooks", json=scoped({"model_name": "nope"}), headers=AS_ADMIN),
            404, "RESOURCE_DOES_NOT_EXIST")  # fmt: skip

    # listings: admins see all, others what they manage
    def ids(who: dict[str, str], api: str = V1) -> set[str]:
        return {h["webhook_id"] for h in ok(c.get(f"{api}/webhooks", headers=who)).get(
            "webhooks", [])}  # fmt: skip

    assert ids(AS_ADMIN) == {glob["webhook_id"], lims["webhook_id"], churn["webhook_id"]}
    assert ids(as_("alice")) == {lims["webhook_id"]}
    assert ids(as_("bob")) == {churn["webhook_id"]}
    assert ids(as_("carol")) == set()
    assert ids(as_("alice"), MLFLOW) == {lims["webhook_id"]}
    # others' hooks are not found (no hint that they exist), and cannot be changed
    for hook in (glob, churn):
        refused(c.get(f"{V1}/webhooks/{hook['webhook_id']}", headers=as_("alice")), 404,
                "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
        refused(c.patch(f"{MLFLOW}/webhooks/{hook['webhook_id']}", json={"name": "x"},
                        headers=as_("alice")), 404, "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
        refused(c.delete(f"{V1}/webhooks/{hook['webhook_id']}", headers=as_("alice")), 404,
                "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
        refused(c.get(f"{V1}/webhooks/{hook['webhook_id']}/deliveries",
                      headers=as_("carol")), 404, "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    ok(c.patch(f"{V1}/webhooks/{lims['webhook_id']}", json={"description": "mine"},
               headers=as_("alice")))  # fmt: skip
    ok(c.get(f"{V1}/webhooks/{lims['webhook_id']}/deliveries", headers=as_("alice")))
    # a read-only token reads but does not change
    token = ok(c.post(f"{V1}/tokens", json={"name": "ro", "read_only": True},
                      headers=as_("alice")))  # fmt: skip
    ro = {"Authorization": f"Bearer {token['secret']}"}
    assert ids(ro) == {lims["webhook_id"]}
    refused(c.patch(f"{V1}/webhooks/{lims['webhook_id']}", json={"name": "y"}, headers=ro), 403,
            "PERMISSION_DENIED")  # fmt: skip
    assert c.delete(f"{V1}/webhooks/{lims['webhook_id']}", headers=as_("alice")).status_code == 204


def test_approval_events_reach_a_hook_scoped_to_the_model(secured: TestClient) -> None:
    """bob (MANAGE on ``churn``) hooks the model's approval events; alice asks twice, bob
    approves one and rejects the other: three deliveries, signed, with the decision."""
    c = secured
    ok(c.put(f"{V1}/models/churn/permissions/alice", json={"permission": "EDIT"},
             headers=AS_ADMIN))  # fmt: skip
    run = ok(c.post(f"{MLFLOW}/runs/create", json={"experiment_id": "1"}, headers=AS_ADMIN))
    rid = run["run"]["info"]["run_id"]
    for _ in range(2):
        ok(c.post(f"{MLFLOW}/model-versions/create", json={"name": "churn", "source":
                  f"runs:/{rid}/model", "run_id": rid}, headers=AS_ADMIN))  # fmt: skip
    policy = {"stages": ["Production"], "aliases": ["champion"], "required_approvals": 1}
    ok(c.put(f"{V1}/models/churn/promotion-policy", json=policy, headers=as_("bob")))
    state = root_app(c.app).state
    service: WebhookService = state.webhooks
    cursor = state.db.read(lambda conn: events.head(conn)[0])
    with receiving("bob's secret") as receiver:
        pairs = ["approval_request.created", "approval_request.approved",
                 "approval_request.rejected", "approval_request.cancelled"]  # fmt: skip
        ok(c.post(f"{V1}/webhooks", json={"name": "approvals", "url": receiver.url,
                  "events": pairs, "secret": "bob's secret", "scope": {"model_name": "churn"}},
                  headers=as_("bob")), 201)  # fmt: skip
        asked = [
            ok(
                c.post(
                    f"{V1}/models/churn/versions/{v}/requests",
                    json={"alias": "champion"},
                    headers=as_("alice"),
                ),
                201,
            )  # fmt: skip
            for v in (1, 2)
        ]
        ok(c.post(f"{V1}/approval-requests/{asked[0]['id']}/approve", json={"comment": "ok"},
                  headers=as_("bob")))  # fmt: skip
        ok(c.post(f"{V1}/approval-requests/{asked[1]['id']}/reject", json={"comment": "no"},
                  headers=as_("bob")))  # fmt: skip
        found = state.db.read(lambda conn: list(events.walk(conn, cursor)))
        for delivery in service.create_deliveries(found):
            assert service.attempt_delivery(delivery).state.value == "succeeded"
        got = [(r.json()["action"], r.json()["data"]["version"], r.json()["data"]["actor"])
               for r in receiver.received]  # fmt: skip
        assert got == [("created", "1", "alice"), ("created", "2", "alice"),
                       ("approved", "1", "bob"), ("rejected", "2", "bob")]  # fmt: skip
        assert all(r.signature_ok for r in receiver.received)
        assert receiver.received[2].json()["data"]["target"] == {"alias": "champion"}


def test_changes_are_change_events_without_the_secret(open_client: TestClient) -> None:
    c = open_client
    hook = ok(c.post(f"{V1}/webhooks", json={"name": "x", "url": "http://127.0.0.1:9/h",
              "events": EVENTS, "secret": "first secret value"}), 201)  # fmt: skip
    hid = hook["webhook_id"]
    ok(c.patch(f"{V1}/webhooks/{hid}", json={"secret": "second secret value", "name": "y"}))
    ok(c.patch(f"{V1}/webhooks/{hid}", json={"secret": ""}))
    ok(c.patch(f"{V1}/webhooks/{hid}", json={}))  # nothing changes: no event
    assert c.delete(f"{V1}/webhooks/{hid}").status_code == 204
    found = ok(c.get(f"{V1}/audit", params={"entity_type": "webhook", "entity_id": hid}))
    events_ = list(reversed(found["events"]))
    assert [e["action"] for e in events_] == [
        "webhook.create", "webhook.update", "webhook.update", "webhook.delete"
    ]  # fmt: skip
    assert events_[0]["after"]["has_secret"] is True
    assert events_[1]["after"] == {"name": "y", "secret": "(replaced)"}
    assert events_[2]["before"] == {"has_secret": True}
    assert events_[2]["after"] == {"has_secret": False}
    text = str(found)
    assert "first secret value" not in text
    assert "second secret value" not in text
