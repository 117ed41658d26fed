"""Webhook deliveries end to end, in-process, against real receivers on 127.0.0.1 and real
databases: registry and run changes made over the API become deliveries through the outbox
consumer's body (``create_deliveries``), each attempt (``attempt_delivery``) is signed as
MLflow signs and recorded; failures, slow and redirecting receivers, ``Retry-After``,
redelivery and auto-disable. Time is passed to the attempts explicitly (``now``), so retries
are exercised without sleeping and without timing assertions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from cairn.entities.events import EventQuery
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.webhooks import WebhookService
from cairn.store import events
from cairn.store.schema import webhooks as webhooks_table
from cairn.store.sql import now_ms
from tests.api import root_app
from tests.databases import BACKENDS, fresh_database
from tests.webhook_receiver import Receiver, Reply, make_tls, receiving

MLFLOW, V1 = "/api/2.0/mlflow", "/api/v1"
SECRET = "the receiver's shared secret"


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


class Hub:
    """The app, its webhook service, and the outbox cursor the tests advance by hand (the
    job engine's consumer does this in the server)."""

    def __init__(self, client: TestClient):
        self.client = client
        state = root_app(client.app).state
        self.service: WebhookService = state.webhooks
        self.db = state.db
        self.cursor = self.db.read(lambda c: events.head(c)[0])

    def configure(self, **changes: Any) -> None:
        self.service.config = dataclasses.replace(self.service.config, **changes)

    def consume(self) -> list[str]:
        """Run the consumer body over the events written since the last call."""
        found = self.db.read(lambda c: list(events.walk(c, self.cursor)))
        if found:
            self.cursor = found[-1].id
        return self.service.create_deliveries(found)

    def deliver_all(self) -> list[Any]:
        """Consume, then attempt each new delivery once at ``self.now`` (set here)."""
        made = self.consume()
        self.now = now_ms()
        return [self.service.attempt_delivery(d, self.now) for d in made]

    def hook(self, url: str, events_: list[str], **extra: Any) -> str:
        body = {"name": "hook", "url": url, "events": events_, "secret": SECRET, **extra}
        return str(ok(self.client.post(f"{V1}/webhooks", json=body), 201)["webhook_id"])

    def deliveries(self, webhook_id: str) -> list[Any]:
        found = ok(self.client.get(f"{V1}/webhooks/{webhook_id}/deliveries"))["deliveries"]
        return list(found)


@pytest.fixture(params=BACKENDS)
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    with fresh_database(request.param, tmp_path) as uri:
        settings = Settings(
            backend_store_uri=uri,
            webhook_allow_hosts=("127.0.0.1",),
            secret_key="a test secret key of enough length",
            run_jobs=False,  # the tests drive the outbox and the attempts themselves
            webhook_timeout=5.0,
        )
        with TestClient(create_app(settings)) as client:
            yield Hub(client)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(SECRET) as found:
        yield found


def registry_changes(client: TestClient) -> str:
    """Model ``churn``: create, a version, tag set and deleted, alias set and deleted."""
    ok(client.post(f"{MLFLOW}/registered-models/create", json={"name": "churn",
       "tags": [{"key": "team", "value": "lims"}], "description": "churn model"}))  # fmt: skip
    run = ok(client.post(f"{MLFLOW}/runs/create", json={"experiment_id": "0"}))["run"]["info"]
    version = {"name": "churn", "source": f"runs:/{run['run_id']}/model", "run_id": run["run_id"]}
    ok(client.post(f"{MLFLOW}/model-versions/create", json=version))
    tag = {"name": "churn", "version": "1", "key": "validated", "value": "yes"}
    ok(client.post(f"{MLFLOW}/model-versions/set-tag", json=tag))
    ok(client.request("DELETE", f"{MLFLOW}/model-versions/delete-tag",
                      json={"name": "churn", "version": "1", "key": "validated"}))  # fmt: skip
    alias = {"name": "churn", "alias": "champion", "version": "1"}
    ok(client.post(f"{MLFLOW}/registered-models/alias", json=alias))
    ok(client.request("DELETE", f"{MLFLOW}/registered-models/alias",
                      json={"name": "churn", "alias": "champion"}))  # fmt: skip
    return str(run["run_id"])


MLFLOW_PAIRS = [
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
]


def test_registry_changes_arrive_signed_in_mlflow_shape(hub: Hub, receiver: Receiver) -> None:
    hook = hub.hook(receiver.url, MLFLOW_PAIRS)
    run_id = registry_changes(hub.client)
    outcomes = hub.deliver_all()
    assert [o.state.value for o in outcomes] == ["succeeded"] * 6
    assert all(r.signature_ok for r in receiver.received)
    got = [(r.json()["entity"], r.json()["action"], r.json()["data"]) for r in receiver.received]
    assert got == [
        ("registered_model", "created",
         {"name": "churn", "tags": {"team": "lims"}, "description": "churn model"}),
        ("model_version", "created",
         {"name": "churn", "version": "1", "source": f"runs:/{run_id}/model", "run_id": run_id,
          "tags": {}, "description": None}),
        ("model_version_tag", "set",
         {"name": "churn", "version": "1", "key": "validated", "value": "yes"}),
        ("model_version_tag", "deleted", {"name": "churn", "version": "1", "key": "validated"}),
        ("model_version_alias", "created", {"name": "churn", "alias": "champion", "version": "1"}),
        ("model_version_alias", "deleted", {"name": "churn", "alias": "champion"}),
    ]  # fmt: skip
    first = receiver.received[0]
    assert set(first.json()) == {"entity", "action", "timestamp", "data"}
    assert first.headers["content-type"] == "application/json"
    ids = {r.headers["x-mlflow-delivery-id"] for r in receiver.received}
    assert len(ids) == 6
    log = hub.deliveries(hook)
    assert {d["delivery_id"] for d in log} == ids
    assert all(d["state"] == "succeeded" and d["last_status_code"] == 200 for d in log)
    assert all(d["attempt_log"][0]["latency_ms"] is not None for d in log)
    # the consumer run again over the same events makes no second delivery
    hub.cursor = 0
    assert hub.consume() == []


def test_run_end_and_scope(hub: Hub, receiver: Receiver) -> None:
    other = ok(hub.client.post(f"{MLFLOW}/experiments/create", json={"name": "other"}))
    everything = hub.hook(receiver.url, ["run.finished", "run.failed", "run.killed"])
    scoped = hub.hook(
        receiver.url, ["run.finished"], scope={"experiment_id": other["experiment_id"]}
    )
    ended = []
    for experiment, status in (("0", "FINISHED"), (other["experiment_id"], "FINISHED"),
                               ("0", "FAILED"), ("0", "RUNNING")):  # fmt: skip
        run = ok(hub.client.post(f"{MLFLOW}/runs/create", json={"experiment_id": experiment}))
        rid = run["run"]["info"]["run_id"]
        ok(hub.client.post(f"{MLFLOW}/runs/update", json={"run_id": rid, "status": status,
                           "end_time": 1234}))  # fmt: skip
        ended.append(rid)
    hub.deliver_all()
    assert [d["action"] for d in reversed(hub.deliveries(everything))] == ["finished"] * 2 + [
        "failed"
    ]
    (only,) = hub.deliveries(scoped)
    assert only["action"] == "finished"
    bodies = [r.json() for r in receiver.received]
    mine = [b for b in bodies if b["data"]["run_id"] == ended[1]]
    assert len(mine) == 2  # the global hook and the scoped one
    assert mine[0]["data"]["experiment_id"] == other["experiment_id"]
    assert mine[0]["data"]["status"] == "FINISHED"


def test_failing_then_recovering_receiver_is_retried(hub: Hub, receiver: Receiver) -> None:
    hub.configure(backoff_s=30.0)
    hook = hub.hook(receiver.url, ["registered_model.created"])
    receiver.reply(Reply(500, body=b"boom"), Reply(200, body=b"fine"))
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    now = hub.now
    assert first.state.value == "pending"
    assert first.retry_after == 30.0
    assert first.status_code == 500
    delivery = first.delivery_id
    early = hub.service.attempt_delivery(delivery, now + 10_000)
    assert early.attempted is False  # not due yet: nothing sent
    assert len(receiver.received) == 1
    second = hub.service.attempt_delivery(delivery, now + 30_000)
    assert second.state.value == "succeeded"
    (log,) = hub.deliveries(hook)
    assert log["attempts"] == 2
    assert [a["status_code"] for a in log["attempt_log"]] == [500, 200]
    assert log["attempt_log"][0]["response_excerpt"] == "boom"
    assert log["response_excerpt"] == "fine"
    ids = {r.headers["x-mlflow-delivery-id"] for r in receiver.received}
    assert ids == {delivery}  # the same delivery id on every attempt
    assert all(r.signature_ok for r in receiver.received)


def test_retry_after_is_honoured(hub: Hub, receiver: Receiver) -> None:
    hub.hook(receiver.url, ["registered_model.created"])
    receiver.reply(Reply(429, headers={"Retry-After": "120"}), Reply(503), Reply(200))
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    now = hub.now
    assert first.retry_after == 120.0
    assert hub.service.attempt_delivery(first.delivery_id, now + 119_000).attempted is False
    second = hub.service.attempt_delivery(first.delivery_id, now + 120_000)
    assert second.status_code == 503
    assert second.retry_after == hub.service.config.backoff(2)
    third = hub.service.attempt_delivery(first.delivery_id, now + 10_000_000)
    assert third.state.value == "succeeded"


def test_gives_up_after_max_attempts(hub: Hub, receiver: Receiver) -> None:
    hub.configure(max_attempts=2)
    hook = hub.hook(receiver.url, ["registered_model.created"])
    receiver.default = Reply(502)
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    now = hub.now
    last = hub.service.attempt_delivery(first.delivery_id, now + 10_000_000)
    assert last.state.value == "failed"
    assert "gave up after 2 attempts" in (last.error or "")
    assert hub.deliveries(hook)[0]["state"] == "failed"


def test_attempts_are_safe_to_repeat(hub: Hub, receiver: Receiver) -> None:
    """A job run again after its delivery succeeded sends nothing; a delivery whose webhook
    was deleted since is reported failed, not an error."""
    hook = hub.hook(receiver.url, ["registered_model.created"])
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    again = hub.service.attempt_delivery(first.delivery_id)
    assert again.attempted is False
    assert again.state.value == "succeeded"
    assert len(receiver.received) == 1
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "n"}))
    made = hub.consume()
    assert hub.client.delete(f"{V1}/webhooks/{hook}").status_code == 204
    gone = hub.service.attempt_delivery(made[0])
    assert gone.state.value == "failed"
    assert gone.attempted is False
    assert len(receiver.received) == 1


