"""Print the /api/v1 part of the server's OpenAPI description as JSON (the paths under /api/v1
and the component schemas they reference). The app answers /openapi.json in process: no server
is started and no store is opened. `npm run gen:api` writes it to web/openapi-v1.json, from
which openapi-typescript makes generated/v1.d.ts; tests/unit/test_ui_api_types.py checks that the
committed file is what the server describes now."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

PREFIX = "/api/v1/"


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def v1_schema() -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

    from cairn.server.app import create_app
    from cairn.server.settings import Settings

    client = TestClient(create_app(Settings(backend_store_uri="sqlite://")))
    doc: dict[str, Any] = client.get("/openapi.json").json()
    paths = {p: item for p, item in sorted(doc["paths"].items()) if p.startswith(PREFIX)}
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    wanted: set[str] = set()
    todo = _refs(paths)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo |= _refs(schemas[name])
    return {
        "openapi": doc["openapi"],
        "info": {"title": doc["info"]["title"], "version": "v1"},
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}},
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(v1_schema()))
