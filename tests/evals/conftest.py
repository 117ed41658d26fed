"""Evaluation fixtures: a real store on each backend, models trained the way the demos train
them and logged + registered through the Cairn SDK (embedded mode on that same store), and
the app's services built on it as ``cairn server`` builds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cairn
from cairn.client import fluent
from cairn.client.embedded import close_embedded
from cairn.server.app import build_services
from cairn.server.settings import Settings
from cairn.services.eval_resources import ServiceResources
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema

SDK_VARIABLES = (
    "CAIRN_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "CAIRN_ENABLE_SYSTEM_METRICS",
    "CAIRN_EVAL_DATA_ROOT",
)


@dataclass
class Stack:
    """One store, its artifact folder, the services on it and an evaluation data root."""

    uri: str
    artifacts: Path
    data_root: Path
    db: Database
    services: dict[str, Any]
    resources: ServiceResources

    def with_sdk(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` with the SDK's tracking URI on this store (embedded), then flush and
        close the embedded app so the store is this stack's alone again."""
        cairn.set_tracking_uri(self.uri)
        try:
            return work()
        finally:
            cairn.flush()
            fluent._reset()
            close_embedded()


@pytest.fixture
def stack(store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name in SDK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("CAIRN_HOME", str(home))
    monkeypatch.setenv("CAIRN_SPOOL_DIR", str(tmp_path / "spool"))
    if store_uri.startswith("sqlite:///"):
        artifacts = Path(store_uri[len("sqlite:///") :]).parent / "artifacts"
    else:
        artifacts = home.resolve() / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    data_root = tmp_path / "eval-data"
    data_root.mkdir()
    fluent._reset()
    db = Database(store_uri)
    ensure_schema(db.write_engine)
    db.start()
    services = build_services(
        Settings(backend_store_uri=store_uri, artifacts_destination=str(artifacts)), db
    )
    try:
        yield Stack(
            store_uri, artifacts, data_root, db, services, ServiceResources(services, data_root)
        )
    finally:
        fluent._reset()
        close_embedded()
        db.close()
