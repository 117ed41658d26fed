"""The model registry service and SQL store on SQLite and PostgreSQL (real databases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.artifacts.uri import repository_for
from cairn.entities.errors import CairnError, ErrorCode
from cairn.services.artifacts import ArtifactService
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService
from cairn.store.db import Database

SRC = "mlflow-artifacts:/1/abc/artifacts/model"


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    return root


@pytest.fixture
def reg(database: Database, store_root: Path) -> RegistryService:
    resolved = {"m-abc123": "mlflow-artifacts:/1/models/m-abc123/artifacts"}
    return RegistryService(database, ArtifactService(repository_for(str(store_root))), resolved.get)


def _error(exc: pytest.ExceptionInfo[CairnError], code: ErrorCode) -> str:
    assert exc.value.error_code == code, exc.value.message
    return exc.value.message


def test_create_get_rename_delete(reg: RegistryService) -> None:
    model = reg.create_model("m", "desc", [("team", "qa")])
    assert (model.name, model.description, model.tags) == ("m", "desc", {"team": "qa"})
    with pytest.raises(CairnError) as exc:
        reg.create_model("m")
    assert "already exists" in _error(exc, ErrorCode.RESOURCE_ALREADY_EXISTS)
    reg.create_version("m", SRC)
    reg.set_alias("m", "champion", "1")
    renamed = reg.rename_model("m", "m2")
    assert renamed.aliases == {"champion": 1}
    assert [v.name for v in renamed.latest_versions] == ["m2"]
    assert reg.get_version("m2", 1).aliases == ["champion"]
    with pytest.raises(CairnError) as exc:
        reg.get_model("m")
    _error(exc, ErrorCode.RESOURCE_DOES_NOT_EXIST)
    assert reg.update_model("m2", "new").description == "new"
    reg.set_model_tag("m2", "k", "v")
    reg.delete_model_tag("m2", "team")
    assert reg.get_model("m2").tags == {"k": "v"}
    reg.delete_model("m2")
    with pytest.raises(CairnError) as exc:
        reg.get_model("m2")
    _error(exc, ErrorCode.RESOURCE_DOES_NOT_EXIST)


def test_bad_names(reg: RegistryService) -> None:
    for name in ("", "   ", "x" * 257):
        with pytest.raises(CairnError) as exc:
            reg.create_model(name)
        _error(exc, ErrorCode.INVALID_PARAMETER_VALUE)


def test_version_numbers_never_reused(reg: RegistryService) -> None:
    reg.create_model("m")
    assert [reg.create_version("m", SRC).version for _ in range(3)] == [1, 2, 3]
    reg.delete_version("m", "3")
    with pytest.raises(CairnError) as exc:
        reg.get_version("m", "3")
    assert "version=3" in _error(exc, ErrorCode.RESOURCE_DOES_NOT_EXIST)
    assert reg.create_version("m", SRC).version == 4
    v = reg.update_version("m", 4, "forty")
    assert (v.description, v.status, v.current_stage) == ("forty", "READY", "None")
    reg.set_version_tag("m", 4, "ok", "yes")
    reg.set_version_tag("m", 4, "ok", "no")
    assert reg.get_version("m", 4).tags == {"ok": "no"}
    reg.delete_version_tag("m", 4, "ok")
    assert reg.get_version("m", 4).tags == {}


def test_stages_and_archive_existing(reg: RegistryService) -> None:
    reg.create_model("m")
    for _ in range(3):
        reg.create_version("m", SRC)
    assert reg.transition_stage("m", 1, "production").current_stage == "Production"
    reg.transition_stage("m", 2, "PRODUCTION")
    assert reg.get_version("m", 1).current_stage == "Production"  # no archiving asked
    reg.transition_stage("m", 3, "Production", archive_existing=True)
    stages = {v: reg.get_version("m", v).current_stage for v in (1, 2, 3)}
    assert stages == {1: "Archived", 2: "Archived", 3: "Production"}
    with pytest.raises(CairnError) as exc:
        reg.transition_stage("m", 1, "Prod")
    _error(exc, ErrorCode.INVALID_PARAMETER_VALUE)


def test_latest_versions_per_stage(reg: RegistryService) -> None:
    reg.create_model("m")
    for _ in range(4):
        reg.create_version("m", SRC)
    reg.transition_stage("m", 1, "Staging")
    reg.transition_stage("m", 2, "Staging")
    reg.transition_stage("m", 3, "Production")
    latest = {v.current_stage: v.version for v in reg.latest_versions("m")}
    assert latest == {"Staging": 2, "Production": 3, "None": 4}
    assert [v.version for v in reg.latest_versions("m", ["production"])] == [3]
    assert [v.version for v in reg.get_model("m").latest_versions] == [2, 3, 4]


def test_aliases(reg: RegistryService) -> None:
    reg.create_model("m")
    reg.create_version("m", SRC)
    reg.create_version("m", SRC)
    reg.set_alias("m", "champion", "1")
    assert reg.get_by_alias("m", "champion").version == 1
    reg.set_alias("m", "champion", 2)
    assert reg.get_by_alias("m", "champion").version == 2
    assert reg.get_model("m").aliases == {"champion": 2}
    reg.delete_alias("m", "champion")
    with pytest.raises(CairnError) as exc:
        reg.get_by_alias("m", "champion")
    assert _error(exc, ErrorCode.INVALID_PARAMETER_VALUE) == (
        "Registered model alias champion not found."
    )
    with pytest.raises(CairnError) as exc:
        reg.set_alias("m", "champion", 9)
    _error(exc, ErrorCode.RESOURCE_DOES_NOT_EXIST)
    for bad in ("latest", "v3", "a b"):
        with pytest.raises(CairnError) as exc:
            reg.set_alias("m", bad, 1)
        _error(exc, ErrorCode.INVALID_PARAMETER_VALUE)
    reg.set_alias("m", "gone", 1)
    reg.delete_version("m", 1)
    assert reg.get_model("m").aliases == {}


def test_search_models_filters_order_and_pages(reg: RegistryService) -> None:
    for name in ("alpha", "beta", "Gamma", "prompt-1"):
        reg.create_model(name)
    reg.set_model_tag("alpha", "team", "qa")
    reg.set_model_tag("prompt-1", "mlflow.prompt.is_prompt", "true")
    reg.set_model_tag("beta", "mlflow.prompt.is_prompt", "false")
    prompt = " AND tag.`mlflow.prompt.is_prompt` != 'true'"

    def names(flt: str | None = None, order: tuple[str, ...] = ()) -> list[str]:
        return [m.name for m in reg.search_models(flt, 100, order).items]

    assert names("name LIKE '%a%'" + prompt) == ["Gamma", "alpha", "beta"]
    assert names("name ILIKE 'g%'") == ["Gamma"]
    assert names("name LIKE 'g%'") == []
    assert names("name = 'beta'") == ["beta"]
    assert names("tags.team = 'qa'") == ["alpha"]
    assert names("tag.`team` != 'qa'") == ["Gamma", "beta", "prompt-1"]
    assert names(order=("name DESC",)) == ["prompt-1", "beta", "alpha", "Gamma"]
    newest = sorted(
        reg.search_models(None, 100).items, key=lambda m: (-m.creation_timestamp, m.name)
    )
    assert names(order=("creation_timestamp DESC",)) == [m.name for m in newest]
    seen, token = [], None
    while True:
        page = reg.search_models(None, 3, (), token)
        seen += [m.name for m in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["Gamma", "alpha", "beta", "prompt-1"]
    with pytest.raises(CairnError):
        reg.search_models(None, 1001)


def test_search_versions(reg: RegistryService, tracking: TrackingService) -> None:
    run_id = tracking.create_run("0", "u", 1, "r").info.run_id
    reg.create_model("a")
    reg.create_model("b")
    reg.create_version("a", f"runs:/{run_id}/model", run_id=run_id)
    reg.create_version("a", SRC, tags=[("k", "v")])
    reg.create_version("b", SRC, run_id=run_id)
    reg.transition_stage("a", 1, "Staging")  # most recently updated first by default

    def found(flt: str | None = None, order: tuple[str, ...] = ()) -> list[tuple[str, int]]:
        return [(v.name, v.version) for v in reg.search_versions(flt, 100, order).items]

    assert found()[0] == ("a", 1)
    assert found("name = 'a'", ("version_number DESC",)) == [("a", 2), ("a", 1)]
    assert sorted(found(f"run_id = '{run_id}'")) == [("a", 1), ("b", 1)]
    assert found(f"run_id IN ('{run_id}') AND name = 'b'") == [("b", 1)]
    assert found("tags.k = 'v'") == [("a", 2)]
    assert found("version_number > 1") == [("a", 2)]
    assert found(f"source_path = '{SRC}' AND name = 'b'") == [("b", 1)]
    page = reg.search_versions(None, 2, ("version_number ASC",))
    rest = reg.search_versions(None, 2, ("version_number ASC",), page.next_page_token)
    assert len(page.items) == 2
    assert len(rest.items) == 1
    assert rest.next_page_token is None


def test_accepted_sources_and_download_uri(
    reg: RegistryService, tracking: TrackingService, store_root: Path
) -> None:
    run = tracking.create_run("0", "u", 1, "r").info
    reg.create_model("m")
    reg.create_version("m", f"runs:/{run.run_id}/model")
    assert reg.download_uri("m", 1) == f"{run.artifact_uri}/model"
    reg.create_version("m", SRC)
    assert reg.download_uri("m", 2) == SRC
    inside = f"{store_root.as_uri()}/1/x/model"
    reg.create_version("m", inside)
    assert reg.download_uri("m", 3) == inside
    v = reg.create_version("m", "models:/m-abc123", model_id="m-abc123")
    assert v.model_id == "m-abc123"
    assert reg.download_uri("m", 4) == "mlflow-artifacts:/1/models/m-abc123/artifacts"
    reg.create_version("m", "models:/m-unknown")
    assert reg.download_uri("m", 5) == "models:/m-unknown"


REFUSED = [
    "/etc/passwd",
    "file:///etc/passwd",
    "file:/etc/passwd",
    "../../etc/passwd",
    "http://example.com/model",
    "https://example.com/model",
    "s3://other-bucket/model",
    "mlflow-artifacts:/../../etc",
    "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc",
    "mlflow-artifacts:",
    "models:/other/1",
    "models:/m-abc/../../x",
    "model\x00",
    "",
]


def test_a_runs_source_of_a_run_this_server_lacks_is_kept_without_files(
    reg: RegistryService,
) -> None:
    """MLflow registers ``runs:/<id>/<path>`` of a run it does not have (its REST suite's
    GraphQL test does): the version keeps the source, and has no files behind it."""
    reg.create_model("m")
    # a run id of another store's making (the suite's is "graphql_test")
    for source in ("runs:/0123456789abcdef0123456789abcdef/model", "runs:/graphql_test-2/model"):
        version = reg.create_version("m", source)
        assert version.source == source
        assert reg.download_uri("m", version.version) == source
    with pytest.raises(CairnError) as exc:
        reg.create_version("m", "runs:/0123456789abcdef0123456789abcdef/../../etc")
    _error(exc, ErrorCode.INVALID_PARAMETER_VALUE)


@pytest.mark.parametrize("source", REFUSED)
def test_refused_sources(reg: RegistryService, source: str) -> None:
    reg.create_model("m")
    with pytest.raises(CairnError) as exc:
        reg.create_version("m", source)
    message = _error(exc, ErrorCode.INVALID_PARAMETER_VALUE)
    if source:
        assert source[:20] in message or "source" in message


def test_refused_file_paths_outside_store(reg: RegistryService, store_root: Path) -> None:
    reg.create_model("m")
    for source in (
        store_root.parent.as_uri() + "/elsewhere",
        f"{store_root.as_uri()}/../escape",
        f"{store_root.as_uri()}-sibling/x",
        f"runs:/{'0' * 32}/../../x",
    ):
        with pytest.raises(CairnError) as exc:
            reg.create_version("m", source)
        assert source in _error(exc, ErrorCode.INVALID_PARAMETER_VALUE)
    with pytest.raises(CairnError):
        reg.get_version("m", 1)


def test_history_events_in_order(reg: RegistryService) -> None:
    reg.create_model("m")
    reg.create_version("m", SRC, actor="alice")
    reg.create_version("m", SRC)
    reg.transition_stage("m", 1, "Production", actor="bob")
    reg.transition_stage("m", 2, "Production", archive_existing=True, actor="carol")
    reg.set_alias("m", "champion", 1, actor="dan")
    reg.set_alias("m", "champion", 2)
    reg.delete_alias("m", "champion")
    reg.delete_version("m", 1)
    reg.rename_model("m", "m2", actor="erin")
    events = [
        (e.kind, e.version, e.from_value, e.to_value, e.actor)
        for e in reversed(reg.history("m2").items)
    ]
    assert events == [
        ("version_created", 1, None, "None", "alice"),
        ("version_created", 2, None, "None", None),
        ("stage_transition", 1, "None", "Production", "bob"),
        ("stage_transition", 1, "Production", "Archived", "carol"),
        ("stage_transition", 2, "None", "Production", "carol"),
        ("alias_set", 1, None, "champion", "dan"),
        ("alias_moved", 2, "1", "champion", None),
        ("alias_deleted", 2, "champion", None, None),
        ("version_deleted", 1, "Archived", None, None),
        ("model_renamed", None, "m", "m2", "erin"),
    ]
    first = reg.history("m2", 4)
    second = reg.history("m2", 100, first.next_page_token)
    assert len(first.items) == 4
    assert len(second.items) == 6
    assert first.items[0].kind == "model_renamed"
    reg.delete_model("m2")
    kept = reg.history("m2")
    assert kept.items[0].kind == "model_deleted"
    assert len(kept.items) == 11
    with pytest.raises(CairnError) as exc:
        reg.history("never")
    _error(exc, ErrorCode.RESOURCE_DOES_NOT_EXIST)