def test_client_errors_are_not_retried(hub: Hub, receiver: Receiver) -> None:
    hub.hook(receiver.url, ["registered_model.created"])
    receiver.reply(Reply(404))
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    assert first.state.value == "failed"
    assert first.retry_after is None


def test_slow_receiver_times_out_and_is_retried(hub: Hub, receiver: Receiver) -> None:
    hub.configure(timeout_s=0.3)
    hook = hub.hook(receiver.url, ["registered_model.created"])
    receiver.reply(Reply(200, delay_s=2.0))
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    assert first.state.value == "pending"
    assert "timed out" in (first.error or "")
    assert hub.deliveries(hook)[0]["attempt_log"][0]["status_code"] is None


def test_redirects_are_not_followed(hub: Hub, receiver: Receiver) -> None:
    hook = hub.hook(receiver.url, ["registered_model.created"])
    where = "http://169.254.169.254/latest/meta-data/"
    receiver.reply(Reply(302, headers={"Location": where}), Reply(307, headers={"Location": "/x"}))
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    assert first.state.value == "failed"
    assert "redirect" in (first.error or "")
    assert where in (first.error or "")
    assert len(receiver.received) == 1  # the redirect target was never asked
    assert hub.deliveries(hook)[0]["last_status_code"] == 302


def test_a_disabled_hook_gets_no_deliveries_but_can_be_tested(hub: Hub, receiver: Receiver) -> None:
    hook = hub.hook(receiver.url, ["registered_model.created"], status="DISABLED")
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    assert hub.deliver_all() == []
    result = ok(hub.client.post(f"{MLFLOW}/webhooks/{hook}/test"))["result"]
    assert result == {"success": True, "response_status": 200, "response_body": "ok"}
    assert len(receiver.received) == 1


