"""`cairn server --log-format json --access-log`, live: every line it writes is one JSON
object; each answered request is one access record carrying the id its response echoed and
the actor the access layer found; an error's traceback is one record with the request's id;
passwords, tokens and query strings never reach the log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.compat.server import start_server

ADMIN = ("log-admin", "a long enough admin password 7")
SECRET_QUERY = "sekrit-in-the-query-string"


def _records(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:  # one stray text line fails the whole claim
            raise AssertionError(f"not a JSON line in the server log: {line!r}") from exc
    return records


def _access(records: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    found = [r for r in records if r["logger"] == "cairn.access" and r["request_id"] == request_id]
    assert len(found) == 1, (request_id, found)
    return found[0]


def _wait_for(server: Any, request_id: str) -> list[dict[str, Any]]:
    """The log's records once the access record of ``request_id`` is in it (written after the
    response was sent, so it can trail the client's read by a moment)."""
    deadline = time.monotonic() + 10
    while True:
        records = _records(server.log_path.read_text("utf-8"))
        if any(r.get("request_id") == request_id and r["logger"] == "cairn.access"
               for r in records):  # fmt: skip
            return records
        assert time.monotonic() < deadline, f"no access record for {request_id} within 10 s"
        time.sleep(0.05)


def test_the_json_log_has_one_record_per_request_and_no_secrets(tmp_path: Path) -> None:
    env = {
        "CAIRN_ADMIN_USERNAME": ADMIN[0],
        "CAIRN_ADMIN_PASSWORD": ADMIN[1],
        "CAIRN_LOG_FORMAT": "json",
    }
    uri = f"sqlite:///{tmp_path / 'cairn.db'}"
    runs = start_server("sqlite", uri, tmp_path, ["--auth", "--access-log"], env)
    server = next(runs)
    try:
        with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as client:
            made = client.post(
                "/api/2.0/mlflow/experiments/create",
                json={"name": "logged"},
                headers={"X-Request-Id": "client-chosen-id-1"},
            )
            assert made.status_code == 200, made.text
            assert made.headers["x-request-id"] == "client-chosen-id-1"
            token = client.post("/api/v1/tokens", json={"name": "ci"}).json()["secret"]
            missing = client.get(
                "/api/2.0/mlflow/experiments/get",
                params={"experiment_id": "424242", "note": SECRET_QUERY},
            )
            assert missing.status_code == 404
        with httpx.Client(base_url=server.url, timeout=30) as anonymous:
            refused = anonymous.get("/api/2.0/mlflow/experiments/search?max_results=1")
            assert refused.status_code == 401
            login = anonymous.post(
                "/api/v1/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}
            )
            assert login.status_code == 200, login.text
            bearer = {"Authorization": f"Bearer {token}"}
            listed = anonymous.get("/api/2.0/mlflow/experiments/search", headers=bearer)
            assert listed.status_code == 200

        records = _wait_for(server, listed.headers["x-request-id"])
        created = _access(records, "client-chosen-id-1")
        assert created["method"] == "POST"
        assert created["path"] == created["route"] == "/api/2.0/mlflow/experiments/create"
        assert created["status"] == 200
        assert created["actor"] == ADMIN[0]
        assert created["client"] == "127.0.0.1"
        assert isinstance(created["duration_ms"], float)
        assert created["duration_ms"] >= 0
        assert created["bytes"] == len(made.content)
        assert created["level"] == "info"
        assert created["time"].endswith("Z")

        not_found = _access(records, missing.headers["x-request-id"])
        assert (not_found["status"], not_found["path"]) == (404, "/api/2.0/mlflow/experiments/get")
        assert _access(records, refused.headers["x-request-id"])["status"] == 401
        assert _access(records, listed.headers["x-request-id"])["actor"] == ADMIN[0]
        # the start banner is records too
        assert any("listening on" in r["message"] for r in records if r["logger"] == "cairn.server")

        text = server.log_path.read_text("utf-8")
        for secret in (ADMIN[1], token, SECRET_QUERY, "Bearer", "Authorization"):
            assert secret not in text, secret
    finally:
        runs.close()
