"""Operating a server: ``/metrics`` in Prometheus' format and ``/ready``, on every backend.

The metrics are parsed with prometheus-client's own parser and checked against requests the
test made (counts by method, route template and status), the SQLite writer's group sizes, the
job and webhook-delivery gauges; a scan of unknown paths stays one series. ``/metrics`` is
shared with the UI's metrics page: a browser gets the page, a scraper the numbers. ``/ready``
says 503 naming the revisions when the schema is not the one the server needs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings
from tests.api import basic, root_app

API = "/api/2.0/mlflow"
ADMIN, ADMIN_PASSWORD = "root", "root's long password"
SCRAPER_ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels."""
    r = client.get("/metrics", headers={"accept": SCRAPER_ACCEPT})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def requests_of(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], **labels: str
) -> float:
    key = ("cairn_http_requests_total", tuple(sorted(labels.items())))
    return found.get(key, 0.0)


def test_requests_are_counted_by_route_template_and_status(any_client: TestClient) -> None:
    c = any_client
    eid = c.post(f"{API}/experiments/create", json={"name": "ops"}).json()["experiment_id"]
    rid = c.post(f"{API}/runs/create", json={"experiment_id": eid}).json()["run"]["info"]["run_id"]
    for step in range(7):
        point = {"run_id": rid, "key": "loss", "value": 1.0, "timestamp": 1, "step": step}
        assert c.post(f"{API}/runs/log-metric", json=point).status_code == 200
    assert c.post(f"{API}/runs/log-metric", json={"run_id": rid}).status_code == 400
    for i in range(3):  # parametrised MLflow route: labelled by its template, not the id
        assert c.get(f"{API}/logged-models/m-{i}abc").status_code == 404
    for i in range(25):  # a scan: one series, whatever the paths
        c.post(f"/api/2.0/scan-{i}/x", json={})
    found = samples(c)
    log_metric = f"{API}/runs/log-metric"
    assert requests_of(found, method="POST", route=log_metric, status="200") == 7
    assert requests_of(found, method="POST", route=log_metric, status="400") == 1
    template = f"{API}/logged-models/{{model_id}}"
    assert requests_of(found, method="GET", route=template, status="404") == 3
    assert requests_of(found, method="POST", route="unmatched", status="404") == 25
    routes = {
        dict(labels)["route"] for name, labels in found if name == "cairn_http_requests_total"
    }
    assert not any("scan-" in r or "m-0abc" in r for r in routes), routes
    latency = (
        "cairn_http_request_duration_seconds_count",
        (("method", "POST"), ("route", log_metric)),
    )
    assert found[latency] == 8
    # the store's gauges are there on every backend
    assert found[("cairn_database_up", ())] == 1
    assert ("cairn_jobs_oldest_pending_age_seconds", ()) in found
    assert ("cairn_sqlite_writer_queue_depth", ()) in found
    assert found[("cairn_db_pool_connections", (("state", "kept"),))] >= 1


def test_the_sqlite_writer_reports_its_group_sizes(client: TestClient) -> None:
    c = client
    eid = c.post(f"{API}/experiments/create", json={"name": "groups"}).json()["experiment_id"]
    before = samples(c).get(("cairn_sqlite_write_group_size_count", ()), 0.0)
    for _ in range(4):
        assert c.post(f"{API}/runs/create", json={"experiment_id": eid}).status_code == 200
    found = samples(c)
    assert found[("cairn_sqlite_write_group_size_count", ())] >= before + 4
    assert found[("cairn_sqlite_write_group_size_sum", ())] >= 4


def test_webhook_deliveries_and_jobs_are_gauged_by_state(tmp_path: Path) -> None:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'hooks.db'}", webhook_allow_hosts=("127.0.0.1",)
    )
    with TestClient(create_app(settings)) as client:
        _gauges_match_the_tables(client)


