"""Webhooks with the stock mlflow 3.17 client against a live `cairn server` (SQLite): every
webhook call of ``MlflowClient`` unchanged, and the test delivery it asks for arriving at a
loopback receiver that verifies MLflow's signature scheme."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.server import CairnServer, start_server
from tests.compat.test_auth_clients import run_script
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.compat

SECRET = "a shared secret for the receiver"


class Served:
    def __init__(self, server: CairnServer):
        self.server = server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving(SECRET) as found:
        yield found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("webhooks-client")
    env = {"CAIRN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    servers = start_server("sqlite", f"sqlite:///{work / 'cairn.db'}", work, (), env)
    try:
        yield Served(next(servers))
    finally:
        servers.close()


def test_stock_client_webhook_calls(served: Served, receiver: Receiver, tmp_path: Path) -> None:
    env = {"RECEIVER_URL": receiver.url, "WEBHOOK_SECRET": SECRET}
    seen = run_script(served, "mlflow3", "_webhooks_client", env, tmp_path)  # type: ignore[arg-type]
    assert seen["name"] == "registry-hook"
    assert seen["url"] == receiver.url
    assert seen["events"] == ["model_version.created", "model_version_alias.created"]
    assert seen["status"] == "ACTIVE"
    assert seen["description"] == "tells CI"
    assert seen["secret"] is None  # never returned
    assert seen["created"] > 0
    assert seen["page_sizes"] == [1, 1]
    assert seen["token"] is True
    assert seen["updated_description"] == "tells CI and chat"
    assert seen["updated_events"] == ["model_version_tag.set"]
    assert seen["updated_status"] == "ACTIVE"
    assert seen["test"] == [True, 200, "ok"]
    assert seen["test_event"] == [True, 200]
    assert seen["after_delete"] == [seen["id"]]
    assert seen["missing"] == "RESOURCE_DOES_NOT_EXIST"
    assert seen["bad_url"] == "INVALID_PARAMETER_VALUE"
    assert seen["metadata_url"] == "INVALID_PARAMETER_VALUE"
    # the two test deliveries arrived signed as MLflow signs, with MLflow's payload shape
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.signature_ok is True
    assert second.signature_ok is True
    assert first.json()["entity"] == "model_version_tag"
    assert first.json()["action"] == "set"
    assert set(first.json()) == {"entity", "action", "timestamp", "data"}
    assert second.json()["entity"] == "registered_model"
    assert first.headers["x-mlflow-delivery-id"] != second.headers["x-mlflow-delivery-id"]