def test_redeliver(hub: Hub, receiver: Receiver) -> None:
    hook = hub.hook(receiver.url, ["registered_model.created"])
    receiver.reply(Reply(400))
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    assert first.state.value == "failed"
    again = ok(hub.client.post(f"{V1}/webhooks/deliveries/{first.delivery_id}/redeliver"))
    assert again["state"] == "pending"
    refused = hub.client.post(f"{V1}/webhooks/deliveries/{first.delivery_id}/redeliver")
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "INVALID_STATE"
    done = hub.service.attempt_delivery(first.delivery_id)
    assert done.state.value == "succeeded"
    (log,) = hub.deliveries(hook)
    assert [a["status_code"] for a in log["attempt_log"]] == [400, 200]
    assert [r.headers["x-mlflow-delivery-id"] for r in receiver.received] == [first.delivery_id] * 2
    found = hub.db.read(
        lambda c: events.search(c, EventQuery(action="webhook.redeliver", entity_id=hook))
    )
    assert len(found) == 1
    missing = hub.client.post(f"{V1}/webhooks/deliveries/nope/redeliver")
    assert missing.status_code == 404


def test_auto_disable_after_consecutive_failures(hub: Hub, receiver: Receiver) -> None:
    hub.configure(max_attempts=1, disable_after=2)
    failing = hub.hook(receiver.url, ["registered_model.created"])
    watcher = hub.hook(receiver.url, ["webhook.disabled"], name="watcher")
    receiver.reply(Reply(500), Reply(500))
    for name in ("a", "b"):
        ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": name}))
        hub.deliver_all()
    state = ok(hub.client.get(f"{V1}/webhooks/{failing}"))
    assert state["status"] == "DISABLED"
    assert state["consecutive_failures"] == 2
    (event,) = hub.db.read(
        lambda c: events.search(c, EventQuery(action="webhook.disable", entity_id=failing))
    )
    assert event.actor == "system"
    assert event.after["status"] == "DISABLED"
    # a disabled hook gets no more deliveries; the watcher hears of the disabling
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "c"}))
    hub.deliver_all()
    assert len(hub.deliveries(failing)) == 2
    (told,) = hub.deliveries(watcher)
    assert told["entity"] == "webhook"
    assert told["action"] == "disabled"
    assert receiver.received[-1].json()["data"]["webhook_id"] == failing
    # re-enabling clears the count
    enabled = ok(hub.client.patch(f"{V1}/webhooks/{failing}", json={"status": "ACTIVE"}))
    assert enabled["consecutive_failures"] == 0


