"""Hostile input found by the fuzzer, each class a 4xx in the one error shape naming the
field, on SQLite and PostgreSQL, with nothing stored: Unicode digits in ids and versions,
integers beyond 64 bits, a metric value ``true``, NUL characters, more bind parameters than
PostgreSQL takes, too many order_by keys, a body over the limit on any path. And what the
server logs: a 500 once, a client hanging up mid-body as one line."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from cairn.entities.errors import CairnError, ErrorCode
from cairn.server import limits
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.services.tracking import TrackingService
from tests.compat.server import start_server

API = "/api/2.0/mlflow"
BIG = 2**63


@pytest.fixture
def world(any_client: TestClient) -> dict[str, str]:
    c = any_client
    eid = c.post(f"{API}/experiments/create", json={"name": "hostile"}).json()["experiment_id"]
    rid = c.post(f"{API}/runs/create", json={"experiment_id": eid}).json()["run"]["info"]["run_id"]
    point = {"run_id": rid, "key": "k", "value": 1.5, "timestamp": 1, "step": 0}
    assert c.post(f"{API}/runs/log-metric", json=point).status_code == 200
    return {"experiment_id": eid, "run_id": rid}


def _refused(response: httpx.Response, field: str, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    message: str = body["message"]
    assert field in message, message
    return message


def _run_data(c: TestClient, rid: str) -> dict[str, Any]:
    data: dict[str, Any] = c.get(f"{API}/runs/get", params={"run_id": rid}).json()["run"]["data"]
    return data


@pytest.mark.parametrize("digits", ["²", "①", "٣", "9" * 30, str(BIG)])
def test_unicode_and_huge_digits_in_ids_and_versions_are_400(
    any_client: TestClient, world: dict[str, str], digits: str
) -> None:
    c = any_client
    _refused(c.get(f"{API}/experiments/get", params={"experiment_id": digits}), "experiment_id")
    _refused(c.post(f"{API}/runs/search", json={"experiment_ids": [digits]}), "experiment_ids")
    _refused(c.get(f"{API}/model-versions/get", params={"name": "m", "version": digits}), "version")


@pytest.mark.parametrize("number", ["3000000000", "-26123943353612", str(BIG - 1)])
def test_ids_beyond_32_bits_name_nothing_on_every_backend(
    any_client: TestClient, world: dict[str, str], number: str
) -> None:
    """Experiment ids and versions are 32-bit columns: a wider one is an unknown id (404 or
    an empty answer), as on SQLite, never PostgreSQL's "integer out of range" as a 500."""
    c = any_client
    gone = {"error_code": "RESOURCE_DOES_NOT_EXIST"}
    assert c.post(f"{API}/registered-models/create", json={"name": "m"}).status_code == 200
    version = c.get(f"{API}/model-versions/get", params={"name": "m", "version": number})
    for r in (
        c.get(f"{API}/experiments/get", params={"experiment_id": number}),
        c.post(f"{API}/runs/create", json={"experiment_id": number}),
        c.post(f"{API}/experiments/set-experiment-tag",
               json={"experiment_id": number, "key": "k", "value": "v"}),
        *([version] if not number.startswith("-") else []),  # a negative version is a 400
    ):  # fmt: skip
        assert r.status_code == 404, r.text
        assert gone.items() <= r.json().items()
    for path, body in (
        ("/api/2.0/mlflow/runs/search", {"experiment_ids": [number]}),
        ("/api/2.0/mlflow/traces/search", {"experiment_ids": [number]}),
        ("/api/2.0/mlflow/logged-models/search", {"experiment_ids": [number]}),
        ("/ajax-api/2.0/mlflow/experiments/search-datasets", {"experiment_ids": [number]}),
    ):
        r = c.post(path, json=body)
        assert r.status_code == 200, (path, r.text)
    r = c.get("/api/v1/experiments/summary", params={"experiment_id": number})
    assert r.json() == {"experiments": []}, r.text
    r = c.get("/api/v1/datasets", params={"experiment_id": number})
    assert r.status_code == 200, r.text
    assert r.json()["datasets"] == []


