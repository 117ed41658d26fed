"""The destination is a thin layer over the SDK's REST client: its retries (every 5xx,
never a 4xx), its errors, and the auth settings of cairn.client.config."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from cairn.client import rest
from cairn.sync.errors import ServerRefused, SyncError
from cairn.sync.remote import Destination

URL = "http://127.0.0.1:9"


def _answers(
    *statuses: int, seen: list[httpx.Request]
) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = queue.pop(0) if queue else 200
        if status >= 400:
            return httpx.Response(
                status, json={"error_code": f"CODE_{status}", "message": f"said {status}"}
            )
        return httpx.Response(200, json={"experiment_id": "7"})

    return handle


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rest.time, "sleep", lambda s: None)
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_every_5xx_is_retried_and_the_call_succeeds() -> None:
    seen: list[httpx.Request] = []
    dest = Destination(URL, transport=httpx.MockTransport(_answers(501, 503, seen=seen)))
    assert dest.create_experiment("e", {}) == "7"
    assert len(seen) == 3
    assert seen[0].url.path == "/api/2.0/mlflow/experiments/create"


def test_a_4xx_is_a_refusal_with_its_code_and_is_not_retried() -> None:
    seen: list[httpx.Request] = []
    dest = Destination(URL, transport=httpx.MockTransport(_answers(429, seen=seen)))
    with pytest.raises(ServerRefused) as info:
        dest.create_experiment("e", {})
    assert (info.value.status, info.value.error_code) == (429, "CODE_429")
    assert str(info.value) == "POST /api/2.0/mlflow/experiments/create: said 429 (CODE_429)"
    assert len(seen) == 1


def test_retries_run_out_with_the_last_answer_named() -> None:
    seen: list[httpx.Request] = []
    dest = Destination(
        URL, retries=2, transport=httpx.MockTransport(_answers(*[502] * 5, seen=seen))
    )
    with pytest.raises(SyncError) as info:
        dest.create_experiment("e", {})
    assert not isinstance(info.value, ServerRefused)
    assert "the server answered 502: said 502" in str(info.value)
    assert len(seen) == 3


def test_a_create_that_lost_its_answer_is_found_not_repeated() -> None:
    seen: list[httpx.Request] = []
    dest = Destination(URL, transport=httpx.MockTransport(_answers(500, seen=seen)))
    out = dest.create_once("runs/create", {"experiment_id": "1"}, lambda: {"info": {}})
    assert out == {"found": {"info": {}}}
    assert len(seen) == 1


def test_auth_comes_from_the_sdks_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
    seen: list[httpx.Request] = []
    hooked: list[str] = []
    dest = Destination(
        URL,
        transport=httpx.MockTransport(_answers(seen=seen)),
        request_hook=lambda r: hooked.append(r.url.path),
    )
    dest.set_experiment_tag("1", "k", "v")
    assert seen[0].headers["Authorization"] == "Bearer s3cret"
    assert hooked == ["/api/2.0/mlflow/experiments/set-experiment-tag"]


def test_a_bad_tls_setting_is_a_sync_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "maybe")
    with pytest.raises(SyncError, match="MLFLOW_TRACKING_INSECURE_TLS"):
        Destination(URL)