def test_secret_is_encrypted_at_rest_and_never_returned(hub: Hub, receiver: Receiver) -> None:
    hook = hub.hook(receiver.url, ["registered_model.created"])
    raw = hub.db.read(
        lambda c: c.execute(
            select(webhooks_table.c.secret).where(webhooks_table.c.webhook_id == hook)
        ).scalar_one()
    )
    assert raw
    assert SECRET not in raw
    assert hub.service.sealer.open(raw) == SECRET
    answers = [
        hub.client.get(f"{V1}/webhooks/{hook}").text,
        hub.client.get(f"{V1}/webhooks").text,
        hub.client.get(f"{MLFLOW}/webhooks/{hook}").text,
        hub.client.get(f"{MLFLOW}/webhooks").text,
        hub.client.get(f"{V1}/audit").text,
        hub.client.patch(f"{MLFLOW}/webhooks/{hook}", json={"secret": "another secret"}).text,
    ]
    for text in answers:
        assert SECRET not in text
        assert "another secret" not in text
        assert raw not in text
    assert ok(hub.client.get(f"{V1}/webhooks/{hook}"))["has_secret"] is True


def test_delivery_time_check_connects_to_the_checked_address(hub: Hub, receiver: Receiver) -> None:
    """A name allowed by the list is resolved once per attempt and the attempt connects to
    that address, with the name in the Host header; when the name's address changes to a
    refused one, nothing is sent."""
    port = int(receiver.url.split(":")[2].split("/")[0])
    table = {"hooks.test": ["127.0.0.1"], "public.test": ["93.184.216.34"]}
    hub.configure(resolve=lambda host, _port: table[host])
    hub.configure(allow=dataclasses.replace(hub.service.config.allow,
                  names=frozenset({"127.0.0.1", "hooks.test"})))  # fmt: skip
    hook = hub.hook(f"http://hooks.test:{port}/hook", ["registered_model.created"])
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
    (first,) = hub.deliver_all()
    assert first.state.value == "succeeded"
    assert receiver.received[0].headers["host"] == f"hooks.test:{port}"
    # DNS changes between create and delivery: public at create, loopback at delivery
    moved = hub.hook(f"http://public.test:{port}/hook", ["registered_model.created"])
    table["public.test"] = ["127.0.0.1"]
    ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "n"}))
    outcomes = hub.deliver_all()
    refused = [o for o in outcomes if o.state.value == "failed"]
    assert len(refused) == 1
    assert "loopback" in (refused[0].error or "")
    assert len(receiver.received) == 2  # the hooks.test delivery for "n", not the moved one
    assert hub.deliveries(moved)[0]["error"]
    assert hook != moved