def test_one_point_beyond_int64_refuses_the_batch_naming_it(
    any_client: TestClient, world: dict[str, str]
) -> None:
    c, rid = any_client, world["run_id"]
    before = _run_data(c, rid)
    metrics = [
        {"key": "a", "value": 1, "timestamp": 1, "step": 1},
        {"key": "a", "value": 1, "timestamp": 1, "step": BIG},
    ]
    r = c.post(f"{API}/runs/log-batch", json={"run_id": rid, "metrics": metrics})
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    _refused(r, "metrics[1].step")
    for field in ("timestamp", "step"):
        point = {"run_id": rid, "key": "a", "value": 1, "timestamp": 1, field: BIG}
        _refused(c.post(f"{API}/runs/log-metric", json=point), f"'{field}'")
    _refused(c.post(f"{API}/runs/create", json={"start_time": BIG}), "start_time")
    _refused(c.post(f"{API}/runs/update", json={"run_id": rid, "end_time": -BIG - 1}), "end_time")
    _refused(c.post(f"{API}/runs/search", json={"max_results": BIG}), "max_results")
    assert _run_data(c, rid) == before


def test_a_metric_value_true_is_refused(any_client: TestClient, world: dict[str, str]) -> None:
    c, rid = any_client, world["run_id"]
    for value in (True, False):
        point = {"run_id": rid, "key": "b", "value": value, "timestamp": 1}
        _refused(c.post(f"{API}/runs/log-metric", json=point), "'value'")
        batch = {"run_id": rid, "metrics": [{"key": "b", "value": value, "timestamp": 1}]}
        _refused(c.post(f"{API}/runs/log-batch", json=batch), "metrics[0].value")
    assert all(m["key"] != "b" for m in _run_data(c, rid)["metrics"])


def test_get_history_takes_max_results_beyond_32_bits(
    any_client: TestClient, world: dict[str, str]
) -> None:
    for max_results in (2**31, BIG - 1):
        q = {"run_id": world["run_id"], "metric_key": "k", "max_results": max_results}
        r = any_client.get(f"{API}/metrics/get-history", params=q)
        assert r.status_code == 200, r.text
        assert [m["value"] for m in r.json()["metrics"]] == [1.5]


def test_a_nul_character_is_refused_everywhere_naming_the_field(
    any_client: TestClient, world: dict[str, str]
) -> None:
    c, rid, eid = any_client, world["run_id"], world["experiment_id"]
    before = _run_data(c, rid)
    nul = "a\x00b"
    _refused(
        c.post(f"{API}/runs/log-parameter", json={"run_id": rid, "key": "p", "value": nul}),
        "'value'",
    )
    _refused(
        c.post(f"{API}/runs/set-tag", json={"run_id": rid, "key": "t", "value": nul}), "'value'"
    )
    batch = {"run_id": rid, "params": [{"key": "ok", "value": "1"}, {"key": "q", "value": nul}]}
    _refused(c.post(f"{API}/runs/log-batch", json=batch), "params[1].value")
    _refused(c.post(f"{API}/experiments/create", json={"name": nul}), "'name'")
    _refused(
        c.get(f"{API}/experiments/get-by-name", params={"experiment_name": nul}), "experiment_name"
    )
    view = {"name": nul, "experiment_id": eid, "state": {}}
    _refused(c.post("/api/v1/views", json=view), "'name'")
    assert _run_data(c, rid) == before
    names = [e["name"] for e in c.post(f"{API}/experiments/search", json={}).json()["experiments"]]
    assert not any("\x00" in n for n in names)


