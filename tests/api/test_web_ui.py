"""The web UI: built files, cache headers, the SPA fallback, and the API paths it must not
shadow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cairn.server.app import create_app
from cairn.server.settings import Settings

INDEX = "<!doctype html><title>Cairn</title><div id=root></div>"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    web = tmp_path / "static"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text(INDEX)
    (web / "assets" / "index-AbC123.js").write_text("console.log(1)")
    (web / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    return web


def _client(tmp_path: Path, web: Path) -> TestClient:
    settings = Settings(backend_store_uri=f"sqlite:///{tmp_path / 'ui.db'}")
    return TestClient(create_app(settings, web_dir=web))


@pytest.fixture
def ui(tmp_path: Path, built: Path) -> Iterator[TestClient]:
    with _client(tmp_path, built) as client:
        yield client


def test_root_serves_the_app_and_revalidates(ui: TestClient) -> None:
    response = ui.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/experiments/3", "/runs/abc?x=1", "/compare", "/models/a%20b/versions/2", "/x/y/z"]
)
def test_client_routes_fall_back_to_index(ui: TestClient, path: str) -> None:
    response = ui.get(path)
    assert response.status_code == 200
    assert response.text == INDEX


def test_hashed_assets_are_immutable(ui: TestClient) -> None:
    response = ui.get("/assets/index-AbC123.js")
    assert response.status_code == 200
    assert response.text == "console.log(1)"
    assert "immutable" in response.headers["cache-control"]
    other = ui.get("/favicon.svg")
    assert other.text == "<svg/>"
    assert other.headers["cache-control"] == "no-cache"


def test_missing_asset_is_404_not_the_app(ui: TestClient) -> None:
    assert ui.get("/assets/index-old.js").status_code == 404


def test_no_escape_from_the_static_folder(ui: TestClient) -> None:
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"]:
        response = ui.get(path)
        assert "outside" not in response.text


def test_api_paths_are_not_shadowed(ui: TestClient) -> None:
    assert ui.get("/health").text == "OK"
    assert ui.get("/version").status_code == 200
    assert ui.get("/openapi.json").json()["info"]["title"] == "Cairn"
    assert "swagger" in ui.get("/docs").text.lower()
    created = ui.post("/api/2.0/mlflow/experiments/create", json={"name": "e"})
    assert created.status_code == 200
    unknown = ui.get("/api/2.0/mlflow/no-such-endpoint")
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert ui.get("/api/v1/no-such").json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert (
        ui.get("/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).json()[
            "experiment"
        ]["name"]
        == "Default"
    )


def test_post_to_a_client_route_is_not_the_app(ui: TestClient) -> None:
    response = ui.post("/experiments/3", json={})
    assert response.status_code in (404, 405)
    assert "error_code" in response.json()


def test_unbuilt_ui_says_how_to_build_it(tmp_path: Path) -> None:
    with _client(tmp_path, tmp_path / "nothing-here") as client:
        for path in ["/", "/experiments/1"]:
            response = client.get(path)
            assert response.status_code == 200
            assert "make ui" in response.text
        assert client.get("/health").text == "OK"
