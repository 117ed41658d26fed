"""The web UI's /api/v1 types are generated from web/openapi-v1.json (web/scripts/gen-api.mjs);
that committed file must be the /api/v1 part of the OpenAPI description the server gives now."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

WEB = Path(__file__).resolve().parents[2] / "web"


def _dumper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_v1", WEB / "scripts" / "openapi_v1.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_schema_matches_the_server() -> None:
    dumper = _dumper()
    fresh: str = dumper.render(dumper.v1_schema())
    committed = (WEB / "openapi-v1.json").read_text(encoding="utf-8")
    assert committed == fresh, (
        "web/openapi-v1.json is not what the server describes now: "
        "run `cd web && npm run gen:api` and commit it with web/generated/v1.d.ts"
    )


def test_schema_covers_the_routes_the_ui_calls() -> None:
    dumper = _dumper()
    paths = set(dumper.v1_schema()["paths"])
    for path in (
        "/api/v1/datasets",
        "/api/v1/datasets/{dataset_id}",
        "/api/v1/experiments/summary",
        "/api/v1/metrics/downsample",
        "/api/v1/models/compare",
        "/api/v1/models/{name}/history",
        "/api/v1/models/{name}/performance",
        "/api/v1/runs/compare",
    ):
        assert path in paths
