"""Jobs over HTTP (/api/v1/jobs, show, cancel, retry) with access control on: admins only,
filters and keyset paging, cancel and retry as change events, hostile input; and `cairn jobs`
against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cairn.cli import main
from cairn.jobs.registry import JobContext, job_kind, unregister
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store import jobs as job_store
from cairn.store.sql import now_ms
from tests.api import basic, root_app
from tests.client.servers import free_port
from tests.compat.server import _server_env
from tests.jobs.conftest import wait_for

ADMIN, ADMIN_PW = "root", "root-password-0001"
PW = "user-password-0001"
AS_ADMIN = basic(ADMIN, ADMIN_PW)
AS_ALICE = basic("alice", PW)
FAILING = "test.api.failing"
LATER = now_ms() + 3_600_000


def _ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def _error(answer: Any, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code, body
    return str(body["message"])


class World:
    def __init__(self, client: TestClient):
        self.client = client
        _ok(
            client.post(
                "/api/v1/users", json={"username": "alice", "password": PW}, headers=AS_ADMIN
            )
        )
        self.db = root_app(client.app).state.db

    def enqueue(self, kind: str, n: int = 1, **kw: Any) -> list[int]:
        return self.db.write(  # type: ignore[no-any-return]
            lambda c: [job_store.enqueue(c, kind, {"n": i}, **kw) for i in range(n)]
        )

    def job(self, job_id: int) -> dict[str, Any]:
        return _ok(self.client.get(f"/api/v1/jobs/{job_id}", headers=AS_ADMIN))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    @job_kind(FAILING, max_attempts=1)
    def failing(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise RuntimeError("always fails")

    path = tmp_path_factory.mktemp("jobs") / "jobs.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
        env.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PW)
        settings = Settings(backend_store_uri=f"sqlite:///{path}", auth=True)
        with TestClient(create_app(settings)) as client:
            yield World(client)
    unregister(FAILING)


def test_admins_list_and_read_jobs(world: World) -> None:
    ids = world.enqueue("jobs.noop", 3)
    wait_for(lambda: all(world.job(i)["state"] == "succeeded" for i in ids), what="3 jobs")
    page = _ok(world.client.get("/api/v1/jobs", params={"kind": "jobs.noop"}, headers=AS_ADMIN))
    listed = [j["id"] for j in page["jobs"]]
    assert listed[:3] == sorted(ids, reverse=True)
    job = world.job(ids[0])
    assert job["kind"] == "jobs.noop"
    assert job["payload"] == {"n": 0}
    assert job["result"]["attempt"] == 1


def test_non_admins_are_refused(world: World) -> None:
    (job_id,) = world.enqueue("jobs.noop", run_after=LATER)
    for method, path in (
        ("GET", "/api/v1/jobs"),
        ("GET", f"/api/v1/jobs/{job_id}"),
        ("POST", f"/api/v1/jobs/{job_id}/cancel"),
        ("POST", f"/api/v1/jobs/{job_id}/retry"),
    ):
        _error(world.client.request(method, path, headers=AS_ALICE), 403, "PERMISSION_DENIED")
        _error(world.client.request(method, path), 401, "UNAUTHENTICATED")
    assert world.job(job_id)["state"] == "pending"


def test_cancel_and_retry_are_change_events(world: World) -> None:
    (job_id,) = world.enqueue("jobs.noop", run_after=LATER)
    cancelled = _ok(world.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=AS_ADMIN))
    assert cancelled["state"] == "cancelled"
    message = _error(
        world.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=AS_ADMIN), 400, "INVALID_STATE"
    )
    assert "cancelled" in message
    retried = _ok(world.client.post(f"/api/v1/jobs/{job_id}/retry", headers=AS_ADMIN))
    assert retried["state"] == "pending"
    events = _ok(
        world.client.get(
            "/api/v1/audit",
            params={"entity_type": "job", "entity_id": str(job_id)},
            headers=AS_ADMIN,
        )
    )["events"]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("job.retry", ADMIN),
        ("job.cancel", ADMIN),
    ]
    assert events[1]["before"]["state"] == "pending"
    assert events[1]["after"]["state"] == "cancelled"


def test_a_failed_job_shows_its_error_and_can_be_retried(world: World) -> None:
    (job_id,) = world.enqueue(FAILING)
    wait_for(lambda: world.job(job_id)["state"] == "failed", what="the failure")
    assert world.job(job_id)["error"] == "RuntimeError: always fails"
    _error(
        world.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=AS_ADMIN), 400, "INVALID_STATE"
    )
    _ok(world.client.post(f"/api/v1/jobs/{job_id}/retry", headers=AS_ADMIN))
    wait_for(lambda: world.job(job_id)["state"] == "failed", what="the retried failure")
    listed = _ok(
        world.client.get(
            "/api/v1/jobs", params={"state": "failed", "kind": FAILING}, headers=AS_ADMIN
        )
    )
    assert [j["id"] for j in listed["jobs"]] == [job_id]


def test_keyset_paging_returns_every_job_once(world: World) -> None:
    ids = set(world.enqueue("test.api.paged", 23, run_after=LATER))
    found: list[int] = []
    token = None
    for _ in range(100):
        params: dict[str, Any] = {"kind": "test.api.paged", "max_results": 5}
        if token:
            params["page_token"] = token
        page = _ok(world.client.get("/api/v1/jobs", params=params, headers=AS_ADMIN))
        found.extend(j["id"] for j in page["jobs"])
        token = page["next_page_token"]
        if not token:
            break
    assert sorted(found) == sorted(ids)
    assert len(found) == len(ids)
    first = _ok(
        world.client.get(
            "/api/v1/jobs", params={"kind": "test.api.paged", "max_results": 5}, headers=AS_ADMIN
        )
    )
    other = world.client.get(
        "/api/v1/jobs",
        params={"kind": "jobs.noop", "page_token": first["next_page_token"]},
        headers=AS_ADMIN,
    )
    assert "page_token" in _error(other, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/jobs", {"state": "exploded"}, "state"),
        ("/api/v1/jobs", {"max_results": 0}, "max_results"),
        ("/api/v1/jobs", {"max_results": 100000}, "max_results"),
        ("/api/v1/jobs", {"max_results": "many"}, "max_results"),
        ("/api/v1/jobs", {"kind": "k" * 2000}, "kind"),
        ("/api/v1/jobs", {"page_token": "not-a-token"}, "page_token"),
        ("/api/v1/jobs/abc", {}, "job_id"),
        ("/api/v1/jobs/0", {}, "job_id"),
        ("/api/v1/jobs/99999999999999999999999", {}, "job_id"),
    ],
)
def test_hostile_input_is_a_400_naming_the_field(
    world: World, path: str, params: dict[str, Any], field: str
) -> None:
    message = _error(
        world.client.get(path, params=params, headers=AS_ADMIN), 400, "INVALID_PARAMETER_VALUE"
    )
    assert field in message


def test_an_unknown_job_is_a_404(world: World) -> None:
    for method, path in (
        ("GET", "/api/v1/jobs/987654"),
        ("POST", "/api/v1/jobs/987654/cancel"),
        ("POST", "/api/v1/jobs/987654/retry"),
    ):
        _error(world.client.request(method, path, headers=AS_ADMIN), 404, "RESOURCE_DOES_NOT_EXIST")


def test_the_routes_are_in_openapi(world: World) -> None:
    spec = _ok(world.client.get("/openapi.json", headers=AS_ADMIN))
    for path in ("/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/cancel"):
        assert path in spec["paths"]
    assert "/api/v1/jobs/{job_id}/retry" in spec["paths"]


def test_the_cli_lists_shows_cancels_and_retries(tmp_path: Path) -> None:
    """`cairn jobs` against a live `cairn server` (access control off)."""
    from tests.client.servers import server_on

    port = free_port()
    with server_on(port, tmp_path) as url:
        from cairn.store.db import Database

        db = Database(f"sqlite:///{tmp_path / 'cairn.db'}")
        db.start()
        try:
            job_id = db.write(lambda c: job_store.enqueue(c, "jobs.noop", {}, run_after=LATER))
        finally:
            db.close()
        env = {k: v for k, v in _server_env(tmp_path).items() if k != "CAIRN_HOME"}
        runner = CliRunner(env=env)
        base = ["jobs", "--tracking-uri", url]
        listed = runner.invoke(main, [*base, "list", "--json"])
        assert listed.exit_code == 0, listed.output
        assert f'"id": {job_id}' in listed.output
        table = runner.invoke(main, [*base, "list", "--state", "pending"])
        assert table.exit_code == 0, table.output
        assert "jobs.noop" in table.output
        shown = runner.invoke(main, [*base, "show", str(job_id)])
        assert '"state": "pending"' in shown.output
        cancelled = runner.invoke(main, [*base, "cancel", str(job_id)])
        assert '"state": "cancelled"' in cancelled.output, cancelled.output
        retried = runner.invoke(main, [*base, "retry", str(job_id), "--wait", "--timeout", "60"])
        assert retried.exit_code == 0, retried.output
        assert '"state": "succeeded"' in retried.output  # a retry is due at once
        missing = runner.invoke(main, [*base, "show", "987654"])
        assert missing.exit_code != 0
        assert "RESOURCE_DOES_NOT_EXIST" in missing.output
