"""The SDK's REST client takes an httpx transport, so tests and embedded mode can pass one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cairn.client import rest
from cairn.client.config import Target
from cairn.client.errors import CairnConnectionError, CairnRestError
from cairn.client.rest import RestClient

TARGET = Target(uri="http://127.0.0.1:9", url="http://127.0.0.1:9")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rest.time, "sleep", lambda s: None)


def _client(statuses: list[int], seen: list[httpx.Request], **kwargs: Any) -> RestClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses.pop(0) if statuses else 200
        if status >= 400:
            return httpx.Response(status, json={"error_code": "X", "message": "no"})
        return httpx.Response(200, json={"ok": True})

    return RestClient(TARGET, transport=httpx.MockTransport(handle), **kwargs)


def test_an_injected_transport_carries_the_calls() -> None:
    seen: list[httpx.Request] = []
    client = _client([503, 429], seen)
    assert client.call("GET", "experiments/get", params={"experiment_id": "1"}) == {"ok": True}
    assert [r.url.path for r in seen] == ["/api/2.0/mlflow/experiments/get"] * 3
    assert seen[0].headers["User-Agent"].startswith("cairn-sdk/")


def test_answers_outside_the_retry_statuses_fail_at_once() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(CairnRestError) as info:
        _client([501], seen).call("GET", "experiments/get")
    assert (info.value.status, info.value.error_code, len(seen)) == (501, "X", 1)
    seen.clear()
    assert _client([501], seen, retry_statuses={501}).call("GET", "experiments/get")
    assert len(seen) == 2


def test_the_retry_settings_can_be_given_per_client() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(CairnRestError):
        _client([503] * 5, seen, max_retries=1).call("GET", "experiments/get")
    assert len(seen) == 2
    assert RestClient(TARGET, backoff=0.25).delay(3) == 1.0


def test_streamed_bodies_are_read_again_for_each_attempt() -> None:
    seen: list[httpx.Request] = []
    bodies: list[bytes] = []

    def chunks() -> list[bytes]:
        return [b"ab", b"cd"]

    client = _client([502], seen)
    client.request("PUT", "/x", content=lambda: iter(chunks()), headers={"Content-Length": "4"})
    for request in seen:
        bodies.append(request.read())
    assert bodies == [b"abcd", b"abcd"]


def test_connection_errors_name_the_server() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = RestClient(TARGET, transport=httpx.MockTransport(refuse), max_retries=0)
    with pytest.raises(CairnConnectionError, match="127.0.0.1:9"):
        client.call("GET", "experiments/get")