def _gauges_match_the_tables(client: TestClient) -> None:
    hook = {"name": "h", "url": "http://127.0.0.1:9/hook", "events": ["registered_model.created"]}
    assert client.post("/api/v1/webhooks", json=hook).status_code == 201
    assert client.post(f"{API}/registered-models/create", json={"name": "m"}).status_code == 200
    db = root_app(client.app).state.db

    def count(table: str) -> int:
        return int(
            db.read(lambda conn: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar())
        )

    deadline = time.monotonic() + 60  # the outbox consumer makes the delivery after commit
    while count("webhook_deliveries") == 0:
        assert time.monotonic() < deadline, "no delivery was made within 60 s"
        time.sleep(0.05)
    before = count("webhook_deliveries"), count("jobs")
    found = samples(client)
    after = count("webhook_deliveries"), count("jobs")
    deliveries = {
        dict(labels)["state"]: value
        for (name, labels), value in found.items()
        if name == "cairn_webhook_deliveries"
    }
    # rows are only added meanwhile (the delivery's job may be retried): between the counts
    assert 1 <= before[0] <= sum(deliveries.values()) <= after[0]
    jobs = {dict(labels)["state"]: v for (name, labels), v in found.items() if name == "cairn_jobs"}
    assert before[1] <= sum(jobs.values()) <= after[1]


def test_a_browser_gets_the_ui_page_and_a_scraper_the_numbers(client: TestClient) -> None:
    page = client.get("/metrics", headers={"accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    scrape = client.get("/metrics", headers={"accept": "*/*"})
    assert scrape.headers["content-type"].startswith("text/plain")
    assert "cairn_http_requests_total" in scrape.text


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    monkeypatch.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'a.db'}", auth=True)
    with TestClient(create_app(settings)) as client:
        yield client


def test_with_access_control_a_signed_in_user_reads_the_metrics(guarded: TestClient) -> None:
    c = guarded
    anonymous = c.get("/metrics", headers={"accept": SCRAPER_ACCEPT})
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    admin = basic(ADMIN, ADMIN_PASSWORD)
    made = c.post(
        "/api/2.0/mlflow/users/create",
        json={"username": "prom", "password": "prometheus long password"},
        headers=admin,
    )
    assert made.status_code == 200, made.text
    user = basic("prom", "prometheus long password")
    scrape = c.get("/metrics", headers={"accept": SCRAPER_ACCEPT, **user})
    assert scrape.status_code == 200, scrape.text
    assert 'status="401"' in scrape.text  # the refusal above was counted
    # the UI's page stays public (the page itself asks for a login)
    assert c.get("/metrics", headers={"accept": BROWSER_ACCEPT}).status_code == 200
    assert c.get("/ready").text == "READY"  # a load balancer's probe needs no credentials


def test_ready_is_503_naming_the_revisions_when_the_schema_is_not_current(
    any_client: TestClient,
) -> None:
    c = any_client
    assert c.get("/ready").text == "READY"
    db = root_app(c.app).state.db
    (revision,) = db.read(
        lambda conn: conn.execute(text("SELECT version_num FROM alembic_version")).one()
    )
    db.write(lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '0001'")))
    try:
        r = c.get("/ready")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert "0001" in body["message"], body
        assert revision in body["message"], body
        assert "cairn db upgrade" in body["message"]
        assert c.get("/health").status_code == 200  # alive, just not ready
    finally:
        db.write(
            lambda conn: conn.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": revision}
            )
        )
    assert c.get("/ready").status_code == 200


def test_a_newer_schema_that_only_added_keeps_this_server_ready(any_client: TestClient) -> None:
    """A rolling upgrade: a newer Cairn migrated the database while this server runs. Only
    additions since its revision: still ready, still serving. A contract step: not ready."""
    c = any_client
    db = root_app(c.app).state.db
    (revision,) = db.read(
        lambda conn: conn.execute(text("SELECT version_num FROM alembic_version")).one()
    )

    def newer(oldest: str) -> None:
        db.write(lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '9999'")))
        db.write(
            lambda conn: conn.execute(
                text("UPDATE schema_compat SET oldest_compatible = :o"), {"o": oldest}
            )
        )

    try:
        newer(revision)
        assert c.get("/ready").text == "READY"
        made = c.post("/api/2.0/mlflow/experiments/create", json={"name": "during the roll"})
        assert made.status_code == 200, made.text
        newer("9998")
        r = c.get("/ready")
        assert r.status_code == 503, r.text
        assert "9999" in r.json()["message"]
    finally:
        db.write(
            lambda conn: conn.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": revision}
            )
        )
        db.write(
            lambda conn: conn.execute(
                text("UPDATE schema_compat SET oldest_compatible = :o"), {"o": "0015"}
            )
        )
    assert c.get("/ready").status_code == 200