def test_more_values_than_bind_parameters_are_refused_clearly(
    any_client: TestClient, world: dict[str, str]
) -> None:
    c, eid = any_client, world["experiment_id"]
    ids = [str(i) for i in range(70_000)]
    _refused(c.post(f"{API}/runs/search", json={"experiment_ids": ids}), "experiment_ids")
    values = ",".join(f"'{i:032x}'" for i in range(100_000))
    text = f"attributes.run_id IN ({values})"
    _refused(c.post(f"{API}/runs/search", json={"experiment_ids": [eid], "filter": text}), "10000")
    ok = ",".join(f"'{i:032x}'" for i in range(10_000))
    r = c.post(
        f"{API}/runs/search",
        json={"experiment_ids": [eid], "filter": f"attributes.run_id IN ({ok})"},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("entity", ["metrics", "params", "tags", "attributes"])
def test_ordering_by_64_keys_is_refused(
    any_client: TestClient, world: dict[str, str], entity: str
) -> None:
    keys = [
        f"{entity}.k{i}" if entity != "attributes" else "attributes.start_time" for i in range(64)
    ]
    body = {"experiment_ids": [world["experiment_id"]], "order_by": keys}
    _refused(any_client.post(f"{API}/runs/search", json=body), "order_by")
    twenty = {"experiment_ids": [world["experiment_id"]], "order_by": keys[:20]}
    assert any_client.post(f"{API}/runs/search", json=twenty).status_code == 200


@pytest.fixture
def small_limit(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 's.db'}", max_request_bytes=1024)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize(
    "path",
    [f"{API}/experiments/create", f"{API}/nope", "/api/3.0/mlflow/server-info", "/api/v1/views"],
)
def test_a_body_over_the_limit_is_413_on_any_json_path(small_limit: TestClient, path: str) -> None:
    body = b'{"name": "' + b"x" * 2048 + b'"}'
    r = small_limit.post(path, content=body, headers={"content-type": "application/json"})
    _refused(r, "larger than the limit of 1024 bytes", 413)


def test_a_500_is_logged_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault injected into a service: answered 500 in the one shape, one log record with
    the traceback, on MLflow's table and on a FastAPI route."""

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(TrackingService, "summarize_experiments", broken)
    monkeypatch.setattr(TrackingService, "get_experiment", broken)
    for path, params in [
        ("/api/v1/experiments/summary", {"experiment_id": "0"}),
        (f"{API}/experiments/get", {"experiment_id": "0"}),
    ]:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            r = client.get(path, params=params)
        assert r.status_code == 500
        assert r.json()["error_code"] == "INTERNAL_ERROR"
        errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
        assert len(errors) == 1, [rec.getMessage() for rec in errors]
        assert errors[0].exc_info is not None


def test_a_client_hanging_up_mid_body_is_one_log_line(tmp_path: Path) -> None:
    gen = start_server(
        "sqlite",
        f"sqlite:///{tmp_path / 'h.db'}",
        tmp_path / "w",
        ("--log-level", "info") if False else (),
    )
    server = next(gen)
    try:
        offset = server.log_offset()
        host, port = server.url.removeprefix("http://").split(":")
        for path in (f"{API}/runs/log-batch", "/api/v1/views"):
            with socket.create_connection((host, int(port)), timeout=30) as s:
                s.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    'Content-Length: 1000\r\n\r\n{"run_id": '.encode()
                )
        assert httpx.get(server.url + "/health", timeout=30).status_code == 200
        log = server.log_since(offset)
        assert "Traceback" not in log, log
        assert "ClientDisconnect" not in log, log
    finally:
        gen.close()


def test_a_body_that_stops_arriving_is_408(monkeypatch: pytest.MonkeyPatch) -> None:
    """The body read timeout (shortened here): a client that declares a body and goes
    quiet is answered 408 ``REQUEST_TIMEOUT``; one that keeps sending is read."""
    monkeypatch.setattr(limits, "BODY_READ_TIMEOUT_S", 0.2)

    async def quiet() -> dict[str, Any]:
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    with pytest.raises(CairnError) as caught:
        asyncio.run(limits.read_body(quiet, 1024))
    assert caught.value.error_code is ErrorCode.REQUEST_TIMEOUT
    assert caught.value.http_status == 408

    chunks = [b'{"a":', b" 1", b"}"]

    async def steady() -> dict[str, Any]:
        await asyncio.sleep(0.1)
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    assert asyncio.run(limits.read_body(steady, 1024)) == b'{"a": 1}'


def test_the_openapi_description_matches_what_the_server_does(
    client: TestClient,
) -> None:
    doc = client.get("/openapi.json").json()
    ops = [op for item in doc["paths"].values() for op in item.values()]
    statuses = {status for op in ops for status in op["responses"]}
    assert "422" not in statuses
    assert all("4XX" in op["responses"] for op in ops)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path in ("/health", "/version"):
        assert "text/plain" in doc["paths"][path]["get"]["responses"]["200"]["content"]
    history = doc["paths"][f"{API}/metrics/get-history"]["get"]["parameters"]
    assert {p["name"] for p in history if p["required"]} == {"metric_key"}
    r = client.delete("/api/v1/version")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"], r.headers
    r = client.get(f"{API}/runs/log-metric")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST", r.headers
