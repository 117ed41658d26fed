"""The search and list routes pass the caller's visibility down: with a restricted identity
and a policy on ``app.state.access`` (the seam the access service plugs into), experiments,
registered models, model versions and datasets come back filtered, and paging holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.entities.access import AuthMethod, Identity, ResourceType, Visibility
from cairn.server.app import create_app
from cairn.server.settings import Settings
from tests.api import root_app

API = "/api/2.0/mlflow"
BOB = Identity("bob", AuthMethod.PASSWORD, user_id=7)


class AsCaller:
    """Runs every request as ``who`` (what the access layer will put in the scope)."""

    def __init__(self, app: ASGIApp, who: Identity):
        self.app = app
        self.who = who

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "state": {**scope.get("state", {}), "identity": self.who}}
        await self.app(scope, receive, send)


class FixedPolicy:
    """A visibility per resource type, whoever asks."""

    def __init__(self, by_kind: dict[ResourceType, Visibility]):
        self.by_kind = by_kind

    def visibility(self, who: Identity, kind: ResourceType) -> Visibility:
        return self.by_kind[kind]


@pytest.fixture
def app_as(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """A client whose requests are bob's, and the objects made before the policy applies."""
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'api.db'}")
    caller = AsCaller(create_app(settings), BOB)
    with TestClient(caller) as client:
        # bob is a real user (what he creates is granted to him), the layer is off
        bob = root_app(client.app).state.access.create_user("bob", "bob's long password")
        caller.who = Identity("bob", AuthMethod.PASSWORD, user_id=bob.id)
        made: dict[str, Any] = {"experiments": {}}
        for i in range(4):
            r = client.post(f"{API}/experiments/create", json={"name": f"exp-{i}"})
            eid = r.json()["experiment_id"]
            made["experiments"][f"exp-{i}"] = eid
            run = client.post(f"{API}/runs/create", json={"experiment_id": eid}).json()
            dataset = {
                "name": f"data-{i}",
                "digest": f"d{i}",
                "source_type": "local",
                "source": "{}",
            }
            r = client.post(
                f"{API}/runs/log-inputs",
                json={"run_id": run["run"]["info"]["run_id"], "datasets": [{"dataset": dataset}]},
            )
            assert r.status_code == 200, r.text
            run_id = run["run"]["info"]["run_id"]
            client.post(f"{API}/registered-models/create", json={"name": f"m-{i}"})
            source = f"runs:/{run_id}/model"
            version = {"name": f"m-{i}", "source": source, "run_id": run_id}
            r = client.post(f"{API}/model-versions/create", json=version)
            assert r.status_code == 200, r.text
        yield client, made


def _pages(client: TestClient, path: str, key: str, body: dict[str, Any]) -> list[Any]:
    """Every item of a search route, one per page."""
    items: list[Any] = []
    token = None
    for _ in range(50):
        params = {**body, "max_results": 1, **({"page_token": token} if token else {})}
        if path.startswith("/api/v1"):
            r = client.get(path, params=params)
        else:
            r = client.post(path, json=params)
        assert r.status_code == 200, r.text
        doc = r.json()
        items += doc.get(key, [])
        token = doc.get("next_page_token")
        if not token:
            return items
        assert len(doc[key]) == 1
    raise AssertionError("paging did not end")


def test_listings_follow_the_callers_visibility(
    app_as: tuple[TestClient, dict[str, Any]],
) -> None:
    client, made = app_as
    ids = made["experiments"]
    policy = FixedPolicy(
        {
            ResourceType.EXPERIMENT: Visibility(
                everything=False,
                allow_ids=frozenset({ids["exp-0"]}),
                allow_names=frozenset({"exp-2", "exp-3"}),
                deny_ids=frozenset({ids["exp-3"]}),
            ),
            ResourceType.REGISTERED_MODEL: Visibility(deny_ids=frozenset({"m-1", "m-2"})),
        }
    )
    root_app(client.app).state.access = policy

    found = _pages(client, f"{API}/experiments/search", "experiments", {})
    assert sorted(e["name"] for e in found) == ["exp-0", "exp-2"]
    found = _pages(client, f"{API}/registered-models/search", "registered_models", {})
    assert sorted(m["name"] for m in found) == ["m-0", "m-3"]
    found = _pages(client, f"{API}/model-versions/search", "model_versions", {})
    assert sorted(v["name"] for v in found) == ["m-0", "m-3"]
    found = _pages(client, "/api/v1/datasets", "datasets", {})
    assert sorted(d["name"] for d in found) == ["data-0", "data-2"]
    lineage = client.get(f"/api/v1/datasets/{found[0]['dataset_id']}").json()
    assert [v["name"] for v in lineage["model_versions"]] == ["m-0"]
    lineage = client.get(f"/api/v1/datasets/{found[1]['dataset_id']}").json()
    assert lineage["model_versions"] == []  # m-2 is hidden


def test_an_unrestricted_caller_sees_everything(
    app_as: tuple[TestClient, dict[str, Any]],
) -> None:
    client, _ = app_as
    nothing = Visibility(everything=False)
    root_app(client.app).state.access = FixedPolicy(
        {ResourceType.EXPERIMENT: nothing, ResourceType.REGISTERED_MODEL: nothing}
    )
    assert _pages(client, f"{API}/experiments/search", "experiments", {}) == []
    assert isinstance(client.app, AsCaller)
    client.app.who = Identity("root", AuthMethod.PASSWORD, user_id=1, is_admin=True)
    found = _pages(client, f"{API}/experiments/search", "experiments", {})
    assert len(found) == 5  # Default and exp-0…exp-3
    assert len(_pages(client, "/api/v1/datasets", "datasets", {})) == 4
    assert len(_pages(client, f"{API}/model-versions/search", "model_versions", {})) == 4