def test_pending_deliveries_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    """The consumer's deliveries are rows: a server that stops before sending them (here the
    app is closed; the job engine's `kill -9` test is the lead's) leaves them pending, and
    the next server sends them, each once, signed."""
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'restart.db'}",
        webhook_allow_hosts=("127.0.0.1",),
        secret_key="a test secret key of enough length",
        run_jobs=False,  # the tests drive the outbox and the attempts themselves
    )
    with TestClient(create_app(settings)) as client:
        first = Hub(client)
        hook = first.hook(receiver.url, ["registered_model.created"])
        for name in ("a", "b"):
            ok(client.post(f"{MLFLOW}/registered-models/create", json={"name": name}))
        made = first.consume()
        assert len(made) == 2
    assert receiver.received == []
    with TestClient(create_app(settings)) as client:
        second = Hub(client)
        outcomes = second.service.run_due()
        assert sorted(o.delivery_id for o in outcomes) == sorted(made)
        assert all(o.state.value == "succeeded" for o in outcomes)
        assert second.service.run_due() == []  # nothing is due twice
        assert [d["state"] for d in second.deliveries(hook)] == ["succeeded"] * 2
    assert sorted(r.json()["data"]["name"] for r in receiver.received) == ["a", "b"]
    assert all(r.signature_ok for r in receiver.received)


def test_https_connects_to_the_checked_address_and_checks_the_name(
    hub: Hub, tmp_path: Path
) -> None:
    """https to a name: the attempt connects to the address the name was checked at, sends
    the name as TLS server name and checks the certificate against it (a CA the server is
    told to trust); the same receiver by address fails verification (its certificate names
    hooks.test only), so verification is on."""
    ca, cert, key = make_tls(tmp_path, "hooks.test")
    with receiving(SECRET, tls=(cert, key)) as receiver:
        hub.configure(
            ca_bundle=str(ca),
            resolve=lambda host, _port: {"hooks.test": ["127.0.0.1"]}[host],
            allow=dataclasses.replace(
                hub.service.config.allow, names=frozenset({"127.0.0.1", "hooks.test"})
            ),
        )
        by_name = hub.hook(f"https://hooks.test:{receiver.port}/hook", ["registered_model.created"])
        by_address = hub.hook(receiver.url, ["registered_model.created"], name="by-address")
        ok(hub.client.post(f"{MLFLOW}/registered-models/create", json={"name": "m"}))
        outcomes = {o.delivery_id: o for o in hub.deliver_all()}
        (named,) = hub.deliveries(by_name)
        (addressed,) = hub.deliveries(by_address)
        assert outcomes[named["delivery_id"]].state.value == "succeeded"
        assert outcomes[addressed["delivery_id"]].state.value == "pending"  # retried later
        assert "CERTIFICATE_VERIFY_FAILED" in (addressed["error"] or "")
        (got,) = receiver.received
        assert got.headers["host"] == f"hooks.test:{receiver.port}"
        assert got.signature_ok is True


