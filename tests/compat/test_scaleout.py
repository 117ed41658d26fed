"""Three ``cairn server`` processes on one PostgreSQL (then MariaDB) database behind nginx
(deploy/nginx.conf, TLS at nginx): whatever one server made, another one serves.

Every request here goes through the balancer on a new connection, so nginx's round-robin picks
the server; ``X-Cairn-Upstream`` (added by deploy/nginx.conf) says which one answered, and each
test checks that more than one did.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from cairn.store.db import normalize_uri
from cairn.store.schema import periodic_runs
from tests.compat.balancer import CLUSTER_BACKENDS, UPSTREAM_HEADER, Cluster, start_cluster
from tests.compat.test_stock_client import run_workflow_script

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts"
SERVERS = 3

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module", params=CLUSTER_BACKENDS)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Three servers on one fresh PostgreSQL, then MariaDB, database."""
    yield from start_cluster(tmp_path_factory.mktemp("scaleout"), SERVERS, request.param)


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, f"{resp.status_code} {resp.text[:300]}"
    return resp.json() if resp.content else None


def answered_by(resp: httpx.Response) -> str:
    upstream = resp.headers.get(UPSTREAM_HEADER, "")
    assert upstream, f"nginx did not say which server answered: {dict(resp.headers)}"
    return upstream


def page_through(
    client: httpx.Client, method: str, path: str, body: dict[str, Any], items: str
) -> tuple[list[dict[str, Any]], set[str]]:
    """Every item of a search, page by page (each page on whichever server nginx picks), and
    the servers that answered."""
    found: list[dict[str, Any]] = []
    servers: set[str] = set()
    token: str | None = None
    for _ in range(100):  # bounded: a token that never ends fails below
        query = {**body, **({"page_token": token} if token else {})}
        if method == "GET":
            resp = client.get(path, params=query)
        else:
            resp = client.post(path, json=query)
        data = ok(resp)
        servers.add(answered_by(resp))
        found.extend(data.get(items, []))
        token = data.get("next_page_token")
        if not token:
            return found, servers
    raise AssertionError(f"{path}: still paging after 100 pages")


def test_page_tokens_made_by_one_server_work_on_another(cluster: Cluster) -> None:
    with cluster.client() as client:
        exp_ids = [
            ok(client.post(f"{API}/experiments/create", json={"name": f"paging-{i}"}))[
                "experiment_id"
            ]
            for i in range(7)
        ]
        run_ids = {
            ok(
                client.post(
                    f"{API}/runs/create",
                    json={"experiment_id": exp_ids[0], "run_name": f"r{i}", "start_time": i},
                )
            )["run"]["info"]["run_id"]
            for i in range(14)
        }
        models = {f"paged-model-{i}" for i in range(7)}
        for name in models:
            ok(client.post(f"{API}/registered-models/create", json={"name": name}))

        runs, run_servers = page_through(
            client,
            "POST",
            f"{API}/runs/search",
            {"experiment_ids": [exp_ids[0]], "max_results": 2, "order_by": ["start_time DESC"]},
            "runs",
        )
        assert [r["info"]["run_id"] for r in runs] == [
            r["info"]["run_id"]
            for r in sorted(runs, key=lambda r: int(r["info"]["start_time"]), reverse=True)
        ]
        assert {r["info"]["run_id"] for r in runs} == run_ids
        assert len(runs) == len(run_ids)  # each once

        exps, exp_servers = page_through(
            client,
            "POST",
            f"{API}/experiments/search",
            {"max_results": 2, "filter": "name LIKE 'paging-%'"},
            "experiments",
        )
        assert sorted(e["experiment_id"] for e in exps) == sorted(exp_ids)

        found, model_servers = page_through(
            client,
            "GET",
            f"{API}/registered-models/search",
            {"max_results": 2, "filter": "name LIKE 'paged-model-%'"},
            "registered_models",
        )
        assert sorted(m["name"] for m in found) == sorted(models)
    # 7 pages each: nginx sent them to more than one server
    for servers in (run_servers, exp_servers, model_servers):
        assert len(servers) >= 2, servers


def test_stock_client_paging_and_multipart_through_the_balancer(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The stock 3.17.2 client's own paging and multipart upload workflows, through nginx over
    TLS (the client trusts the test's certificate through MLFLOW_TRACKING_SERVER_CERT_PATH)."""
    via = dataclasses.replace(cluster.servers[0], url=cluster.url)
    before = len(cluster.access_log())
    for workflow in ("search_runs_order_paging", "artifacts_multipart_names"):
        (tmp_path / workflow).mkdir()
        run_workflow_script(
            via, "mlflow3", workflow, tmp_path / workflow, 300, extra_env=cluster.client_env
        )
    lines = cluster.access_log()[before:]
    parts = [line for line in lines if "/mpu/part/" in line]
    assert parts, "the multipart workflow sent no part through nginx"
    assert len({_upstream(line) for line in parts}) >= 2, parts[:10]


def _upstream(line: str) -> str:
    return line.split(" upstream=", 1)[1].split("/", 1)[0]


def test_multipart_parts_land_on_different_servers(cluster: Cluster) -> None:
    """mpu/create on one server, each part on whichever server nginx picks, mpu/complete on yet
    another: the staged parts live in the shared artifact store, not in a server."""
    parts = [bytes([i]) * (64 * 1024 + i) for i in range(9)]
    with cluster.client() as client:
        run = ok(client.post(f"{API}/runs/create", json={"experiment_id": "0"}))["run"]["info"]
        artifact_uri = run["artifact_uri"]
        assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
        where = artifact_uri.removeprefix("mlflow-artifacts:/").lstrip("/")
        created = client.post(
            f"{ARTIFACTS}/mpu/create/{where}",
            json={"path": "big.bin", "num_parts": len(parts)},
        )
        servers = {answered_by(created)}
        upload = ok(created)
        etags = []
        for credential, data in zip(upload["credentials"], parts, strict=True):
            # the part URLs name the balancer (its scheme and address), not the server
            assert credential["url"].startswith(cluster.url + ARTIFACTS), credential["url"]
            resp = client.put(credential["url"], content=data)
            ok(resp)
            servers.add(answered_by(resp))
            etags.append({"part_number": credential["part_number"], "etag": resp.headers["etag"]})
        done = client.post(
            f"{ARTIFACTS}/mpu/complete/{where}",
            json={"upload_id": upload["upload_id"], "path": "big.bin", "parts": etags},
        )
        ok(done)
        servers.add(answered_by(done))
        whole = b"".join(parts)
        for _ in range(SERVERS):  # read back from every server in turn
            got = client.get(f"{ARTIFACTS}/artifacts/{where}/big.bin")
            assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(whole).hexdigest()
            servers.add(answered_by(got))
    assert len(servers) == SERVERS, servers


def test_periodic_jobs_run_once_across_servers(cluster: Cluster) -> None:
    """``jobs.reap`` is due every 5 s and each of the three servers asks for it: watched for
    12 s, every start is a full period after the one before (no two servers ran one period)."""
    starts: dict[int, str] = {}
    engine = create_engine(normalize_uri(cluster.store_uri), isolation_level="AUTOCOMMIT")
    pr = periodic_runs.c
    query = select(pr.last_started, pr.owner).where(pr.name == "jobs.reap")
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                row = conn.execute(query).first()
                if row and row[0] is not None:
                    starts.setdefault(int(row[0]), str(row[1]))
                time.sleep(0.02)
    finally:
        engine.dispose()
    times = sorted(starts)
    assert len(times) >= 2, starts
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= 5000 for gap in gaps), (gaps, starts)
