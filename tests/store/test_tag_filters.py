"""The one param/tag filter leaf (cairn.store.filters.key_value_leaf) keeps each search's rule
for objects without the tag, on SQLite and PostgreSQL: experiments, runs and logged models
drop them under ``!=`` and ``NOT IN``; the registry keeps them (as MLflow)."""

from __future__ import annotations

from pathlib import Path

from cairn.artifacts.uri import repository_for
from cairn.services.artifacts import ArtifactService
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService
from cairn.store.db import Database


def test_experiments_without_the_tag_fail_negations(tracking: TrackingService) -> None:
    tracking.create_experiment("tagged-x", tags=[("team", "x")])
    tracking.create_experiment("tagged-y", tags=[("team", "y")])
    tracking.create_experiment("untagged")

    def names(flt: str) -> list[str]:
        return sorted(e.name for e in tracking.search_experiments(filter_text=flt).items)

    assert names("tags.team != 'x'") == ["tagged-y"]
    assert names("tags.team NOT IN ('x')") == ["tagged-y"]
    assert names("tags.team IS NULL") == ["Default", "untagged"]
    assert names("tags.team IS NOT NULL") == ["tagged-x", "tagged-y"]


def test_registry_models_without_the_tag_pass_negations(database: Database, tmp_path: Path) -> None:
    reg = RegistryService(database, ArtifactService(repository_for(str(tmp_path))))
    reg.create_model("tagged-x", tags=[("team", "x")])
    reg.create_model("tagged-y", tags=[("team", "y")])
    reg.create_model("untagged")

    def names(flt: str) -> list[str]:
        return sorted(m.name for m in reg.search_models(flt, 100).items)

    assert names("tags.team != 'x'") == ["tagged-y", "untagged"]
    assert names("tags.team NOT IN ('x')") == ["tagged-y", "untagged"]
    assert names("tags.team IS NULL") == ["untagged"]
    assert names("tags.team IS NOT NULL") == ["tagged-x", "tagged-y"]
