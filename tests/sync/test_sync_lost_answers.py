"""A create whose answer is lost (the server did it, the client never heard) is retried
without making a second run or model version: sync looks for what it may have made first."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from cairn.services.registry import RegistryService
from cairn.sync import sync_store
from tests.compat.server import CairnServer
from tests.sync.builder import OfflineStore, assert_destination_matches, build_store


class LosesFirstAnswers(httpx.BaseTransport):
    """A real connection to the server that, for the first request to each listed path,
    delivers the request and then drops the answer, as a broken connection would."""

    def __init__(self, paths: set[str]):
        self.real = httpx.HTTPTransport()
        self.pending = set(paths)
        self.lost: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.real.handle_request(request)
        path = request.url.path
        if path in self.pending:
            response.read()
            response.close()
            self.pending.discard(path)
            self.lost.append(path)
            raise httpx.ReadError("connection reset while reading the answer", request=request)
        return response

    def close(self) -> None:
        self.real.close()


def test_lost_answers_to_creates_make_no_duplicates(dest: CairnServer, tmp_path: Path) -> None:
    name = f"model-{uuid.uuid4().hex[:8]}"
    info = build_store(
        tmp_path / "store",
        runs=2,
        points=100,
        big_file_bytes=0,
        experiment=f"lost-{uuid.uuid4().hex[:8]}",
    )
    store = OfflineStore(info.root)
    try:
        registry = RegistryService(store.db, store.artifacts)
        registry.create_model(name)
        registry.create_version(name, f"runs:/{info.runs[0].run_id}/model", info.runs[0].run_id)
    finally:
        store.close()
    transport = LosesFirstAnswers(
        {
            "/api/2.0/mlflow/runs/create",
            "/api/2.0/mlflow/registered-models/create",
            "/api/2.0/mlflow/model-versions/create",
        }
    )
    report = sync_store(str(info.root), dest.url, transport=transport)
    assert sorted(transport.lost) == sorted(
        [
            "/api/2.0/mlflow/runs/create",
            "/api/2.0/mlflow/registered-models/create",
            "/api/2.0/mlflow/model-versions/create",
        ]
    )
    assert report.failures == []
    with httpx.Client(base_url=dest.url, timeout=60) as http:
        assert_destination_matches(http, info)  # exactly 2 runs
        versions = http.get(
            "/api/2.0/mlflow/model-versions/search", params={"filter": f"name = '{name}'"}
        ).json()["model_versions"]
    assert len(versions) == 1