PROMPT_PAIRS = [
    "prompt.created",
    "prompt_version.created",
    "prompt_tag.set",
    "prompt_tag.deleted",
    "prompt_version_tag.set",
    "prompt_alias.created",
    "prompt_alias.deleted",
    "registered_model.created",
    "model_version.created",
]


def test_prompt_changes_are_prompt_events(hub: Hub, receiver: Receiver) -> None:
    """A prompt (as mlflow 3's prompt registry writes one: a registered model tagged
    ``mlflow.prompt.is_prompt``) gives MLflow's ``prompt*`` events, not the model ones."""
    hub.hook(receiver.url, PROMPT_PAIRS)
    c = hub.client
    tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}, {"key": "team", "value": "qa"}]
    ok(c.post(f"{MLFLOW}/registered-models/create", json={"name": "greeting", "tags": tags}))
    vtags = [
        {"key": "mlflow.prompt.is_prompt", "value": "true"},
        {"key": "mlflow.prompt.text", "value": "Hello {{name}}!"},
        {"key": "_mlflow_prompt_type", "value": "text"},
        {"key": "lang", "value": "en"},
    ]
    # (mlflow's prompt registry sends source "prompt-template", which Cairn's registry
    # refuses today: a run source stands in, the webhook side is what is tested here)
    run = ok(c.post(f"{MLFLOW}/runs/create", json={"experiment_id": "0"}))["run"]["info"]
    ok(c.post(f"{MLFLOW}/model-versions/create", json={"name": "greeting", "source":
              f"runs:/{run['run_id']}/prompt", "tags": vtags, "description": "first"}))  # fmt: skip
    ok(c.post(f"{MLFLOW}/registered-models/set-tag",
              json={"name": "greeting", "key": "owner", "value": "ana"}))  # fmt: skip
    ok(c.request("DELETE", f"{MLFLOW}/registered-models/delete-tag",
                 json={"name": "greeting", "key": "owner"}))  # fmt: skip
    ok(c.post(f"{MLFLOW}/model-versions/set-tag",
              json={"name": "greeting", "version": "1", "key": "ok", "value": "yes"}))  # fmt: skip
    ok(c.post(f"{MLFLOW}/registered-models/alias",
              json={"name": "greeting", "alias": "prod", "version": "1"}))  # fmt: skip
    ok(c.request("DELETE", f"{MLFLOW}/registered-models/alias",
                 json={"name": "greeting", "alias": "prod"}))  # fmt: skip
    hub.deliver_all()
    got = [(r.json()["entity"], r.json()["action"], r.json()["data"]) for r in receiver.received]
    assert got == [
        ("prompt", "created", {"name": "greeting", "tags": {"team": "qa"}, "description": None}),
        ("prompt_version", "created",
         {"name": "greeting", "version": "1", "template": "Hello {{name}}!",
          "tags": {"lang": "en"}, "description": "first"}),
        ("prompt_tag", "set", {"name": "greeting", "key": "owner", "value": "ana"}),
        ("prompt_tag", "deleted", {"name": "greeting", "key": "owner"}),
        ("prompt_version_tag", "set",
         {"name": "greeting", "version": "1", "key": "ok", "value": "yes"}),
        ("prompt_alias", "created", {"name": "greeting", "alias": "prod", "version": "1"}),
        ("prompt_alias", "deleted", {"name": "greeting", "alias": "prod"}),
    ]  # fmt: skip
