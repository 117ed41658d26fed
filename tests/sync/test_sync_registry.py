"""Registered models follow their runs: versions re-pointed at the destination's runs,
stages, aliases, tags and descriptions; nothing sent twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.services.registry import RegistryService
from cairn.sync import sync_store
from tests.compat.server import CairnServer
from tests.sync.builder import OfflineStore, build_store, dest_runs, tags_of
from tests.sync.conftest import Requests


@pytest.fixture
def http(dest: CairnServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dest.url, timeout=60) as client:
        yield client


def _model(http: httpx.Client, name: str) -> dict[str, Any]:
    found = http.get("/api/2.0/mlflow/registered-models/get", params={"name": name})
    assert found.status_code == 200, found.text
    model = found.json()["registered_model"]
    assert isinstance(model, dict)
    return model


def _versions(http: httpx.Client, name: str) -> dict[str, dict[str, Any]]:
    found = http.get(
        "/api/2.0/mlflow/model-versions/search", params={"filter": f"name = '{name}'"}
    ).json()
    return {v["version"]: v for v in found.get("model_versions", [])}


def test_models_versions_stages_and_aliases_follow_the_runs(
    dest: CairnServer, http: httpx.Client, tmp_path: Path
) -> None:
    experiment = f"reg-{uuid.uuid4().hex[:8]}"
    name = f"lims-classifier-{uuid.uuid4().hex[:6]}"
    info = build_store(
        tmp_path / "store", runs=2, points=100, big_file_bytes=0, experiment=experiment
    )
    run0, run1 = info.runs[0].run_id, info.runs[1].run_id
    store = OfflineStore(info.root)
    try:
        registry = RegistryService(store.db, store.artifacts)
        registry.create_model(name, "contamination risk", [("owner", "lab")])
        v1 = registry.create_version(
            name, f"runs:/{run0}/model", run0, [("algo", "rf")], description="baseline"
        )
        uri1 = store.tracking.get_run(run1).info.artifact_uri
        v2 = registry.create_version(name, f"{uri1}/model", run1, [("algo", "rf2")])
        registry.create_version(name, "models:/m-0123456789abcdef0123456789abcdef")
        registry.transition_stage(name, v1.version, "Production")
        registry.transition_stage(name, v2.version, "Staging")
        registry.set_alias(name, "champion", v2.version)
    finally:
        store.close()

    report = sync_store(str(info.root), dest.url)
    assert report.failures == []
    assert (report.models_created, report.versions_created) == (1, 2)
    assert len(report.notes) == 1
    assert "version 3" in report.notes[0]
    assert "not in a synced run's artifacts" in report.notes[0]

    runs = {tags_of(r)["mlflow.runName"]: r["info"] for r in dest_runs(http, experiment)}
    model = _model(http, name)
    assert model["description"] == "contamination risk"
    assert {t["key"]: t["value"] for t in model["tags"]} == {"owner": "lab"}
    versions = _versions(http, name)
    assert len(versions) == 2
    by_source = {
        next(t["value"] for t in v["tags"] if t["key"] == "cairn.sync.source").rsplit("/", 1)[1]: v
        for v in versions.values()
    }
    first, second = by_source["1"], by_source["2"]
    assert first["source"] == f"runs:/{runs['run-0']['run_id']}/model"
    assert first["run_id"] == runs["run-0"]["run_id"]
    assert first["current_stage"] == "Production"
    assert first["description"] == "baseline"
    assert second["source"] == f"{runs['run-1']['artifact_uri']}/model"
    assert second["current_stage"] == "Staging"
    assert {"key": "algo", "value": "rf2"} in second["tags"]
    aliases = {a["alias"]: a["version"] for a in model.get("aliases", [])}
    assert aliases == {"champion": second["version"]}

    seen = Requests()
    again = sync_store(str(info.root), dest.url, request_hook=seen)
    assert seen.writes == 0, seen.by_path
    assert (again.models_created, again.versions_created) == (0, 0)

    # promotion offline: v2 to Production, a tag, the alias moves to v1
    store = OfflineStore(info.root)
    try:
        registry = RegistryService(store.db, store.artifacts)
        registry.transition_stage(name, v2.version, "Production")
        registry.set_version_tag(name, v2.version, "validated", "yes")
        registry.set_alias(name, "champion", v1.version)
    finally:
        store.close()
    seen = Requests()
    sync_store(str(info.root), dest.url, request_hook=seen)
    assert seen.writes == 3, seen.by_path
    versions = _versions(http, name)
    second = versions[second["version"]]
    assert second["current_stage"] == "Production"
    assert {"key": "validated", "value": "yes"} in second["tags"]
    assert versions[first["version"]]["current_stage"] == "Production"
    aliases = {a["alias"]: a["version"] for a in _model(http, name).get("aliases", [])}
    assert aliases == {"champion": first["version"]}
